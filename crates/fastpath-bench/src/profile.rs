//! The calibrated machine profile and the backend choice that reads it.
//!
//! `fastpath calibrate` measures every kernel on every backend across sizes and saves a
//! [`MachineProfile`]. Routing asks two questions of it:
//!
//! * [`estimate_seconds`] — how long one call of a kernel on `n` elements takes on a backend
//!   (interpolated between measured sizes);
//! * [`choose_backend`] — which backend is faster for that call.
//!
//! Times are for *one standalone call with the data already where it runs*: CPU wall time, and
//! GPU wall time from recording through submission until the GPU finished (the dispatch
//! overhead included), because that is what a caller waits for. Moving host data to the GPU is
//! extra: [`MachineProfile::transfer_seconds`] estimates it from the measured link.
//!
//! Without a profile, [`rule_backend`] is the documented fallback, and [`decide`] wraps both and
//! says which one it used. This module needs nothing but serde: crates that only read profiles
//! depend on `fastpath-bench` with `default-features = false`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Written into every profile; a profile with another schema is refused, not misread.
pub const PROFILE_SCHEMA: &str = "fastpath-profile/1";
/// File name inside the cache directory.
pub const PROFILE_FILE: &str = "profile.json";

/// Fallback rule without a profile: the GPU is used only when it is a hardware adapter and
/// the input has at least this many elements.
///
/// Why 2^20: below it a standalone GPU call is dominated by recording, submitting and waiting
/// (40–44 µs on the H100 host at 0e03092, 33 µs with immediate parameters on an H200 host at
/// 6ce8c4b, of which 26–28 µs is wgpu's and the driver's floor;
/// `fastpath-gpu/examples/call_overhead.rs`), while a CPU reads 2^20 f32 values in
/// tens to hundreds of µs; above it the GPU's bandwidth wins on any discrete or Apple GPU. A
/// software rasterizer (lavapipe) runs on the same cores as the CPU kernels with more
/// overhead, so it is never chosen by rule. Calibrated crossovers replace this guess.
pub const RULE_GPU_MIN_ELEMENTS: u64 = 1 << 20;

/// Where a kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Cpu,
    Gpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of GPU the machine has, for the fallback rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuClass {
    /// No usable adapter.
    None,
    /// A CPU/software rasterizer such as lavapipe or WARP.
    Software,
    /// A discrete, integrated or virtual GPU.
    Hardware,
}

impl GpuClass {
    /// From `fastpath_gpu::AdapterSummary::device_type` ("discrete", "integrated", "virtual",
    /// "cpu", "other").
    pub fn from_device_type(device_type: &str) -> GpuClass {
        match device_type {
            "cpu" => GpuClass::Software,
            _ => GpuClass::Hardware,
        }
    }
}

/// One measured point of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Elements of the kernel's first input.
    pub n: u64,
    /// Median seconds per call.
    pub seconds: f64,
    /// Throughput from the kernel's cost model (bytes moved / seconds), for reading the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
}

/// Measured curves of one kernel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelCurves {
    /// CPU wall time per call.
    #[serde(default)]
    pub cpu: Vec<Point>,
    /// GPU wall time per call: record, submit, wait (data resident on the device).
    #[serde(default)]
    pub gpu: Vec<Point>,
    /// GPU time from timestamp queries (the kernel alone, without dispatch overhead).
    #[serde(default)]
    pub gpu_device: Vec<Point>,
    /// Smallest measured size from which the GPU was faster at every larger measured size;
    /// `None` when it never was.
    #[serde(default)]
    pub crossover_n: Option<u64>,
}

/// The machine the profile was measured on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub os: String,
    pub arch: String,
    pub cpu: String,
    pub logical_cores: usize,
}

/// The GPU adapter the profile was measured with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuInfo {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub timestamps: bool,
}

/// Fixed costs of a call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchOverhead {
    /// One tiny dispatch recorded, submitted and waited for.
    pub gpu_submit_wait_s: Option<f64>,
    /// Per kernel call when many small calls share one batch (GPU time, else wall).
    pub gpu_chained_per_kernel_s: Option<f64>,
    /// One CPU call of a small kernel.
    pub cpu_call_s: Option<f64>,
}

/// Host ↔ device copy rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    pub host_to_device_gbps: f64,
    pub device_to_host_gbps: f64,
}

