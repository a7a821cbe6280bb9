use fastpath_gpu::{DType, Gpu, GpuTensor};

use super::*;
use crate::array::HostArray;
use crate::params::ParamValue;
use crate::scans::engine::{Algorithm, TILE};
use crate::scans::tests::{CHUNKED_WINDOW, SIZES, test_gpu_backends};
use crate::test_all_backends;
use crate::testdata::{mask, sprinkle_specials, uniform};
use crate::testing::{TestBackend, check, check_rejects, run};

const OPS: [&str; 6] = ["gt", "ge", "lt", "le", "eq", "ne"];

fn predicate(t: f32, op: &str) -> Vec<(&'static str, ParamValue)> {
    vec![("threshold", ParamValue::F32(t)), ("op", ParamValue::Enum(op.into()))]
}

fn fused(t: f32, op: &str, mode: &str) -> Vec<(&'static str, ParamValue)> {
    let mut p = predicate(t, op);
    p.push(("mode", ParamValue::Enum(mode.into())));
    p
}

fn xs(v: &[f32]) -> Vec<HostArray> {
    vec![HostArray::vec_f32(v.to_vec())]
}

fn with_mask(x: &[f32], m: Vec<u32>) -> Vec<HostArray> {
    vec![HostArray::vec_f32(x.to_vec()), HostArray::vec_u32(m)]
}

/// Data with a few of every special value, and exact hits on the thresholds used below.
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut d = uniform(n, -1.0, 1.0, seed);
    sprinkle_specials(&mut d, 0.01, seed);
    for (i, v) in d.iter_mut().enumerate() {
        if i % 97 == 5 {
            *v = 0.25;
        }
    }
    d
}

/// Survivors (as bits) and count of an unordered run, checked as a multiset.
fn check_unordered(b: &TestBackend, x: &[f32], t: f32, op: &str) {
    let out = run(b, "FUSED_SCAN_COMPACT", &xs(x), &fused(t, op, "unordered")).unwrap();
    let count = out[1].u32s()[0] as usize;
    let mut got: Vec<u32> = out[0].f32s()[..count].iter().map(|v| v.to_bits()).collect();
    let ordered = run(&TestBackend::cpu(), "COMPACT_IF", &xs(x), &predicate(t, op)).unwrap();
    let want_count = ordered[1].u32s()[0] as usize;
    let mut want: Vec<u32> = ordered[0].f32s()[..want_count].iter().map(|v| v.to_bits()).collect();
    assert_eq!(count, want_count, "[{}] unordered count n={} {op} {t}", b.label, x.len());
    got.sort_unstable();
    want.sort_unstable();
    assert!(got == want, "[{}] unordered survivors differ n={} {op} {t}", b.label, x.len());
}

/// Masks that stress ranks and windows: nothing, everything, alternate, first or last only,
/// survivors only in the last tile or window (their ranks land windows earlier), dense head.
fn adversarial_masks(n: usize) -> Vec<(&'static str, Vec<u32>)> {
    let tail_start = n - n.min(TILE);
    vec![
        ("none", vec![0; n]),
        ("all", vec![u32::MAX; n]),
        ("alternating", (0..n).map(|i| (i % 2) as u32 * 7).collect()),
        ("first only", (0..n).map(|i| (i == 0) as u32).collect()),
        ("last only", (0..n).map(|i| (i + 1 == n) as u32 * 0x8000_0000).collect()),
        ("last tile", (0..n).map(|i| (i >= tail_start) as u32 * 3).collect()),
        ("dense head", (0..n).map(|i| (i < n / 2 || i % 1000 == 0) as u32).collect()),
    ]
}

