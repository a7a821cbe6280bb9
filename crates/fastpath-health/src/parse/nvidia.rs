//! Parsers for NVIDIA readings: `nvidia-smi --query-gpu=… --format=csv,nounits` and the NVML
//! clock-event ("throttle") reason bitmask.

use crate::parse::{excerpt, parse_decimal};
use crate::report::{ClockEventReasons, GpuDevice};

/// NVML `nvmlClocksEventReason*` bits (the same values as the older `ClocksThrottleReason*`).
const REASON_NAMES: &[(u64, &str)] = &[
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
];

/// Reasons that mean the GPU is being slowed by heat or an emergency power brake: software
/// and hardware thermal slowdown, hardware slowdown, power brake. Idle, application clocks,
/// display clocks and sync boost are not throttling; the software power cap is normal for a
/// busy GPU at its power limit, so it is reported but does not warn.
pub const SLOWDOWN_REASON_MASK: u64 = 0x8 | 0x20 | 0x40 | 0x80;

/// The names of the set bits, in bit order; unknown bits appear as `0x…`.
pub fn decode_clock_event_reasons(bits: u64) -> ClockEventReasons {
    let mut active: Vec<String> = REASON_NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| (*name).to_string())
        .collect();
    let known: u64 = REASON_NAMES.iter().map(|(bit, _)| bit).sum();
    if bits & !known != 0 {
        active.push(format!("{:#x}", bits & !known));
    }
    ClockEventReasons { bits, active }
}

/// Names of the slowdown reasons among `bits` (see [`SLOWDOWN_REASON_MASK`]).
pub fn slowdown_reasons(bits: u64) -> Vec<&'static str> {
    REASON_NAMES
        .iter()
        .filter(|(bit, _)| bits & bit & SLOWDOWN_REASON_MASK != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The columns `fastpath` asks `nvidia-smi` for, new reason name first. Drivers before 535
/// do not know `clocks_event_reasons.*`; the reader retries with [`QUERY_FIELDS_OLD`].
pub const QUERY_FIELDS: &str = "index,name,temperature.gpu,memory.used,memory.total,utilization.gpu,clocks.sm,clocks.max.sm,power.draw,power.limit,clocks_event_reasons.active";
pub const QUERY_FIELDS_OLD: &str = "index,name,temperature.gpu,memory.used,memory.total,utilization.gpu,clocks.sm,clocks.max.sm,power.draw,power.limit,clocks_throttle_reasons.active";

/// `nvidia-smi --query-gpu=… --format=csv[,nounits]` with its header line. Columns are found
/// by header name, so the old (`clocks_throttle_reasons.*`) and new (`clocks_event_reasons.*`)
/// names, the `clocks.sm` / `clocks.current.sm` spellings and outputs with or without units
/// all parse. `[N/A]`, `[Not Supported]` and similar read as absent.
pub fn parse_nvidia_smi_csv(text: &str) -> Result<Vec<GpuDevice>, String> {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let header = lines.next().ok_or("empty nvidia-smi output")?;
    let columns: Vec<String> = header.split(',').map(column_name).collect();
    let find = |names: &[&str]| columns.iter().position(|c| names.contains(&c.as_str()));
    let name_col = find(&["name"]);
    if find(&["memory.total", "temperature.gpu"]).is_none() {
        return Err(format!("not an nvidia-smi CSV header: `{}`", excerpt(header)));
    }
    let index_col = find(&["index"]);
    let temp_col = find(&["temperature.gpu"]);
    let used_col = find(&["memory.used"]);
    let total_col = find(&["memory.total"]);
    let util_col = find(&["utilization.gpu"]);
    let sm_col = find(&["clocks.sm", "clocks.current.sm"]);
    let sm_max_col = find(&["clocks.max.sm", "clocks.max.sm_clock"]);
    let draw_col = find(&["power.draw", "power.draw.instant", "power.draw.average"]);
    let limit_col = find(&["power.limit", "enforced.power.limit"]);
    let reasons_col = find(&["clocks_event_reasons.active", "clocks_throttle_reasons.active"]);

    let mut devices = Vec::new();
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != columns.len() {
            return Err(format!(
                "row {} has {} fields, the header has {}: `{}`",
                row + 1,
                cells.len(),
                columns.len(),
                excerpt(line)
            ));
        }
        let cell = |col: Option<usize>| col.and_then(|i| present(cells[i]));
        let number =
            |col: Option<usize>| cell(col).and_then(|text| parse_decimal(strip_unit(text)).ok());
        let index = match cell(index_col) {
            Some(text) => {
                text.parse().map_err(|_| format!("GPU index `{text}` is not a number"))?
            }
            None => row as u32,
        };
        let reasons = match cell(reasons_col) {
            Some(text) => Some(decode_clock_event_reasons(parse_hex(text)?)),
            None => None,
        };
        devices.push(GpuDevice {
            index,
            name: cell(name_col).unwrap_or("unknown NVIDIA GPU").to_string(),
            temperature_c: number(temp_col),
            slowdown_temperature_c: None,
            memory_used_mib: number(used_col).map(|v| v as u64),
            memory_total_mib: number(total_col).map(|v| v as u64),
            utilization_pct: number(util_col).map(|v| v as u32),
            sm_clock_mhz: number(sm_col).map(|v| v as u32),
            sm_clock_max_mhz: number(sm_max_col).map(|v| v as u32),
            power_draw_w: number(draw_col),
            power_limit_w: number(limit_col),
            clock_event_reasons: reasons,
        });
    }
    Ok(devices)
}

