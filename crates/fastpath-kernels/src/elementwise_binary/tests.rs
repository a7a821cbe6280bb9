use crate::array::HostArray;
use crate::elementwise_unary::map_gpu::SPANS_TWO_WINDOWS;
use crate::params::ParamValue;
use crate::simd::check_every_simd_level;
use crate::test_all_backends;
use crate::testdata::{SPECIALS, log_uniform, sprinkle_specials, uniform};
use crate::testing::{SIZES, check, check_rejects, run};

const ARITHMETIC: [&str; 3] = ["MAP_ADD", "MAP_MUL", "MAP_DIV"];
const COMPARE_OPS: [&str; 6] = ["gt", "ge", "lt", "le", "eq", "ne"];

fn arr(v: Vec<f32>) -> HostArray {
    HostArray::vec_f32(v)
}

fn scalar(v: f32) -> HostArray {
    HostArray::scalar_f32(v)
}

fn op(name: &str) -> Vec<(&'static str, ParamValue)> {
    vec![("op", ParamValue::Enum(name.into()))]
}

/// Checks every two-operand kernel (and every compare operator) on (a, b).
fn check_two_operand_kernels(b: &crate::testing::TestBackend, a: &HostArray, rhs: &HostArray) {
    let inputs = [a.clone(), rhs.clone()];
    for id in ARITHMETIC {
        check(b, id, &inputs, &[]);
    }
    for name in COMPARE_OPS {
        check(b, "MAP_COMPARE", &inputs, &op(name));
    }
}

/// Pairs with some equal values, so eq/ne/ge/le see ties, not only strict orderings.
fn with_ties(a: &[f32], mut b: Vec<f32>) -> Vec<f32> {
    for i in (0..b.len()).step_by(7) {
        b[i] = a[i];
    }
    b
}

