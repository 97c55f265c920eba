//! `MatchSettings`: how far matching moves the target toward the reference, and its limits. Part of
//! the plan's provenance.
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::settings::LimiterSettings;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchSettings {
    /// How much of the EQ correction to apply, 0 … 1.
    pub eq_amount: f64,
    /// How much of the width correction (side relative to mid, per band) and bass mono to apply, 0 … 1.
    #[serde(default = "one")]
    pub width_amount: f64,
    /// How far the multiband stage moves each band's short-term spread toward the reference's,
    /// 0 … 1. Default ½, tuned on the development pairs: it brings loudness range closer to the
    /// reference's on three of four while tonal and width distances stay below Matchering's on all;
    /// at 1 one pair's tonal and width distances rise above Matchering's.
    #[serde(default = "half")]
    pub dynamics_amount: f64,
    /// Loudness target; `None` means the reference's integrated loudness.
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    /// Bound on the chain's peak reduction (see `LoudnessTarget::max_limiting_db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_limiting_db: Option<f64>,
    pub max_boost_db: f64,
    pub max_cut_db: f64,
    /// Limits of the width correction: side relative to mid, on top of the tonal correction both
    /// get (so the side's total change may reach the tonal limit plus these).
    pub side_max_boost_db: f64,
    pub side_max_cut_db: f64,
    /// Standard deviation of the Gaussian smoothing of the tonal correction, in octaves.
    pub smoothing_octaves: f64,
    /// The same for the width correction. Finer than the tonal one: side − mid is a ratio within
    /// each band, so the notes that raise a band's mid and side together cancel out of it, and a
    /// width change a third of an octave wide must come back within half a dB.
    #[serde(default = "width_smoothing")]
    pub width_smoothing_octaves: f64,
    /// Bass mono at least below this frequency (a medium's need: vinyl), whatever the reference
    /// has; `None`: as the reference has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bass_mono_min_hz: Option<f64>,
    /// Corrections taper to 0 dB over half an octave outside [low_hz, high_hz].
    pub low_hz: f64,
    pub high_hz: f64,
}

fn one() -> f64 {
    1.0
}

fn half() -> f64 {
    0.5
}

fn width_smoothing() -> f64 {
    1.0 / 24.0
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            eq_amount: 1.0,
            width_amount: 1.0,
            dynamics_amount: 0.5,
            target_lufs: None,
            ceiling_dbtp: -1.0,
            max_limiting_db: None,
            max_boost_db: 12.0,
            max_cut_db: 12.0,
            side_max_boost_db: 12.0,
            side_max_cut_db: 24.0,
            smoothing_octaves: 1.0 / 12.0,
            width_smoothing_octaves: width_smoothing(),
            bass_mono_min_hz: None,
            low_hz: 25.0,
            high_hz: 18_000.0,
        }
    }
}

impl MatchSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSetting(m));
        for (name, v) in [("EQ", self.eq_amount), ("width", self.width_amount), ("dynamics", self.dynamics_amount)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} amount {} % must be between 0 and 100", v * 100.0));
            }
        }
        if let Some(l) = self.target_lufs {
            if !(-70.0..=0.0).contains(&l) {
                return bad(format!("loudness target {l} LUFS must be between -70 and 0"));
            }
        }
        for (n, v) in [
            ("max_boost_db", self.max_boost_db),
            ("max_cut_db", self.max_cut_db),
            ("side_max_boost_db", self.side_max_boost_db),
            ("side_max_cut_db", self.side_max_cut_db),
        ] {
            if !(0.0..=30.0).contains(&v) {
                return bad(format!("{n} {v} must be between 0 and 30"));
            }
        }
        for (n, v) in
            [("smoothing_octaves", self.smoothing_octaves), ("width_smoothing_octaves", self.width_smoothing_octaves)]
        {
            if !(v > 0.0 && v <= 2.0) {
                return bad(format!("{n} must be in (0, 2]"));
            }
        }
        if !(self.low_hz > 0.0 && self.low_hz < self.high_hz) {
            return bad("low_hz must be positive and below high_hz".into());
        }
        if let Some(m) = self.max_limiting_db {
            if !(0.0..=60.0).contains(&m) {
                return bad(format!("max limiting {m} dB must be between 0 and 60"));
            }
        }
        if let Some(f) = self.bass_mono_min_hz {
            if !(20.0..=500.0).contains(&f) {
                return bad(format!("bass mono frequency {f} Hz must be between 20 and 500"));
            }
        }
        LimiterSettings { ceiling_dbtp: self.ceiling_dbtp, ..Default::default() }.validate()
    }
}
