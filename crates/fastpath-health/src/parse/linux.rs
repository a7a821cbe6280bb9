//! Parsers for Linux `/proc` and `/sys` files, and the rules that turn their figures into the
//! seed's variables (memory pressure level, effective RAM, speed limit, power source).

use crate::parse::{excerpt, parse_decimal, parse_u64};
use crate::report::{
    CgroupMemory, MemInfo, MemPressure, PowerSource, PowerSupply, Psi, PsiLine, SpeedLimit,
    ThermalLevel, ThermalZone, TripPoint,
};

/// PSI memory `full avg10` (% of the last 10 s in which every task waited on memory) at or
/// above which pressure is critical: the machine is thrashing.
pub const PSI_CRITICAL_FULL_AVG10: f64 = 10.0;
/// PSI memory `some avg60` at or above which pressure is critical: a sustained stall.
pub const PSI_CRITICAL_SOME_AVG60: f64 = 40.0;
/// PSI memory `some avg10` at or above which pressure is warn: reclaim is slowing tasks down.
pub const PSI_WARN_SOME_AVG10: f64 = 10.0;
/// Available memory (% of effective RAM) below which pressure is critical.
pub const AVAILABLE_CRITICAL_PCT: f64 = 5.0;
/// Available memory (% of effective RAM) below which pressure is warn.
pub const AVAILABLE_WARN_PCT: f64 = 15.0;
/// cgroup v1 reports "no limit" as a huge page-rounded number (9223372036854771712); any
/// limit at or above 2^60 bytes is treated as none.
pub const CGROUP_V1_UNLIMITED: u64 = 1 << 60;

/// `/proc/pressure/{memory,cpu,io}` or a cgroup's `*.pressure`:
/// `some avg10=0.00 avg60=0.00 avg300=0.00 total=0`, and a `full` line except in the CPU
/// file of kernels before 5.13.
pub fn parse_psi(text: &str) -> Result<Psi, String> {
    let mut some = None;
    let mut full = None;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let kind = fields.next().unwrap_or("");
        let parsed = parse_psi_fields(fields).map_err(|err| format!("PSI `{kind}` line: {err}"))?;
        match kind {
            "some" => some = Some(parsed),
            "full" => full = Some(parsed),
            other => return Err(format!("unexpected PSI line kind `{}`", excerpt(other))),
        }
    }
    let some = some.ok_or_else(|| format!("no `some` line in PSI text `{}`", excerpt(text)))?;
    Ok(Psi { some, full })
}

fn parse_psi_fields<'a>(fields: impl Iterator<Item = &'a str>) -> Result<PsiLine, String> {
    let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
    for field in fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("`{}` is not key=value", excerpt(field)))?;
        match key {
            "avg10" => avg10 = Some(parse_decimal(value)?),
            "avg60" => avg60 = Some(parse_decimal(value)?),
            "avg300" => avg300 = Some(parse_decimal(value)?),
            "total" => total = Some(parse_u64(value)?),
            _ => {} // Newer kernels may add fields; the four we use are stable ABI.
        }
    }
    match (avg10, avg60, avg300, total) {
        (Some(avg10), Some(avg60), Some(avg300), Some(total_us)) => {
            Ok(PsiLine { avg10, avg60, avg300, total_us })
        }
        _ => Err("missing one of avg10, avg60, avg300, total".to_string()),
    }
}

/// `/proc/meminfo`: `MemTotal` and `MemAvailable` (or, before Linux 3.14, the
/// `MemFree + Buffers + Cached` approximation).
pub fn parse_meminfo(text: &str) -> Result<MemInfo, String> {
    let field = |name: &str| -> Result<Option<u64>, String> {
        let Some(line) = text.lines().find(|line| line.split(':').next() == Some(name)) else {
            return Ok(None);
        };
        let rest = line[name.len() + 1..].trim();
        let number = rest.strip_suffix("kB").unwrap_or(rest);
        parse_u64(number).map(|kib| Some(kib * 1024)).map_err(|err| format!("{name}: {err}"))
    };
    let total = field("MemTotal")?.ok_or("no MemTotal line in /proc/meminfo")?;
    if total == 0 {
        return Err("MemTotal is 0".to_string());
    }
    if let Some(available) = field("MemAvailable")? {
        return Ok(MemInfo {
            total_bytes: total,
            available_bytes: available,
            available_is_kernel_estimate: true,
        });
    }
    let (Some(free), Some(buffers), Some(cached)) =
        (field("MemFree")?, field("Buffers")?, field("Cached")?)
    else {
        return Err("no MemAvailable, and no MemFree/Buffers/Cached to estimate it".to_string());
    };
    Ok(MemInfo {
        total_bytes: total,
        available_bytes: (free + buffers + cached).min(total),
        available_is_kernel_estimate: false,
    })
}

