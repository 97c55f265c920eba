//! The declicker's settings (`dsp::declick`) and what it finds.
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::{Error, Result};

/// Clicks (isolated, up to a few ms) or crackle (dense small ones: a lower threshold, shorter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClickMode {
    #[default]
    Clicks,
    Crackle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclickSettings {
    pub mode: ClickMode,
    /// Order of the AR model that detection and repair use.
    pub order: usize,
    /// A click stands out of its surroundings' excitation energy by this factor (the larger side's).
    pub threshold: f64,
    /// Longest run of spoiled samples repaired as one click, ms.
    pub max_click_ms: f64,
}

impl DeclickSettings {
    pub fn for_mode(mode: ClickMode) -> Self {
        match mode {
            ClickMode::Clicks => DeclickSettings { mode, order: 32, threshold: 25.0, max_click_ms: 3.0 },
            ClickMode::Crackle => DeclickSettings { mode, order: 32, threshold: 12.0, max_click_ms: 1.0 },
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(8..=96).contains(&self.order) {
            return Err(Error::InvalidSetting(format!("declick order {} must be 8 … 96", self.order)));
        }
        check_range("declick", &[("threshold", self.threshold)], 2.0..=10_000.0)?;
        check_range("declick", &[("max_click_ms", self.max_click_ms)], 0.02..=20.0)
    }
}

impl Default for DeclickSettings {
    fn default() -> Self {
        Self::for_mode(ClickMode::Clicks)
    }
}

/// A run of samples a click spoiled, in one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    pub channel: u16,
    pub start: u64,
    pub len: u32,
}
