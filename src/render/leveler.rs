//! The dynamics stage's leveller: a slow broadband gain that moves the output's loudness range (EBU
//! Tech 3342: P95 − P10 of the short-term loudness) toward the goal's. Band compression shapes how
//! each band moves against the others, but the limiter then takes the loud end off the whole: on a
//! mix that needs 10 dB of peak control that alone costs several LU of range, which no band setting
//! can win back without tilting the balance between bands. A gain that follows the short-term
//! loudness itself can, and it is the same in every band, so each moment keeps its spectrum.
//!
//! The gain is a static curve of the centred 3 s loudness (the short-term meter's window; offline,
//! so centred and without lag): it moves over seconds, never within a beat. At and above the loud
//! end (P95) nothing changes, so the limiter's work stays as it is; below it every dB is scaled by
//! the ratio (above 1: quiet passages go down, the range widens; below 1: they come up); below the
//! relative gate (−20 LU) the gain holds, so silence and fades are not chased. The ratio is bisected
//! on a prediction of the limited output's loudness range.
use serde::{Deserialize, Serialize};

use crate::analysis::loudness::{nearest_rank, range_gated, LUFS_OFFSET_DB};
use crate::error::Result;
use crate::model::settings::{LevelerSettings, RATIO_BOUNDS};

/// Range errors smaller than this (LU) leave the output alone.
const MIN_CHANGE_LU: f64 = 0.25;
/// Bisection steps (the ratio's range resolved to 1/256).
const FIT_STEPS: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelerReport {
    #[serde(flatten)]
    pub settings: LevelerSettings,
    /// Predicted loudness range of the output without the leveller, the goal (`None`: the plan
    /// fixed the settings), and with it (LU).
    pub range_before_lu: f64,
    pub range_goal_lu: Option<f64>,
    pub range_after_lu: f64,
    /// The deepest cut and the largest boost it applies, dB.
    pub max_cut_db: f64,
    pub max_boost_db: f64,
}

impl LevelerReport {
    pub fn new(
        settings: LevelerSettings,
        gains: &[f32],
        range_before_lu: f64,
        range_goal_lu: Option<f64>,
        range_after_lu: f64,
    ) -> Self {
        let db = |g: f32| crate::dsp::to_db(f64::from(g));
        let max_cut_db = 0.0 - gains.iter().map(|&g| db(g)).fold(0.0f64, f64::min);
        let max_boost_db = gains.iter().map(|&g| db(g)).fold(0.0f64, f64::max);
        LevelerReport { settings, range_before_lu, range_goal_lu, range_after_lu, max_cut_db, max_boost_db }
    }
}

/// The settings that bring the predicted range from `before` to `goal_lu`, or `None` when that is
/// within `MIN_CHANGE_LU`, when the best the bounds allow moves the range by less (a track too
/// short for a short-term window, a steady one), or when everything is silent; errors are
/// `predict`'s.
/// - `loudness`: the output's short-term loudness per point, from [`centred_loudness`];
/// - `predict`: the output's loudness range with a gain per point applied.
pub fn fit(
    loudness: &[f64],
    before: f64,
    goal_lu: f64,
    mut predict: impl FnMut(&[f32]) -> Result<f64>,
) -> Result<Option<LevelerSettings>> {
    let Some((threshold_lufs, floor_lufs)) = threshold_and_gate(loudness) else { return Ok(None) };
    if (goal_lu - before).abs() < MIN_CHANGE_LU {
        return Ok(None);
    }
    let with = |ratio: f64| LevelerSettings { ratio, threshold_lufs, floor_lufs };

    // The range grows with the ratio.
    let (mut lo, mut hi) = if goal_lu > before { (1.0, RATIO_BOUNDS.1) } else { (RATIO_BOUNDS.0, 1.0) };
    for _ in 0..FIT_STEPS {
        let ratio = 0.5 * (lo + hi);
        if predict(&with(ratio).gains(loudness))? < goal_lu {
            lo = ratio;
        } else {
            hi = ratio;
        }
    }
    let fitted = with(0.5 * (lo + hi));
    let moved = predict(&fitted.gains(loudness))? - before;
    Ok((moved.abs() >= MIN_CHANGE_LU).then_some(fitted))
}

/// The gain at sample `n` from `gains` given per `hop` samples: linear between the hops' centres,
/// held before the first and after the last.
pub fn gain_at(gains: &[f32], hop: usize, n: usize) -> f32 {
    let x = (n as f64 + 0.5) / hop as f64 - 0.5;
    // The cast truncates, which is floor for x ≥ 0 (f64::floor is a library call on baseline x86-64).
    let k = x.max(0.0) as usize;
    if k + 1 >= gains.len() {
        return gains[gains.len() - 1];
    }
    let t = x.max(0.0) as f32 - k as f32;
    gains[k] + t * (gains[k + 1] - gains[k])
}

