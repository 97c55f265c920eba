//! The de-hisser's settings (`dsp::dehiss`) and the noise floor it finds.
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DehissSettings {
    /// The most a time-frequency cell is turned down, dB (the Wiener gain's floor: deeper floors
    /// leave more musical noise).
    pub reduction_db: f64,
    /// Weight of the last frame's clean estimate in the decision-directed a-priori SNR (Ephraim &
    /// Malah 1984): higher smooths the gains against musical noise, lower follows onsets faster.
    pub smoothing: f64,
    /// A floor quieter than this (broadband RMS, dBFS) is left alone: it is not found.
    pub min_floor_dbfs: f64,
    /// Where the recording holds the noise alone (start and end, s): the floor is measured there
    /// instead of looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_span_s: Option<(f64, f64)>,
}

impl Default for DehissSettings {
    fn default() -> Self {
        DehissSettings { reduction_db: 18.0, smoothing: 0.9, min_floor_dbfs: -70.0, noise_span_s: None }
    }
}

impl DehissSettings {
    pub fn validate(&self) -> Result<()> {
        check_range("dehiss", &[("reduction_db", self.reduction_db)], 1.0..=40.0)?;
        check_range("dehiss", &[("smoothing", self.smoothing)], 0.0..=0.999)?;
        check_range("dehiss", &[("min_floor_dbfs", self.min_floor_dbfs)], -140.0..=0.0)?;
        if let Some((from, to)) = self.noise_span_s {
            if !(from.is_finite() && to.is_finite() && 0.0 <= from && from < to) {
                return Err(Error::InvalidSetting(format!(
                    "dehiss: noise span {from}-{to} s must run forward from 0 or later"
                )));
            }
        }
        Ok(())
    }
}

/// One channel's noise floor: its power per bin of a `fft_len`-point spectrum (the noise's
/// variance per bin: white noise of variance σ² reads σ² in every bin), at the level the noise
/// stays under in nine frames of ten (a steady noise's frames vary by a few tenths of a dB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseFloor {
    pub channel: u16,
    pub fft_len: usize,
    /// Broadband RMS of the floor, dBFS.
    pub level_dbfs: f64,
    /// How much of the recording it was measured on, s (its quietest passages, or the span given).
    pub measured_s: f64,
    pub power: Vec<f32>,
}
