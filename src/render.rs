//! `MasteringPlan` → **render**: linear-phase mid/side EQ, loudness gain found by measuring (not
//! guessing) the limited output, the true-peak limiter, dither, and verification of the very samples
//! that will be written. Deterministic: the same plan on the same input gives bit-identical output;
//! the output has exactly the input's length and alignment.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::loudness::{gated_integrated, k_weighted_power, sub_block_energies_scaled, sub_block_len};
use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::limiter::TruePeakLimiter;
use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use crate::dsp::true_peak::TruePeakDetector;
use crate::dsp::{from_db, to_db};
use crate::encode::{quantize, BitDepth};
use crate::error::{Error, Result};
use crate::plan::{EqPlan, MasteringPlan};
use crate::progress::Progress;

/// The output must land this close to the loudness target (LU).
const LOUDNESS_TOLERANCE_LU: f64 = 0.02;
const MAX_MODEL_ITERATIONS: usize = 24;
/// Exact measurements of the limited output allowed to correct the model's estimate.
const MAX_EXACT_ROUNDS: usize = 3;
/// Passes of re-limiting when gain modulation or dither left a new inter-sample over.
const MAX_VERIFY_PASSES: usize = 4;
/// Largest make-up gain the loudness loop may reach for.
const MAX_GAIN_DB: f64 = 60.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderReport {
    /// Loudness after EQ, before gain and limiting.
    pub eq_lufs: f64,
    pub gain_db: f64,
    pub loudness_iterations: usize,
    pub max_gain_reduction_db: f64,
    /// Extra limiter passes the verification needed (0 when the first render already met the ceiling).
    pub verify_passes: usize,
    /// Measured on the final (quantised) samples.
    pub output_lufs: f64,
    pub output_true_peak_dbtp: f64,
}

/// Renders `buffer` (consumed, processed in place) with `plan`, quantised to `depth`.
pub fn render(mut buffer: AudioBuffer, plan: &MasteringPlan, depth: BitDepth, name: &str, progress: &dyn Progress) -> Result<(AudioBuffer, RenderReport)> {
    plan.validate()?;
    let silent = || Error::Silent { path: name.into(), what: "master" };
    if buffer.is_silent() {
        return Err(silent());
    }
    let task = progress.start(&format!("render {name}"), 4);
    let fs = buffer.sample_rate;
    apply_eq(&mut buffer, &plan.eq)?;
    task.inc(1);

    let n = buffer.frames();
    let detector = TruePeakDetector::new();
    let mut env = vec![0.0f32; n];
    detector.envelope(&slices(&buffer), &mut env);
    task.inc(1);

    // Loudness: a model meters pre²·Σ g[n]²·p[n] from the per-sample K-weighted power p (the gain
    // varies slowly against the K filter's memory), so each step costs one pass over arrays; exact
    // measurements of the limited output then correct the model's small bias.
    let power = k_weighted_power(&slices(&buffer), fs);
    let sub = sub_block_len(fs);
    let model = |pre: f32, gain: &[f32]| -> Option<f64> {
        let subs: Vec<f64> = power
            .par_chunks_exact(sub)
            .zip(gain.par_chunks_exact(sub))
            .map(|(p, g)| p.iter().zip(g).map(|(&p, &g)| f64::from(g * g * p)).sum::<f64>() * f64::from(pre * pre))
            .collect();
        gated_integrated(&subs, sub)
    };
    let mut gain = vec![1.0f32; n];
    let eq_lufs = model(1.0, &gain).ok_or_else(silent)?;
    let target = plan.loudness.target_lufs;
    let mut limiter = TruePeakLimiter::new(&plan.limiter, fs)?;
    limiter.window_peaks(&mut env, &mut gain);
    let mut gain_db = (target - eq_lufs).min(MAX_GAIN_DB);
    let mut bias = 0.0;
    let mut iterations = 0;
    // Secant steps on the model toward target − bias; the points (and so the slope, below 1 under
    // heavy limiting) carry over from one exact round to the next.
    let mut points: Vec<(f64, f64)> = Vec::new();
    for round in 1..=MAX_EXACT_ROUNDS {
        let aim = target - bias;
        let mut model_lufs;
        loop {
            iterations += 1;
            limiter.gain_curve(&env, from_db(gain_db) as f32, &mut gain);
            model_lufs = model(from_db(gain_db) as f32, &gain).ok_or_else(silent)?;
            points.push((gain_db, model_lufs));
            let err = aim - model_lufs;
            if err.abs() <= LOUDNESS_TOLERANCE_LU / 4.0 || iterations >= MAX_MODEL_ITERATIONS {
                break;
            }
            let next = (gain_db + err / secant_slope(&points)).min(MAX_GAIN_DB);
            if next == gain_db {
                break;
            }
            gain_db = next;
        }
        let exact = gated_integrated(&sub_block_energies_scaled(&slices(&buffer), Some(&gain), from_db(gain_db) as f32, fs), sub)
            .ok_or_else(silent)?;
        bias = exact - model_lufs;
        if (target - exact).abs() <= LOUDNESS_TOLERANCE_LU || round == MAX_EXACT_ROUNDS {
            break;
        }
        gain_db = (gain_db + (target - exact) / secant_slope(&points)).min(MAX_GAIN_DB);
    }
    drop(power);
    let max_gain_reduction_db = -to_db(f64::from(gain.iter().fold(1.0f32, |m, &g| m.min(g))));
    apply_gain(&mut buffer, from_db(gain_db) as f32, &gain);
    quantize(&mut buffer, depth);
    task.inc(1);

    // Verify the samples to be written; where gain modulation or dither made a new over, limit again.
    let ceiling = from_db(plan.limiter.ceiling_dbtp) as f32;
    let mut verify_passes = 0;
    let true_peak = loop {
        detector.envelope(&slices(&buffer), &mut env);
        let peak = env.iter().fold(0.0f32, |m, &v| m.max(v));
        if peak <= ceiling || verify_passes == MAX_VERIFY_PASSES {
            break peak;
        }
        verify_passes += 1;
        limiter.window_peaks(&mut env, &mut gain);
        limiter.gain_curve(&env, 1.0, &mut gain);
        apply_gain(&mut buffer, 1.0, &gain);
        quantize(&mut buffer, depth);
    };
    task.inc(1);
    let output_lufs = gated_integrated(&sub_block_energies_scaled(&slices(&buffer), None, 1.0, fs), sub).unwrap_or(f64::NEG_INFINITY);
    Ok((
        buffer,
        RenderReport {
            eq_lufs,
            gain_db,
            loudness_iterations: iterations,
            max_gain_reduction_db,
            verify_passes,
            output_lufs,
            output_true_peak_dbtp: to_db(f64::from(true_peak)),
        },
    ))
}

