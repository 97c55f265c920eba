//! The render's dynamics stage: the multiband compressor/expander between EQ and limiter. Given a
//! [`DynamicsGoal`] it first fits the settings in a closed loop: each band's compressor is run at the
//! control rate on the band's envelope (computed once), its output's short-term level spread is
//! measured with the same statistics as the profiles (`analysis::dynamics`), and the ratio is
//! bisected until the spread lands on the goal. Make-up then restores each band's mean power, so the
//! tonal balance the EQ set stays; a side gain per band keeps its width. The render then measures
//! what the limiter would take from the spreads and refits once to leave room for it.
mod compensation;
mod fit;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::compensation::width_compensation_db;
use crate::analysis::dynamics::{levels_of, percentile, short_term_windows, SHORT_TERM_S};
use crate::analysis::spectrum::StftSettings;
use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::compressor::CompressorSettings;
use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use crate::dsp::multiband::{pooled_power, BandEnvelopes, Multiband, MultibandSettings};
use crate::dsp::{from_db, to_db};
use crate::error::Result;
use crate::model::{DynamicsGoal, DynamicsPlan, EqPlan, StereoPlan};
use crate::render::eq::{apply_eq, side_curve};
use crate::render::leveler::LevelerReport;

/// Bounds of the spread change the stage aims at: it may tighten a lot, widen a little.
pub(super) const SPREAD_CHANGE_DB: (f64, f64) = (-12.0, 6.0);

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
    pub(super) fn band_levels(&self, band: usize, gain: Option<&[f32]>, limiter_sq: Option<&[f32]>) -> Vec<f64> {
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

    pub(super) fn spread(&self, band: usize, gain: Option<&[f32]>, limiter_sq: Option<&[f32]>) -> f64 {
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
}

/// The filters for the first `channels` of the mid and side `curves` (`None` for a flat one).
fn designed(curves: &[&EqCurve; 2], channels: usize, fs: u32) -> Result<Vec<Option<LinearPhaseEq>>> {
    curves.iter().take(channels).map(|c| (!c.is_flat()).then(|| LinearPhaseEq::new(c, fs)).transpose()).collect()
}

/// A band whose compressor changes nothing.
fn is_neutral(s: &CompressorSettings) -> bool {
    s.ratio == 1.0 && s.expansion_ratio == 1.0 && s.makeup_db == 0.0
}
