//! Human-readable reports of a decision. The CLI only prints these; keeping the text here
//! means every front end (CLI, `fastpath run`, tests) says the same thing.

use std::fmt::Write;

use crate::decision::{Decision, MessageKind};
use crate::examples::WorkedExample;
use crate::format::{count, duration_hours, significant};
use crate::gate::GateDecision;
use crate::inputs::Provenance;
use crate::state_machine::{Node, PredicateEval, StateVisit};

fn path_text(path: &[Node]) -> String {
    path.iter().map(|n| n.id()).collect::<Vec<_>>().join(" → ")
}

fn values_text(p: &PredicateEval) -> String {
    p.values.0.iter().map(|(k, v)| format!("{k}={}", v.show())).collect::<Vec<_>>().join(", ")
}

fn gate_text(d: &Decision) -> String {
    match d.gate.decision {
        GateDecision::NotEvaluated => format!("not evaluated ({})", d.gate.source),
        other => format!("{} ({})", other.name(), d.gate.source),
    }
}

fn push_visit(out: &mut String, visit: &StateVisit) {
    let _ = writeln!(out, "  {} {}", visit.state.id(), visit.name);
    for c in &visit.computed {
        let value = c.value.map(|v| significant(v, 4)).unwrap_or_else(|| "unknown".into());
        let _ = writeln!(out, "       {} = {} = {value}", c.name, c.formula);
    }
    for p in &visit.predicates {
        let mark = if p.result { "yes" } else { "no " };
        let values = values_text(p);
        let values = if values.is_empty() { String::new() } else { format!("  [{values}]") };
        let arrow = if p.result { format!("  → {}", p.target) } else { String::new() };
        let _ = writeln!(out, "    {}. {mark} {}{values}{arrow}", p.index, p.text);
        if let (Some(r), Some(seed)) = (&p.resolution, &p.seed_text) {
            let _ = writeln!(out, "           ({r}; the seed writes: {seed})");
        }
    }
}

fn push_messages(out: &mut String, d: &Decision, indent: &str) {
    for m in &d.messages {
        let prefix = match m.kind {
            MessageKind::TellUser => "",
            MessageKind::Warning => "warning: ",
            MessageKind::Note => "note: ",
            MessageKind::Gate => "gate warning: ",
        };
        let _ = writeln!(out, "{indent}{prefix}{}", m.text);
    }
}

/// The seed's output format for T2-T9: local estimate, cloud estimate, cloud cost.
fn push_summary(out: &mut String, d: &Decision, indent: &str) {
    if let Some(s) = &d.summary {
        let _ = writeln!(out, "{indent}local estimate: {}", s.local_estimate);
        let _ = writeln!(out, "{indent}cloud estimate: {}", s.cloud_estimate);
        let _ = writeln!(out, "{indent}cloud cost:     {}", s.cloud_cost);
    }
}

fn push_plan(out: &mut String, d: &Decision, indent: &str) {
    let plan = &d.plan;
    let _ = writeln!(out, "{indent}runs on: {}", plan.runs_on);
    if !plan.stages.is_empty() {
        for (i, stage) in plan.stages.iter().enumerate() {
            for (j, detail) in stage.details.iter().enumerate() {
                let head = if j == 0 {
                    format!("stage {} ({}):", i + 1, stage.runner)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "{indent}{head:<32} {detail}");
            }
            if stage.details.is_empty() {
                let _ = writeln!(out, "{indent}stage {} ({}): nothing", i + 1, stage.runner);
            }
        }
    }
    if let Some(c) = &plan.chunking {
        let _ = writeln!(
            out,
            "{indent}chunking: {} chunks of {} GB ({})",
            c.chunks,
            significant(c.chunk_gb, 3),
            c.how
        );
    }
    if let Some(c) = &plan.cloud {
        let _ = writeln!(
            out,
            "{indent}cloud: {} x {} {} at ${}/h in total — {}; nothing is launched",
            c.count,
            c.provider,
            c.instance,
            significant(c.usd_per_hour_total, 5),
            c.note
        );
    }
}

