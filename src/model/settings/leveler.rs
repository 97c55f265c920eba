//! The broadband leveller's static curve (`dsp::leveler_curve`).
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Bounds of the ratio and of the gain: a levelling ride, never a gate; it lifts quiet passages less
/// far than it lowers them (lifting raises their noise and undoes fades).
pub const RATIO_BOUNDS: (f64, f64) = (0.5, 2.0);
pub const MAX_CUT_DB: f64 = 10.0;
pub const MAX_BOOST_DB: f64 = 6.0;
/// The leveller's static curve on the centred short-term loudness of the limited output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelerSettings {
    /// dB of output change per dB of loudness below the threshold, minus 1 (above 1: expansion).
    pub ratio: f64,
    /// 0 dB at and above this loudness (the loud end, P95), LUFS.
    pub threshold_lufs: f64,
    /// Below this loudness (the relative gate) the gain holds, LUFS.
    pub floor_lufs: f64,
}

impl LevelerSettings {
    pub fn validate(&self) -> Result<()> {
        let ok = (RATIO_BOUNDS.0..=RATIO_BOUNDS.1).contains(&self.ratio)
            && self.threshold_lufs.is_finite()
            && self.floor_lufs.is_finite()
            && self.floor_lufs <= self.threshold_lufs;
        if ok {
            return Ok(());
        }
        Err(Error::InvalidSetting(format!(
            "leveler: ratio {} must lie in {}…{} and floor_lufs {} at or below threshold_lufs {}",
            self.ratio, RATIO_BOUNDS.0, RATIO_BOUNDS.1, self.floor_lufs, self.threshold_lufs
        )))
    }
}
