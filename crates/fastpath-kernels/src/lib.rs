//! fastpath-kernels
