// a * b + c rounded once, in integer arithmetic, for devices whose fma() rounds twice.
//
// Vulkan only promises fma() the precision of a multiply followed by an add (lavapipe rounds
// twice), and error-free float tricks (Dekker products, TwoSum) are not safe either: Mesa's
// compiler may simplify (a + b) - a to b when SPIR-V does not mark the operations exact,
// which naga never does. Integer arithmetic cannot be rewritten that way, so this computes
// the exact product of the significands (48 bits), aligns and adds c in a 64-bit integer
// held as two u32 words, and rounds once to nearest even.
//
// Normal finite operands take this path; zeros, subnormals, infinities and NaN use fma():
// with a zero product or c = 0 one rounding is all there is, specials follow IEEE, and
// subnormals may be flushed by the device anyway. The one special case two roundings get
// wrong, finite a and b whose product overflows plus an infinite c (exactly c, where an
// overflowed product gives inf - inf = NaN), returns c. Results below the normal range are
// flushed to zero (the kernel's tolerance allows that).

struct U64 {
    hi: u32,
    lo: u32,
}

fn u64_is_zero(x: U64) -> bool {
    return (x.hi | x.lo) == 0u;
}

fn u64_less(x: U64, y: U64) -> bool {
    return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo);
}

fn u64_add(x: U64, y: U64) -> U64 {
    let lo = x.lo + y.lo;
    let carry = select(0u, 1u, lo < x.lo);
    return U64(x.hi + y.hi + carry, lo);
}

// x - y for x >= y.
fn u64_sub(x: U64, y: U64) -> U64 {
    let borrow = select(0u, 1u, x.lo < y.lo);
    return U64(x.hi - y.hi - borrow, x.lo - y.lo);
}

// Position of the highest set bit (x != 0).
fn u64_top_bit(x: U64) -> u32 {
    if (x.hi != 0u) {
        return 63u - countLeadingZeros(x.hi);
    }
    return 31u - countLeadingZeros(x.lo);
}

// x << s for s in [0, 63] (WGSL shifts take the amount modulo 32, so whole words move apart).
fn u64_shl(x: U64, s: u32) -> U64 {
    if (s == 0u) {
        return x;
    }
    if (s >= 32u) {
        return U64(x.lo << (s - 32u), 0u);
    }
    return U64((x.hi << s) | (x.lo >> (32u - s)), x.lo << s);
}

// x >> s for any s, OR-ing every bit shifted out into bit 0 (the sticky bit rounding needs).
fn u64_shr_sticky(x: U64, s: u32) -> U64 {
    if (s == 0u) {
        return x;
    }
    if (s >= 64u) {
        return U64(0u, select(0u, 1u, !u64_is_zero(x)));
    }
    var r: U64;
    var lost: u32;
    if (s >= 32u) {
        let t = s - 32u;
        r = U64(0u, x.hi >> t);
        lost = x.lo | select(x.hi << (32u - t), 0u, t == 0u);
    } else {
        r = U64(x.hi >> s, (x.lo >> s) | (x.hi << (32u - s)));
        lost = x.lo << (32u - s);
    }
    r.lo = r.lo | select(0u, 1u, lost != 0u);
    return r;
}

fn fma_exact(a: f32, b: f32, c: f32) -> f32 {
    let a_bits = bitcast<u32>(a);
    let b_bits = bitcast<u32>(b);
    let c_bits = bitcast<u32>(c);
    let ea = (a_bits >> 23u) & 0xffu;
    let eb = (b_bits >> 23u) & 0xffu;
    let ec = (c_bits >> 23u) & 0xffu;
    if (ec == 255u && ea != 255u && eb != 255u) {
        return c;
    }
    if (ea == 0u || ea == 255u || eb == 0u || eb == 255u || ec == 0u || ec == 255u) {
        return fma(a, b, c);
    }
    // Exact product of the 24-bit significands from 16-bit limbs (every partial fits a u32).
    let ma = (a_bits & 0x7fffffu) | 0x800000u;
    let mb = (b_bits & 0x7fffffu) | 0x800000u;
    let a1 = ma >> 16u;
    let a0 = ma & 0xffffu;
    let b1 = mb >> 16u;
    let b0 = mb & 0xffffu;
    let mid = a1 * b0 + a0 * b1;
    let low = a0 * b0;
    let lo = low + (mid << 16u);
    let hi = a1 * b1 + (mid >> 16u) + select(0u, 1u, lo < low);
    // Both terms with their top bit at bit 62: value = integer * 2^exponent.
    var product = U64(hi, lo);
    let product_shift = 62u - u64_top_bit(product);
    product = u64_shl(product, product_shift);
    let product_exp = i32(ea) + i32(eb) - 300 - i32(product_shift);
    let addend = U64(((c_bits & 0x7fffffu) | 0x800000u) << 7u, 0u);
    let addend_exp = i32(ec) - 189;
    let product_neg = ((a_bits ^ b_bits) >> 31u) == 1u;
    let addend_neg = (c_bits >> 31u) == 1u;
    // Align the term with the smaller exponent to the other one.
    var big = product;
    var big_exp = product_exp;
    var big_neg = product_neg;
    var small = addend;
    var small_exp = addend_exp;
    var small_neg = addend_neg;
    if (addend_exp > product_exp) {
        big = addend;
        big_exp = addend_exp;
        big_neg = addend_neg;
        small = product;
        small_exp = product_exp;
        small_neg = product_neg;
    }
    small = u64_shr_sticky(small, u32(big_exp - small_exp));
    var sum: U64;
    var negative = big_neg;
    if (big_neg == small_neg) {
        sum = u64_add(big, small);
    } else if (u64_less(big, small)) {
        sum = u64_sub(small, big);
        negative = small_neg;
    } else {
        sum = u64_sub(big, small);
    }
    if (u64_is_zero(sum)) {
        return 0.0; // exact cancellation is +0 when rounding to nearest
    }
    // 24 significand bits, a round bit and a sticky bit: 26 bits with the top one at bit 25.
    let top = u64_top_bit(sum);
    var bits26: u32;
    if (top >= 25u) {
        bits26 = u64_shr_sticky(sum, top - 25u).lo;
    } else {
        bits26 = u64_shl(sum, 25u - top).lo;
    }
    var mantissa = bits26 >> 2u;
    let guard = bits26 & 3u;
    if (guard == 3u || (guard == 2u && (mantissa & 1u) == 1u)) {
        mantissa = mantissa + 1u;
    }
    var biased = i32(top) + big_exp + 127;
    if (mantissa == 0x1000000u) {
        mantissa = 0x800000u;
        biased = biased + 1;
    }
    let sign = select(0u, 0x80000000u, negative);
    if (biased >= 255) {
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if (biased <= 0) {
        return bitcast<f32>(sign);
    }
    return bitcast<f32>(sign | (u32(biased) << 23u) | (mantissa & 0x7fffffu));
}

fn op_fma_exact(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(
        fma_exact(a.x, b.x, c.x),
        fma_exact(a.y, b.y, c.y),
        fma_exact(a.z, b.z, c.z),
        fma_exact(a.w, b.w, c.w),
    );
}
