//! The seed's cooling and placement guidance, shown when a thermal warning fires, and its
//! advice for long runs, given before they start.

/// Shown with every thermal warning (gate or monitor), in the seed's order.
pub fn cooling_guidance() -> &'static [&'static str] {
    &[
        "Move the laptop to a hard, flat surface (desk, table or countertop), never a lap, bed, blanket or couch cushion: they block the bottom vents.",
        "Use a fan pad or laptop stand if available: even a few cm of elevation helps airflow.",
        "Close the lid partially if using an external display: it reduces heat from the display backlight.",
        "Kill background GPU consumers: browsers with WebGL, video playback, screen recording.",
        "Wait 2-3 minutes after a thermal warning before launching heavy compute: let the chip cool below its throttle threshold.",
    ]
}

/// Workloads estimated longer than this get [`long_run_advice`] before they start.
pub const LONG_RUN_HOURS: f64 = 0.5;

/// The seed's upfront advice for sustained compute (> 30 minutes).
pub fn long_run_advice(local_time_hours: f64) -> String {
    format!(
        "This workload is estimated at {local_time_hours:.1}h of sustained compute: plug into AC power and put the machine on a hard, ventilated surface before it starts."
    )
}
