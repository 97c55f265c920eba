//! Offline look-ahead true-peak limiter. From a linked 8× true-peak envelope it computes one gain per
//! sample that never lets a detected peak exceed the ceiling, reaches full reduction *at* the peak
//! without clicks, and releases program-dependently. Render is offline, so "look-ahead" costs no
//! latency: the gain at n may depend on samples after n.
//!
//! Steps (each O(n)):
//! 1. required gain r[n] = min(1, ceiling / (pre_gain · env[n]));
//! 2. forward sliding minimum over the look-ahead window: m[n] = min r[n .. n+L);
//! 3. release: a fast path and a slow "sustain" path that charges only under sustained reduction;
//!    the gain is the lower of the two, so releases after long overloads are slow and after
//!    transients fast (the max-of-two-release-paths idea in Giannoulis, Massberg & Reiss, JAES 2012);
//! 4. attack: a moving average of length L. Every value averaged for n lies in a window containing n,
//!    so each is ≤ r[n] and so is their mean: no overshoot by construction.
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::from_db;
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
        for (name, v) in [
            ("release_ms", self.release_ms),
            ("sustained_release_ms", self.sustained_release_ms),
            ("sustain_ms", self.sustain_ms),
        ] {
            if !(1.0..=10_000.0).contains(&v) {
                return bad(format!("limiter {name} {v} must be between 1 and 10000"));
            }
        }
        Ok(())
    }
}

pub struct TruePeakLimiter {
    ceiling: f32,
    lookahead: usize,
    release_coef: f32,
    sustained_release_coef: f32,
    sustain_coef: f32,
    window: VecDeque<(usize, f32)>,
    history: Vec<f32>,
}

/// One-pole coefficient for time constant `ms` at `fs`: the state moves 1 − e^{−1} of the way in `ms`.
fn one_pole(ms: f64, fs: f64) -> f32 {
    (-1.0 / (ms * 1e-3 * fs)).exp() as f32
}

impl TruePeakLimiter {
    pub fn new(settings: &LimiterSettings, sample_rate: u32) -> Result<Self> {
        settings.validate()?;
        let fs = f64::from(sample_rate);
        let lookahead = ((settings.lookahead_ms * 1e-3 * fs).round() as usize).max(1);
        Ok(TruePeakLimiter {
            ceiling: from_db(settings.ceiling_dbtp) as f32,
            lookahead,
            release_coef: one_pole(settings.release_ms, fs),
            sustained_release_coef: one_pole(settings.sustained_release_ms, fs),
            sustain_coef: one_pole(settings.sustain_ms, fs),
            window: VecDeque::with_capacity(lookahead + 1),
            history: vec![1.0; lookahead],
        })
    }

    /// Writes into `gain` the per-sample gain to apply after `pre_gain`, given the linked true-peak
    /// envelope `env` of the signal before `pre_gain`.
    pub fn gain_curve(&mut self, env: &[f32], pre_gain: f32, gain: &mut [f32]) {
        assert_eq!(env.len(), gain.len());
        let n = env.len();
        let l = self.lookahead;
        // 1 + 2: required gain and its forward sliding minimum (monotonic deque, right to left).
        self.window.clear();
        for i in (0..n).rev() {
            let peak = pre_gain * env[i];
            let r = if peak > self.ceiling { self.ceiling / peak } else { 1.0 };
            while self.window.back().is_some_and(|&(_, v)| v >= r) {
                self.window.pop_back();
            }
            self.window.push_back((i, r));
            if self.window.front().is_some_and(|&(j, _)| j >= i + l) {
                self.window.pop_front();
            }
            gain[i] = self.window.front().map_or(1.0, |&(_, v)| v);
        }
        // 3: program-dependent release, in the linear gain domain (no transcendental per sample).
        let (mut fast, mut slow) = (1.0f32, 1.0f32);
        for g in gain.iter_mut() {
            let m = *g;
            fast = m.min(1.0 - (1.0 - fast) * self.release_coef);
            slow = if m < slow {
                m + (slow - m) * self.sustain_coef
            } else {
                1.0 - (1.0 - slow) * self.sustained_release_coef
            };
            *g = fast.min(slow);
        }
        // 4: attack by a moving average of length L (ring buffer of the last L values).
        self.history.fill(1.0);
        let mut sum = l as f64;
        for (i, g) in gain.iter_mut().enumerate() {
            let slot = i % l;
            sum += f64::from(*g) - f64::from(self.history[slot]);
            self.history[slot] = *g;
            *g = (sum / l as f64) as f32;
        }
    }
}
