//! NVIDIA readers: NVML loaded at run time (`libnvidia-ml.so.1`), falling back to
//! `nvidia-smi`. A machine without the driver gets "not present", which is not an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::command::{command_line, run_command};
use crate::parse::nvidia::{QUERY_FIELDS, QUERY_FIELDS_OLD, parse_nvidia_smi_csv};
use crate::report::NvidiaGpus;

/// Set while an NVML query runs. NVML calls cannot be interrupted, so a query that outlives
/// the probe's deadline keeps its thread; the monitor must not stack a new one on it every
/// interval.
static NVML_BUSY: AtomicBool = AtomicBool::new(false);

pub(crate) fn probe(deadline: Instant) -> NvidiaGpus {
    let nvml_reason = match query_nvml() {
        NvmlOutcome::Devices(devices) => {
            return NvidiaGpus::Present { source: "NVML (libnvidia-ml.so.1)".to_string(), devices };
        }
        NvmlOutcome::NoDriver(reason) => reason,
        NvmlOutcome::Failed(reason) => {
            // The library is there but misbehaves; nvidia-smi may still answer.
            return match query_nvidia_smi(deadline) {
                SmiOutcome::Devices(source, devices) => NvidiaGpus::Present { source, devices },
                SmiOutcome::Missing(_) => {
                    NvidiaGpus::Unknown { reason, source: "NVML".to_string() }
                }
                SmiOutcome::Failed(smi_reason) => NvidiaGpus::Unknown {
                    reason: format!("{reason}; {smi_reason}"),
                    source: "NVML, nvidia-smi".to_string(),
                },
            };
        }
    };
    match query_nvidia_smi(deadline) {
        SmiOutcome::Devices(source, devices) => NvidiaGpus::Present { source, devices },
        SmiOutcome::Missing(smi_reason) => {
            NvidiaGpus::NotPresent { reason: format!("{nvml_reason}; {smi_reason}") }
        }
        SmiOutcome::Failed(reason) => {
            NvidiaGpus::Unknown { reason, source: "nvidia-smi".to_string() }
        }
    }
}

enum NvmlOutcome {
    Devices(Vec<crate::report::GpuDevice>),
    /// No library, no driver loaded, or no GPU: nothing to report.
    NoDriver(String),
    Failed(String),
}

fn query_nvml() -> NvmlOutcome {
    if NVML_BUSY.swap(true, Ordering::AcqRel) {
        return NvmlOutcome::Failed("a previous NVML query is still running".to_string());
    }
    let outcome = nvml::query();
    NVML_BUSY.store(false, Ordering::Release);
    outcome
}

enum SmiOutcome {
    Devices(String, Vec<crate::report::GpuDevice>),
    Missing(String),
    Failed(String),
}

/// `nvidia-smi --query-gpu=… --format=csv,nounits`, with the pre-535 reason field name if
/// the driver rejects the new one.
fn query_nvidia_smi(deadline: Instant) -> SmiOutcome {
    let mut last_reason = String::new();
    for fields in [QUERY_FIELDS, QUERY_FIELDS_OLD] {
        let query = format!("--query-gpu={fields}");
        let args = [query.as_str(), "--format=csv,nounits"];
        let display = command_line("nvidia-smi", &args);
        let timeout =
            deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let output = match run_command("nvidia-smi", &args, timeout) {
            Ok(output) => output,
            Err(reason) if reason.contains("not installed") => return SmiOutcome::Missing(reason),
            Err(reason) => return SmiOutcome::Failed(reason),
        };
        if output.status.success() {
            return match parse_nvidia_smi_csv(&output.stdout) {
                Ok(devices) if devices.is_empty() => {
                    SmiOutcome::Missing("nvidia-smi lists no GPUs".to_string())
                }
                Ok(devices) => SmiOutcome::Devices(display, devices),
                Err(reason) => SmiOutcome::Failed(format!("`{display}`: {reason}")),
            };
        }
        let message = output
            .stdout
            .lines()
            .chain(output.stderr.lines())
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        last_reason = format!("`nvidia-smi` failed ({}): {}", output.status, message.trim());
        // "Field "clocks_event_reasons.active" is not a valid field to query." on old drivers.
        if !message.contains("not a valid field") {
            break;
        }
    }
    if last_reason.contains("couldn't communicate with the NVIDIA driver")
        || last_reason.contains("No devices were found")
    {
        SmiOutcome::Missing(last_reason)
    } else {
        SmiOutcome::Failed(last_reason)
    }
}

