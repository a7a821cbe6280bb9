//! Linux readers: `/proc` and `/sys` files, read relative to configurable roots so tests can
//! run the same code on a recorded file tree.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::parse::linux as parse;
use crate::probe::{ProbeOptions, available_cores, nvidia, spawn_reader};
use crate::report::{
    BYTES_PER_GB, CgroupMemory, HealthReport, LinuxDetails, MemInfo, PowerSupply, ProcessMemory,
    Psi, TOP_PROCESS_COUNT, ThermalZone,
};
use crate::signal::Signal;

/// Where `/proc` and `/sys` are.
#[derive(Clone, Debug)]
pub(crate) struct LinuxRoots {
    pub proc_dir: PathBuf,
    pub sys_dir: PathBuf,
}

impl LinuxRoots {
    pub fn system() -> Self {
        Self { proc_dir: PathBuf::from("/proc"), sys_dir: PathBuf::from("/sys") }
    }

    fn proc(&self, relative: &str) -> PathBuf {
        self.proc_dir.join(relative)
    }

    fn sys(&self, relative: &str) -> PathBuf {
        self.sys_dir.join(relative)
    }

    /// An absolute path from mountinfo, re-rooted when the roots are a recorded tree.
    fn host_path(&self, absolute: &str) -> PathBuf {
        if let Some(rest) = absolute.strip_prefix("/sys/") {
            self.sys(rest)
        } else if let Some(rest) = absolute.strip_prefix("/proc/") {
            self.proc(rest)
        } else if absolute == "/sys" {
            self.sys_dir.clone()
        } else {
            PathBuf::from(absolute)
        }
    }
}

/// The path as the probe reports it (the real location, even when reading a fixture tree).
fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| read_error(path, &err))
}

/// One line for a failed read; PSI's two ways of being unavailable get their own words.
fn read_error(path: &Path, err: &io::Error) -> String {
    let is_psi = path.components().any(|c| c.as_os_str() == "pressure");
    match (err.kind(), err.raw_os_error()) {
        (io::ErrorKind::NotFound, _) if is_psi => {
            "PSI is not available (kernel built without CONFIG_PSI, or older than 4.20)".to_string()
        }
        // EOPNOTSUPP: built with CONFIG_PSI_DEFAULT_DISABLED and not enabled at boot.
        (_, Some(95)) if is_psi => "PSI is disabled (boot with psi=1 to enable it)".to_string(),
        (io::ErrorKind::NotFound, _) => format!("{} does not exist", path.display()),
        _ => format!("cannot read {}: {err}", path.display()),
    }
}

