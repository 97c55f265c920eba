//! The render's dynamics stage: the multiband compressor/expander between EQ and limiter. Given a
//! [`DynamicsGoal`] it first fits the settings in a closed loop: each band's compressor is run at the
//! control rate on the band's envelope (computed once), its output's short-term level spread is
//! measured with the same statistics as the profiles (`analysis::dynamics`), and the ratio is
//! bisected until the spread lands on the goal. Make-up then restores each band's mean power, so the
//! tonal balance the EQ set stays; a side gain per band keeps its width. The render then measures
//! what the limiter would take from the spreads and refits once to leave room for it.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::bands::smooth;
use crate::analysis::bands::{has_information, BandGrid};
use crate::analysis::dynamics::{levels_of, percentile, short_term_windows, SHORT_TERM_S};
use crate::analysis::spectrum::StftSettings;
use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::compressor::CompressorSettings;
use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use crate::dsp::multiband::{pooled_power, BandEnvelopes, Multiband, MultibandSettings};
use crate::dsp::window::hann_periodic;
use crate::dsp::{from_db, to_db};
use crate::error::Result;
use crate::model::{DynamicsGoal, DynamicsPlan, EqPlan, StereoPlan};
use crate::render::eq::{apply_eq, side_curve};
use crate::render::leveler::LevelerReport;