#[cfg(target_os = "linux")]
mod nvml {
    //! The few NVML entry points the probe needs, resolved from `libnvidia-ml.so.1` once per
    //! process. `nvmlInit_v2` is called once and never undone: NVML keeps its state per
    //! process, and re-initialising every 30 s for the monitor would cost milliseconds.

    use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong, c_void};
    use std::sync::OnceLock;

    use super::NvmlOutcome;
    use crate::parse::nvidia::decode_clock_event_reasons;
    use crate::report::GpuDevice;

    type Device = *mut c_void;
    type Return = c_int;

    const SUCCESS: Return = 0;
    const ERROR_DRIVER_NOT_LOADED: Return = 9;
    const ERROR_LIBRARY_NOT_FOUND: Return = 12;
    const TEMPERATURE_GPU: c_int = 0;
    const TEMPERATURE_THRESHOLD_SLOWDOWN: c_int = 1;
    const CLOCK_SM: c_int = 1;
    const DEVICE_NAME_BUFFER_SIZE: usize = 96;

    #[repr(C)]
    #[derive(Default)]
    struct Memory {
        total: c_ulonglong,
        free: c_ulonglong,
        used: c_ulonglong,
    }

    /// `nvmlMemory_v2_t`: `used` leaves out the memory the driver reserves for itself
    /// (~480 MiB on an H100), so it matches nvidia-smi; the v1 `used` includes it.
    #[repr(C)]
    struct MemoryV2 {
        version: c_uint,
        total: c_ulonglong,
        reserved: c_ulonglong,
        free: c_ulonglong,
        used: c_ulonglong,
    }

    /// `NVML_STRUCT_VERSION(Memory, 2)`: the struct size with the version in the top byte.
    const MEMORY_V2_VERSION: c_uint = std::mem::size_of::<MemoryV2>() as c_uint | (2 << 24);

    #[repr(C)]
    #[derive(Default)]
    struct Utilization {
        gpu: c_uint,
        memory: c_uint,
    }

    struct Api {
        // Keeps the library mapped for as long as the function pointers below are used.
        _library: libloading::Library,
        error_string: unsafe extern "C" fn(Return) -> *const c_char,
        device_count: unsafe extern "C" fn(*mut c_uint) -> Return,
        device_by_index: unsafe extern "C" fn(c_uint, *mut Device) -> Return,
        name: unsafe extern "C" fn(Device, *mut c_char, c_uint) -> Return,
        memory_info: unsafe extern "C" fn(Device, *mut Memory) -> Return,
        memory_info_v2: Option<unsafe extern "C" fn(Device, *mut MemoryV2) -> Return>,
        temperature: Option<unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return>,
        temperature_threshold: Option<unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return>,
        utilization: Option<unsafe extern "C" fn(Device, *mut Utilization) -> Return>,
        clock: Option<unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return>,
        max_clock: Option<unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return>,
        power_usage: Option<unsafe extern "C" fn(Device, *mut c_uint) -> Return>,
        power_limit: Option<unsafe extern "C" fn(Device, *mut c_uint) -> Return>,
        clock_event_reasons: Option<unsafe extern "C" fn(Device, *mut c_ulonglong) -> Return>,
    }

    enum LoadError {
        NoDriver(String),
        Failed(String),
    }

    static API: OnceLock<Result<Api, LoadError>> = OnceLock::new();

    impl Api {
        fn load() -> Result<Self, LoadError> {
            // SAFETY: loading the NVIDIA management library runs its initialisers, which
            // have no preconditions on our side.
            let library =
                unsafe { libloading::Library::new("libnvidia-ml.so.1") }.map_err(|err| {
                    let text = err.to_string();
                    // The usual case on machines without the NVIDIA driver: say it plainly.
                    if text.contains("cannot open shared object file") {
                        LoadError::NoDriver("libnvidia-ml.so.1 not found".to_string())
                    } else {
                        LoadError::NoDriver(format!("libnvidia-ml.so.1 not loadable: {text}"))
                    }
                })?;
            /// Resolves the first of `names` the library exports.
            macro_rules! symbol {
                ($ty:ty, $($name:literal),+) => {{
                    let mut found: Option<$ty> = None;
                    $(
                        if found.is_none() {
                            // SAFETY: the type matches the NVML header's prototype for this name.
                            found = unsafe { library.get::<$ty>(concat!($name, "\0").as_bytes()) }.ok().map(|s| *s);
                        }
                    )+
                    found
                }};
            }
            let required =
                |what: &str| LoadError::Failed(format!("libnvidia-ml.so.1 lacks {what}"));
            let init = symbol!(unsafe extern "C" fn() -> Return, "nvmlInit_v2", "nvmlInit")
                .ok_or_else(|| required("nvmlInit"))?;
            let error_string =
                symbol!(unsafe extern "C" fn(Return) -> *const c_char, "nvmlErrorString")
                    .ok_or_else(|| required("nvmlErrorString"))?;
            let api = Api {
                error_string,
                device_count: symbol!(
                    unsafe extern "C" fn(*mut c_uint) -> Return,
                    "nvmlDeviceGetCount_v2",
                    "nvmlDeviceGetCount"
                )
                .ok_or_else(|| required("nvmlDeviceGetCount"))?,
                device_by_index: symbol!(
                    unsafe extern "C" fn(c_uint, *mut Device) -> Return,
                    "nvmlDeviceGetHandleByIndex_v2",
                    "nvmlDeviceGetHandleByIndex"
                )
                .ok_or_else(|| required("nvmlDeviceGetHandleByIndex"))?,
                name: symbol!(
                    unsafe extern "C" fn(Device, *mut c_char, c_uint) -> Return,
                    "nvmlDeviceGetName"
                )
                .ok_or_else(|| required("nvmlDeviceGetName"))?,
                memory_info: symbol!(
                    unsafe extern "C" fn(Device, *mut Memory) -> Return,
                    "nvmlDeviceGetMemoryInfo"
                )
                .ok_or_else(|| required("nvmlDeviceGetMemoryInfo"))?,
                memory_info_v2: symbol!(
                    unsafe extern "C" fn(Device, *mut MemoryV2) -> Return,
                    "nvmlDeviceGetMemoryInfo_v2"
                ),
                temperature: symbol!(
                    unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return,
                    "nvmlDeviceGetTemperature"
                ),
                temperature_threshold: symbol!(
                    unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return,
                    "nvmlDeviceGetTemperatureThreshold"
                ),
                utilization: symbol!(
                    unsafe extern "C" fn(Device, *mut Utilization) -> Return,
                    "nvmlDeviceGetUtilizationRates"
                ),
                clock: symbol!(
                    unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return,
                    "nvmlDeviceGetClockInfo"
                ),
                max_clock: symbol!(
                    unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return,
                    "nvmlDeviceGetMaxClockInfo"
                ),
                power_usage: symbol!(
                    unsafe extern "C" fn(Device, *mut c_uint) -> Return,
                    "nvmlDeviceGetPowerUsage"
                ),
                power_limit: symbol!(
                    unsafe extern "C" fn(Device, *mut c_uint) -> Return,
                    "nvmlDeviceGetEnforcedPowerLimit"
                ),
                // Renamed in driver 535; the Throttle spelling remains as an alias.
                clock_event_reasons: symbol!(
                    unsafe extern "C" fn(Device, *mut c_ulonglong) -> Return,
                    "nvmlDeviceGetCurrentClocksEventReasons",
                    "nvmlDeviceGetCurrentClocksThrottleReasons"
                ),
                _library: library,
            };
            // SAFETY: nvmlInit takes no arguments and may be called from any thread.
            let status = unsafe { init() };
            match status {
                SUCCESS => Ok(api),
                ERROR_DRIVER_NOT_LOADED | ERROR_LIBRARY_NOT_FOUND => {
                    Err(LoadError::NoDriver(format!("NVML: {}", api.describe(status))))
                }
                _ => Err(LoadError::Failed(format!("nvmlInit failed: {}", api.describe(status)))),
            }
        }

        fn describe(&self, status: Return) -> String {
            // SAFETY: nvmlErrorString returns a static NUL-terminated string for any code.
            let text = unsafe { (self.error_string)(status) };
            if text.is_null() {
                return format!("NVML error {status}");
            }
            // SAFETY: non-null, NUL-terminated, static lifetime per the NVML docs.
            unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
        }

        /// Calls an optional `fn(device, out) -> Return` getter; `None` when missing or failing
        /// (NOT_SUPPORTED on this GPU).
        fn read<T: Default>(
            &self,
            getter: Option<unsafe extern "C" fn(Device, *mut T) -> Return>,
            device: Device,
        ) -> Option<T> {
            let getter = getter?;
            let mut value = T::default();
            // SAFETY: `device` came from nvmlDeviceGetHandleByIndex; `value` is a valid out slot.
            (unsafe { getter(device, &mut value) } == SUCCESS).then_some(value)
        }

        fn read_kind(
            &self,
            getter: Option<unsafe extern "C" fn(Device, c_int, *mut c_uint) -> Return>,
            device: Device,
            kind: c_int,
        ) -> Option<c_uint> {
            let getter = getter?;
            let mut value: c_uint = 0;
            // SAFETY: as in `read`; `kind` is a valid enum value for this getter.
            (unsafe { getter(device, kind, &mut value) } == SUCCESS).then_some(value)
        }

        /// (used, total) bytes: the v2 call where the driver has it, else v1.
        fn memory(&self, device: Device) -> Option<(u64, u64)> {
            if let Some(get_v2) = self.memory_info_v2 {
                let mut memory = MemoryV2 {
                    version: MEMORY_V2_VERSION,
                    total: 0,
                    reserved: 0,
                    free: 0,
                    used: 0,
                };
                // SAFETY: valid device; the struct is nvmlMemory_v2_t with its version set.
                if unsafe { get_v2(device, &mut memory) } == SUCCESS {
                    return Some((memory.used, memory.total));
                }
            }
            let mut memory = Memory::default();
            // SAFETY: valid device and out struct laid out as nvmlMemory_t.
            let status = unsafe { (self.memory_info)(device, &mut memory) };
            (status == SUCCESS).then_some((memory.used, memory.total))
        }

        fn device(&self, index: c_uint) -> Result<GpuDevice, String> {
            let mut device: Device = std::ptr::null_mut();
            // SAFETY: index < count; the out pointer is valid.
            let status = unsafe { (self.device_by_index)(index, &mut device) };
            if status != SUCCESS {
                return Err(format!("GPU {index}: {}", self.describe(status)));
            }
            let mut name = [0 as c_char; DEVICE_NAME_BUFFER_SIZE];
            // SAFETY: the buffer length is passed; NVML NUL-terminates within it.
            let status = unsafe {
                (self.name)(device, name.as_mut_ptr(), DEVICE_NAME_BUFFER_SIZE as c_uint)
            };
            let name = if status == SUCCESS {
                // SAFETY: NUL-terminated by NVML on success.
                unsafe { CStr::from_ptr(name.as_ptr()) }.to_string_lossy().into_owned()
            } else {
                "unknown NVIDIA GPU".to_string()
            };
            let (memory_used, memory_total) = self.memory(device).unzip();
            const MIB: u64 = 1024 * 1024;
            let utilization = self.read(self.utilization, device);
            Ok(GpuDevice {
                index,
                name,
                temperature_c: self
                    .read_kind(self.temperature, device, TEMPERATURE_GPU)
                    .map(f64::from),
                slowdown_temperature_c: self
                    .read_kind(self.temperature_threshold, device, TEMPERATURE_THRESHOLD_SLOWDOWN)
                    .map(f64::from),
                memory_used_mib: memory_used.map(|bytes| bytes / MIB),
                memory_total_mib: memory_total.map(|bytes| bytes / MIB),
                utilization_pct: utilization.map(|u: Utilization| u.gpu),
                sm_clock_mhz: self.read_kind(self.clock, device, CLOCK_SM),
                sm_clock_max_mhz: self.read_kind(self.max_clock, device, CLOCK_SM),
                power_draw_w: self
                    .read(self.power_usage, device)
                    .map(|mw: c_uint| f64::from(mw) / 1000.0),
                power_limit_w: self
                    .read(self.power_limit, device)
                    .map(|mw: c_uint| f64::from(mw) / 1000.0),
                clock_event_reasons: self
                    .read(self.clock_event_reasons, device)
                    .map(decode_clock_event_reasons),
            })
        }
    }

    #[cfg(test)]
    #[test]
    fn memory_v2_version_matches_nvml_h() {
        // nvml.h: unsigned int version, padded to 8, then four unsigned long longs.
        assert_eq!(std::mem::size_of::<MemoryV2>(), 40);
        assert_eq!(MEMORY_V2_VERSION, 0x0200_0028);
    }

    pub(super) fn query() -> NvmlOutcome {
        let api = match API.get_or_init(Api::load) {
            Ok(api) => api,
            Err(LoadError::NoDriver(reason)) => return NvmlOutcome::NoDriver(reason.clone()),
            Err(LoadError::Failed(reason)) => return NvmlOutcome::Failed(reason.clone()),
        };
        let mut count: c_uint = 0;
        // SAFETY: valid out pointer; NVML is initialised.
        let status = unsafe { (api.device_count)(&mut count) };
        if status != SUCCESS {
            return NvmlOutcome::Failed(format!("nvmlDeviceGetCount: {}", api.describe(status)));
        }
        if count == 0 {
            return NvmlOutcome::NoDriver("NVML lists no GPUs".to_string());
        }
        match (0..count).map(|index| api.device(index)).collect() {
            Ok(devices) => NvmlOutcome::Devices(devices),
            Err(reason) => NvmlOutcome::Failed(reason),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod nvml {
    use super::NvmlOutcome;

    #[cfg(test)]
    #[test]
    fn memory_v2_version_matches_nvml_h() {
        // nvml.h: unsigned int version, padded to 8, then four unsigned long longs.
        assert_eq!(std::mem::size_of::<MemoryV2>(), 40);
        assert_eq!(MEMORY_V2_VERSION, 0x0200_0028);
    }

    pub(super) fn query() -> NvmlOutcome {
        NvmlOutcome::NoDriver("NVML is only loaded on Linux".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_smi_path_agrees_with_nvml_or_reports_missing() {
        let deadline = Instant::now() + Duration::from_secs(10);
        match query_nvidia_smi(deadline) {
            SmiOutcome::Devices(source, smi_devices) => {
                assert!(source.starts_with("nvidia-smi --query-gpu="), "{source}");
                if let NvmlOutcome::Devices(nvml_devices) = query_nvml() {
                    let names = |d: &[crate::report::GpuDevice]| {
                        d.iter().map(|g| g.name.clone()).collect::<Vec<_>>()
                    };
                    assert_eq!(names(&smi_devices), names(&nvml_devices));
                    assert_eq!(smi_devices[0].memory_total_mib, nvml_devices[0].memory_total_mib);
                }
            }
            SmiOutcome::Missing(reason) => {
                assert!(reason.contains("nvidia-smi") || reason.contains("NVIDIA"), "{reason}")
            }
            SmiOutcome::Failed(reason) => panic!("nvidia-smi present but failing: {reason}"),
        }
    }

    #[test]
    fn this_machine_answers_present_or_not_present_never_panics() {
        let gpus = probe(Instant::now() + Duration::from_secs(5));
        match &gpus {
            NvidiaGpus::Present { devices, .. } => assert!(!devices.is_empty()),
            NvidiaGpus::NotPresent { reason } => {
                assert!(reason.contains("libnvidia-ml.so.1") || reason.contains("NVML"), "{reason}")
            }
            NvidiaGpus::Unknown { reason, .. } => assert!(!reason.is_empty()),
        }
        // A second query reuses the loaded library (or the recorded absence) and agrees.
        let again = probe(Instant::now() + Duration::from_secs(5));
        assert_eq!(std::mem::discriminant(&gpus), std::mem::discriminant(&again));
    }
}
