//! Machine profiles: the seed's three Macs ("Hardware ceilings by machine") as named profiles,
//! and a profile detected from the machine fastpath runs on.
//!
//! A profile carries what routing needs: RAM (the S0/S3 memory ceiling) and the bandwidth and
//! peak compute of the device local work runs on (the roofline behind the default rate
//! estimate). Route has no GPU dependency, so the caller describes the GPU adapter
//! ([`GpuDescription`]) when it knows it; detection fills in RAM and cores itself.

use serde::Serialize;

use crate::error::RouteError;

/// The GPU adapter as the caller (the CLI, through `fastpath-gpu`) sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuDescription {
    /// Adapter name, e.g. "Apple M2 Max", "NVIDIA H100 80GB HBM3", "llvmpipe (LLVM 15.0.7, 256 bits)".
    pub name: String,
    /// wgpu backend, e.g. "Metal", "Vulkan".
    pub backend: Option<String>,
    /// CPU and GPU share one memory (Apple silicon, integrated GPUs).
    pub unified_memory: bool,
    /// A software rasterizer (llvmpipe, lavapipe, SwiftShader, WARP): "GPU" kernels run on the CPU.
    pub software: bool,
}

/// Where a profile's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileOrigin {
    /// One of the seed's machines (numbers from the seed, corrected where Apple's published
    /// figures differ; see docs/routing.md).
    Named,
    /// Measured on the machine fastpath runs on, with assumed figures where nothing can be read.
    Detected,
}

/// A machine as routing sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineProfile {
    /// `m5`, `m3-max-128`, … or `this-machine`.
    pub name: String,
    pub description: String,
    pub origin: ProfileOrigin,
    /// Memory the workload's data must fit in (unified RAM on Apple silicon). None when it
    /// could not be read.
    pub ram_gb: Option<f64>,
    pub unified_memory: bool,
    pub cpu_cores: u32,
    /// The device local kernels run on: "GPU" or "CPU".
    pub compute_device: String,
    /// Memory bandwidth of that device, GB/s.
    pub memory_bandwidth_gbps: f64,
    /// Peak f32 throughput of that device, TFLOPS.
    pub peak_tflops: f64,
    pub gpu: Option<GpuDescription>,
    /// Where each figure comes from, and what is assumed.
    pub notes: Vec<String>,
}

struct NamedProfile {
    name: &'static str,
    description: &'static str,
    ram_gb: f64,
    cpu_cores: u32,
    bandwidth_gbps: f64,
    peak_tflops: f64,
    notes: &'static [&'static str],
}

const M2_NOTES: &[&str] = &[
    "seed: M2 Air, 8-24 GB, 8-10 GPU cores, ~100 GB/s (Apple: 100 GB/s)",
    "peak 3.6 TFLOPS f32: Apple's figure for the 10-core M2 GPU",
];
const M3_MAX_NOTES: &[&str] = &[
    "seed: M3 Max, 36-128 GB, 40 GPU cores, ~400 GB/s; Apple ships 400 GB/s with the 40-core GPU (48, 64, 128 GB)",
    "peak f32 is an estimate: 40 cores x 128 lanes x 2 flops x ~1.6 GHz",
];
const M3_MAX_36_NOTES: &[&str] = &[
    "the 36 GB M3 Max has a 30-core GPU and 300 GB/s (Apple), not the seed's 40 cores and ~400 GB/s",
    "peak f32 is an estimate: 30 cores x 128 lanes x 2 flops x ~1.6 GHz",
];
const M5_NOTES: &[&str] = &[
    "seed: M5 MacBook Pro, 24 GB, 10 cores (4P + 6E), ~200 GB/s; Apple's figure is 153 GB/s, used here (docs/routing.md R10)",
    "peak f32 is an estimate: 10 cores x 128 lanes x 2 flops x ~1.65 GHz; the seed quotes 6.5 TFLOPS for MLX matmul (Neural Accelerators)",
];