/// `/proc/loadavg`: `0.50 0.40 0.30 1/200 999` → the 1, 5 and 15 minute loads.
pub fn parse_loadavg(text: &str) -> Result<[f64; 3], String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() < 3 {
        return Err(format!("expected three load averages, got `{}`", excerpt(text)));
    }
    let mut loads = [0.0; 3];
    for (slot, field) in loads.iter_mut().zip(&fields) {
        let value = parse_decimal(field)?;
        if value < 0.0 {
            return Err(format!("negative load average `{field}`"));
        }
        *slot = value;
    }
    Ok(loads)
}

/// `/sys/devices/system/cpu/online`: a CPU list such as `0-3,8-11` → 8.
pub fn parse_cpu_list(text: &str) -> Result<u32, String> {
    let mut count = 0u32;
    for range in text.trim().split(',').filter(|part| !part.is_empty()) {
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (parse_u64(first)?, parse_u64(last)?),
            None => {
                let cpu = parse_u64(range)?;
                (cpu, cpu)
            }
        };
        if last < first {
            return Err(format!("CPU range `{range}` runs backwards"));
        }
        count = count.saturating_add(u32::try_from(last - first + 1).unwrap_or(u32::MAX));
    }
    if count == 0 {
        return Err(format!("empty CPU list `{}`", excerpt(text)));
    }
    Ok(count)
}

/// Where this process sits in each cgroup hierarchy, from `/proc/self/cgroup`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupMembership {
    /// Path in the unified (v2) hierarchy: the `0::/path` line.
    pub unified: Option<String>,
    /// Path in the v1 hierarchy that carries the `memory` controller.
    pub memory_v1: Option<String>,
}

/// `/proc/self/cgroup`: `hierarchy-id:controllers:path` lines.
pub fn parse_proc_cgroup(text: &str) -> CgroupMembership {
    let mut membership = CgroupMembership::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            membership.unified = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            membership.memory_v1 = Some(path.to_string());
        }
    }
    membership
}

/// A cgroup file system mount: the hierarchy path it exposes (`root`) and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    pub root: String,
    pub mount_point: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupMounts {
    pub unified: Option<CgroupMount>,
    pub memory_v1: Option<CgroupMount>,
}

/// `/proc/self/mountinfo`: finds the cgroup2 mount and the cgroup v1 mount carrying the
/// `memory` controller. Fields: `id parent dev root mount-point options [optional…] - fstype
/// source super-options`.
pub fn parse_mountinfo_cgroups(text: &str) -> CgroupMounts {
    let mut mounts = CgroupMounts::default();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let left: Vec<&str> = left.split_whitespace().collect();
        let right: Vec<&str> = right.split_whitespace().collect();
        if left.len() < 5 || right.is_empty() {
            continue;
        }
        let mount = CgroupMount {
            root: unescape_mount_path(left[3]),
            mount_point: unescape_mount_path(left[4]),
        };
        match right[0] {
            "cgroup2" if mounts.unified.is_none() => mounts.unified = Some(mount),
            "cgroup"
                if mounts.memory_v1.is_none()
                    && right.get(2).is_some_and(|opts| opts.split(',').any(|o| o == "memory")) =>
            {
                mounts.memory_v1 = Some(mount)
            }
            _ => {}
        }
    }
    mounts
}

