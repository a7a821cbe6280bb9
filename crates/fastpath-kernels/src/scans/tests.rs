use std::sync::Arc;

use fastpath_gpu::{DType, Gpu, GpuTensor};

use super::engine::{Algorithm, TILE, Tuning};
use super::*;
use crate::array::HostArray;
use crate::expected::{Expected, compare};
use crate::kernel::Backend;
use crate::test_all_backends;
use crate::testdata::{rng, uniform, uniform_u32};
use crate::testing::{TestBackend, check, check_rejects};

/// Issue 6's sizes; 2^20 + 7 u32 (4 MiB) is five windows on the 1 MiB-binding backend.
pub(crate) const SIZES: [usize; 9] = [0, 1, 2, 3, 1023, 1024, 1025, 32768, (1 << 20) + 7];
/// Elements per window on the gpu_chunked backend (1 MiB of u32).
pub(crate) const CHUNKED_WINDOW: usize = 1 << 18;

fn both_scans(b: &TestBackend, data: Vec<u32>) {
    let x = vec![HostArray::vec_u32(data)];
    check(b, "SCAN_EXCLUSIVE", &x, &[]);
    check(b, "SCAN_INCLUSIVE", &x, &[]);
}

/// Inputs that stress wraparound and carries: zeros, all u32::MAX (every prefix wraps), the
/// ramp 0..n, 0/MAX alternating, one huge value at the end, powers of two.
fn structured_inputs(n: usize) -> Vec<(&'static str, Vec<u32>)> {
    vec![
        ("zeros", vec![0; n]),
        ("all max", vec![u32::MAX; n]),
        ("sorted", (0..n as u32).collect()),
        ("alternating", (0..n).map(|i| if i % 2 == 0 { 0 } else { u32::MAX }).collect()),
        ("last only", (0..n).map(|i| if i + 1 == n { u32::MAX } else { 0 }).collect()),
        ("powers of two", (0..n).map(|i| 1u32 << (i % 32)).collect()),
    ]
}

/// f32 values for the f32 scan: uniform, with NaN, infinities, signed zeros and subnormals
/// sprinkled in (no values near f32::MAX, whose partial sums would overflow in some orders).
fn f32_inputs(n: usize, seed: u64) -> Vec<Vec<f32>> {
    use rand::Rng;
    let plain = uniform(n, -4.0, 4.0, seed);
    let mut r = rng(seed);
    let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1.0e-40];
    let mut sprinkled = plain.clone();
    for v in sprinkled.iter_mut() {
        if r.random_bool(0.0005) {
            *v = specials[r.random_range(0..specials.len())];
        }
    }
    let positive: Vec<f32> = plain.iter().map(|v| v.abs()).collect();
    vec![plain, sprinkled, positive]
}

pub(crate) fn gpu_of(b: &TestBackend) -> Option<Arc<Gpu>> {
    match &b.backend {
        Backend::Gpu(g) => Some(g.clone()),
        Backend::Cpu => None,
    }
}

/// The f32 scan on a test backend (the CPU function or the GPU engine).
fn scan_f32_on(b: &TestBackend, x: &[f32], kind: ScanKind) -> Vec<f32> {
    match gpu_of(b) {
        None => scan_f32_cpu(x, kind),
        Some(gpu) => {
            let t = gpu.upload(x, DType::F32, vec![x.len()]).unwrap();
            gpu.read::<f32>(&scan_f32(&gpu, &t, kind).unwrap()).unwrap()
        }
    }
}

fn check_f32(label: &str, x: &[f32], got: Vec<f32>, kind: ScanKind) {
    let want = reference_f32(x, kind);
    if let Err(msg) = compare("out", &HostArray::vec_f32(got), &want) {
        panic!("{label} n={} {kind:?}: {msg}", x.len());
    }
}

