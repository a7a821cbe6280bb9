use crate::array::HostArray;
use crate::test_all_backends;
use crate::testdata::uniform_u32;
use crate::testing::check;

test_all_backends! {
    fn smoke(b) {
        for n in [0usize, 1, 3, 1025, 4096, 4097, 32768, (1 << 20) + 7] {
            let x = vec![HostArray::vec_u32(uniform_u32(n, n as u64))];
            check(b, "SCAN_EXCLUSIVE", &x, &[]);
            check(b, "SCAN_INCLUSIVE", &x, &[]);
        }
    }
}