test_all_backends! {
    fn binary_maps_match_reference_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let seed = 60 + 3 * seed as u64;
            let a = uniform(n, -10.0, 10.0, seed);
            let rhs = with_ties(&a, uniform(n, -10.0, 10.0, seed + 1));
            check_two_operand_kernels(b, &arr(a.clone()), &arr(rhs.clone()));
            let c = uniform(n, -100.0, 100.0, seed + 2);
            check(b, "MAP_FMA", &[arr(a), arr(rhs), arr(c)], &[]);
        }
    }

    fn scalar_operands_broadcast(b) {
        let scalars = [2.5f32, -0.0, 0.0, 1e-30, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 3.0e38];
        for &n in &[0usize, 1, 257, 1000] {
            let a = uniform(n, -10.0, 10.0, 70 + n as u64);
            let full = uniform(n, -10.0, 10.0, 71 + n as u64);
            for s in scalars {
                check_two_operand_kernels(b, &arr(a.clone()), &scalar(s));
                check(b, "MAP_FMA", &[arr(a.clone()), scalar(s), arr(full.clone())], &[]);
                check(b, "MAP_FMA", &[arr(a.clone()), arr(full.clone()), scalar(s)], &[]);
                check(b, "MAP_FMA", &[arr(a.clone()), scalar(s), scalar(-1.5)], &[]);
            }
        }
        // Every shader with a scalar operand once at a size that spans several windows of the
        // chunked backend (the scalar is bound whole, the arrays window by window).
        let n = (1 << 20) + 3;
        let a = uniform(n, -10.0, 10.0, 72);
        let full = uniform(n, -10.0, 10.0, 73);
        check_two_operand_kernels(b, &arr(a.clone()), &scalar(-1.25));
        check(b, "MAP_FMA", &[arr(a.clone()), scalar(0.5), arr(full.clone())], &[]);
        check(b, "MAP_FMA", &[arr(a.clone()), arr(full), scalar(3.0)], &[]);
        check(b, "MAP_FMA", &[arr(a), scalar(0.5), scalar(-1.5)], &[]);
        // A scalar equal to some elements: ties for the comparisons.
        let a: Vec<f32> = (0..1000).map(|i| (i % 5) as f32).collect();
        check_two_operand_kernels(b, &arr(a), &scalar(2.0));
    }

    fn specials_follow_ieee(b) {
        // Every pair of special values, in both orders.
        let (mut a, mut rhs) = (Vec::new(), Vec::new());
        for &x in &SPECIALS {
            for &y in &SPECIALS {
                a.push(x);
                rhs.push(y);
            }
        }
        check_two_operand_kernels(b, &arr(a.clone()), &arr(rhs.clone()));
        let c: Vec<f32> = SPECIALS.iter().cycle().skip(3).take(a.len()).copied().collect();
        check(b, "MAP_FMA", &[arr(a.clone()), arr(rhs.clone()), arr(c)], &[]);
        // Specials sprinkled over inputs that cross a window of the chunked backend.
        let n = SPANS_TWO_WINDOWS;
        let mut a = uniform(n, -50.0, 50.0, 80);
        let mut rhs = with_ties(&a, uniform(n, -50.0, 50.0, 81));
        let mut c = uniform(n, -50.0, 50.0, 82);
        sprinkle_specials(&mut a, 0.01, 80);
        sprinkle_specials(&mut rhs, 0.01, 81);
        sprinkle_specials(&mut c, 0.01, 82);
        check_two_operand_kernels(b, &arr(a.clone()), &arr(rhs.clone()));
        check(b, "MAP_FMA", &[arr(a), arr(rhs), arr(c)], &[]);
    }

    fn wide_magnitudes_overflow_and_underflow(b) {
        // Products and quotients from 1e-76 to 1e76: overflow to inf, underflow to 0. Operands
        // stay normal (>= 1.26e-38): GPUs that flush subnormal operands read them as 0.
        let a = log_uniform(20_000, -37.9, 38.0, 90);
        let rhs = log_uniform(20_000, -37.0, 38.0, 91);
        check_two_operand_kernels(b, &arr(a.clone()), &arr(rhs.clone()));
        check(b, "MAP_FMA", &[arr(a.clone()), arr(rhs), arr(log_uniform(20_000, -37.9, 38.0, 92))], &[]);
        // Divisors beyond 2^126, where a GPU's reciprocal would be subnormal.
        let huge: Vec<f32> = (0..1000).map(|i| f32::MAX / (1.0 + i as f32 * 0.003)).collect();
        let big_a: Vec<f32> = (0..1000).map(|i| 1e38 - i as f32 * 1e35).collect();
        check(b, "MAP_DIV", &[arr(big_a), arr(huge.clone())], &[]);
        check(b, "MAP_DIV", &[arr(a[..1000].to_vec()), arr(huge)], &[]);
        check(b, "MAP_DIV", &[arr(vec![3.0e38, -1.0, 2.0]), scalar(-3.0e38)], &[]);
    }

    fn division_by_zero_and_exact_edges(b) {
        let inf = f32::INFINITY;
        let q = run(b, "MAP_DIV", &[arr(vec![1.0, -1.0, 0.0, 1.0, inf, 6.0]), arr(vec![0.0, 0.0, 0.0, -0.0, inf, 3.0])], &[]).unwrap();
        let q = q[0].f32s();
        assert_eq!((q[0], q[1], q[3], q[5]), (inf, -inf, -inf, 2.0), "x/0 is a signed infinity");
        assert!(q[2].is_nan() && q[4].is_nan(), "0/0 and inf/inf are NaN");
        let m = run(b, "MAP_MUL", &[arr(vec![0.0, inf, 3.0e38]), arr(vec![inf, -2.0, 10.0])], &[]).unwrap();
        let m = m[0].f32s();
        assert!(m[0].is_nan() && m[1] == -inf && m[2] == inf, "0*inf, overflow: {m:?}");
        let s = run(b, "MAP_ADD", &[arr(vec![inf, 3.0e38]), arr(vec![-inf, 3.0e38])], &[]).unwrap();
        assert!(s[0].f32s()[0].is_nan() && s[0].f32s()[1] == inf);
    }

    fn fma_rounds_once(b) {
        // (1 + 2^-12)^2 - (1 + 2^-11) = 2^-24 exactly; a separate multiply rounds the product
        // to 1 + 2^-11 and gives 0.
        let a = 1.0 + 2f32.powi(-12);
        let c = -(1.0 + 2f32.powi(-11));
        let out = run(b, "MAP_FMA", &[arr(vec![a]), arr(vec![a]), arr(vec![c])], &[]).unwrap();
        assert_eq!(out[0].f32s()[0], 2f32.powi(-24), "a*b+c must be rounded once");
        // c = -round(a*b) leaves exactly the rounding error of the product, for every pair.
        let x = uniform(10_000, 1.0, 2.0, 93);
        let y = uniform(10_000, 1.0, 2.0, 94);
        let c: Vec<f32> = x.iter().zip(&y).map(|(p, q)| -(p * q)).collect();
        check(b, "MAP_FMA", &[arr(x.clone()), arr(y), arr(c)], &[]);
        check(b, "MAP_FMA", &[arr(x.clone()), scalar(1.0 / 3.0), arr(x.iter().map(|v| -(v / 3.0)).collect())], &[]);
    }

    fn fma_matches_a_fused_cpu_bit_for_bit(b) {
        // Random significands and exponents 2^-40..2^40 apart, c often cancelling most of a·b:
        // every path of the rounding (ties included) must agree with the CPU's fused
        // multiply-add, not just stay within half an ulp.
        let n = 1 << 18;
        let mut x = log_uniform(n, -6.0, 6.0, 98);
        let mut y = log_uniform(n, -6.0, 6.0, 99);
        let scale = log_uniform(n, -12.0, 12.0, 100);
        let mut c: Vec<f32> = (0..n)
            .map(|i| match i % 4 {
                0 => -(x[i] * y[i]),
                1 => -(x[i] * y[i]) * (1.0 + (i % 64) as f32 * f32::EPSILON),
                2 => scale[i],
                _ => (x[i] * y[i]) * 0.5,
            })
            .collect();
        // Short significands whose products land exactly on, or next to, rounding ties.
        for i in 0..64 {
            for j in 0..64 {
                for e in [0, 3, 10, 11, 12, 23, 24, 25] {
                    x.push(1.0 + i as f32 * 2f32.powi(-12));
                    y.push(-1.0 - j as f32 * 2f32.powi(-12));
                    c.push(if e % 2 == 0 { 2f32.powi(-e) } else { -(2f32.powi(-e)) });
                }
            }
        }
        let out = run(b, "MAP_FMA", &[arr(x.clone()), arr(y.clone()), arr(c.clone())], &[]).unwrap();
        for (i, got) in out[0].f32s().iter().enumerate() {
            let want = x[i].mul_add(y[i], c[i]);
            let flushed = want.abs() < f32::MIN_POSITIVE && got.abs() < f32::MIN_POSITIVE;
            assert!(
                got.to_bits() == want.to_bits() || flushed || (*got == 0.0 && want == 0.0),
                "fma({:e}, {:e}, {:e}) = {got:e}, fused gives {want:e}",
                x[i], y[i], c[i]
            );
        }
        // An overflowing product plus an infinite c is exactly c.
        let inf = run(b, "MAP_FMA", &[arr(vec![f32::MAX, 1e30]), arr(vec![2.0, -1e30]), arr(vec![-f32::INFINITY, f32::INFINITY])], &[]).unwrap();
        assert_eq!(inf[0].f32s(), &[-f32::INFINITY, f32::INFINITY]);
    }

    fn comparisons_with_nan_zeros_and_infinities(b) {
        let inf = f32::INFINITY;
        let nan = f32::NAN;
        let a = vec![nan, 1.0, nan, -0.0, 0.0, inf, -inf, inf, 1.0, 2.0];
        let rhs = vec![1.0, nan, nan, 0.0, -0.0, inf, -inf, -inf, 1.0, 1.0];
        let expect = |name: &str| -> Vec<u32> {
            a.iter().zip(&rhs).map(|(x, y)| match name {
                "gt" => x > y, "ge" => x >= y, "lt" => x < y, "le" => x <= y, "eq" => x == y, _ => x != y,
            } as u32).collect()
        };
        for name in COMPARE_OPS {
            let mask = run(b, "MAP_COMPARE", &[arr(a.clone()), arr(rhs.clone())], &op(name)).unwrap();
            assert_eq!(mask[0].u32s(), expect(name).as_slice(), "op {name}");
        }
        // NaN: false for every operator but ne; -0 == +0.
        let nan_ne = run(b, "MAP_COMPARE", &[arr(vec![nan, 1.0]), scalar(nan)], &op("ne")).unwrap();
        assert_eq!(nan_ne[0].u32s(), &[1, 1]);
        let zero_eq = run(b, "MAP_COMPARE", &[arr(vec![-0.0]), scalar(0.0)], &op("eq")).unwrap();
        assert_eq!(zero_eq[0].u32s(), &[1]);
        // The default operator is gt.
        let default = run(b, "MAP_COMPARE", &[arr(vec![1.0, 2.0, 3.0]), scalar(2.0)], &[]).unwrap();
        assert_eq!(default[0].u32s(), &[0, 0, 1]);
    }

    fn mismatched_and_wrong_inputs_are_rejected(b) {
        let a = arr(vec![1.0, 2.0, 3.0, 4.0]);
        let short = arr(vec![1.0, 2.0, 3.0]);
        let ints = HostArray::vec_u32(vec![1, 2, 3, 4]);
        for id in ["MAP_ADD", "MAP_MUL", "MAP_DIV", "MAP_COMPARE"] {
            check_rejects(b, id, &[a.clone(), short.clone()], &[], "n = 3 here but 4 in an earlier input");
            check_rejects(b, id, &[a.clone(), ints.clone()], &[], "input b: expected f32 [n] or a 0-d array, got u32 [4]");
            check_rejects(b, id, &[ints.clone(), a.clone()], &[], "input a: expected f32 [n], got u32 [4]");
            check_rejects(b, id, &[scalar(1.0), a.clone()], &[], "input a: expected f32 [n], got f32 []");
            check_rejects(b, id, std::slice::from_ref(&a), &[], "takes 2 input array(s) (a, b), got 1");
        }
        check_rejects(b, "MAP_FMA", &[a.clone(), a.clone(), short.clone()], &[], "input c: n = 3 here but 4");
        check_rejects(b, "MAP_FMA", &[a.clone(), short, a.clone()], &[], "input b: n = 3 here but 4");
        check_rejects(b, "MAP_FMA", &[a.clone(), scalar(1.0), ints], &[], "input c: expected f32 [n] or a 0-d array");
        check_rejects(b, "MAP_FMA", &[a.clone(), a.clone()], &[], "takes 3 input array(s) (a, b, c), got 2");
        check_rejects(b, "MAP_COMPARE", &[a.clone(), a.clone()], &op("gte"), "parameter op must be");
    }
}

#[test]
fn every_cpu_simd_level_meets_the_reference() {
    let mut a = uniform(70_000, -50.0, 50.0, 95);
    let mut rhs = with_ties(&a, uniform(70_000, -50.0, 50.0, 96));
    sprinkle_specials(&mut a, 0.02, 95);
    sprinkle_specials(&mut rhs, 0.02, 96);
    let c = uniform(70_000, -50.0, 50.0, 97);
    for id in ARITHMETIC {
        check_every_simd_level(id, &[arr(a.clone()), arr(rhs.clone())], &[]);
        check_every_simd_level(id, &[arr(a.clone()), scalar(0.75)], &[]);
    }
    for name in COMPARE_OPS {
        check_every_simd_level("MAP_COMPARE", &[arr(a.clone()), arr(rhs.clone())], &op(name));
    }
    check_every_simd_level("MAP_FMA", &[arr(a.clone()), arr(rhs.clone()), arr(c.clone())], &[]);
    check_every_simd_level("MAP_FMA", &[arr(a), scalar(1.5), arr(c)], &[]);
}
