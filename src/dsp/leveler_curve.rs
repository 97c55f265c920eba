//! The leveller's static curve: a broadband gain as a function of the centred short-term loudness
//! (fitted and applied by the render's dynamics stage, see `render::leveler`).
use serde::{Deserialize, Serialize};

use crate::dsp::from_db;
use crate::error::{Error, Result};

/// Bounds of the ratio and of the gain: a levelling ride, never a gate; it lifts quiet passages less
/// far than it lowers them (lifting raises their noise and undoes fades).
pub(crate) const RATIO_BOUNDS: (f64, f64) = (0.5, 2.0);
pub(crate) const MAX_CUT_DB: f64 = 10.0;
pub(crate) const MAX_BOOST_DB: f64 = 6.0;
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

    /// The gain (linear) for each value of `loudness` (LUFS).
    pub fn gains(&self, loudness: &[f64]) -> Vec<f32> {
        loudness.iter().map(|&l| from_db(self.gain_db(l)) as f32).collect()
    }

    /// 0 dB at and above the threshold, (ratio − 1) dB per dB below it, held below the floor,
    /// bounded to −[`MAX_CUT_DB`] … +[`MAX_BOOST_DB`].
    pub(crate) fn gain_db(&self, loudness: f64) -> f64 {
        let below = loudness.max(self.floor_lufs).min(self.threshold_lufs) - self.threshold_lufs;
        ((self.ratio - 1.0) * below).clamp(-MAX_CUT_DB, MAX_BOOST_DB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_leaves_the_loud_end_alone_scales_below_it_and_holds_below_the_floor() {
        let s = |ratio: f64| LevelerSettings { ratio, threshold_lufs: -10.0, floor_lufs: -30.0 };
        assert_eq!(s(1.5).gain_db(-8.0), 0.0);
        assert_eq!(s(1.5).gain_db(-10.0), 0.0);
        assert!((s(1.5).gain_db(-14.0) + 2.0).abs() < 1e-12);
        assert!((s(0.75).gain_db(-14.0) - 1.0).abs() < 1e-12);
        assert_eq!(s(2.0).gain_db(-60.0), -MAX_CUT_DB);
        assert_eq!(s(0.5).gain_db(-60.0), MAX_BOOST_DB);
        assert_eq!(s(1.2).gain_db(-60.0), s(1.2).gain_db(-30.0));
    }
}
