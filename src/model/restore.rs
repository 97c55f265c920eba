//! Restoration in the plan: which repairs run ahead of the EQ, with their settings and what their
//! detectors found (clicks, clipped runs, hum, the noise floor), so a render replays exactly the
//! repairs a run decided, bit for bit, without detecting again.
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::settings::{
    Click, Clipping, DeclickSettings, DeclipSettings, DehissSettings, DehumSettings, Hum, NoiseFloor,
};

/// The repairs, in the order they run (each detector sees what the repairs before it left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Repair {
    Declip,
    Declick,
    Dehum,
    Dehiss,
}

impl Repair {
    /// Clipped peaks first (a clipped run would pass for a click), hum before anything measures
    /// a noise floor, and the floor measured last, on what the others left.
    pub const ALL: [Repair; 4] = [Repair::Declip, Repair::Declick, Repair::Dehum, Repair::Dehiss];

    pub fn name(self) -> &'static str {
        match self {
            Repair::Declip => "declip",
            Repair::Declick => "declick",
            Repair::Dehum => "dehum",
            Repair::Dehiss => "dehiss",
        }
    }

    pub fn named(name: &str) -> Result<Repair> {
        Repair::ALL.into_iter().find(|r| r.name() == name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Repair::ALL.iter().map(|r| r.name()).collect();
            Error::InvalidSetting(format!("unknown repair `{name}` (known: {})", names.join(", ")))
        })
    }
}

/// What a run asks of restoration: per repair, off, on where its detector finds the fault
/// (`auto`), or on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreRequest {
    pub repairs: Vec<(Repair, Mode)>,
    pub declick: DeclickSettings,
    pub dehum: DehumSettings,
    pub declip: DeclipSettings,
    pub dehiss: DehissSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only where the detector is sure the fault is there.
    Auto,
    /// Whatever the detector finds, however little.
    On,
}

impl RestoreRequest {
    /// Every repair in `mode`.
    pub fn all(mode: Mode) -> Self {
        RestoreRequest { repairs: Repair::ALL.iter().map(|&r| (r, mode)).collect(), ..Default::default() }
    }

    pub fn mode(&self, repair: Repair) -> Option<Mode> {
        self.repairs.iter().find(|(r, _)| *r == repair).map(|&(_, m)| m)
    }

    pub fn is_empty(&self) -> bool {
        self.repairs.is_empty()
    }
}

/// The repairs a render applies and what they act on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestorePlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declip: Option<DeclipPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declick: Option<DeclickPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dehum: Option<DehumPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dehiss: Option<DehissPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclipPlan {
    pub settings: DeclipSettings,
    /// Each clipped channel's levels: the runs at them are rebuilt.
    pub clipping: Vec<Clipping>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DehumPlan {
    pub settings: DehumSettings,
    /// The hum found: a notch at each of its lines.
    pub hum: Hum,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DehissPlan {
    pub settings: DehissSettings,
    /// Each noisy channel's floor: what its spectral gain takes down.
    pub floors: Vec<NoiseFloor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclickPlan {
    pub settings: DeclickSettings,
    /// The clicks found, in order per channel: what the repair rebuilds.
    pub clicks: Vec<Click>,
}

impl RestorePlan {
    pub fn is_empty(&self) -> bool {
        self.declip.is_none() && self.declick.is_none() && self.dehum.is_none() && self.dehiss.is_none()
    }

    pub fn validate(&self, channels: Option<usize>) -> Result<()> {
        if let Some(d) = &self.declip {
            d.settings.validate()?;
            if d.clipping.iter().any(|c| channels.is_some_and(|n| usize::from(c.channel) >= n)) {
                return Err(Error::InvalidSetting("declip: clipping in a channel the input lacks".into()));
            }
        }
        if let Some(d) = &self.declick {
            d.settings.validate()?;
            if let Some(c) =
                d.clicks.iter().find(|c| c.len == 0 || channels.is_some_and(|n| usize::from(c.channel) >= n))
            {
                return Err(Error::InvalidSetting(format!(
                    "declick: click {c:?} is empty or in a channel the input lacks"
                )));
            }
        }
        if let Some(d) = &self.dehum {
            d.settings.validate()?;
            if d.hum.harmonics.iter().any(|h| !(1.0..=20_000.0).contains(&h.freq_hz)) {
                return Err(Error::InvalidSetting("dehum: a hum line outside 1 Hz … 20 kHz".into()));
            }
        }
        if let Some(d) = &self.dehiss {
            d.settings.validate()?;
            if d.floors.iter().any(|f| channels.is_some_and(|n| usize::from(f.channel) >= n)) {
                return Err(Error::InvalidSetting("dehiss: a noise floor in a channel the input lacks".into()));
            }
        }
        Ok(())
    }
}