/// mountinfo escapes space, tab, newline and backslash as `\040`-style octal.
fn unescape_mount_path(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let code =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of a cgroup: the mount point plus the cgroup path relative to the mount's
/// root. Inside a container with a cgroup namespace both are usually `/`.
pub fn cgroup_dir(mount: &CgroupMount, path: &str) -> String {
    let relative = if mount.root == "/" {
        path
    } else {
        path.strip_prefix(mount.root.as_str()).unwrap_or(path)
    };
    let relative = relative.trim_start_matches('/');
    if relative.is_empty() {
        mount.mount_point.clone()
    } else {
        format!("{}/{relative}", mount.mount_point.trim_end_matches('/'))
    }
}

/// cgroup v2 `memory.max`: `max` (no limit) or a byte count.
pub fn parse_cgroup_v2_limit(text: &str) -> Result<Option<u64>, String> {
    match text.trim() {
        "max" => Ok(None),
        other => parse_u64(other).map(Some),
    }
}

/// cgroup v1 `memory.limit_in_bytes`: a byte count, huge when unlimited.
pub fn parse_cgroup_v1_limit(text: &str) -> Result<Option<u64>, String> {
    let limit = parse_u64(text)?;
    Ok((limit < CGROUP_V1_UNLIMITED).then_some(limit))
}

/// A `key value` line from a flat-keyed file (`memory.stat`, `memory.events`).
pub fn parse_flat_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| parse_u64(value).ok()).flatten()
    })
}

/// RAM and available memory as this process sees them: the host's, or the cgroup's when its
/// limit is below the host's RAM (`/proc/meminfo` is not cgroup-aware).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EffectiveMemory {
    pub ram_bytes: u64,
    pub available_bytes: u64,
    pub limited_by_cgroup: bool,
}

impl EffectiveMemory {
    pub fn available_pct(&self) -> f64 {
        100.0 * self.available_bytes as f64 / self.ram_bytes as f64
    }
}

/// Combines `/proc/meminfo` with the cgroup: inside a limit, available memory is
/// `limit − usage + inactive_file` (page cache the kernel drops first), never more than the
/// host has available.
pub fn effective_memory(meminfo: &MemInfo, cgroup: Option<&CgroupMemory>) -> EffectiveMemory {
    if let Some(cgroup) = cgroup
        && let Some(limit) =
            cgroup.limit_bytes.filter(|&limit| limit > 0 && limit < meminfo.total_bytes)
    {
        let usage = cgroup.usage_bytes.unwrap_or(0);
        let reclaimable = cgroup.inactive_file_bytes.unwrap_or(0);
        let in_cgroup = limit.saturating_sub(usage).saturating_add(reclaimable).min(limit);
        return EffectiveMemory {
            ram_bytes: limit,
            available_bytes: in_cgroup.min(meminfo.available_bytes),
            limited_by_cgroup: true,
        };
    }
    EffectiveMemory {
        ram_bytes: meminfo.total_bytes,
        available_bytes: meminfo.available_bytes.min(meminfo.total_bytes),
        limited_by_cgroup: false,
    }
}

/// The seed's `mem_pressure` on Linux: the worse of what PSI says (tasks stalling on memory)
/// and what the available fraction says. Either may be missing, not both.
pub fn memory_pressure_level(
    psi: Option<&Psi>,
    available_pct: Option<f64>,
) -> Result<(MemPressure, String), String> {
    let from_psi = psi.map(|psi| {
        let full10 = psi.full.map_or(0.0, |full| full.avg10);
        if full10 >= PSI_CRITICAL_FULL_AVG10 {
            (
                MemPressure::Critical,
                format!("PSI full avg10 {full10:.2} ≥ {PSI_CRITICAL_FULL_AVG10}"),
            )
        } else if psi.some.avg60 >= PSI_CRITICAL_SOME_AVG60 {
            let some60 = psi.some.avg60;
            (
                MemPressure::Critical,
                format!("PSI some avg60 {some60:.2} ≥ {PSI_CRITICAL_SOME_AVG60}"),
            )
        } else if psi.some.avg10 >= PSI_WARN_SOME_AVG10 {
            let some10 = psi.some.avg10;
            (MemPressure::Warn, format!("PSI some avg10 {some10:.2} ≥ {PSI_WARN_SOME_AVG10}"))
        } else {
            let some10 = psi.some.avg10;
            (MemPressure::Normal, format!("PSI some avg10 {some10:.2}, full avg10 {full10:.2}"))
        }
    });
    let from_available = available_pct.map(|pct| {
        if pct < AVAILABLE_CRITICAL_PCT {
            (MemPressure::Critical, format!("available {pct:.1}% < {AVAILABLE_CRITICAL_PCT}%"))
        } else if pct < AVAILABLE_WARN_PCT {
            (MemPressure::Warn, format!("available {pct:.1}% < {AVAILABLE_WARN_PCT}%"))
        } else {
            (MemPressure::Normal, format!("available {pct:.1}%"))
        }
    });
    match (from_psi, from_available) {
        (Some(psi), Some(available)) => {
            let level = psi.0.max(available.0);
            Ok((level, format!("{}; {}", psi.1, available.1)))
        }
        (Some(one), None) | (None, Some(one)) => Ok(one),
        (None, None) => Err("neither PSI nor available memory could be read".to_string()),
    }
}

