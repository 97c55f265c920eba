//! The render's dynamics stage: the multiband compressor/expander between EQ and limiter. Given a
//! [`DynamicsGoal`] it first fits the settings in a closed loop: each band's compressor is run at the
//! control rate on the band's envelope (computed once), its output's short-term level spread is
//! measured with the same statistics as the profiles ([`short_term_levels`]), and the ratio is
//! bisected until the spread lands on the goal. Make-up then restores each band's mean power, so the
//! tonal balance the EQ set stays.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::dynamics::{levels_of, percentile, short_term_windows, SHORT_TERM_S};
use crate::analysis::spectrum::StftSettings;
use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::compressor::CompressorSettings;
use crate::dsp::multiband::{pooled_power, BandEnvelopes, Multiband, MultibandSettings};
use crate::dsp::{from_db, to_db};
use crate::error::Result;
use crate::plan::{DynamicsGoal, DynamicsPlan};

/// Bounds that keep the stage from pumping or crushing: the steepest compression and expansion the
/// fit may choose, and the make-up it may add or take.
const MAX_RATIO: f64 = 4.0;
const MAX_EXPANSION_RATIO: f64 = 2.0;
const MAX_MAKEUP_DB: f64 = 12.0;
/// Bisection steps of the fit (the ratio's range is resolved to 1/128).
const FIT_STEPS: usize = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsReport {
    /// The settings rendered (fitted, when the plan had a goal).
    pub settings: MultibandSettings,
    pub bands: Vec<BandReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandReport {
    /// Short-term level spread (P95 − P10) of the band before the stage, the goal, and after, dB.
    pub spread_before_db: f64,
    pub spread_goal_db: f64,
    pub spread_after_db: f64,
    /// Largest gain reduction, dB (make-up not counted).
    pub max_reduction_db: f64,
    /// Side gain that keeps the band's width through the time-varying gain, dB.
    pub side_gain_db: f64,
}

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
    CompressorSettings { attack_ms, release_ms, sustained_release_ms: 2.0 * release_ms, sustain_ms: 2000.0, knee_db: 6.0, rms_ms: 300.0, ..Default::default() }
}

/// Applies the plan's dynamics stage to `buffer` in place (nothing when it is off); returns what it
/// rendered, fitted first when the plan carries a goal.
pub fn apply_dynamics(buffer: &mut AudioBuffer, plan: &DynamicsPlan) -> Result<Option<DynamicsReport>> {
    let crossovers = match (&plan.goal, &plan.multiband) {
        (Some(goal), _) => &goal.crossovers_hz,
        (None, Some(m)) => &m.crossovers_hz,
        (None, None) => return Ok(None),
    };
    let fs = buffer.sample_rate;
    let mb = Multiband::new(crossovers, fs)?;
    // Mid/side: the band powers are then |M|² + |S|² as in the profiles, and the side of each band can
    // be scaled on its own (below).
    let stereo = buffer.num_channels() == 2;
    if let [l, r] = buffer.channels.as_mut_slice() {
        to_mid_side(l, r);
    }
    let env = mb.envelopes(&buffer.channels);
    // Short-term statistics on the profiles' grid: control blocks pooled into STFT hops.
    let stft = StftSettings::for_rate(fs);
    let per = (stft.hop / mb.block()).max(1);
    let window = (SHORT_TERM_S / (per * mb.block()) as f64 * f64::from(fs)).round() as usize;
    // The relative gate on all bands together, as the profiles apply it, fixed from the input: the
    // processed bands are judged on the same windows.
    let bands = mb.bands();
    let pooled: Vec<Vec<f32>> = env.power.iter().map(|p| pooled_power(p, None, per)).collect();
    let interleaved: Vec<f32> = (0..pooled[0].len()).flat_map(|i| pooled.iter().map(move |p| p[i])).collect();
    let (_, gate) = short_term_windows(&interleaved, bands, window, None);
    let band_levels = |band: usize, gain: Option<&[f32]>| -> Vec<f64> {
        let (windows, kept) = short_term_windows(&pooled_power(&env.power[band], gain, per), 1, window, Some(&gate));
        levels_of(&windows, &kept, 1).remove(0)
    };
    let spread = |band: usize, gain: Option<&[f32]>| -> f64 {
        let levels = band_levels(band, gain);
        percentile(&levels, 95.0) - percentile(&levels, 10.0)
    };
    let settings = match &plan.goal {
        Some(goal) => fit(&mb, &env, goal, &band_levels, &spread)?,
        None => plan.multiband.clone().expect("checked above"),
    };
    let fitted: Vec<(Option<Vec<f32>>, BandReport)> = settings
        .bands
        .par_iter()
        .enumerate()
        .map(|(b, s)| -> Result<_> {
            let before = spread(b, None);
            let goal = plan.goal.as_ref().map_or(before, |g| before + g.spread_change_db[b]);
            if is_neutral(s) {
                let report = BandReport { spread_before_db: before, spread_goal_db: goal, spread_after_db: before, max_reduction_db: 0.0, side_gain_db: 0.0 };
                return Ok((None, report));
            }
            let gains = mb.gains(s, &env.power[b])?;
            let deepest = gains.iter().fold(f32::MAX, |m, &g| m.min(g));
            let side_gain_db = if stereo { width_compensation_db(&env.channel_power[0][b], &env.channel_power[1][b], &gains) } else { 0.0 };
            let report = BandReport {
                spread_before_db: before,
                spread_goal_db: goal,
                spread_after_db: spread(b, Some(&gains)),
                max_reduction_db: (s.makeup_db - to_db(f64::from(deepest))).max(0.0),
                side_gain_db,
            };
            Ok((Some(gains), report))
        })
        .collect::<Result<_>>()?;
    let (gains, bands): (Vec<_>, Vec<BandReport>) = fitted.into_iter().unzip();
    let side_scale: Vec<f32> = bands.iter().map(|b| from_db(b.side_gain_db) as f32).collect();
    mb.apply(&mut buffer.channels, &gains, &[vec![1.0; side_scale.len()], side_scale], &mut Vec::new());
    if let [m, s] = buffer.channels.as_mut_slice() {
        to_left_right(m, s);
    }
    Ok(Some(DynamicsReport { settings, bands }))
}