test_all_backends! {
    fn scans_match_reference_at_every_size(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            both_scans(b, uniform_u32(n, 600 + seed as u64));
        }
    }

    fn wraparound_and_structured_inputs(b) {
        for n in [1025, 3 * TILE + 5] {
            for (_, data) in structured_inputs(n) {
                both_scans(b, data);
            }
        }
        // The large size once per pattern family that carries across windows.
        for (name, data) in structured_inputs((1 << 20) + 7) {
            if name == "all max" || name == "sorted" {
                both_scans(b, data);
            }
        }
    }

    fn tile_and_window_boundaries(b) {
        // Tile edges, and window edges on the chunked backend.
        let edges = [
            TILE - 1,
            TILE,
            TILE + 1,
            2 * TILE,
            CHUNKED_WINDOW - 1,
            CHUNKED_WINDOW,
            CHUNKED_WINDOW + 1,
            CHUNKED_WINDOW + TILE,
        ];
        for (seed, n) in edges.into_iter().enumerate() {
            both_scans(b, uniform_u32(n, 700 + seed as u64));
        }
    }

    fn f32_prefix_sums_within_tolerance(b) {
        for (seed, &n) in SIZES.iter().enumerate() {
            for (k, x) in f32_inputs(n, 800 + seed as u64).into_iter().enumerate() {
                if n > 40_000 && k == 0 {
                    continue; // the plain large case adds nothing the others don't cover
                }
                for kind in [ScanKind::Exclusive, ScanKind::Inclusive] {
                    check_f32(b.label, &x, scan_f32_on(b, &x, kind), kind);
                }
            }
        }
        // NaN and infinities propagate as in a sequential sum.
        let x = [1.0, f32::INFINITY, 2.0, f32::NEG_INFINITY, 3.0];
        let incl = scan_f32_on(b, &x, ScanKind::Inclusive);
        assert_eq!(&incl[..3], &[1.0, f32::INFINITY, f32::INFINITY], "[{}]", b.label);
        assert!(incl[3].is_nan() && incl[4].is_nan(), "[{}] {incl:?}", b.label);
        let excl = scan_f32_on(b, &x, ScanKind::Exclusive);
        assert_eq!(&excl[..3], &[0.0, 1.0, f32::INFINITY], "[{}]", b.label);
    }

    fn rejects_bad_input_with_one_line(b) {
        check_rejects(
            b,
            "SCAN_EXCLUSIVE",
            &[HostArray::vec_f32(vec![1.0, 2.0])],
            &[],
            "expected u32 [n], got f32 [2]",
        );
        check_rejects(
            b,
            "SCAN_INCLUSIVE",
            &[HostArray::u32(vec![2, 2], vec![1; 4])],
            &[],
            "expected u32 [n], got u32 [2, 2]",
        );
        let two = [HostArray::vec_u32(vec![1]), HostArray::vec_u32(vec![1])];
        check_rejects(b, "SCAN_INCLUSIVE", &two, &[], "takes 1 input array(s)");
        let p = [("op", crate::params::ParamValue::Enum("gt".into()))];
        check_rejects(
            b,
            "SCAN_EXCLUSIVE",
            &[HostArray::vec_u32(vec![1])],
            &p,
            "takes no parameters",
        );
    }

    fn repeated_runs_in_one_process(b) {
        // Same size, new data each round: stale look-back state from a previous run (same
        // pooled buffer) would leak earlier sums into later results.
        for round in 0..4 {
            both_scans(b, uniform_u32(100_003, 900 + round));
        }
    }
}

#[test]
fn size_limit_is_checked_before_anything_runs() {
    let args = [crate::array::ArgMeta { dtype: DType::U32, shape: vec![u32::MAX as usize] }];
    let p = Params::default();
    let err = crate::kernel::validate(&SCAN_EXCLUSIVE, &args, &p).unwrap_err().to_string();
    assert!(err.contains("at most 4294967294 elements"), "{err}");
}

#[test]
fn cpu_chained_scan_with_any_number_of_threads() {
    // Chunks claimed in order and finished from their predecessor's running total: the result
    // must not depend on how many threads share the work (1, the machine's, more than cores).
    let n = 37 * SCAN_CHUNK + 11;
    let x = uniform_u32(n, 1);
    let f = f32_inputs(n, 2).remove(1);
    for threads in [1, 2, 5] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for kind in [ScanKind::Exclusive, ScanKind::Inclusive] {
            let got: Vec<u64> =
                pool.install(|| scan_u32_cpu(&x, kind)).into_iter().map(u64::from).collect();
            assert_eq!(got, reference_u32(&x, kind), "{threads} threads {kind:?}");
            check_f32("cpu", &f, pool.install(|| scan_f32_cpu(&f, kind)), kind);
        }
    }
}

