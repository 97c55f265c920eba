//! `MasteringPlan` → **render**: linear-phase mid/side EQ, loudness gain found by measuring (not
//! guessing) the limited output, the true-peak limiter, dither, and verification of the very samples
//! that will be written. Deterministic: the same plan on the same input gives bit-identical output;
//! the output has exactly the input's length and alignment.
pub mod dither;
pub mod dynamics;
pub mod leveler;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::loudness::{SHORT_TERM_HOP_S, gated_integrated, k_weighted_power, loudness_range, short_term_series, sub_block_energies_scaled, sub_block_len};
use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::limiter::{LimiterSettings, TruePeakLimiter};
use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use crate::dsp::true_peak::TruePeakDetector;
use crate::dsp::{fast_max, from_db, max_of, min_of, to_db};
use crate::model::BitDepth;
use dither::scale_and_quantize;
use crate::error::{Error, Result};
use crate::render::dynamics::{DynamicsReport, DynamicsStage};
use crate::analysis::dynamics::SHORT_TERM_S;
use crate::dsp::leveler_curve::LevelerSettings;
use leveler::LevelerReport;
use crate::model::{EqPlan, MasteringPlan, StereoPlan};
use crate::progress::Progress;

/// The output must land this close to the loudness target (LU).
const LOUDNESS_TOLERANCE_LU: f64 = 0.02;
const MAX_MODEL_ITERATIONS: usize = 24;
/// Model searches; all but the last end with an exact measurement of the limited output whose
/// difference from the model corrects the next search.
const MAX_EXACT_ROUNDS: usize = 2;
/// Passes of re-limiting when gain modulation or dither left a new inter-sample over.
const MAX_VERIFY_PASSES: usize = 4;
/// Largest make-up gain the loudness search may reach for.
const MAX_GAIN_DB: f64 = 40.0;
/// Below this d(LUFS)/d(gain dB), more gain only crushes the limiter: the search stops and reports
/// the target as unreachable under the ceiling.
const MIN_USEFUL_SLOPE: f64 = 0.1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderReport {
    /// Loudness after EQ, before gain and limiting.
    pub eq_lufs: f64,
    pub gain_db: f64,
    pub loudness_iterations: usize,
    /// False when the target cannot be reached under the ceiling without crushing the signal.
    pub loudness_target_reached: bool,
    #[serde(flatten)]
    pub limit: LimitReport,
    /// Measured on the final (quantised) samples.
    pub output_lufs: f64,
    /// The multiband stage as rendered (`None`: off).
    pub dynamics: Option<DynamicsReport>,
    /// Gain changes over time, for reports; left out of the JSON summary.
    #[serde(skip)]
    pub trace: GainTrace,
}

/// Points a [`GainTrace`] keeps at most, whatever the input's length.
pub const TRACE_POINTS: usize = 1000;

/// How much the limiter and each band of the dynamics stage turned the signal down over time,
/// downsampled to at most [`TRACE_POINTS`] points that keep the deepest reduction of their span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GainTrace {
    pub hop_s: f64,
    /// The limiter's gain, dB (≤ 0).
    pub limiter_db: Vec<f32>,
    /// Per dynamics band, its compressor/expander gain without make-up, dB (empty: the band is off).
    pub bands_db: Vec<Vec<f32>>,
    /// The leveller's gain, dB, the mean over each hop (empty: no leveller).
    #[serde(default)]
    pub leveler_db: Vec<f32>,
}