/// d(output loudness)/d(gain) from the last two points, 1 before there are two; bounded, since heavy
/// limiting flattens it but never reverses it.
fn secant_slope(points: &[(f64, f64)]) -> f64 {
    match points {
        [.., (g0, l0), (g1, l1)] if (g1 - g0).abs() > 1e-6 => ((l1 - l0) / (g1 - g0)).clamp(0.05, 1.5),
        _ => 1.0,
    }
}

fn slices(buffer: &AudioBuffer) -> Vec<&[f32]> {
    buffer.channels.iter().map(Vec::as_slice).collect()
}

fn apply_gain(buffer: &mut AudioBuffer, pre: f32, gain: &[f32]) {
    for ch in &mut buffer.channels {
        for (x, &g) in ch.iter_mut().zip(gain) {
            *x *= pre * g;
        }
    }
}

/// Mid/side linear-phase EQ in place (mono: the mid curve on the one channel).
pub fn apply_eq(buffer: &mut AudioBuffer, eq: &EqPlan) -> Result<()> {
    if eq.mid.is_flat() && (eq.side.is_flat() || buffer.num_channels() == 1) {
        return Ok(());
    }
    let fs = buffer.sample_rate;
    let mut scratch = Vec::new();
    let mut filter = |x: &mut Vec<f32>, curve: &EqCurve| -> Result<()> {
        if curve.is_flat() {
            return Ok(());
        }
        let eq = LinearPhaseEq::new(curve, fs)?;
        scratch.resize(x.len(), 0.0);
        eq.process(x, &mut scratch);
        std::mem::swap(x, &mut scratch);
        Ok(())
    };
    match buffer.channels.as_mut_slice() {
        [mono] => filter(mono, &eq.mid),
        [l, r] => {
            to_mid_side(l, r);
            filter(l, &eq.mid)?;
            filter(r, &eq.side)?;
            to_left_right(l, r);
            Ok(())
        }
        _ => unreachable!("decode admits mono and stereo only"),
    }
}
