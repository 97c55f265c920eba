//! `Profile`: what analysis knows about one track (or an average of several references). A plain,
//! versioned serde value: saved with `automaster analyze`, usable wherever a reference audio file is.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::json::{load_versioned, to_pretty};

pub const PROFILE_SCHEMA_VERSION: u32 = 2;

/// Band levels below this (dB re FS²/Hz) carry no information (silence, above Nyquist).
pub const LEVEL_FLOOR_DB: f64 = -200.0;

/// Whether a band level carries information (well above the floor).
pub fn has_information(level_db: f64) -> bool {
    level_db > LEVEL_FLOOR_DB + 50.0
}

/// Whether two band-centre lists describe the same grid (exact up to JSON round-off).
pub fn same_grid(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub schema_version: u32,
    /// File name(s) it was made from.
    pub source: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_s: f64,
    pub loudness: LoudnessProfile,
    pub spectrum: SpectralProfile,
    pub stereo: StereoProfile,
    pub dynamics: DynamicsProfile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessProfile {
    pub integrated_lufs: f64,
    pub loudness_range_lu: f64,
    /// 8× oversampled, all channels.
    pub true_peak_dbtp: f64,
    pub sample_peak_dbfs: f64,
    /// Peak-to-loudness ratio: true peak − integrated loudness.
    pub plr_db: f64,
    pub short_term_hop_s: f64,
    /// Short-term (3 s) loudness every `short_term_hop_s`, floored at the −70 LUFS absolute gate.
    pub short_term_lufs: Vec<f32>,
}

/// Mid and side power spectral density on the band grid, averaged over the loud (gated) STFT frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralProfile {
    pub bands_per_octave: u32,
    pub centers_hz: Vec<f64>,
    /// dB re FS²/Hz; −200 marks "no information" (above Nyquist, silence, mono side).
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
    pub fft_size: usize,
    pub frames_used: usize,
    pub frames_total: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StereoProfile {
    /// Side minus mid level per band, dB.
    pub width_db: Vec<f64>,
    /// L/R correlation per band, −1 … 1.
    pub correlation: Vec<f64>,
    pub side_to_mid_db: f64,
    pub overall_correlation: f64,
}

/// How the track moves and how wide it is in each dynamics band (lows, low mids, presence, air).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsProfile {
    pub bands: Vec<BandDynamics>,
    /// Peak-to-short-term-loudness ratio: true peak − the loudest short-term (3 s) loudness, dB.
    pub psr_db: f64,
    /// The low end is mono (side ≥ 30 dB under mid) below this frequency; `None` when even the
    /// lowest bands are wider.
    pub mono_below_hz: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandDynamics {
    pub low_hz: f64,
    pub high_hz: f64,
    /// Distribution of the band's short-term (3 s) level, dB re FS² (mean-square power of
    /// (L² + R²)/2 in the band), over the windows the relative gate keeps.
    pub short_term_p10_db: f64,
    pub short_term_p50_db: f64,
    pub short_term_p95_db: f64,
    /// Loudest STFT frame's band power over the band's mean power, dB (a frame-scale crest factor).
    pub crest_db: f64,
    /// Side − mid power, dB.
    pub width_db: f64,
    /// L/R correlation, −1 … 1.
    pub correlation: f64,
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile> {
        let profile: Profile = load_versioned(path, "profile", PROFILE_SCHEMA_VERSION)?;
        profile.validate().map_err(|e| Error::BadJson { path: path.into(), what: "profile", reason: e.to_string() })?;
        Ok(profile)
    }

    pub fn to_json(&self) -> String {
        to_pretty(self)
    }

    fn validate(&self) -> Result<()> {
        let n = self.spectrum.centers_hz.len();
        let lens = [
            self.spectrum.mid_db.len(),
            self.spectrum.side_db.len(),
            self.stereo.width_db.len(),
            self.stereo.correlation.len(),
        ];
        if n == 0 || lens.iter().any(|&l| l != n) {
            return Err(Error::InvalidSetting("band arrays differ in length".into()));
        }
        if self.dynamics.bands.is_empty() {
            return Err(Error::InvalidSetting("no dynamics bands".into()));
        }
        if !self.loudness.integrated_lufs.is_finite() || self.loudness.integrated_lufs < -70.0 {
            return Err(Error::InvalidSetting("integrated_lufs must be finite and above -70".into()));
        }
        Ok(())
    }

    /// The weighted average of several reference profiles, each spectrum taken relative to its own
    /// loudness (so a loud and a quiet reference count for their balance, not their level); the
    /// loudness figures are weighted means. Profiles must share the band grid.
    pub fn average(profiles: &[Profile], weights: &[f64]) -> Result<Profile> {
        let first = profiles.first().ok_or_else(|| Error::InvalidSetting("no reference given".into()))?;
        if profiles.len() == 1 {
            return Ok(first.clone());
        }
        if weights.len() != profiles.len()
            || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
            || weights.iter().sum::<f64>() <= 0.0
        {
            return Err(Error::InvalidSetting("one non-negative weight per reference, not all zero".into()));
        }
        if profiles.iter().any(|p| {
            !same_grid(&p.spectrum.centers_hz, &first.spectrum.centers_hz)
                || p.dynamics.bands.len() != first.dynamics.bands.len()
        }) {
            return Err(Error::InvalidSetting("reference profiles use different band grids".into()));
        }
        let total: f64 = weights.iter().sum();
        let mean =
            |f: &dyn Fn(&Profile) -> f64| profiles.iter().zip(weights).map(|(p, w)| f(p) * w).sum::<f64>() / total;
        let lufs = mean(&|p| p.loudness.integrated_lufs);
        let band_mean = |f: &dyn Fn(&Profile) -> &Vec<f64>, relative: bool| -> Vec<f64> {
            (0..first.spectrum.centers_hz.len())
                .map(|i| {
                    let (mut acc, mut wsum) = (0.0, 0.0);
                    for (p, &w) in profiles.iter().zip(weights) {
                        let v = f(p)[i];
                        if !relative || has_information(v) {
                            acc += w * (v - if relative { p.loudness.integrated_lufs } else { 0.0 });
                            wsum += w;
                        }
                    }
                    if wsum > 0.0 {
                        acc / wsum + if relative { lufs } else { 0.0 }
                    } else {
                        LEVEL_FLOOR_DB
                    }
                })
                .collect()
        };
        let mut out = first.clone();
        out.source = profiles.iter().map(|p| p.source.as_str()).collect::<Vec<_>>().join(" + ");
        out.duration_s = profiles.iter().map(|p| p.duration_s).sum();
        out.channels = profiles.iter().map(|p| p.channels).max().unwrap_or(2);
        out.loudness = LoudnessProfile {
            integrated_lufs: lufs,
            loudness_range_lu: mean(&|p| p.loudness.loudness_range_lu),
            true_peak_dbtp: mean(&|p| p.loudness.true_peak_dbtp),
            sample_peak_dbfs: mean(&|p| p.loudness.sample_peak_dbfs),
            plr_db: mean(&|p| p.loudness.plr_db),
            short_term_hop_s: first.loudness.short_term_hop_s,
            short_term_lufs: Vec::new(),
        };
        out.spectrum.mid_db = band_mean(&|p| &p.spectrum.mid_db, true);
        out.spectrum.side_db = band_mean(&|p| &p.spectrum.side_db, true);
        out.spectrum.frames_used = profiles.iter().map(|p| p.spectrum.frames_used).sum();
        out.spectrum.frames_total = profiles.iter().map(|p| p.spectrum.frames_total).sum();
        out.stereo.width_db = band_mean(&|p| &p.stereo.width_db, false);
        out.stereo.correlation = band_mean(&|p| &p.stereo.correlation, false);
        out.stereo.side_to_mid_db = mean(&|p| p.stereo.side_to_mid_db);
        out.stereo.overall_correlation = mean(&|p| p.stereo.overall_correlation);
        // Short-term band levels relative to each one's loudness, like the spectra.
        for (b, band) in out.dynamics.bands.iter_mut().enumerate() {
            let rel =
                |f: fn(&BandDynamics) -> f64| move |p: &Profile| f(&p.dynamics.bands[b]) - p.loudness.integrated_lufs;
            band.short_term_p10_db = mean(&rel(|d| d.short_term_p10_db)) + lufs;
            band.short_term_p50_db = mean(&rel(|d| d.short_term_p50_db)) + lufs;
            band.short_term_p95_db = mean(&rel(|d| d.short_term_p95_db)) + lufs;
            band.crest_db = mean(&|p| p.dynamics.bands[b].crest_db);
            band.width_db = mean(&|p| p.dynamics.bands[b].width_db);
            band.correlation = mean(&|p| p.dynamics.bands[b].correlation);
        }
        out.dynamics.psr_db = mean(&|p| p.dynamics.psr_db);
        // Mono below the weighted mean of those that have a mono low end, if most (by weight) do.
        let mono: Vec<(f64, f64)> =
            profiles.iter().zip(weights).filter_map(|(p, &w)| p.dynamics.mono_below_hz.map(|f| (f, w))).collect();
        let mono_weight: f64 = mono.iter().map(|(_, w)| w).sum();
        out.dynamics.mono_below_hz = (mono_weight * 2.0 >= total && mono_weight > 0.0)
            .then(|| mono.iter().map(|(f, w)| f * w).sum::<f64>() / mono_weight);
        Ok(out)
    }
}
