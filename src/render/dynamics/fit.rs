//! The closed-loop fit of the stage's compressors to the spreads it aims at.
use rayon::prelude::*;

use super::DynamicsStage;
use crate::analysis::dynamics::percentile;
use crate::dsp::compressor::CompressorSettings;
use crate::dsp::multiband::MultibandSettings;
use crate::error::Result;

/// Bounds that keep the stage from pumping or crushing: the steepest compression and expansion the
/// fit may choose, and the make-up it may add or take.
const MAX_RATIO: f64 = 4.0;
const MAX_EXPANSION_RATIO: f64 = 2.0;
const MAX_MAKEUP_DB: f64 = 12.0;
/// Bisection steps of the fit (the ratio's range is resolved to 1/128).
const FIT_STEPS: usize = 7;
/// Spread changes smaller than this (dB) leave a band alone.
const MIN_CHANGE_DB: f64 = 0.25;
/// Time constants per band, low to high. The stage matches how band levels move over seconds (the
/// short-term spread), so it is a levelling compressor: an RMS detector over 400 ms (momentary
/// loudness's window) feeds the gain computer, whose attack and release are a fraction of a second
/// (longer after sustained reduction, so dense passages do not pump); the lows a little slower, the
/// highs a little faster.
fn band_template(band: usize, bands: usize) -> CompressorSettings {
    let (attack_ms, release_ms) = match (band, bands) {
        (0, _) => (80.0, 300.0),
        (b, n) if b + 1 == n => (40.0, 200.0),
        _ => (60.0, 250.0),
    };
    CompressorSettings {
        attack_ms,
        release_ms,
        sustained_release_ms: 2.0 * release_ms,
        sustain_ms: 2000.0,
        knee_db: 6.0,
        rms_ms: 300.0,
        ..Default::default()
    }
}

impl DynamicsStage {
    /// Fits every band to its spread `aims` (bands are independent: each has its own detector).
    pub(super) fn fit(&self, crossovers_hz: &[f64], aims: &[f64]) -> Result<MultibandSettings> {
        let (mb, env) = (&self.mb, &self.env);
        let bands = (0..mb.bands())
            .into_par_iter()
            .map(|b| -> Result<CompressorSettings> {
                let mut s = band_template(b, mb.bands());
                let target = aims[b];
                let change = target - self.own[b];
                if change.abs() < MIN_CHANGE_DB {
                    return Ok(s);
                }
                // Compression from the quiet end of the band's short-term levels (P10) up, expansion
                // from the loud end (P95) down: the whole spread then scales by the ratio, a linear
                // map of the target's level distribution onto the reference's.
                let levels = self.band_levels(b, None, None);
                if levels.is_empty() {
                    return Ok(s);
                }
                s.threshold_db = percentile(&levels, if change < 0.0 { 10.0 } else { 95.0 }).clamp(-80.0, 0.0);
                let with = |x: f64| {
                    let mut t = s.clone();
                    if change < 0.0 {
                        t.ratio = 1.0 + x * (MAX_RATIO - 1.0);
                    } else {
                        t.expansion_ratio = 1.0 + x * (MAX_EXPANSION_RATIO - 1.0);
                    }
                    t
                };
                // Spread falls with the compression ratio and rises with the expansion ratio.
                let (mut lo, mut hi) = (0.0, 1.0);
                let levels = mb.detector_levels(&s, &env.power[b])?; // the steps change the curve only
                for _ in 0..FIT_STEPS {
                    let x = 0.5 * (lo + hi);
                    let got = self.spread(b, Some(&mb.gains_at_levels(&with(x), &levels)?), None);
                    if (got > target) == (change < 0.0) {
                        lo = x;
                    } else {
                        hi = x;
                    }
                }
                let mut fitted = with(0.5 * (lo + hi));
                // Make-up: the band's mean power back where it was.
                let gains = mb.gains_at_levels(&fitted, &levels)?;
                let (before, after) = env.power[b]
                    .iter()
                    .zip(&gains)
                    .fold((0.0f64, 0.0f64), |(a, c), (&p, &g)| (a + f64::from(p), c + f64::from(g * g * p)));
                if after > 0.0 {
                    fitted.makeup_db = (10.0 * (before / after).log10()).clamp(-MAX_MAKEUP_DB, MAX_MAKEUP_DB);
                }
                Ok(fitted)
            })
            .collect::<Result<_>>()?;
        Ok(MultibandSettings { crossovers_hz: crossovers_hz.to_vec(), bands })
    }
}
