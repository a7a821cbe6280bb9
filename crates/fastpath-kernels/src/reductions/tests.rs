use crate::array::HostArray;
use crate::params::ParamValue;
use crate::test_all_backends;
use crate::testdata::{log_uniform, sprinkle_specials, uniform};
use crate::testing::{SIZES, check, check_rejects, run};

const SCALARS: [&str; 7] = [
    "REDUCE_SUM",
    "REDUCE_MEAN",
    "REDUCE_MIN",
    "REDUCE_MAX",
    "REDUCE_L2",
    "REDUCE_VAR",
    "REDUCE_STDDEV",
];
const NEED_ONE: [&str; 7] = [
    "REDUCE_MEAN",
    "REDUCE_MIN",
    "REDUCE_MAX",
    "REDUCE_VAR",
    "REDUCE_STDDEV",
    "REDUCE_ARGMAX",
    "REDUCE_ARGMIN",
];

fn x(v: Vec<f32>) -> Vec<HostArray> {
    vec![HostArray::vec_f32(v)]
}

test_all_backends! {
    fn scalar_reductions_match_reference_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let data = uniform(n, -10.0, 10.0, seed as u64);
            for id in SCALARS.iter().chain(["REDUCE_ARGMAX", "REDUCE_ARGMIN"].iter()) {
                if n == 0 && NEED_ONE.contains(id) {
                    continue;
                }
                check(b, id, &x(data.clone()), &[]);
            }
        }
    }

    fn empty_input_gives_zero_or_a_clear_error(b) {
        check(b, "REDUCE_SUM", &x(vec![]), &[]);
        check(b, "REDUCE_L2", &x(vec![]), &[]);
        let hist = [("min_val", ParamValue::F32(0.0)), ("max_val", ParamValue::F32(1.0))];
        check(b, "REDUCE_HISTOGRAM", &x(vec![]), &hist);
        for id in NEED_ONE {
            check_rejects(b, id, &x(vec![]), &[], "at least one element");
        }
        check_rejects(b, "REDUCE_VAR", &x(vec![1.0]), &[("ddof", ParamValue::U32(1))], "more elements than ddof");
    }

    fn wide_dynamic_range_and_offsets(b) {
        let n = 100_003;
        check(b, "REDUCE_L2", &x(log_uniform(n, -30.0, 30.0, 7)), &[]);
        check(b, "REDUCE_L2", &x(vec![1.0e30, -2.0e30, 3.0e25]), &[]);
        check(b, "REDUCE_L2", &x(vec![1.0e-30, 2.0e-30]), &[]);
        // Mean far from zero: Welford must not cancel catastrophically.
        let offset: Vec<f32> = uniform(n, -1.0, 1.0, 8).iter().map(|v| v + 1000.0).collect();
        check(b, "REDUCE_VAR", &x(offset.clone()), &[]);
        check(b, "REDUCE_VAR", &x(offset.clone()), &[("ddof", ParamValue::U32(1))]);
        check(b, "REDUCE_STDDEV", &x(offset), &[("ddof", ParamValue::U32(1))]);
        check(b, "REDUCE_VAR", &x(vec![5.0; 1000]), &[]);
        check(b, "REDUCE_STDDEV", &x(vec![-3.5; 257]), &[]);
    }

    fn nan_and_infinities_follow_numpy(b) {
        for (seed, n) in [(1u64, 3usize), (2, 1000), (3, (1 << 20) + 3)] {
            let mut data = uniform(n, -5.0, 5.0, seed);
            sprinkle_specials(&mut data, 0.01, seed);
            for id in ["REDUCE_MIN", "REDUCE_MAX", "REDUCE_ARGMAX", "REDUCE_ARGMIN"] {
                check(b, id, &x(data.clone()), &[]);
            }
        }
        let cases: Vec<Vec<f32>> = vec![
            vec![1.0, f32::NAN, 3.0],
            vec![1.0, f32::INFINITY, 3.0],
            vec![f32::NEG_INFINITY, 2.0],
            vec![f32::INFINITY, f32::NEG_INFINITY],
            vec![f32::NAN],
            vec![f32::INFINITY; 5],
        ];
        for c in cases {
            for id in SCALARS.iter().chain(["REDUCE_ARGMAX", "REDUCE_ARGMIN"].iter()) {
                check(b, id, &x(c.clone()), &[]);
            }
        }
    }

    fn arg_reductions_break_ties_by_first_index(b) {
        let mut data = vec![0.0f32; 5000];
        for i in [4999, 1234, 777, 4096] {
            data[i] = 9.0;
        }
        for i in [3000, 42, 2000] {
            data[i] = -9.0;
        }
        let max = run(b, "REDUCE_ARGMAX", &x(data.clone()), &[]).unwrap();
        assert_eq!((max[0].f32s()[0], max[1].u32s()[0]), (9.0, 777));
        let min = run(b, "REDUCE_ARGMIN", &x(data.clone()), &[]).unwrap();
        assert_eq!((min[0].f32s()[0], min[1].u32s()[0]), (-9.0, 42));
        // All equal: index 0. NaNs: the first NaN wins for both.
        let flat = vec![2.5f32; (1 << 20) + 3];
        assert_eq!(run(b, "REDUCE_ARGMAX", &x(flat.clone()), &[]).unwrap()[1].u32s()[0], 0);
        assert_eq!(run(b, "REDUCE_ARGMIN", &x(flat), &[]).unwrap()[1].u32s()[0], 0);
        let mut nans = vec![1.0f32; 3000];
        nans[2900] = f32::NAN;
        nans[1500] = f32::NAN;
        nans[10] = f32::INFINITY;
        assert_eq!(run(b, "REDUCE_ARGMAX", &x(nans.clone()), &[]).unwrap()[1].u32s()[0], 1500);
        assert_eq!(run(b, "REDUCE_ARGMIN", &x(nans), &[]).unwrap()[1].u32s()[0], 1500);
        // The winning element in the last, partial window of a chunked run.
        let mut late = vec![0.0f32; (1 << 20) + 3];
        late[(1 << 20) + 2] = 1.0;
        assert_eq!(run(b, "REDUCE_ARGMAX", &x(late), &[]).unwrap()[1].u32s()[0], (1 << 20) + 2);
    }

    fn histogram_counts_every_size(b) {
        let p = [("min_val", ParamValue::F32(-2.0)), ("max_val", ParamValue::F32(3.0))];
        for (seed, &n) in SIZES.iter().enumerate() {
            let mut data = uniform(n, -3.0, 4.0, 100 + seed as u64);
            sprinkle_specials(&mut data, 0.02, seed as u64);
            check(b, "REDUCE_HISTOGRAM", &x(data), &p);
        }
    }

    fn histogram_edges_are_exact(b) {
        // Values exactly on, and one ulp either side of, every bin boundary of awkward ranges.
        for (lo, hi) in [(0.0f32, 1.0f32), (-1.0, 0.3), (0.1, 0.7), (-1.0e6, 3.0), (5.0, 5.0001)] {
            let mut data = vec![lo, hi, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
            for k in 0..=256 {
                let e = lo as f64 + (hi as f64 - lo as f64) * k as f64 / 256.0;
                let e = e as f32;
                data.extend([e, f32::from_bits(e.to_bits().wrapping_add(1)), f32::from_bits(e.to_bits().wrapping_sub(1))]);
            }
            data.push(f32::from_bits(hi.to_bits() + 1)); // just above the range: not counted
            let p = [("min_val", ParamValue::F32(lo)), ("max_val", ParamValue::F32(hi))];
            check(b, "REDUCE_HISTOGRAM", &x(data.clone()), &p);
        }
        // x == max_val lands in the last bin; x == min_val in the first.
        let p = [("min_val", ParamValue::F32(0.0)), ("max_val", ParamValue::F32(1.0))];
        let counts = run(b, "REDUCE_HISTOGRAM", &x(vec![0.0, 1.0, 1.0, 0.5, 2.0, -0.0]), &p).unwrap();
        let c = counts[0].u32s();
        assert_eq!((c[0], c[128], c[255], c.iter().sum::<u32>()), (2, 1, 2, 5));
    }

    fn histogram_rejects_bad_ranges(b) {
        let bad = [
            (1.0f32, 1.0f32),
            (2.0, 1.0),
            (f32::NEG_INFINITY, 1.0),
            (0.0, f32::NAN),
        ];
        for (lo, hi) in bad {
            let p = [("min_val", ParamValue::F32(lo)), ("max_val", ParamValue::F32(hi))];
            check_rejects(b, "REDUCE_HISTOGRAM", &x(vec![1.0]), &p, "finite min_val < max_val");
        }
    }
}

