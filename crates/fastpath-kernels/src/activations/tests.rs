use crate::array::HostArray;
use crate::elementwise_unary::map_gpu::SPANS_TWO_WINDOWS;
use crate::params::ParamValue;
use crate::simd::check_every_simd_level;
use crate::test_all_backends;
use crate::testdata::{SPECIALS, log_uniform, sprinkle_specials, uniform};
use crate::testing::{SIZES, check, check_rejects, run};

const ALL: [&str; 6] =
    ["MAP_RELU", "MAP_LEAKY_RELU", "MAP_ELU", "MAP_GELU", "MAP_SILU", "MAP_MISH"];

fn x(v: Vec<f32>) -> Vec<HostArray> {
    vec![HostArray::vec_f32(v)]
}

fn alpha(a: f32) -> Vec<(&'static str, ParamValue)> {
    vec![("alpha", ParamValue::F32(a))]
}

/// Every kernel with its default parameters.
fn defaults() -> Vec<(&'static str, Vec<(&'static str, ParamValue)>)> {
    ALL.iter().map(|&id| (id, vec![])).collect()
}

fn next_up(v: f32) -> f32 {
    f32::from_bits(if v >= 0.0 { v.to_bits() + 1 } else { v.to_bits() - 1 })
}

/// Specials, subnormals, and both sides of every threshold: where the functions become x
/// (gelu 10, silu/mish 20), where gelu's result rounds to 0 (−20), exp's limits (104, 170),
/// where elu's e^x − 1 is clamped (−30), and the region −10 < x < −5 where gelu is most
/// sensitive.
fn edge_values() -> Vec<f32> {
    let mut v = SPECIALS.to_vec();
    for t in [10.0f32, 20.0, 30.0, 1.0, 104.0, 170.0, 88.72283, 5.0, 7.5, 8.0, 9.0, 0.5, 1e-7] {
        v.extend([t, next_up(t), -t, -next_up(t), f32::from_bits(t.to_bits() - 1)]);
        v.push(-f32::from_bits(t.to_bits() - 1));
    }
    for s in [f32::from_bits(1), f32::from_bits(0x0040_0000)] {
        v.extend([s, -s]);
    }
    v
}

test_all_backends! {
    fn activations_match_reference_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let data = uniform(n, -25.0, 25.0, 40 + seed as u64);
            for (id, p) in defaults() {
                check(b, id, &x(data.clone()), &p);
            }
        }
    }

    fn wide_and_tiny_inputs(b) {
        let wide = log_uniform(20_000, -40.0, 38.5, 41);
        let tiny = log_uniform(5_000, -30.0, 0.0, 42);
        // The negative side where gelu, silu and mish decay towards 0.
        let negative = uniform(20_000, -200.0, 0.0, 43);
        for data in [wide, tiny, negative] {
            for (id, p) in defaults() {
                check(b, id, &x(data.clone()), &p);
            }
        }
    }

    fn specials_and_thresholds(b) {
        for (id, p) in defaults() {
            check(b, id, &x(edge_values()), &p);
        }
        let mut big = uniform(SPANS_TWO_WINDOWS, -30.0, 30.0, 44);
        sprinkle_specials(&mut big, 0.01, 44);
        for (id, p) in defaults() {
            check(b, id, &x(big.clone()), &p);
        }
    }

    fn alpha_variants(b) {
        let mut data = uniform(5_000, -30.0, 30.0, 45);
        data.extend(edge_values());
        // alpha = 3e30 lifts subnormal inputs into the normal range, but GPUs that flush
        // subnormal operands (NVIDIA, Apple) read them as 0: keep operands normal here.
        data.retain(|v| !v.is_subnormal());
        for a in [0.01, 0.2, 1.0, 1.6733, 0.0, -0.5, 3.0e30] {
            check(b, "MAP_LEAKY_RELU", &x(data.clone()), &alpha(a));
            check(b, "MAP_ELU", &x(data.clone()), &alpha(a));
        }
        check_rejects(b, "MAP_ELU", &x(vec![1.0]), &[("beta", ParamValue::F32(1.0))], "has no parameter beta");
    }

    fn limits_and_exact_ranges_hold(b) {
        let inf = f32::INFINITY;
        let out = |id: &str, v: Vec<f32>, p: &[(&str, ParamValue)]| run(b, id, &x(v), p).unwrap()[0].f32s().to_vec();
        let big = vec![inf, -inf, 20.5, 1e30, -1e30, f32::NAN];
        for id in ["MAP_GELU", "MAP_SILU", "MAP_MISH"] {
            let y = out(id, big.clone(), &[]);
            assert_eq!(&y[..5], &[inf, 0.0, 20.5, 1e30, 0.0], "{id}: large inputs give x or 0");
            assert!(y[1].is_sign_negative() && y[5].is_nan(), "{id}: -inf gives -0, NaN stays: {y:?}");
        }
        // Mish is exactly x for x > 20 (contract).
        let above: Vec<f32> = (0..100).map(|i| 20.0 + i as f32 * 0.37 + 1e-5).collect();
        assert_eq!(out("MAP_MISH", above.clone(), &[]), above);
        let relu = out("MAP_RELU", vec![-inf, inf, -1.0, f32::NAN, 2.5], &[]);
        assert_eq!(&relu[..3], &[0.0, inf, 0.0]);
        assert!(relu[3].is_nan() && relu[4] == 2.5);
        let elu = out("MAP_ELU", vec![-inf, inf, f32::NAN], &alpha(1.5));
        assert_eq!(&elu[..2], &[-1.5, inf]);
        assert!(elu[2].is_nan());
        let leaky = out("MAP_LEAKY_RELU", vec![-inf, -2.0, 3.0], &[]);
        assert_eq!(leaky, vec![-inf, -0.02, 3.0], "default alpha is 0.01");
    }

    fn wrong_inputs_are_rejected(b) {
        for (id, p) in defaults() {
            check_rejects(b, id, &[HostArray::vec_u32(vec![1, 2])], &p, "expected f32 [n], got u32 [2]");
            check_rejects(b, id, &[HostArray::scalar_f32(1.0)], &p, "expected f32 [n], got f32 []");
        }
    }
}

#[test]
fn every_cpu_simd_level_meets_the_reference() {
    let mut data = uniform(70_000, -120.0, 120.0, 46);
    data.extend(edge_values());
    data.extend(log_uniform(10_000, -40.0, 38.0, 47));
    for (id, p) in defaults() {
        check_every_simd_level(id, &x(data.clone()), &p);
    }
    check_every_simd_level("MAP_ELU", &x(data.clone()), &alpha(0.3));
    check_every_simd_level("MAP_LEAKY_RELU", &x(data), &alpha(0.2));
}
