//! Human-readable forms of a [`Report`]: the terminal table and the Markdown report that
//! BENCHMARKS.md is assembled from.

use std::fmt::Write;

use crate::profile::{Backend, format_seconds};
use crate::report::{Report, Row, peer_columns, targets};
use crate::run::chain_line;
use crate::sizes::format_size;

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |p| if p >= 10.0 { format!("{p:.0}%") } else { format!("{p:.1}%") })
}

fn rate(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn ratio_cell(row: &Row, peer: &str) -> String {
    match row.peers.iter().find(|p| p.peer == peer) {
        None => "".into(),
        Some(p) => match (p.ratio, p.agrees) {
            (Some(r), Some(false)) => format!("≠{r:.2}×"),
            (Some(r), _) => format!("{r:.2}×"),
            (None, _) => "-".into(),
        },
    }
}

fn device_line(report: &Report) -> String {
    let h = &report.meta.host;
    let gpu = match &report.meta.gpu.adapter {
        Some(a) => format!(
            "{} ({}, {}, {}{})",
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            if a.timestamps { "" } else { ", no timestamps" }
        ),
        None => {
            format!("not measured ({})", report.meta.gpu.reason.as_deref().unwrap_or("unavailable"))
        }
    };
    format!("CPU: {} ({} threads, {} {}) · GPU: {gpu}", h.cpu, h.logical_cores, h.os, h.arch)
}

fn ceiling_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for backend in [Backend::Cpu, Backend::Gpu] {
        if let Some(c) = report.ceilings.of(backend) {
            lines.push(format!(
                "{backend}: copy {} GB/s ({}); peak {} GFLOP/s",
                rate(c.copy.gbps),
                c.copy.method,
                c.peak_gflops.map_or("-".into(), rate)
            ));
        }
    }
    if let Some(s) = &report.dispatch.gpu_submit_wait {
        lines.push(format!(
            "gpu: one dispatch submitted and waited for: {} (median)",
            format_seconds(s.median)
        ));
    }
    if let Some(c) = &report.dispatch.gpu_chain {
        lines.push(format!("gpu: {}", chain_line(c, Backend::Gpu)));
    }
    if let Some(c) = &report.dispatch.cpu_chain {
        lines.push(format!("cpu: {}", chain_line(c, Backend::Cpu)));
    }
    if let Some(t) = &report.dispatch.transfer {
        lines.push(format!(
            "transfers: host→device {} GB/s, device→host {} GB/s",
            rate(t.host_to_device_gbps),
            rate(t.device_to_host_gbps)
        ));
    }
    lines
}

fn peer_lines(report: &Report) -> Vec<String> {
    let Some(p) = &report.peers else { return Vec::new() };
    let mut lines = Vec::new();
    let available: Vec<String> =
        p.available.iter().map(|a| format!("{} {} ({})", a.name, a.version, a.device)).collect();
    lines.push(format!(
        "peers: {}",
        if available.is_empty() { "none available".into() } else { available.join(", ") }
    ));
    for m in &p.missing {
        lines.push(format!("missing peer: {} — {}", m.name, m.reason));
    }
    for d in &p.disagreements {
        lines.push(format!(
            "peer result differs (ratios marked ≠, left out of the means): {} {}: {}",
            d.peer, d.kernel, d.message
        ));
    }
    for e in &p.errors {
        lines.push(format!(
            "peer call failed: {} {} n={}: {}",
            e.peer,
            e.kernel,
            e.n.map_or("-".into(), format_size),
            e.message
        ));
    }
    if !p.unmapped.is_empty() {
        let list: Vec<String> =
            p.unmapped.iter().map(|(k, libs)| format!("{k} ({})", libs.join(", "))).collect();
        lines.push(format!("no peer equivalent: {}", list.join("; ")));
    }
    lines
}

