//! The multiband compressor/expander's settings (`dsp::multiband`).
use serde::{Deserialize, Serialize};

use super::CompressorSettings;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultibandSettings {
    pub crossovers_hz: Vec<f64>,
    /// One per band (crossovers + 1), low to high.
    pub bands: Vec<CompressorSettings>,
}

impl MultibandSettings {
    pub fn validate(&self) -> Result<()> {
        if self.bands.len() != self.crossovers_hz.len() + 1 {
            return Err(Error::InvalidSetting(format!(
                "{} crossovers need {} bands of compressor settings, not {}",
                self.crossovers_hz.len(),
                self.crossovers_hz.len() + 1,
                self.bands.len()
            )));
        }
        self.bands.iter().try_for_each(CompressorSettings::validate)
    }
}
