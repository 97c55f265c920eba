//! Clipped peaks: found as runs of samples that sit at a channel's extreme level (a clean
//! recording reaches its peak once or twice, a clipped one sits on it again and again), and
//! rebuilt beyond it by least-squares AR interpolation under the constraint that a clipped sample
//! lay at or beyond the level it was cut at (Godsill & Rayner, *Digital Audio Restoration*, 1998,
//! §5.2; the constraint by active set: a rebuilt sample that falls short is held at the level and
//! the rest solved again). That solution is the posterior's mode, which leaves a sample the
//! constraint holds on the level itself; each rebuilt sample is then moved to the mean of its
//! posterior beyond the level (a Gaussian about the mode with the LSAR's variance, truncated at
//! the level): the estimate with the least expected squared error under the model (ibid. §5.2.3).
use std::ops::Range;

use super::ar::{covariance_fit, gap_variances, interpolate, ArScratch};
use crate::error::Result;
pub use crate::model::settings::{Clipping, DeclipSettings};

/// Fewest runs at one level that make a channel clipped, however short the recording.
const MIN_RUNS: usize = 4;
/// A sample sits at a clip level within this share of it (one 24-bit step at least).
const LEVEL_TOLERANCE: f32 = 1e-5;
/// The samples that share one repair model, and how far beyond them (at least, and per order)
/// it is fitted.
const BLOCK: usize = 4096;
const CONTEXT: usize = 1024;
const CONTEXT_PER_ORDER: usize = 8;
/// The lowest order of the repair model, and the predictions per coefficient its fit needs.
const MIN_ORDER: usize = 2;
const ROWS_PER_ORDER: usize = 4;
/// The longest region rebuilt at once, in model orders.
const MAX_REGION_PER_ORDER: usize = 6;
/// The weight that holds an observed sample in place in the repair (a clipped one has none).
const HELD: f64 = 1e6;
/// Rounds of the constraint's active set.
const ROUNDS: usize = 32;
/// The repair model's ridge.
const RIDGE: f64 = 1e-6;

/// The clipping of channel `channel` (`x`), if its peaks sit at a level often enough.
pub fn detect(x: &[f32], channel: u16, sample_rate: u32, settings: &DeclipSettings) -> Option<Clipping> {
    let minutes = x.len() as f64 / f64::from(sample_rate) / 60.0;
    let needed = ((settings.runs_per_minute * minutes).ceil() as usize).max(MIN_RUNS);
    let side = |level: f32| -> Option<f32> {
        let at = |v: f32| if level > 0.0 { v >= level - tolerance(level) } else { v <= level + tolerance(level) };
        (level != 0.0 && runs(x, at).len() >= needed).then_some(level)
    };
    let positive = side(x.iter().copied().fold(0.0f32, f32::max));
    let negative = side(x.iter().copied().fold(0.0f32, f32::min));
    if positive.is_none() && negative.is_none() {
        return None;
    }
    let found = Clipping { channel, positive, negative, runs: 0, samples: 0 };
    let all = clipped_runs(x, &found);
    Some(Clipping { runs: all.len(), samples: all.iter().map(Range::len).sum(), ..found })
}

fn tolerance(level: f32) -> f32 {
    (level.abs() * LEVEL_TOLERANCE).max(1.0 / 8_388_608.0)
}

