//! WGSL assembly. fastpath's shaders are plain WGSL files; a kernel's final source is the
//! concatenation of shared pieces plus `{{NAME}}` substitutions (e.g. the operator of a map).
//! Keeping preprocessing this small means every shader is still readable as WGSL and the
//! pipeline cache key (a hash of the final text) changes whenever any piece changes.

/// Joins WGSL pieces and substitutes `{{KEY}}` placeholders. Panics on a placeholder left
/// unsubstituted: that is a bug in the kernel's Rust code, caught by the first test that
/// builds the shader.
pub fn compose(pieces: &[&str], substitutions: &[(&str, &str)]) -> String {
    let mut source = pieces.join("\n");
    for (key, value) in substitutions {
        source = source.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(start) = source.find("{{") {
        let end = source[start..].find("}}").map(|e| start + e + 2).unwrap_or(source.len());
        panic!("unsubstituted WGSL placeholder {}", &source[start..end]);
    }
    source
}

/// Spreads `workgroups` over x and y so no dimension exceeds `max_per_dim` (65535 on most
/// devices). Shaders recover the linear index as `wid.x + wid.y * num_workgroups.x` and
/// return early past the real count.
pub fn split_workgroups(workgroups: u32, max_per_dim: u32) -> [u32; 3] {
    if workgroups <= max_per_dim {
        return [workgroups.max(1), 1, 1];
    }
    let y = workgroups.div_ceil(max_per_dim);
    let x = workgroups.div_ceil(y);
    [x, y, 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_substitutes_and_joins() {
        let s = compose(&["fn a() {}", "fn {{NAME}}() {}"], &[("NAME", "b")]);
        assert_eq!(s, "fn a() {}\nfn b() {}");
    }

    #[test]
    #[should_panic(expected = "unsubstituted WGSL placeholder {{OP}}")]
    fn compose_rejects_leftover_placeholders() {
        compose(&["fn {{OP}}() {}"], &[]);
    }

    #[test]
    fn split_workgroups_covers_the_count() {
        for n in [0u32, 1, 65535, 65536, 131071, 1_000_000, 4_000_000] {
            let [x, y, z] = split_workgroups(n, 65535);
            assert!(x <= 65535 && y <= 65535 && z == 1);
            assert!(x as u64 * y as u64 >= n as u64);
            // Never more than one row of excess workgroups.
            assert!((x as u64 * y as u64) < n as u64 + x as u64 + 1);
        }
    }
}