pub(crate) fn probe(roots: &LinuxRoots, options: &ProbeOptions, deadline: Instant) -> HealthReport {
    let limit = options.time_limit;
    let memory = {
        let roots = roots.clone();
        spawn_reader("memory", move || read_memory(&roots))
    };
    let thermal = {
        let roots = roots.clone();
        spawn_reader("thermal", move || (read_thermal_zones(&roots), read_throttle_events(&roots)))
    };
    let power = {
        let roots = roots.clone();
        spawn_reader("power", move || read_power_supplies(&roots))
    };
    let load = {
        let roots = roots.clone();
        spawn_reader("load", move || {
            let path = roots.proc("loadavg");
            let load = Signal::from_result(
                read(&path).and_then(|t| parse::parse_loadavg(&t)),
                shown(&path),
            );
            let online_path = roots.sys("devices/system/cpu/online");
            let online = Signal::from_result(
                read(&online_path).and_then(|t| parse::parse_cpu_list(&t)),
                shown(&online_path),
            );
            (load.map(|loads| loads[0]), online)
        })
    };
    let processes = options.top_processes.then(|| {
        let roots = roots.clone();
        spawn_reader("processes", move || read_top_processes(&roots))
    });
    let gpus = options.nvidia.then(|| spawn_reader("nvidia", move || nvidia::probe(deadline)));

    let mut report = HealthReport::all_unknown("not probed", "linux");
    let mut details = LinuxDetails {
        psi_memory: Signal::unknown("not probed", ""),
        psi_cpu: Signal::unknown("not probed", ""),
        meminfo: Signal::unknown("not probed", ""),
        cgroup_memory: Signal::unknown("not probed", ""),
        thermal_zones: Signal::unknown("not probed", ""),
        throttle_events_total: Signal::unknown("not probed", ""),
        power_supplies: Signal::unknown("not probed", ""),
        cpus_online: Signal::unknown("not probed", ""),
    };

    match memory.wait(deadline, limit) {
        Ok(memory) => {
            report.mem_pressure = memory.pressure;
            report.mem_available_pct = memory.available_pct;
            report.machine_ram_gb = memory.ram_gb;
            details.psi_memory = memory.psi_memory;
            details.psi_cpu = memory.psi_cpu;
            details.meminfo = memory.meminfo;
            details.cgroup_memory = memory.cgroup;
        }
        Err(reason) => {
            report.mem_pressure = Signal::unknown(&reason, "/proc/pressure/memory, /proc/meminfo");
            report.mem_available_pct = Signal::unknown(&reason, "/proc/meminfo");
            report.machine_ram_gb = Signal::unknown(&reason, "/proc/meminfo");
        }
    }
    match thermal.wait(deadline, limit) {
        Ok((zones, throttle)) => {
            let zones_source = zones.source().to_string();
            report.cpu_speed_limit = match zones.reading() {
                Ok(list) => match parse::speed_limit_from_zones(list) {
                    Ok((limit, why)) => Signal::known(limit, format!("{zones_source}: {why}")),
                    Err(reason) => Signal::unknown(reason, zones_source),
                },
                Err(reason) => Signal::unknown(reason, zones_source),
            };
            details.thermal_zones = zones;
            details.throttle_events_total = throttle;
        }
        Err(reason) => report.cpu_speed_limit = Signal::unknown(reason, "/sys/class/thermal"),
    }
    match power.wait(deadline, limit) {
        Ok(supplies) => {
            let source = supplies.source().to_string();
            report.power_source = match supplies.reading() {
                Ok(list) => match parse::power_source_from_supplies(list) {
                    Ok((power, why)) => Signal::known(power, format!("{source}: {why}")),
                    Err(reason) => Signal::unknown(reason, source),
                },
                Err(reason) => Signal::unknown(reason, source),
            };
            details.power_supplies = supplies;
        }
        Err(reason) => report.power_source = Signal::unknown(reason, "/sys/class/power_supply"),
    }
    match load.wait(deadline, limit) {
        Ok((load, online)) => {
            report.load_avg_1min = load;
            details.cpus_online = online;
        }
        Err(reason) => report.load_avg_1min = Signal::unknown(reason, "/proc/loadavg"),
    }
    report.num_cores = available_cores();
    report.top_processes = match processes {
        Some(pending) => pending
            .wait(deadline, limit)
            .unwrap_or_else(|reason| Signal::unknown(reason, "/proc/<pid>/stat")),
        None => Signal::unknown("not requested", "/proc/<pid>/stat"),
    };
    if let Some(pending) = gpus {
        report.nvidia = pending.wait(deadline, limit).unwrap_or_else(|reason| {
            crate::report::NvidiaGpus::Unknown { reason, source: "NVML".to_string() }
        });
    } else {
        report.nvidia =
            crate::report::NvidiaGpus::NotPresent { reason: "not requested".to_string() };
    }
    report.linux = Some(details);
    report
}

struct MemoryReadings {
    pressure: Signal<crate::report::MemPressure>,
    available_pct: Signal<f64>,
    ram_gb: Signal<f64>,
    psi_memory: Signal<Psi>,
    psi_cpu: Signal<Psi>,
    meminfo: Signal<MemInfo>,
    cgroup: Signal<CgroupMemory>,
}

fn read_psi(roots: &LinuxRoots, name: &str) -> Signal<Psi> {
    let path = roots.proc(&format!("pressure/{name}"));
    Signal::from_result(read(&path).and_then(|t| parse::parse_psi(&t)), shown(&path))
}