/// A thermal zone temperature file: millidegrees Celsius (`37000` = 37.0 °C).
pub fn parse_millidegrees(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let value: i64 = trimmed
        .parse()
        .map_err(|_| format!("`{}` is not a millidegree reading", excerpt(trimmed)))?;
    Ok(value as f64 / 1000.0)
}

/// Builds a zone from its `type`, `temp` and `trip_point_N_{type,temp}` file contents.
/// Trip points at or below 0 °C are disabled placeholders (x86_pkg_temp ships two) and are
/// dropped, or every such zone would look "past its passive trip".
pub fn thermal_zone(
    zone: &str,
    kind: &str,
    temp: &str,
    trips: &[(String, String)],
) -> Result<ThermalZone, String> {
    let temp_c = parse_millidegrees(temp)?;
    let trips = trips
        .iter()
        .filter_map(|(kind, temp)| {
            let temp_c = parse_millidegrees(temp).ok()?;
            (temp_c > 0.0).then(|| TripPoint { kind: kind.trim().to_string(), temp_c })
        })
        .collect();
    Ok(ThermalZone { zone: zone.to_string(), kind: kind.trim().to_string(), temp_c, trips })
}

/// The seed's `cpu_speed_limit` from thermal zones: a zone at its `critical` trip → sleeping
/// (the kernel is about to shut down), at `hot` → trapping, at `passive` (the kernel has
/// started throttling, to an unknown depth) → moderate; otherwise nominal.
pub fn speed_limit_from_zones(zones: &[ThermalZone]) -> Result<(SpeedLimit, String), String> {
    if zones.is_empty() {
        return Err("no readable thermal zones (common on servers and VMs)".to_string());
    }
    let mut worst: Option<(ThermalLevel, String)> = None;
    let mut any_trip = false;
    for zone in zones {
        for trip in &zone.trips {
            let level = match trip.kind.as_str() {
                "critical" => ThermalLevel::Sleeping,
                "hot" => ThermalLevel::Trapping,
                "passive" => ThermalLevel::Moderate,
                _ => continue, // `active` trips start fans, not throttling.
            };
            any_trip = true;
            if zone.temp_c >= trip.temp_c && worst.as_ref().is_none_or(|(w, _)| level > *w) {
                let why = format!(
                    "{} ({}) {:.1} °C ≥ {} trip {:.1} °C",
                    zone.zone, zone.kind, zone.temp_c, trip.kind, trip.temp_c
                );
                worst = Some((level, why));
            }
        }
    }
    if !any_trip {
        return Err("thermal zones have no passive, hot or critical trip points".to_string());
    }
    Ok(match worst {
        Some((level, why)) => (SpeedLimit::Level(level), why),
        None => {
            let hottest =
                zones.iter().max_by(|a, b| a.temp_c.total_cmp(&b.temp_c)).expect("non-empty");
            let why = format!(
                "all zones below their trip points (hottest {} ({}) {:.1} °C)",
                hottest.zone, hottest.kind, hottest.temp_c
            );
            (SpeedLimit::Level(ThermalLevel::Nominal), why)
        }
    })
}

