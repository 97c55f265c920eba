//! The report's data (`ReportData`): a plain versioned serde value built from the profiles of the
//! inputs (and, for a master, its plan and render report). The HTML draws it; `--json` writes it.
use serde::{Deserialize, Serialize};

use super::spectrogram::Spectrogram;
use crate::analysis::bands::{has_information, LEVEL_FLOOR_DB};
use crate::dsp::compressor::CompressorSettings;
use crate::error::{Error, Result};
use crate::model::MasteringPlan;
use crate::model::{BandDynamics, Profile};
use crate::render::dynamics::BandReport;
use crate::render::leveler::LevelerReport;
use crate::render::restore::RestoreReport;
use crate::render::{side_curve, ClipReport, LoudnessShortfall, RenderReport};

pub const REPORT_SCHEMA_VERSION: u32 = 1;
/// Points a short-term loudness series keeps at most (the report's size is bounded for any length).
pub const MAX_SERIES_POINTS: usize = 1200;
/// The short-term loudness distribution's bins: 1 LU wide from −70 LUFS up to 0.
pub const HISTOGRAM_LOW_LUFS: f64 = -70.0;
pub const HISTOGRAM_BIN_LU: f64 = 1.0;
/// The distances' band grid: 1/3 octave, 40 Hz – 16 kHz (the yardstick's, `../shared/eval`).
pub const DISTANCE_LOW_HZ: f64 = 40.0;
pub const DISTANCE_HIGH_HZ: f64 = 16_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reference,
    Original,
    Master,
    Input,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Reference => "reference",
            Role::Original => "original",
            Role::Master => "master",
            Role::Input => "input",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    pub schema_version: u32,
    pub generator: String,
    /// Index in `inputs` of the reference every difference and distance is taken to.
    pub reference: usize,
    pub inputs: Vec<InputReport>,
    /// What a master did (EQ, dynamics, limiter); `None` for a report of files alone.
    pub processing: Option<Processing>,
    /// What restoring the mix found and did, where the master restored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoration: Option<RestoreReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    pub name: String,
    pub role: Role,
    pub metrics: Metrics,
    /// To the reference; `None` for the reference itself.
    pub distances: Option<Distances>,
    pub spectrum: Spectrum,
    /// This spectrum minus the reference's, after removing the difference in integrated loudness
    /// (so level does not count, only balance); `None` for the reference.
    pub difference: Option<SpectrumDifference>,
    pub short_term: ShortTerm,
    /// Per spectrum band: side − mid (dB) and L/R correlation.
    pub width_db: Vec<f64>,
    pub correlation: Vec<f64>,
    /// The four dynamics bands as profiled.
    pub dynamics_bands: Vec<BandDynamics>,
    /// `None` for a saved profile (no audio).
    pub spectrogram: Option<Spectrogram>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub duration_s: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub integrated_lufs: f64,
    pub loudness_range_lu: f64,
    pub true_peak_dbtp: f64,
    pub sample_peak_dbfs: f64,
    pub plr_db: f64,
    pub psr_db: f64,
    pub side_to_mid_db: f64,
    pub correlation: f64,
}

/// The yardstick's distances: RMS over 1/3-octave bands (40 Hz – 16 kHz) of the mid level difference
/// with its mean removed (tonal) and of the side − mid difference (width); loudness: LU apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distances {
    pub tonal_db: f64,
    /// `None` when either is mono (no side to compare).
    pub width_db: Option<f64>,
    pub loudness_lu: f64,
}

