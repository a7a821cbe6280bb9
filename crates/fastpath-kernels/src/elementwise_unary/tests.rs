use super::map_gpu::SPANS_TWO_WINDOWS;
use super::math::{EXP_HI, EXP_LO};
use crate::array::HostArray;
use crate::params::ParamValue;
use crate::simd::check_every_simd_level;
use crate::test_all_backends;
use crate::testdata::{SPECIALS, log_uniform, sprinkle_specials, uniform};
use crate::testing::{SIZES, check, check_rejects, run};

const ALL: [&str; 7] =
    ["MAP_EXP", "MAP_LOG", "MAP_SIGMOID", "MAP_TANH", "MAP_SOFTPLUS", "MAP_CLAMP", "MAP_ABS"];

fn x(v: Vec<f32>) -> Vec<HostArray> {
    vec![HostArray::vec_f32(v)]
}

fn clamp(lo: f32, hi: f32) -> Vec<(&'static str, ParamValue)> {
    vec![("lo", ParamValue::F32(lo)), ("hi", ParamValue::F32(hi))]
}

/// Every kernel of the domain with the parameters it needs.
fn cases() -> Vec<(&'static str, Vec<(&'static str, ParamValue)>)> {
    ALL.iter().map(|&id| (id, if id == "MAP_CLAMP" { clamp(-2.5, 4.0) } else { vec![] })).collect()
}

fn next_up(v: f32) -> f32 {
    f32::from_bits(if v >= 0.0 { v.to_bits() + 1 } else { v.to_bits() - 1 })
}

fn next_down(v: f32) -> f32 {
    -next_up(-v)
}

/// Specials, subnormals, and both sides of every threshold the algorithms switch or clamp
/// at: exp's overflow and underflow limits, tanh's saturation (10, where 2|x| reaches the end
/// of expm1's range), log's mantissa split (sqrt 2), softplus' x-only range (15), and the
/// ranges of the polynomials (ln2/2, 1).
fn edge_values() -> Vec<f32> {
    let mut v = SPECIALS.to_vec();
    let thresholds = [
        EXP_HI,
        88.0,
        -87.33,
        -103.97,
        EXP_LO,
        10.0,
        5.0,
        0.346_573_6,
        std::f32::consts::SQRT_2,
        15.0,
        20.0,
        1.0,
        0.5,
        2.0,
        1e-20,
    ];
    for t in thresholds {
        v.extend([t, next_up(t), next_down(t), -t, -next_up(t), -next_down(t)]);
    }
    let subnormals = [f32::from_bits(1), f32::from_bits(0x0000_0400), f32::from_bits(0x007f_ffff)];
    for s in subnormals {
        v.extend([s, -s]);
    }
    v
}

