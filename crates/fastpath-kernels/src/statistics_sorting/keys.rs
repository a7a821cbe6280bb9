//! The f32 → u32 key transforms every sort and selection in this domain uses, on the host
//! (the WGSL twins live in `sort_keys.wgsl` and must stay bit-for-bit identical).
//!
//! **Sort key** (sorts, median, percentile). The contract's transform — flip the sign bit of a
//! non-negative float, invert every bit of a negative one — turns float order into unsigned
//! order, but it sends negative NaNs (sign bit set) *below* −∞. Subtracting `0x7F_FFFF`
//! (wrapping) rotates exactly those 2²³ − 1 keys from the bottom of the range to the top, so
//!
//! ```text
//! −∞ < negative finite < −0.0 < +0.0 < positive finite < +∞ < +NaN (by payload) < −NaN (by payload)
//! ```
//!
//! and the map stays a bijection: a sort returns every input bit pattern unchanged (NaN
//! payloads and signs included). −0.0 sorts before +0.0 (as IEEE 754's totalOrder does), so
//! the output is fully determined even where `==` cannot tell the two zeros apart.
//!
//! **Descending rank key** (top-k). `!sort_key`, so ascending order of the rank key is
//! descending float order, except that every NaN maps to 0: all NaNs rank above +∞ and *tie*
//! with each other, so TOPK_SELECT's "equal values by ascending index" rule orders them by
//! index. Its inverse returns the canonical quiet NaN (`0x7FC0_0000`) for them.

/// Lowest sort key of a NaN: `f32_sort_key(0x7F80_0001)` (+∞ is one below).
pub const NAN_SORT_KEY_MIN: u32 = 0xFF00_0002;

/// Order-preserving, bijective f32-bits → u32 key with every NaN after +∞.
#[inline]
pub fn f32_sort_key(bits: u32) -> u32 {
    let mask = if bits & 0x8000_0000 != 0 { 0xFFFF_FFFF } else { 0x8000_0000 };
    (bits ^ mask).wrapping_sub(0x7F_FFFF)
}

/// Inverse of [`f32_sort_key`].
#[inline]
pub fn f32_from_sort_key(key: u32) -> u32 {
    let k = key.wrapping_add(0x7F_FFFF);
    let mask = if k & 0x8000_0000 != 0 { 0x8000_0000 } else { 0xFFFF_FFFF };
    k ^ mask
}

/// Ascending order of this key = descending float order; all NaNs are 0 (rank first, tied).
#[inline]
pub fn f32_desc_rank_key(bits: u32) -> u32 {
    if bits & 0x7FFF_FFFF > 0x7F80_0000 { 0 } else { !f32_sort_key(bits) }
}

/// Inverse of [`f32_desc_rank_key`]; NaNs come back as the canonical quiet NaN.
#[inline]
pub fn f32_from_desc_rank_key(key: u32) -> u32 {
    if key == 0 { 0x7FC0_0000 } else { f32_from_sort_key(!key) }
}

/// The documented sort order on f32 values, written independently of the bit tricks above
/// (tests compare the two): NaN last, otherwise by value, −0.0 before +0.0.
pub fn reference_order(a: f32, b: f32) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => (a as f64)
            .partial_cmp(&(b as f64))
            .unwrap()
            .then((!a.is_sign_negative()).cmp(&!b.is_sign_negative())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interesting() -> Vec<u32> {
        let mut v = vec![
            0x0000_0000,
            0x8000_0000,
            0x0000_0001,
            0x8000_0001,
            0x7F7F_FFFF,
            0xFF7F_FFFF,
            0x7F80_0000,
            0xFF80_0000,
            0x7F80_0001,
            0x7FC0_0000,
            0x7FFF_FFFF,
            0xFF80_0001,
            0xFFC0_0000,
            0xFFFF_FFFF,
            1.0f32.to_bits(),
            (-1.0f32).to_bits(),
            f32::MIN_POSITIVE.to_bits(),
        ];
        let mut s = 0x1234_5678u32;
        for _ in 0..5000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            v.push(s);
        }
        v
    }

    #[test]
    fn sort_key_is_a_bijection_that_orders_like_the_reference() {
        let v = interesting();
        for &a in &v {
            assert_eq!(f32_from_sort_key(f32_sort_key(a)), a, "{a:#x}");
            let fa = f32::from_bits(a);
            assert_eq!(fa.is_nan(), f32_sort_key(a) >= NAN_SORT_KEY_MIN, "{a:#x}");
        }
        for w in v.windows(2) {
            let (a, b) = (f32::from_bits(w[0]), f32::from_bits(w[1]));
            let by_key = f32_sort_key(w[0]).cmp(&f32_sort_key(w[1]));
            let by_ref = reference_order(a, b);
            if !(a.is_nan() && b.is_nan()) {
                assert_eq!(by_key, by_ref, "{a} vs {b}");
            }
        }
        // Both NaN signs after +inf; -0 before +0; -inf smallest.
        let inf = f32_sort_key(0x7F80_0000);
        assert!(f32_sort_key(0xFFC0_0000) > inf && f32_sort_key(0x7FC0_0000) > inf);
        assert!(f32_sort_key(0x8000_0000) < f32_sort_key(0));
        assert_eq!(f32_sort_key(0xFF80_0000), 0);
    }

    #[test]
    fn rank_key_ties_every_nan_and_descends() {
        assert_eq!(f32_desc_rank_key(0x7FC0_0000), 0);
        assert_eq!(f32_desc_rank_key(0xFFFF_FFFF), 0);
        assert_eq!(f32_from_desc_rank_key(0), 0x7FC0_0000);
        let inf = f32_desc_rank_key(f32::INFINITY.to_bits());
        assert!(inf > 0 && inf < f32_desc_rank_key(1.0f32.to_bits()));
        assert!(f32_desc_rank_key(0) < f32_desc_rank_key(0x8000_0000));
        for a in interesting() {
            if !f32::from_bits(a).is_nan() {
                assert_eq!(f32_from_desc_rank_key(f32_desc_rank_key(a)), a);
            }
        }
    }
}
