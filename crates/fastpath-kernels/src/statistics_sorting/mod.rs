//! Catalog domain `statistics_sorting` (being implemented).

use crate::kernel::Kernel;

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![]
}
