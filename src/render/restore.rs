//! Restoration, the render's first stage (ahead of any conversion and the EQ): each repair the
//! plan holds replayed on what its detector found. A run that asks for restoration first calls
//! [`find_and_repair`], which detects and repairs in turn — each detector seeing what the repairs
//! before it left — and returns the plan; [`apply`] replays that plan with the same code, so the
//! render of a saved plan gives the same samples.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::bands::BandGrid;
use crate::audio::AudioBuffer;
use crate::dsp::declick::{Declicker, Partner};
use crate::dsp::declip::{self, Declipper};
use crate::dsp::dehiss::{self, Dehisser};
use crate::dsp::dehum::{self, Dehummer};
use crate::dsp::stft::{add_to_totals, Stft};
use crate::error::{Error, Result};
use crate::model::restore::{
    DeclickPlan, DeclipPlan, DehissPlan, DehumPlan, Mode, Repair, RestorePlan, RestoreRequest,
};
use crate::model::settings::{Click, Clipping, DehumSettings, Hum};

/// How much wider a forced run's notches are where its hum could not be located.
const UNLOCATED_WIDENING: f64 = 2.0;
/// Clicks listed by time in a report, at most (the plan holds them all).
pub const LISTED_CLICKS: usize = 200;

/// What restoration found and did, for the summary and the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// The repairs asked for and whether each acted.
    pub asked: Vec<String>,
    /// Each clipped channel: its levels and the runs rebuilt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declip: Vec<Clipping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declick: Option<DeclickReport>,
    /// The hum found and notched out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dehum: Option<Hum>,
    /// Each channel's noise floor found and taken down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dehiss: Vec<FloorReport>,
    /// What restoration took out (the input minus its restoration), relative to the input, dB
    /// (−∞ reads as −400: nothing).
    pub removed_db: f64,
    /// The mid's spectrum before and after, and of what was taken out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectra: Option<RestoreSpectra>,
    /// Detection and repair, s.
    #[serde(default)]
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclickReport {
    pub clicks: usize,
    pub per_minute: f64,
    pub samples_repaired: usize,
    pub longest_ms: f64,
    /// Where the first `LISTED_CLICKS` lie, s (channel, start).
    pub at_s: Vec<(u16, f64)>,
}

/// Third-octave levels (mean power spectral density, dB re full scale² per Hz) of the mid,
/// (L + R)/2, over the whole recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreSpectra {
    pub freqs_hz: Vec<f64>,
    pub before_db: Vec<f64>,
    pub after_db: Vec<f64>,
    pub removed_db: Vec<f64>,
}

/// Welch's estimate: 8192-point Hann frames, half overlapping.
const SPECTRUM_FFT: usize = 8192;

