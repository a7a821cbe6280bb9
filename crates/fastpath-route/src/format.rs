//! Number formatting shared by messages, traces and the human report, so that every place
//! prints the same value the same way.

/// A number as a person writes it: `100`, `0.01`, `4294967296`, `3.3`.
pub fn plain_number(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{}", x as i64)
    } else {
        significant(x, 4)
    }
}

/// `x` with `digits` significant digits, trailing zeros trimmed, no exponent for
/// everyday magnitudes (1e-4 .. 1e7) and an exponent otherwise (`9.89e10`).
pub fn significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..7).contains(&magnitude) {
        let text = format!("{:.*e}", digits.saturating_sub(1), x);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A duration given in hours, in the unit that reads best: `85 µs`, `4.2 ms`, `12.3 s`,
/// `18 min`, `340.9 h`.
pub fn duration_hours(hours: f64) -> String {
    let seconds = hours * 3600.0;
    if seconds < 1e-3 {
        format!("{} µs", significant(seconds * 1e6, 2))
    } else if seconds < 1.0 {
        format!("{} ms", significant(seconds * 1e3, 2))
    } else if seconds < 60.0 {
        format!("{} s", significant(seconds, 3))
    } else if hours < 1.0 {
        format!("{} min", significant(seconds / 60.0, 3))
    } else {
        format!("{:.1} h", hours)
    }
}

/// Hours as the seed writes them in messages (`340.9h`), with a friendlier unit alongside
/// when the value is small (`0.3h (18 min)`).
pub fn hours(hours: f64) -> String {
    if hours >= 1.0 {
        format!("{hours:.1}h")
    } else if hours >= 0.1 {
        format!("{hours:.1}h ({})", duration_hours(hours))
    } else if hours >= 0.01 {
        format!("{hours:.2}h ({})", duration_hours(hours))
    } else {
        duration_hours(hours)
    }
}

/// A cost rounded to the nearest dollar, as the seed's output format asks; amounts that
/// round to zero say so instead of printing `$0`.
pub fn dollars(amount: f64) -> String {
    if amount < 0.5 { "under $1".to_string() } else { format!("${:.0}", amount.round()) }
}

/// An hourly price: `$0.17/h`, `$31.92/h`, `$0.16667/h` (prices keep the precision given).
pub fn per_hour(price: f64) -> String {
    let text = if (price * 100.0).fract().abs() < 1e-9 {
        format!("{price:.2}")
    } else {
        significant(price, 5)
    };
    format!("${text}/h")
}

/// Gigabytes with three significant digits: `30 GB`, `3.33 GB`, `0.002 GB`.
pub fn gigabytes(gb: f64) -> String {
    format!("{} GB", significant(gb, 3))
}

/// An item count with thousands separators: `4,294,967,296`.
pub fn count(x: f64) -> String {
    if !(x.is_finite() && x.fract() == 0.0 && x.abs() < 1e18) {
        return significant(x, 4);
    }
    let digits = format!("{}", x.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(plain_number(100.0), "100");
        assert_eq!(plain_number(0.01), "0.01");
        assert_eq!(significant(3.3333, 3), "3.33");
        assert_eq!(significant(0.0020000, 3), "0.002");
        assert_eq!(count(4294967296.0), "4,294,967,296");
        assert_eq!(count(999.0), "999");
    }

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(duration_hours(340.87), "340.9 h");
        assert_eq!(duration_hours(0.3), "18 min");
        assert_eq!(duration_hours(10.0 / 3600.0), "10 s");
        assert_eq!(duration_hours(0.004 / 3600.0), "4 ms");
        assert_eq!(hours(340.87), "340.9h");
        assert_eq!(hours(0.3), "0.3h (18 min)");
        assert_eq!(hours(0.05), "0.05h (3 min)");
        assert_eq!(hours(6.4e-9), "23 µs");
        assert_eq!(significant(98857206796.0, 3), "9.89e10");
        assert_eq!(significant(1e-9, 4), "1e-9");
    }

    #[test]
    fn money_rounds_to_dollars() {
        assert_eq!(dollars(57.95), "$58");
        assert_eq!(dollars(0.2), "under $1");
        assert_eq!(per_hour(0.17), "$0.17/h");
        assert_eq!(per_hour(0.16667), "$0.16667/h");
        assert_eq!(per_hour(23.92), "$23.92/h");
    }
}
