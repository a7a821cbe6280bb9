//! Parsers for the macOS probe commands. Every command runs with `LC_ALL=C`, but the parsers
//! still accept locale-formatted numbers (`1,38`) so a recorded output from any Mac parses.

use std::collections::BTreeMap;

use crate::parse::{excerpt, parse_decimal, parse_u64};
use crate::report::{MemPressure, PowerSource, ProcessMemory, ThermalLevel};

/// `sysctl name1 name2 …` (without `-n`): `name: value` lines. Unknown names print nothing on
/// stdout (only `sysctl: unknown oid` on stderr), so each value is looked up by name rather
/// than by line position.
pub fn parse_sysctl_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// `kern.memorystatus_vm_pressure_level`: the dispatch constants 1 = normal, 2 = warn,
/// 4 = critical (not the kernel's internal 0–4 levels).
pub fn parse_vm_pressure_level(value: &str) -> Result<(u32, MemPressure), String> {
    let raw = u32::try_from(parse_u64(value)?).map_err(|_| format!("`{value}` is out of range"))?;
    let level = match raw {
        1 => MemPressure::Normal,
        2 => MemPressure::Warn,
        4 => MemPressure::Critical,
        other => return Err(format!("unexpected pressure level {other} (expected 1, 2 or 4)")),
    };
    Ok((raw, level))
}

/// `kern.memorystatus_level`: available memory as a percentage, 0–100.
pub fn parse_percentage(value: &str) -> Result<f64, String> {
    let pct = parse_decimal(value.trim().trim_end_matches('%'))?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(format!("percentage {pct} is outside 0–100"));
    }
    Ok(pct)
}

/// `hw.memsize`: bytes of RAM.
pub fn parse_memsize(value: &str) -> Result<u64, String> {
    match parse_u64(value)? {
        0 => Err("hw.memsize is 0".to_string()),
        bytes => Ok(bytes),
    }
}

/// `memory_pressure` or `memory_pressure -Q`: the last line,
/// `System-wide memory free percentage: 79%`. (The first line is the RAM size, not the
/// pressure level the seed expected.)
pub fn parse_memory_pressure_free_pct(text: &str) -> Result<f64, String> {
    const KEY: &str = "System-wide memory free percentage:";
    let line = text
        .lines()
        .find_map(|line| line.trim().strip_prefix(KEY))
        .ok_or_else(|| format!("no `{KEY}` line in `{}`", excerpt(text)))?;
    parse_percentage(line)
}

/// `pmset -g therm` → `CPU_Speed_Limit` (0–100) where the Mac reports one (Intel, after a
/// throttle event), `None` where it reports only "Note: …" lines (Apple Silicon, or no event
/// yet). The search is unanchored because the locale-formatted date can be glued to the first
/// `CPU_…` line when the "CPU Power notify" label goes to stderr.
pub fn parse_pmset_therm(text: &str) -> Result<Option<u32>, String> {
    const KEY: &str = "CPU_Speed_Limit";
    let Some(start) = text.find(KEY) else {
        return if text.lines().any(|line| line.trim_start().starts_with("Note:")) {
            Ok(None)
        } else {
            Err(format!("unrecognised `pmset -g therm` output `{}`", excerpt(text)))
        };
    };
    let rest = text[start + KEY.len()..].trim_start();
    let rest = rest.strip_prefix('=').ok_or_else(|| format!("no `=` after {KEY}"))?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let limit: u32 =
        digits.parse().map_err(|_| format!("{KEY} value `{}` is not a number", excerpt(rest)))?;
    if limit > 100 {
        return Err(format!("{KEY} {limit} is above 100"));
    }
    Ok(Some(limit))
}

/// `notifyutil -g com.apple.system.thermalpressurelevel` → `<key> <level>`; macOS levels are
/// 0 nominal, 1 moderate, 2 heavy, 3 trapping, 4 sleeping (`OSThermalNotification.h`).
pub fn parse_thermal_pressure(text: &str) -> Result<ThermalLevel, String> {
    let value = text
        .split_whitespace()
        .last()
        .ok_or_else(|| "empty thermal pressure output".to_string())?;
    match parse_u64(value)? {
        0 => Ok(ThermalLevel::Nominal),
        1 => Ok(ThermalLevel::Moderate),
        2 => Ok(ThermalLevel::Heavy),
        3 => Ok(ThermalLevel::Trapping),
        4 => Ok(ThermalLevel::Sleeping),
        other => Err(format!("unexpected thermal pressure level {other} (expected 0–4)")),
    }
}

