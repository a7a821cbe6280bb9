//! Runtime choice of the CPU's widest SIMD level for the vectorised loops of the CPU kernels
//! (maps, reductions, fused map-reduces).
//!
//! The default x86-64 target is SSE2 only, so a loop compiled normally runs 4 lanes without
//! FMA. [`with_widest_simd`] runs the same `#[inline(always)]` loop body inside a function
//! compiled with `avx512f` or `avx2,fma` (chosen once with `is_x86_feature_detected!`);
//! inlining the body there compiles it for those features. The body receives a [`Madd`]
//! saying whether the level has FMA, a constant that inlining folds away. On aarch64 (NEON
//! and FMA are baseline) the plain loop runs with fused multiply-adds.

use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(test)]
use crate::array::HostArray;

/// How the element functions evaluate a·b + c: fused (one instruction, one rounding) in loops
/// compiled with FMA, as a multiply and an add elsewhere (a fused multiply-add without the
/// instruction is a slow libm call). The map template passes a constant, so after inlining the
/// branch disappears from the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Madd {
    pub fused: bool,
}

impl Madd {
    pub(crate) const FUSED: Madd = Madd { fused: true };
    pub(crate) const SEPARATE: Madd = Madd { fused: false };

    #[inline(always)]
    pub(crate) fn madd(self, a: f32, b: f32, c: f32) -> f32 {
        if self.fused { a.mul_add(b, c) } else { a * b + c }
    }
}

/// Instruction-set levels of the CPU loops, widest last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum SimdLevel {
    /// The target's baseline (SSE2 on x86-64, NEON on aarch64).
    Baseline = 1,
    Avx2Fma = 2,
    Avx512 = 3,
}

impl SimdLevel {
    fn from_u8(v: u8) -> Option<SimdLevel> {
        match v {
            1 => Some(SimdLevel::Baseline),
            2 => Some(SimdLevel::Avx2Fma),
            3 => Some(SimdLevel::Avx512),
            _ => None,
        }
    }

    /// The widest level this CPU runs.
    pub(crate) fn detected() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return SimdLevel::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return SimdLevel::Avx2Fma;
            }
        }
        SimdLevel::Baseline
    }

    /// Every level this CPU runs (for tests that compare them).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<SimdLevel> {
        [SimdLevel::Baseline, SimdLevel::Avx2Fma, SimdLevel::Avx512]
            .into_iter()
            .filter(|&l| l <= SimdLevel::detected())
            .collect()
    }
}

/// The level in use: detected once; `FASTPATH_CPU_SIMD=baseline|avx2|avx512` lowers it (for
/// benchmarking the levels against each other; a level the CPU lacks is never chosen).
static LEVEL: AtomicU8 = AtomicU8::new(0);

pub(crate) fn simd_level() -> SimdLevel {
    if let Some(level) = SimdLevel::from_u8(LEVEL.load(Ordering::Relaxed)) {
        return level;
    }
    let detected = SimdLevel::detected();
    let requested = match std::env::var("FASTPATH_CPU_SIMD").as_deref() {
        Ok("baseline") => SimdLevel::Baseline,
        Ok("avx2") => SimdLevel::Avx2Fma,
        _ => detected,
    };
    let level = requested.min(detected);
    LEVEL.store(level as u8, Ordering::Relaxed);
    level
}

/// Runs `f` with the map loops forced to `level` (tests comparing the levels). Callers are
/// serialised; CPU tests running meanwhile simply use that level, which is equally correct.
#[cfg(test)]
pub(crate) fn with_simd_level<R>(level: SimdLevel, f: impl FnOnce() -> R) -> R {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    assert!(level <= SimdLevel::detected(), "{level:?} is not available on this CPU");
    let previous = simd_level();
    LEVEL.store(level as u8, Ordering::Relaxed);
    let result = f();
    LEVEL.store(previous as u8, Ordering::Relaxed);
    result
}

/// Runs `work` compiled for the current [`simd_level`], telling it whether that level has
/// FMA. `work` must be an `#[inline(always)]` closure over `#[inline(always)]` code so that it
/// is compiled into the feature-enabled function rather than called from it.
#[inline(always)]
pub(crate) fn with_widest_simd<R>(work: impl FnOnce(Madd) -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        match simd_level() {
            // SAFETY: simd_level() never reports a level the CPU lacks.
            SimdLevel::Avx512 => return unsafe { x86::avx512(work) },
            SimdLevel::Avx2Fma => return unsafe { x86::avx2_fma(work) },
            SimdLevel::Baseline => {}
        }
    }
    // aarch64 always has FMA; elsewhere the baseline may not.
    work(if cfg!(target_arch = "aarch64") { Madd::FUSED } else { Madd::SEPARATE })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Madd;

    /// # Safety
    /// The CPU must support AVX-512F (and so AVX2 and FMA).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn avx512<R>(work: impl FnOnce(Madd) -> R) -> R {
        work(Madd::FUSED)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2_fma<R>(work: impl FnOnce(Madd) -> R) -> R {
        work(Madd::FUSED)
    }
}

/// Checks kernel `id` against its float64 reference at every SIMD level this CPU has (the
/// normal tests only run the widest one).
#[cfg(test)]
pub(crate) fn check_every_simd_level(
    id: &str,
    inputs: &[HostArray],
    params: &[(&str, crate::params::ParamValue)],
) {
    let cpu = crate::testing::TestBackend::cpu();
    for level in SimdLevel::available() {
        with_simd_level(level, || crate::testing::check(&cpu, id, inputs, params));
    }
}