const NAMED: &[NamedProfile] = &[
    NamedProfile {
        name: "m2-air",
        description: "Apple M2 MacBook Air, 16 GB (seed range 8-24 GB)",
        ram_gb: 16.0,
        cpu_cores: 8,
        bandwidth_gbps: 100.0,
        peak_tflops: 3.6,
        notes: M2_NOTES,
    },
    NamedProfile {
        name: "m2-air-8",
        description: "Apple M2 MacBook Air, 8 GB",
        ram_gb: 8.0,
        cpu_cores: 8,
        bandwidth_gbps: 100.0,
        peak_tflops: 3.6,
        notes: M2_NOTES,
    },
    NamedProfile {
        name: "m2-air-24",
        description: "Apple M2 MacBook Air, 24 GB",
        ram_gb: 24.0,
        cpu_cores: 8,
        bandwidth_gbps: 100.0,
        peak_tflops: 3.6,
        notes: M2_NOTES,
    },
    NamedProfile {
        name: "m3-max",
        description: "Apple M3 Max MacBook Pro, 40-core GPU, 48 GB (seed range 36-128 GB)",
        ram_gb: 48.0,
        cpu_cores: 16,
        bandwidth_gbps: 400.0,
        peak_tflops: 16.4,
        notes: M3_MAX_NOTES,
    },
    NamedProfile {
        name: "m3-max-36",
        description: "Apple M3 Max MacBook Pro, 30-core GPU, 36 GB",
        ram_gb: 36.0,
        cpu_cores: 14,
        bandwidth_gbps: 300.0,
        peak_tflops: 12.3,
        notes: M3_MAX_36_NOTES,
    },
    NamedProfile {
        name: "m3-max-64",
        description: "Apple M3 Max MacBook Pro, 40-core GPU, 64 GB",
        ram_gb: 64.0,
        cpu_cores: 16,
        bandwidth_gbps: 400.0,
        peak_tflops: 16.4,
        notes: M3_MAX_NOTES,
    },
    NamedProfile {
        name: "m3-max-128",
        description: "Apple M3 Max MacBook Pro, 40-core GPU, 128 GB",
        ram_gb: 128.0,
        cpu_cores: 16,
        bandwidth_gbps: 400.0,
        peak_tflops: 16.4,
        notes: M3_MAX_NOTES,
    },
    NamedProfile {
        name: "m5",
        description: "Apple M5 MacBook Pro, 24 GB (the seed's target machine)",
        ram_gb: 24.0,
        cpu_cores: 10,
        bandwidth_gbps: 153.0,
        peak_tflops: 4.2,
        notes: M5_NOTES,
    },
    NamedProfile {
        name: "m5-16",
        description: "Apple M5 MacBook Pro, 16 GB",
        ram_gb: 16.0,
        cpu_cores: 10,
        bandwidth_gbps: 153.0,
        peak_tflops: 4.2,
        notes: M5_NOTES,
    },
    NamedProfile {
        name: "m5-32",
        description: "Apple M5 MacBook Pro, 32 GB",
        ram_gb: 32.0,
        cpu_cores: 10,
        bandwidth_gbps: 153.0,
        peak_tflops: 4.2,
        notes: M5_NOTES,
    },
];

/// Names accepted for the detected profile of this machine.
pub const THIS_MACHINE: &[&str] = &["this", "this-machine", "detected", "local"];

