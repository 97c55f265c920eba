//! The true-peak limiter's settings (`dsp::limiter`).
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimiterSettings {
    /// True-peak ceiling, dBTP.
    pub ceiling_dbtp: f64,
    /// Look-ahead and attack time.
    pub lookahead_ms: f64,
    /// Release time constant after transients.
    pub release_ms: f64,
    /// Release time constant after sustained reduction.
    pub sustained_release_ms: f64,
    /// How long reduction must last before the slow release takes over (charge time constant).
    pub sustain_ms: f64,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        LimiterSettings {
            ceiling_dbtp: -1.0,
            lookahead_ms: 2.0,
            release_ms: 60.0,
            sustained_release_ms: 600.0,
            sustain_ms: 300.0,
        }
    }
}

impl LimiterSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSetting(m));
        if !(-20.0..=0.0).contains(&self.ceiling_dbtp) {
            return bad(format!("ceiling {} dBTP must be between -20 and 0", self.ceiling_dbtp));
        }
        if !(0.1..=20.0).contains(&self.lookahead_ms) {
            return bad(format!("limiter lookahead_ms {} must be between 0.1 and 20", self.lookahead_ms));
        }
        check_range(
            "limiter",
            &[
                ("release_ms", self.release_ms),
                ("sustained_release_ms", self.sustained_release_ms),
                ("sustain_ms", self.sustain_ms),
            ],
            1.0..=10_000.0,
        )
    }
}
