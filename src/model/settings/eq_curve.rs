//! The linear-phase EQ's gain curve (`dsp::linear_phase_eq`).
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A gain curve: gain in dB at ascending frequencies, interpolated linearly in log-frequency and held
/// flat beyond its ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EqCurve {
    pub freqs_hz: Vec<f64>,
    pub gain_db: Vec<f64>,
}

impl EqCurve {
    pub fn flat(freqs_hz: Vec<f64>) -> Self {
        let gain_db = vec![0.0; freqs_hz.len()];
        EqCurve { freqs_hz, gain_db }
    }

    pub fn validate(&self, what: &str) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidSetting(format!("{what}: {m}")));
        if self.freqs_hz.is_empty() || self.freqs_hz.len() != self.gain_db.len() {
            return bad("freqs_hz and gain_db must be non-empty and of equal length");
        }
        // partial_cmp: NaN frequencies are rejected too.
        if self.freqs_hz.windows(2).any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater))
            || self.freqs_hz[0] <= 0.0
        {
            return bad("freqs_hz must be positive and strictly ascending");
        }
        if self.gain_db.iter().any(|g| !g.is_finite() || g.abs() > 40.0) {
            return bad("every gain_db must be finite and within ±40 dB");
        }
        Ok(())
    }

    pub fn is_flat(&self) -> bool {
        self.gain_db.iter().all(|&g| g == 0.0)
    }

    pub fn gain_db_at(&self, freq_hz: f64) -> f64 {
        let f = &self.freqs_hz;
        if freq_hz <= f[0] {
            return self.gain_db[0];
        }
        if freq_hz >= f[f.len() - 1] {
            return self.gain_db[f.len() - 1];
        }
        let i = f.partition_point(|&x| x <= freq_hz) - 1;
        let t = (freq_hz / f[i]).ln() / (f[i + 1] / f[i]).ln();
        self.gain_db[i] + t * (self.gain_db[i + 1] - self.gain_db[i])
    }
}
