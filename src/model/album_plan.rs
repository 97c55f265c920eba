//! `AlbumPlan`: everything `automaster album` decided — the album's tags and delivery, and per
//! track its file, its place on the timeline (gaps, fades, crossfades, trim) and the mastering plan
//! it was rendered with (dynamics as fitted). `automaster album --plan` renders it again without
//! analysis or matching, bit for bit the same; a user may edit it first.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::album::{AlbumTrack, LoudnessPolicy};
use crate::model::json::{load_versioned, to_pretty};
use crate::model::{BitDepth, Container, Dither, MasteringPlan};

pub const ALBUM_PLAN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlbumPlan {
    pub schema_version: u32,
    pub title: String,
    pub artist: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    pub delivery: AlbumDelivery,
    /// How the tracks' loudness targets were set (informational: each track's plan holds its own).
    pub loudness_policy: LoudnessPolicy,
    /// The share of the common EQ correction, % (informational: each track's plan holds its EQ).
    pub consistency_percent: f64,
    /// The loudest track's loudness, LUFS.
    pub target_lufs: f64,
    pub tracks: Vec<PlannedTrack>,
}

/// The image's format and the rules it is held to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlbumDelivery {
    pub format: Container,
    pub sample_rate_hz: u32,
    pub bit_depth: BitDepth,
    pub dither: Dither,
    /// The true-peak ceiling of the whole timeline, dBTP.
    pub ceiling_dbtp: f64,
    /// Silence before track 1's INDEX 01, s.
    pub pregap_s: f64,
    /// Whether the image is held to Red Book (a CD).
    pub red_book: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTrack {
    /// The file (an absolute path), its tags and its place on the timeline, as the album file gave them.
    pub track: AlbumTrack,
    /// The loudness the album gives it, LUFS.
    pub planned_lufs: f64,
    pub plan: MasteringPlan,
}

impl AlbumPlan {
    pub fn load(path: &Path) -> Result<AlbumPlan> {
        let mut plan: AlbumPlan = load_versioned(path, "album plan", ALBUM_PLAN_SCHEMA_VERSION)?;
        plan.validate().map_err(|e| Error::BadJson {
            path: path.into(),
            what: "album plan",
            reason: e.into_reason(),
        })?;
        Ok(plan)
    }

    pub fn to_json(&self) -> String {
        to_pretty(self)
    }

    /// Checks what a hand-edited plan may have broken (the tracks' settings put in their compact
    /// form, as the album file's are).
    pub fn validate(&mut self) -> Result<()> {
        let d = &self.delivery;
        if self.tracks.is_empty() {
            return Err(Error::InvalidSetting("no tracks".into()));
        }
        if !(8_000..=384_000).contains(&d.sample_rate_hz) {
            return Err(Error::InvalidSetting(format!("sample_rate_hz {} must be 8000 … 384000", d.sample_rate_hz)));
        }
        d.format.check(d.bit_depth)?;
        if !(-20.0..=0.0).contains(&d.ceiling_dbtp) || !(0.0..=600.0).contains(&d.pregap_s) {
            return Err(Error::InvalidSetting("ceiling_dbtp must be −20 … 0 and pregap_s 0 … 600".into()));
        }
        let n = self.tracks.len();
        for i in 0..n {
            let (before, rest) = self.tracks.split_at_mut(i);
            let t = &mut rest[0];
            let bad = |m: String| Error::InvalidSetting(format!("track {}: {m}", i + 1));
            t.track.check(i + 1 == n, before.last().map(|p| &p.track)).map_err(bad)?;
            t.plan.validate().map_err(|e| bad(e.into_reason()))?;
        }
        Ok(())
    }

    /// The tracks' files.
    pub fn files(&self) -> Vec<PathBuf> {
        self.tracks.iter().map(|t| t.track.file.clone()).collect()
    }
}
