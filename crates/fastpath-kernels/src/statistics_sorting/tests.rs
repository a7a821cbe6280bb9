//! Every kernel on every backend (CPU, GPU with and without subgroups, GPU with a 1 MiB
//! binding limit so the chunked paths run) against float64/std references.

use crate::array::HostArray;
use crate::params::ParamValue;
use crate::statistics_sorting::route;
use crate::test_all_backends;
use crate::testdata::{rng, sprinkle_specials, uniform, uniform_u32};
use crate::testing::{TestBackend, check, check_rejects, run};
use rand::Rng;

/// Sizes from the issue: empty, tiny, around 1024, the bitonic route's largest size, and one
/// large odd size (which exceeds the 1 MiB binding of the chunked backend).
const SIZES: [usize; 9] = [0, 1, 2, 3, 1023, 1024, 1025, 32768, (1 << 20) + 7];
/// Power-of-two sizes for the bitonic kernels; 2^20 exceeds the chunked backend's binding.
const POW2_SIZES: [usize; 8] = [0, 1, 2, 1024, 8192, 16384, 32768, 1 << 20];

fn f32s(v: Vec<f32>) -> HostArray {
    HostArray::vec_f32(v)
}

fn u32s(v: Vec<u32>) -> HostArray {
    HostArray::vec_u32(v)
}