fn read_memory(roots: &LinuxRoots) -> MemoryReadings {
    let psi_memory = read_psi(roots, "memory");
    let psi_cpu = read_psi(roots, "cpu");
    let meminfo_path = roots.proc("meminfo");
    let meminfo = Signal::from_result(
        read(&meminfo_path).and_then(|t| parse::parse_meminfo(&t)),
        shown(&meminfo_path),
    );
    let cgroup = read_cgroup_memory(roots);

    let effective = meminfo.value().map(|info| parse::effective_memory(info, cgroup.value()));
    let meminfo_reason = meminfo.unknown_reason().unwrap_or_default().to_string();
    let (available_pct, ram_gb) = match effective {
        Some(effective) => {
            let source = if effective.limited_by_cgroup {
                format!(
                    "{} (limit − usage + inactive_file), capped by {}",
                    cgroup.source(),
                    meminfo.source()
                )
            } else if meminfo.value().is_some_and(|m| m.available_is_kernel_estimate) {
                format!("{} MemAvailable / MemTotal", meminfo.source())
            } else {
                format!(
                    "{} (MemFree + Buffers + Cached) / MemTotal: no MemAvailable before Linux 3.14",
                    meminfo.source()
                )
            };
            let ram_source = if effective.limited_by_cgroup {
                format!("{} memory limit", cgroup.source())
            } else {
                format!("{} MemTotal", meminfo.source())
            };
            (
                Signal::known(round2(effective.available_pct()), source),
                Signal::known(round2(effective.ram_bytes as f64 / BYTES_PER_GB), ram_source),
            )
        }
        None => (
            Signal::unknown(meminfo_reason.clone(), meminfo.source()),
            Signal::unknown(meminfo_reason, meminfo.source()),
        ),
    };
    let pressure_source = format!("{} + available memory", psi_memory.source());
    let pressure = match parse::memory_pressure_level(psi_memory.value(), available_pct.get()) {
        Ok((level, why)) => {
            let note = match psi_memory.unknown_reason() {
                Some(reason) => format!(" ({reason}: availability only)"),
                None => String::new(),
            };
            Signal::known(level, format!("{pressure_source}: {why}{note}"))
        }
        Err(reason) => Signal::unknown(reason, pressure_source),
    };
    MemoryReadings { pressure, available_pct, ram_gb, psi_memory, psi_cpu, meminfo, cgroup }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The memory controller of this process's cgroup: v2 when the process sits in a non-root
/// unified cgroup (which has `memory.current`), else the v1 `memory` hierarchy.
fn read_cgroup_memory(roots: &LinuxRoots) -> Signal<CgroupMemory> {
    let cgroup_path = roots.proc("self/cgroup");
    let mountinfo_path = roots.proc("self/mountinfo");
    let (membership, mounts) = match (read(&cgroup_path), read(&mountinfo_path)) {
        (Ok(cgroup), Ok(mountinfo)) => {
            (parse::parse_proc_cgroup(&cgroup), parse::parse_mountinfo_cgroups(&mountinfo))
        }
        (Err(reason), _) | (_, Err(reason)) => return Signal::unknown(reason, shown(&cgroup_path)),
    };

    if let (Some(path), Some(mount)) = (&membership.unified, &mounts.unified) {
        let dir = roots.host_path(&parse::cgroup_dir(mount, path));
        if dir.join("memory.current").exists() {
            let mount_dir = roots.host_path(&mount.mount_point);
            return Signal::known(read_cgroup_v2(&dir, &mount_dir), shown(&dir));
        }
    }
    if let (Some(path), Some(mount)) = (&membership.memory_v1, &mounts.memory_v1) {
        let mut dir = roots.host_path(&parse::cgroup_dir(mount, path));
        if !dir.join("memory.limit_in_bytes").exists() {
            // Without a cgroup namespace the path can name a directory we cannot see.
            dir = roots.host_path(&mount.mount_point);
        }
        if dir.join("memory.limit_in_bytes").exists() {
            return match read_cgroup_v1(&dir) {
                Ok(memory) => Signal::known(memory, shown(&dir)),
                Err(reason) => Signal::unknown(reason, shown(&dir)),
            };
        }
    }
    Signal::unknown(
        "not in a memory-controlled cgroup (no v2 memory.current, no v1 memory controller)",
        shown(&cgroup_path),
    )
}

/// cgroup v2: the effective limit is the smallest `memory.max` from this cgroup up to the
/// mount, because a parent's limit (a systemd slice, a pod) binds its children too.
fn read_cgroup_v2(dir: &Path, mount_dir: &Path) -> CgroupMemory {
    let mut limit: Option<u64> = None;
    let mut current = Some(dir);
    while let Some(level) = current {
        if let Ok(Some(level_limit)) =
            read(&level.join("memory.max")).and_then(|t| parse::parse_cgroup_v2_limit(&t))
        {
            limit = Some(limit.map_or(level_limit, |l| l.min(level_limit)));
        }
        if level == mount_dir {
            break;
        }
        current = level.parent().filter(|parent| parent.starts_with(mount_dir));
    }
    let stat = read(&dir.join("memory.stat")).unwrap_or_default();
    let events = read(&dir.join("memory.events")).unwrap_or_default();
    CgroupMemory {
        version: 2,
        path: shown(dir),
        limit_bytes: limit,
        usage_bytes: read(&dir.join("memory.current")).ok().and_then(|t| t.trim().parse().ok()),
        inactive_file_bytes: parse::parse_flat_keyed(&stat, "inactive_file"),
        oom_kills: parse::parse_flat_keyed(&events, "oom_kill"),
    }
}

/// cgroup v1: `hierarchical_memory_limit` in `memory.stat` already folds in the parents.
fn read_cgroup_v1(dir: &Path) -> Result<CgroupMemory, String> {
    let stat = read(&dir.join("memory.stat")).unwrap_or_default();
    let own_limit = parse::parse_cgroup_v1_limit(&read(&dir.join("memory.limit_in_bytes"))?)?;
    let hierarchical = parse::parse_flat_keyed(&stat, "hierarchical_memory_limit")
        .filter(|&limit| limit < parse::CGROUP_V1_UNLIMITED);
    let limit = match (own_limit, hierarchical) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(CgroupMemory {
        version: 1,
        path: shown(dir),
        limit_bytes: limit,
        usage_bytes: read(&dir.join("memory.usage_in_bytes"))
            .ok()
            .and_then(|t| t.trim().parse().ok()),
        inactive_file_bytes: parse::parse_flat_keyed(&stat, "total_inactive_file")
            .or_else(|| parse::parse_flat_keyed(&stat, "inactive_file")),
        oom_kills: None,
    })
}

/// Entries of `dir` whose names start with `prefix`, sorted by name (numerically where the
/// rest is a number, so `thermal_zone10` follows `thermal_zone9`).
fn entries_with_prefix(dir: &Path, prefix: &str) -> io::Result<Vec<(String, PathBuf)>> {
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.starts_with(prefix).then(|| (name, entry.path()))
        })
        .collect();
    entries.sort_by_key(|(name, _)| {
        let suffix = &name[prefix.len()..];
        (suffix.parse::<u64>().unwrap_or(u64::MAX), name.clone())
    });
    Ok(entries)
}