/// The deepest (smallest) gain of each `per`-long span of `gain`, in dB.
pub(crate) fn deepest_db(gain: &[f32], per: usize) -> Vec<f32> {
    gain.par_chunks(per.max(1)).map(|c| to_db(f64::from(min_of(c))) as f32).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitReport {
    pub max_gain_reduction_db: f64,
    /// Extra limiter passes the verification needed (0 when the first pass already met the ceiling).
    pub verify_passes: usize,
    /// Measured on the final (quantised) samples, 8× oversampled.
    pub output_true_peak_dbtp: f64,
}

/// Renders `buffer` (consumed, processed in place) with `plan`, quantised to `depth`.
pub fn render(buffer: AudioBuffer, plan: &MasteringPlan, depth: BitDepth, name: &str, progress: &dyn Progress) -> Result<(AudioBuffer, RenderReport)> {
    render_alongside(buffer, plan, depth, name, progress, |_| Ok(())).map(|(b, r, ())| (b, r))
}

/// As [`render`], running `alongside` on the finished output (staging its file, say) while the
/// output is verified and metered: once, or again after a verification pass that had to limit
/// again; returns what its last run returned, which saw the verified output.
pub fn render_alongside<T: Send>(
    mut buffer: AudioBuffer,
    plan: &MasteringPlan,
    depth: BitDepth,
    name: &str,
    progress: &dyn Progress,
    mut alongside: impl FnMut(&AudioBuffer) -> Result<T> + Send,
) -> Result<(AudioBuffer, RenderReport, T)> {
    plan.validate()?;
    let silent = || Error::Silent { path: name.into(), what: "master" };
    if buffer.is_silent() {
        return Err(silent());
    }
    let task = progress.start(&format!("render {name}"), 4);
    let fs = buffer.sample_rate;
    let mut dynamics = DynamicsStage::equalise(&mut buffer, &plan.dynamics, &plan.eq, &plan.stereo)?;
    let mut dynamics_report = None;
    let mut own_range_lu = 0.0;
    if let Some(d) = dynamics.as_mut() {
        d.prepare(&[])?;
        // How the limiter will act on the equalised signal at the gain the target needs: for the
        // refit below and the stage's tonal compensation. The loudness model alone, with sample
        // peaks for true peaks: an estimate is enough for both (the stage's own effect on the
        // limiter is second order).
        let estimate = LimiterEstimate::new(&buffer, plan, d.block(), silent)?;
        own_range_lu = estimate.own_range_lu;
        if d.has_goal() {
            // The limiter tightens the spreads further: the stage is refitted once to leave room.
            let limited = d.limited_spreads(&estimate.limiter_sq);
            let adjust: Vec<f64> = limited.iter().zip(d.intended_spreads()).map(|(got, want)| want - got).collect();
            if adjust.iter().any(|a| a.abs() > SPREAD_TOLERANCE_DB) {
                d.prepare(&adjust)?;
            }
        }
        dynamics_report = Some(d.apply(&mut buffer, &estimate.limiter_sq)?);
    }
    task.inc(1);
    // The leveller acts with the stage: as the plan fixed it, or fitted to the goal's range.
    let goal = |heading_lu: f64| dynamics.as_ref().and_then(|d| d.range_goal_lu(own_range_lu, heading_lu));
    let leveler = dynamics.as_ref().filter(|d| plan.dynamics.leveler.is_some() || d.has_range_goal()).map(|_| LevelerJob { fixed: plan.dynamics.leveler.as_ref(), goal: &goal });
    let (mut stage, search) = search_loudness(&mut buffer, plan, leveler, silent)?;
    if let Some(r) = dynamics_report.as_mut() {
        r.leveler = search.leveler.clone();
    }
    if let (Some(d), Some(r)) = (dynamics.as_ref(), dynamics_report.as_mut()) {
        let gain = stage.gain_curve(from_db(search.gain_db) as f32);
        let limiter_sq: Vec<f32> = gain.chunks(d.block()).map(|c| c.iter().map(|g| g * g).sum::<f32>() / c.len() as f32).collect();
        r.limited_spread_db = d.limited_spreads(&limiter_sq);
    }
    // The trace's hop: whole control blocks of the dynamics stage, so both traces share one grid.
    let block = dynamics.as_ref().map_or(1, DynamicsStage::block);
    let hop = buffer.frames().div_ceil(TRACE_POINTS).div_ceil(block).max(1) * block;
    let bands_db = dynamics.as_ref().map_or_else(Vec::new, |d| d.gain_trace(hop / block));
    let sub = sub_block_len(fs);
    let leveler_db = search.leveler_gain.as_ref().map_or_else(Vec::new, |g| (0..buffer.frames().div_ceil(hop)).map(|k| to_db(f64::from(leveler::gain_at(g, sub, k * hop + hop / 2))) as f32).collect());
    drop(dynamics);
    task.inc(1);
    let (max_gain_reduction_db, limiter_db) = stage.limit(&mut buffer, search.gain_db, depth, hop);
    task.inc(1);
    // The output is written (`alongside`) while its true peak and loudness are metered; in the rare
    // case that the verification has to limit again, it is written again, so the file always holds
    // the verified samples.
    let meter = |b: &AudioBuffer| gated_integrated(&sub_block_energies_scaled(&slices(b), None, 1.0, fs), sub).unwrap_or(f64::NEG_INFINITY);
    let (written, (peak, mut output_lufs)) = rayon::join(|| alongside(&buffer), || rayon::join(|| stage.output_peak(&buffer), || meter(&buffer)));
    let mut handed = written?;
    let (verify_passes, peak) = stage.verify(&mut buffer, depth, peak);
    if verify_passes > 0 {
        drop(handed);
        let (written, lufs) = rayon::join(|| alongside(&buffer), || meter(&buffer));
        handed = written?;
        output_lufs = lufs;
    }
    let limit = LimitReport { max_gain_reduction_db, verify_passes, output_true_peak_dbtp: to_db(f64::from(peak)) };
    Ok((
        buffer,
        RenderReport {
            eq_lufs: search.eq_lufs,
            gain_db: search.gain_db,
            loudness_iterations: search.iterations,
            loudness_target_reached: search.reached && (plan.loudness.target_lufs - output_lufs).abs() <= 0.1,
            limit,
            output_lufs,
            dynamics: dynamics_report,
            trace: GainTrace { hop_s: hop as f64 / f64::from(fs), limiter_db, bands_db, leveler_db },
        },
        handed,
    ))
}

/// The spread error (dB) the limiter must cause for the dynamics stage to be refitted.
const SPREAD_TOLERANCE_DB: f64 = 0.5;

/// What the loudness search found.
struct Search {
    eq_lufs: f64,
    gain_db: f64,
    iterations: usize,
    reached: bool,
    leveler: Option<LevelerReport>,
    /// The leveller's gain per loudness sub-block (see [`leveler::gain_at`]).
    leveler_gain: Option<Vec<f32>>,
}

/// The leveller's part in the loudness search: settings the plan fixed, else the range goal for a
/// given heading (the output's range without the leveller), `None` when it is to stay out.
struct LevelerJob<'a> {
    fixed: Option<&'a LevelerSettings>,
    goal: &'a dyn Fn(f64) -> Option<f64>,
}