#[test]
fn cpu_chained_scan_falls_back_past_a_stalled_chunk() {
    // The first chunk's thread stalls (as if descheduled): its successors must not wait for it
    // but sum it themselves (sum is then called more often than there are chunks).
    use std::sync::atomic::{AtomicUsize, Ordering};
    let n = 8 * SCAN_CHUNK + 3;
    let x = uniform_u32(n, 3);
    let calls = AtomicUsize::new(0);
    let first = AtomicUsize::new(0);
    let mut out = vec![0u32; n];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    pool.install(|| {
        chained_scan(
            &x,
            &mut out,
            |c| {
                calls.fetch_add(1, Ordering::Relaxed);
                if c.as_ptr() == x.as_ptr() && first.fetch_add(1, Ordering::Relaxed) == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                c.iter().fold(0u32, |a, &v| a.wrapping_add(v))
            },
            u32::wrapping_add,
            |c, o, carry| {
                scan_run_u32(c, o, carry, ScanKind::Inclusive);
            },
        )
    });
    let got: Vec<u64> = out.into_iter().map(u64::from).collect();
    assert_eq!(got, reference_u32(&x, ScanKind::Inclusive));
    assert!(calls.load(Ordering::Relaxed) > 9, "no chunk fell back past the stalled one");
}

// ---------------------------------------------------------------- GPU-only paths

/// Declares tests that run one body on each GPU backend with its `Gpu`.
macro_rules! test_gpu_backends {
    ($(fn $name:ident($g:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn body($g: &Gpu) $body
                fn on(b: $crate::testing::TestBackend) {
                    body(&$crate::scans::tests::gpu_of(&b).unwrap())
                }
                #[test]
                fn gpu() { on($crate::testing::TestBackend::gpu()) }
                #[test]
                fn gpu_no_subgroups() { on($crate::testing::TestBackend::gpu_no_subgroups()) }
                #[test]
                fn gpu_chunked() { on($crate::testing::TestBackend::gpu_chunked()) }
            }
        )*
    };
}
pub(crate) use test_gpu_backends;

fn run_u32(gpu: &Gpu, data: &[u32], kind: ScanKind, tuning: &Tuning) -> (Vec<u32>, u32) {
    let x = gpu.upload(data, DType::U32, vec![data.len()]).unwrap();
    let o = scan(gpu, &x, kind, tuning).unwrap();
    let bytes = gpu.read_many(&[&o.out, &o.total]).unwrap();
    (bytemuck::pod_collect_to_vec(&bytes[0]), bytemuck::pod_collect_to_vec::<u8, u32>(&bytes[1])[0])
}

fn expect_u32(label: &str, data: &[u32], got: (Vec<u32>, u32), kind: ScanKind) {
    let want = reference_u32(data, kind);
    if let Err(msg) = compare("out", &HostArray::vec_u32(got.0), &Expected::ints(want)) {
        panic!("{label} n={} {kind:?}: {msg}", data.len());
    }
    let total = data.iter().fold(0u32, |a, &v| a.wrapping_add(v));
    assert_eq!(got.1, total, "{label} n={}: total", data.len());
}

const FALLBACK_SIZES: [usize; 4] = [2 * TILE + 1, 9 * TILE + 17, CHUNKED_WINDOW + 3 * TILE + 5, 1];