test_all_backends! {
    fn compact_if_every_op_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let d = data(n, 300 + seed as u64);
            for op in OPS {
                check(b, "COMPACT_IF", &xs(&d), &predicate(0.25, op));
                if n < 40_000 {
                    check(b, "COMPACT_IF", &xs(&d), &predicate(-0.5, op));
                }
            }
        }
    }

    fn compact_mask_keeps_any_non_zero_value(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let d = data(n, 400 + seed as u64);
            for density in [0.0, 0.3, 1.0] {
                if n > 40_000 && density != 0.3 {
                    continue;
                }
                check(b, "COMPACT_MASK", &with_mask(&d, mask(n, density, seed as u64)), &[]);
            }
        }
    }

    fn fused_ordered_equals_compact_if(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let d = data(n, 500 + seed as u64);
            for op in ["gt", "le", "ne"] {
                check(b, "FUSED_SCAN_COMPACT", &xs(&d), &fused(0.25, op, "ordered"));
            }
            let a = run(b, "FUSED_SCAN_COMPACT", &xs(&d), &predicate(0.0, "ge")).unwrap();
            let c = run(b, "COMPACT_IF", &xs(&d), &predicate(0.0, "ge")).unwrap();
            let count = c[1].u32s()[0] as usize;
            assert_eq!(a[1], c[1], "[{}] count", b.label);
            let bits =
                |v: &HostArray| v.f32s()[..count].iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&a[0]),
                bits(&c[0]),
                "[{}] ordered output differs from COMPACT_IF",
                b.label
            );
        }
    }

    fn fused_unordered_keeps_the_multiset(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            let d = data(n, 600 + seed as u64);
            for op in OPS {
                if n > 40_000 && op != "gt" {
                    continue;
                }
                check_unordered(b, &d, 0.25, op);
            }
        }
        check_unordered(b, &[f32::NAN, 1.0, -0.0], f32::NAN, "ne");
    }

    fn nan_infinities_zeros_and_subnormals(b) {
        let sub = f32::from_bits(1); // smallest subnormal
        let x = [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            sub,
            -sub,
            f32::MIN_POSITIVE,
            1.0,
            -1.0,
            f32::MAX,
            f32::MIN,
            0.25,
        ];
        let thresholds = [0.0, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, sub, 1.0];
        for t in thresholds {
            for op in OPS {
                check(b, "COMPACT_IF", &xs(&x), &predicate(t, op));
                check(b, "FUSED_SCAN_COMPACT", &xs(&x), &fused(t, op, "ordered"));
                check_unordered(b, &x, t, op);
            }
        }
        let count = |t: f32, op: &str| {
            run(b, "COMPACT_IF", &xs(&x), &predicate(t, op)).unwrap()[1].u32s()[0]
        };
        assert_eq!(count(f32::NAN, "ne"), x.len() as u32, "[{}] ne NaN keeps all", b.label);
        assert_eq!(count(f32::NAN, "eq"), 0, "[{}] eq NaN keeps none", b.label);
        assert_eq!(count(0.0, "eq"), 2, "[{}] -0 == +0", b.label);
        assert_eq!(count(0.0, "gt"), 6, "[{}] subnormals are not zero", b.label);
        assert_eq!(count(f32::INFINITY, "ge"), 1, "[{}] +inf >= +inf", b.label);
        // NaN elements pass only ne.
        assert_eq!(count(1.0, "ne"), x.len() as u32 - 1, "[{}] NaN != 1", b.label);
    }

    fn adversarial_survivor_patterns(b) {
        // Three windows on the chunked backend: survivors of the last window rank into the first.
        for n in [3 * TILE + 5, 2 * CHUNKED_WINDOW + 77] {
            let d = uniform(n, -1.0, 1.0, n as u64);
            for (name, m) in adversarial_masks(n) {
                if n > 40_000 && matches!(name, "first only" | "alternating") {
                    continue;
                }
                check(b, "COMPACT_MASK", &with_mask(&d, m), &[]);
            }
            // A ramp: lt keeps a prefix, gt a suffix (the suffix's ranks all move back).
            let ramp: Vec<f32> = (0..n).map(|i| i as f32).collect();
            check(b, "COMPACT_IF", &xs(&ramp), &predicate((n - 10) as f32, "gt"));
            check(b, "COMPACT_IF", &xs(&ramp), &predicate(100.0, "lt"));
        }
    }

    fn rejects_bad_input_with_one_line(b) {
        let x = HostArray::vec_f32(vec![1.0; 10]);
        check_rejects(
            b,
            "COMPACT_MASK",
            &[x.clone(), HostArray::vec_u32(vec![1; 9])],
            &[],
            "n = 9 here but 10",
        );
        check_rejects(
            b,
            "COMPACT_MASK",
            &[x.clone(), HostArray::vec_f32(vec![1.0; 10])],
            &[],
            "input mask: expected u32 [n]",
        );
        check_rejects(b, "COMPACT_MASK", std::slice::from_ref(&x), &[], "takes 2 input array(s)");
        check_rejects(
            b,
            "COMPACT_IF",
            &[HostArray::vec_u32(vec![1; 10])],
            &predicate(0.0, "gt"),
            "expected f32 [n], got u32 [10]",
        );
        check_rejects(
            b,
            "COMPACT_IF",
            std::slice::from_ref(&x),
            &[],
            "needs --param threshold=<f32>",
        );
        let bad_op = [("threshold", ParamValue::F32(0.0)), ("op", ParamValue::Enum("gte".into()))];
        check_rejects(b, "COMPACT_IF", std::slice::from_ref(&x), &bad_op, "parameter op must be");
        let bad_mode = fused(0.0, "gt", "sorted");
        check_rejects(
            b,
            "FUSED_SCAN_COMPACT",
            std::slice::from_ref(&x),
            &bad_mode,
            "parameter mode must be",
        );
        check_rejects(
            b,
            "FUSED_SCAN_COMPACT",
            &[HostArray::f32(vec![2, 5], vec![0.0; 10])],
            &predicate(0.0, "gt"),
            "expected f32 [n], got f32 [2, 5]",
        );
    }

    fn repeated_runs_in_one_process(b) {
        for round in 0..4u64 {
            let d = data(100_003, 700 + round);
            check(b, "COMPACT_IF", &xs(&d), &predicate(0.1 * round as f32, "gt"));
            check(b, "COMPACT_MASK", &with_mask(&d, mask(d.len(), 0.5, round)), &[]);
            check_unordered(b, &d, 0.0, "lt");
        }
    }
}

