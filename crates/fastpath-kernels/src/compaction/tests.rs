use crate::array::HostArray;
use crate::params::ParamValue;
use crate::test_all_backends;
use crate::testdata::{mask, sprinkle_specials, uniform};
use crate::testing::check;

test_all_backends! {
    fn smoke(b) {
        for n in [0usize, 1, 3, 1025, 4096, 4097, 32768, (1 << 20) + 7] {
            let mut data = uniform(n, -1.0, 1.0, n as u64);
            sprinkle_specials(&mut data, 0.01, 3);
            let x = vec![HostArray::vec_f32(data.clone())];
            for op in ["gt", "ne"] {
                let p = [("threshold", ParamValue::F32(0.25)), ("op", ParamValue::Enum(op.into()))];
                check(b, "COMPACT_IF", &x, &p);
                check(b, "FUSED_SCAN_COMPACT", &x, &p);
            }
            let m = vec![HostArray::vec_f32(data), HostArray::vec_u32(mask(n, 0.3, 5))];
            check(b, "COMPACT_MASK", &m, &[]);
        }
    }
}