/// Everything `fastpath calibrate` learned about this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineProfile {
    pub schema: String,
    /// UTC, RFC 3339.
    pub created: String,
    pub fastpath_version: String,
    /// Measured with `--quick` (fewer sizes and repetitions).
    pub quick: bool,
    pub host: HostInfo,
    pub gpu: Option<GpuInfo>,
    /// Copy bandwidth, bytes read plus bytes written, GB/s.
    pub cpu_copy_gbps: Option<f64>,
    pub gpu_copy_gbps: Option<f64>,
    pub cpu_peak_gflops: Option<f64>,
    pub gpu_peak_gflops: Option<f64>,
    pub dispatch: DispatchOverhead,
    pub transfer: Option<Transfer>,
    /// Per kernel id.
    pub kernels: BTreeMap<String, KernelCurves>,
}

impl MachineProfile {
    pub fn curves(&self, kernel_id: &str) -> Option<&KernelCurves> {
        self.kernels.get(kernel_id).or_else(|| {
            self.kernels.iter().find(|(k, _)| k.eq_ignore_ascii_case(kernel_id)).map(|(_, v)| v)
        })
    }

    /// Seconds to move `bytes` between host and device in one direction; `None` without a
    /// measured link.
    pub fn transfer_seconds(&self, bytes: u64, to_device: bool) -> Option<f64> {
        let t = self.transfer.as_ref()?;
        let gbps = if to_device { t.host_to_device_gbps } else { t.device_to_host_gbps };
        (gbps > 0.0).then(|| bytes as f64 / (gbps * 1e9))
    }

    /// Reads a profile file, refusing other schemas.
    pub fn read(path: &Path) -> Result<MachineProfile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProfileError(format!("cannot read profile {}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            ProfileError(format!("profile {} is not valid JSON: {e}", path.display()))
        })?;
        let schema = value.get("schema").and_then(|s| s.as_str()).unwrap_or("none");
        if schema != PROFILE_SCHEMA {
            return Err(ProfileError(format!(
                "profile {} has schema {schema}, expected {PROFILE_SCHEMA}; run `fastpath calibrate` again",
                path.display()
            )));
        }
        serde_json::from_value(value)
            .map_err(|e| ProfileError(format!("profile {} is malformed: {e}", path.display())))
    }

    /// Writes the profile atomically (a temporary file renamed into place), creating the
    /// directory if needed.
    pub fn write(&self, path: &Path) -> Result<(), ProfileError> {
        let text = serde_json::to_string_pretty(self).expect("profiles serialize");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| ProfileError(format!("cannot create {}: {e}", dir.display())))?;
        }
        write_atomically(path, text.as_bytes()).map_err(ProfileError)
    }
}

/// A profile that could not be read or written (one line).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileError(pub String);

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