fn read_thermal_zones(roots: &LinuxRoots) -> Signal<Vec<ThermalZone>> {
    let dir = roots.sys("class/thermal");
    let entries = match entries_with_prefix(&dir, "thermal_zone") {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Signal::known(Vec::new(), shown(&dir));
        }
        Err(err) => return Signal::unknown(read_error(&dir, &err), shown(&dir)),
    };
    let zones = entries
        .iter()
        .filter_map(|(name, path)| {
            // Some zones fail to read (-EINVAL/-ENODATA from a sleeping sensor): skip them.
            let kind = read(&path.join("type")).ok()?;
            let temp = read(&path.join("temp")).ok()?;
            let trips: Vec<(String, String)> = (0..)
                .map_while(|n| {
                    let kind = read(&path.join(format!("trip_point_{n}_type"))).ok()?;
                    let temp = read(&path.join(format!("trip_point_{n}_temp"))).unwrap_or_default();
                    Some((kind, temp))
                })
                .collect();
            parse::thermal_zone(name, &kind, &temp, &trips).ok()
        })
        .collect();
    Signal::known(zones, shown(&dir))
}

/// Sum of Intel's per-CPU `thermal_throttle/{core,package}_throttle_count` counters.
fn read_throttle_events(roots: &LinuxRoots) -> Signal<u64> {
    let dir = roots.sys("devices/system/cpu");
    let source = format!("{}/cpu*/thermal_throttle/*_throttle_count", shown(&dir));
    let Ok(cpus) = entries_with_prefix(&dir, "cpu") else {
        return Signal::unknown(format!("cannot list {}", shown(&dir)), source);
    };
    let mut total = 0u64;
    let mut found = false;
    for (_, path) in cpus {
        for counter in ["core_throttle_count", "package_throttle_count"] {
            if let Ok(count) = read(&path.join("thermal_throttle").join(counter))
                .and_then(|t| crate::parse::parse_u64(&t))
            {
                total = total.saturating_add(count);
                found = true;
            }
        }
    }
    if found {
        Signal::known(total, source)
    } else {
        Signal::unknown("no Intel thermal_throttle counters (not an Intel CPU, or a VM)", source)
    }
}

