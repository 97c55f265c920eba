//! The crate's one SIMD mechanism. Most hot loops are written for the compiler to vectorise on
//! any CPU: contiguous slices, [`fast_max`] instead of `f32::max`'s NaN handling, [`lane_sum`]'s
//! independent partial sums. Where the baseline instruction set holds a loop back (the dither, the
//! K-weighting lanes, the limiter's gain lanes), `simd_versions!` compiles it a second time for
//! AVX2/FMA and picks the version by [`SimdLevel::best`]. The few kernels written with intrinsics
//! (the true-peak phases) take a [`SimdLevel`] and fall back level by level to a scalar port that
//! tests compare them with. Rust never contracts a multiply and an add into an FMA on its own, so
//! every version of a loop gives the same bits.
use std::sync::OnceLock;

/// Instruction sets a kernel may be written for, slowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    Scalar,
    /// AVX2 with FMA, eight lanes.
    Avx2,
    /// AVX-512F, sixteen lanes.
    Avx512,
}

impl SimdLevel {
    /// The fastest the CPU has (detected once).
    pub fn best() -> Self {
        static BEST: OnceLock<SimdLevel> = OnceLock::new();
        *BEST.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx512f") {
                    return SimdLevel::Avx512;
                }
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    return SimdLevel::Avx2;
                }
            }
            SimdLevel::Scalar
        })
    }

    /// The levels this CPU runs, slowest first (for tests that compare them).
    pub fn available() -> impl Iterator<Item = SimdLevel> {
        [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512].into_iter().filter(|&k| k <= SimdLevel::best())
    }
}

/// `fn name(args) -> R { body }` compiled twice, for the baseline and for AVX2/FMA, the second
/// chosen at run time where [`SimdLevel::best`] has it. Arguments are plain names (destructure
/// inside the body).
macro_rules! simd_versions {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? $body
                if $crate::dsp::simd::SimdLevel::best() >= $crate::dsp::simd::SimdLevel::Avx2 {
                    // SAFETY: the CPU has AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body
        }
    };
}
pub(crate) use simd_versions;

/// max without f32::max's NaN handling (inputs are finite: decode rejects NaN/∞), so the loops
/// compile to plain packed maxima.
#[inline(always)]
pub fn fast_max(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// min without f32::min's NaN handling (see [`fast_max`]).
#[inline(always)]
pub fn fast_min(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// Σ term(v) over `x` in eight interleaved partial sums, the remainder added after: one running sum
/// is a chain of dependent adds that does not vectorise.
pub fn lane_sum<T: Copy>(x: &[T], term: impl Fn(T) -> f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += term(v);
        }
    }
    chunks.remainder().iter().fold(lanes.iter().sum(), |s, &v| s + term(v))
}