impl MachineProfile {
    /// Names of the built-in profiles, for `--help` and errors.
    pub fn names() -> Vec<&'static str> {
        NAMED.iter().map(|p| p.name).collect()
    }

    /// A seed machine by name (`m2-air`, `m3-max-128`, `m5`, …).
    pub fn named(name: &str) -> Result<MachineProfile, RouteError> {
        let wanted = name.trim().to_ascii_lowercase();
        let profile = NAMED.iter().find(|p| p.name == wanted).ok_or_else(|| {
            RouteError::Unknown(format!(
                "unknown machine profile '{name}'; known: {}, or 'this' for the machine fastpath runs on",
                Self::names().join(", ")
            ))
        })?;
        Ok(MachineProfile {
            name: profile.name.to_string(),
            description: profile.description.to_string(),
            origin: ProfileOrigin::Named,
            ram_gb: Some(profile.ram_gb),
            unified_memory: true,
            cpu_cores: profile.cpu_cores,
            compute_device: "GPU".to_string(),
            memory_bandwidth_gbps: profile.bandwidth_gbps,
            peak_tflops: profile.peak_tflops,
            gpu: None,
            notes: profile.notes.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// The seed's target machine (Apple M5, 24 GB), used by the worked examples.
    pub fn seed_target() -> MachineProfile {
        Self::named("m5").expect("the m5 profile is built in")
    }

    /// The profile of the machine fastpath runs on: RAM (respecting a cgroup memory limit on
    /// Linux), cores, and the GPU the caller describes. Figures that cannot be read are
    /// assumed and say so in `notes`; `fastpath calibrate` measures them.
    pub fn detect(gpu: Option<GpuDescription>) -> MachineProfile {
        let cpu_cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
        let (ram_gb, ram_note) = detect_ram_gb();
        Self::from_parts(ram_gb, ram_note, cpu_cores, gpu)
    }

    /// Builds a detected profile from already-read facts (pure; tested without the machine).
    pub fn from_parts(
        ram_gb: Option<f64>,
        ram_note: String,
        cpu_cores: u32,
        gpu: Option<GpuDescription>,
    ) -> MachineProfile {
        let mut notes = vec![ram_note];
        let cpu_cores = cpu_cores.max(1);
        let cpu_bandwidth = (6.0 * cpu_cores as f64).min(100.0);
        let cpu_tflops = 0.016 * cpu_cores as f64;
        let cpu_note = format!(
            "CPU figures assumed ({} GB/s, {} GFLOPS for {cpu_cores} cores: 6 GB/s and 16 GFLOPS per core); run `fastpath calibrate` to measure",
            crate::format::significant(cpu_bandwidth, 3),
            crate::format::significant(cpu_tflops * 1000.0, 3)
        );
        let (device, bandwidth, tflops, unified, description) = match &gpu {
            Some(g) if g.software => {
                notes.push(format!(
                    "GPU adapter '{}' is a software rasterizer: GPU kernels run on the CPU",
                    g.name
                ));
                notes.push(cpu_note);
                (
                    "CPU",
                    cpu_bandwidth,
                    cpu_tflops,
                    true,
                    format!("this machine ({cpu_cores} cores, software GPU '{}')", g.name),
                )
            }
            Some(g) => {
                let known = known_gpu(&g.name);
                let (bw, tf) = match known {
                    Some(k) => {
                        notes.push(format!(
                            "GPU '{}': published peak {} GB/s, {} TFLOPS f32 ({})",
                            g.name, k.1, k.2, k.0
                        ));
                        (k.1, k.2)
                    }
                    None => {
                        notes.push(format!(
                            "GPU '{}' is not in fastpath's table: 200 GB/s and 5 TFLOPS assumed; run `fastpath calibrate` to measure",
                            g.name
                        ));
                        (200.0, 5.0)
                    }
                };
                (
                    "GPU",
                    bw,
                    tf,
                    g.unified_memory,
                    format!("this machine ({cpu_cores} cores, GPU '{}')", g.name),
                )
            }
            None => {
                notes.push(
                    "no GPU adapter described: local kernels are estimated on the CPU".to_string(),
                );
                notes.push(cpu_note);
                (
                    "CPU",
                    cpu_bandwidth,
                    cpu_tflops,
                    false,
                    format!("this machine ({cpu_cores} cores, no GPU described)"),
                )
            }
        };
        MachineProfile {
            name: "this-machine".to_string(),
            description,
            origin: ProfileOrigin::Detected,
            ram_gb,
            unified_memory: unified,
            cpu_cores,
            compute_device: device.to_string(),
            memory_bandwidth_gbps: bandwidth,
            peak_tflops: tflops,
            gpu,
            notes,
        }
    }

    /// How messages name the machine: "this machine" or the profile's name.
    pub fn called(&self) -> String {
        match self.origin {
            ProfileOrigin::Detected => "this machine".to_string(),
            ProfileOrigin::Named => self.name.clone(),
        }
    }

    /// One line for reports: `m5 — Apple M5 MacBook Pro, 24 GB (…): 24 GB, GPU 153 GB/s, 4.2 TFLOPS`.
    pub fn summary(&self) -> String {
        let ram = self
            .ram_gb
            .map(|r| format!("{} GB RAM", crate::format::significant(r, 3)))
            .unwrap_or("RAM unknown".into());
        format!(
            "{} — {}: {ram}{}, {} {} GB/s, {} TFLOPS f32",
            self.name,
            self.description,
            if self.unified_memory { " unified" } else { "" },
            self.compute_device,
            crate::format::significant(self.memory_bandwidth_gbps, 4),
            crate::format::significant(self.peak_tflops, 3)
        )
    }
}

/// (source, GB/s, TFLOPS f32) for adapters whose published figures we know. Apple names are
/// only matched on adapters that say "Apple"; more specific names come first.
fn known_gpu(name: &str) -> Option<(&'static str, f64, f64)> {
    let n = name.to_ascii_lowercase();
    const NVIDIA: &[(&str, &str, f64, f64)] = &[
        ("h200", "NVIDIA H200 SXM datasheet", 4800.0, 67.0),
        ("h100 pcie", "NVIDIA H100 PCIe datasheet", 2000.0, 51.0),
        ("h100", "NVIDIA H100 SXM datasheet", 3350.0, 67.0),
        ("a100", "NVIDIA A100 80GB SXM datasheet", 2039.0, 19.5),
        ("l40s", "NVIDIA L40S datasheet", 864.0, 91.6),
        ("nvidia l4", "NVIDIA L4 datasheet", 300.0, 30.3),
        ("rtx 4090", "NVIDIA RTX 4090 specifications", 1008.0, 82.6),
    ];
    const APPLE: &[(&str, &str, f64, f64)] = &[
        ("m5", "Apple M5 (153 GB/s; f32 peak estimated)", 153.0, 4.2),
        ("m4 max", "Apple M4 Max (546 GB/s; f32 peak estimated)", 546.0, 18.4),
        ("m4 pro", "Apple M4 Pro (273 GB/s; f32 peak estimated)", 273.0, 9.2),
        ("m4", "Apple M4 (120 GB/s; f32 peak estimated)", 120.0, 4.3),
        ("m3 max", "Apple M3 Max 40-core (400 GB/s; f32 peak estimated)", 400.0, 16.4),
        ("m3 pro", "Apple M3 Pro (150 GB/s; f32 peak estimated)", 150.0, 7.4),
        ("m3", "Apple M3 (100 GB/s; f32 peak estimated)", 100.0, 4.1),
        ("m2 max", "Apple M2 Max (400 GB/s, 13.6 TFLOPS)", 400.0, 13.6),
        ("m2 pro", "Apple M2 Pro (200 GB/s, 6.8 TFLOPS)", 200.0, 6.8),
        ("m2", "Apple M2 (100 GB/s, 3.6 TFLOPS)", 100.0, 3.6),
        ("m1 max", "Apple M1 Max (400 GB/s, 10.4 TFLOPS)", 400.0, 10.4),
        ("m1 pro", "Apple M1 Pro (200 GB/s, 5.2 TFLOPS)", 200.0, 5.2),
        ("m1", "Apple M1 (68 GB/s, 2.6 TFLOPS)", 68.25, 2.6),
    ];
    let table: &[(&str, &str, f64, f64)] = if n.contains("apple") { APPLE } else { NVIDIA };
    table.iter().find(|(key, ..)| n.contains(key)).map(|(_, source, bw, tf)| (*source, *bw, *tf))
}

/// Bytes in one "GB" of RAM as the seed and Apple count it ("24 GB" of unified memory is
/// 24 x 2^30 bytes), so a detected 24 GB Mac reads 24 like the named profile, and matches
/// fastpath-health's `machine_ram_gb`. Data sizes stay in 10^9 bytes (the seed's Example 1
/// divides by 1e9); docs/routing.md R22.
pub const RAM_BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// RAM in GB (2^30 bytes) and where it came from.
fn detect_ram_gb() -> (Option<f64>, String) {
    let physical = if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| parse_meminfo_total_bytes(&t))
            .map(|b| (b, "/proc/meminfo"))
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("sysctl")
            .args(["-n", "hw.memsize"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
            .map(|b| (b, "sysctl hw.memsize"))
    } else {
        None
    };
    let cgroup = if cfg!(target_os = "linux") {
        ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
            .iter()
            .find_map(|path| {
                std::fs::read_to_string(path).ok().and_then(|t| parse_cgroup_limit_bytes(&t))
            })
    } else {
        None
    };
    match (physical, cgroup) {
        (Some((bytes, source)), Some(limit)) if limit < bytes => (
            Some(limit / RAM_BYTES_PER_GB),
            format!(
                "RAM: cgroup memory limit {} GB (below the {} GB in {source}; GB = 2^30 bytes)",
                crate::format::significant(limit / RAM_BYTES_PER_GB, 3),
                crate::format::significant(bytes / RAM_BYTES_PER_GB, 3)
            ),
        ),
        (Some((bytes, source)), _) => (
            Some(bytes / RAM_BYTES_PER_GB),
            format!(
                "RAM: {} GB from {source} (GB = 2^30 bytes)",
                crate::format::significant(bytes / RAM_BYTES_PER_GB, 3)
            ),
        ),
        (None, Some(limit)) => (
            Some(limit / RAM_BYTES_PER_GB),
            "RAM: cgroup memory limit (GB = 2^30 bytes)".to_string(),
        ),
        (None, None) => {
            (None, "RAM could not be read on this platform; give machine_ram_gb".to_string())
        }
    }
}

/// `MemTotal:       16318480 kB` → bytes.
pub fn parse_meminfo_total_bytes(meminfo: &str) -> Option<f64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: f64 = fields.next()?.parse().ok()?;
    let scale = match fields.next() {
        Some("kB") | Some("KB") => 1024.0,
        Some("mB") | Some("MB") => 1024.0 * 1024.0,
        None => 1.0,
        Some(_) => return None,
    };
    Some(value * scale)
}

/// A cgroup memory limit in bytes; `max` (v2) and the v1 "unlimited" sentinel mean no limit.
pub fn parse_cgroup_limit_bytes(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    // cgroup v1 reports "unlimited" as a number near 2^63.
    (value > 0.0 && value < 1e18).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_machines_have_their_seed_ram() {
        assert_eq!(MachineProfile::named("m5").unwrap().ram_gb, Some(24.0));
        assert_eq!(MachineProfile::named("M3-MAX-128").unwrap().ram_gb, Some(128.0));
        let air = MachineProfile::named("m2-air").unwrap();
        assert!((8.0..=24.0).contains(&air.ram_gb.unwrap()));
        assert_eq!(air.memory_bandwidth_gbps, 100.0);
        assert_eq!(MachineProfile::named("m3-max").unwrap().memory_bandwidth_gbps, 400.0);
        assert_eq!(MachineProfile::named("m5").unwrap().cpu_cores, 10);
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let err = MachineProfile::named("m9").unwrap_err().to_string();
        assert!(
            err.contains("unknown machine profile 'm9'") && err.contains("m3-max-128"),
            "{err}"
        );
    }

    #[test]
    fn meminfo_and_cgroup_parse() {
        let text = "MemTotal:       16318480 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_total_bytes(text), Some(16318480.0 * 1024.0));
        assert_eq!(parse_meminfo_total_bytes("nothing"), None);
        assert_eq!(parse_cgroup_limit_bytes("max\n"), None);
        assert_eq!(parse_cgroup_limit_bytes("9223372036854771712\n"), None);
        assert_eq!(parse_cgroup_limit_bytes("4294967296\n"), Some(4294967296.0));
    }

    #[test]
    fn software_adapters_run_on_the_cpu_and_known_gpus_use_their_figures() {
        let llvmpipe = GpuDescription {
            name: "llvmpipe (LLVM 15.0.7, 256 bits)".into(),
            backend: Some("Vulkan".into()),
            unified_memory: true,
            software: true,
        };
        let p = MachineProfile::from_parts(Some(8.0), "test".into(), 2, Some(llvmpipe));
        assert_eq!(p.compute_device, "CPU");
        assert_eq!(p.memory_bandwidth_gbps, 12.0);

        let h100 = GpuDescription {
            name: "NVIDIA H100 80GB HBM3".into(),
            backend: None,
            unified_memory: false,
            software: false,
        };
        let p = MachineProfile::from_parts(Some(128.0), "test".into(), 16, Some(h100));
        assert_eq!((p.compute_device.as_str(), p.memory_bandwidth_gbps), ("GPU", 3350.0));

        let m2max = GpuDescription {
            name: "Apple M2 Max".into(),
            backend: None,
            unified_memory: true,
            software: false,
        };
        assert_eq!(
            MachineProfile::from_parts(None, "t".into(), 12, Some(m2max)).memory_bandwidth_gbps,
            400.0
        );
    }

    #[test]
    fn detection_reads_this_machine() {
        let p = MachineProfile::detect(None);
        assert_eq!(p.origin, ProfileOrigin::Detected);
        assert!(p.cpu_cores >= 1);
        if cfg!(target_os = "linux") {
            assert!(p.ram_gb.is_some_and(|r| r > 0.0), "{:?}", p.notes);
        }
    }
}