/// The per-user cache directory for fastpath: `$XDG_CACHE_HOME/fastpath` or
/// `~/.cache/fastpath` on Linux and other Unixes, `~/Library/Caches/fastpath` on macOS,
/// `%LOCALAPPDATA%\fastpath` on Windows. `None` when the home directory is unknown.
pub fn cache_dir() -> Option<PathBuf> {
    let env_dir =
        |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let base = if cfg!(target_os = "macos") {
        env_dir("HOME").map(|h| h.join("Library").join("Caches"))
    } else if cfg!(windows) {
        env_dir("LOCALAPPDATA")
    } else {
        env_dir("XDG_CACHE_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("fastpath"))
}

/// Where `fastpath calibrate` writes and routing looks by default.
pub fn default_profile_path() -> Option<PathBuf> {
    cache_dir().map(|d| d.join(PROFILE_FILE))
}

/// Loads the profile at `path`, or at [`default_profile_path`] when `path` is `None`.
/// A missing file at the default place is `Ok(None)` (not calibrated yet); a missing explicit
/// file, an unreadable or malformed one is an error.
pub fn load_profile(
    path: Option<&Path>,
) -> Result<Option<(MachineProfile, PathBuf)>, ProfileError> {
    match path {
        Some(p) => MachineProfile::read(p).map(|prof| Some((prof, p.to_path_buf()))),
        None => match default_profile_path() {
            Some(p) if p.exists() => MachineProfile::read(&p).map(|prof| Some((prof, p))),
            _ => Ok(None),
        },
    }
}

/// Interpolates a curve log-log between measured sizes. Below the smallest size the smallest
/// size's time is used (fixed costs dominate there); above the largest, time grows in
/// proportion to `n` (every kernel here is at least linear).
fn interpolate(points: &[Point], n: u64) -> Option<f64> {
    let mut pts: Vec<&Point> =
        points.iter().filter(|p| p.n > 0 && p.seconds.is_finite() && p.seconds > 0.0).collect();
    pts.sort_by_key(|p| p.n);
    let (first, last) = (*pts.first()?, *pts.last()?);
    let n = n.max(1);
    if n <= first.n {
        return Some(first.seconds);
    }
    if n >= last.n {
        return Some(last.seconds * n as f64 / last.n as f64);
    }
    let i = pts.iter().position(|p| p.n >= n)?;
    let (a, b) = (pts[i - 1], pts[i]);
    if b.n == n {
        return Some(b.seconds);
    }
    let t = ((n as f64).ln() - (a.n as f64).ln()) / ((b.n as f64).ln() - (a.n as f64).ln());
    Some((a.seconds.ln() + t * (b.seconds.ln() - a.seconds.ln())).exp())
}

/// Estimated seconds for one call of `kernel_id` on `n` elements on `backend`, from the
/// profile; `None` when the profile has no measurement for that kernel and backend.
pub fn estimate_seconds(
    profile: &MachineProfile,
    kernel_id: &str,
    n: u64,
    backend: Backend,
) -> Option<f64> {
    let curves = profile.curves(kernel_id)?;
    match backend {
        Backend::Cpu => interpolate(&curves.cpu, n),
        Backend::Gpu => estimate_gpu_wall(curves, n),
    }
}

/// The largest measured size of a curve.
fn largest_point(points: &[Point]) -> Option<&Point> {
    points.iter().filter(|p| p.seconds.is_finite() && p.seconds > 0.0).max_by_key(|p| p.n)
}

/// GPU wall time per call. Above the largest measured size only the kernel's own time grows
/// with `n`, not the fixed cost of recording, submitting and waiting: the estimate is the wall
/// at the largest size plus the kernel's extra time, scaled linearly from its timestamp-measured
/// time there. Scaling the whole wall would charge the fixed cost `n / largest` times over; on
/// the H100 a quick profile (to 2^22, where REDUCE_MAX's wall was 168 µs, 16 µs of it the
/// kernel) then kept REDUCE_MAX at 2^26 on the CPU, 4.6× slower than the GPU.
fn estimate_gpu_wall(curves: &KernelCurves, n: u64) -> Option<f64> {
    let last = largest_point(&curves.gpu)?;
    let kernel_at_last = curves
        .gpu_device
        .iter()
        .filter(|_| n > last.n)
        .find(|p| p.n == last.n && p.seconds.is_finite() && p.seconds >= 0.0)
        .map(|p| p.seconds.min(last.seconds));
    match kernel_at_last {
        Some(kernel) => Some(last.seconds + kernel * (n as f64 / last.n as f64 - 1.0)),
        None => interpolate(&curves.gpu, n),
    }
}

/// The faster backend for one call on data already where it runs; `None` when the profile
/// does not know the kernel. With both backends measured the GPU is chosen from the measured
/// crossover on ([`KernelCurves::crossover_n`]: the GPU won there and at every larger size),
/// not by comparing the two curves at `n`: real CPU and GPU curves cross once, so a lone GPU
/// win below the crossover is noise, and following it would cost more than it could gain.
/// Beyond the largest size measured on both, where no measurement can be noise, the two
/// extrapolated estimates decide (a CPU that won narrowly at the largest size measured, where
/// the GPU's fixed costs still dominated, loses far above it). A kernel measured on one backend
/// only gets that backend.
pub fn choose_backend(profile: &MachineProfile, kernel_id: &str, n: u64) -> Option<Backend> {
    let curves = profile.curves(kernel_id)?;
    match (curves.cpu.is_empty(), curves.gpu.is_empty()) {
        (false, false) => Some(match curves.crossover_n {
            Some(c) if n >= c => Backend::Gpu,
            _ if n > largest_measured_on_both(curves).unwrap_or(u64::MAX) => {
                let cpu = estimate_seconds(profile, kernel_id, n, Backend::Cpu);
                let gpu = estimate_seconds(profile, kernel_id, n, Backend::Gpu);
                match (cpu, gpu) {
                    (Some(c), Some(g)) if g < c => Backend::Gpu,
                    _ => Backend::Cpu,
                }
            }
            _ => Backend::Cpu,
        }),
        (false, true) => Some(Backend::Cpu),
        (true, false) => Some(Backend::Gpu),
        (true, true) => None,
    }
}

/// The largest size both backends were measured at, if any.
fn largest_measured_on_both(curves: &KernelCurves) -> Option<u64> {
    Some(largest_point(&curves.cpu)?.n.min(largest_point(&curves.gpu)?.n))
}

/// Estimated seconds for one call whose data starts and ends on the host: the resident-data
/// estimate plus, on the GPU, `bytes_in` uploaded and `bytes_out` read back over the measured
/// link. `None` when the profile lacks the kernel, the backend or (for the GPU) the link.
pub fn estimate_host_call_seconds(
    profile: &MachineProfile,
    kernel_id: &str,
    n: u64,
    backend: Backend,
    bytes_in: u64,
    bytes_out: u64,
) -> Option<f64> {
    let compute = estimate_seconds(profile, kernel_id, n, backend)?;
    match backend {
        Backend::Cpu => Some(compute),
        Backend::Gpu => Some(
            compute
                + profile.transfer_seconds(bytes_in, true)?
                + profile.transfer_seconds(bytes_out, false)?,
        ),
    }
}

/// [`choose_backend`] for a call on host data (`run-kernel` on .npy files): the GPU must be
/// the resident-data choice *and* still win after its uploads and read-backs.
pub fn choose_backend_for_host_data(
    profile: &MachineProfile,
    kernel_id: &str,
    n: u64,
    bytes_in: u64,
    bytes_out: u64,
) -> Option<Backend> {
    let resident = choose_backend(profile, kernel_id, n)?;
    let cpu = estimate_host_call_seconds(profile, kernel_id, n, Backend::Cpu, bytes_in, bytes_out);
    let gpu = estimate_host_call_seconds(profile, kernel_id, n, Backend::Gpu, bytes_in, bytes_out);
    Some(match (resident, cpu, gpu) {
        (Backend::Gpu, Some(c), Some(g)) if g >= c => Backend::Cpu,
        (Backend::Gpu, Some(_), None) => Backend::Cpu, // no measured link: stay on the host
        (other, _, _) => other,
    })
}

/// The documented fallback without a profile (see [`RULE_GPU_MIN_ELEMENTS`]), for data already
/// where it runs. It is the façade's `auto_backend` rule without its host-data clause (a
/// memory-bound kernel on host data stays on the CPU of a discrete-GPU machine), which needs the
/// kernel's contract; the benchmark's `--regret` scores it on device-resident timings.
pub fn rule_backend(gpu: GpuClass, n: u64) -> Backend {
    if gpu == GpuClass::Hardware && n >= RULE_GPU_MIN_ELEMENTS {
        Backend::Gpu
    } else {
        Backend::Cpu
    }
}

/// What [`decide`] based its choice on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Measured curves of a calibrated profile.
    Profile,
    /// The fallback rule.
    Rule,
}

/// A backend choice with what it was based on, worded for users.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub backend: Backend,
    pub basis: Basis,
    /// One line, e.g. "calibrated profile: cpu ≈ 1.2 ms, gpu ≈ 0.3 ms for n = 4194304; GPU
    /// from n = 262144 on".
    pub reason: String,
    /// The profile's estimate for the chosen backend.
    pub estimated_seconds: Option<f64>,
}