fn read_power_supplies(roots: &LinuxRoots) -> Signal<Vec<PowerSupply>> {
    let dir = roots.sys("class/power_supply");
    let entries = match entries_with_prefix(&dir, "") {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Signal::known(Vec::new(), shown(&dir));
        }
        Err(err) => return Signal::unknown(read_error(&dir, &err), shown(&dir)),
    };
    let text = |path: &Path, file: &str| read(&path.join(file)).ok().map(|t| t.trim().to_string());
    let supplies = entries
        .iter()
        .filter_map(|(name, path)| {
            Some(PowerSupply {
                name: name.clone(),
                kind: text(path, "type")?,
                online: text(path, "online").map(|t| t == "1"),
                status: text(path, "status"),
                scope: text(path, "scope"),
                capacity_pct: text(path, "capacity").and_then(|t| t.parse().ok()),
            })
        })
        .collect();
    Signal::known(supplies, shown(&dir))
}

fn page_size() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions; it returns -1 on error.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 {
            return size as u64;
        }
    }
    4096
}

fn read_top_processes(roots: &LinuxRoots) -> Signal<Vec<ProcessMemory>> {
    let source = format!("{}/<pid>/stat", shown(&roots.proc_dir));
    let entries = match std::fs::read_dir(&roots.proc_dir) {
        Ok(entries) => entries,
        Err(err) => return Signal::unknown(read_error(&roots.proc_dir, &err), source),
    };
    let page = page_size();
    let mut processes: Vec<ProcessMemory> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            // Processes exit while we read: a vanished file is simply skipped.
            let (name, pages) =
                parse::parse_proc_stat(&std::fs::read_to_string(entry.path().join("stat")).ok()?)
                    .ok()?;
            (pages > 0).then(|| ProcessMemory { pid: Some(pid), name, rss_bytes: pages * page })
        })
        .collect();
    processes.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
    processes.truncate(TOP_PROCESS_COUNT);
    Signal::known(processes, source)
}

