//! `MasteringPlan` → **render**: linear-phase mid/side EQ, loudness gain found by measuring (not
//! guessing) the limited output, the true-peak limiter, dither, and verification of the very samples
//! that will be written. Deterministic: the same plan on the same input gives bit-identical output;
//! the output has exactly the input's length and alignment.
mod clipper_stage;
pub mod dither;
pub mod dynamics;
pub mod leveler;

pub mod eq;
pub mod limiter_stage;
mod loudness_search;
pub mod report;
pub mod restore;
pub mod sequence;

use crate::analysis::loudness::{gated_integrated, sub_block_energies_scaled, sub_block_len};
use crate::audio::AudioBuffer;
use crate::dsp::resample::resample;
use crate::dsp::{from_db, to_db};
use crate::error::{Error, Result};
use crate::model::MasteringPlan;
use crate::model::OutputSpec;
use crate::progress::Progress;
use crate::render::clipper_stage::search_and_clip;
use crate::render::dynamics::{DynamicsReport, DynamicsStage};
use crate::render::limiter_stage::LimiterStage;
use crate::render::loudness_search::*;
pub use eq::{apply_eq, side_curve};
pub use limiter_stage::limit;
pub use report::*;

/// Renders `buffer` (consumed, processed in place) with `plan` into the format `spec` gives:
/// restored first where the plan says (at the input's rate, where the faults were found), then
/// converted to the output's rate (so the EQ, dynamics, the limiter and its verification all run
/// at it), quantised last.
pub fn render(
    buffer: AudioBuffer,
    plan: &MasteringPlan,
    spec: impl Into<OutputSpec>,
    name: &str,
    progress: &dyn Progress,
) -> Result<(AudioBuffer, RenderReport)> {
    render_alongside(buffer, plan, spec.into(), name, progress, |_| Ok(())).map(|(b, r, ())| (b, r))
}

/// As [`render`], running `alongside` on the finished output (staging its file, say) while the
/// output is verified and metered: once, or again after a verification pass that had to limit
/// again; returns what its last run returned, which saw the verified output.
pub fn render_alongside<T: Send>(
    buffer: AudioBuffer,
    plan: &MasteringPlan,
    spec: OutputSpec,
    name: &str,
    progress: &dyn Progress,
    alongside: impl FnMut(&AudioBuffer) -> Result<T> + Send,
) -> Result<(AudioBuffer, RenderReport, T)> {
    plan.validate()?;
    let silent = || Error::Silent { path: name.into(), what: "master" };
    if buffer.is_silent() {
        return Err(silent());
    }
    let task = progress.start(&format!("render {name}"), 4);
    let mut buffer = buffer;
    if let Some(r) = &plan.restore {
        restore::apply(&mut buffer, r)?;
    }
    let mut buffer = match spec.sample_rate_hz {
        Some(rate) => resample(buffer, rate)?,
        None => buffer,
    };
    let fs = buffer.sample_rate;
    // EQ, with the dynamics stage when the plan has one.
    let (dynamics, mut dynamics_report, own_range_lu) = equalise_and_compress(&mut buffer, plan, silent)?;
    task.inc(1);
    // Loudness: the leveller acts with the stage, as the plan fixed it or fitted to the goal's range.
    let goal = |heading_lu: f64| dynamics.as_ref().and_then(|d| d.range_goal_lu(own_range_lu, heading_lu));
    let leveler = dynamics
        .as_ref()
        .filter(|d| plan.dynamics.leveler.is_some() || d.has_range_goal())
        .map(|_| LevelerJob { fixed: plan.dynamics.leveler.as_ref(), goal: &goal });
    let (mut stage, search, clipper) = search_and_clip(&mut buffer, plan, leveler, silent)?;
    if let (Some(d), Some(r)) = (dynamics.as_ref(), dynamics_report.as_mut()) {
        r.leveler = search.leveler.clone();
        let gain = stage.gain_curve(from_db(search.gain_db) as f32);
        let limiter_sq: Vec<f32> =
            gain.chunks(d.block()).map(|c| c.iter().map(|g| g * g).sum::<f32>() / c.len() as f32).collect();
        r.limited_spread_db = d.limited_spreads(&limiter_sq);
    }
    let (hop, bands_db, leveler_db) = stage_traces(buffer.frames(), fs, dynamics.as_ref(), &search);
    drop(dynamics);
    task.inc(1);
    // The limiter with dither, then the verified output written.
    let (mut limit, limiter_db) = stage.limit(&mut buffer, search.gain_db, spec, hop);
    task.inc(1);
    let (handed, output_lufs);
    (handed, limit.verify_passes, limit.output_true_peak_dbtp, output_lufs) =
        verify_alongside(&mut buffer, &mut stage, spec, alongside)?;
    let missed_by_lu = plan.loudness.target_lufs - output_lufs;
    // Within 0.1 LU is reached, even where the search stopped at saturation just short of it.
    let reached = missed_by_lu.abs() <= 0.1;
    Ok((
        buffer,
        RenderReport {
            eq_lufs: search.eq_lufs,
            gain_db: search.gain_db,
            loudness_iterations: search.iterations,
            loudness_target_reached: reached,
            loudness_shortfall: (!reached && missed_by_lu > 0.0).then(|| LoudnessShortfall {
                missed_by_lu,
                reason: search.stopped.unwrap_or(ShortfallReason::Saturated),
            }),
            clipper,
            limit,
            output_lufs,
            dynamics: dynamics_report,
            trace: GainTrace { hop_s: hop as f64 / f64::from(fs), limiter_db, bands_db, leveler_db },
        },
        handed,
    ))
}

