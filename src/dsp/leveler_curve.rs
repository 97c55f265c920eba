//! The leveller's static curve: a broadband gain as a function of the centred short-term loudness
//! (fitted and applied by the render's dynamics stage, see `render::leveler`).
use crate::dsp::from_db;
pub use crate::model::settings::LevelerSettings;
use crate::model::settings::{MAX_BOOST_DB, MAX_CUT_DB};

impl LevelerSettings {
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