/// `memory.used [MiB]` → `memory.used`.
fn column_name(header_cell: &str) -> String {
    let cell = header_cell.trim();
    cell.split_once(" [").map_or(cell, |(name, _)| name).trim().to_string()
}

/// `None` for the placeholders nvidia-smi prints when a value is unsupported or unavailable.
fn present(cell: &str) -> Option<&str> {
    let unavailable = cell.is_empty()
        || cell.starts_with('[')
        || cell.eq_ignore_ascii_case("N/A")
        || cell.eq_ignore_ascii_case("Not Supported");
    (!unavailable).then_some(cell)
}

/// `7979 MiB` → `7979` (outputs requested without `nounits`).
fn strip_unit(cell: &str) -> &str {
    cell.split_whitespace().next().unwrap_or(cell)
}

fn parse_hex(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u64::from_str_radix(digits, 16).map_err(|_| format!("reason mask `{text}` is not hexadecimal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nvidia/", $name))
        };
    }

    #[test]
    fn decodes_reason_bits() {
        let reasons = decode_clock_event_reasons(0x1 | 0x4 | 0x40 | 0x1000);
        assert_eq!(reasons.active, ["gpu_idle", "sw_power_cap", "hw_thermal_slowdown", "0x1000"]);
        assert_eq!(slowdown_reasons(0x1 | 0x4 | 0x40), ["hw_thermal_slowdown"]);
        assert!(slowdown_reasons(0x1 | 0x2 | 0x4 | 0x10 | 0x100).is_empty(), "not throttling");
        assert_eq!(
            slowdown_reasons(0x8 | 0x20 | 0x80),
            ["hw_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown"]
        );
    }

    #[test]
    fn old_field_names_with_units() {
        // Columns as the exporter's sample for driver 465 names them, units included.
        let devices = parse_nvidia_smi_csv(fixture!("smi_465_old_names_units.csv")).unwrap();
        assert_eq!(devices.len(), 1);
        let gpu = &devices[0];
        assert_eq!(gpu.index, 0);
        assert_eq!(gpu.memory_total_mib, Some(7979));
        assert_eq!(gpu.memory_used_mib, Some(344));
        assert_eq!(gpu.temperature_c, Some(32.0));
        assert_eq!(gpu.power_draw_w, Some(30.37));
        assert_eq!(gpu.power_limit_w, Some(250.0));
        assert_eq!(gpu.sm_clock_mhz, Some(2145));
        assert_eq!(gpu.clock_event_reasons.as_ref().unwrap().active, ["gpu_idle"]);
    }

    #[test]
    fn new_field_names_nounits_two_gpus_with_na() {
        let devices = parse_nvidia_smi_csv(fixture!("smi_new_names_nounits.csv")).unwrap();
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[1].index, 1);
        assert_eq!(devices[1].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(devices[1].power_draw_w, None, "[N/A]");
        assert_eq!(devices[1].utilization_pct, None, "[Not Supported]");
        assert_eq!(
            slowdown_reasons(devices[1].clock_event_reasons.as_ref().unwrap().bits),
            ["sw_thermal_slowdown"]
        );
    }

    #[test]
    fn recorded_h100_outputs_for_both_reason_names() {
        // Driver ≥ 535 answers the old `clocks_throttle_reasons.*` query with the new header.
        for text in [fixture!("smi_h100_recorded.csv"), fixture!("smi_h100_recorded_old_query.csv")]
        {
            let devices = parse_nvidia_smi_csv(text).unwrap();
            assert_eq!(devices.len(), 1);
            let gpu = &devices[0];
            assert_eq!(gpu.name, "NVIDIA H100 80GB HBM3");
            assert_eq!((gpu.memory_used_mib, gpu.memory_total_mib), (Some(0), Some(81559)));
            assert_eq!((gpu.sm_clock_mhz, gpu.sm_clock_max_mhz), (Some(345), Some(1980)));
            assert_eq!(gpu.power_limit_w, Some(700.0));
            assert_eq!(gpu.temperature_c, Some(50.0));
            assert_eq!(gpu.clock_event_reasons.as_ref().unwrap().active, ["gpu_idle"]);
        }
    }

    #[test]
    fn garbage_and_mismatched_rows() {
        assert!(parse_nvidia_smi_csv("").is_err());
        assert!(
            parse_nvidia_smi_csv(
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
            )
            .unwrap_err()
            .contains("not an nvidia-smi CSV header")
        );
        let short = "index, name, memory.total [MiB]\n0, GPU\n";
        assert!(parse_nvidia_smi_csv(short).unwrap_err().contains("row 1 has 2 fields"));
        let bad_mask = "index, memory.total [MiB], clocks_event_reasons.active\n0, 100, 0xZZ\n";
        assert!(parse_nvidia_smi_csv(bad_mask).unwrap_err().contains("not hexadecimal"));
        // A header with no GPU rows: the driver answered and lists none.
        assert_eq!(parse_nvidia_smi_csv("index, memory.total [MiB]\n").unwrap(), vec![]);
    }
}
