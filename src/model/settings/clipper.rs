//! The soft clipper's settings (`dsp::soft_clipper`).
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipperSettings {
    /// The level the output never exceeds (at the oversampled rate), dBFS.
    pub threshold_db: f64,
    /// How far below the threshold the curve starts to bend, dB.
    pub knee_db: f64,
}

impl ClipperSettings {
    pub fn validate(&self) -> Result<()> {
        check_range("clipper", &[("threshold_db", self.threshold_db)], -120.0..=40.0)?;
        check_range("clipper", &[("knee_db", self.knee_db)], 0.5..=24.0)
    }
}