/// The seed's `power_source` from `/sys/class/power_supply`. An external supply (Mains, USB,
/// …) that is online means AC; a system battery that is discharging means battery; no supply
/// at all is a desktop, server or VM, so AC. Peripheral batteries (`scope` = `Device`, a
/// wireless mouse) are ignored.
pub fn power_source_from_supplies(
    supplies: &[PowerSupply],
) -> Result<(PowerSource, String), String> {
    let system: Vec<&PowerSupply> =
        supplies.iter().filter(|s| s.scope.as_deref() != Some("Device")).collect();
    if system.is_empty() {
        return Ok((
            PowerSource::Ac,
            "no power supplies: mains assumed (desktop, server or VM)".into(),
        ));
    }
    let is_battery = |s: &&PowerSupply| s.kind == "Battery";
    let is_ups = |s: &&PowerSupply| s.kind == "UPS";
    let discharging = |s: &&PowerSupply| s.status.as_deref() == Some("Discharging");
    if let Some(external) =
        system.iter().find(|s| !is_battery(s) && !is_ups(s) && s.online == Some(true))
    {
        return Ok((PowerSource::Ac, format!("{} ({}) online", external.name, external.kind)));
    }
    if let Some(battery) = system.iter().find(|s| is_battery(s) && discharging(s)) {
        return Ok((PowerSource::Battery, format!("{} discharging", battery.name)));
    }
    if let Some(ups) = system.iter().find(|s| is_ups(s) && discharging(s)) {
        return Ok((PowerSource::Ups, format!("{} discharging", ups.name)));
    }
    let batteries: Vec<&&PowerSupply> = system.iter().filter(|s| is_battery(s)).collect();
    if let Some(battery) = batteries
        .iter()
        .find(|s| matches!(s.status.as_deref(), Some("Charging" | "Full" | "Not charging")))
    {
        let status = battery.status.as_deref().unwrap_or_default();
        return Ok((PowerSource::Ac, format!("{} {status}: on external power", battery.name)));
    }
    if batteries.is_empty() {
        return Ok((PowerSource::Ac, "no system battery: mains assumed".into()));
    }
    Err(format!(
        "no external supply online and battery {} reports status {}",
        batteries[0].name,
        batteries[0].status.as_deref().unwrap_or("(none)")
    ))
}