/// `pmset -g ps`: `Now drawing from 'AC Power'` (or `'Battery Power'`, `'UPS Power'`).
pub fn parse_pmset_ps(text: &str) -> Result<PowerSource, String> {
    const KEY: &str = "drawing from '";
    let start = text
        .find(KEY)
        .ok_or_else(|| format!("no `Now drawing from` line in `{}`", excerpt(text)))?;
    let rest = &text[start + KEY.len()..];
    let token = &rest[..rest.find('\'').ok_or("unterminated power source name")?];
    match token {
        "AC Power" => Ok(PowerSource::Ac),
        "Battery Power" => Ok(PowerSource::Battery),
        "UPS Power" => Ok(PowerSource::Ups),
        other => Err(format!("unknown power source `{other}`")),
    }
}

/// `sysctl vm.loadavg` / `sysctl -n vm.loadavg`: `{ 2.34 3.05 4.68 }`, decimals possibly in
/// the user's locale (`{ 1,38 1,45 2,16 }`). Used only when `getloadavg(3)` fails.
pub fn parse_sysctl_loadavg(text: &str) -> Result<[f64; 3], String> {
    let open = text.find('{').ok_or_else(|| format!("no `{{` in `{}`", excerpt(text)))?;
    let close = text.rfind('}').filter(|&close| close > open).ok_or("no closing `}`")?;
    let fields: Vec<&str> = text[open + 1..close].split_whitespace().collect();
    if fields.len() != 3 {
        return Err(format!("expected three load averages, got {}", fields.len()));
    }
    let mut loads = [0.0; 3];
    for (slot, field) in loads.iter_mut().zip(&fields) {
        *slot = parse_decimal(field)?;
    }
    Ok(loads)
}

