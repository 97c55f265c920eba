//! `MasteringPlan` → **render**: linear-phase mid/side EQ, loudness gain found by measuring (not
//! guessing) the limited output, and the true-peak limiter. Deterministic: the same plan on the same
//! input gives bit-identical output; the output has exactly the input's length and alignment.
use serde::{Deserialize, Serialize};

use crate::analysis::loudness::{integrated_lufs, integrated_lufs_streamed};
use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::limiter::TruePeakLimiter;
use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use crate::dsp::true_peak::TruePeakDetector;
use crate::dsp::{from_db, to_db};
use crate::error::{Error, Result};
use crate::plan::{EqPlan, MasteringPlan};
use crate::progress::Progress;

/// The loudness loop stops when the output is this close to the target (LU).
const LOUDNESS_TOLERANCE_LU: f64 = 0.02;
const MAX_LOUDNESS_ITERATIONS: usize = 8;
/// Passes of re-limiting on the rendered output if gain modulation created new inter-sample overs.
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
    pub verify_passes: usize,
    pub output_lufs: f64,
    pub output_true_peak_dbtp: f64,
}

/// Renders `buffer` (consumed, processed in place) with `plan`.
pub fn render(mut buffer: AudioBuffer, plan: &MasteringPlan, name: &str, progress: &dyn Progress) -> Result<(AudioBuffer, RenderReport)> {
    plan.validate()?;
    if buffer.is_silent() {
        return Err(Error::Silent { path: name.into(), what: "master" });
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
    let eq_lufs = integrated_lufs(&slices(&buffer), fs).ok_or_else(|| Error::Silent { path: name.into(), what: "master" })?;

    // Loudness loop: the envelope scales with the pre-gain, so each iteration only recomputes the
    // limiter's gain curve and meters the would-be output in chunks (it is never stored whole).
    let target = plan.loudness.target_lufs;
    let mut limiter = TruePeakLimiter::new(&plan.limiter, fs)?;
    let mut gain = vec![0.0f32; n];
    let mut gain_db = (target - eq_lufs).min(MAX_GAIN_DB);
    let mut previous: Option<(f64, f64)> = None;
    let mut iterations = 0;
    loop {
        iterations += 1;
        let pre = from_db(gain_db) as f32;
        limiter.gain_curve(&env, pre, &mut gain);
        let out_lufs = integrated_lufs_streamed(buffer.num_channels(), n, fs, |start, bufs| {
            for (b, ch) in bufs.iter_mut().zip(&buffer.channels) {
                for (i, y) in b.iter_mut().enumerate() {
                    *y = ch[start + i] * pre * gain[start + i];
                }
            }
        })
        .unwrap_or(f64::NEG_INFINITY);
        let err = target - out_lufs;
        if err.abs() <= LOUDNESS_TOLERANCE_LU || iterations == MAX_LOUDNESS_ITERATIONS || !out_lufs.is_finite() {
            break;
        }
        // Secant step on output loudness vs gain; under heavy limiting the slope falls below 1.
        let slope = match previous {
            Some((g0, l0)) if (gain_db - g0).abs() > 1e-6 => ((out_lufs - l0) / (gain_db - g0)).clamp(0.05, 1.5),
            _ => 1.0,
        };
        previous = Some((gain_db, out_lufs));
        let next = (gain_db + err / slope).min(MAX_GAIN_DB);
        if next == gain_db {
            break;
        }
        gain_db = next;
    }
    let pre = from_db(gain_db) as f32;
    let max_gain_reduction_db = -to_db(f64::from(gain.iter().fold(1.0f32, |m, &g| m.min(g))));
    apply_gain(&mut buffer, pre, &gain);
    drop(env);
    task.inc(1);

    // Verify: meter the output's true peak; where the gain's own modulation made a new over, limit again.
    let ceiling = from_db(plan.limiter.ceiling_dbtp) as f32;
    let mut verify_passes = 0;
    let true_peak = loop {
        detector.envelope(&slices(&buffer), &mut gain);
        let peak = gain.iter().fold(0.0f32, |m, &v| m.max(v));
        if peak <= ceiling || verify_passes == MAX_VERIFY_PASSES {
            break peak;
        }
        verify_passes += 1;
        let env = std::mem::take(&mut gain);
        let mut g = vec![0.0f32; n];
        limiter.gain_curve(&env, 1.0, &mut g);
        apply_gain(&mut buffer, 1.0, &g);
        gain = env;
    };
    task.inc(1);
    let output_lufs = integrated_lufs(&slices(&buffer), fs).unwrap_or(f64::NEG_INFINITY);
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