test_gpu_backends! {
    fn look_back_falls_back_when_predecessors_never_start(gpu) {
        // Tiles handed out last-first: every predecessor is still waiting to start, as on a
        // GPU that does not schedule them while we spin. Zero spins: fall back at once.
        for (max_spins, reverse_tiles) in [(0, true), (1, true), (0, false)] {
            let tuning =
                Tuning { algorithm: Algorithm::DecoupledFallback, max_spins, reverse_tiles };
            for (seed, &n) in FALLBACK_SIZES.iter().enumerate() {
                let data = uniform_u32(n, 1000 + seed as u64);
                for kind in [ScanKind::Exclusive, ScanKind::Inclusive] {
                    let label = format!("fallback spins={max_spins} reverse={reverse_tiles}");
                    expect_u32(&label, &data, run_u32(gpu, &data, kind, &tuning), kind);
                }
                let x = uniform(n, -1.0, 1.0, seed as u64);
                let t = gpu.upload(&x, DType::F32, vec![n]).unwrap();
                let o = scan(gpu, &t, ScanKind::Inclusive, &tuning).unwrap();
                check_f32("f32 fallback", &x, gpu.read(&o.out).unwrap(), ScanKind::Inclusive);
            }
        }
    }

    fn reduce_then_scan_matches(gpu) {
        let tuning = Tuning { algorithm: Algorithm::ReduceThenScan, ..Tuning::default() };
        for (seed, &n) in SIZES.iter().enumerate() {
            let data = uniform_u32(n, 1100 + seed as u64);
            for kind in [ScanKind::Exclusive, ScanKind::Inclusive] {
                expect_u32("reduce-then-scan", &data, run_u32(gpu, &data, kind, &tuning), kind);
            }
        }
        let data = vec![u32::MAX; CHUNKED_WINDOW + 5];
        expect_u32(
            "reduce-then-scan",
            &data,
            run_u32(gpu, &data, ScanKind::Inclusive, &tuning),
            ScanKind::Inclusive,
        );
        for n in [5, 9 * TILE + 1, (1 << 20) + 7] {
            let x = uniform(n, -1.0, 1.0, n as u64);
            let t = gpu.upload(&x, DType::F32, vec![n]).unwrap();
            for kind in [ScanKind::Exclusive, ScanKind::Inclusive] {
                let o = scan(gpu, &t, kind, &tuning).unwrap();
                check_f32("f32 reduce-then-scan", &x, gpu.read(&o.out).unwrap(), kind);
            }
        }
    }

    fn many_scans_in_one_batch(gpu) {
        // Several scans recorded before anything is read: each clears its own look-back state
        // inside the batch; a scan of a scan depends on the first (wgpu orders them).
        let inputs: Vec<Vec<u32>> =
            (0..3).map(|s| uniform_u32(50_000 + s * 4096, 1200 + s as u64)).collect();
        for _round in 0..2 {
            let uploaded: Vec<GpuTensor> =
                inputs.iter().map(|d| gpu.upload(d, DType::U32, vec![d.len()]).unwrap()).collect();
            let mut outs = Vec::new();
            for t in &uploaded {
                outs.push(exclusive_scan_u32(gpu, t).unwrap());
                outs.push(inclusive_scan_u32(gpu, t).unwrap());
            }
            let twice = exclusive_scan_u32(gpu, &outs[0]).unwrap();
            let refs: Vec<&GpuTensor> = outs.iter().chain(std::iter::once(&twice)).collect();
            let bytes = gpu.read_many(&refs).unwrap();
            for (i, d) in inputs.iter().enumerate() {
                for (k, kind) in [ScanKind::Exclusive, ScanKind::Inclusive].into_iter().enumerate()
                {
                    let got: Vec<u64> = bytemuck::pod_collect_to_vec::<u8, u32>(&bytes[2 * i + k])
                        .into_iter()
                        .map(u64::from)
                        .collect();
                    assert_eq!(got, reference_u32(d, kind), "input {i} {kind:?}");
                }
            }
            let first: Vec<u32> = reference_u32(&inputs[0], ScanKind::Exclusive)
                .into_iter()
                .map(|v| v as u32)
                .collect();
            let got: Vec<u64> = bytemuck::pod_collect_to_vec::<u8, u32>(&bytes[6])
                .into_iter()
                .map(u64::from)
                .collect();
            assert_eq!(got, reference_u32(&first, ScanKind::Exclusive), "scan of a scan");
        }
    }

    fn scan_into_a_larger_tensor_returns_the_total(gpu) {
        let data = uniform_u32(5001, 1300);
        let x = gpu.upload(&data, DType::U32, vec![5001]).unwrap();
        let out = gpu.upload(&vec![7u32; 6000], DType::U32, vec![6000]).unwrap();
        let total = scan_into(gpu, &x, &out, ScanKind::Inclusive, &Tuning::default()).unwrap();
        let got: Vec<u32> = gpu.read(&out).unwrap();
        let want: Vec<u32> =
            reference_u32(&data, ScanKind::Inclusive).into_iter().map(|v| v as u32).collect();
        assert_eq!(&got[..5001], want.as_slice());
        assert!(got[5001..].iter().all(|&v| v == 7), "scan_into wrote past the input's length");
        assert_eq!(gpu.read::<u32>(&total).unwrap(), vec![want[5000]]);
        let empty = gpu.upload::<u32>(&[], DType::U32, vec![0]).unwrap();
        let o = scan(gpu, &empty, ScanKind::Exclusive, &Tuning::default()).unwrap();
        assert_eq!(gpu.read::<u32>(&o.total).unwrap(), vec![0]);
    }
}

