//! The de-hummer's settings (`dsp::dehum`) and the hum it finds.
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DehumSettings {
    /// Each notch's −3 dB bandwidth, Hz (the filter runs forward and backward: zero phase, the
    /// attenuation doubled).
    pub bandwidth_hz: f64,
    /// Harmonics looked for (the fundamental is the first).
    pub max_harmonics: usize,
    /// A harmonic is hum where its line stands this far above the spectrum around it, dB.
    pub min_prominence_db: f64,
    /// The mains frequency, when known (50 or 60 Hz): only its series is looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mains_hz: Option<f64>,
}

impl Default for DehumSettings {
    fn default() -> Self {
        DehumSettings { bandwidth_hz: 1.0, max_harmonics: 12, min_prominence_db: 10.0, mains_hz: None }
    }
}

impl DehumSettings {
    pub fn validate(&self) -> Result<()> {
        check_range("dehum", &[("bandwidth_hz", self.bandwidth_hz)], 0.1..=10.0)?;
        check_range("dehum", &[("max_harmonics", self.max_harmonics as f64)], 1.0..=40.0)?;
        check_range("dehum", &[("min_prominence_db", self.min_prominence_db)], 3.0..=60.0)?;
        check_range("dehum", &[("mains_hz", self.mains_hz.unwrap_or(50.0))], 40.0..=70.0)
    }
}

/// Mains hum as found: its fundamental and the harmonics the notches remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hum {
    pub fundamental_hz: f64,
    /// Whether the series stood out (false: a forced run's notches on the mains grid itself).
    #[serde(default = "located")]
    pub located: bool,
    pub harmonics: Vec<HumLine>,
}

fn located() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumLine {
    /// 1 for the fundamental.
    pub number: usize,
    pub freq_hz: f64,
    /// The line's level, dBFS (a sine of this amplitude), and how far it stands above the
    /// spectrum around it, dB.
    pub level_db: f64,
    pub prominence_db: f64,
}