fn summary_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for r in &report.summary.peer_ratios {
        lines.push(format!(
            "geomean ratio vs {} ({} rows): {:.2}× (at each kernel's largest size: {})",
            r.peer,
            r.rows,
            r.geomean,
            r.geomean_at_largest.map_or("-".into(), |g| format!("{g:.2}×"))
        ));
    }
    for m in &report.summary.below_target {
        lines.push(format!(
            "below target: {} {} {}: {}",
            m.kernel,
            format_size(m.n),
            m.backend,
            m.what
        ));
    }
    for c in &report.summary.crossovers {
        lines.push(format!("crossover {}: {}", c.kernel, c.note));
    }
    if let Some(r) = &report.regret {
        let totals = |t: &crate::stats::RegretTotals| {
            format!(
                "geomean {:.1}%, worst {:.1}%{} over {} decisions ({} best)",
                t.geomean * 100.0,
                t.worst * 100.0,
                t.worst_case.as_ref().map_or(String::new(), |w| format!(" ({w})")),
                t.decisions,
                t.best_chosen
            )
        };
        lines.push(format!(
            "regret of auto ({}{}): {}; targets ≤ {:.0}% / ≤ {:.0}%",
            r.auto_basis,
            r.profile.as_ref().map_or(String::new(), |p| format!(" {p}")),
            totals(&r.auto),
            r.target_geomean * 100.0,
            r.target_worst * 100.0
        ));
        if let Some(first) = &r.first_pass {
            lines.push(format!(
                "regret: {} contested cases (backends within {:.0}× of each other) measured \
                 twice more, the median of three walls kept; on the first measurement alone auto's \
                 regret was {}",
                r.remeasured_cases,
                crate::calibrate::DECISIVE_RATIO,
                totals(first)
            ));
        }
        lines.push(format!("regret of the fallback rule: {}", totals(&r.rule)));
    }
    for s in &report.skipped {
        lines.push(format!(
            "skipped {} {}{}: {}",
            s.kernel,
            format_size(s.n),
            s.backend.map_or(String::new(), |b| format!(" {b}")),
            s.reason
        ));
    }
    lines
}

/// The terminal report: a header, one line per row, then the summary.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", device_line(report));
    for l in ceiling_lines(report) {
        let _ = writeln!(out, "{l}");
    }
    let peers = peer_columns(&report.rows);
    let _ = write!(
        out,
        "\n{:<26} {:>6} {:<4} {:>10} {:>6} {:>8} {:>8} {:>11} {:>10}",
        "kernel", "n", "on", "median", "spread", "GB/s", "GFLOP/s", "of ceiling", "wall"
    );
    for p in &peers {
        let _ = write!(out, " {p:>11}");
    }
    let _ = writeln!(out);
    for r in &report.rows {
        let _ = write!(
            out,
            "{:<26} {:>6} {:<4} {:>10} {:>5.1}% {:>8} {:>8} {:>11} {:>10}",
            r.kernel,
            format_size(r.n),
            r.backend.name(),
            format_seconds(r.median_s),
            r.spread_pct,
            rate(r.gbps),
            rate(r.gflops),
            format!("{} {}", pct(r.pct_of_ceiling), r.ceiling),
            format_seconds(r.wall.median)
        );
        for p in &peers {
            let _ = write!(out, " {:>11}", ratio_cell(r, p));
        }
        let _ = writeln!(out);
    }
    let lines: Vec<String> = peer_lines(report).into_iter().chain(summary_lines(report)).collect();
    if !lines.is_empty() {
        let _ = writeln!(out);
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    if report.peers.is_some() {
        let _ =
            writeln!(out, "(peer columns: peer time / fastpath time; above 1 fastpath is faster)");
    }
    out
}

