//! Adapter discovery and choice. Kept apart from device creation so that tools that only
//! need to know *what* GPU a machine has (machine profiles, `fastpath devices`) never open a
//! device.

use crate::GpuError;

/// Environment variable naming the adapter to use (same syntax as `--adapter`).
pub const ADAPTER_ENV: &str = "FASTPATH_ADAPTER";

/// What a GPU adapter is, for reports and machine profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSummary {
    /// Position in [`list_adapters`] (what `--adapter INDEX` refers to).
    pub index: usize,
    pub name: String,
    /// "vulkan", "metal", "dx12", ...
    pub backend: String,
    /// "discrete", "integrated", "virtual", "cpu" or "other".
    pub device_type: String,
    pub driver: String,
    /// True when the GPU shares memory with the CPU (integrated GPUs, Apple Silicon, software
    /// rasterizers): uploads are cheap and the RAM limit is the GPU's memory limit.
    pub unified_memory: bool,
    pub max_buffer_bytes: u64,
    pub max_storage_binding_bytes: u64,
}

pub(crate) fn instance() -> wgpu::Instance {
    // Backends from WGPU_BACKEND when set; otherwise the primary native ones. wgpu's GL backend
    // is not compiled in: it lacks the compute features fastpath needs.
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    wgpu::Instance::new(desc)
}

fn device_type_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete",
        wgpu::DeviceType::IntegratedGpu => "integrated",
        wgpu::DeviceType::VirtualGpu => "virtual",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    }
}

/// Preference order: a discrete GPU is the high-performance choice; a software rasterizer
/// (lavapipe) is the last resort but still a real adapter (CI runs GPU tests on it).
fn device_type_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

pub(crate) fn summarize_pub(index: usize, adapter: &wgpu::Adapter) -> AdapterSummary {
    summarize(index, adapter)
}

fn summarize(index: usize, adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let unified =
        matches!(info.device_type, wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::Cpu)
            || info.backend == wgpu::Backend::Metal;
    AdapterSummary {
        index,
        name: info.name.clone(),
        backend: info.backend.to_str().to_string(),
        device_type: device_type_name(info.device_type).to_string(),
        driver: if info.driver_info.is_empty() {
            info.driver.clone()
        } else {
            format!("{} {}", info.driver, info.driver_info)
        },
        unified_memory: unified,
        max_buffer_bytes: limits.max_buffer_size,
        max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
    }
}

fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
}

/// Every adapter this machine exposes, in enumeration order.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    enumerate(&instance).iter().enumerate().map(|(i, a)| summarize(i, a)).collect()
}

/// The adapter fastpath would use, given an explicit preference (CLI flag) or, failing that,
/// `FASTPATH_ADAPTER`.
pub fn describe_adapter(preference: Option<&str>) -> Result<AdapterSummary, GpuError> {
    let instance = instance();
    let (index, adapter) = choose(&instance, preference)?;
    Ok(summarize(index, &adapter))
}

/// Picks the adapter: an explicit preference (index or case-insensitive name fragment) first,
/// then `FASTPATH_ADAPTER`, then the best device type.
pub(crate) fn choose(
    instance: &wgpu::Instance,
    preference: Option<&str>,
) -> Result<(usize, wgpu::Adapter), GpuError> {
    let adapters = enumerate(instance);
    if adapters.is_empty() {
        return Err(GpuError::NoAdapter("wgpu enumerated no Vulkan, Metal or DX12 adapter".into()));
    }
    let env_pref = std::env::var(ADAPTER_ENV).ok().filter(|s| !s.trim().is_empty());
    let wanted = preference.map(str::to_string).or(env_pref);
    if let Some(wanted) = wanted {
        let wanted_trim = wanted.trim();
        let found = if let Ok(i) = wanted_trim.parse::<usize>() {
            adapters.get(i).map(|a| (i, a.clone()))
        } else {
            let needle = wanted_trim.to_lowercase();
            adapters
                .iter()
                .enumerate()
                .find(|(_, a)| a.get_info().name.to_lowercase().contains(&needle))
                .map(|(i, a)| (i, a.clone()))
        };
        return found.ok_or_else(|| GpuError::AdapterNotFound {
            wanted: wanted_trim.to_string(),
            available: adapters
                .iter()
                .enumerate()
                .map(|(i, a)| format!("[{i}] {}", a.get_info().name))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let best = adapters
        .iter()
        .enumerate()
        .min_by_key(|(i, a)| (device_type_rank(a.get_info().device_type), *i))
        .map(|(i, a)| (i, a.clone()))
        .expect("non-empty");
    Ok(best)
}