test_all_backends! {
    fn maps_match_reference_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let data = uniform(n, -20.0, 20.0, seed as u64);
            for (id, p) in cases() {
                check(b, id, &x(data.clone()), &p);
            }
            // ln on its domain, where every result is a number.
            let positive: Vec<f32> = data.iter().map(|v| v.abs() + 1e-3).collect();
            check(b, "MAP_LOG", &x(positive), &[]);
        }
    }

    fn wide_ranges_reach_overflow_and_underflow(b) {
        // Magnitudes from 1e-40 (subnormal) to 3e38, both signs.
        let wide = log_uniform(20_000, -40.0, 38.5, 11);
        for (id, p) in cases() {
            check(b, id, &x(wide.clone()), &p);
        }
        let positive: Vec<f32> = wide.iter().map(|v| v.abs()).collect();
        check(b, "MAP_LOG", &x(positive), &[]);
        // exp and its relatives across their whole finite range and past both ends.
        let around = uniform(20_000, -110.0, 95.0, 12);
        for id in ["MAP_EXP", "MAP_SIGMOID", "MAP_TANH", "MAP_SOFTPLUS"] {
            check(b, id, &x(around.clone()), &[]);
        }
        // Small arguments, where tanh and softplus must not cancel.
        let tiny = log_uniform(5_000, -30.0, 0.0, 13);
        for (id, p) in cases() {
            check(b, id, &x(tiny.clone()), &p);
        }
    }

    fn specials_and_thresholds_follow_the_contract(b) {
        let edges = edge_values();
        for (id, p) in cases() {
            check(b, id, &x(edges.clone()), &p);
        }
        // Specials spread over an input that crosses a window of the chunked GPU backend.
        let mut big = uniform(SPANS_TWO_WINDOWS, -100.0, 100.0, 5);
        sprinkle_specials(&mut big, 0.01, 5);
        for (id, p) in cases() {
            check(b, id, &x(big.clone()), &p);
        }
    }

    fn spec_stated_edges_hold_exactly(b) {
        let inf = f32::INFINITY;
        let out = |id: &str, v: Vec<f32>, p: &[(&str, ParamValue)]| run(b, id, &x(v), p).unwrap()[0].f32s().to_vec();
        let ln = out("MAP_LOG", vec![0.0, -0.0, -1.0, -inf, inf, f32::NAN, 1.0], &[]);
        assert_eq!(&ln[..2], &[-inf, -inf], "ln(+-0) = -inf");
        assert!(ln[2].is_nan() && ln[3].is_nan() && ln[5].is_nan(), "ln of negatives and NaN: {ln:?}");
        assert_eq!((ln[4], ln[6]), (inf, 0.0));
        let exp = out("MAP_EXP", vec![89.0, inf, -inf, -200.0, EXP_HI, f32::NAN], &[]);
        assert_eq!(&exp[..4], &[inf, inf, 0.0, 0.0], "exp overflow and underflow");
        assert!(exp[4].is_finite() && exp[5].is_nan());
        let sp = out("MAP_SOFTPLUS", vec![1e30, f32::MAX, inf, -inf, -1e30], &[]);
        assert_eq!(sp, vec![1e30, f32::MAX, inf, 0.0, 0.0], "softplus never overflows");
        let th = out("MAP_TANH", vec![1e30, -1e30, inf, -inf, 10.0, -0.0], &[]);
        assert_eq!(&th[..5], &[1.0, -1.0, 1.0, -1.0, 1.0]);
        assert!(th[5] == 0.0 && th[5].is_sign_negative(), "tanh(-0) = -0");
        let sg = out("MAP_SIGMOID", vec![inf, -inf, 0.0, 1e30, -1e30], &[]);
        assert_eq!(sg, vec![1.0, 0.0, 0.5, 1.0, 0.0]);
        let ab = out("MAP_ABS", vec![-0.0, -inf, -3.5], &[]);
        assert!(ab.iter().all(|v| v.is_sign_positive()) && ab[1..] == [inf, 3.5]);
        let cl = out("MAP_CLAMP", vec![f32::NAN, -inf, inf, 0.5], &clamp(-1.0, 1.0));
        assert!(cl[0].is_nan(), "clamp propagates NaN");
        assert_eq!(&cl[1..], &[-1.0, 1.0, 0.5]);
    }

    fn clamp_takes_any_ordered_bounds(b) {
        let data = {
            let mut d = uniform(3000, -10.0, 10.0, 21);
            d.extend(edge_values());
            d
        };
        let inf = f32::INFINITY;
        for (lo, hi) in [(-1.0, 1.0), (0.0, 0.0), (-inf, 0.5), (-2.0, inf), (-inf, inf), (3.0, 3.5), (-0.0, 0.0)] {
            check(b, "MAP_CLAMP", &x(data.clone()), &clamp(lo, hi));
        }
        for (lo, hi) in [(1.0, -1.0), (f32::NAN, 1.0), (0.0, f32::NAN), (inf, -inf)] {
            check_rejects(b, "MAP_CLAMP", &x(vec![1.0]), &clamp(lo, hi), "needs lo <= hi");
        }
        check_rejects(b, "MAP_CLAMP", &x(vec![1.0]), &[("lo", ParamValue::F32(0.0))], "--param hi=<f32>");
    }

    fn wrong_inputs_are_rejected(b) {
        for (id, p) in cases() {
            check_rejects(b, id, &[HostArray::vec_u32(vec![1, 2])], &p, "expected f32 [n], got u32 [2]");
            check_rejects(b, id, &[HostArray::scalar_f32(1.0)], &p, "expected f32 [n], got f32 []");
            let two = [HostArray::vec_f32(vec![1.0]), HostArray::vec_f32(vec![1.0])];
            check_rejects(b, id, &two, &p, "takes 1 input array(s) (x), got 2");
        }
    }
}

#[test]
fn every_cpu_simd_level_meets_the_reference() {
    let mut data = uniform(70_000, -120.0, 120.0, 31);
    data.extend(edge_values());
    data.extend(log_uniform(10_000, -40.0, 38.0, 32));
    for (id, p) in cases() {
        check_every_simd_level(id, &x(data.clone()), &p);
    }
}
