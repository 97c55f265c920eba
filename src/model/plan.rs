//! `MasteringPlan`: every setting the render applies, as a plain versioned serde value. A user may edit
//! it and re-render (`automaster render --plan`); nothing in it depends on processing state.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::json::{load_versioned, to_pretty};
use crate::model::match_settings::MatchSettings;
use crate::model::restore::RestorePlan;
use crate::model::settings::{EqCurve, LevelerSettings, LimiterSettings, MultibandSettings};

pub const PLAN_SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasteringPlan {
    pub schema_version: u32,
    /// Repairs ahead of the EQ and what they act on (`None`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestorePlan>,
    pub eq: EqPlan,
    pub stereo: StereoPlan,
    pub dynamics: DynamicsPlan,
    pub loudness: LoudnessTarget,
    pub limiter: LimiterSettings,
    /// Where the plan came from; informational, render ignores it.
    pub provenance: Provenance,
}

/// Linear-phase EQ applied to mid and side (side is ignored for mono input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EqPlan {
    pub mid: EqCurve,
    pub side: EqCurve,
}

/// Stereo image: both act on the side signal and are linear, so the render folds them into the side
/// EQ's filter (one linear-phase convolution, ahead of the compressor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StereoPlan {
    /// Side gain on top of `eq.side`, per frequency (dB): the width correction per band.
    pub width: EqCurve,
    /// Side removed below this frequency (bass mono); `None`: off.
    pub bass_mono_hz: Option<f64>,
}

/// The multiband compressor/expander between EQ and limiter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsPlan {
    /// The settings rendered; `None` (and no goal): the stage is off.
    pub multiband: Option<MultibandSettings>,
    /// When set, render first fits `multiband` to it in a closed loop on the equalised signal and
    /// reports the fitted settings (`automaster master --plan-out` saves them, goal cleared, so a
    /// re-render is bit-identical).
    pub goal: Option<DynamicsGoal>,
    /// The leveller's settings, when fixed (a goal with a loudness range fits them; `--plan-out`
    /// saves the fitted ones). Acts only with the stage on. `None` (older plans): no leveller unless
    /// the goal asks for one.
    #[serde(default)]
    pub leveler: Option<LevelerSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsGoal {
    pub crossovers_hz: Vec<f64>,
    /// Per band: the spread of short-term band levels (P95 − P10, dB, as profiles measure it) to move
    /// toward: the reference's.
    pub spread_db: Vec<f64>,
    /// How far to move, 0 … 1: the output's spread aims at own + amount·(spread_db − own), the
    /// change bounded to −12 … +6 dB (it may tighten a lot, widen a little).
    pub amount: f64,
    /// The loudness range (LU) to move the whole output's toward by `amount`: the reference's.
    /// Render predicts what EQ, stage and limiter leave of the target's own and fits the leveller
    /// (the render's leveller) to make up the difference. `None` (older plans): bands alone.
    #[serde(default)]
    pub loudness_range_lu: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessTarget {
    /// Integrated loudness the output must reach (within 0.1 LU), LUFS.
    pub target_lufs: f64,
    /// The most peak reduction (dB, soft clipper and limiter together, at the deepest peak) the
    /// chain may use to get there; `None`: as much as the target needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_limiting_db: Option<f64>,
    /// A fixed gain (dB) into the limiter instead of a search for the target: the loudness is what
    /// it gives, and `target_lufs` only what it is compared with (`automaster deliver` keeps a
    /// master's loudness with 0 dB). `None`: searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_gain_db: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub target: String,
    pub reference: String,
    pub target_lufs_before: f64,
    pub reference_lufs: f64,
    pub settings: MatchSettings,
}

impl MasteringPlan {
    /// A plan that changes nothing but level and peaks — flat EQ, the stereo image as it is, no
    /// dynamics — for a master that is finished (`automaster deliver`).
    pub fn neutral(loudness: LoudnessTarget, limiter: LimiterSettings, provenance: Provenance) -> Self {
        let flat = || EqCurve::flat(vec![20.0, 20_000.0]);
        MasteringPlan {
            schema_version: PLAN_SCHEMA_VERSION,
            restore: None,
            eq: EqPlan { mid: flat(), side: flat() },
            stereo: StereoPlan { width: flat(), bass_mono_hz: None },
            dynamics: DynamicsPlan { multiband: None, goal: None, leveler: None },
            loudness,
            limiter,
            provenance,
        }
    }

    pub fn load(path: &Path) -> Result<MasteringPlan> {
        let plan: MasteringPlan = load_versioned(path, "plan", PLAN_SCHEMA_VERSION)?;
        plan.validate().map_err(|e| Error::BadJson { path: path.into(), what: "plan", reason: e.to_string() })?;
        Ok(plan)
    }

    pub fn to_json(&self) -> String {
        to_pretty(self)
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(r) = &self.restore {
            r.validate(None)?;
        }
        self.eq.mid.validate("eq.mid")?;
        self.eq.side.validate("eq.side")?;
        self.stereo.width.validate("stereo.width")?;
        if let Some(f) = self.stereo.bass_mono_hz {
            if !(20.0..=500.0).contains(&f) {
                return Err(Error::InvalidSetting(format!("bass_mono_hz {f} must be between 20 and 500")));
            }
        }
        if let Some(m) = &self.dynamics.multiband {
            m.validate()?;
        }
        if let Some(l) = &self.dynamics.leveler {
            if self.dynamics.multiband.is_none() && self.dynamics.goal.is_none() {
                return Err(Error::InvalidSetting(
                    "dynamics.leveler acts with the dynamics stage: give multiband settings or a goal too".into(),
                ));
            }
            l.validate()?;
        }
        if let Some(g) = &self.dynamics.goal {
            if g.spread_db.len() != g.crossovers_hz.len() + 1
                || g.spread_db.iter().any(|c| !(0.0..=80.0).contains(c))
                || !(0.0..=1.0).contains(&g.amount)
                || g.loudness_range_lu.is_some_and(|l| !(0.0..=80.0).contains(&l))
            {
                return Err(Error::InvalidSetting(
                    "dynamics goal: one spread (0 … 80 dB) per band and an amount within 0 … 1".into(),
                ));
            }
        }
        self.limiter.validate()?;
        if !(-70.0..=0.0).contains(&self.loudness.target_lufs) {
            return Err(Error::InvalidSetting(format!(
                "loudness target {} LUFS must be between -70 and 0",
                self.loudness.target_lufs
            )));
        }
        if let Some(m) = self.loudness.max_limiting_db {
            if !(0.0..=60.0).contains(&m) {
                return Err(Error::InvalidSetting(format!("max_limiting_db {m} must be between 0 and 60")));
            }
        }
        if let Some(g) = self.loudness.fixed_gain_db {
            if !(-60.0..=60.0).contains(&g) {
                return Err(Error::InvalidSetting(format!("fixed_gain_db {g} must be between -60 and 60")));
            }
            let ranged = self.dynamics.goal.as_ref().is_some_and(|g| g.loudness_range_lu.is_some());
            if self.dynamics.leveler.is_some() || ranged {
                return Err(Error::InvalidSetting(
                    "fixed_gain_db leaves out the loudness search the leveller acts in: drop one of them".into(),
                ));
            }
        }
        Ok(())
    }
}