fn iota(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

/// Key patterns that stress a radix sort: sorted, reversed, one value, few values, keys that
/// differ in one byte only, extremes, and keys whose low bytes are constant.
fn u32_patterns(n: usize, seed: u64) -> Vec<(&'static str, Vec<u32>)> {
    let random = uniform_u32(n, seed);
    let mut sorted = random.clone();
    sorted.sort_unstable();
    let reversed: Vec<u32> = sorted.iter().rev().copied().collect();
    let few: Vec<u32> =
        random.iter().map(|k| [0, 7, 1 << 31, u32::MAX][(k % 4) as usize]).collect();
    let one_byte: Vec<u32> = random.iter().map(|k| (k & 0xFF) << 16 | 0x5A00_00A5).collect();
    let extremes: Vec<u32> =
        (0..n).map(|i| if i % 2 == 0 { u32::MAX - (i as u32 & 3) } else { i as u32 & 3 }).collect();
    vec![
        ("random", random),
        ("sorted", sorted),
        ("reversed", reversed),
        ("all-equal", vec![0xDEAD_BEEF; n]),
        ("few-distinct", few),
        ("one-byte", one_byte),
        ("extremes", extremes),
    ]
}

/// f32 patterns: random with specials, sorted, reversed, all-equal, few distinct, and
/// magnitudes spread over the whole range with both zeros.
fn f32_patterns(n: usize, seed: u64) -> Vec<(&'static str, Vec<f32>)> {
    let mut random = uniform(n, -100.0, 100.0, seed);
    sprinkle_specials(&mut random, 0.01, seed);
    let clean = uniform(n, -1.0, 1.0, seed + 1);
    let mut sorted = clean.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let reversed: Vec<f32> = sorted.iter().rev().copied().collect();
    let few: Vec<f32> =
        clean.iter().map(|v| [-1.5, 0.0, -0.0, 2.0][(v.to_bits() % 4) as usize]).collect();
    let mut r = rng(seed + 2);
    let wide: Vec<f32> = (0..n).map(|_| f32::from_bits(r.random::<u32>() & 0xFF7F_FFFF)).collect();
    vec![
        ("random+specials", random),
        ("sorted", sorted),
        ("reversed", reversed),
        ("all-equal", vec![-3.25; n]),
        ("few-distinct", few),
        ("wide-range", wide),
    ]
}

test_all_backends! {
    fn radix_sorts_keys_and_payload_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            // Few distinct keys make stability visible in the payload.
            let keys: Vec<u32> = uniform_u32(n, seed as u64).iter().map(|k| k % 97 * 0x0101_0101).collect();
            check(b, "SORT_RADIX", &[u32s(keys), u32s(iota(n))], &[]);
            check(b, "SORT_RADIX", &[u32s(uniform_u32(n, 100 + seed as u64))], &[]);
        }
    }

    fn radix_handles_tile_boundaries(b) {
        // One tile is 3840 keys (2304 with a payload) on 32 KiB devices; 16 KiB tiles are
        // exercised by small_workgroup_memory_configurations_sort_correctly.
        for n in [2303usize, 2304, 2305, 3839, 3840, 3841, 7680, 7681, 2 * 2304 + 1] {
            let keys: Vec<u32> = uniform_u32(n, n as u64).iter().map(|k| k % 300).collect();
            check(b, "SORT_RADIX", &[u32s(keys.clone()), u32s(iota(n))], &[]);
            check(b, "SORT_RADIX", &[u32s(keys)], &[]);
        }
    }

    fn radix_sorts_adversarial_patterns(b) {
        for n in [5000usize, 100_003] {
            for (_, keys) in u32_patterns(n, n as u64) {
                check(b, "SORT_RADIX", &[u32s(keys.clone()), u32s(iota(n))], &[]);
            }
        }
        let n = (1 << 20) + 7;
        for (name, keys) in u32_patterns(n, 3) {
            if ["few-distinct", "reversed"].contains(&name) {
                check(b, "SORT_RADIX", &[u32s(keys), u32s(uniform_u32(n, 4))], &[]);
            }
        }
    }

    fn bitonic_sorts_floats_at_every_power_of_two(b) {
        for (seed, &n) in POW2_SIZES.iter().enumerate() {
            let mut x = uniform(n, -1.0e3, 1.0e3, seed as u64);
            sprinkle_specials(&mut x, 0.02, seed as u64);
            check(b, "SORT_BITONIC", &[f32s(x)], &[]);
        }
        for (_, x) in f32_patterns(4096, 9) {
            check(b, "SORT_BITONIC", &[f32s(x)], &[]);
        }
        for (_, x) in f32_patterns(32768, 10) {
            check(b, "SORT_BITONIC", &[f32s(x)], &[]);
        }
    }

    fn bitonic_kv_sorts_pairs(b) {
        for (seed, &n) in POW2_SIZES.iter().enumerate() {
            // Few distinct keys: equal keys must come out ordered by value.
            let keys: Vec<f32> = uniform(n, -4.0, 4.0, seed as u64).iter().map(|v| v.round()).collect();
            let values = uniform_u32(n, 50 + seed as u64);
            check(b, "SORT_BITONIC_KV", &[f32s(keys.clone()), u32s(values.clone())], &[]);
            if n > 32768 {
                continue; // check() above already compared every pair
            }
            // The multiset of pairs survives and keys are ascending (the contract's minimum).
            let out = run(b, "SORT_BITONIC_KV", &[f32s(keys.clone()), u32s(values.clone())], &[]).unwrap();
            let mut got: Vec<(u32, u32)> = out[0].f32s().iter().map(|v| v.to_bits()).zip(out[1].u32s().iter().copied()).collect();
            assert!(out[0].f32s().windows(2).all(|w| w[0] <= w[1]), "[{}] n={n} keys not ascending", b.label);
            let mut want: Vec<(u32, u32)> = keys.iter().map(|v| v.to_bits()).zip(values).collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "[{}] n={n}: pairs changed", b.label);
        }
        let mut x = uniform(16384, -1.0, 1.0, 77);
        sprinkle_specials(&mut x, 0.05, 77);
        check(b, "SORT_BITONIC_KV", &[f32s(x), u32s(iota(16384))], &[]);
    }

    fn float_sorts_place_nan_infinities_and_zeros(b) {
        let specials = [f32::NAN, -0.0, 0.0, f32::NEG_INFINITY, f32::INFINITY, f32::from_bits(0xFFC0_0001), 1.0, -1.0];
        let want: Vec<u32> = [
            f32::NEG_INFINITY.to_bits(), (-1.0f32).to_bits(), 0x8000_0000, 0, 1.0f32.to_bits(),
            f32::INFINITY.to_bits(), f32::NAN.to_bits(), 0xFFC0_0001,
        ].to_vec();
        let out = run(b, "SORT_BITONIC", &[f32s(specials.to_vec())], &[]).unwrap();
        assert_eq!(bits(out[0].f32s()), want, "[{}] bitonic order of specials", b.label);
        let radix = route::sort_f32_via(&b.backend, &specials, route::SortRoute::Radix).unwrap();
        assert_eq!(bits(&radix), want, "[{}] radix route order of specials", b.label);
    }

    fn bitonic_rejects_other_lengths(b) {
        for n in [3usize, 1000, 32767] {
            check_rejects(b, "SORT_BITONIC", &[f32s(vec![0.0; n])], &[], "power of two");
            check_rejects(b, "SORT_BITONIC_KV", &[f32s(vec![0.0; n]), u32s(vec![0; n])], &[], "power of two");
        }
    }

    fn top_k_matches_reference(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let mut x = uniform(n, -50.0, 50.0, seed as u64);
            sprinkle_specials(&mut x, 0.01, seed as u64);
            let mut ks = vec![1, n, (n / 10).max(1), (n / 10 + 1).min(n), 100.min(n)];
            if n > 10_000 {
                ks.push(5000); // past the one-workgroup sort of the winners
            }
            for k in ks {
                check(b, "TOPK_SELECT", &[f32s(x.clone())], &[("k", ParamValue::U32(k as u32))]);
            }
        }
    }

    fn top_k_breaks_ties_by_index(b) {
        for (name, x) in f32_patterns(100_003, 21) {
            for k in [1u32, 37, 4097, 10_000] {
                check(b, "TOPK_SELECT", &[f32s(x.clone())], &[("k", ParamValue::U32(k))]);
            }
            if name == "all-equal" {
                let out = run(b, "TOPK_SELECT", &[f32s(x.clone())], &[("k", ParamValue::U32(5))]).unwrap();
                assert_eq!(out[1].u32s(), &[0, 1, 2, 3, 4], "[{}]", b.label);
            }
        }
        // NaNs rank first, tied by index; +0 above -0.
        let x = vec![1.0, f32::NAN, -0.0, 0.0, f32::from_bits(0xFFC0_0000), f32::INFINITY, 0.0];
        let out = run(b, "TOPK_SELECT", &[f32s(x)], &[("k", ParamValue::U32(7))]).unwrap();
        assert_eq!(out[1].u32s(), &[1, 4, 5, 0, 3, 6, 2], "[{}]", b.label);
        assert!(out[0].f32s()[0].is_nan() && out[0].f32s()[1].is_nan());
    }

    fn top_k_rejects_bad_k(b) {
        let x = f32s(vec![1.0; 10]);
        check_rejects(b, "TOPK_SELECT", std::slice::from_ref(&x), &[("k", ParamValue::U32(0))], "1 <= k <= n");
        check_rejects(b, "TOPK_SELECT", &[x], &[("k", ParamValue::U32(11))], "1 <= k <= n");
        check_rejects(b, "TOPK_SELECT", &[f32s(vec![])], &[("k", ParamValue::U32(1))], "1 <= k <= n");
    }

    fn median_matches_reference(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            if n == 0 {
                continue;
            }
            check(b, "MEDIAN_SELECT", &[f32s(uniform(n, -10.0, 10.0, seed as u64))], &[]);
        }
        for n in [4096usize, 100_001, 100_002] {
            for (_, x) in f32_patterns(n, n as u64) {
                check(b, "MEDIAN_SELECT", &[f32s(x)], &[]);
            }
        }
        // numpy's rule: any NaN gives NaN. Infinities: the limit of the mean.
        for x in [
            vec![1.0, f32::NAN, 3.0],
            vec![f32::NEG_INFINITY, f32::INFINITY],
            vec![f32::NEG_INFINITY, 2.0, 5.0, f32::INFINITY],
            vec![f32::INFINITY, f32::INFINITY],
            vec![f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0, 7.0],
            vec![f32::MAX, f32::MAX],
            vec![-f32::MAX, f32::MAX],
            vec![-0.0, 0.0],
        ] {
            check(b, "MEDIAN_SELECT", &[f32s(x)], &[]);
        }
    }

    fn median_rejects_empty_input(b) {
        check_rejects(b, "MEDIAN_SELECT", &[f32s(vec![])], &[], "at least one element");
        check_rejects(b, "PERCENTILE_SELECT", &[f32s(vec![])], &[("p", ParamValue::F32(50.0))], "at least one element");
    }

    fn percentile_matches_reference(b) {
        let ps = [0.0f32, 100.0, 50.0, 37.3, 99.9, 0.1, 25.0];
        for (seed, &n) in SIZES.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let x = uniform(n, -1.0e4, 1.0e4, 40 + seed as u64);
            for p in ps {
                check(b, "PERCENTILE_SELECT", &[f32s(x.clone())], &[("p", ParamValue::F32(p))]);
            }
        }
        for (_, x) in f32_patterns(20_001, 5) {
            for p in ps {
                check(b, "PERCENTILE_SELECT", &[f32s(x.clone())], &[("p", ParamValue::F32(p))]);
            }
        }
        for x in [
            vec![f32::NEG_INFINITY, 5.0],
            vec![5.0, f32::INFINITY],
            vec![f32::NEG_INFINITY, f32::INFINITY],
            vec![-f32::MAX, f32::MAX],
            vec![1.0, f32::NAN],
        ] {
            for p in [0.0f32, 40.0, 50.0, 100.0] {
                check(b, "PERCENTILE_SELECT", &[f32s(x.clone())], &[("p", ParamValue::F32(p))]);
            }
        }
    }

    fn percentile_rejects_p_outside_range(b) {
        for p in [-0.5f32, 100.5, f32::NAN, f32::INFINITY] {
            check_rejects(b, "PERCENTILE_SELECT", &[f32s(vec![1.0, 2.0])], &[("p", ParamValue::F32(p))], "p in [0, 100]");
        }
    }

    fn routes_agree_around_every_threshold(b) {
        use crate::statistics_sorting::route::*;
        let backend = &b.backend;
        // sort: 32768 (bitonic) and its neighbours.
        for n in [1024usize, 32768, 32769, 30000] {
            let mut x = uniform(n, -9.0, 9.0, n as u64);
            sprinkle_specials(&mut x, 0.01, n as u64);
            let (by_table, route) = sort_f32(backend, &x).unwrap();
            assert_eq!(route, sort_route(n));
            let radix = sort_f32_via(backend, &x, SortRoute::Radix).unwrap();
            assert_eq!(bits(&by_table), bits(&radix), "[{}] sort n={n}", b.label);
        }
        // median: 8192 (bitonic), 8191 (radix), 8193 (select).
        for n in [8191usize, 8192, 8193, 1, 2] {
            let x = uniform(n, -9.0, 9.0, 7 + n as u64);
            let (m, route) = median(backend, &x).unwrap();
            assert_eq!(route, median_route(n));
            let mut routes = vec![MedianRoute::Select, MedianRoute::RadixThenMiddle];
            if n.is_power_of_two() {
                routes.push(MedianRoute::BitonicThenMiddle);
            }
            for r in routes {
                let v = median_via(backend, &x, r).unwrap();
                assert_eq!(v.to_bits(), m.to_bits(), "[{}] median n={n} via {r:?}", b.label);
            }
        }
        // top_k: k/n just below and at 0.1.
        let x: Vec<f32> = uniform(1000, -3.0, 3.0, 11).iter().map(|v| v.round()).collect();
        for k in [99usize, 100, 1, 1000] {
            let (v, i, route) = top_k(backend, &x, k).unwrap();
            assert_eq!(route, top_k_route(1000, k));
            for r in [TopKRoute::Select, TopKRoute::RadixThenSlice] {
                let (v2, i2) = top_k_via(backend, &x, k, r).unwrap();
                assert_eq!((bits(&v), &i), (bits(&v2), &i2), "[{}] top_k k={k} via {r:?}", b.label);
            }
        }
        // Past the chunked backend's binding: the f32 key transforms on the windowed radix
        // path, and a truncated top-k output.
        let mut big = uniform(300_001, -5.0, 5.0, 12);
        sprinkle_specials(&mut big, 0.01, 12);
        let cpu = crate::kernel::Backend::Cpu;
        assert_eq!(
            bits(&sort_f32_via(backend, &big, SortRoute::Radix).unwrap()),
            bits(&sort_f32_via(&cpu, &big, SortRoute::Radix).unwrap()),
            "[{}] radix route, 300001 floats",
            b.label
        );
        let (v, i) = top_k_via(backend, &big, 40_000, TopKRoute::RadixThenSlice).unwrap();
        let (v2, i2) = top_k_via(&cpu, &big, 40_000, TopKRoute::Select).unwrap();
        assert_eq!((bits(&v), i), (bits(&v2), i2), "[{}] top_k by sort, 300001 floats", b.label);
        let (p, route) = percentile(backend, &x, 37.5).unwrap();
        assert_eq!(route, PercentileRoute::Select);
        assert!((p - percentile(&crate::kernel::Backend::Cpu, &x, 37.5).unwrap().0).abs() <= 1e-6);
        assert!(median(backend, &[]).is_err() && top_k(backend, &x, 0).is_err());
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn routing_thresholds_pick_the_documented_kernels() {
    use super::route::*;
    assert_eq!(sort_route(32768), SortRoute::Bitonic);
    assert_eq!(sort_route(1), SortRoute::Bitonic);
    assert_eq!(sort_route(65536), SortRoute::Radix);
    assert_eq!(sort_route(32767), SortRoute::Radix);
    assert_eq!(sort_route(0), SortRoute::Radix);
    assert_eq!(top_k_route(1000, 99), TopKRoute::Select);
    assert_eq!(top_k_route(1000, 100), TopKRoute::RadixThenSlice);
    assert_eq!(top_k_route(1001, 100), TopKRoute::Select);
    assert_eq!(median_route(8193), MedianRoute::Select);
    assert_eq!(median_route(8192), MedianRoute::BitonicThenMiddle);
    assert_eq!(median_route(8191), MedianRoute::RadixThenMiddle);
    assert_eq!(median_route(1), MedianRoute::BitonicThenMiddle);
    assert_eq!(percentile_route(5), PercentileRoute::Select);
    assert_eq!(SortRoute::Bitonic.kernel(), "SORT_BITONIC");
    assert_eq!(TopKRoute::RadixThenSlice.kernel(), "SORT_RADIX");
    assert_eq!(MedianRoute::RadixThenMiddle.kernel(), "SORT_RADIX");
}

/// Same inputs, same outputs, run after run: pooled buffers and cached pipelines carry no
/// state from one call to the next (the select state and tile counters are reset in-batch).
#[test]
fn repeated_gpu_runs_are_identical() {
    let b = TestBackend::gpu();
    let x = uniform(300_001, -1.0, 1.0, 99);
    let keys = uniform_u32(300_001, 98);
    let first = (
        run(&b, "TOPK_SELECT", &[f32s(x.clone())], &[("k", ParamValue::U32(1000))]).unwrap(),
        run(&b, "MEDIAN_SELECT", &[f32s(x.clone())], &[]).unwrap(),
        run(&b, "SORT_RADIX", &[u32s(keys.clone()), u32s(iota(300_001))], &[]).unwrap(),
    );
    for _ in 0..3 {
        assert_eq!(
            run(&b, "TOPK_SELECT", &[f32s(x.clone())], &[("k", ParamValue::U32(1000))]).unwrap(),
            first.0
        );
        assert_eq!(run(&b, "MEDIAN_SELECT", &[f32s(x.clone())], &[]).unwrap(), first.1);
        assert_eq!(
            run(&b, "SORT_RADIX", &[u32s(keys.clone()), u32s(iota(300_001))], &[]).unwrap(),
            first.2
        );
    }
}

/// The 16 KiB tile and block sizes (devices with the WebGPU minimum of workgroup memory) on
/// the GPU at hand, through the engines directly.
#[test]
fn small_workgroup_memory_configurations_sort_correctly() {
    use super::bitonic::bitonic_sort_sized;
    use super::radix::{KeyMap, Payload, RadixJob, radix_sort_sized};
    use fastpath_gpu::DType;
    for b in [TestBackend::gpu(), TestBackend::gpu_no_subgroups(), TestBackend::gpu_chunked()] {
        let crate::kernel::Backend::Gpu(gpu) = &b.backend else { unreachable!() };
        for n in [1000usize, 70_001, 300_000] {
            let keys: Vec<u32> = uniform_u32(n, n as u64).iter().map(|k| k % 5000).collect();
            let k_t = gpu.upload(&keys, DType::U32, vec![n]).unwrap();
            let p_t = gpu.upload(&iota(n), DType::U32, vec![n]).unwrap();
            for payload in [false, true] {
                let job = RadixJob {
                    keys: &k_t,
                    payload: if payload { Payload::Buffer(&p_t) } else { Payload::None },
                    key_in: KeyMap::Identity,
                    key_out: KeyMap::Identity,
                    out_len: n,
                    out_dtype: DType::U32,
                };
                let sorted = radix_sort_sized(gpu, &job, false).unwrap();
                let got: Vec<u32> = gpu.read(&sorted.keys).unwrap();
                let mut want: Vec<(u32, u32)> = keys.iter().copied().zip(iota(n)).collect();
                want.sort_by_key(|p| p.0);
                assert!(got.iter().eq(want.iter().map(|p| &p.0)), "[{}] n={n}", b.label);
                if let Some(p) = sorted.payload {
                    let got_p: Vec<u32> = gpu.read(&p).unwrap();
                    assert!(
                        got_p.iter().eq(want.iter().map(|p| &p.1)),
                        "[{}] n={n} payload",
                        b.label
                    );
                }
            }
        }
        for n in [2048usize, 1 << 18] {
            let mut x = uniform(n, -5.0, 5.0, 3);
            sprinkle_specials(&mut x, 0.01, 3);
            let t = gpu.upload(&x, DType::F32, vec![n]).unwrap();
            let v = gpu.upload(&iota(n), DType::U32, vec![n]).unwrap();
            bitonic_sort_sized(gpu, &t, Some(&v), KeyMap::F32Sort, false).unwrap();
            let got: Vec<f32> = gpu.read(&t).unwrap();
            let mut want = x.clone();
            want.sort_by(|a, b| super::keys::reference_order(*a, *b));
            assert_eq!(bits(&got), bits(&want), "[{}] bitonic n={n}", b.label);
        }
    }
}

/// CPU timings at 2^24 for comparison with numpy (`np.sort`, `np.argpartition`,
/// `np.median`, `np.percentile` on the same sizes). Not a test of speed: run by hand with
/// `cargo test -p fastpath-kernels --config 'profile.dev.package.fastpath-kernels.opt-level=3'
/// cpu_timings_at_2_pow_24 -- --ignored --nocapture`.
#[test]
#[ignore]
fn cpu_timings_at_2_pow_24() {
    use super::{cpu_select, cpu_sort};
    use std::time::Instant;
    let n = 1 << 24;
    let x = uniform(n, -1.0, 1.0, 1);
    let keys = uniform_u32(n, 2);
    let best = |name: &str, f: &mut dyn FnMut()| {
        let mut t = f64::MAX;
        for _ in 0..5 {
            let s = Instant::now();
            f();
            t = t.min(s.elapsed().as_secs_f64());
        }
        eprintln!("{name:>28}: {:8.1} ms", t * 1e3);
    };
    best("sort f32 (radix)", &mut || {
        cpu_sort::sorted_f32_bits(bytemuck::cast_slice(&x));
    });
    best("sort u32 (radix)", &mut || {
        cpu_sort::radix_sorted_u32(&keys, None);
    });
    best("sort u32 + payload", &mut || {
        cpu_sort::radix_sorted_u32(&keys, Some(&iota(n)));
    });
    best("top_k k=100", &mut || {
        cpu_select::top_k(&x, 100);
    });
    best("top_k k=10^4", &mut || {
        cpu_select::top_k(&x, 10_000);
    });
    let median = super::MedianSelect;
    let pct = super::PercentileSelect;
    let xa = f32s(x.clone());
    let reg = |id: &str| crate::registry::kernel(id).unwrap();
    let p_med = crate::params::Params::with(reg("MEDIAN_SELECT").spec(), &[]).unwrap();
    let p_pct = crate::params::Params::with(
        reg("PERCENTILE_SELECT").spec(),
        &[("p", ParamValue::F32(37.0))],
    )
    .unwrap();
    use crate::kernel::Kernel;
    best("median", &mut || {
        median.cpu(&[&xa], &p_med).unwrap();
    });
    best("percentile 37", &mut || {
        pct.cpu(&[&xa], &p_pct).unwrap();
    });
}

/// GPU timings (timestamp queries, median of 10 after a warm-up) for the H100 comparison with
/// torch.sort / torch.topk / torch.median. Not a test of speed: run by hand with
/// `FASTPATH_SORT_BENCH_N=67108864 cargo test -p fastpath-kernels --release
/// gpu_timings_of_sorting_kernels -- --ignored --nocapture` (default n = 2^26).
#[test]
#[ignore]
fn gpu_timings_of_sorting_kernels() {
    use crate::kernel::Backend;
    use crate::params::Params;
    use fastpath_gpu::DType;
    let n: usize =
        std::env::var("FASTPATH_SORT_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 26);
    let Backend::Gpu(gpu) = TestBackend::gpu().backend else { unreachable!() };
    eprintln!("device: {} ({}), n = {n}", gpu.adapter().name, gpu.adapter().backend);
    let x = gpu.upload(&uniform(n, -1.0, 1.0, 1), DType::F32, vec![n]).unwrap();
    let keys = gpu.upload(&uniform_u32(n, 2), DType::U32, vec![n]).unwrap();
    let payload = gpu.upload(&iota(n), DType::U32, vec![n]).unwrap();
    let time = |name: &str, elements: usize, run: &dyn Fn()| {
        let mut ms: Vec<f64> = (0..11)
            .map(|_| {
                let t = gpu.time(|| {
                    run();
                    Ok(())
                });
                let t = t.unwrap();
                t.gpu_seconds.unwrap_or(t.wall_seconds) * 1e3
            })
            .skip(1)
            .collect();
        ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = ms[ms.len() / 2];
        eprintln!(
            "{name:>32}: {median:9.3} ms  {:8.3} G elements/s",
            elements as f64 / median / 1e6
        );
    };
    let kernel = |id: &str| crate::registry::kernel(id).unwrap();
    let params = |id: &str, p: &[(&str, ParamValue)]| Params::with(kernel(id).spec(), p).unwrap();
    let radix = kernel("SORT_RADIX");
    let none = params("SORT_RADIX", &[]);
    time("SORT_RADIX u32 keys", n, &|| {
        radix.gpu(&gpu, &[&keys], &none).unwrap();
    });
    time("SORT_RADIX u32 keys + payload", n, &|| {
        radix.gpu(&gpu, &[&keys, &payload], &none).unwrap();
    });
    time("sort_f32 via radix (route)", n, &|| {
        let job = super::radix::RadixJob {
            keys: &x,
            payload: super::radix::Payload::None,
            key_in: super::radix::KeyMap::F32Sort,
            key_out: super::radix::KeyMap::F32Sort,
            out_len: n,
            out_dtype: DType::F32,
        };
        super::radix::radix_sort(&gpu, &job).unwrap();
    });
    for k in [100u32, 10_000] {
        let topk = kernel("TOPK_SELECT");
        let p = params("TOPK_SELECT", &[("k", ParamValue::U32(k))]);
        time(&format!("TOPK_SELECT k={k}"), n, &|| {
            topk.gpu(&gpu, &[&x], &p).unwrap();
        });
    }
    let median = kernel("MEDIAN_SELECT");
    let p = params("MEDIAN_SELECT", &[]);
    time("MEDIAN_SELECT", n, &|| {
        median.gpu(&gpu, &[&x], &p).unwrap();
    });
    let pct = kernel("PERCENTILE_SELECT");
    let p = params("PERCENTILE_SELECT", &[("p", ParamValue::F32(37.0))]);
    time("PERCENTILE_SELECT p=37", n, &|| {
        pct.gpu(&gpu, &[&x], &p).unwrap();
    });
    let small = gpu.upload(&uniform(32768, -1.0, 1.0, 3), DType::F32, vec![32768]).unwrap();
    let bitonic = kernel("SORT_BITONIC");
    let p = params("SORT_BITONIC", &[]);
    time("SORT_BITONIC n=32768", 32768, &|| {
        bitonic.gpu(&gpu, &[&small], &p).unwrap();
    });
    let pow2 = n.next_power_of_two() / if n.is_power_of_two() { 1 } else { 2 };
    let big = gpu.upload(&uniform(pow2, -1.0, 1.0, 4), DType::F32, vec![pow2]).unwrap();
    time(&format!("SORT_BITONIC n={pow2}"), pow2, &|| {
        bitonic.gpu(&gpu, &[&big], &p).unwrap();
    });
}