/// Bounds that keep the stage from pumping or crushing: the steepest compression and expansion the
/// fit may choose, and the make-up it may add or take.
const MAX_RATIO: f64 = 4.0;
const MAX_EXPANSION_RATIO: f64 = 2.0;
const MAX_MAKEUP_DB: f64 = 12.0;
/// Bisection steps of the fit (the ratio's range is resolved to 1/128).
const FIT_STEPS: usize = 7;
/// Spread changes smaller than this (dB) leave a band alone.
const MIN_CHANGE_DB: f64 = 0.25;
/// Bounds of the spread change the stage aims at: it may tighten a lot, widen a little.
const SPREAD_CHANGE_DB: (f64, f64) = (-12.0, 6.0);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsReport {
    /// The settings rendered (fitted, when the plan had a goal).
    pub settings: MultibandSettings,
    /// The static EQ, folded into the stage's bands, that keeps the long-term balance of mid and side (dB per
    /// 1/12-octave band) through the stage's and the limiter's time-varying gains.
    pub compensation: Option<EqPlan>,
    pub bands: Vec<BandReport>,
    /// Each band's spread at the end, after the limiter too, dB.
    pub limited_spread_db: Vec<f64>,
    /// Fits: 1, or 2 when the first was redone to leave room for what the limiter takes.
    pub rounds: usize,
    /// The broadband leveller that moved the loudness range (`None`: not needed or no goal); render
    /// fits it in the loudness search, after the stage.
    pub leveler: Option<LevelerReport>,
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

/// The dynamics stage of one render: the band envelopes of the equalised signal (mid/side), the
/// short-term statistics' grid and gate, and the gains last applied.
pub struct DynamicsStage {
    mb: Multiband,
    env: BandEnvelopes,
    stereo: bool,
    /// Control blocks per statistics block (an STFT hop), and statistics blocks per 3 s window.
    per: usize,
    window: usize,
    gate: Vec<bool>,
    goal: Option<DynamicsGoal>,
    fixed: Option<MultibandSettings>,
    /// The gains [`Self::prepare`] found and what it reported.
    gains: Vec<Option<Vec<f32>>>,
    report: Option<DynamicsReport>,
    /// Each band's own spread (before the stage).
    own: Vec<f64>,
}

impl DynamicsStage {
    /// Equalises `buffer` with the plan's mid/side EQ (see [`crate::render::apply_eq`]) and returns
    /// the plan's stage (`None` when it is off) with the band envelopes of the equalised signal.
    /// With the stage on, the EQ runs inside the envelopes' pass, folded into the band filters.
    pub fn equalise(
        buffer: &mut AudioBuffer,
        plan: &DynamicsPlan,
        eq: &EqPlan,
        stereo_plan: &StereoPlan,
    ) -> Result<Option<Self>> {
        let crossovers = match (&plan.goal, &plan.multiband) {
            (Some(goal), _) => &goal.crossovers_hz,
            (None, Some(m)) => &m.crossovers_hz,
            (None, None) => {
                apply_eq(buffer, eq, stereo_plan)?;
                return Ok(None);
            }
        };
        let fs = buffer.sample_rate;
        let mb = Multiband::new(crossovers, fs)?;
        // Mid/side: the band powers are then |M|² + |S|² as in the profiles, and the side of each
        // band can be scaled on its own (see `width_compensation_db`).
        let stereo = buffer.num_channels() == 2;
        if let [l, r] = buffer.channels.as_mut_slice() {
            to_mid_side(l, r);
        }
        let side = side_curve(&eq.side, stereo_plan);
        let eqs = designed(&[&eq.mid, &side], buffer.num_channels(), fs)?;
        let taps: Vec<Option<&[f32]>> = eqs.iter().map(|e| e.as_ref().map(LinearPhaseEq::taps)).collect();
        let env = mb.envelopes(&mut buffer.channels, &taps);
        if let [m, s] = buffer.channels.as_mut_slice() {
            to_left_right(m, s);
        }
        // Short-term statistics on the profiles' grid: control blocks pooled into STFT hops.
        let stft = StftSettings::for_rate(fs);
        let per = (stft.hop / mb.block()).max(1);
        let window = (SHORT_TERM_S / (per * mb.block()) as f64 * f64::from(fs)).round() as usize;
        // The relative gate on all bands together, as the profiles apply it, fixed from the input:
        // the processed bands are judged on the same windows.
        let pooled: Vec<Vec<f32>> = env.power.iter().map(|p| pooled_power(p, None, per)).collect();
        let interleaved: Vec<f32> = (0..pooled[0].len()).flat_map(|i| pooled.iter().map(move |p| p[i])).collect();
        let (_, gate) = short_term_windows(&interleaved, mb.bands(), window, None);
        let mut stage = DynamicsStage {
            mb,
            env,
            stereo,
            per,
            window,
            gate,
            goal: plan.goal.clone(),
            fixed: plan.multiband.clone(),
            gains: Vec::new(),
            report: None,
            own: Vec::new(),
        };
        stage.own = (0..stage.mb.bands()).into_par_iter().map(|b| stage.spread(b, None, None)).collect();
        Ok(Some(stage))
    }

    /// Band `band`'s short-term levels (ascending) with `gain` (control rate) and, when given,
    /// `limiter_sq` (the limiter's gain², averaged over each control block) applied.
    fn band_levels(&self, band: usize, gain: Option<&[f32]>, limiter_sq: Option<&[f32]>) -> Vec<f64> {
        let power = &self.env.power[band];
        let pooled = match limiter_sq {
            Some(lim) => {
                let limited: Vec<f32> = power
                    .iter()
                    .zip(lim)
                    .enumerate()
                    .map(|(c, (&p, &l))| p * l * gain.map_or(1.0, |g| g[c] * g[c]))
                    .collect();
                pooled_power(&limited, None, self.per)
            }
            None => pooled_power(power, gain, self.per),
        };
        let (windows, kept) = short_term_windows(&pooled, 1, self.window, Some(&self.gate));
        levels_of(&windows, &kept, 1).remove(0)
    }

    fn spread(&self, band: usize, gain: Option<&[f32]>, limiter_sq: Option<&[f32]>) -> f64 {
        let levels = self.band_levels(band, gain, limiter_sq);
        percentile(&levels, 95.0) - percentile(&levels, 10.0)
    }

    /// Fits the stage (when the plan has a goal: to the intended spreads plus `adjust_db`) and works
    /// out its gains, for [`Self::limited_spreads`] and [`Self::apply`].
    pub fn prepare(&mut self, adjust_db: &[f64]) -> Result<()> {
        let intended = self.intended_spreads();
        let settings = match &self.goal {
            Some(goal) => {
                let aims: Vec<f64> =
                    intended.iter().enumerate().map(|(b, i)| i + adjust_db.get(b).unwrap_or(&0.0)).collect();
                self.fit(&goal.crossovers_hz, &aims)?
            }
            None => self.fixed.clone().expect("a stage has a goal or settings"),
        };
        let fitted: Vec<(Option<Vec<f32>>, BandReport)> = settings
            .bands
            .par_iter()
            .enumerate()
            .map(|(b, s)| -> Result<_> {
                let before = self.own[b];
                let neutral = BandReport {
                    spread_before_db: before,
                    spread_goal_db: intended[b],
                    spread_after_db: before,
                    max_reduction_db: 0.0,
                    side_gain_db: 0.0,
                };
                if is_neutral(s) {
                    return Ok((None, neutral));
                }
                let gains = self.mb.gains(s, &self.env.power[b])?;
                let deepest = gains.iter().fold(f32::MAX, |m, &g| m.min(g));
                let side_gain_db = if self.stereo {
                    width_compensation_db(&self.env.channel_power[0][b], &self.env.channel_power[1][b], &gains)
                } else {
                    0.0
                };
                let report = BandReport {
                    spread_after_db: self.spread(b, Some(&gains), None),
                    max_reduction_db: (s.makeup_db - to_db(f64::from(deepest))).max(0.0),
                    side_gain_db,
                    ..neutral
                };
                Ok((Some(gains), report))
            })
            .collect::<Result<_>>()?;
        let (gains, bands): (Vec<_>, Vec<BandReport>) = fitted.into_iter().unzip();
        self.gains = gains;
        let rounds = self.report.as_ref().map_or(1, |r| r.rounds + 1);
        self.report = Some(DynamicsReport {
            settings,
            bands,
            compensation: None,
            limited_spread_db: Vec::new(),
            rounds,
            leveler: None,
        });
        Ok(())
    }

    /// Applies the prepared gains to `buffer` (left/right), in mid/side so that each band's side can
    /// take its width correction, with the compensation EQ of `Self::compensation` for the limiter
    /// gain² `limiter_sq` (per control block) folded into the bands' filters; returns the report (`limited_spread_db` is the
    /// caller's to fill).
    pub fn apply(&self, buffer: &mut AudioBuffer, limiter_sq: &[f32]) -> Result<DynamicsReport> {
        let mut report = self.report.clone().expect("prepare comes first");
        let side_scale: Vec<f32> = report.bands.iter().map(|b| from_db(b.side_gain_db) as f32).collect();
        if let [l, r] = buffer.channels.as_mut_slice() {
            to_mid_side(l, r);
        }
        let compensation = self.compensation(&buffer.channels, buffer.sample_rate, limiter_sq, &side_scale);
        // The compensation EQ folded into the bands' filters (each band, then its gain: the EQ
        // meets the signal before the gains rather than after, the same long-term spectrum).
        let eqs = match &compensation {
            Some(eq) => designed(&[&eq.mid, &eq.side], buffer.num_channels(), buffer.sample_rate)?,
            None => Vec::new(),
        };
        let taps: Vec<Option<&[f32]>> = eqs.iter().map(|e| e.as_ref().map(LinearPhaseEq::taps)).collect();
        self.mb.apply(&mut buffer.channels, &self.gains, &[vec![1.0; side_scale.len()], side_scale], &taps);
        if let [m, s] = buffer.channels.as_mut_slice() {
            to_left_right(m, s);
        }
        report.compensation = compensation;
        Ok(report)
    }

    /// The static mid and side EQ that keeps the long-term spectrum the EQ set. Time-varying gains
    /// reweigh the moments of the track against each other, and with them the spectra those moments
    /// have (a band compressed where its loud passages are brighter comes out darker; a limiter that
    /// works hardest in bass-heavy choruses thins the bass), which per-band make-up cannot see. With
    /// gains slow against a frame, the output in bin k of frame t is X(k, t) · Σ_b A_b(k) g_b(t) ·
    /// l(t) (A_b: the bands' responses, summing to 1; l: the limiter), so one pass over the input's
    /// spectra gives the long-term spectrum before and after; their ratio per 1/12 octave, its mean
    /// removed (loudness is set later), smoothed and bounded to ±6 dB, is the EQ. `None` when nothing
    /// changes by 0.05 dB.
    /// `channels`: the stage's input in mid/side (or mono); `side_scale`: each band's side gain.
    fn compensation(&self, channels: &[Vec<f32>], fs: u32, limiter_sq: &[f32], side_scale: &[f32]) -> Option<EqPlan> {
        let n = ((4096.0 * f64::from(fs) / 48_000.0).round() as usize).next_power_of_two();
        let (bins, bin_hz) = (n / 2 + 1, f64::from(fs) / n as f64);
        let response = self.mb.band_magnitudes(n);
        let window: Vec<f32> = hann_periodic(n).into_iter().map(|w| w as f32).collect();
        let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(n);
        // Per channel: Σ|X|² and Σ|X|²·|G|², per bin; each fixed group of frames summed in f32,
        // the groups added to the f64 totals in order, so the sums do not depend on scheduling.
        let blocks = self.env.power[0].len();
        let frames: Vec<usize> = (0..channels[0].len() / n).collect();
        let mut sums = vec![[vec![0.0f64; bins], vec![0.0f64; bins]]; channels.len()];
        // A batch of groups at a time, so an hour-long track does not hold all its groups' sums.
        for batch in frames.chunks(COMPENSATION_FRAMES_PER_GROUP * 64) {
            let groups: Vec<Vec<[Vec<f32>; 2]>> = batch
                .par_chunks(COMPENSATION_FRAMES_PER_GROUP)
                .map_init(
                    || (fft.make_input_vec(), fft.make_output_vec(), vec![0.0f32; bins]),
                    |(input, output, gain), group| {
                        let mut part = vec![[vec![0.0f32; bins], vec![0.0f32; bins]]; channels.len()];
                        for &f in group {
                            let block = ((f * n + n / 2) / self.mb.block()).min(blocks - 1);
                            let limiter = limiter_sq.get(block).copied().unwrap_or(1.0);
                            for (c, (ch, [before, after])) in channels.iter().zip(&mut part).enumerate() {
                                for (x, (s, w)) in input.iter_mut().zip(ch[f * n..(f + 1) * n].iter().zip(&window)) {
                                    *x = s * w;
                                }
                                fft.process(input, output).expect("buffers sized by the plan");
                                gain.fill(0.0);
                                for (b, a) in response.iter().enumerate() {
                                    let g = self.gains[b].as_ref().map_or(1.0, |g| g[block])
                                        * if c == 1 { side_scale[b] } else { 1.0 };
                                    for (acc, a) in gain.iter_mut().zip(a) {
                                        *acc += a * g;
                                    }
                                }
                                for (((x, g), b), a) in
                                    output.iter().zip(gain.iter()).zip(before.iter_mut()).zip(after.iter_mut())
                                {
                                    let p = x.norm_sqr();
                                    *b += p;
                                    *a += p * (g * g * limiter);
                                }
                            }
                        }
                        part
                    },
                )
                .collect();
            for group in &groups {
                for (total, part) in sums.iter_mut().flatten().zip(group.iter().flatten()) {
                    for (t, &p) in total.iter_mut().zip(part) {
                        *t += f64::from(p);
                    }
                }
            }
        }
        let grid = BandGrid::standard();
        let curves: Vec<Vec<f64>> = sums
            .iter()
            .map(|[before, after]| {
                let (b, a) = (grid.levels_db(before, bin_hz), grid.levels_db(after, bin_hz));
                let change: Vec<Option<f64>> = b
                    .iter()
                    .zip(&a)
                    .map(|(&b, &a)| (has_information(b) && has_information(a)).then_some(b - a))
                    .collect();
                let known: Vec<f64> = change.iter().flatten().copied().collect();
                let mean = known.iter().sum::<f64>() / known.len().max(1) as f64;
                let centred: Vec<Option<f64>> = change.iter().map(|c| c.map(|c| c - mean)).collect();
                smooth(&grid.centers_hz, &centred, COMPENSATION_SMOOTHING_OCT)
                    .into_iter()
                    .map(|c| c.unwrap_or(0.0).clamp(-MAX_COMPENSATION_DB, MAX_COMPENSATION_DB))
                    .collect()
            })
            .collect();
        if curves.iter().flatten().all(|c| c.abs() < 0.05) {
            return None;
        }
        let curve = |g: &Vec<f64>| EqCurve { freqs_hz: grid.centers_hz.clone(), gain_db: g.clone() };
        Some(EqPlan {
            mid: curve(&curves[0]),
            side: curves.get(1).map_or_else(|| EqCurve::flat(grid.centers_hz.clone()), curve),
        })
    }

    /// Each band's spread after the prepared gains *and* the limiter (`limiter_sq`: its gain²
    /// averaged over each control block of [`Self::block`] samples).
    pub fn limited_spreads(&self, limiter_sq: &[f32]) -> Vec<f64> {
        assert_eq!(limiter_sq.len(), self.env.power[0].len(), "one limiter value per control block");
        (0..self.mb.bands()).map(|b| self.spread(b, self.gains[b].as_deref(), Some(limiter_sq))).collect()
    }

    /// The spread each band is to end with: its own moved by the goal's amount toward the goal's,
    /// within the bounds (its own without a goal).
    pub fn intended_spreads(&self) -> Vec<f64> {
        (0..self.mb.bands())
            .map(|b| {
                let own = self.own[b];
                self.goal.as_ref().map_or(own, |g| {
                    own + (g.amount * (g.spread_db[b] - own)).clamp(SPREAD_CHANGE_DB.0, SPREAD_CHANGE_DB.1)
                })
            })
            .collect()
    }

    /// Samples per control block (the gains' rate).
    pub fn block(&self) -> usize {
        self.mb.block()
    }

    /// Each band's prepared gain without its make-up, in dB, as the deepest value per `per` control
    /// blocks (empty for a band left off).
    pub fn gain_trace(&self, per: usize) -> Vec<Vec<f32>> {
        let settings = &self.report.as_ref().expect("prepare comes first").settings;
        self.gains
            .iter()
            .zip(&settings.bands)
            .map(|(g, s)| {
                g.as_deref().map_or_else(Vec::new, |g| {
                    crate::render::deepest_db(g, per).into_iter().map(|d| d - s.makeup_db as f32).collect()
                })
            })
            .collect()
    }

    /// The loudness range (LU) the leveller is to bring the output to, heading for `heading_lu`
    /// without it: the equalised signal's own range (`own_lu`) moved by the goal's amount toward the
    /// reference's (within the spreads' bounds), but never past the reference, and only where that
    /// lies beyond the heading as seen from the reference's side: where the bands and the limiter
    /// already took the range further toward the reference than the amount asks, it stays.
    /// `None` without a range in the goal or with nothing to move.
    pub fn range_goal_lu(&self, own_lu: f64, heading_lu: f64) -> Option<f64> {
        let goal = self.goal.as_ref()?;
        let reference = goal.loudness_range_lu?;
        let aim = own_lu + (goal.amount * (reference - own_lu)).clamp(SPREAD_CHANGE_DB.0, SPREAD_CHANGE_DB.1);
        let toward = if heading_lu < reference { aim.min(reference) } else { aim.max(reference) };
        ((toward - heading_lu) * (reference - heading_lu) > 0.0).then_some(toward)
    }

    pub fn has_range_goal(&self) -> bool {
        self.goal.as_ref().is_some_and(|g| g.loudness_range_lu.is_some())
    }

    pub fn has_goal(&self) -> bool {
        self.goal.is_some()
    }

    /// Fits every band to its spread `aims` (bands are independent: each has its own detector).
    fn fit(&self, crossovers_hz: &[f64], aims: &[f64]) -> Result<MultibandSettings> {
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

/// Frames the compensation's STFT sums in f32 before adding them to its f64 totals (a relative
/// error of ~1e-6 at most).
const COMPENSATION_FRAMES_PER_GROUP: usize = 16;

/// The compensation EQ's smoothing (Gaussian σ along log frequency, octaves) and bound.
const COMPENSATION_SMOOTHING_OCT: f64 = 1.0 / 12.0;
const MAX_COMPENSATION_DB: f64 = 6.0;

/// Largest side correction that keeps a band's width where it was, dB.
const MAX_SIDE_GAIN_DB: f64 = 6.0;

/// The side gain that keeps a band's width (Σ|S|² / Σ|M|²) through time-varying `gains`: where mid
/// and side move differently over time (a wide chorus after a narrow verse), the gains reweigh them,
/// and the width the EQ matched would drift.
fn width_compensation_db(mid: &[f32], side: &[f32], gains: &[f32]) -> f64 {
    let sums = |x: &[f32]| {
        x.iter().zip(gains).fold((0.0f64, 0.0f64), |(a, b), (&p, &g)| (a + f64::from(p), b + f64::from(g * g * p)))
    };
    let ((m0, m1), (s0, s1)) = (sums(mid), sums(side));
    if m0 <= 0.0 || m1 <= 0.0 || s0 <= 0.0 || s1 <= 0.0 {
        return 0.0;
    }
    (10.0 * ((s0 / m0) / (s1 / m1)).log10()).clamp(-MAX_SIDE_GAIN_DB, MAX_SIDE_GAIN_DB)
}

/// The filters for the first `channels` of the mid and side `curves` (`None` for a flat one).
fn designed(curves: &[&EqCurve; 2], channels: usize, fs: u32) -> Result<Vec<Option<LinearPhaseEq>>> {
    curves.iter().take(channels).map(|c| (!c.is_flat()).then(|| LinearPhaseEq::new(c, fs)).transpose()).collect()
}

/// A band whose compressor changes nothing.
fn is_neutral(s: &CompressorSettings) -> bool {
    s.ratio == 1.0 && s.expansion_ratio == 1.0 && s.makeup_db == 0.0
}
