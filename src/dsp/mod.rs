//! Signal processing building blocks. Each processor is built from a settings struct and a sample
//! rate; `process`-style methods never allocate.
pub mod ar;
pub mod band_split;
pub mod compressor;
pub mod decimate;
pub mod declick;
pub mod declip;
pub mod dehiss;
pub mod dehum;
pub mod leveler_curve;
pub mod limiter;
pub mod linear_phase_eq;
pub mod multiband;
pub mod overlap_save;
pub mod resample;
pub mod simd;
pub mod soft_clipper;
pub mod stft;
pub mod true_peak;
pub mod window;

use crate::parallel::parallel_fold;
use simd::fast_max;

/// Linear amplitude to dB (floored at −400 dB so silence stays finite).
pub fn to_db(linear: f64) -> f64 {
    20.0 * linear.max(1e-20).log10()
}

/// dB to linear amplitude.
pub fn from_db(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// The largest value of `x` (0 when empty or all negative).
pub(crate) fn max_of(x: &[f32]) -> f32 {
    parallel_fold(x, 0.0, fast_max)
}

/// The smallest value of `x` (∞ when empty).
pub(crate) fn min_of(x: &[f32]) -> f32 {
    parallel_fold(x, f32::INFINITY, |m, v| if v < m { v } else { m })
}

/// One-pole smoothing coefficient for time constant `ms` at `sample_rate`: the state moves 1 − e^{−1}
/// of the way toward its input in `ms`.
pub(crate) fn one_pole(ms: f64, sample_rate: impl Into<f64>) -> f64 {
    (-1.0 / (ms * 1e-3 * sample_rate.into())).exp()
}
