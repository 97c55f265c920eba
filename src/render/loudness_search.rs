//! The gain into the limiter that brings the limited output to the loudness target, found by
//! measuring a model of the limited output (and the exact output) rather than by guessing; the
//! leveller is fitted on the same model.
use rayon::prelude::*;

use crate::analysis::dynamics::SHORT_TERM_S;
use crate::analysis::loudness::{
    gated_integrated, k_weighted_power, loudness_range, short_term_series, sub_block_energies_scaled, sub_block_len,
    SHORT_TERM_HOP_S,
};
use crate::audio::AudioBuffer;
use crate::dsp::limiter::{LimiterSettings, TruePeakLimiter};
use crate::dsp::simd::fast_max;
use crate::dsp::{from_db, max_of, to_db};
use crate::error::{Error, Result};
use crate::model::settings::LevelerSettings;
use crate::model::MasteringPlan;
use crate::parallel::GRAIN;
use crate::render::leveler::{self, LevelerReport};
use crate::render::limiter_stage::LimiterStage;
use crate::render::report::ShortfallReason;
use crate::render::slices;

/// The output must land this close to the loudness target (LU).
pub(crate) const LOUDNESS_TOLERANCE_LU: f64 = 0.02;
pub(crate) const MAX_MODEL_ITERATIONS: usize = 24;
/// Model searches; all but the last end with an exact measurement of the limited output whose
/// difference from the model corrects the next search.
pub(crate) const MAX_EXACT_ROUNDS: usize = 2;
/// Largest make-up gain the loudness search may reach for.
pub(crate) const MAX_GAIN_DB: f64 = 40.0;
/// Below this d(LUFS)/d(gain dB), more gain only crushes the limiter: the search stops and reports
/// the target as unreachable under the ceiling.
pub(crate) const MIN_USEFUL_SLOPE: f64 = 0.1;

/// What the loudness search found.
pub(crate) struct Search {
    pub(crate) eq_lufs: f64,
    pub(crate) gain_db: f64,
    pub(crate) iterations: usize,
    pub(crate) reached: bool,
    /// Why the search stopped short, when it did.
    pub(crate) stopped: Option<ShortfallReason>,
    /// The highest true peak (dB) the bound on limiting was measured against.
    pub(crate) peak_db: f64,
    /// The output's loudness at the gain found, as last measured or modelled (bias corrected).
    pub(crate) lufs: f64,
    pub(crate) leveler: Option<LevelerReport>,
    /// The leveller's gain per loudness sub-block (see [`leveler::gain_at`]).
    pub(crate) leveler_gain: Option<Vec<f32>>,
}

/// The leveller's part in the loudness search: settings the plan fixed, else the range goal for a
/// given heading (the output's range without the leveller), `None` when it is to stay out.
pub(crate) struct LevelerJob<'a> {
    pub(crate) fixed: Option<&'a LevelerSettings>,
    pub(crate) goal: &'a dyn Fn(f64) -> Option<f64>,
}

