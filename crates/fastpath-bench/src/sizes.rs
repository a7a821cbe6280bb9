//! Size lists as users type them: `2^10..2^26` (powers of two, ×4 apart), `2^10..2^20:x2`
//! (another factor), `1000,4096,2^20` (a list), or a mix.

/// Step between sizes of a range when none is given. ×4 keeps a 2^10..2^26 sweep at nine
/// sizes, enough to see where curves bend without doubling the run time.
pub const DEFAULT_RANGE_FACTOR: usize = 4;

/// Parses a size list; the result is sorted and free of duplicates.
pub fn parse_sizes(text: &str) -> Result<Vec<usize>, String> {
    let mut sizes = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("empty entry in size list {text:?}"));
        }
        if let Some((lo, rest)) = item.split_once("..") {
            let (hi, factor) = match rest.split_once(':') {
                Some((hi, step)) => (hi, parse_factor(step, item)?),
                None => (rest, DEFAULT_RANGE_FACTOR),
            };
            let (lo, hi) = (parse_size(lo)?, parse_size(hi)?);
            if lo > hi {
                return Err(format!("size range {item:?} runs backwards ({lo} > {hi})"));
            }
            let mut n = lo;
            while n <= hi {
                sizes.push(n);
                match n.checked_mul(factor) {
                    Some(next) => n = next,
                    None => break,
                }
            }
        } else {
            sizes.push(parse_size(item)?);
        }
    }
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

fn parse_factor(step: &str, item: &str) -> Result<usize, String> {
    let digits = step.trim().trim_start_matches(['x', 'X', '*']);
    match digits.parse::<usize>() {
        Ok(f) if f >= 2 => Ok(f),
        _ => Err(format!("bad step in {item:?}: expected :x2, :x4, ... (a factor of at least 2)")),
    }
}

/// One size: a positive integer or `2^k`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let expected = "expected a size such as 4096 or 2^20, a range 2^10..2^26[:x2], or a list";
    let n = if let Some(exp) = t.strip_prefix("2^") {
        let exp: u32 = exp.parse().map_err(|_| format!("bad size {t:?}: {expected}"))?;
        if exp >= 48 {
            return Err(format!("size {t} is too large (at most 2^47)"));
        }
        1usize << exp
    } else {
        t.replace('_', "").parse::<usize>().map_err(|_| format!("bad size {t:?}: {expected}"))?
    };
    if n == 0 {
        return Err(format!("size {t:?} must be at least 1"));
    }
    Ok(n)
}

/// `2^k` for powers of two, the plain number otherwise (table and chart labels).
pub fn format_size(n: usize) -> String {
    if n.is_power_of_two() && n >= 16 { format!("2^{}", n.trailing_zeros()) } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_steps() {
        assert_eq!(parse_sizes("2^10..2^16").unwrap(), vec![1 << 10, 1 << 12, 1 << 14, 1 << 16]);
        assert_eq!(parse_sizes("2^10..2^12:x2").unwrap(), vec![1024, 2048, 4096]);
        assert_eq!(parse_sizes("2^4..2^6:2").unwrap(), vec![16, 32, 64]);
        assert_eq!(parse_sizes("1000, 2^10,1000").unwrap(), vec![1000, 1024]);
        assert_eq!(parse_sizes("1_000_000").unwrap(), vec![1_000_000]);
        // A range whose top is not on the grid stops below it.
        assert_eq!(parse_sizes("2^10..5000").unwrap(), vec![1024, 4096]);
        assert_eq!(parse_sizes("7").unwrap(), vec![7]);
    }

    #[test]
    fn bad_sizes_say_what_was_expected() {
        for bad in ["", "2^", "2^x", "ten", "0", "2^12..2^10", "2^10..2^12:x1", "1,,2", "2^60"] {
            let e = parse_sizes(bad).unwrap_err();
            assert!(!e.is_empty() && !e.contains('\n'), "{bad:?}: {e}");
        }
        assert!(parse_sizes("ten").unwrap_err().contains("2^20"));
    }

    #[test]
    fn labels() {
        assert_eq!(format_size(1 << 20), "2^20");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(8), "8");
    }
}
