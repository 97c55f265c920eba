//! The crate's one SIMD mechanism. Most hot loops are written for the compiler to vectorise on
//! any CPU: contiguous slices, [`fast_max`] instead of `f32::max`'s NaN handling, [`lane_sum`]'s
//! independent partial sums. The few kernels written with intrinsics (the true-peak phases) take a
//! [`SimdLevel`], detected once at run time, and fall back level by level to a scalar port that
//! tests compare them with.
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
