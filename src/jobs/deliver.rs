//! `automaster deliver`: a finished master made into a delivery — converted to the rate asked,
//! limited only where it needs it (a true peak over the ceiling, or a loudness target asked for),
//! dithered, encoded and tagged — with no analysis of its sound and no matching. It runs the
//! render of a neutral plan (flat EQ, no dynamics), so conversion, limiting, verification, the
//! codec check and the atomic write are the master's own.
use std::path::Path;
use std::time::Instant;

use super::{check_output, decode_and_meter, render_and_write, restoration, Delivery, Summary, Timings};
use crate::analysis::loudness::integrated_lufs;
use crate::audio::AudioBuffer;
use crate::dsp::from_db;
use crate::dsp::true_peak::TruePeakDetector;
use crate::error::{Error, Result};
use crate::io::decode::{file_name, DecodeOptions};
use crate::io::encode::check_writable;
use crate::model::restore::RestoreRequest;
use crate::model::settings::LimiterSettings;
use crate::model::{BitDepth, Dither, LoudnessTarget, MasteringPlan, MatchSettings, Provenance};
use crate::progress::Progress;

/// The loudness a delivery has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loudness {
    /// The master's own: gain 0 dB, peaks over the ceiling limited and nothing else.
    Keep,
    /// This integrated loudness, LUFS (within 0.1 LU): the master's gain found by measuring, as
    /// `master` finds it.
    Lufs(f64),
}

pub struct DeliverJob<'a> {
    pub input: &'a Path,
    pub output: &'a Path,
    /// `spec.bit_depth` is the input's instead where `bit_depth_given` is false.
    pub delivery: Delivery,
    pub bit_depth_given: bool,
    pub loudness: Loudness,
    pub ceiling_dbtp: f64,
    /// The most peak reduction a loudness target may take (see `LoudnessTarget::max_limiting_db`).
    pub max_limiting_db: Option<f64>,
    /// Side removed below this frequency (a platform's: vinyl's lateral-only bass).
    pub bass_mono_hz: Option<f64>,
    pub decode: DecodeOptions,
    /// Restoration ahead of everything (`automaster restore`), and where its residual goes.
    pub restore: Option<&'a RestoreRequest>,
    pub residual_out: Option<&'a Path>,
}

/// Delivers `job.input` as `job.output`. A master already within the ceiling, at the rate asked
/// and on the output's sample grid, is written sample for sample as it was.
pub fn deliver(job: &DeliverJob, progress: &dyn Progress) -> Result<Summary> {
    let start = Instant::now();
    check_output(job.output, &[job.input])?;
    job.delivery.clone().check(job.output)?;
    check_writable(job.output)?;
    if let Some(r) = job.residual_out {
        check_output(r, &[job.input, job.output])?;
        check_writable(r)?;
    }
    let limiter = LimiterSettings { ceiling_dbtp: job.ceiling_dbtp, ..Default::default() };
    limiter.validate()?;
    if let Loudness::Lufs(l) = job.loudness {
        if !(-70.0..=0.0).contains(&l) {
            return Err(Error::InvalidSetting(format!("loudness target {l} LUFS must be between -70 and 0")));
        }
    }
    let mut timings = Timings::default();
    let what = if job.restore.is_some() { "restore" } else { "deliver" };
    let (mut audio, target) = decode_and_meter(job.input, what, job.decode, &mut timings, progress)?;
    let restoration = match job.restore {
        Some(request) => Some(restoration::restore(&mut audio, request, job.residual_out)?.1),
        None => None,
    };
    let mut delivery = job.delivery.clone();
    if !job.bit_depth_given {
        delivery.spec.bit_depth = input_depth(&audio);
    }
    // What restoration took out (hiss, clicks, hum) is no loudness to make up: the restored
    // recording's loudness is the one kept.
    let kept_lufs = match restoration {
        Some(_) => {
            let channels: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
            integrated_lufs(&channels, audio.sample_rate).unwrap_or(target.loudness_lufs)
        }
        None => target.loudness_lufs,
    };
    let (target_lufs, fixed_gain_db) = match job.loudness {
        Loudness::Keep => (kept_lufs, Some(0.0)),
        Loudness::Lufs(l) => (l, None),
    };
    // Not converted, no gain, no bass mono and no peak over the ceiling: the render passes every
    // sample as it is. Already on the output's grid, it needs no dither either (dither would only add noise).
    let converted = delivery.spec.sample_rate_hz.is_some_and(|r| r != audio.sample_rate);
    if delivery.spec.dither == Dither::Auto
        && job.bass_mono_hz.is_none()
        && !converted
        && fixed_gain_db.is_some()
        && on_grid(&audio, delivery.spec.bit_depth)
        && TruePeakDetector::new().true_peak(&audio) <= from_db(job.ceiling_dbtp) as f32
    {
        delivery.spec.dither = Dither::None;
    }
    let settings = MatchSettings {
        target_lufs: Some(target_lufs),
        ceiling_dbtp: job.ceiling_dbtp,
        max_limiting_db: job.max_limiting_db,
        ..Default::default()
    };
    let mut plan = MasteringPlan::neutral(
        LoudnessTarget { target_lufs, max_limiting_db: job.max_limiting_db, fixed_gain_db },
        limiter,
        Provenance {
            target: file_name(job.input),
            reference: String::new(),
            target_lufs_before: target.loudness_lufs,
            reference_lufs: target_lufs,
            settings,
        },
    );
    plan.stereo.bass_mono_hz = job.bass_mono_hz.filter(|_| audio.num_channels() == 2);
    let mut summary = render_and_write(audio, &plan, target, job.output, &delivery, timings, start, progress)?.0;
    summary.restoration = restoration;
    Ok(summary)
}

/// The coarsest integer format whose grid holds every sample (a 16-bit file's samples lie on the
/// 16-bit grid however it was decoded); 24 bits for anything finer (a float master).
fn input_depth(audio: &AudioBuffer) -> BitDepth {
    [BitDepth::Int16, BitDepth::Int24].into_iter().find(|&d| on_grid(audio, d)).unwrap_or(BitDepth::Int24)
}

/// Whether every sample is exactly one of `depth`'s values (always, for float output).
fn on_grid(audio: &AudioBuffer, depth: BitDepth) -> bool {
    let Some(bits) = depth.int_bits() else { return true };
    let scale = f64::from(1u32 << (bits - 1));
    audio.channels.iter().flatten().all(|&x| {
        let v = f64::from(x) * scale;
        v.fract() == 0.0 && (-scale..scale).contains(&v)
    })
}