/// The limiter stage for `buffer` and the gain into it that brings the limited output to the plan's
/// loudness target: a model of the limited output (see [`LoudnessModel`]) is searched; exact
/// measurements of the limited output then correct the model's bias. With a `leveler` job, the
/// leveller is fitted on the same model first (a closed loop on the stage's actual output: each
/// candidate is searched for the target again, since a leveller that lowers the quiet passages asks
/// for more gain, which the limiter takes off the loud ones) and applied to `buffer`.
fn search_loudness(buffer: &mut AudioBuffer, plan: &MasteringPlan, leveler: Option<LevelerJob>, silent: impl Fn() -> Error) -> Result<(LimiterStage, Search)> {
    let fs = buffer.sample_rate;
    // The limiter's envelope and the model's K-weighted power side by side: the window-peak pass
    // is sequential and the K-weighting two-threaded, so together they fill both cores.
    let step = LoudnessModel::step(fs);
    let (stage, power) = rayon::join(|| LimiterStage::new(buffer, &plan.limiter), || k_weighted_power(&slices(buffer), fs, step));
    let mut stage = stage?;
    let sub = sub_block_len(fs);
    let mut model = LoudnessModel::new(fs, power, &stage.peaks, &plan.limiter)?;
    let eq_lufs = model.unlimited_lufs().ok_or_else(&silent)?;
    let target = plan.loudness.target_lufs;
    let mut search = ModelSearch { gain_db: (target - eq_lufs).min(MAX_GAIN_DB), iterations: 0, points: Vec::new() };
    let (leveler, leveler_gain) = match leveler {
        Some(job) => level(buffer, &mut stage, &mut model, &mut search, job, target, &silent)?.unzip(),
        None => (None, None),
    };
    let mut bias = 0.0;
    let mut reached = true;
    for round in 1..=MAX_EXACT_ROUNDS {
        let (model_lufs, ok) = search.run(&mut model, target - bias, &silent)?;
        reached = ok;
        if round == MAX_EXACT_ROUNDS {
            break; // the last search used the measured bias; the final verification meters the output
        }
        let pre = from_db(search.gain_db) as f32;
        let exact = gated_integrated(&sub_block_energies_scaled(&slices(buffer), Some(stage.gain_curve(pre)), pre, fs), sub).ok_or_else(&silent)?;
        bias = exact - model_lufs;
        if !reached || (target - exact).abs() <= LOUDNESS_TOLERANCE_LU {
            break;
        }
        search.gain_db = (search.gain_db + (target - exact) / secant_slope(&search.points)).min(MAX_GAIN_DB);
    }
    Ok((stage, Search { eq_lufs, gain_db: search.gain_db, iterations: search.iterations, reached, leveler, leveler_gain }))
}