/// `ps -A -o pid=,rss=,comm=`: PID, RSS in KiB, then the executable path, which may contain
/// spaces, so only the first two whitespace runs split. Lines that do not parse are skipped;
/// an output with no parsable line at all is an error.
pub fn parse_ps_rss(text: &str) -> Result<Vec<ProcessMemory>, String> {
    let mut processes = Vec::new();
    let mut lines = 0;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        lines += 1;
        let rest = line.trim_start();
        let Some((pid, rest)) = rest.split_once(char::is_whitespace) else { continue };
        let rest = rest.trim_start();
        let Some((rss, command)) = rest.split_once(char::is_whitespace) else { continue };
        let (Ok(pid), Ok(rss_kib)) = (pid.parse::<u32>(), rss.parse::<u64>()) else { continue };
        let command = command.trim();
        if command.is_empty() {
            continue;
        }
        let name = command.rsplit('/').find(|part| !part.is_empty()).unwrap_or(command);
        processes.push(ProcessMemory {
            pid: Some(pid),
            name: name.to_string(),
            rss_bytes: rss_kib * 1024,
        });
    }
    if processes.is_empty() && lines > 0 {
        return Err(format!("no process lines in `ps` output `{}`", excerpt(text)));
    }
    Ok(processes)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/macos/", $name))
        };
    }

    #[test]
    fn sysctl_memory_values() {
        let values = parse_sysctl_lines(fixture!("sysctl_memory_warn.txt"));
        let (raw, level) =
            parse_vm_pressure_level(&values["kern.memorystatus_vm_pressure_level"]).unwrap();
        assert_eq!((raw, level), (2, MemPressure::Warn));
        assert_eq!(parse_percentage(&values["kern.memorystatus_level"]), Ok(40.0));
        assert_eq!(parse_memsize(&values["hw.memsize"]), Ok(16 << 30));

        // One XNU build lacks kern.memorystatus_level: that value is simply missing.
        let values = parse_sysctl_lines(fixture!("sysctl_memory_no_level.txt"));
        assert!(!values.contains_key("kern.memorystatus_level"));
        assert_eq!(
            parse_vm_pressure_level(&values["kern.memorystatus_vm_pressure_level"]).unwrap().1,
            MemPressure::Normal
        );
    }

    #[test]
    fn pressure_levels_are_dispatch_constants() {
        assert_eq!(parse_vm_pressure_level("4").unwrap().1, MemPressure::Critical);
        assert!(parse_vm_pressure_level("3").unwrap_err().contains("expected 1, 2 or 4"));
        assert!(parse_vm_pressure_level("0").is_err());
        assert!(parse_vm_pressure_level("normal").is_err());
        assert!(parse_percentage("101").is_err());
        assert!(parse_memsize("0").is_err());
    }

    #[test]
    fn memory_pressure_free_percentage_not_first_line() {
        assert_eq!(parse_memory_pressure_free_pct(fixture!("memory_pressure.txt")), Ok(79.0));
        assert_eq!(parse_memory_pressure_free_pct(fixture!("memory_pressure_Q.txt")), Ok(40.0));
        // What the seed's `memory_pressure | head -1` really returns: the RAM size.
        let first_line = fixture!("memory_pressure.txt").lines().next().unwrap();
        assert!(parse_memory_pressure_free_pct(first_line).is_err());
    }

    #[test]
    fn pmset_therm_on_apple_silicon_has_no_speed_limit() {
        assert_eq!(parse_pmset_therm(fixture!("pmset_therm_apple_silicon.txt")), Ok(None));
        assert_eq!(
            parse_pmset_therm(fixture!("pmset_therm_apple_silicon_perf_warning.txt")),
            Ok(None)
        );
    }

    #[test]
    fn pmset_therm_on_intel_with_a_throttle() {
        assert_eq!(parse_pmset_therm(fixture!("pmset_therm_intel_throttled.txt")), Ok(Some(35)));
        // stdout only: a German-locale date glued to the first CPU_ line.
        assert_eq!(
            parse_pmset_therm(fixture!("pmset_therm_intel_stdout_only_de.txt")),
            Ok(Some(78))
        );
        assert_eq!(parse_pmset_therm("x CPU_Speed_Limit=100"), Ok(Some(100)));
    }

    #[test]
    fn pmset_therm_garbage() {
        assert!(parse_pmset_therm("").is_err());
        assert!(parse_pmset_therm("CPU_Speed_Limit = high").unwrap_err().contains("not a number"));
        assert!(parse_pmset_therm("CPU_Speed_Limit 5").unwrap_err().contains("no `=`"));
        assert!(parse_pmset_therm("CPU_Speed_Limit = 250").unwrap_err().contains("above 100"));
    }

    #[test]
    fn thermal_pressure_levels() {
        assert_eq!(
            parse_thermal_pressure(fixture!("notifyutil_thermal_nominal.txt")),
            Ok(ThermalLevel::Nominal)
        );
        assert_eq!(
            parse_thermal_pressure(fixture!("notifyutil_thermal_heavy.txt")),
            Ok(ThermalLevel::Heavy)
        );
        assert_eq!(parse_thermal_pressure("3"), Ok(ThermalLevel::Trapping));
        assert_eq!(parse_thermal_pressure("k 4"), Ok(ThermalLevel::Sleeping));
        // iOS-style values (10, 20, …) are not macOS levels.
        assert!(parse_thermal_pressure("com.apple.system.thermalpressurelevel 20").is_err());
        assert!(parse_thermal_pressure("").is_err());
    }

    #[test]
    fn power_sources() {
        assert_eq!(parse_pmset_ps(fixture!("pmset_ps_ac.txt")), Ok(PowerSource::Ac));
        assert_eq!(parse_pmset_ps(fixture!("pmset_ps_battery.txt")), Ok(PowerSource::Battery));
        assert_eq!(parse_pmset_ps(fixture!("pmset_ps_desktop.txt")), Ok(PowerSource::Ac));
        assert_eq!(parse_pmset_ps(fixture!("pmset_ps_ups.txt")), Ok(PowerSource::Ups));
        assert!(parse_pmset_ps("Now drawing from 'Solar Power'").unwrap_err().contains("Solar"));
        assert!(parse_pmset_ps("Now drawing from 'AC Power").is_err());
        assert!(parse_pmset_ps("").is_err());
    }

    #[test]
    fn load_average_in_any_locale() {
        assert_eq!(parse_sysctl_loadavg(fixture!("sysctl_vm_loadavg.txt")), Ok([2.34, 3.05, 4.68]));
        assert_eq!(
            parse_sysctl_loadavg(fixture!("sysctl_vm_loadavg_de.txt")),
            Ok([1.38, 1.45, 2.16])
        );
        assert_eq!(parse_sysctl_loadavg("{ 0.10 0.20 0.30 }"), Ok([0.1, 0.2, 0.3]));
        assert!(parse_sysctl_loadavg("{ 1.0 2.0 }").is_err());
        assert!(parse_sysctl_loadavg("1.0 2.0 3.0").is_err());
        assert!(parse_sysctl_loadavg("{ a b c }").is_err());
    }

    #[test]
    fn ps_lines_with_spaces_in_paths() {
        let processes = parse_ps_rss(fixture!("ps_rss_comm.txt")).unwrap();
        assert_eq!(processes.len(), 7);
        let teams = processes.iter().find(|p| p.pid == Some(1500)).unwrap();
        assert_eq!(teams.name, "MSTeams");
        let chrome = processes.iter().find(|p| p.pid == Some(412)).unwrap();
        assert_eq!(chrome.name, "Google Chrome");
        assert_eq!(chrome.rss_bytes, 2_457_600 * 1024);
        let zombie = processes.iter().find(|p| p.pid == Some(1402)).unwrap();
        assert_eq!(zombie.name, "(zombie)");
    }

    #[test]
    fn ps_garbage() {
        assert!(parse_ps_rss("ps: illegal option -- o\n").is_err());
        assert_eq!(parse_ps_rss("").unwrap(), vec![]);
        let mixed = parse_ps_rss("garbage line\n 7 100 /bin/x\n").unwrap();
        assert_eq!(mixed.len(), 1);
    }
}
