//! Time and cost estimates: the local estimate, and every cloud option the price table offers
//! that makes sense for the workload. The terminal's messages pick the relevant one.
//!
//! Formulas (seed S4, S5, T3-T6), with the price table's numbers in place of the seed's
//! constants:
//! * DigitalOcean fleet: time = local_time_hours / droplets; cost = time x droplets x price.
//!   Like the seed, this assumes each droplet processes items at this machine's rate.
//! * Lambda 8x H100: the seed leaves `gpu_time` undefined. Here gpu_time = local time x
//!   (roofline time on 8 H100 SXM) / (roofline time on this machine), using the workload's
//!   bytes and flops, i.e. this machine's estimate scaled by the hardware ratio.
//! * AWS p5 (T4): nodes = ceil(data_size_gb / 640); time = the 8x H100 time / nodes.
//! * One large droplet (T5): the cheapest droplet with data_size_gb of RAM, for the local time.

use serde::Serialize;

use crate::inputs::ResolvedInputs;
use crate::prices::PriceTable;

/// H100 SXM5: 3.35 TB/s HBM3, 67 TFLOPS f32 (non-tensor), 80 GB (NVIDIA datasheet).
pub const H100_BANDWIDTH_GBPS: f64 = 3350.0;
pub const H100_FP32_TFLOPS: f64 = 67.0;
pub const H100_MEMORY_GB: f64 = 80.0;
/// GPUs in a Lambda 8x H100 instance and in an AWS p5.48xlarge node.
pub const GPUS_PER_NODE: f64 = 8.0;
/// Memory of one 8x H100 node (the seed's S2 threshold): 8 x 80 GB.
pub const NODE_GPU_MEMORY_GB: f64 = GPUS_PER_NODE * H100_MEMORY_GB;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalEstimate {
    pub time_hours: Option<f64>,
    pub rate_items_per_s: Option<f64>,
    /// `given local_time_hours`, `given item_count and local_rate`, or the rate source(s) of
    /// the operation estimates.
    pub source: String,
    /// "GPU" or "CPU" of the machine profile.
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetEstimate {
    /// Whether the items are independent (is_parallel or parallel_across_items): only then can
    /// a fleet split them; T6 reached from S6 assumes the workload can be split into stages.
    pub items_independent: bool,
    pub droplets: u32,
    pub droplet: String,
    pub usd_per_hour_each: f64,
    pub time_hours: f64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuNodeEstimate {
    pub instance: String,
    pub nodes: u32,
    /// Price of all nodes together.
    pub usd_per_hour: f64,
    pub time_hours: Option<f64>,
    pub cost_usd: Option<f64>,
    /// How much faster one 8x H100 node is than this machine for this workload.
    pub speedup_vs_local: f64,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropletEstimate {
    pub droplet: String,
    pub ram_gb: f64,
    pub usd_per_hour: f64,
    /// False when no droplet of the table has data_size_gb of RAM (the largest is shown).
    pub fits: bool,
    pub time_hours: Option<f64>,
    pub cost_usd: Option<f64>,
}

/// Every estimate the workload allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimates {
    pub local: LocalEstimate,
    /// Needs a local time.
    pub do_fleet: Option<FleetEstimate>,
    pub lambda_8x_h100: GpuNodeEstimate,
    pub aws_p5: GpuNodeEstimate,
    /// Needs data_size_gb.
    pub do_single: Option<DropletEstimate>,
}

/// Roofline seconds of the workload on a device.
fn roofline(bytes: f64, flops: f64, bandwidth_gbps: f64, tflops: f64) -> f64 {
    (bytes / (bandwidth_gbps * 1e9)).max(flops / (tflops * 1e12))
}

pub fn estimate(inputs: &ResolvedInputs, prices: &PriceTable) -> Estimates {
    let m = &inputs.inputs;
    let local_time = m.number("local_time_hours");
    let local = LocalEstimate {
        time_hours: local_time,
        rate_items_per_s: m.number("local_rate"),
        source: inputs.rate_source.clone(),
        device: inputs.machine.compute_device.clone(),
    };

    let splittable =
        m.flag("parallel_across_items").unwrap_or(false) || m.flag("is_parallel").unwrap_or(false);
    let do_fleet = match local_time {
        Some(t) => {
            let n = prices.do_fleet.droplets as f64;
            let time = t / n;
            Some(FleetEstimate {
                items_independent: splittable,
                droplets: prices.do_fleet.droplets,
                droplet: prices.do_fleet.droplet.clone(),
                usd_per_hour_each: prices.do_fleet.usd_per_hour,
                time_hours: time,
                cost_usd: time * n * prices.do_fleet.usd_per_hour,
            })
        }
        None => None,
    };

    // Speed of one 8x H100 node relative to this machine, from the workload's bytes and flops.
    let (bytes, flops) = inputs.work_totals();
    let machine = &inputs.machine;
    let node_bw = GPUS_PER_NODE * H100_BANDWIDTH_GBPS;
    let node_tf = GPUS_PER_NODE * H100_FP32_TFLOPS;
    let (speedup, method) = if bytes > 0.0 || flops > 0.0 {
        let here = roofline(bytes, flops, machine.memory_bandwidth_gbps, machine.peak_tflops);
        let there = roofline(bytes, flops, node_bw, node_tf);
        (here / there, "local time x roofline(8x H100) / roofline(this machine) for the workload's bytes and flops".to_string())
    } else {
        (
            node_bw / machine.memory_bandwidth_gbps,
            "local time x bandwidth ratio (the workload gives no bytes or flops)".to_string(),
        )
    };
    let gpu_time = local_time.map(|t| t / speedup);
    let lambda_price = prices.lambda_8x_h100.usd_per_hour;
    let lambda_8x_h100 = GpuNodeEstimate {
        instance: "Lambda gpu_8x_h100_sxm5".into(),
        nodes: 1,
        usd_per_hour: lambda_price,
        time_hours: gpu_time,
        cost_usd: gpu_time.map(|t| t * lambda_price),
        speedup_vs_local: speedup,
        method: method.clone(),
    };

    let data = m.number("data_size_gb");
    let nodes = data.map(|d| (d / NODE_GPU_MEMORY_GB).ceil().max(1.0)).unwrap_or(1.0);
    let p5_price = prices.aws_p5_48xlarge.usd_per_hour * nodes;
    let p5_time = gpu_time.map(|t| t / nodes);
    let aws_p5 = GpuNodeEstimate {
        instance: "AWS p5.48xlarge".into(),
        nodes: nodes as u32,
        usd_per_hour: p5_price,
        time_hours: p5_time,
        cost_usd: p5_time.map(|t| t * p5_price),
        speedup_vs_local: speedup * nodes,
        method: format!("{method}, split over ceil(data_size_gb / {NODE_GPU_MEMORY_GB}) nodes"),
    };

    let do_single = data.map(|d| {
        let (offer, fits) = match prices.droplet_for(d) {
            Some(o) => (o, true),
            None => (prices.largest_droplet(), false),
        };
        DropletEstimate {
            droplet: offer.slug.clone(),
            ram_gb: offer.ram_gb,
            usd_per_hour: offer.usd_per_hour,
            fits,
            time_hours: local_time,
            cost_usd: local_time.map(|t| t * offer.usd_per_hour),
        }
    });

    Estimates { local, do_fleet, lambda_8x_h100, aws_p5, do_single }
}

impl Estimates {
    /// Every number in the estimates with its name, for checks that they are finite and
    /// non-negative.
    pub fn numbers(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = Vec::new();
        let mut push = |name: &str, x: Option<f64>| {
            if let Some(x) = x {
                out.push((name.to_string(), x));
            }
        };
        push("local.time_hours", self.local.time_hours);
        push("local.rate_items_per_s", self.local.rate_items_per_s);
        if let Some(f) = &self.do_fleet {
            push("do_fleet.time_hours", Some(f.time_hours));
            push("do_fleet.cost_usd", Some(f.cost_usd));
        }
        for (prefix, g) in [("lambda_8x_h100", &self.lambda_8x_h100), ("aws_p5", &self.aws_p5)] {
            push(&format!("{prefix}.usd_per_hour"), Some(g.usd_per_hour));
            push(&format!("{prefix}.time_hours"), g.time_hours);
            push(&format!("{prefix}.cost_usd"), g.cost_usd);
            push(&format!("{prefix}.speedup_vs_local"), Some(g.speedup_vs_local));
        }
        if let Some(d) = &self.do_single {
            push("do_single.usd_per_hour", Some(d.usd_per_hour));
            push("do_single.time_hours", d.time_hours);
            push("do_single.cost_usd", d.cost_usd);
        }
        out
    }
}
