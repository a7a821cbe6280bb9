//! The registry: which catalog kernels have implementations, and on which backends. It is the
//! single source of truth for `fastpath kernels`, `run-kernel`, the router's cost oracle and the
//! benchmarks.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::catalog::catalog;
use crate::error::KernelError;
use crate::kernel::Kernel;

pub struct Registry {
    by_id: BTreeMap<&'static str, &'static dyn Kernel>,
}

impl Registry {
    fn build() -> Registry {
        let mut by_id = BTreeMap::new();
        for k in crate::all_kernels() {
            let previous = by_id.insert(k.id(), k);
            assert!(previous.is_none(), "{} registered twice", k.id());
            assert!(catalog().get(k.id()).is_some(), "{} is not in the catalog", k.id());
        }
        Registry { by_id }
    }

    pub fn get(&self, id: &str) -> Option<&'static dyn Kernel> {
        self.by_id
            .get(id)
            .or_else(|| self.by_id.iter().find(|(k, _)| k.eq_ignore_ascii_case(id)).map(|(_, v)| v))
            .copied()
    }

    /// Implemented kernels in id order.
    pub fn iter(&self) -> impl Iterator<Item = &'static dyn Kernel> + '_ {
        self.by_id.values().copied()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::build)
}

/// Looks a kernel up by id (case-insensitive); distinguishes "not in the catalog" from
/// "in the catalog, not implemented yet".
pub fn kernel(id: &str) -> Result<&'static dyn Kernel, KernelError> {
    if let Some(k) = registry().get(id) {
        return Ok(k);
    }
    match catalog().get(id) {
        Some(spec) => Err(KernelError::NotImplemented {
            kernel: spec.id.clone(),
            detail: format!("domain {}; `fastpath kernels` shows what runs today", spec.domain),
        }),
        None => Err(KernelError::UnknownKernel(id.to_string())),
    }
}