/// The GPU must see the same input twice in a row without stale state (pipelines and pooled
/// buffers are reused between calls).
#[test]
fn repeated_gpu_runs_are_stable() {
    let b = crate::testing::TestBackend::gpu();
    let data = uniform(300_001, -1.0, 1.0, 99);
    let first = run(&b, "REDUCE_SUM", &x(data.clone()), &[]).unwrap();
    for _ in 0..3 {
        assert_eq!(run(&b, "REDUCE_SUM", &x(data.clone()), &[]).unwrap(), first);
    }
}

/// The CPU min/max, arg and sum loops are compiled per SIMD level (baseline, AVX2, AVX-512);
/// CI may run on any of them, so every level this CPU has is checked here, across several
/// parallel chunks, with NaN and infinities in the middle and at the ends.
#[test]
fn cpu_reductions_agree_at_every_simd_level() {
    use crate::simd::check_every_simd_level;
    let n = 3 * crate::cpu::CHUNK + 37;
    let plain = uniform(n, -1e3, 1e3, 91);
    let mut with_nan = plain.clone();
    with_nan[2 * crate::cpu::CHUNK + 5] = f32::NAN;
    let mut with_inf = plain.clone();
    with_inf[n - 1] = f32::INFINITY;
    with_inf[0] = f32::NEG_INFINITY;
    let fused = ["MAP_REDUCE_SQUARE_SUM", "MAP_REDUCE_ABS_SUM"];
    let args = ["REDUCE_ARGMAX", "REDUCE_ARGMIN"];
    for data in [&plain, &with_nan, &with_inf] {
        for id in SCALARS.iter().chain(&fused).chain(&args) {
            check_every_simd_level(id, &[HostArray::vec_f32(data.clone())], &[]);
        }
    }
    // The fused kernels with a second operand: a mask (NaN under mask 0 must not count) and
    // a threshold (NaN never counts).
    let mask: Vec<u32> = (0..n as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 31) & 1).collect();
    for data in [&plain, &with_nan, &with_inf] {
        let masked = [HostArray::vec_f32(data.clone()), HostArray::vec_u32(mask.clone())];
        let mut nan_masked_out = mask.clone();
        nan_masked_out[2 * crate::cpu::CHUNK + 5] = 0;
        check_every_simd_level("MAP_REDUCE_MASKED_SUM", &masked, &[]);
        check_every_simd_level(
            "MAP_REDUCE_MASKED_SUM",
            &[HostArray::vec_f32(data.clone()), HostArray::vec_u32(nan_masked_out)],
            &[],
        );
        check_every_simd_level(
            "MAP_REDUCE_THRESHOLD_COUNT",
            &[HostArray::vec_f32(data.clone())],
            &[("threshold", ParamValue::F32(12.5))],
        );
    }
    // Ties: the first index of the extreme wins at every level.
    let mut ties = vec![0.5f32; n];
    ties[CHUNK_TIE] = 7.0;
    ties[n - 3] = 7.0;
    ties[CHUNK_TIE + 1] = -7.0;
    ties[n - 2] = -7.0;
    for id in args {
        check_every_simd_level(id, &[HostArray::vec_f32(ties.clone())], &[]);
    }
}

const CHUNK_TIE: usize = crate::cpu::CHUNK + 11;