/// Runs of two or more samples where `at` holds (generic, so the test inlines into the scan).
fn runs(x: &[f32], at: impl Fn(f32) -> bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < x.len() {
        if !at(x[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < x.len() && at(x[i]) {
            i += 1;
        }
        if i - start >= 2 {
            out.push(start..i);
        }
    }
    out
}

/// The runs of samples at `clipping`'s levels, in order.
pub fn clipped_runs(x: &[f32], clipping: &Clipping) -> Vec<Range<usize>> {
    let (p, n) = (clipping.positive, clipping.negative);
    let at = |v: f32| p.is_some_and(|l| v >= l - tolerance(l)) || n.is_some_and(|l| v <= l + tolerance(l));
    runs(x, at)
}

pub struct Declipper {
    order: usize,
}

impl Declipper {
    pub fn new(settings: &DeclipSettings) -> Result<Self> {
        settings.validate()?;
        Ok(Declipper { order: settings.order })
    }

    /// Rebuilds the clipped peaks of `x`.
    pub fn repair(&self, x: &mut [f32], clipping: &Clipping) {
        let p = self.order;
        let runs = clipped_runs(x, clipping);
        let mut clipped = vec![false; x.len()];
        for r in &runs {
            clipped[r.clone()].fill(true);
        }
        let mut scratch = ArScratch::default();
        let (mut a, mut weights, mut known, mut observed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut excitation, mut variances) = (0.0, Vec::new());
        let reach = CONTEXT.max(CONTEXT_PER_ORDER * p);
        // One model per block, fitted to the unclipped samples around it, for every region that
        // starts in the block (a fit per region would cost the order squared times the context
        // for each of thousands of regions).
        let mut fitted_block = None;
        for region in grouped(&runs, p, MAX_REGION_PER_ORDER * p) {
            let block = region.start / BLOCK;
            if fitted_block != Some(block) {
                fitted_block = Some(block);
                a.clear();
                let fit = (block * BLOCK).saturating_sub(reach)..((block + 1) * BLOCK + reach).min(x.len());
                known.clear();
                known.extend(clipped[fit.clone()].iter().map(|&c| !c));
                // Dense clipping leaves short clean stretches: the order is lowered until enough
                // predictions fit between the clipped runs.
                if let Some(order) = order_for(&known, p) {
                    a.resize(order, 0.0);
                    match covariance_fit(&x[fit], &known, &mut a, RIDGE, &mut scratch) {
                        Some(v) => excitation = v,
                        None => a.clear(),
                    }
                }
            }
            let order = a.len();
            if order == 0 || region.start < order || region.end + order > x.len() {
                continue; // no model, or too near an end to rebuild
            }
            let ctx = region.start - order..region.end + order;
            let local = order..order + region.len();
            observed.clear();
            observed.extend_from_slice(&x[region.clone()]);
            weights.clear();
            weights.extend(clipped[region.clone()].iter().map(|&c| if c { 0.0 } else { HELD }));
            // The constraint by active set: a clipped sample rebuilt inside its level is held at
            // the level; once all lie beyond, a held one whose multiplier has the wrong sign is
            // let go; until neither happens.
            variances.clear();
            for round in 0..ROUNDS {
                x[region.clone()].copy_from_slice(&observed);
                if !interpolate(&mut x[ctx.clone()], local.clone(), &a, &[], &weights, &mut scratch) {
                    x[region.clone()].copy_from_slice(&observed);
                    variances.clear();
                    break;
                }
                if round == 0 {
                    // The first round holds no clipped sample: its variances are the posterior's
                    // without the constraint.
                    gap_variances(&mut scratch, &mut variances);
                }
                let mut held = false;
                for (i, w) in weights.iter_mut().enumerate() {
                    if *w == 0.0 && (x[region.start + i] - observed[i]) * observed[i].signum() < 0.0 {
                        *w = HELD;
                        held = true;
                    }
                }
                if !held && !release(x, region.clone(), &a, &clipped, &observed, &mut weights) {
                    break;
                }
            }
            // The last round's holds are kept at the level exactly, then each clipped sample
            // moves from the mode to its posterior mean beyond the level.
            for (i, &w) in weights.iter().enumerate() {
                if w == HELD {
                    x[region.start + i] = observed[i];
                }
            }
            for (i, &v) in variances.iter().enumerate() {
                let t = region.start + i;
                if clipped[t] {
                    x[t] = mean_beyond(x[t], observed[i], (excitation * v).sqrt());
                }
            }
        }
    }
}

/// The mean of a Gaussian about `mode` with deviation `sd`, truncated at `level` (kept on the
/// level's far side from zero): mode + sd·φ(α)/(1 − Φ(α)) outward, α the level's distance beyond
/// the mode in deviations (Johnson, Kotz & Balakrishnan, *Continuous Univariate Distributions*,
/// 1994, §10.1).
fn mean_beyond(mode: f32, level: f32, sd: f64) -> f32 {
    let outward = f64::from(level.signum());
    let (mode, level) = (outward * f64::from(mode), outward * f64::from(level));
    if sd.is_nan() || sd <= 0.0 {
        return (outward * mode.max(level)) as f32;
    }
    let alpha = (level - mode) / sd;
    // The hazard φ/(1 − Φ) from erfc, which keeps its precision where 1 − Φ is tiny; beyond
    // α = 30 it has underflowed, and the hazard is α + 1/α to 1e-3.
    let hazard = if alpha > 30.0 {
        alpha + 1.0 / alpha
    } else {
        (-0.5 * alpha * alpha).exp()
            / (std::f64::consts::PI / 2.0).sqrt()
            / libm::erfc(alpha / std::f64::consts::SQRT_2)
    };
    (outward * (mode + sd * hazard)) as f32
}

/// Lets go each held clipped sample of `region` where moving it outward lowers the excitation
/// energy Σ e², whose gradient at sample t is 2 Σ_k b_k e[t + k] (b the prediction-error filter).
fn release(
    x: &[f32],
    region: Range<usize>,
    a: &[f64],
    clipped: &[bool],
    observed: &[f32],
    weights: &mut [f64],
) -> bool {
    let e = |n: usize| f64::from(x[n]) - a.iter().enumerate().map(|(k, &c)| c * f64::from(x[n - 1 - k])).sum::<f64>();
    let mut any = false;
    for (i, w) in weights.iter_mut().enumerate() {
        let t = region.start + i;
        if *w == HELD && clipped[t] {
            let g = e(t) - a.iter().enumerate().map(|(k, &c)| c * e(t + 1 + k)).sum::<f64>();
            if g * f64::from(observed[i].signum()) < 0.0 {
                *w = 0.0;
                any = true;
            }
        }
    }
    any
}

/// The highest order up to `most` for which the known stretches hold `ROWS_PER_ORDER` predictions
/// per coefficient.
fn order_for(known: &[bool], most: usize) -> Option<usize> {
    let mut stretches = Vec::new();
    let mut run = 0usize;
    for &k in known.iter().chain(std::iter::once(&false)) {
        if k {
            run += 1;
        } else if run > 0 {
            stretches.push(run);
            run = 0;
        }
    }
    (MIN_ORDER..=most)
        .rev()
        .find(|&p| stretches.iter().map(|&s| s.saturating_sub(p)).sum::<usize>() >= ROWS_PER_ORDER * p)
}

/// Runs closer than `gap` samples, joined into regions of at most `longest` (heavy clipping
/// would otherwise join into one; a region's neighbours are then rebuilt or held as they are).
fn grouped(runs: &[Range<usize>], gap: usize, longest: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in runs {
        match out.last_mut() {
            Some(last) if r.start < last.end + gap && r.end - last.start <= longest => last.end = r.end,
            _ => out.push(r.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the truncated Gaussian's mean integrated numerically (the midpoint rule over 40
    /// deviations beyond the level), on both sides, with the mode inside, on and beyond the level,
    /// and far inside (where the mean sits just past the level).
    #[test]
    fn the_mean_beyond_the_level_is_the_truncated_gaussians() {
        for (mode, level, sd) in [
            (0.5f32, 0.6f32, 0.05f64),
            (0.6, 0.6, 0.1),
            (0.7, 0.6, 0.05),
            (-0.5, -0.6, 0.02),
            (0.1, 0.6, 0.01),
            (0.59, 0.6, 1.0),
        ] {
            let (out, from) = (f64::from(level).signum(), f64::from(level));
            let steps = 400_000;
            let width = 40.0 * sd / f64::from(steps);
            let (mut mass, mut moment) = (0.0, 0.0);
            for k in 0..steps {
                let v = from + out * (k as f64 + 0.5) * width;
                // Relative to the density at the level, which would underflow far from the mode.
                let z = |u: f64| (u - f64::from(mode)) / sd;
                let density = (-0.5 * (z(v).powi(2) - z(from).powi(2))).exp();
                mass += density;
                moment += density * v;
            }
            let want = moment / mass;
            let got = f64::from(mean_beyond(mode, level, sd));
            assert!((got - want).abs() < 1e-5 * sd.max(1e-3) + 1e-6, "{mode} {level} {sd}: {got} vs {want}");
            assert!(got * out > from * out, "{got} lies beyond {level}");
        }
    }

    #[test]
    fn a_clipped_sinusoid_is_rebuilt_beyond_its_level() {
        let fs = 44_100;
        let x: Vec<f32> = (0..fs as usize)
            .map(|n| (0.9 * (std::f64::consts::TAU * 440.0 * n as f64 / f64::from(fs)).sin()) as f32)
            .collect();
        let y: Vec<f32> = x.iter().map(|v| v.clamp(-0.6, 0.6)).collect();
        let settings = DeclipSettings::default();
        let c = detect(&y, 0, fs, &settings).expect("clipped");
        assert_eq!((c.positive, c.negative), (Some(0.6), Some(-0.6)));
        assert!(detect(&x, 0, fs, &settings).is_none(), "an unclipped sine is clean");
        let mut z = y.clone();
        Declipper::new(&settings).unwrap().repair(&mut z, &c);
        // Away from the ends, where a run has no model's reach of context to be rebuilt from.
        let err = |v: &[f32]| {
            v[1000..43_000].iter().zip(&x[1000..43_000]).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>()
        };
        let (before, after) = (err(&y), err(&z));
        assert!(after < before * 1e-3, "error {before:.3e} -> {after:.3e}");
    }
}