#[test]
fn size_limit_is_checked_before_anything_runs() {
    let args = [crate::array::ArgMeta { dtype: DType::F32, shape: vec![u32::MAX as usize] }];
    let p = Params::with(CompactIf.spec(), &predicate(0.0, "gt")).unwrap();
    let err = crate::kernel::validate(&CompactIf, &args, &p).unwrap_err().to_string();
    assert!(err.contains("COMPACT_IF takes at most 4294967294 elements"), "{err}");
}

// ---------------------------------------------------------------- GPU-only paths

fn compact_on(
    gpu: &Gpu,
    x: &[f32],
    m: Option<&[u32]>,
    t: f32,
    tuning: &Tuning,
    scatter: Scatter,
) -> (Vec<f32>, usize) {
    let xt = gpu.upload(x, DType::F32, vec![x.len()]).unwrap();
    let mt = m.map(|m| gpu.upload(m, DType::U32, vec![m.len()]).unwrap());
    let a = CompactArgs {
        x: &xt,
        mask: mt.as_ref(),
        threshold: t,
        op: CompareOp::Gt,
        unordered: false,
        scatter,
    };
    let out = compact_gpu(gpu, &a, tuning).unwrap();
    let count = gpu.read::<u32>(&out[1]).unwrap()[0] as usize;
    let y = gpu.read::<f32>(&out[0]).unwrap();
    (y[..count].to_vec(), count)
}

fn expect(label: &str, x: &[f32], keep: impl Fn(usize) -> bool, got: (Vec<f32>, usize)) {
    let want: Vec<u32> = (0..x.len()).filter(|&i| keep(i)).map(|i| x[i].to_bits()).collect();
    assert_eq!(got.1, want.len(), "{label} n={}: count", x.len());
    let got: Vec<u32> = got.0.iter().map(|v| v.to_bits()).collect();
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!("{label} n={}: y[{i}] = {:#x}, expected {:#x}", x.len(), got[i], want[i]);
    }
}

const FALLBACK_SIZES: [usize; 3] = [2 * TILE + 1, 9 * TILE + 17, CHUNKED_WINDOW + 3 * TILE + 5];