/// The limiter stage for `buffer` and the gain into it that brings the limited output to the plan's
/// loudness target: a model of the limited output (see [`LoudnessModel`]) is searched; exact
/// measurements of the limited output then correct the model's bias. With a `leveler` job, the
/// leveller is fitted on the same model first (a closed loop on the stage's actual output: each
/// candidate is searched for the target again, since a leveller that lowers the quiet passages asks
/// for more gain, which the limiter takes off the loud ones) and applied to `buffer`. The gain
/// stays where the chain's reduction at the highest true peak, `peak_db` (`None`: this signal's
/// own, before the leveller), is within the plan's `max_limiting_db`.
pub(crate) fn search_loudness(
    buffer: &mut AudioBuffer,
    plan: &MasteringPlan,
    leveler: Option<LevelerJob>,
    peak_db: Option<f64>,
    silent: impl Fn() -> Error,
) -> Result<(LimiterStage, Search)> {
    let fs = buffer.sample_rate;
    // The limiter's envelope and the model's K-weighted power side by side: the window-peak pass
    // is sequential and the K-weighting two-threaded, so together they fill both cores.
    let step = LoudnessModel::step(fs);
    let (stage, power) =
        rayon::join(|| LimiterStage::new(buffer, &plan.limiter), || k_weighted_power(&slices(buffer), fs, step));
    let mut stage = stage?;
    let peak_db = peak_db.unwrap_or_else(|| to_db(f64::from(max_of(&stage.peaks))));
    let max_gain_db = plan
        .loudness
        .max_limiting_db
        .map_or(MAX_GAIN_DB, |m| (m + plan.limiter.ceiling_dbtp - peak_db).min(MAX_GAIN_DB));
    let sub = sub_block_len(fs);
    let mut model = LoudnessModel::new(fs, power, &stage.peaks, &plan.limiter)?;
    let eq_lufs = model.unlimited_lufs().ok_or_else(&silent)?;
    let target = plan.loudness.target_lufs;
    if let Some(gain_db) = plan.loudness.fixed_gain_db {
        // No search: the loudness the fixed gain gives, metered exactly (the final verification
        // meters the output again).
        let pre = from_db(gain_db) as f32;
        let lufs =
            gated_integrated(&sub_block_energies_scaled(&slices(buffer), Some(stage.gain_curve(pre)), pre, fs), sub)
                .ok_or_else(&silent)?;
        let search = Search {
            eq_lufs,
            gain_db,
            iterations: 0,
            reached: true,
            stopped: Some(ShortfallReason::FixedGain),
            peak_db,
            lufs,
            leveler: None,
            leveler_gain: None,
        };
        return Ok((stage, search));
    }
    let mut search = ModelSearch::new((target - eq_lufs).min(max_gain_db), max_gain_db);
    let (leveler, leveler_gain) = match leveler {
        Some(job) => level(buffer, &mut stage, &mut model, &mut search, job, target, &silent)?.unzip(),
        None => (None, None),
    };
    let mut bias = 0.0;
    let (mut reached, mut lufs) = (true, f64::NEG_INFINITY);
    for round in 1..=MAX_EXACT_ROUNDS {
        let (model_lufs, ok) = search.run(&mut model, target - bias, &silent)?;
        (reached, lufs) = (ok, model_lufs + bias);
        if round == MAX_EXACT_ROUNDS {
            break; // the last search used the measured bias; the final verification meters the output
        }
        let pre = from_db(search.gain_db) as f32;
        let exact =
            gated_integrated(&sub_block_energies_scaled(&slices(buffer), Some(stage.gain_curve(pre)), pre, fs), sub)
                .ok_or_else(&silent)?;
        (bias, lufs) = (exact - model_lufs, exact);
        if !reached || (target - exact).abs() <= LOUDNESS_TOLERANCE_LU {
            break;
        }
        search.gain_db = (search.gain_db + (target - exact) / secant_slope(&search.points)).min(max_gain_db);
    }
    let stopped = (!reached).then_some(search.stopped).flatten();
    Ok((
        stage,
        Search {
            eq_lufs,
            gain_db: search.gain_db,
            iterations: search.iterations,
            reached,
            stopped,
            peak_db,
            lufs,
            leveler,
            leveler_gain,
        },
    ))
}