/// Mid and side power spectral density smoothed over 1/6 octave, dB re FS²/Hz on the profiles'
/// 1/12-octave grid (−200: no information).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    pub centers_hz: Vec<f64>,
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectrumDifference {
    /// The integrated loudness difference removed, LU.
    pub level_offset_lu: f64,
    /// NaN-free: bands where either side has no information hold 0 and are listed in `masked`.
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
    pub masked: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShortTerm {
    /// Seconds between points (the profile's 100 ms hop, or more when downsampled).
    pub hop_s: f64,
    /// Short-term (3 s) loudness, power-averaged over each hop when downsampled, LUFS.
    pub lufs: Vec<f32>,
    /// Share of the time (%) in each 1 LU bin from −70 LUFS up (silence below the gate left out).
    pub histogram_percent: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Processing {
    /// Frequencies the curves below are given at (the spectra's grid).
    pub freqs_hz: Vec<f64>,
    pub eq_mid_db: Vec<f64>,
    /// The side filter as rendered: side EQ, width correction and bass mono.
    pub eq_side_db: Vec<f64>,
    pub bass_mono_hz: Option<f64>,
    /// The dynamics stage's compensation EQ (mid, side), when it applied one.
    pub compensation_db: Option<(Vec<f64>, Vec<f64>)>,
    pub gain_db: f64,
    pub limiter_max_reduction_db: f64,
    /// Time the limiter's reduction exceeded 3 dB, s.
    #[serde(default)]
    pub limiter_seconds_above_3db: f64,
    /// The soft clipper ahead of the limiter (`None`: off).
    #[serde(default)]
    pub clipper: Option<ClipReport>,
    /// How far the output stayed below its loudness target, and why (`None`: it was reached).
    #[serde(default)]
    pub loudness_shortfall: Option<LoudnessShortfall>,
    /// The dynamics stage's bands (empty: off).
    pub dynamics: Vec<ProcessedBand>,
    /// Gain over time, dB, one point per `trace_hop_s`: the limiter's and each band's (without
    /// make-up; empty for a band left off).
    pub trace_hop_s: f64,
    pub limiter_gain_db: Vec<f32>,
    pub band_gain_db: Vec<Vec<f32>>,
    /// The leveller: its settings and predicted ranges, and its gain over time (dB, empty: none).
    #[serde(default)]
    pub leveler: Option<LevelerReport>,
    #[serde(default)]
    pub leveler_gain_db: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessedBand {
    pub low_hz: f64,
    pub high_hz: f64,
    pub settings: CompressorSettings,
    pub result: BandReport,
}

/// One input to a report: its profile, its spectrogram when it is audio, and its role.
pub struct Source {
    pub profile: Profile,
    pub role: Role,
    pub spectrogram: Option<Spectrogram>,
}

impl ReportData {
    /// The report of `sources`, differences and distances taken to `sources[reference]`, with what
    /// the master did when `processing` is given.
    pub fn build(
        sources: Vec<Source>,
        reference: usize,
        processing: Option<(&MasteringPlan, &RenderReport)>,
    ) -> Result<ReportData> {
        let reference_profile = sources
            .get(reference)
            .ok_or_else(|| Error::InvalidSetting("a report needs a reference among its inputs".into()))?
            .profile
            .clone();
        let grid = &reference_profile.spectrum.centers_hz;
        if reference_profile.spectrum.bands_per_octave % 6 != 0 {
            return Err(Error::InvalidSetting("reports need profiles on a grid of 6k bands per octave".into()));
        }
        if let Some(s) =
            sources.iter().find(|s| !crate::analysis::bands::same_grid(&s.profile.spectrum.centers_hz, grid))
        {
            return Err(Error::InvalidSetting(format!(
                "{}: its profile uses another band grid than the reference's",
                s.profile.source
            )));
        }
        let inputs = sources
            .into_iter()
            .enumerate()
            .map(|(i, s)| input_report(s, (i != reference).then_some(&reference_profile)))
            .collect();
        Ok(ReportData {
            schema_version: REPORT_SCHEMA_VERSION,
            generator: format!("automaster {}", env!("CARGO_PKG_VERSION")),
            reference,
            inputs,
            processing: processing.map(|(plan, render)| processing_of(plan, render, grid, &reference_profile)),
            restoration: None,
        })
    }

    pub fn reference(&self) -> &InputReport {
        &self.inputs[self.reference]
    }
}

fn input_report(source: Source, reference: Option<&Profile>) -> InputReport {
    let p = &source.profile;
    let spectrum = Spectrum {
        centers_hz: p.spectrum.centers_hz.clone(),
        mid_db: smooth_sixth_octave(&p.spectrum.mid_db),
        side_db: smooth_sixth_octave(&p.spectrum.side_db),
    };
    let (distances, difference) = match reference {
        Some(r) => {
            let offset = p.loudness.integrated_lufs - r.loudness.integrated_lufs;
            let (rm, rs) = (smooth_sixth_octave(&r.spectrum.mid_db), smooth_sixth_octave(&r.spectrum.side_db));
            let masked: Vec<bool> =
                (0..rm.len()).map(|i| !(has_information(spectrum.mid_db[i]) && has_information(rm[i]))).collect();
            let diff = |a: &[f64], b: &[f64]| -> Vec<f64> {
                a.iter()
                    .zip(b)
                    .zip(&masked)
                    .map(
                        |((x, y), &m)| {
                            if m || !has_information(*x) || !has_information(*y) {
                                0.0
                            } else {
                                x - y - offset
                            }
                        },
                    )
                    .collect()
            };
            let (tonal_db, width_db) = distances(p, r);
            let width_db = (p.channels == 2 && r.channels == 2).then_some(width_db);
            (
                Some(Distances { tonal_db, width_db, loudness_lu: offset }),
                Some(SpectrumDifference {
                    level_offset_lu: offset,
                    mid_db: diff(&spectrum.mid_db, &rm),
                    side_db: diff(&spectrum.side_db, &rs),
                    masked,
                }),
            )
        }
        None => (None, None),
    };
    let width_db = spectrum
        .mid_db
        .iter()
        .zip(&spectrum.side_db)
        .map(|(&m, &s)| if has_information(m) { s.max(m - 120.0) - m } else { 0.0 })
        .collect();
    InputReport {
        name: p.source.clone(),
        role: source.role,
        metrics: Metrics {
            duration_s: p.duration_s,
            sample_rate: p.sample_rate,
            channels: p.channels,
            integrated_lufs: p.loudness.integrated_lufs,
            loudness_range_lu: p.loudness.loudness_range_lu,
            true_peak_dbtp: p.loudness.true_peak_dbtp,
            sample_peak_dbfs: p.loudness.sample_peak_dbfs,
            plr_db: p.loudness.plr_db,
            psr_db: p.dynamics.psr_db,
            side_to_mid_db: p.stereo.side_to_mid_db,
            correlation: p.stereo.overall_correlation,
        },
        distances,
        difference,
        short_term: short_term(&p.loudness.short_term_lufs, p.loudness.short_term_hop_s),
        width_db,
        correlation: p.stereo.correlation.clone(),
        dynamics_bands: p.dynamics.bands.clone(),
        spectrum,
        spectrogram: source.spectrogram,
    }
}

/// Power average over 1/6 octave on the 1/12-octave grid: the band and half of each neighbour.
pub fn smooth_sixth_octave(levels_db: &[f64]) -> Vec<f64> {
    let power = |i: usize| if has_information(levels_db[i]) { Some(10f64.powf(levels_db[i] / 10.0)) } else { None };
    (0..levels_db.len())
        .map(|i| {
            let Some(centre) = power(i) else { return LEVEL_FLOOR_DB };
            let (mut acc, mut weight) = (centre, 1.0);
            for j in [i.checked_sub(1), Some(i + 1)].into_iter().flatten().filter(|&j| j < levels_db.len()) {
                if let Some(p) = power(j) {
                    acc += 0.5 * p;
                    weight += 0.5;
                }
            }
            10.0 * (acc / weight).log10()
        })
        .collect()
}

/// Mid and side band power (dB) on the 1/3-octave grid 40 Hz – 16 kHz (centres 1 kHz · 2^(k/3))
/// from the profile's fractional-octave PSD (bands per octave a multiple of 6, see [`ReportData::build`]):
/// a third spans its centre band and bpo/6 each side, the outer two half inside; power = PSD ×
/// bandwidth.
fn third_octave_levels(p: &Profile) -> Vec<(f64, f64)> {
    let centers = &p.spectrum.centers_hz;
    let bpo = i64::from(p.spectrum.bands_per_octave);
    let half = 2f64.powf(0.5 / bpo as f64);
    let m0 = (bpo as f64 * (centers[0] / 1000.0).log2()).round() as i64;
    let power = |levels: &[f64], j: usize| {
        if has_information(levels[j]) {
            10f64.powf(levels[j] / 10.0) * centers[j] * (half - 1.0 / half)
        } else {
            0.0
        }
    };
    let reach = bpo / 6;
    (-30i64..=30)
        .filter(|k| (DISTANCE_LOW_HZ..=DISTANCE_HIGH_HZ).contains(&(1000.0 * 2f64.powf(*k as f64 / 3.0)).round()))
        .filter_map(|k| {
            let i = k * bpo / 3 - m0;
            (i - reach >= 0 && ((i + reach) as usize) < centers.len()).then(|| {
                let band = |levels: &[f64]| {
                    let acc: f64 = (i - reach..=i + reach)
                        .map(|j| if (j - i).abs() == reach { 0.5 } else { 1.0 } * power(levels, j as usize))
                        .sum();
                    10.0 * acc.max(1e-30).log10()
                };
                (band(&p.spectrum.mid_db), band(&p.spectrum.side_db))
            })
        })
        .collect()
}

/// Tonal and width distance of `p` to `r` as the yardstick defines them, over the 1/3-octave bands
/// where both have content (a band above one file's Nyquist frequency is left out, not counted as a
/// 200 dB difference).
pub(crate) fn distances(p: &Profile, r: &Profile) -> (f64, f64) {
    let floor = 10.0 * 1e-30f64.log10();
    let both: Vec<((f64, f64), (f64, f64))> = third_octave_levels(p)
        .into_iter()
        .zip(third_octave_levels(r))
        .filter(|(x, y)| x.0 > floor && y.0 > floor)
        .collect();
    let d: Vec<f64> = both.iter().map(|(x, y)| x.0 - y.0).collect();
    let mean = d.iter().sum::<f64>() / d.len().max(1) as f64;
    let rms = |v: &mut dyn Iterator<Item = f64>| {
        let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
        (s / n.max(1) as f64).sqrt()
    };
    let tonal = rms(&mut d.iter().map(|x| x - mean));
    let width = rms(&mut both.iter().map(|(x, y)| (x.1 - x.0) - (y.1 - y.0)));
    (tonal, width)
}

fn short_term(series: &[f32], hop_s: f64) -> ShortTerm {
    let per = series.len().div_ceil(MAX_SERIES_POINTS).max(1);
    let lufs = series
        .chunks(per)
        .map(|c| {
            (10.0 * (c.iter().map(|&l| 10f64.powf(f64::from(l) / 10.0)).sum::<f64>() / c.len() as f64).log10()) as f32
        })
        .collect();
    let bins = (-HISTOGRAM_LOW_LUFS / HISTOGRAM_BIN_LU) as usize;
    let mut histogram_percent = vec![0.0; bins];
    let counted: Vec<f64> = series.iter().map(|&l| f64::from(l)).filter(|&l| l > HISTOGRAM_LOW_LUFS).collect();
    for &l in &counted {
        let b = (((l - HISTOGRAM_LOW_LUFS) / HISTOGRAM_BIN_LU) as usize).min(bins - 1);
        histogram_percent[b] += 100.0 / counted.len() as f64;
    }
    ShortTerm { hop_s: hop_s * per as f64, lufs, histogram_percent }
}

fn processing_of(plan: &MasteringPlan, render: &RenderReport, grid: &[f64], reference: &Profile) -> Processing {
    let side = side_curve(&plan.eq.side, &plan.stereo);
    let dynamics = render
        .dynamics
        .as_ref()
        .map(|d| {
            let edges: Vec<f64> = std::iter::once(crate::analysis::spectrum::DYNAMICS_LOW_HZ)
                .chain(d.settings.crossovers_hz.iter().copied())
                .chain(std::iter::once(f64::from(reference.sample_rate) / 2.0))
                .collect();
            d.settings
                .bands
                .iter()
                .zip(&d.bands)
                .enumerate()
                .map(|(b, (s, r))| ProcessedBand {
                    low_hz: edges[b],
                    high_hz: edges[b + 1],
                    settings: s.clone(),
                    result: r.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Processing {
        freqs_hz: grid.to_vec(),
        eq_mid_db: grid.iter().map(|&f| plan.eq.mid.gain_db_at(f)).collect(),
        eq_side_db: grid.iter().map(|&f| side.gain_db_at(f)).collect(),
        bass_mono_hz: plan.stereo.bass_mono_hz,
        compensation_db: render.dynamics.as_ref().and_then(|d| d.compensation.as_ref()).map(|c| {
            (grid.iter().map(|&f| c.mid.gain_db_at(f)).collect(), grid.iter().map(|&f| c.side.gain_db_at(f)).collect())
        }),
        gain_db: render.gain_db,
        limiter_max_reduction_db: render.limit.max_gain_reduction_db,
        limiter_seconds_above_3db: render.limit.seconds_above_3db,
        clipper: render.clipper.clone(),
        loudness_shortfall: render.loudness_shortfall.clone(),
        dynamics,
        trace_hop_s: render.trace.hop_s,
        limiter_gain_db: render.trace.limiter_db.clone(),
        band_gain_db: render.trace.bands_db.clone(),
        leveler: render.dynamics.as_ref().and_then(|d| d.leveler.clone()),
        leveler_gain_db: render.trace.leveler_db.clone(),
    }
}