pub(crate) fn process_rss_bytes(roots: &LinuxRoots, pid: u32) -> Signal<u64> {
    let path = roots.proc(&format!("{pid}/stat"));
    Signal::from_result(
        read(&path).and_then(|t| parse::parse_proc_stat(&t)).map(|(_, pages)| pages * page_size()),
        shown(&path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{MemPressure, PowerSource, SpeedLimit, ThermalLevel};
    use std::time::Duration;

    fn fixture_roots(name: &str) -> LinuxRoots {
        let base =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linux").join(name);
        LinuxRoots { proc_dir: base.join("proc"), sys_dir: base.join("sys") }
    }

    fn probe_fixture(name: &str) -> HealthReport {
        let options = ProbeOptions { nvidia: false, ..ProbeOptions::default() };
        probe(&fixture_roots(name), &options, Instant::now() + Duration::from_secs(10))
    }

    #[test]
    fn recorded_ci_machine_cgroup_v1_hybrid_no_sensors() {
        let report = probe_fixture("ci-firecracker");
        assert_eq!(report.mem_pressure.get(), Some(MemPressure::Normal));
        assert_eq!(report.machine_ram_gb.get(), Some(23.54));
        assert_eq!(report.mem_available_pct.get(), Some(98.57));
        assert_eq!(report.load_avg_1min.get(), Some(0.08));
        assert_eq!(report.power_source.get(), Some(PowerSource::Ac), "{:?}", report.power_source);
        assert!(report.power_source.source().contains("no power supplies"));
        let speed = report.cpu_speed_limit.unknown_reason().unwrap();
        assert!(speed.contains("no readable thermal zones"), "{speed}");

        let details = report.linux.as_ref().unwrap();
        let cgroup = details.cgroup_memory.value().expect("v1 memory controller found");
        assert_eq!(cgroup.version, 1);
        assert_eq!(cgroup.limit_bytes, None, "9223372036854771712 means unlimited");
        assert_eq!(cgroup.usage_bytes, Some(19_210_240));
        assert_eq!(details.cpus_online.get(), Some(2));
        assert!(details.throttle_events_total.unknown_reason().unwrap().contains("Intel"));

        let top = report.top_processes.value().unwrap();
        let names: Vec<&str> = top.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["process_api", "bash", "bash"], "kthreadd (0 pages) left out");
        assert_eq!(top[0].pid, Some(1));
    }

    #[test]
    fn constructed_laptop_on_battery_throttling_in_a_v2_slice() {
        let report = probe_fixture("laptop-v2");
        // user slice limit 8 GiB < 16 GiB RAM: the slice is the machine this work sees.
        assert_eq!(report.machine_ram_gb.get(), Some(8.0));
        let details = report.linux.as_ref().unwrap();
        let cgroup = details.cgroup_memory.value().unwrap();
        assert_eq!((cgroup.version, cgroup.limit_bytes), (2, Some(8 << 30)));
        assert_eq!(cgroup.oom_kills, Some(0));
        // limit 8 GiB − usage 7 GiB + inactive_file 0.25 GiB = 1.25 GiB = 15.625 %.
        assert_eq!(report.mem_available_pct.get(), Some(15.63));
        assert_eq!(report.mem_pressure.get(), Some(MemPressure::Warn), "PSI some avg10 12.5");
        assert_eq!(report.power_source.get(), Some(PowerSource::Battery));
        assert_eq!(report.cpu_speed_limit.get(), Some(SpeedLimit::Level(ThermalLevel::Moderate)));
        assert!(
            report.cpu_speed_limit.source().contains("acpitz"),
            "{}",
            report.cpu_speed_limit.source()
        );
        let zones = details.thermal_zones.value().unwrap();
        assert_eq!(zones.len(), 2, "the zone with an unreadable temp is skipped");
        assert!(zones[1].trips.is_empty(), "x86_pkg_temp's 0 °C placeholders dropped");
        assert_eq!(details.throttle_events_total.get(), Some(12 + 3 + 4 + 3));
        let supplies = details.power_supplies.value().unwrap();
        assert_eq!(supplies.len(), 3);
    }

    #[test]
    fn constructed_container_v2_limit_without_psi_or_sysfs() {
        let report = probe_fixture("container-v2");
        assert_eq!(report.machine_ram_gb.get(), Some(2.0));
        // 2 GiB − 1.875 GiB + 0.0625 GiB = 0.1875 GiB = 9.375 %: below 15 % → warn.
        assert_eq!(report.mem_available_pct.get(), Some(9.38));
        assert_eq!(report.mem_pressure.get(), Some(MemPressure::Warn));
        let details = report.linux.as_ref().unwrap();
        assert_eq!(
            details.psi_memory.unknown_reason(),
            Some("PSI is not available (kernel built without CONFIG_PSI, or older than 4.20)")
        );
        assert!(report.mem_pressure.source().contains("availability only"));
        assert_eq!(details.cgroup_memory.value().unwrap().oom_kills, Some(2));
        assert_eq!(report.power_source.get(), Some(PowerSource::Ac));
        assert!(report.cpu_speed_limit.unknown_reason().is_some());
        assert!(report.load_avg_1min.unknown_reason().unwrap().contains("does not exist"));
    }

    #[test]
    fn psi_disabled_has_its_own_reason() {
        let err = io::Error::from_raw_os_error(95);
        let reason = read_error(Path::new("/proc/pressure/memory"), &err);
        assert_eq!(reason, "PSI is disabled (boot with psi=1 to enable it)");
        let other = read_error(Path::new("/proc/meminfo"), &io::Error::from_raw_os_error(13));
        assert!(other.starts_with("cannot read /proc/meminfo: "), "{other}");
    }

    #[test]
    fn own_process_rss_is_readable() {
        let rss = process_rss_bytes(&LinuxRoots::system(), std::process::id());
        assert!(rss.get().unwrap() > 0, "{rss:?}");
        let missing = process_rss_bytes(&LinuxRoots::system(), u32::MAX);
        assert!(missing.unknown_reason().unwrap().contains("does not exist"));
    }
}
