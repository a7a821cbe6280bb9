//! Catalog domain `compaction` (being implemented).

use crate::kernel::Kernel;

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![]
}