test_gpu_backends! {
    fn look_back_falls_back_when_predecessors_never_start(gpu) {
        for (max_spins, reverse_tiles) in [(0, true), (0, false)] {
            let tuning =
                Tuning { algorithm: Algorithm::DecoupledFallback, max_spins, reverse_tiles };
            for &n in &FALLBACK_SIZES {
                let x = uniform(n, -1.0, 1.0, n as u64);
                let m = mask(n, 0.4, n as u64);
                for scatter in [Scatter::Direct, Scatter::Staged] {
                    let label =
                        format!("fallback spins={max_spins} reverse={reverse_tiles} {scatter:?}");
                    expect(
                        &label,
                        &x,
                        |i| x[i] > 0.5,
                        compact_on(gpu, &x, None, 0.5, &tuning, scatter),
                    );
                    expect(
                        &label,
                        &x,
                        |i| m[i] != 0,
                        compact_on(gpu, &x, Some(&m), 0.0, &tuning, scatter),
                    );
                }
            }
        }
    }

    fn reduce_then_scan_matches(gpu) {
        let tuning = Tuning { algorithm: Algorithm::ReduceThenScan, ..Tuning::default() };
        for n in SIZES.into_iter().chain([2 * CHUNKED_WINDOW + 77]) {
            let x = uniform(n, -1.0, 1.0, 40 + n as u64);
            let m = mask(n, 0.3, n as u64);
            for scatter in [Scatter::Direct, Scatter::Staged] {
                let label = format!("reduce-then-scan {scatter:?}");
                expect(
                    &label,
                    &x,
                    |i| x[i] > -0.2,
                    compact_on(gpu, &x, None, -0.2, &tuning, scatter),
                );
                expect(
                    &label,
                    &x,
                    |i| m[i] != 0,
                    compact_on(gpu, &x, Some(&m), 0.0, &tuning, scatter),
                );
            }
        }
    }

    fn many_compactions_in_one_batch(gpu) {
        let inputs: Vec<Vec<f32>> =
            (0..3).map(|s| uniform(60_000 + s * 5000, -1.0, 1.0, 90 + s as u64)).collect();
        for round in 0..2 {
            let t = 0.3 * round as f32;
            let mut outs: Vec<GpuTensor> = Vec::new();
            let uploaded: Vec<GpuTensor> =
                inputs.iter().map(|d| gpu.upload(d, DType::F32, vec![d.len()]).unwrap()).collect();
            for x in &uploaded {
                let scatter = if round == 0 { Scatter::Direct } else { Scatter::Staged };
                let a = CompactArgs {
                    x,
                    mask: None,
                    threshold: t,
                    op: CompareOp::Gt,
                    unordered: false,
                    scatter,
                };
                outs.extend(compact_gpu(gpu, &a, &Tuning::default()).unwrap());
            }
            let refs: Vec<&GpuTensor> = outs.iter().collect();
            let bytes = gpu.read_many(&refs).unwrap();
            for (i, d) in inputs.iter().enumerate() {
                let count = bytemuck::pod_collect_to_vec::<u8, u32>(&bytes[2 * i + 1])[0] as usize;
                let y: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[2 * i]);
                expect("batched", d, |k| d[k] > t, (y[..count].to_vec(), count));
            }
        }
    }

    fn direct_scatter_matches_the_contract(gpu) {
        // The device picks staged scatter when it has the workgroup memory (lavapipe does):
        // the direct variant must stay correct for devices that do not.
        let tuning = Tuning::default();
        // 2 * CHUNKED_WINDOW + 77 (three windows on gpu_chunked) stands in for 2^20 + 7.
        for n in [0, 1, 3, 1023, 1025, 32768, 2 * CHUNKED_WINDOW + 77] {
            let x = uniform(n, -1.0, 1.0, 70 + n as u64);
            let m = mask(n, 0.6, n as u64);
            expect(
                "direct",
                &x,
                |i| x[i] > 0.1,
                compact_on(gpu, &x, None, 0.1, &tuning, Scatter::Direct),
            );
            expect(
                "direct",
                &x,
                |i| m[i] != 0,
                compact_on(gpu, &x, Some(&m), 0.0, &tuning, Scatter::Direct),
            );
            // Unordered with direct scatter: same multiset.
            let xt = gpu.upload(&x, DType::F32, vec![n]).unwrap();
            let a = CompactArgs {
                x: &xt,
                mask: None,
                threshold: 0.1,
                op: CompareOp::Gt,
                unordered: true,
                scatter: Scatter::Direct,
            };
            let out = compact_gpu(gpu, &a, &tuning).unwrap();
            let count = gpu.read::<u32>(&out[1]).unwrap()[0] as usize;
            let mut got: Vec<u32> =
                gpu.read::<f32>(&out[0]).unwrap()[..count].iter().map(|v| v.to_bits()).collect();
            let mut want: Vec<u32> = x.iter().filter(|&&v| v > 0.1).map(|v| v.to_bits()).collect();
            got.sort_unstable();
            want.sort_unstable();
            assert!(got == want, "direct unordered n={n}");
        }
    }
}
