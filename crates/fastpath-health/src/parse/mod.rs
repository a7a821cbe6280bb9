//! Pure parsers: text in, typed value or a one-line reason out. No I/O, no platform `cfg`, so
//! every parser (macOS ones included) is tested on any machine against recorded outputs.

pub mod linux;
pub mod macos;
pub mod nvidia;

/// Parses a decimal number written with either `.` or `,` as the decimal separator (macOS
/// `sysctl` prints `1,38` under a German locale). Rejects NaN, infinities and thousands
/// separators such as `1.234,5`, which no probe source prints.
pub(crate) fn parse_decimal(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let separators = trimmed.matches([',', '.']).count();
    if separators > 1 {
        return Err(format!("`{trimmed}` is not a plain decimal number"));
    }
    let normalized = trimmed.replace(',', ".");
    // Only digits, one separator and a sign: "NaN", "inf" and "1e3" are not readings.
    let plain = normalized.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
    match normalized.parse::<f64>() {
        Ok(value) if plain && value.is_finite() => Ok(value),
        _ => Err(format!("`{trimmed}` is not a number")),
    }
}

/// Parses a non-negative integer, trimming whitespace.
pub(crate) fn parse_u64(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    trimmed.parse::<u64>().map_err(|_| format!("`{trimmed}` is not a non-negative integer"))
}

/// Shortens text quoted in an error message so one bad file cannot flood the output.
pub(crate) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 60;
    let line = text.trim().lines().next().unwrap_or("");
    if line.chars().count() > LIMIT {
        format!("{}…", line.chars().take(LIMIT).collect::<String>())
    } else if line.is_empty() {
        "(empty)".to_string()
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_in_either_locale() {
        assert_eq!(parse_decimal("2.34"), Ok(2.34));
        assert_eq!(parse_decimal(" 1,38 "), Ok(1.38));
        assert_eq!(parse_decimal("7"), Ok(7.0));
        assert!(parse_decimal("1.234,5").is_err());
        assert!(parse_decimal("NaN").is_err());
        assert!(parse_decimal("inf").is_err());
        assert!(parse_decimal("1e3").is_err());
        assert!(parse_decimal("").is_err());
        assert!(parse_decimal("abc").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u64(" 42\n"), Ok(42));
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("4.5").is_err());
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("  \n"), "(empty)");
        assert_eq!(excerpt("first\nsecond"), "first");
        assert_eq!(excerpt(&"x".repeat(100)).chars().count(), 61);
    }
}