/// The full report of `fastpath route`.
pub fn render(d: &Decision) -> String {
    let mut out = String::new();
    let ops = d.plan.operations.len();
    let ops_text = if ops == 0 {
        "given as variables".to_string()
    } else {
        format!("{ops} operation{}", if ops == 1 { "" } else { "s" })
    };
    let _ = writeln!(out, "workload  {} ({ops_text})", d.workload);
    let _ = writeln!(out, "machine   {}", d.machine.summary());
    let _ = writeln!(
        out,
        "prices    {} ({}) — {}",
        d.prices.name, d.prices.as_of, d.prices.description
    );
    let _ = writeln!(out, "gate      {}", gate_text(d));
    let _ = writeln!(out);
    let _ = writeln!(out, "decision  {} {} — {}", d.terminal, d.terminal_name, d.terminal_meaning);
    let _ = writeln!(out, "path      {}", path_text(&d.path));
    let _ = writeln!(out);
    let _ = writeln!(out, "why (predicates top to bottom, first true wins; values as seen)");
    for visit in &d.trace {
        push_visit(&mut out, visit);
    }
    if !d.messages.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "tell user");
        push_messages(&mut out, d, "  ");
    }
    if d.summary.is_some() {
        let _ = writeln!(out);
        let _ = writeln!(out, "summary");
        push_summary(&mut out, d, "  ");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "plan");
    push_plan(&mut out, d, "  ");
    if ops > 0 {
        for (op, t) in d.plan.operations.iter().zip(&d.rates.operations) {
            let _ = writeln!(
                out,
                "  {:<44} {:<40} {:>9}",
                op.describe(),
                op.kernel_route,
                duration_hours(t.seconds / 3600.0)
            );
        }
        let _ = writeln!(out, "  estimates from {}", d.rates.source);
    }
    if let Some(code) = &d.plan.framework_code {
        let _ = writeln!(out);
        let _ = writeln!(out, "{} code", if code.framework == "mlx" { "MLX" } else { "PyTorch" });
        for line in code.code.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "inputs (given | derived | default | unknown)");
    for (name, input) in d.inputs.iter() {
        let source = match input.source {
            Provenance::Given => "given",
            Provenance::Derived => "derived",
            Provenance::Default => "default",
            Provenance::Unknown => "unknown",
        };
        let how = if input.how == "given" || input.how.is_empty() {
            String::new()
        } else {
            format!("  {}", input.how)
        };
        let line = format!("  {name:<22} {:<14} {source:<8}{how}", input.value.show());
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if !d.resolutions.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "resolutions of the seed applied: {} (docs/routing.md)",
            d.resolutions.join(", ")
        );
    }
    without_trailing_spaces(&out)
}

/// Reports are compared as text in tests and pasted into issues: no invisible trailing blanks.
fn without_trailing_spaces(text: &str) -> String {
    text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
}

/// One worked example: what the seed says, what fastpath decides, and why, compactly.
pub fn render_example(ex: &WorkedExample, d: &Decision) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Example {}: {}", ex.id, ex.title);
    let _ = writeln!(out, "  seed:      {}", ex.seed_says);
    let agrees = if d.path == ex.seed_path {
        "same path as the seed".to_string()
    } else {
        format!("the seed: {}", path_text(&ex.seed_path))
    };
    let _ = writeln!(out, "  fastpath:  {} {} ({agrees})", path_text(&d.path), d.terminal_name);
    let _ = writeln!(out, "  machine:   {}", d.machine.name);
    let _ = writeln!(out, "  gate:      {}", gate_text(d));
    let why: Vec<String> = d
        .trace
        .iter()
        .map(|v| {
            let p = v.taken();
            let values = values_text(p);
            format!(
                "{}.{} {}{} → {}",
                v.state,
                p.index,
                p.text,
                if values.is_empty() { String::new() } else { format!(" [{values}]") },
                p.target
            )
        })
        .collect();
    for (i, line) in why.iter().enumerate() {
        let _ = writeln!(out, "  {}{line}", if i == 0 { "why:       " } else { "           " });
    }
    let mut told = String::new();
    push_messages(&mut told, d, "");
    for (i, line) in told.lines().enumerate() {
        let _ = writeln!(out, "  {}{line}", if i == 0 { "tell user: " } else { "           " });
    }
    let mut summary = String::new();
    push_summary(&mut summary, d, "");
    for (i, line) in summary.lines().enumerate() {
        let _ = writeln!(out, "  {}{line}", if i == 0 { "summary:   " } else { "           " });
    }
    let mut plan = String::new();
    push_plan(&mut plan, d, "");
    for (i, line) in plan.lines().enumerate() {
        let _ = writeln!(out, "  {}{line}", if i == 0 { "plan:      " } else { "           " });
    }
    if !ex.deviations.is_empty() {
        let _ = writeln!(out, "  resolved:  {} (docs/routing.md)", ex.deviations.join(", "));
    }
    let items = d.inputs.number("item_count").map(count).unwrap_or_else(|| "unknown".into());
    let size = d
        .inputs
        .number("data_size_gb")
        .map(|g| format!("{} GB", significant(g, 3)))
        .unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        out,
        "  inputs:    data_size_gb {size}, item_count {items}, prices {} ({})",
        d.prices.name, d.prices.as_of
    );
    without_trailing_spaces(&out)
}
