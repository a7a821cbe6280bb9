//! Catalog domain `elementwise_binary` (being implemented).

use crate::kernel::Kernel;

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![]
}
