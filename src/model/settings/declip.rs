//! The declipper's settings (`dsp::declip`) and the clipping it finds.
use serde::{Deserialize, Serialize};

use super::check_range;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclipSettings {
    /// A channel is clipped where at least this many runs of two or more samples sit at its peak
    /// level (per minute of audio; never fewer than `MIN_RUNS`).
    pub runs_per_minute: f64,
    /// Order of the AR model the rebuilt peaks follow.
    pub order: usize,
}

impl Default for DeclipSettings {
    fn default() -> Self {
        DeclipSettings { runs_per_minute: 10.0, order: 40 }
    }
}

impl DeclipSettings {
    pub fn validate(&self) -> Result<()> {
        check_range("declip", &[("runs_per_minute", self.runs_per_minute)], 0.0..=100_000.0)?;
        check_range("declip", &[("order", self.order as f64)], 8.0..=96.0)
    }
}

/// One channel's clipping: the levels its peaks were cut at (positive and negative side; `None`:
/// that side is not clipped) and how much was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clipping {
    pub channel: u16,
    pub positive: Option<f32>,
    pub negative: Option<f32>,
    pub runs: usize,
    pub samples: usize,
}
