use crate::array::HostArray;
use crate::params::ParamValue;
use crate::test_all_backends;
use crate::testdata::{mask, sprinkle_specials, uniform};
use crate::testing::{SIZES, check, run};

test_all_backends! {
    fn fused_reductions_match_reference_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let data = uniform(n, -10.0, 10.0, 40 + seed as u64);
            let x = vec![HostArray::vec_f32(data.clone())];
            check(b, "MAP_REDUCE_SQUARE_SUM", &x, &[]);
            check(b, "MAP_REDUCE_ABS_SUM", &x, &[]);
            for t in [0.0f32, 3.5, -100.0, 100.0] {
                check(b, "MAP_REDUCE_THRESHOLD_COUNT", &x, &[("threshold", ParamValue::F32(t))]);
            }
            for density in [0.0, 0.3, 1.0] {
                let m = mask(n, density, seed as u64);
                check(b, "MAP_REDUCE_MASKED_SUM", &[HostArray::vec_f32(data.clone()), HostArray::vec_u32(m)], &[]);
            }
        }
    }

    fn fused_reductions_handle_specials(b) {
        for (seed, n) in [(1u64, 5usize), (2, 4099)] {
            let mut data = uniform(n, -2.0, 2.0, seed);
            sprinkle_specials(&mut data, 0.05, seed);
            let x = vec![HostArray::vec_f32(data.clone())];
            for t in [0.0f32, f32::NEG_INFINITY, f32::INFINITY, f32::NAN] {
                check(b, "MAP_REDUCE_THRESHOLD_COUNT", &x, &[("threshold", ParamValue::F32(t))]);
            }
        }
        // NaN and infinities in sums; a NaN under a zero mask does not count.
        let nan_inf = vec![HostArray::vec_f32(vec![1.0, f32::INFINITY, 2.0])];
        check(b, "MAP_REDUCE_SQUARE_SUM", &nan_inf, &[]);
        check(b, "MAP_REDUCE_ABS_SUM", &[HostArray::vec_f32(vec![f32::NEG_INFINITY, 1.0])], &[]);
        check(b, "MAP_REDUCE_ABS_SUM", &[HostArray::vec_f32(vec![f32::NAN, 1.0])], &[]);
        let masked = [HostArray::vec_f32(vec![f32::NAN, 1.0, f32::INFINITY, 4.0]), HostArray::vec_u32(vec![0, 7, 0, 1])];
        let out = run(b, "MAP_REDUCE_MASKED_SUM", &masked, &[]).unwrap();
        assert_eq!(out[0].f32s()[0], 5.0);
        // A true sum of squares beyond f32 range is +inf.
        check(b, "MAP_REDUCE_SQUARE_SUM", &[HostArray::vec_f32(vec![3.0e19, 3.0e19])], &[]);
    }

    fn threshold_count_is_strict(b) {
        let x = vec![HostArray::vec_f32(vec![1.0, 2.0, 2.0, 3.0, f32::NAN])];
        let c = run(b, "MAP_REDUCE_THRESHOLD_COUNT", &x, &[("threshold", ParamValue::F32(2.0))]).unwrap();
        assert_eq!(c[0].u32s()[0], 1);
    }

    fn masked_sum_rejects_mismatched_lengths(b) {
        let inputs = [HostArray::vec_f32(vec![1.0; 10]), HostArray::vec_u32(vec![1; 9])];
        crate::testing::check_rejects(b, "MAP_REDUCE_MASKED_SUM", &inputs, &[], "n = 9 here but 10");
        let wrong_type = [HostArray::vec_f32(vec![1.0; 3]), HostArray::vec_f32(vec![1.0; 3])];
        crate::testing::check_rejects(b, "MAP_REDUCE_MASKED_SUM", &wrong_type, &[], "expected u32 [n]");
    }
}