/// `/proc/<pid>/stat` → (command name, resident pages). The name sits in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_proc_stat(text: &str) -> Result<(String, u64), String> {
    let open = text.find('(').ok_or_else(|| format!("no `(` in stat line `{}`", excerpt(text)))?;
    let close =
        text.rfind(')').ok_or_else(|| format!("no `)` in stat line `{}`", excerpt(text)))?;
    if close < open {
        return Err(format!("malformed stat line `{}`", excerpt(text)));
    }
    let name = text[open + 1..close].to_string();
    // After the name: field 3 (state) is index 0, so field 24 (rss) is index 21.
    let rss = text[close + 1..]
        .split_whitespace()
        .nth(21)
        .ok_or_else(|| format!("stat line too short for rss: `{}`", excerpt(text)))?;
    let pages = rss.parse::<i64>().map_err(|_| format!("rss `{rss}` is not a number"))?;
    Ok((name, pages.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/linux");

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{path}")).unwrap()
    }

    #[test]
    fn psi_recorded_files() {
        let memory = parse_psi(&fixture("ci-firecracker/proc/pressure/memory")).unwrap();
        assert_eq!(memory.some, PsiLine { avg10: 0.0, avg60: 0.0, avg300: 0.0, total_us: 0 });
        assert!(memory.full.is_some());
        let cpu = parse_psi(&fixture("ci-firecracker/proc/pressure/cpu")).unwrap();
        assert_eq!(cpu.some.avg60, 0.09);
        assert_eq!(cpu.some.total_us, 9_294_387);
    }

    #[test]
    fn psi_cpu_file_of_old_kernels_has_no_full_line() {
        let psi = parse_psi("some avg10=1.50 avg60=0.75 avg300=0.20 total=12345\n").unwrap();
        assert_eq!(psi.some.avg10, 1.5);
        assert_eq!(psi.full, None);
    }

    #[test]
    fn psi_garbage_and_missing_fields() {
        assert!(parse_psi("").unwrap_err().contains("no `some` line"));
        assert!(parse_psi("some avg10=x avg60=0 avg300=0 total=0").unwrap_err().contains("`x`"));
        assert!(parse_psi("some avg10=0.00 avg60=0.00").unwrap_err().contains("missing"));
        assert!(parse_psi("many avg10=0 avg60=0 avg300=0 total=0").is_err());
        // Unknown extra keys from future kernels are tolerated.
        let psi = parse_psi("some avg10=0.10 avg60=0.20 avg300=0.30 total=5 avg1200=0.4").unwrap();
        assert_eq!(psi.some.avg300, 0.3);
    }

    #[test]
    fn meminfo_recorded_and_old_kernel() {
        let info = parse_meminfo(&fixture("ci-firecracker/proc/meminfo")).unwrap();
        assert_eq!(info.total_bytes, 24_684_084 * 1024);
        assert_eq!(info.available_bytes, 24_330_616 * 1024);
        assert!(info.available_is_kernel_estimate);

        let old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        let info = parse_meminfo(old).unwrap();
        assert_eq!(info.available_bytes, 400 * 1024);
        assert!(!info.available_is_kernel_estimate);
    }

    #[test]
    fn meminfo_missing_fields_and_garbage() {
        assert!(parse_meminfo("MemFree: 1 kB\n").unwrap_err().contains("MemTotal"));
        assert!(parse_meminfo("MemTotal: 0 kB\n").unwrap_err().contains("is 0"));
        assert!(parse_meminfo("MemTotal: lots kB\n").unwrap_err().contains("lots"));
        assert!(parse_meminfo("MemTotal: 1000 kB\n").unwrap_err().contains("estimate"));
    }

    #[test]
    fn loadavg_recorded_and_bad() {
        let loads = parse_loadavg(&fixture("ci-firecracker/proc/loadavg")).unwrap();
        assert_eq!(loads, [0.08, 0.34, 0.28]);
        assert_eq!(parse_loadavg("0.50 0.40 0.30 1/200 999").unwrap()[0], 0.5);
        assert!(parse_loadavg("0.50").is_err());
        assert!(parse_loadavg("a b c").is_err());
        assert!(parse_loadavg("-1 0 0").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list(&fixture("ci-firecracker/sys/devices/system/cpu/online")), Ok(2));
        assert_eq!(parse_cpu_list("0-3,8-11\n"), Ok(8));
        assert_eq!(parse_cpu_list("0,2,4"), Ok(3));
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn cgroup_membership_and_mounts_on_a_v1_hybrid_host() {
        let membership = parse_proc_cgroup(&fixture("ci-firecracker/proc/self/cgroup"));
        assert_eq!(membership.unified.as_deref(), Some("/"));
        assert_eq!(
            membership.memory_v1.as_deref(),
            Some("/process_api/476354b679def0f353dc39834dbd1203")
        );
        let mounts = parse_mountinfo_cgroups(&fixture("ci-firecracker/proc/self/mountinfo"));
        assert_eq!(
            mounts.memory_v1,
            Some(CgroupMount { root: "/".into(), mount_point: "/sys/fs/cgroup/memory".into() })
        );
        assert_eq!(mounts.unified.unwrap().mount_point, "/sys/fs/cgroup/unified");
    }

    #[test]
    fn cgroup_mounts_pure_v2_with_escaped_path() {
        let text = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n\
                    40 23 0:40 /docker/abc /mnt/my\\040cgroups rw - cgroup cgroup rw,cpu,memory\n";
        let mounts = parse_mountinfo_cgroups(text);
        assert_eq!(mounts.unified.unwrap().mount_point, "/sys/fs/cgroup");
        let v1 = mounts.memory_v1.unwrap();
        assert_eq!(v1.mount_point, "/mnt/my cgroups");
        assert_eq!(cgroup_dir(&v1, "/docker/abc/inner"), "/mnt/my cgroups/inner");
    }

    #[test]
    fn cgroup_dirs() {
        let root = CgroupMount { root: "/".into(), mount_point: "/sys/fs/cgroup".into() };
        assert_eq!(cgroup_dir(&root, "/"), "/sys/fs/cgroup");
        assert_eq!(cgroup_dir(&root, "/user.slice/a.scope"), "/sys/fs/cgroup/user.slice/a.scope");
        let nested =
            CgroupMount { root: "/kubepods/pod1".into(), mount_point: "/sys/fs/cgroup".into() };
        assert_eq!(cgroup_dir(&nested, "/kubepods/pod1"), "/sys/fs/cgroup");
    }

    #[test]
    fn cgroup_limits_and_flat_keyed_files() {
        assert_eq!(parse_cgroup_v2_limit("max\n"), Ok(None));
        assert_eq!(parse_cgroup_v2_limit("2147483648\n"), Ok(Some(2_147_483_648)));
        assert!(parse_cgroup_v2_limit("lots").is_err());
        let v1 = fixture("ci-firecracker/sys/fs/cgroup/memory/memory.limit_in_bytes");
        assert_eq!(parse_cgroup_v1_limit(&v1), Ok(None), "recorded v1 'no limit' value");
        assert_eq!(parse_cgroup_v1_limit("536870912"), Ok(Some(536_870_912)));
        let stat = fixture("ci-firecracker/sys/fs/cgroup/memory/memory.stat");
        assert_eq!(parse_flat_keyed(&stat, "total_inactive_file"), Some(109_457_408));
        assert_eq!(parse_flat_keyed(&stat, "inactive_file"), Some(32_768));
        assert_eq!(
            parse_flat_keyed("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", "oom_kill"),
            Some(1)
        );
        assert_eq!(parse_flat_keyed("oom_kill x\n", "oom_kill"), None);
    }

    fn meminfo(total_gib: u64, available_gib: u64) -> MemInfo {
        MemInfo {
            total_bytes: total_gib << 30,
            available_bytes: available_gib << 30,
            available_is_kernel_estimate: true,
        }
    }

    #[test]
    fn effective_memory_uses_a_tighter_cgroup_limit() {
        let cgroup = CgroupMemory {
            version: 2,
            path: "/sys/fs/cgroup".into(),
            limit_bytes: Some(4 << 30),
            usage_bytes: Some(3 << 30),
            inactive_file_bytes: Some(1 << 29),
            oom_kills: None,
        };
        let effective = effective_memory(&meminfo(64, 60), Some(&cgroup));
        assert!(effective.limited_by_cgroup);
        assert_eq!(effective.ram_bytes, 4 << 30);
        assert_eq!(effective.available_bytes, (1 << 30) + (1 << 29));
        assert_eq!(effective.available_pct(), 37.5);

        // A limit above the host's RAM changes nothing.
        let loose = CgroupMemory { limit_bytes: Some(128 << 30), ..cgroup.clone() };
        assert!(!effective_memory(&meminfo(64, 60), Some(&loose)).limited_by_cgroup);
        // The host's own shortage still shows inside a generous container.
        let effective = effective_memory(&meminfo(64, 1), Some(&cgroup));
        assert_eq!(effective.available_bytes, 1 << 30);
    }

    fn psi(some10: f64, some60: f64, full10: f64) -> Psi {
        let line = |avg10, avg60| PsiLine { avg10, avg60, avg300: 0.0, total_us: 0 };
        Psi { some: line(some10, some60), full: Some(line(full10, 0.0)) }
    }

    #[test]
    fn pressure_levels_from_psi_and_availability() {
        let level = |psi: Option<Psi>, pct| memory_pressure_level(psi.as_ref(), pct).unwrap().0;
        assert_eq!(level(Some(psi(0.0, 0.0, 0.0)), Some(80.0)), MemPressure::Normal);
        assert_eq!(level(Some(psi(10.0, 0.0, 0.0)), Some(80.0)), MemPressure::Warn);
        assert_eq!(level(Some(psi(9.99, 0.0, 0.0)), Some(80.0)), MemPressure::Normal);
        assert_eq!(level(Some(psi(50.0, 0.0, 10.0)), Some(80.0)), MemPressure::Critical);
        assert_eq!(level(Some(psi(5.0, 40.0, 0.0)), Some(80.0)), MemPressure::Critical);
        assert_eq!(level(Some(psi(0.0, 0.0, 0.0)), Some(14.9)), MemPressure::Warn);
        assert_eq!(level(Some(psi(0.0, 0.0, 0.0)), Some(4.9)), MemPressure::Critical);
        assert_eq!(level(None, Some(15.0)), MemPressure::Normal);
        assert_eq!(level(Some(psi(12.0, 0.0, 0.0)), None), MemPressure::Warn);
        assert!(memory_pressure_level(None, None).is_err());
        let (_, why) = memory_pressure_level(Some(&psi(12.0, 0.0, 0.0)), Some(50.0)).unwrap();
        assert_eq!(why, "PSI some avg10 12.00 ≥ 10; available 50.0%");
    }

    fn trips(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, t)| (k.to_string(), t.to_string())).collect()
    }

    #[test]
    fn thermal_zone_drops_disabled_trips() {
        let zone = thermal_zone(
            "thermal_zone1",
            "x86_pkg_temp\n",
            "52000\n",
            &trips(&[("passive", "0"), ("passive", "0")]),
        )
        .unwrap();
        assert_eq!(zone.temp_c, 52.0);
        assert!(zone.trips.is_empty());
        assert!(thermal_zone("z", "t", "hot", &[]).is_err());
        assert_eq!(parse_millidegrees("-5000"), Ok(-5.0));
    }

    #[test]
    fn speed_limit_levels_from_trip_points() {
        let zone = |temp: &str, list: &[(&str, &str)]| {
            thermal_zone("thermal_zone0", "acpitz", temp, &trips(list)).unwrap()
        };
        let acpi =
            [("critical", "105000"), ("hot", "100000"), ("passive", "95000"), ("active", "60000")];
        let level = |temp| speed_limit_from_zones(&[zone(temp, &acpi)]).unwrap().0;
        assert_eq!(
            level("70000"),
            SpeedLimit::Level(ThermalLevel::Nominal),
            "past the fan trip only"
        );
        assert_eq!(level("95000"), SpeedLimit::Level(ThermalLevel::Moderate), "exactly at passive");
        assert_eq!(level("100000"), SpeedLimit::Level(ThermalLevel::Trapping));
        assert_eq!(level("105000"), SpeedLimit::Level(ThermalLevel::Sleeping));
        let (_, why) = speed_limit_from_zones(&[zone("96500", &acpi)]).unwrap();
        assert_eq!(why, "thermal_zone0 (acpitz) 96.5 °C ≥ passive trip 95.0 °C");

        assert!(speed_limit_from_zones(&[]).unwrap_err().contains("no readable thermal zones"));
        let no_trips = zone("50000", &[("active", "60000")]);
        assert!(speed_limit_from_zones(&[no_trips]).unwrap_err().contains("no passive"));
    }

    fn supply(
        name: &str,
        kind: &str,
        online: Option<bool>,
        status: Option<&str>,
        scope: Option<&str>,
    ) -> PowerSupply {
        PowerSupply {
            name: name.into(),
            kind: kind.into(),
            online,
            status: status.map(Into::into),
            scope: scope.map(Into::into),
            capacity_pct: None,
        }
    }

    #[test]
    fn power_source_rules() {
        let source = |list: &[PowerSupply]| power_source_from_supplies(list).map(|(s, _)| s);
        assert_eq!(source(&[]), Ok(PowerSource::Ac), "no supplies = server or VM");
        let ac_on = supply("AC", "Mains", Some(true), None, None);
        let ac_off = supply("AC", "Mains", Some(false), None, None);
        let discharging = supply("BAT0", "Battery", None, Some("Discharging"), None);
        let charging = supply("BAT0", "Battery", None, Some("Charging"), None);
        let mouse = supply("hidpp_battery_0", "Battery", None, Some("Discharging"), Some("Device"));
        let usb_pd = supply("ucsi-source-psy-USBC000:001", "USB", Some(true), None, None);
        assert_eq!(source(&[ac_off.clone(), discharging.clone()]), Ok(PowerSource::Battery));
        assert_eq!(source(&[ac_on.clone(), discharging.clone()]), Ok(PowerSource::Ac));
        assert_eq!(source(&[ac_off.clone(), discharging.clone(), usb_pd]), Ok(PowerSource::Ac));
        assert_eq!(source(&[ac_off.clone(), charging]), Ok(PowerSource::Ac));
        assert_eq!(source(&[ac_on.clone(), mouse.clone()]), Ok(PowerSource::Ac));
        assert_eq!(source(&[mouse]), Ok(PowerSource::Ac), "a mouse battery is not the system's");
        assert_eq!(source(std::slice::from_ref(&ac_off)), Ok(PowerSource::Ac));
        let ups = supply("ups0", "UPS", None, Some("Discharging"), None);
        assert_eq!(source(&[ups]), Ok(PowerSource::Ups));
        let unknown = supply("BAT0", "Battery", None, Some("Unknown"), None);
        assert!(power_source_from_supplies(&[ac_off, unknown]).unwrap_err().contains("Unknown"));
    }

    #[test]
    fn proc_stat_recorded_and_tricky_names() {
        let (name, pages) = parse_proc_stat(&fixture("ci-firecracker/proc/1/stat")).unwrap();
        assert_eq!((name.as_str(), pages), ("process_api", 2943));
        let (name, pages) = parse_proc_stat(&fixture("ci-firecracker/proc/2/stat")).unwrap();
        assert_eq!((name.as_str(), pages), ("kthreadd", 0));
        let tricky =
            "42 (tmux: server) (x)) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 100 777 0";
        assert_eq!(parse_proc_stat(tricky), Ok(("tmux: server) (x)".to_string(), 777)));
        assert!(parse_proc_stat("42 (short) S 1").unwrap_err().contains("too short"));
        assert!(parse_proc_stat("garbage").is_err());
    }
}