/// [`gain_at`] for n = first, first + step, first + 2·step, … into `out`, the same values: where a
/// run of points lies within one interval between hop centres, its index and end gains are looked
/// up once and the run's loop (the same arithmetic per point) vectorises.
pub fn gains_at(gains: &[f32], hop: usize, first: usize, step: usize, out: &mut [f32]) {
    const RUN: usize = 64;
    let last = gains.len() - 1;
    let x = |i: usize| ((first + i * step) as f64 + 0.5) / hop as f64 - 0.5;
    let index = |i: usize| x(i).max(0.0) as usize;
    for (r, run) in out.chunks_mut(RUN).enumerate() {
        let i0 = r * RUN;
        let (k0, k1) = (index(i0), index(i0 + run.len() - 1));
        if k0 >= last {
            run.fill(gains[last]);
        } else if k0 == k1 {
            let (g0, d, kf) = (gains[k0], gains[k0 + 1] - gains[k0], k0 as f32);
            for (j, o) in run.iter_mut().enumerate() {
                *o = g0 + (x(i0 + j).max(0.0) as f32 - kf) * d;
            }
        } else {
            for (j, o) in run.iter_mut().enumerate() {
                *o = gain_at(gains, hop, first + (i0 + j) * step);
            }
        }
    }
}

/// Loudness (LUFS) of the `window` blocks centred on each block (fewer at the ends), from the
/// output's K-weighted `energy` per block (summed over its `block_len` samples).
pub fn centred_loudness(energy: &[f64], block_len: usize, window: usize) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(energy.len() + 1);
    prefix.push(0.0f64);
    for &e in energy {
        prefix.push(prefix[prefix.len() - 1] + e);
    }
    let half = window.max(1) / 2;
    (0..energy.len())
        .map(|c| {
            let (a, b) = (c.saturating_sub(half), (c + half + 1).min(energy.len()));
            let ms = (prefix[b] - prefix[a]) / ((b - a) * block_len) as f64;
            if ms > 0.0 {
                LUFS_OFFSET_DB + 10.0 * ms.log10()
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

/// P95 of the loudness values Tech 3342 keeps for the range, and its relative gate; `None` when
/// everything lies below the absolute gate.
fn threshold_and_gate(loudness: &[f64]) -> Option<(f64, f64)> {
    range_gated(loudness).map(|(kept, gate)| (nearest_rank(&kept, 0.95), gate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A programme alternating 20 s loud and 20 s quiet passages, the loud ones flattened by a
    /// stand-in limiter (capped at −10 LUFS): the fitted leveller brings the range to the goal as
    /// metered by the Tech 3342 definition itself, within the bisection's resolution.
    #[test]
    fn the_fitted_ratio_lands_the_predicted_range_on_the_goal() {
        let (block_len, per_s) = (441usize, 100usize);
        let level = |t: usize| {
            if (t / (20 * per_s)).is_multiple_of(2) {
                -8.0
            } else {
                -16.0 + 2.0 * ((t % 700) as f64 / 700.0)
            }
        };
        let energy: Vec<f64> = (0..240 * per_s)
            .map(|t| 10f64.powf((level(t).min(-10.0) - LUFS_OFFSET_DB) / 10.0) * block_len as f64)
            .collect();
        let range = |gains: &[f32]| -> Result<f64> {
            let e: Vec<f64> = energy.iter().zip(gains).map(|(e, g)| e * f64::from(g * g)).collect();
            let subs: Vec<f64> = e.chunks(10).map(|c| c.iter().sum()).collect();
            Ok(crate::analysis::loudness::loudness_range(&crate::analysis::loudness::short_term_series(
                &subs,
                10 * block_len,
            )))
        };
        let loudness = centred_loudness(&energy, block_len, 3 * per_s);
        let own = range(&vec![1.0; energy.len()]).unwrap();
        for goal in [own + 3.0, own - 2.0] {
            let settings = fit(&loudness, own, goal, range).unwrap().expect("a change");
            let gains = settings.gains(&loudness);
            let got = range(&gains).unwrap();
            assert!((got - goal).abs() < 0.2, "goal {goal}: {got} ({settings:?})");
            // The loud passages keep 0 dB exactly.
            assert!(gains[10 * per_s].to_bits() == 1.0f32.to_bits(), "{}", gains[10 * per_s]);
        }
        assert!(fit(&loudness, own, own + 0.2, range).unwrap().is_none());
    }

    #[test]
    fn the_gain_is_interpolated_between_hop_centres_and_held_at_the_ends() {
        let g = [1.0f32, 3.0, 2.0];
        assert_eq!(gain_at(&g, 10, 0), 1.0);
        assert_eq!(gain_at(&g, 10, 4), 1.0);
        assert!((gain_at(&g, 10, 9) - 1.9).abs() < 1e-6);
        assert!((gain_at(&g, 10, 14) - 2.9).abs() < 1e-6);
        assert!((gain_at(&g, 10, 19) - 2.55).abs() < 1e-6);
        assert_eq!(gain_at(&g, 10, 29), 2.0);
        assert_eq!(gain_at(&g, 10, 1000), 2.0);
    }

    /// The runs give `gain_at`'s bits at every point: inside intervals, across their edges, in the
    /// held ends, for steps of 1 and more.
    #[test]
    fn runs_of_gains_equal_the_gain_point_by_point() {
        let g: Vec<f32> = (0..37).map(|k| 0.5 + (k as f32 * 0.7).sin() * 0.3).collect();
        for (hop, first, step, count) in [
            (4410, 0, 1, 200_000),
            (4410, 12_345, 1, 50_000),
            (441, 17, 10, 9_000),
            (100, 0, 3, 5_000),
            (7, 3, 1, 1_000),
        ] {
            let mut out = vec![0.0f32; count];
            gains_at(&g, hop, first, step, &mut out);
            for (i, &v) in out.iter().enumerate() {
                assert_eq!(v.to_bits(), gain_at(&g, hop, first + i * step).to_bits(), "hop {hop}, point {i}");
            }
        }
    }
}
