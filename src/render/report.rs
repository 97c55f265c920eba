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
    /// Whether the output is within 0.1 LU of its loudness target; when it fell short (the target
    /// cannot be met under the ceiling, or within the plan's bound on limiting),
    /// [`Self::loudness_shortfall`] says by how much and why.
    pub loudness_target_reached: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loudness_shortfall: Option<LoudnessShortfall>,
    /// The soft clipper ahead of the limiter (`None`: the limiter had the peaks to itself).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub clipper: Option<ClipReport>,
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

/// How far the output stayed below its loudness target, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessShortfall {
    pub missed_by_lu: f64,
    pub reason: ShortfallReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortfallReason {
    /// The plan's `max_limiting_db` stopped the gain.
    MaxLimiting,
    /// More gain no longer made the output louder (the chain was saturated).
    Saturated,
    /// The make-up gain reached its 40 dB bound.
    GainBound,
    /// The gain was fixed (`fixed_gain_db`: a delivery keeping the master's loudness), and what
    /// the render changed (peaks limited to the ceiling, a mono bass) took this much.
    FixedGain,
}

impl ShortfallReason {
    pub fn describe(self) -> &'static str {
        match self {
            ShortfallReason::MaxLimiting => "the bound on limiting (--max-limiting-db) was reached",
            ShortfallReason::Saturated => "more gain no longer made it louder under the ceiling",
            ShortfallReason::GainBound => "the make-up gain reached its 40 dB bound",
            ShortfallReason::FixedGain => {
                "the gain is fixed (the master's loudness kept); limiting to the ceiling or a mono bass took this much"
            }
        }
    }
}

/// The soft clipper's part of the peak reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipReport {
    /// How far its threshold sat below the signal's highest (true) peak, dB: the clipper's share
    /// of the deepest reduction.
    pub share_db: f64,
    /// Deepest reduction of an (oversampled) sample, dB.
    pub max_reduction_db: f64,
    /// Time the reduction exceeded 3 dB (the most of any channel), s.
    pub seconds_above_3db: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitReport {
    pub max_gain_reduction_db: f64,
    /// Time the limiter's reduction exceeded 3 dB, s.
    #[serde(default)]
    pub seconds_above_3db: f64,
    /// Extra limiter passes the verification needed (0 when the first pass already met the ceiling).
    pub verify_passes: usize,
    /// Measured on the final (quantised) samples, 8× oversampled.
    pub output_true_peak_dbtp: f64,
}
