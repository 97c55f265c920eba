//! `MasteringPlan`: every setting the render applies, as a plain versioned serde value. A user may edit
//! it and re-render (`automaster render --plan`); nothing in it depends on processing state.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dsp::limiter::LimiterSettings;
use crate::dsp::linear_phase_eq::EqCurve;
use crate::error::{Error, Result};
use crate::json::{load_versioned, to_pretty};
use crate::matching::MatchSettings;

pub const PLAN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasteringPlan {
    pub schema_version: u32,
    pub eq: EqPlan,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessTarget {
    /// Integrated loudness the output must reach (within 0.1 LU), LUFS.
    pub target_lufs: f64,
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
    pub fn load(path: &Path) -> Result<MasteringPlan> {
        let plan: MasteringPlan = load_versioned(path, "plan", PLAN_SCHEMA_VERSION)?;
        plan.validate().map_err(|e| Error::BadJson { path: path.into(), what: "plan", reason: e.to_string() })?;
        Ok(plan)
    }

    pub fn to_json(&self) -> String {
        to_pretty(self)
    }

    pub fn validate(&self) -> Result<()> {
        self.eq.mid.validate("eq.mid")?;
        self.eq.side.validate("eq.side")?;
        self.limiter.validate()?;
        if !(-70.0..=0.0).contains(&self.loudness.target_lufs) {
            return Err(Error::InvalidSetting(format!(
                "loudness target {} LUFS must be between -70 and 0",
                self.loudness.target_lufs
            )));
        }
        Ok(())
    }
}
