//! A compressor/expander's settings (`dsp::compressor`).
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompressorSettings {
    pub threshold_db: f64,
    /// Input dB above threshold per output dB (1 = no compression).
    pub ratio: f64,
    /// Width of the soft knee, dB (0 = hard knee).
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    /// Release after sustained reduction.
    pub sustained_release_ms: f64,
    /// How long reduction must last before the slow release takes over.
    pub sustain_ms: f64,
    pub makeup_db: f64,
    /// Output dB per input dB below the threshold (1 = no expansion).
    #[serde(default = "one")]
    pub expansion_ratio: f64,
    /// The most the expansion may take away, dB.
    #[serde(default = "default_expansion_range_db")]
    pub expansion_range_db: f64,
    /// RMS level detection over this time constant (GMR 2012 §2.3: a mean-square one-pole ahead of
    /// the gain computer); 0 = the instantaneous level (peak detection).
    #[serde(default)]
    pub rms_ms: f64,
}

fn one() -> f64 {
    1.0
}

fn default_expansion_range_db() -> f64 {
    12.0
}

impl Default for CompressorSettings {
    fn default() -> Self {
        CompressorSettings {
            threshold_db: -20.0,
            ratio: 1.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 120.0,
            sustained_release_ms: 600.0,
            sustain_ms: 400.0,
            makeup_db: 0.0,
            expansion_ratio: 1.0,
            expansion_range_db: default_expansion_range_db(),
            rms_ms: 0.0,
        }
    }
}

impl CompressorSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSetting(format!("compressor: {m}")));
        if !(-80.0..=0.0).contains(&self.threshold_db) {
            return bad(format!("threshold_db {} must be within -80..0", self.threshold_db));
        }
        if !(1.0..=20.0).contains(&self.ratio) {
            return bad(format!("ratio {} must be within 1..20", self.ratio));
        }
        if !(0.0..=24.0).contains(&self.knee_db) {
            return bad(format!("knee_db {} must be within 0..24", self.knee_db));
        }
        if !(1.0..=4.0).contains(&self.expansion_ratio) {
            return bad(format!("expansion_ratio {} must be within 1..4", self.expansion_ratio));
        }
        if !(0.0..=40.0).contains(&self.expansion_range_db) {
            return bad(format!("expansion_range_db {} must be within 0..40", self.expansion_range_db));
        }
        if !(0.0..=10_000.0).contains(&self.rms_ms) {
            return bad(format!("rms_ms {} must be within 0..10000", self.rms_ms));
        }
        if !(-24.0..=24.0).contains(&self.makeup_db) {
            return bad(format!("makeup_db {} must be within -24..24", self.makeup_db));
        }
        check_range(
            "compressor",
            &[
                ("attack_ms", self.attack_ms),
                ("release_ms", self.release_ms),
                ("sustained_release_ms", self.sustained_release_ms),
                ("sustain_ms", self.sustain_ms),
            ],
            0.1..=10_000.0,
        )
    }
}