/// Chooses a backend for one call: from the profile when it knows the kernel and was measured
/// on this GPU (`gpu_name` is the adapter in use), otherwise by [`rule_backend`]. The reason
/// says which was used and why.
pub fn decide(
    profile: Option<&MachineProfile>,
    kernel_id: &str,
    n: u64,
    gpu: GpuClass,
    gpu_name: Option<&str>,
) -> Choice {
    let rule = |why: String| {
        let backend = rule_backend(gpu, n);
        let what = match gpu {
            GpuClass::None => "no GPU adapter".to_string(),
            GpuClass::Software => "the GPU adapter is a software rasterizer".to_string(),
            GpuClass::Hardware => format!(
                "rule: GPU from n = 2^{} on a hardware GPU",
                RULE_GPU_MIN_ELEMENTS.trailing_zeros()
            ),
        };
        Choice {
            backend,
            basis: Basis::Rule,
            reason: format!("{why}; {what}"),
            estimated_seconds: None,
        }
    };
    let Some(profile) = profile else {
        return rule("no calibrated profile (run `fastpath calibrate`)".into());
    };
    if gpu == GpuClass::None {
        return rule("no GPU to choose".into());
    }
    match (&profile.gpu, gpu_name) {
        (Some(measured), Some(current)) if measured.name != current => {
            return rule(format!(
                "the profile was calibrated on {}, not on {current}",
                measured.name
            ));
        }
        (None, _) => return rule("the profile has no GPU measurements".into()),
        _ => {}
    }
    let cpu = estimate_seconds(profile, kernel_id, n, Backend::Cpu);
    let gpu_s = estimate_seconds(profile, kernel_id, n, Backend::Gpu);
    let Some(backend) = choose_backend(profile, kernel_id, n) else {
        return rule(format!("the profile has no measurements of {kernel_id}"));
    };
    let show = |t: Option<f64>| t.map_or("not measured".to_string(), format_seconds);
    Choice {
        backend,
        basis: Basis::Profile,
        reason: format!(
            "calibrated profile: cpu ≈ {}, gpu ≈ {} for n = {n}; {}",
            show(cpu),
            show(gpu_s),
            match profile.curves(kernel_id).map(|c| (c.crossover_n, largest_measured_on_both(c))) {
                Some((Some(c), _)) => format!("GPU from n = {c} on"),
                Some((None, Some(largest))) if n > largest => format!(
                    "the CPU was faster at every size measured (to n = {largest}); \
                     above that, the estimates extrapolated from there decide"
                ),
                _ => "the CPU was faster at every size measured".to_string(),
            }
        ),
        estimated_seconds: match backend {
            Backend::Cpu => cpu,
            Backend::Gpu => gpu_s,
        },
    }
}

