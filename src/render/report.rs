//! What a render reports: loudness search, limiting, the dynamics stage, and gain traces over time.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dsp::{min_of, to_db};
use crate::render::dynamics::DynamicsReport;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderReport {
    /// Loudness after EQ, before gain and limiting.
    pub eq_lufs: f64,
    pub gain_db: f64,
    pub loudness_iterations: usize,
    /// False when the target cannot be reached under the ceiling without crushing the signal.
    pub loudness_target_reached: bool,
    #[serde(flatten)]
    pub limit: LimitReport,
    /// Measured on the final (quantised) samples.
    pub output_lufs: f64,
    /// The multiband stage as rendered (`None`: off).
    pub dynamics: Option<DynamicsReport>,
    /// Gain changes over time, for reports; left out of the JSON summary.
    #[serde(skip)]
    pub trace: GainTrace,
}

/// Points a [`GainTrace`] keeps at most, whatever the input's length.
pub const TRACE_POINTS: usize = 1000;

/// How much the limiter and each band of the dynamics stage turned the signal down over time,
/// downsampled to at most [`TRACE_POINTS`] points that keep the deepest reduction of their span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GainTrace {
    pub hop_s: f64,
    /// The limiter's gain, dB (≤ 0).
    pub limiter_db: Vec<f32>,
    /// Per dynamics band, its compressor/expander gain without make-up, dB (empty: the band is off).
    pub bands_db: Vec<Vec<f32>>,
    /// The leveller's gain, dB, the mean over each hop (empty: no leveller).
    #[serde(default)]
    pub leveler_db: Vec<f32>,
}

/// The deepest (smallest) gain of each `per`-long span of `gain`, in dB.
pub(crate) fn deepest_db(gain: &[f32], per: usize) -> Vec<f32> {
    gain.par_chunks(per.max(1)).map(|c| to_db(f64::from(min_of(c))) as f32).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitReport {
    pub max_gain_reduction_db: f64,
    /// Extra limiter passes the verification needed (0 when the first pass already met the ceiling).
    pub verify_passes: usize,
    /// Measured on the final (quantised) samples, 8× oversampled.
    pub output_true_peak_dbtp: f64,
}
