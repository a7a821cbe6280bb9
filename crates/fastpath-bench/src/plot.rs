//! Charts of a report: throughput against size, one panel per domain, one line per backend
//! and peer. A line is the geometric mean, over the domain's kernels that series measured, of
//! the effective throughput (the kernel's cost-model bytes over its median time), so fastpath
//! and a peer are measured by the same yardstick.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::profile::write_atomically;
use crate::report::Report;
use crate::stats::geomean;

/// The charts' font, embedded so output is identical on every machine (see
/// `assets/LICENSE-DejaVu.txt`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const PANEL_WIDTH: u32 = 640;
const PANEL_HEIGHT: u32 = 420;

/// Output formats, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    pub fn from_path(path: &Path) -> Result<PlotFormat, String> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(PlotFormat::Svg),
            Some("png") => Ok(PlotFormat::Png),
            _ => Err(format!("--plot {}: expected a file ending in .svg or .png", path.display())),
        }
    }
}

/// One line of a chart: (log2 n, GB/s) points and how many kernels it averages.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    kernels: usize,
    fastpath: bool,
}

fn series_of(report: &Report, domain: &str) -> Vec<Series> {
    // series name → n → kernel → GB/s
    let mut acc: BTreeMap<String, BTreeMap<usize, BTreeMap<&str, f64>>> = BTreeMap::new();
    for r in report.rows.iter().filter(|r| r.domain == domain) {
        let name = format!("fastpath {}", r.backend);
        acc.entry(name).or_default().entry(r.n).or_default().insert(&r.kernel, r.gbps);
        for p in &r.peers {
            if p.agrees == Some(false) || p.median_s <= 0.0 {
                continue;
            }
            let gbps = r.bytes / p.median_s / 1e9;
            acc.entry(p.peer.clone()).or_default().entry(r.n).or_default().insert(&r.kernel, gbps);
        }
    }
    let mut out: Vec<Series> = acc
        .into_iter()
        .map(|(name, by_n)| {
            let kernels = by_n.values().map(BTreeMap::len).max().unwrap_or(0);
            let points = by_n
                .iter()
                .filter_map(|(n, ks)| {
                    geomean(ks.values().copied()).map(|g| ((*n as f64).log2(), g))
                })
                .collect();
            Series { fastpath: name.starts_with("fastpath"), name, points, kernels }
        })
        .filter(|s: &Series| !s.points.is_empty())
        .collect();
    // fastpath first, then peers.
    out.sort_by_key(|s| (!s.fastpath, s.name.clone()));
    out
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

fn domains(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &report.rows {
        if !out.contains(&r.domain) {
            out.push(r.domain.clone());
        }
    }
    out
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, report: &Report) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("drawing the chart: {e}");
    root.fill(&WHITE).map_err(err)?;
    let domains = domains(report);
    let cols = if domains.len() > 1 { 2 } else { 1 };
    let rows = domains.len().div_ceil(cols).max(1);
    let panels = root.split_evenly((rows, cols));
    let device =
        report.meta.gpu.adapter.as_ref().map_or("CPU only".to_string(), |a| a.name.clone());
    for (panel, domain) in panels.iter().zip(&domains) {
        let series = series_of(report, domain);
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
        let (x_lo, x_hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let (y_lo, y_hi) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        if x_lo > x_hi {
            continue;
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{domain} — {device}"), ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_lo - 0.5..x_hi + 0.5, (y_lo * 0.6..y_hi * 1.8).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("n (elements)")
            .y_desc("GB/s (geomean over kernels)")
            .x_labels(((x_hi - x_lo) as usize + 2).min(12))
            .x_label_formatter(&|x| format!("2^{}", x.round() as i64))
            .y_label_formatter(&|y| if *y >= 10.0 { format!("{y:.0}") } else { format!("{y:.2}") })
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let c = color(i);
            let width = if s.fastpath { 3 } else { 2 };
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(width)))
                .map_err(err)?
                .label(format!("{} ({} kernels)", s.name, s.kernels))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                });
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

fn register() {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // The font is a compile-time constant; a failure here is a broken build, caught by
        // the plot test.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Renders the charts of `report` as SVG or PNG bytes.
pub fn render(report: &Report, format: PlotFormat) -> Result<Vec<u8>, String> {
    register();
    let panels = domains(report).len().max(1);
    let cols = if panels > 1 { 2 } else { 1 };
    let (w, h) = (PANEL_WIDTH * cols as u32, PANEL_HEIGHT * panels.div_ceil(cols) as u32);
    match format {
        PlotFormat::Svg => {
            let mut svg = String::new();
            draw(SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(), report)?;
            Ok(svg.into_bytes())
        }
        PlotFormat::Png => {
            let mut rgb = vec![255u8; (w * h * 3) as usize];
            draw(BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(), report)?;
            let mut bytes = Vec::new();
            let mut encoder = png::Encoder::new(&mut bytes, w, h);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(|e| format!("encoding PNG: {e}"))?;
            writer.write_image_data(&rgb).map_err(|e| format!("encoding PNG: {e}"))?;
            writer.finish().map_err(|e| format!("encoding PNG: {e}"))?;
            Ok(bytes)
        }
    }
}

/// Renders and writes the charts (atomically; the format follows the extension).
pub fn write(report: &Report, path: &Path) -> Result<(), String> {
    let bytes = render(report, PlotFormat::from_path(path)?)?;
    write_atomically(path, &bytes)
}