/// Largest side correction that keeps a band's width where it was, dB.
const MAX_SIDE_GAIN_DB: f64 = 6.0;

/// The side gain that keeps a band's width (Σ|S|² / Σ|M|²) through time-varying `gains`: where mid
/// and side move differently over time (a wide chorus after a narrow verse), the gains reweigh them,
/// and the width the EQ matched would drift.
fn width_compensation_db(mid: &[f32], side: &[f32], gains: &[f32]) -> f64 {
    let sums = |x: &[f32]| x.iter().zip(gains).fold((0.0f64, 0.0f64), |(a, b), (&p, &g)| (a + f64::from(p), b + f64::from(g * g * p)));
    let ((m0, m1), (s0, s1)) = (sums(mid), sums(side));
    if m0 <= 0.0 || m1 <= 0.0 || s0 <= 0.0 || s1 <= 0.0 {
        return 0.0;
    }
    (10.0 * ((s0 / m0) / (s1 / m1)).log10()).clamp(-MAX_SIDE_GAIN_DB, MAX_SIDE_GAIN_DB)
}

/// A band whose compressor changes nothing.
fn is_neutral(s: &CompressorSettings) -> bool {
    s.ratio == 1.0 && s.expansion_ratio == 1.0 && s.makeup_db == 0.0
}

/// Fits every band to the goal (bands are independent: each has its own detector).
type BandStat<'a, T> = &'a (dyn Fn(usize, Option<&[f32]>) -> T + Sync);

fn fit(mb: &Multiband, env: &BandEnvelopes, goal: &DynamicsGoal, band_levels: BandStat<Vec<f64>>, spread: BandStat<f64>) -> Result<MultibandSettings> {
    let bands = (0..mb.bands())
        .into_par_iter()
        .map(|b| -> Result<CompressorSettings> {
            let mut s = band_template(b, mb.bands());
            let change = goal.spread_change_db[b];
            if change == 0.0 {
                return Ok(s);
            }
            // Compression from the quiet end of the band's short-term levels (P10) up, expansion from
            // the loud end (P95) down: the whole spread then scales by the ratio, a linear map of the
            // target's level distribution onto the reference's.
            let levels = band_levels(b, None);
            if levels.is_empty() {
                return Ok(s);
            }
            s.threshold_db = percentile(&levels, if change < 0.0 { 10.0 } else { 95.0 }).clamp(-80.0, 0.0);
            let target = spread(b, None) + change;
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
            for _ in 0..FIT_STEPS {
                let x = 0.5 * (lo + hi);
                let got = spread(b, Some(&mb.gains(&with(x), &env.power[b])?));
                if (got > target) == (change < 0.0) {
                    lo = x;
                } else {
                    hi = x;
                }
            }
            let mut fitted = with(0.5 * (lo + hi));
            // Make-up: the band's mean power back where it was.
            let gains = mb.gains(&fitted, &env.power[b])?;
            let (before, after) = env.power[b].iter().zip(&gains).fold((0.0f64, 0.0f64), |(a, c), (&p, &g)| (a + f64::from(p), c + f64::from(g * g * p)));
            if after > 0.0 {
                fitted.makeup_db = (10.0 * (before / after).log10()).clamp(-MAX_MAKEUP_DB, MAX_MAKEUP_DB);
            }
            Ok(fitted)
        })
        .collect::<Result<_>>()?;
    Ok(MultibandSettings { crossovers_hz: goal.crossovers_hz.clone(), bands })
}