/// CPU timings at 2^24 for comparison with numpy (`np.cumsum`, boolean indexing). Not a test:
/// run with `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo test -p fastpath-kernels cpu_timings_at_2_24
/// -- --ignored --nocapture` (timings are never asserted).
#[test]
#[ignore]
fn cpu_timings_at_2_24() {
    use crate::kernel::{Backend, run_host};
    use crate::params::ParamValue;
    let n = 1 << 24;
    let xu = HostArray::vec_u32(uniform_u32(n, 1));
    let xf = HostArray::vec_f32(uniform(n, -1.0, 1.0, 2));
    let m = HostArray::vec_u32(crate::testdata::mask(n, 0.5, 3));
    let median_ms = |f: &dyn Fn()| {
        let mut t: Vec<f64> = (0..15)
            .map(|_| {
                let s = std::time::Instant::now();
                f();
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        // The minimum: the machine is shared, and the fastest run is the one least disturbed.
        t.sort_by(f64::total_cmp);
        t[0]
    };
    let kernel = |id: &str, inputs: Vec<&HostArray>, p: Vec<(&str, ParamValue)>| {
        let k = crate::registry::kernel(id).unwrap();
        let params = Params::with(k.spec(), &p).unwrap();
        median_ms(&|| {
            std::hint::black_box(run_host(k, &Backend::Cpu, &inputs, &params).unwrap());
        })
    };
    let gt = || vec![("threshold", ParamValue::F32(0.25)), ("op", ParamValue::Enum("gt".into()))];
    eprintln!("fastpath CPU, n=2^24, {} threads (min of 15, ms)", rayon::current_num_threads());
    eprintln!("SCAN_EXCLUSIVE u32    {:.1}", kernel("SCAN_EXCLUSIVE", vec![&xu], vec![]));
    eprintln!("SCAN_INCLUSIVE u32    {:.1}", kernel("SCAN_INCLUSIVE", vec![&xu], vec![]));
    let f = xf.f32s();
    let scan_f32 = median_ms(&|| {
        std::hint::black_box(scan_f32_cpu(f, ScanKind::Inclusive));
    });
    eprintln!("scan f32 (inclusive)  {scan_f32:.1}");
    eprintln!("COMPACT_IF gt 0.25    {:.1}", kernel("COMPACT_IF", vec![&xf], gt()));
    eprintln!("COMPACT_MASK 50%      {:.1}", kernel("COMPACT_MASK", vec![&xf, &m], vec![]));
}

/// One input above the device's real binding limit (lavapipe: 128 MiB, i.e. 2^25 u32), on
/// the default GPU backend: a scan and a compaction across two real windows. Checked on the
/// fly (no reference arrays) to stay cheap.
#[test]
fn real_binding_limit_is_crossed() {
    let gpu = gpu_of(&TestBackend::gpu()).unwrap();
    let per_window = (gpu.max_binding_bytes() / 4) as usize;
    if per_window > 1 << 26 {
        return; // a device with huge bindings: covered by the 1 MiB-binding backend
    }
    let n = per_window + 3 * TILE + 5;
    let data: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
    let x = gpu.upload(&data, DType::U32, vec![n]).unwrap();
    let out = exclusive_scan_u32(&gpu, &x).unwrap();
    let got: Vec<u32> = gpu.read(&out).unwrap();
    // Back to the pool, so the compaction below reuses these buffers instead of adding more.
    drop((x, out));
    let mut acc = 0u32;
    for (i, (&g, &v)) in got.iter().zip(&data).enumerate() {
        assert_eq!(g, acc, "exclusive scan at {i} of {n}");
        acc = acc.wrapping_add(v);
    }
    drop(got);
    // The same words as f32 (NaNs included), compacted by x > 0: survivors of the second window
    // rank into the first.
    let xt = gpu.upload(&data, DType::F32, vec![n]).unwrap();
    let k = crate::registry::kernel("COMPACT_IF").unwrap();
    let p = Params::with(k.spec(), &[("threshold", crate::params::ParamValue::F32(0.0))]).unwrap();
    let outs = k.gpu(&gpu, &[&xt], &p).unwrap();
    let count = gpu.read::<u32>(&outs[1]).unwrap()[0] as usize;
    let y: Vec<u32> = gpu.read(&outs[0]).unwrap();
    let mut kept = data.iter().copied().filter(|&v| f32::from_bits(v) > 0.0);
    for (i, &v) in y[..count].iter().enumerate() {
        assert_eq!(Some(v), kept.next(), "compaction slot {i}");
    }
    assert_eq!(kept.next(), None, "compaction count {count} too small");
}