/// The mid's third-octave levels before and after, and of what was taken out — the difference
/// of the two spectra, frame by frame (the transform is linear), so two transforms a frame.
fn spectra(before: &AudioBuffer, after: &AudioBuffer) -> RestoreSpectra {
    let stft = Stft::new(SPECTRUM_FFT);
    let (frames, fs) = (before.frames(), before.sample_rate);
    let hop = SPECTRUM_FFT / 2;
    let starts: Vec<usize> = (0..frames.saturating_sub(hop).div_ceil(hop).max(1)).map(|k| k * hop).collect();
    let bins = stft.bins();
    // The mid, (L + R)/2, of `b` over the frame from `start`, windowed (zero past the end).
    let mid = |b: &AudioBuffer, start: usize, input: &mut [f32], window: &[f32]| {
        let scale = 1.0 / b.channels.len() as f32;
        let inside = frames.saturating_sub(start).min(input.len());
        input.fill(0.0);
        for c in &b.channels {
            input[..inside].iter_mut().zip(&c[start..start + inside]).for_each(|(d, &v)| *d += v);
        }
        input.iter_mut().zip(window).for_each(|(d, &w)| *d *= w * scale);
    };
    // Per bin: before, after, removed, summed over the frames.
    let mut totals = vec![0.0f64; 3 * bins];
    stft.grouped(
        &starts,
        || (stft.frame(), stft.frame(), vec![0.0f32; 3 * bins]),
        |(b, a, sums), group| {
            sums.fill(0.0);
            for &start in group {
                let x = stft.transform(b, |input, window| mid(before, start, input, window));
                let y = stft.transform(a, |input, window| mid(after, start, input, window));
                let (sb, rest) = sums.split_at_mut(bins);
                let (sa, sr) = rest.split_at_mut(bins);
                for ((((sb, sa), sr), &x), &y) in sb.iter_mut().zip(sa).zip(sr).zip(x).zip(y) {
                    *sb += x.norm_sqr();
                    *sa += y.norm_sqr();
                    *sr += (x - y).norm_sqr();
                }
            }
            sums.clone()
        },
        |part| add_to_totals(&mut totals, &part),
    );
    // One-sided PSD: |X|² · 2 / (fs · Σw²) per frame.
    let energy: f64 = stft.window().iter().map(|&w| f64::from(w).powi(2)).sum();
    let scale = 2.0 / (f64::from(fs) * energy * starts.len() as f64);
    let grid = BandGrid::new(3, 20.0, 20_000.0);
    let levels = |k: usize| {
        let psd: Vec<f64> = totals[k * bins..(k + 1) * bins].iter().map(|t| t * scale).collect();
        grid.levels_db(&psd, f64::from(fs) / SPECTRUM_FFT as f64)
    };
    RestoreSpectra {
        before_db: levels(0),
        after_db: levels(1),
        removed_db: levels(2),
        freqs_hz: grid.centers_hz.clone(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloorReport {
    pub channel: u16,
    /// Broadband RMS of the floor, dBFS.
    pub level_dbfs: f64,
    /// How much of the recording it was measured on, s.
    pub measured_s: f64,
}

/// Detects and repairs what `request` asks for in `buffer`, in place: the plan that replays it.
pub fn find_and_repair(buffer: &mut AudioBuffer, request: &RestoreRequest) -> Result<RestorePlan> {
    let mut plan = RestorePlan::default();
    // In the one order `apply` replays them, whatever order they were asked in.
    for repair in Repair::ALL.into_iter().filter(|&r| request.mode(r).is_some()) {
        match repair {
            Repair::Declip => {
                let clipping: Vec<Clipping> = buffer
                    .channels
                    .par_iter()
                    .enumerate()
                    .filter_map(|(ch, x)| declip::detect(x, ch as u16, buffer.sample_rate, &request.declip))
                    .collect();
                if !clipping.is_empty() {
                    let step = DeclipPlan { settings: request.declip.clone(), clipping };
                    declip(buffer, &step)?;
                    plan.declip = Some(step);
                }
            }
            Repair::Declick => {
                let declicker = Declicker::new(&request.declick, buffer.sample_rate)?;
                let found: Vec<Vec<std::ops::Range<usize>>> =
                    buffer.channels.par_iter().map(|c| declicker.detect(c)).collect();
                let clicks: Vec<Click> = found
                    .iter()
                    .enumerate()
                    .flat_map(|(ch, runs)| {
                        runs.iter().map(move |r| Click {
                            channel: ch as u16,
                            start: r.start as u64,
                            len: r.len() as u32,
                        })
                    })
                    .collect();
                if !clicks.is_empty() {
                    let step = DeclickPlan { settings: request.declick.clone(), clicks };
                    declick(buffer, &step)?;
                    plan.declick = Some(step);
                }
            }
            Repair::Dehum => {
                let channels: Vec<&[f32]> = buffer.channels.iter().map(Vec::as_slice).collect();
                let forced = request.mode(Repair::Dehum) == Some(Mode::On);
                if let Some(hum) = dehum::detect(&channels, buffer.sample_rate, &request.dehum, forced) {
                    // Notches on the mains grid itself are widened to take in its drift.
                    let widen = if hum.located { 1.0 } else { UNLOCATED_WIDENING };
                    let settings =
                        DehumSettings { bandwidth_hz: request.dehum.bandwidth_hz * widen, ..request.dehum.clone() };
                    let step = DehumPlan { settings, hum };
                    dehum(buffer, &step)?;
                    plan.dehum = Some(step);
                }
            }
            Repair::Dehiss => {
                if let Some((from, to)) = request.dehiss.noise_span_s {
                    // A span must hold a whole transform of the recording.
                    let fs = f64::from(buffer.sample_rate);
                    let (length_s, frame_s) =
                        (buffer.frames() as f64 / fs, dehiss::fft_len(buffer.sample_rate) as f64 / fs);
                    if to.min(length_s) - from < frame_s {
                        return Err(Error::InvalidSetting(format!(
                            "noise profile {from}-{to} s: it must hold at least {:.0} ms of the recording, which is {length_s:.2} s long",
                            frame_s * 1e3
                        )));
                    }
                }
                let forced = request.mode(Repair::Dehiss) == Some(Mode::On);
                let floors: Vec<_> = buffer
                    .channels
                    .par_iter()
                    .enumerate()
                    .filter_map(|(ch, x)| dehiss::detect(x, ch as u16, buffer.sample_rate, &request.dehiss, forced))
                    .collect();
                if !floors.is_empty() {
                    let step = DehissPlan { settings: request.dehiss.clone(), floors };
                    dehiss(buffer, &step)?;
                    plan.dehiss = Some(step);
                }
            }
        }
    }
    Ok(plan)
}

/// Replays `plan` on `buffer` (the input it was found on).
pub fn apply(buffer: &mut AudioBuffer, plan: &RestorePlan) -> Result<()> {
    plan.validate(Some(buffer.num_channels()))?;
    if let Some(d) = &plan.declip {
        declip(buffer, d)?;
    }
    if let Some(d) = &plan.declick {
        declick(buffer, d)?;
    }
    if let Some(d) = &plan.dehum {
        dehum(buffer, d)?;
    }
    if let Some(d) = &plan.dehiss {
        dehiss(buffer, d)?;
    }
    Ok(())
}

fn declip(buffer: &mut AudioBuffer, plan: &DeclipPlan) -> Result<()> {
    let declipper = Declipper::new(&plan.settings)?;
    buffer.channels.par_iter_mut().enumerate().for_each(|(ch, x)| {
        if let Some(c) = plan.clipping.iter().find(|c| usize::from(c.channel) == ch) {
            declipper.repair(x, c);
        }
    });
    Ok(())
}

fn dehum(buffer: &mut AudioBuffer, plan: &DehumPlan) -> Result<()> {
    let dehummer = Dehummer::new(&plan.hum, &plan.settings, buffer.sample_rate)?;
    buffer.channels.par_iter_mut().for_each_init(Vec::new, |scratch, x| dehummer.process(x, scratch));
    Ok(())
}

fn dehiss(buffer: &mut AudioBuffer, plan: &DehissPlan) -> Result<()> {
    let dehissers = plan
        .floors
        .iter()
        .map(|f| Ok((usize::from(f.channel), Dehisser::new(f, &plan.settings, buffer.sample_rate)?)))
        .collect::<Result<Vec<_>>>()?;
    buffer.channels.par_iter_mut().enumerate().for_each(|(ch, x)| {
        if let Some((_, d)) = dehissers.iter().find(|(c, _)| *c == ch) {
            d.process(x, &mut d.scratch());
        }
    });
    Ok(())
}

fn declick(buffer: &mut AudioBuffer, plan: &DeclickPlan) -> Result<()> {
    let declicker = Declicker::new(&plan.settings, buffer.sample_rate)?;
    let frames = buffer.frames();
    if let Some(c) = plan.clicks.iter().find(|c| c.start as usize + c.len as usize > frames) {
        return Err(Error::InvalidSetting(format!(
            "declick: click at sample {} lies past the input's end ({frames})",
            c.start
        )));
    }
    let runs: Vec<Vec<std::ops::Range<usize>>> = (0..buffer.channels.len())
        .map(|ch| {
            plan.clicks
                .iter()
                .filter(|c| usize::from(c.channel) == ch)
                .map(|c| c.start as usize..c.start as usize + c.len as usize)
                .collect()
        })
        .collect();
    // In stereo each channel is the other's partner, as it came in.
    let partners: Vec<Option<Partner>> = match buffer.channels.as_slice() {
        [left, right] => {
            vec![Some(Partner::around(right, &runs[1], &runs[0])), Some(Partner::around(left, &runs[0], &runs[1]))]
        }
        channels => channels.iter().map(|_| None).collect(),
    };
    buffer
        .channels
        .par_iter_mut()
        .zip(&runs)
        .zip(&partners)
        .for_each(|((x, runs), partner)| declicker.repair(x, runs, partner.as_ref()));
    Ok(())
}

/// The report of `plan`, found on `before` and leaving `after`.
pub fn report(
    request: &RestoreRequest,
    plan: &RestorePlan,
    before: &AudioBuffer,
    after: &AudioBuffer,
) -> RestoreReport {
    let fs = f64::from(before.sample_rate);
    let minutes = before.frames() as f64 / fs / 60.0;
    let declick = plan.declick.as_ref().map(|d| DeclickReport {
        clicks: d.clicks.len(),
        per_minute: d.clicks.len() as f64 / minutes.max(1e-9),
        samples_repaired: d.clicks.iter().map(|c| c.len as usize).sum(),
        longest_ms: d.clicks.iter().map(|c| f64::from(c.len)).fold(0.0, f64::max) / fs * 1e3,
        at_s: d.clicks.iter().take(LISTED_CLICKS).map(|c| (c.channel, c.start as f64 / fs)).collect(),
    });
    let (mut signal, mut removed) = (0.0f64, 0.0f64);
    for (b, a) in before.channels.iter().zip(&after.channels) {
        for (&x, &y) in b.iter().zip(a) {
            signal += f64::from(x) * f64::from(x);
            removed += (f64::from(x) - f64::from(y)).powi(2);
        }
    }
    let acted = |r: Repair| match r {
        Repair::Declip => plan.declip.is_some(),
        Repair::Declick => plan.declick.is_some(),
        Repair::Dehum => plan.dehum.is_some(),
        Repair::Dehiss => plan.dehiss.is_some(),
    };
    RestoreReport {
        asked: request
            .repairs
            .iter()
            .map(|&(r, _)| format!("{}: {}", r.name(), if acted(r) { "repaired" } else { "nothing found" }))
            .collect(),
        declip: plan.declip.as_ref().map_or_else(Vec::new, |d| d.clipping.clone()),
        declick,
        dehum: plan.dehum.as_ref().map(|d| d.hum.clone()),
        dehiss: plan.dehiss.as_ref().map_or_else(Vec::new, |d| {
            d.floors
                .iter()
                .map(|f| FloorReport { channel: f.channel, level_dbfs: f.level_dbfs, measured_s: f.measured_s })
                .collect()
        }),
        removed_db: 10.0 * (removed / signal.max(f64::MIN_POSITIVE)).max(1e-40).log10(),
        spectra: (removed > 0.0).then(|| spectra(before, after)),
        seconds: 0.0,
    }
}