/// Fits (or takes) the leveller on the loudness model and applies it to `buffer`, the limiter's
/// window peaks and the model: the gain moves over seconds, so the window peaks of the levelled
/// signal are the old ones scaled (the final verification meters the samples themselves).
pub(crate) fn level(
    buffer: &mut AudioBuffer,
    stage: &mut LimiterStage,
    model: &mut LoudnessModel,
    search: &mut ModelSearch,
    job: LevelerJob,
    target: f64,
    silent: &impl Fn() -> Error,
) -> Result<Option<(LevelerReport, Vec<f32>)>> {
    search.run(model, target, silent)?;
    let pre = from_db(search.gain_db) as f32;
    // The leveller works on the 100 ms sub-blocks of the loudness meter, its gain interpolated
    // between their centres.
    let (sub, step) = (model.sub, model.sub / model.per_sub);
    let loudness =
        leveler::centred_loudness(&model.sub_energies(pre), sub, (SHORT_TERM_S / SHORT_TERM_HOP_S).round() as usize);
    let heading_lu = model.loudness_range(pre);
    let goal_lu = if job.fixed.is_some() { None } else { (job.goal)(heading_lu) };
    let start_db = search.gain_db;
    let mut scratch = model.clone();
    let unlevelled: &LoudnessModel = model;
    // Each prediction's search starts where the last one ended: the fit's steps move the ratio
    // less and less, and the gain the target needs with them.
    let (mut last_db, max_gain_db) = (start_db, search.max_gain_db);
    let mut predict = |gains: &[f32]| -> Result<f64> {
        unlevelled.scale_into(gains, sub, step, &mut scratch);
        let mut s = ModelSearch::new(last_db, max_gain_db);
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
    let frames = stage.peaks.len();
    let mut arrays: Vec<std::slice::ChunksMut<f32>> =
        buffer.channels.iter_mut().chain(std::iter::once(&mut stage.peaks)).map(|x| x.chunks_mut(GRAIN)).collect();
    let chunks: Vec<Vec<&mut [f32]>> =
        (0..frames.div_ceil(GRAIN)).map(|_| arrays.iter_mut().filter_map(Iterator::next).collect()).collect();
    chunks.into_par_iter().enumerate().for_each_init(
        || vec![0.0f32; GRAIN],
        |g, (c, xs)| {
            let g = &mut g[..xs[0].len()];
            leveler::gains_at(&gains, sub, c * GRAIN, 1, g);
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
pub(crate) struct ModelSearch {
    pub(crate) gain_db: f64,
    pub(crate) max_gain_db: f64,
    pub(crate) iterations: usize,
    pub(crate) points: Vec<(f64, f64)>,
    /// Why the last run stopped short of its aim.
    pub(crate) stopped: Option<ShortfallReason>,
}

impl ModelSearch {
    pub(crate) fn new(gain_db: f64, max_gain_db: f64) -> Self {
        ModelSearch { gain_db, max_gain_db, iterations: 0, points: Vec::new(), stopped: None }
    }

    /// Moves `gain_db` until the model's loudness is within half the tolerance of `aim`; returns the
    /// model's loudness there, and false when more gain would only crush the limiter.
    pub(crate) fn run(
        &mut self,
        model: &mut LoudnessModel,
        aim: f64,
        silent: &impl Fn() -> Error,
    ) -> Result<(f64, bool)> {
        loop {
            self.iterations += 1;
            let model_lufs = model.lufs(from_db(self.gain_db) as f32).ok_or_else(silent)?;
            self.points.push((self.gain_db, model_lufs));
            let err = aim - model_lufs;
            if err.abs() <= LOUDNESS_TOLERANCE_LU / 2.0 || self.iterations >= MAX_MODEL_ITERATIONS {
                return Ok((model_lufs, true));
            }
            let slope = secant_slope(&self.points);
            if err > 0.0 && (slope < MIN_USEFUL_SLOPE || self.gain_db >= self.max_gain_db) {
                self.stopped = Some(if self.gain_db < self.max_gain_db {
                    ShortfallReason::Saturated
                } else if self.max_gain_db < MAX_GAIN_DB {
                    ShortfallReason::MaxLimiting
                } else {
                    ShortfallReason::GainBound
                });
                return Ok((model_lufs, false));
            }
            self.gain_db = (self.gain_db + err / slope).min(self.max_gain_db);
        }
    }
}

/// How the limiter will act on the equalised signal at the gain the loudness target needs, estimated
/// on the loudness model alone: sample peaks stand in for true peaks and there is no exact round, so
/// it costs a fraction of [`search_loudness`].
pub(crate) struct LimiterEstimate {
    /// The limiter's gain² averaged over each control block of the dynamics stage.
    pub(crate) limiter_sq: Vec<f32>,
    /// The equalised signal's own loudness range (LU).
    pub(crate) own_range_lu: f64,
}

impl LimiterEstimate {
    pub(crate) fn new(
        buffer: &AudioBuffer,
        plan: &MasteringPlan,
        block: usize,
        silent: impl Fn() -> Error,
    ) -> Result<Self> {
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
                    .with_min_len((GRAIN / step).max(1))
                    .map(|m| {
                        buffer
                            .channels
                            .iter()
                            .flat_map(|c| &c[m * step..(m + 1) * step])
                            .fold(0.0f32, |a, v| fast_max(a, v.abs()))
                    })
                    .collect();
                let reach = 1 + (lookahead - 1).div_ceil(step);
                (0..pooled.len())
                    .into_par_iter()
                    .with_min_len((GRAIN / step).max(1))
                    .map(|m| pooled[m..(m + reach).min(pooled.len())].iter().fold(0.0f32, |a, &v| fast_max(a, v)))
                    .collect::<Vec<f32>>()
            },
            || k_weighted_power(&slices(buffer), fs, step),
        );
        let mut model = LoudnessModel::with_peaks(fs, power, peaks, &plan.limiter)?;
        let eq_lufs = model.unlimited_lufs().ok_or_else(&silent)?;
        let mut search = ModelSearch::new((plan.loudness.target_lufs - eq_lufs).min(MAX_GAIN_DB), MAX_GAIN_DB);
        search.run(&mut model, plan.loudness.target_lufs, &silent)?;
        model.lufs(from_db(search.gain_db) as f32);
        // Model samples (one per `step`) spread over the control blocks they fall in.
        let limiter_sq = (0..buffer.frames().div_ceil(block))
            .map(|c| {
                let g = &model.gain
                    [(c * block / step).min(model.gain.len())..((c + 1) * block).div_ceil(step).min(model.gain.len())];
                if g.is_empty() {
                    1.0
                } else {
                    g.iter().map(|g| g * g).sum::<f32>() / g.len() as f32
                }
            })
            .collect();
        let subs: Vec<f64> =
            model.power.chunks_exact(model.per_sub).map(|p| p.iter().map(|&p| f64::from(p)).sum()).collect();
        Ok(LimiterEstimate { limiter_sq, own_range_lu: loudness_range(&short_term_series(&subs, model.sub)) })
    }
}

/// The search's view of the limited output, at 1/step of the sample rate: per block of `step`
/// samples, the K-weighted power summed (p) and the limiter's window peaks maximised; the limiter's
/// gain curve runs at the reduced rate, and loudness is metered as pre²·Σ g²·p per 100 ms sub-block.
/// Each search step so costs a tenth of a full-rate one; the exact rounds measure its bias.
#[derive(Clone)]
pub(crate) struct LoudnessModel {
    pub(crate) limiter: TruePeakLimiter,
    /// Full-rate samples per 100 ms sub-block, and model samples per sub-block.
    pub(crate) sub: usize,
    pub(crate) per_sub: usize,
    pub(crate) power: Vec<f32>,
    pub(crate) peaks: Vec<f32>,
    pub(crate) gain: Vec<f32>,
}

impl LoudnessModel {
    /// Full-rate samples per model sample: the largest of 10, 6, 5, 3, 2 dividing a sub-block.
    pub(crate) fn step(fs: u32) -> usize {
        let sub = sub_block_len(fs);
        [10, 6, 5, 3, 2].into_iter().find(|d| sub.is_multiple_of(*d)).unwrap_or(1)
    }

    /// From the K-weighted power summed per [`Self::step`] samples and the full-rate window peaks.
    pub(crate) fn new(fs: u32, power: Vec<f32>, window_peaks: &[f32], settings: &LimiterSettings) -> Result<Self> {
        let step = Self::step(fs);
        let peaks: Vec<f32> =
            window_peaks.par_chunks_exact(step).map(|c| c.iter().fold(0.0f32, |m, &v| fast_max(m, v))).collect();
        Self::with_peaks(fs, power, peaks, settings)
    }

    /// From the model-rate peaks themselves (the window peaks maximised per step).
    pub(crate) fn with_peaks(fs: u32, power: Vec<f32>, peaks: Vec<f32>, settings: &LimiterSettings) -> Result<Self> {
        let sub = sub_block_len(fs);
        let step = Self::step(fs);
        let rate = (f64::from(fs) / step as f64).round() as u32;
        Ok(LoudnessModel {
            limiter: TruePeakLimiter::new(settings, rate)?,
            sub,
            per_sub: sub / step,
            gain: vec![1.0; power.len()],
            power,
            peaks,
        })
    }

    /// The limited output's energy per 100 ms sub-block at `pre`: pre²·Σ g²·p.
    pub(crate) fn sub_energies(&self, pre: f32) -> Vec<f64> {
        self.power
            .par_chunks_exact(self.per_sub)
            .zip(self.gain.par_chunks_exact(self.per_sub))
            .map(|(p, g)| p.iter().zip(g).map(|(&p, &g)| f64::from(g * g * p)).sum::<f64>() * f64::from(pre * pre))
            .collect()
    }

    pub(crate) fn meter(&self, pre: f32) -> Option<f64> {
        gated_integrated(&self.sub_energies(pre), self.sub)
    }

    /// Writes into `into` (a clone of this model, its buffers reused) the model of the signal times
    /// the leveller's `gains` (per `hop` samples, see [`leveler::gain_at`]), taken at each model
    /// sample's centre (`step` samples apart): power scaled by its square, peaks by it.
    pub(crate) fn scale_into(&self, gains: &[f32], hop: usize, step: usize, into: &mut LoudnessModel) {
        // Chunks of model steps covering GRAIN samples each.
        let chunk = (GRAIN / step).max(1);
        into.power.par_chunks_mut(chunk).zip(into.peaks.par_chunks_mut(chunk)).enumerate().for_each_init(
            || vec![0.0f32; chunk],
            |g, (c, (power, peaks))| {
                let (first, g) = (c * chunk, &mut g[..power.len()]);
                leveler::gains_at(gains, hop, first * step + step / 2, step, g);
                for (i, ((p, k), &g)) in power.iter_mut().zip(peaks.iter_mut()).zip(g.iter()).enumerate() {
                    *p = self.power[first + i] * g * g;
                    *k = self.peaks[first + i] * g;
                }
            },
        );
    }

    /// Loudness range (LU) of the limited output at `pre`.
    pub(crate) fn loudness_range(&mut self, pre: f32) -> f64 {
        self.limiter.gain_curve(&self.peaks, pre, &mut self.gain);
        loudness_range(&short_term_series(&self.sub_energies(pre), self.sub))
    }

    pub(crate) fn unlimited_lufs(&mut self) -> Option<f64> {
        self.gain.fill(1.0);
        self.meter(1.0)
    }

    pub(crate) fn lufs(&mut self, pre: f32) -> Option<f64> {
        self.limiter.gain_curve(&self.peaks, pre, &mut self.gain);
        self.meter(pre)
    }
}

/// d(output loudness)/d(gain) from the last two points, 1 before there are two; bounded, since heavy
/// limiting flattens it but never reverses it.
pub(crate) fn secant_slope(points: &[(f64, f64)]) -> f64 {
    match points {
        [.., (g0, l0), (g1, l1)] if (g1 - g0).abs() > 1e-6 => ((l1 - l0) / (g1 - g0)).clamp(0.05, 1.5),
        _ => 1.0,
    }
}