/// The Markdown report: device, date, commit and command, the ceilings, the summary (peer
/// ratios, targets missed, crossovers, regret), then one table per domain.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.meta;
    let gpu_name = m.gpu.adapter.as_ref().map_or("no GPU".to_string(), |a| a.name.clone());
    let _ = writeln!(out, "## {} · {}\n", m.host.cpu, gpu_name);
    let _ = writeln!(out, "- **Device**: {}", device_line(report));
    let _ = writeln!(out, "- **Date**: {}", m.date);
    let _ = writeln!(out, "- **Commit**: {}", m.commit.as_deref().unwrap_or("unknown"));
    let _ = writeln!(out, "- **Command**: `{}`", m.command);
    let _ = writeln!(
        out,
        "- **Method**: median of {} repetitions after {} warm-up runs{}; inputs rotated between copies when they fit in caches; GPU times from timestamp queries on device-resident data, wall times include submitting and waiting; GB/s and GFLOP/s from each kernel's cost model; % of ceiling against the copy bandwidth (memory-bound and fused kernels) or peak FLOP/s (compute-bound ones) measured in this run. Run took {:.0} s.",
        if m.policy.min_reps == m.policy.max_reps {
            m.policy.min_reps.to_string()
        } else {
            format!("{}–{}", m.policy.min_reps, m.policy.max_reps)
        },
        m.policy.warmup_runs,
        m.policy
            .budget_seconds
            .map_or(String::new(), |b| format!(" (at most {} per case)", format_seconds(b))),
        m.seconds
    );
    let _ = writeln!(out, "\n### Ceilings and fixed costs\n");
    for l in ceiling_lines(report) {
        let _ = writeln!(out, "- {l}");
    }
    let peer_text = peer_lines(report);
    if !peer_text.is_empty() {
        let _ = writeln!(out, "\n### Peers\n");
        for l in peer_text {
            let _ = writeln!(out, "- {l}");
        }
    }
    let _ = writeln!(out, "\n### Summary\n");
    if !report.summary.peer_ratios.is_empty() {
        let _ = writeln!(
            out,
            "Geometric-mean ratio, peer time / fastpath time (above 1: fastpath faster):\n"
        );
        let _ = writeln!(
            out,
            "| peer | fastpath backend | rows | all sizes | largest size per kernel |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for r in &report.summary.peer_ratios {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2}× | {} |",
                r.peer,
                r.backend,
                r.rows,
                r.geomean,
                r.geomean_at_largest.map_or("-".into(), |g| format!("{g:.2}×"))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Targets (issue 2, judged at each kernel's largest size when it is at least 2^20): memory-bound kernels ≥ {:.0}% (CPU) / ≥ {:.0}% (GPU) of copy bandwidth; not slower than numpy (CPU); within 1.1× of PyTorch CUDA (GPU); and ≤ {:.0} µs per call with 100 calls in one GPU batch.\n",
        targets::CPU_PCT_OF_COPY,
        targets::GPU_PCT_OF_COPY,
        targets::GPU_CHAIN_PER_CALL_S * 1e6
    );
    if report.summary.below_target.is_empty() {
        let _ = writeln!(out, "Below target: none.\n");
    } else {
        let _ = writeln!(out, "Below target:\n");
        for miss in &report.summary.below_target {
            let _ = writeln!(
                out,
                "- {} at {} on {}: {}",
                miss.kernel,
                format_size(miss.n),
                miss.backend,
                miss.what
            );
        }
        let _ = writeln!(out);
    }
    if !report.summary.crossovers.is_empty() {
        let _ = writeln!(out, "CPU/GPU crossover (wall time per standalone call):\n");
        let _ = writeln!(out, "| kernel | crossover | note |");
        let _ = writeln!(out, "|---|---:|---|");
        for c in &report.summary.crossovers {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                c.kernel,
                c.crossover_n.map_or("-".into(), format_size),
                c.note
            );
        }
        let _ = writeln!(out);
    }
    if let Some(r) = &report.regret {
        let _ =
            writeln!(out, "Routing regret (time of the choice / time of the best backend − 1):\n");
        let _ =
            writeln!(out, "| policy | decisions | best chosen | geomean | worst | worst case |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
        let policies = [
            Some((format!("auto ({})", r.auto_basis), &r.auto)),
            Some(("fallback rule".to_string(), &r.rule)),
            r.first_pass.as_ref().map(|t| ("auto, first measurement only".to_string(), t)),
        ];
        for (name, t) in policies.into_iter().flatten() {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {:.1}% | {:.1}% | {} |",
                t.decisions,
                t.best_chosen,
                t.geomean * 100.0,
                t.worst * 100.0,
                t.worst_case.as_deref().unwrap_or("-")
            );
        }
        let _ = writeln!(
            out,
            "\nTargets: geometric mean ≤ {:.0}%, worst ≤ {:.0}%.{}{}\n",
            r.target_geomean * 100.0,
            r.target_worst * 100.0,
            r.profile.as_ref().map_or(String::new(), |p| format!(" Profile: `{p}`.")),
            if r.first_pass.is_some() {
                format!(
                    " The {} contested cases (backends within {:.0}× of each other) were measured \
                     twice more and the median of each backend's three walls kept before scoring.",
                    r.remeasured_cases,
                    crate::calibrate::DECISIVE_RATIO
                )
            } else {
                String::new()
            }
        );
    }
    let peers = peer_columns(&report.rows);
    let mut domains: Vec<&str> = report.rows.iter().map(|r| r.domain.as_str()).collect();
    domains.dedup();
    let mut seen = std::collections::BTreeSet::new();
    domains.retain(|d| seen.insert(*d));
    for domain in domains {
        let _ = writeln!(out, "### {domain}\n");
        let mut header =
            "| kernel | n | backend | median | spread | GB/s | GFLOP/s | of ceiling | wall |"
                .to_string();
        let mut rule = "|---|---:|---|---:|---:|---:|---:|---:|---:|".to_string();
        for p in &peers {
            header.push_str(&format!(" {p} |"));
            rule.push_str("---:|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        let mut rows: Vec<&Row> = report.rows.iter().filter(|r| r.domain == domain).collect();
        rows.sort_by(|a, b| (&a.kernel, a.n, a.backend).cmp(&(&b.kernel, b.n, b.backend)));
        for r in rows {
            let mut line = format!(
                "| {} | {} | {} | {} | {:.1}% | {} | {} | {} {} | {} |",
                r.kernel,
                format_size(r.n),
                r.backend,
                format_seconds(r.median_s),
                r.spread_pct,
                rate(r.gbps),
                rate(r.gflops),
                pct(r.pct_of_ceiling),
                r.ceiling,
                format_seconds(r.wall.median)
            );
            for p in &peers {
                line.push_str(&format!(" {} |", ratio_cell(r, p)));
            }
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
    }
    if let Some(p) = &report.peers
        && (!p.calls.is_empty() || !p.unmapped.is_empty())
    {
        let _ = writeln!(out, "### Peer calls\n");
        let _ = writeln!(out, "| kernel | calls timed | no equivalent in |");
        let _ = writeln!(out, "|---|---|---|");
        let kernels: std::collections::BTreeSet<&String> =
            p.calls.keys().chain(p.unmapped.keys()).collect();
        for k in kernels {
            let calls: Vec<String> = p
                .calls
                .get(k)
                .map(|c| c.iter().map(|(lib, call)| format!("{lib}: `{call}`")).collect())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {k} | {} | {} |",
                calls.join("<br>"),
                p.unmapped.get(k).map_or("-".into(), |l| l.join(", "))
            );
        }
        let _ = writeln!(out);
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(out, "### Skipped\n");
        for s in &report.skipped {
            let _ = writeln!(
                out,
                "- {} at {}{}: {}",
                s.kernel,
                format_size(s.n),
                s.backend.map_or(String::new(), |b| format!(" on {b}")),
                s.reason
            );
        }
    }
    out
}