/// The plan's EQ on `buffer`, and its dynamics stage when it has one, fitted with room for the
/// limiter: the stage (for the leveller and the traces), its report and the equalised signal's
/// own loudness range.
fn equalise_and_compress(
    buffer: &mut AudioBuffer,
    plan: &MasteringPlan,
    silent: impl Fn() -> Error + Copy,
) -> Result<(Option<DynamicsStage>, Option<DynamicsReport>, f64)> {
    let Some(mut d) = DynamicsStage::equalise(buffer, &plan.dynamics, &plan.eq, &plan.stereo)? else {
        return Ok((None, None, 0.0));
    };
    d.prepare(&[])?;
    // How the limiter will act on the equalised signal at the gain the target needs: for the refit
    // below and the stage's tonal compensation. The loudness model alone, with sample peaks for
    // true peaks: an estimate is enough for both (the stage's own effect on the limiter is second
    // order).
    let estimate = LimiterEstimate::new(buffer, plan, d.block(), silent)?;
    if d.has_goal() {
        // The limiter tightens the spreads further: the stage is refitted once to leave room.
        let limited = d.limited_spreads(&estimate.limiter_sq);
        let adjust: Vec<f64> = limited.iter().zip(d.intended_spreads()).map(|(got, want)| want - got).collect();
        if adjust.iter().any(|a| a.abs() > SPREAD_TOLERANCE_DB) {
            d.prepare(&adjust)?;
        }
    }
    let report = d.apply(buffer, &estimate.limiter_sq)?;
    Ok((Some(d), Some(report), estimate.own_range_lu))
}

/// The traces' hop (whole control blocks of the dynamics stage, so all traces share one grid) and
/// the bands' and the leveller's gains on it, dB.
fn stage_traces(
    frames: usize,
    fs: u32,
    dynamics: Option<&DynamicsStage>,
    search: &Search,
) -> (usize, Vec<Vec<f32>>, Vec<f32>) {
    let block = dynamics.map_or(1, DynamicsStage::block);
    let hop = frames.div_ceil(TRACE_POINTS).div_ceil(block).max(1) * block;
    let bands_db = dynamics.map_or_else(Vec::new, |d| d.gain_trace(hop / block));
    let sub = sub_block_len(fs);
    let leveler_db = search.leveler_gain.as_ref().map_or_else(Vec::new, |g| {
        (0..frames.div_ceil(hop))
            .map(|k| to_db(f64::from(leveler::gain_at(g, sub, k * hop + hop / 2))) as f32)
            .collect()
    });
    (hop, bands_db, leveler_db)
}

/// Hands the limited output to `alongside` (to be written) while its true peak and loudness are
/// metered; in the rare case that the verification has to limit again, hands it on again, so what
/// is written is always the verified samples. Returns the last hand-over's result, the
/// verification passes, the output's true peak (dBTP) and its loudness.
fn verify_alongside<T: Send>(
    buffer: &mut AudioBuffer,
    stage: &mut LimiterStage,
    spec: OutputSpec,
    mut alongside: impl FnMut(&AudioBuffer) -> Result<T> + Send,
) -> Result<(T, usize, f64, f64)> {
    let (fs, sub) = (buffer.sample_rate, sub_block_len(buffer.sample_rate));
    let meter = |b: &AudioBuffer| {
        gated_integrated(&sub_block_energies_scaled(&slices(b), None, 1.0, fs), sub).unwrap_or(f64::NEG_INFINITY)
    };
    let (written, (peak, mut output_lufs)) =
        rayon::join(|| alongside(buffer), || rayon::join(|| stage.output_peak(buffer), || meter(buffer)));
    let mut handed = written?;
    let (verify_passes, peak) = stage.verify(buffer, spec, peak);
    if verify_passes > 0 {
        drop(handed);
        let (written, lufs) = rayon::join(|| alongside(buffer), || meter(buffer));
        handed = written?;
        output_lufs = lufs;
    }
    Ok((handed, verify_passes, peak, output_lufs))
}

/// The spread error (dB) the limiter must cause for the dynamics stage to be refitted.
const SPREAD_TOLERANCE_DB: f64 = 0.5;

pub(crate) fn slices(buffer: &AudioBuffer) -> Vec<&[f32]> {
    buffer.channels.iter().map(Vec::as_slice).collect()
}