/// Fits (or takes) the leveller on the loudness model and applies it to `buffer`, the limiter's
/// window peaks and the model: the gain moves over seconds, so the window peaks of the levelled
/// signal are the old ones scaled (the final verification meters the samples themselves).
fn level(buffer: &mut AudioBuffer, stage: &mut LimiterStage, model: &mut LoudnessModel, search: &mut ModelSearch, job: LevelerJob, target: f64, silent: &impl Fn() -> Error) -> Result<Option<(LevelerReport, Vec<f32>)>> {
    search.run(model, target, silent)?;
    let pre = from_db(search.gain_db) as f32;
    // The leveller works on the 100 ms sub-blocks of the loudness meter, its gain interpolated
    // between their centres.
    let (sub, step) = (model.sub, model.sub / model.per_sub);
    let loudness = leveler::centred_loudness(&model.sub_energies(pre), sub, (SHORT_TERM_S / SHORT_TERM_HOP_S).round() as usize);
    let heading_lu = model.loudness_range(pre);
    let goal_lu = if job.fixed.is_some() { None } else { (job.goal)(heading_lu) };
    let start_db = search.gain_db;
    let mut scratch = model.clone();
    let unlevelled: &LoudnessModel = model;
    // Each prediction's search starts where the last one ended: the fit's steps move the ratio
    // less and less, and the gain the target needs with them.
    let mut last_db = start_db;
    let mut predict = |gains: &[f32]| -> Result<f64> {
        unlevelled.scale_into(gains, sub, step, &mut scratch);
        let mut s = ModelSearch { gain_db: last_db, iterations: 0, points: Vec::new() };
        s.run(&mut scratch, target, silent)?;
        last_db = s.gain_db;
        Ok(scratch.loudness_range(from_db(s.gain_db) as f32))
    };
    let settings = match (job.fixed, goal_lu) {
        (Some(fixed), _) => fixed.clone(),
        (None, Some(goal)) => match leveler::fit(&loudness, heading_lu, goal, &mut predict)? {
            Some(s) => s,
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let gains = settings.gains(&loudness);
    let after_lu = predict(&gains)?;
    *model = scratch;
    search.gain_db = start_db;
    search.points.clear();
    // Each chunk's gains worked out once for the channels and the peaks.
    const CHUNK: usize = 1 << 12;
    let frames = stage.peaks.len();
    let mut arrays: Vec<std::slice::ChunksMut<f32>> = buffer.channels.iter_mut().chain(std::iter::once(&mut stage.peaks)).map(|x| x.chunks_mut(CHUNK)).collect();
    let chunks: Vec<Vec<&mut [f32]>> = (0..frames.div_ceil(CHUNK)).map(|_| arrays.iter_mut().filter_map(Iterator::next).collect()).collect();
    chunks.into_par_iter().enumerate().for_each_init(
        || vec![0.0f32; CHUNK],
        |g, (c, xs)| {
            let g = &mut g[..xs[0].len()];
            leveler::gains_at(&gains, sub, c * CHUNK, 1, g);
            for x in xs {
                x.iter_mut().zip(g.iter()).for_each(|(x, &g)| *x *= g);
            }
        },
    );
    stage.gain_pre = None;
    Ok(Some((LevelerReport::new(settings, &gains, heading_lu, goal_lu, after_lu), gains)))
}

/// Secant steps on a [`LoudnessModel`] toward an aim; the points (and so the slope, below 1 under
/// heavy limiting) carry over from one call to the next.
struct ModelSearch {
    gain_db: f64,
    iterations: usize,
    points: Vec<(f64, f64)>,
}

impl ModelSearch {
    /// Moves `gain_db` until the model's loudness is within half the tolerance of `aim`; returns the
    /// model's loudness there, and false when more gain would only crush the limiter.
    fn run(&mut self, model: &mut LoudnessModel, aim: f64, silent: &impl Fn() -> Error) -> Result<(f64, bool)> {
        loop {
            self.iterations += 1;
            let model_lufs = model.lufs(from_db(self.gain_db) as f32).ok_or_else(silent)?;
            self.points.push((self.gain_db, model_lufs));
            let err = aim - model_lufs;
            if err.abs() <= LOUDNESS_TOLERANCE_LU / 2.0 || self.iterations >= MAX_MODEL_ITERATIONS {
                return Ok((model_lufs, true));
            }
            let slope = secant_slope(&self.points);
            if err > 0.0 && (slope < MIN_USEFUL_SLOPE || self.gain_db >= MAX_GAIN_DB) {
                return Ok((model_lufs, false));
            }
            self.gain_db = (self.gain_db + err / slope).min(MAX_GAIN_DB);
        }
    }
}

/// How the limiter will act on the equalised signal at the gain the loudness target needs, estimated
/// on the loudness model alone: sample peaks stand in for true peaks and there is no exact round, so
/// it costs a fraction of [`search_loudness`].
struct LimiterEstimate {
    /// The limiter's gain² averaged over each control block of the dynamics stage.
    limiter_sq: Vec<f32>,
    /// The equalised signal's own loudness range (LU).
    own_range_lu: f64,
}

impl LimiterEstimate {
    fn new(buffer: &AudioBuffer, plan: &MasteringPlan, block: usize, silent: impl Fn() -> Error) -> Result<Self> {
        let fs = buffer.sample_rate;
        let step = LoudnessModel::step(fs);
        let lookahead = TruePeakLimiter::new(&plan.limiter, fs)?.lookahead();
        let (peaks, power) = rayon::join(
            || {
                // Sample peaks per model step, then the forward maximum over the steps that a
                // look-ahead window starting in the step reaches (a window peak per step, or a
                // little above it).
                let pooled: Vec<f32> = (0..buffer.frames() / step)
                    .into_par_iter()
                    .with_min_len(1 << 12)
                    .map(|m| buffer.channels.iter().flat_map(|c| &c[m * step..(m + 1) * step]).fold(0.0f32, |a, v| fast_max(a, v.abs())))
                    .collect();
                let reach = 1 + (lookahead - 1).div_ceil(step);
                (0..pooled.len()).into_par_iter().with_min_len(1 << 12).map(|m| pooled[m..(m + reach).min(pooled.len())].iter().fold(0.0f32, |a, &v| fast_max(a, v))).collect::<Vec<f32>>()
            },
            || k_weighted_power(&slices(buffer), fs, step),
        );
        let mut model = LoudnessModel::with_peaks(fs, power, peaks, &plan.limiter)?;
        let eq_lufs = model.unlimited_lufs().ok_or_else(&silent)?;
        let mut search = ModelSearch { gain_db: (plan.loudness.target_lufs - eq_lufs).min(MAX_GAIN_DB), iterations: 0, points: Vec::new() };
        search.run(&mut model, plan.loudness.target_lufs, &silent)?;
        model.lufs(from_db(search.gain_db) as f32);
        // Model samples (one per `step`) spread over the control blocks they fall in.
        let limiter_sq = (0..buffer.frames().div_ceil(block))
            .map(|c| {
                let g = &model.gain[(c * block / step).min(model.gain.len())..((c + 1) * block).div_ceil(step).min(model.gain.len())];
                if g.is_empty() { 1.0 } else { g.iter().map(|g| g * g).sum::<f32>() / g.len() as f32 }
            })
            .collect();
        let subs: Vec<f64> = model.power.chunks_exact(model.per_sub).map(|p| p.iter().map(|&p| f64::from(p)).sum()).collect();
        Ok(LimiterEstimate { limiter_sq, own_range_lu: loudness_range(&short_term_series(&subs, model.sub)) })
    }
}

/// Applies `gain_db` into the true-peak limiter, quantises to `depth` and verifies the ceiling: the
/// last stage of [`render`] on its own (used where the gain is fixed rather than found by loudness).
pub fn limit(mut buffer: AudioBuffer, gain_db: f64, settings: &LimiterSettings, depth: BitDepth) -> Result<(AudioBuffer, LimitReport)> {
    let mut stage = LimiterStage::new(&buffer, settings)?;
    let frames = buffer.frames();
    let (max_gain_reduction_db, _) = stage.limit(&mut buffer, gain_db, depth, frames);
    let peak = stage.output_peak(&buffer);
    let (verify_passes, peak) = stage.verify(&mut buffer, depth, peak);
    Ok((buffer, LimitReport { max_gain_reduction_db, verify_passes, output_true_peak_dbtp: to_db(f64::from(peak)) }))
}

/// The search's view of the limited output, at 1/step of the sample rate: per block of `step`
/// samples, the K-weighted power summed (p) and the limiter's window peaks maximised; the limiter's
/// gain curve runs at the reduced rate, and loudness is metered as pre²·Σ g²·p per 100 ms sub-block.
/// Each search step so costs a tenth of a full-rate one; the exact rounds measure its bias.
#[derive(Clone)]
struct LoudnessModel {
    limiter: TruePeakLimiter,
    /// Full-rate samples per 100 ms sub-block, and model samples per sub-block.
    sub: usize,
    per_sub: usize,
    power: Vec<f32>,
    peaks: Vec<f32>,
    gain: Vec<f32>,
}

impl LoudnessModel {
    /// Full-rate samples per model sample: the largest of 10, 6, 5, 3, 2 dividing a sub-block.
    fn step(fs: u32) -> usize {
        let sub = sub_block_len(fs);
        [10, 6, 5, 3, 2].into_iter().find(|d| sub % d == 0).unwrap_or(1)
    }

    /// From the K-weighted power summed per [`Self::step`] samples and the full-rate window peaks.
    fn new(fs: u32, power: Vec<f32>, window_peaks: &[f32], settings: &LimiterSettings) -> Result<Self> {
        let step = Self::step(fs);
        let peaks: Vec<f32> = window_peaks.par_chunks_exact(step).map(|c| c.iter().fold(0.0f32, |m, &v| fast_max(m, v))).collect();
        Self::with_peaks(fs, power, peaks, settings)
    }

    /// From the model-rate peaks themselves (the window peaks maximised per step).
    fn with_peaks(fs: u32, power: Vec<f32>, peaks: Vec<f32>, settings: &LimiterSettings) -> Result<Self> {
        let sub = sub_block_len(fs);
        let step = Self::step(fs);
        let rate = (f64::from(fs) / step as f64).round() as u32;
        Ok(LoudnessModel { limiter: TruePeakLimiter::new(settings, rate)?, sub, per_sub: sub / step, gain: vec![1.0; power.len()], power, peaks })
    }

    /// The limited output's energy per 100 ms sub-block at `pre`: pre²·Σ g²·p.
    fn sub_energies(&self, pre: f32) -> Vec<f64> {
        self.power
            .par_chunks_exact(self.per_sub)
            .zip(self.gain.par_chunks_exact(self.per_sub))
            .map(|(p, g)| p.iter().zip(g).map(|(&p, &g)| f64::from(g * g * p)).sum::<f64>() * f64::from(pre * pre))
            .collect()
    }

    fn meter(&self, pre: f32) -> Option<f64> {
        gated_integrated(&self.sub_energies(pre), self.sub)
    }

    /// Writes into `into` (a clone of this model, its buffers reused) the model of the signal times
    /// the leveller's `gains` (per `hop` samples, see [`leveler::gain_at`]), taken at each model
    /// sample's centre (`step` samples apart): power scaled by its square, peaks by it.
    fn scale_into(&self, gains: &[f32], hop: usize, step: usize, into: &mut LoudnessModel) {
        const CHUNK: usize = 1 << 12;
        into.power.par_chunks_mut(CHUNK).zip(into.peaks.par_chunks_mut(CHUNK)).enumerate().for_each_init(
            || vec![0.0f32; CHUNK],
            |g, (c, (power, peaks))| {
                let (first, g) = (c * CHUNK, &mut g[..power.len()]);
                leveler::gains_at(gains, hop, first * step + step / 2, step, g);
                for (i, ((p, k), &g)) in power.iter_mut().zip(peaks.iter_mut()).zip(g.iter()).enumerate() {
                    *p = self.power[first + i] * g * g;
                    *k = self.peaks[first + i] * g;
                }
            },
        );
    }

    /// Loudness range (LU) of the limited output at `pre`.
    fn loudness_range(&mut self, pre: f32) -> f64 {
        self.limiter.gain_curve(&self.peaks, pre, &mut self.gain);
        loudness_range(&short_term_series(&self.sub_energies(pre), self.sub))
    }

    fn unlimited_lufs(&mut self) -> Option<f64> {
        self.gain.fill(1.0);
        self.meter(1.0)
    }

    fn lufs(&mut self, pre: f32) -> Option<f64> {
        self.limiter.gain_curve(&self.peaks, pre, &mut self.gain);
        self.meter(pre)
    }
}

/// The limiter with its buffers: the look-ahead window peaks of the signal's 8× true-peak envelope
/// (computed once; they scale with any pre-gain) and the gain curve.
struct LimiterStage {
    detector: TruePeakDetector,
    limiter: TruePeakLimiter,
    ceiling: f32,
    peaks: Vec<f32>,
    gain: Vec<f32>,
    /// The pre-gain `gain` was computed for, if it is the curve for the current `peaks`.
    gain_pre: Option<f32>,
}

impl LimiterStage {
    fn new(buffer: &AudioBuffer, settings: &LimiterSettings) -> Result<Self> {
        let limiter = TruePeakLimiter::new(settings, buffer.sample_rate)?;
        let detector = TruePeakDetector::new();
        let n = buffer.frames();
        let (mut peaks, mut gain) = (vec![0.0f32; n], vec![0.0f32; n]);
        detector.envelope(&slices(buffer), &mut gain);
        limiter.window_peaks(&gain, &mut peaks);
        Ok(LimiterStage { detector, limiter, ceiling: from_db(settings.ceiling_dbtp) as f32, peaks, gain, gain_pre: None })
    }

    fn gain_curve(&mut self, pre: f32) -> &[f32] {
        if self.gain_pre != Some(pre) {
            self.limiter.gain_curve(&self.peaks, pre, &mut self.gain);
            self.gain_pre = Some(pre);
        }
        &self.gain
    }

    /// Applies pre-gain and limiting and quantises; returns the deepest reduction (dB) and the
    /// limiter's gain trace at one point per `trace_hop` samples. [`Self::output_peak`] and
    /// [`Self::verify`] then check the very samples to be written.
    fn limit(&mut self, buffer: &mut AudioBuffer, gain_db: f64, depth: BitDepth, trace_hop: usize) -> (f64, Vec<f32>) {
        let pre = from_db(gain_db) as f32;
        self.gain_curve(pre);
        let trace = deepest_db(&self.gain, trace_hop);
        // `0.0 -` rather than negation: no reduction reads 0, not −0.
        let max_gain_reduction_db = 0.0 - to_db(f64::from(min_of(&self.gain).min(1.0)));
        scale_and_quantize(buffer, Some((pre, &self.gain)), depth);
        (max_gain_reduction_db, trace)
    }

    /// The true peak (8×, linear) of `buffer` as it is; its envelope stays in the stage for
    /// [`Self::verify`].
    fn output_peak(&mut self, buffer: &AudioBuffer) -> f32 {
        // The envelope goes into `gain` (free until the next curve).
        self.detector.envelope(&slices(buffer), &mut self.gain);
        self.gain_pre = None;
        max_of(&self.gain)
    }

    /// Given the output's true peak `peak` from [`Self::output_peak`]: where gain modulation or
    /// dither made a new over, limits again (at most [`MAX_VERIFY_PASSES`] times) and meters again.
    /// Returns the passes taken and the final true peak.
    fn verify(&mut self, buffer: &mut AudioBuffer, depth: BitDepth, mut peak: f32) -> (usize, f32) {
        let mut passes = 0;
        while peak > self.ceiling && passes < MAX_VERIFY_PASSES {
            passes += 1;
            // The envelope from `output_peak` is in `gain`: its window peaks are the output's.
            self.limiter.window_peaks(&self.gain, &mut self.peaks);
            self.gain_curve(1.0);
            scale_and_quantize(buffer, Some((1.0, &self.gain)), depth);
            peak = self.output_peak(buffer);
        }
        (passes, peak)
    }
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

/// Deepest cut of the bass mono curve, dB (the EQ's limit).
const BASS_MONO_CUT_DB: f64 = -40.0;

/// The side filter's curve: the side EQ, the width correction and the bass mono cut added (all act
/// on side and are linear, so one filter does all three). Bass mono cuts 40 dB from half an octave
/// below its frequency, rising as a raised cosine in log frequency to 0 dB at it.
pub fn side_curve(eq: &EqCurve, stereo: &StereoPlan) -> EqCurve {
    let bass_mono = |f: f64| match stereo.bass_mono_hz {
        Some(fc) => {
            let t = ((f / fc).log2() + 0.5) / 0.5;
            if t <= 0.0 {
                BASS_MONO_CUT_DB
            } else if t >= 1.0 {
                0.0
            } else {
                BASS_MONO_CUT_DB * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
        None => 0.0,
    };
    let gain_db = eq
        .freqs_hz
        .iter()
        .map(|&f| (eq.gain_db_at(f) + stereo.width.gain_db_at(f) + bass_mono(f)).clamp(BASS_MONO_CUT_DB, -BASS_MONO_CUT_DB))
        .map(|g| if g == 0.0 { 0.0 } else { g })
        .collect();
    EqCurve { freqs_hz: eq.freqs_hz.clone(), gain_db }
}

/// Mid/side linear-phase EQ in place, with the stereo plan folded into the side filter (mono: the
/// mid curve on the one channel).
pub fn apply_eq(buffer: &mut AudioBuffer, eq: &EqPlan, stereo: &StereoPlan) -> Result<()> {
    let side = side_curve(&eq.side, stereo);
    if eq.mid.is_flat() && (side.is_flat() || buffer.num_channels() == 1) {
        return Ok(());
    }
    let fs = buffer.sample_rate;
    if let [l, r] = buffer.channels.as_mut_slice() {
        to_mid_side(l, r);
    }
    filter_mid_side(&mut buffer.channels, &eq.mid, &side, fs)?;
    if let [m, s] = buffer.channels.as_mut_slice() {
        to_left_right(m, s);
    }
    Ok(())
}

/// Linear-phase EQ in place on channels already in mid/side (or the one mono channel): `mid` on
/// the first, `side` on the second; flat curves cost nothing.
fn filter_mid_side(channels: &mut [Vec<f32>], mid: &EqCurve, side: &EqCurve, fs: u32) -> Result<()> {
    for (x, curve) in channels.iter_mut().zip([mid, side]) {
        if !curve.is_flat() {
            LinearPhaseEq::new(curve, fs)?.process_in_place(x);
        }
    }
    Ok(())
}