/// Seconds in the unit that keeps 3 significant digits readable (ns, µs, ms, s).
pub fn format_seconds(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    let (v, unit) = if s < 1e-6 {
        (s * 1e9, "ns")
    } else if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so the file
/// appears complete or not at all.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

/// Current UTC time as RFC 3339 (`2026-11-25T17:30:00Z`), without a date crate.
pub fn utc_now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(u64, f64)]) -> Vec<Point> {
        v.iter().map(|&(n, seconds)| Point { n, seconds, gbps: None }).collect()
    }

    fn profile() -> MachineProfile {
        let mut kernels = BTreeMap::new();
        // CPU linear from 1 µs; GPU 100 µs of overhead, then 10× the CPU's rate: crossover
        // between 2^16 and 2^18.
        kernels.insert(
            "REDUCE_SUM".to_string(),
            KernelCurves {
                cpu: pts(&[
                    (1 << 10, 1e-6),
                    (1 << 14, 16e-6),
                    (1 << 18, 256e-6),
                    (1 << 22, 4096e-6),
                ]),
                gpu: pts(&[
                    (1 << 10, 100e-6),
                    (1 << 14, 100e-6),
                    (1 << 18, 120e-6),
                    (1 << 22, 500e-6),
                ]),
                gpu_device: vec![],
                crossover_n: Some(1 << 18),
            },
        );
        kernels.insert(
            "CPU_ONLY".to_string(),
            KernelCurves { cpu: pts(&[(1024, 1e-6)]), ..Default::default() },
        );
        MachineProfile {
            schema: PROFILE_SCHEMA.into(),
            created: utc_now_rfc3339(),
            fastpath_version: "test".into(),
            quick: true,
            host: HostInfo::default(),
            gpu: Some(GpuInfo { name: "Test GPU".into(), ..Default::default() }),
            cpu_copy_gbps: Some(10.0),
            gpu_copy_gbps: Some(1000.0),
            cpu_peak_gflops: None,
            gpu_peak_gflops: None,
            dispatch: DispatchOverhead::default(),
            transfer: Some(Transfer { host_to_device_gbps: 20.0, device_to_host_gbps: 10.0 }),
            kernels,
        }
    }

    #[test]
    fn interpolation_is_log_log_and_extrapolates_linearly() {
        let p = profile();
        let est = |n, b| estimate_seconds(&p, "REDUCE_SUM", n, b).unwrap();
        assert_eq!(est(1 << 14, Backend::Cpu), 16e-6);
        // Halfway between 2^14 and 2^18 in log space: geometric mean of the times.
        assert!((est(1 << 16, Backend::Cpu) - 64e-6).abs() < 1e-12);
        // Below the smallest size: the floor; above the largest: linear growth.
        assert_eq!(est(10, Backend::Gpu), 100e-6);
        assert!((est(1 << 24, Backend::Gpu) - 2000e-6).abs() < 1e-12);
        assert_eq!(estimate_seconds(&p, "reduce_sum", 1 << 14, Backend::Cpu), Some(16e-6));
        assert_eq!(estimate_seconds(&p, "NOPE", 1, Backend::Cpu), None);
        assert_eq!(estimate_seconds(&p, "CPU_ONLY", 1, Backend::Gpu), None);
    }

    #[test]
    fn choice_follows_the_measured_crossover() {
        let p = profile();
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 10), Some(Backend::Cpu));
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 16), Some(Backend::Cpu));
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 18), Some(Backend::Gpu));
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 26), Some(Backend::Gpu));
        assert_eq!(choose_backend(&p, "CPU_ONLY", 1 << 26), Some(Backend::Cpu));
        assert_eq!(choose_backend(&p, "NOPE", 1), None);
    }

    #[test]
    fn decide_says_what_it_used() {
        let p = profile();
        let c = decide(Some(&p), "REDUCE_SUM", 1 << 20, GpuClass::Hardware, Some("Test GPU"));
        assert_eq!((c.backend, c.basis), (Backend::Gpu, Basis::Profile));
        assert!(c.reason.starts_with("calibrated profile"), "{}", c.reason);
        assert!(c.estimated_seconds.is_some());
        // Unknown kernel, another GPU, or no profile: the rule, with the reason.
        let c = decide(Some(&p), "NOPE", 1 << 20, GpuClass::Hardware, Some("Test GPU"));
        assert_eq!((c.backend, c.basis), (Backend::Gpu, Basis::Rule));
        assert!(c.reason.contains("no measurements of NOPE"), "{}", c.reason);
        let c = decide(Some(&p), "REDUCE_SUM", 1 << 10, GpuClass::Hardware, Some("Other"));
        assert_eq!(c.basis, Basis::Rule);
        assert!(c.reason.contains("calibrated on Test GPU"), "{}", c.reason);
        let c = decide(None, "REDUCE_SUM", 1 << 22, GpuClass::Software, None);
        assert_eq!((c.backend, c.basis), (Backend::Cpu, Basis::Rule));
        assert!(c.reason.contains("no calibrated profile"), "{}", c.reason);
    }

    #[test]
    fn a_lone_gpu_win_below_the_crossover_is_ignored() {
        let mut p = profile();
        let c = p.kernels.get_mut("REDUCE_SUM").unwrap();
        // The GPU "won" at 2^10 (a CPU hiccup) but lost at 2^14; the crossover is still 2^18.
        c.cpu[0].seconds = 1e-3;
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 10), Some(Backend::Cpu));
        assert!(estimate_seconds(&p, "REDUCE_SUM", 1 << 10, Backend::Gpu).unwrap() < 1e-3);
    }

    #[test]
    fn above_the_measured_sizes_the_gpu_pays_its_fixed_cost_once() {
        let mut p = profile();
        let c = p.kernels.get_mut("REDUCE_SUM").unwrap();
        // Like REDUCE_MAX on the H100 to 2^22: the CPU won narrowly at every measured size
        // (at 2^22 400 µs vs a 420 µs GPU wall of which 20 µs is the kernel).
        c.cpu = pts(&[(1 << 10, 1e-6), (1 << 18, 25e-6), (1 << 22, 400e-6)]);
        c.gpu = pts(&[(1 << 10, 400e-6), (1 << 18, 401e-6), (1 << 22, 420e-6)]);
        c.gpu_device = pts(&[(1 << 10, 1e-6), (1 << 18, 2e-6), (1 << 22, 20e-6)]);
        c.crossover_n = None;
        let est = |p: &MachineProfile, n, b| estimate_seconds(p, "REDUCE_SUM", n, b).unwrap();
        // At 2^26: CPU 16 × 400 µs; GPU 420 µs + 15 × 20 µs, not 16 × 420 µs.
        assert!((est(&p, 1 << 26, Backend::Cpu) - 6400e-6).abs() < 1e-12);
        assert!((est(&p, 1 << 26, Backend::Gpu) - 720e-6).abs() < 1e-12);
        assert_eq!(est(&p, 1 << 22, Backend::Gpu), 420e-6);
        // Within the measured sizes the crossover rule holds; beyond, the estimates decide.
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 22), Some(Backend::Cpu));
        // Twice the largest size: CPU 800 µs, GPU 440 µs.
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 23), Some(Backend::Gpu));
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 26), Some(Backend::Gpu));
        let c = decide(Some(&p), "REDUCE_SUM", 1 << 26, GpuClass::Hardware, Some("Test GPU"));
        assert_eq!(c.backend, Backend::Gpu);
        assert!(c.reason.contains("extrapolated"), "{}", c.reason);
        // Without timestamps the whole wall scales, and the CPU keeps it.
        p.kernels.get_mut("REDUCE_SUM").unwrap().gpu_device.clear();
        assert!((est(&p, 1 << 26, Backend::Gpu) - 16.0 * 420e-6).abs() < 1e-12);
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 26), Some(Backend::Cpu));
        // A CPU that wins clearly at the largest size keeps winning above it.
        let c = p.kernels.get_mut("REDUCE_SUM").unwrap();
        c.gpu_device = pts(&[(1 << 22, 410e-6)]);
        c.cpu = pts(&[(1 << 22, 100e-6)]);
        assert_eq!(choose_backend(&p, "REDUCE_SUM", 1 << 30), Some(Backend::Cpu));
    }

    #[test]
    fn host_data_pays_for_the_link() {
        let p = profile();
        // At 2^22: CPU 4.1 ms, GPU 0.5 ms resident; 16 MiB up at 20 GB/s adds ~0.84 ms.
        let n = 1u64 << 22;
        let up = n * 4;
        let t = estimate_host_call_seconds(&p, "REDUCE_SUM", n, Backend::Gpu, up, 4).unwrap();
        assert!((t - (500e-6 + up as f64 / 20e9 + 4.0 / 10e9)).abs() < 1e-12, "{t}");
        assert_eq!(choose_backend_for_host_data(&p, "REDUCE_SUM", n, up, 4), Some(Backend::Gpu));
        // At 2^18 the resident GPU wins (120 µs vs 256 µs), but not after a 4 MiB upload
        // (+210 µs at 20 GB/s).
        let n = 1u64 << 18;
        assert_eq!(choose_backend(&p, "REDUCE_SUM", n), Some(Backend::Gpu));
        assert_eq!(
            choose_backend_for_host_data(&p, "REDUCE_SUM", n, n * 16, 4),
            Some(Backend::Cpu)
        );
    }

    #[test]
    fn fallback_rule() {
        assert_eq!(rule_backend(GpuClass::Hardware, RULE_GPU_MIN_ELEMENTS), Backend::Gpu);
        assert_eq!(rule_backend(GpuClass::Hardware, RULE_GPU_MIN_ELEMENTS - 1), Backend::Cpu);
        assert_eq!(rule_backend(GpuClass::Software, 1 << 30), Backend::Cpu);
        assert_eq!(rule_backend(GpuClass::None, 1 << 30), Backend::Cpu);
        assert_eq!(GpuClass::from_device_type("cpu"), GpuClass::Software);
        assert_eq!(GpuClass::from_device_type("discrete"), GpuClass::Hardware);
    }

    #[test]
    fn profiles_round_trip_and_wrong_schemas_are_refused() {
        let dir =
            std::env::temp_dir().join(format!("fastpath-profile-test-{}", std::process::id()));
        let path = dir.join("nested").join("profile.json");
        let p = profile();
        p.write(&path).unwrap();
        let (back, at) = load_profile(Some(&path)).unwrap().unwrap();
        assert_eq!(back, p);
        assert_eq!(at, path);
        assert!((p.transfer_seconds(20_000_000_000, true).unwrap() - 1.0).abs() < 1e-12);
        std::fs::write(&path, r#"{"schema": "fastpath-profile/0"}"#).unwrap();
        let e = load_profile(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("expected fastpath-profile/1"), "{e}");
        let e = load_profile(Some(&dir.join("missing.json"))).unwrap_err().to_string();
        assert!(e.contains("cannot read profile"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dates_and_durations_format() {
        let now = utc_now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'));
        assert_eq!(format_seconds(1.234e-3), "1.23 ms");
        assert_eq!(format_seconds(56.7e-6), "56.7 µs");
        assert_eq!(format_seconds(2.0), "2.00 s");
        assert_eq!(format_seconds(512e-9), "512 ns");
    }
}
