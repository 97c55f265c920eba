//! The jobs a user runs — master, render, analyze — from paths to written files and a summary. The CLI
//! only turns arguments into these calls.
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::analysis::analyze;
use crate::audio::AudioBuffer;
use crate::decode::{decode_file, file_name};
use crate::dsp::to_db;
use crate::dsp::true_peak::TruePeakDetector;
use crate::encode::{write_atomically, write_wav, BitDepth};
use crate::error::{Error, Result};
use crate::matching::{match_profiles, MatchSettings};
use crate::plan::MasteringPlan;
use crate::profile::Profile;
use crate::progress::Progress;
use crate::render::{render, RenderReport};
use crate::analysis::loudness::integrated_lufs;

/// What `master` and `render` report (the `--json` summary).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub target: String,
    pub references: Vec<String>,
    pub output: String,
    pub sample_rate: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub bit_depth: BitDepth,
    pub loudness_before_lufs: f64,
    pub loudness_target_lufs: f64,
    /// Measured on the written (quantised) output.
    pub loudness_after_lufs: f64,
    pub true_peak_before_dbtp: f64,
    pub true_peak_after_dbtp: f64,
    pub ceiling_dbtp: f64,
    pub eq: EqSummary,
    pub render: RenderReport,
    pub timings: Timings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EqSummary {
    pub mid_max_boost_db: f64,
    pub mid_max_cut_db: f64,
    pub side_max_boost_db: f64,
    pub side_max_cut_db: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub decode_s: f64,
    pub analysis_s: f64,
    pub matching_s: f64,
    pub render_s: f64,
    pub encode_s: f64,
    pub total_s: f64,
}

pub struct MasterJob<'a> {
    pub target: &'a Path,
    /// Audio files or saved profiles (`.json`).
    pub references: &'a [PathBuf],
    /// One weight per reference (empty: equal weights).
    pub weights: &'a [f64],
    pub output: &'a Path,
    pub plan_out: Option<&'a Path>,
    pub settings: MatchSettings,
    pub bit_depth: BitDepth,
}

/// Refuses an output that is one of the inputs (compared after resolving links and `..`).
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<()> {
    let resolve = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    let out = resolve(output);
    for input in inputs {
        if out.is_some() && resolve(input) == out {
            return Err(Error::OutputIsInput { path: output.into() });
        }
    }
    Ok(())
}

fn is_profile(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Profile of a reference: loaded if it is a saved profile, else decoded and analysed.
fn reference_profile(path: &Path, progress: &dyn Progress) -> Result<(Profile, f64, f64)> {
    if is_profile(path) {
        return Ok((Profile::load(path)?, 0.0, 0.0));
    }
    let t = Instant::now();
    let audio = decode_file(path, progress)?;
    let decode_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let profile = analyze(&audio, &file_name(path), progress)?;
    Ok((profile, decode_s, t.elapsed().as_secs_f64()))
}

/// Masters `job.target` toward the reference(s) and writes the output (and the plan, if asked).
pub fn master(job: &MasterJob, progress: &dyn Progress) -> Result<(MasteringPlan, Summary)> {
    let start = Instant::now();
    let mut inputs: Vec<&Path> = vec![job.target];
    inputs.extend(job.references.iter().map(PathBuf::as_path));
    check_output(job.output, &inputs)?;
    if let Some(p) = job.plan_out {
        check_output(p, &inputs)?;
        if check_output(p, &[job.output]).is_err() {
            return Err(Error::InvalidSetting("the plan and the audio output must be different files".into()));
        }
    }
    job.settings.validate()?;
    if job.references.is_empty() {
        return Err(Error::InvalidSetting("at least one --reference is needed".into()));
    }
    let weights = if job.weights.is_empty() { vec![1.0; job.references.len()] } else { job.weights.to_vec() };
    if weights.len() != job.references.len() {
        return Err(Error::InvalidSetting(format!("{} weights for {} references", weights.len(), job.references.len())));
    }

    // Target and references decode and analyse side by side.
    let mut timings = Timings::default();
    let target_name = file_name(job.target);
    let (target, references) = rayon::join(
        || -> Result<(AudioBuffer, Profile, f64, f64)> {
            let t = Instant::now();
            let audio = decode_file(job.target, progress)?;
            let decode_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let profile = analyze(&audio, &target_name, progress)?;
            Ok((audio, profile, decode_s, t.elapsed().as_secs_f64()))
        },
        || job.references.iter().map(|r| reference_profile(r, progress)).collect::<Result<Vec<_>>>(),
    );
    let (audio, target_profile, decode_s, analysis_s) = target?;
    let references = references?;
    timings.decode_s = decode_s.max(references.iter().map(|r| r.1).sum());
    timings.analysis_s = analysis_s.max(references.iter().map(|r| r.2).sum());
    let profiles: Vec<Profile> = references.into_iter().map(|r| r.0).collect();

    let t = Instant::now();
    let reference = Profile::average(&profiles, &weights)?;
    let plan = match_profiles(&target_profile, &reference, &job.settings)?;
    timings.matching_s = t.elapsed().as_secs_f64();
    if let Some(p) = job.plan_out {
        write_atomically(p, |f| std::io::Write::write_all(f, plan.to_json().as_bytes()).map_err(|e| e.to_string()))?;
    }
    let references = profiles.iter().map(|p| p.source.clone()).collect();
    let summary = render_and_write(audio, &plan, &target_name, references, target_profile.loudness.integrated_lufs,
        target_profile.loudness.true_peak_dbtp, job.output, job.bit_depth, timings, start, progress)?;
    Ok((plan, summary))
}

/// Re-renders `target` with a saved (possibly hand-edited) plan.
pub fn render_with_plan(target: &Path, plan_path: &Path, output: &Path, bit_depth: BitDepth, progress: &dyn Progress) -> Result<Summary> {
    let start = Instant::now();
    check_output(output, &[target, plan_path])?;
    let plan = MasteringPlan::load(plan_path)?;
    let mut timings = Timings::default();
    let t = Instant::now();
    let audio = decode_file(target, progress)?;
    timings.decode_s = t.elapsed().as_secs_f64();
    if audio.is_silent() {
        return Err(Error::Silent { path: target.into(), what: "master" });
    }
    let t = Instant::now();
    let channels: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let before = integrated_lufs(&channels, audio.sample_rate).ok_or_else(|| Error::Silent { path: target.into(), what: "master" })?;
    let tp_before = to_db(f64::from(TruePeakDetector::new().true_peak(&audio)));
    timings.analysis_s = t.elapsed().as_secs_f64();
    let references = vec![plan.provenance.reference.clone()];
    render_and_write(audio, &plan, &file_name(target), references, before, tp_before, output, bit_depth, timings, start, progress)
}

#[allow(clippy::too_many_arguments)]
fn render_and_write(
    audio: AudioBuffer,
    plan: &MasteringPlan,
    name: &str,
    references: Vec<String>,
    loudness_before_lufs: f64,
    true_peak_before_dbtp: f64,
    output: &Path,
    bit_depth: BitDepth,
    mut timings: Timings,
    start: Instant,
    progress: &dyn Progress,
) -> Result<Summary> {
    let (sample_rate, channels, duration_s) = (audio.sample_rate, audio.num_channels(), audio.duration_s());
    let t = Instant::now();
    let (out, report) = render(audio, plan, bit_depth, name, progress)?;
    timings.render_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    write_wav(output, &out, bit_depth)?;
    timings.encode_s = t.elapsed().as_secs_f64();
    timings.total_s = start.elapsed().as_secs_f64();
    let extremes = |g: &[f64]| (g.iter().fold(0.0f64, |m, &v| m.max(v)), g.iter().fold(0.0f64, |m, &v| m.min(v)));
    let (mb, mc) = extremes(&plan.eq.mid.gain_db);
    let (sb, sc) = extremes(&plan.eq.side.gain_db);
    Ok(Summary {
        target: name.to_string(),
        references,
        output: output.display().to_string(),
        sample_rate,
        channels,
        duration_s,
        bit_depth,
        loudness_before_lufs,
        loudness_target_lufs: plan.loudness.target_lufs,
        loudness_after_lufs: report.output_lufs,
        true_peak_before_dbtp,
        true_peak_after_dbtp: report.limit.output_true_peak_dbtp,
        ceiling_dbtp: plan.limiter.ceiling_dbtp,
        eq: EqSummary { mid_max_boost_db: mb, mid_max_cut_db: mc, side_max_boost_db: sb, side_max_cut_db: sc },
        render: report,
        timings,
    })
}

/// Decodes and analyses one file.
pub fn analyze_file(path: &Path, progress: &dyn Progress) -> Result<Profile> {
    let audio = decode_file(path, progress)?;
    analyze(&audio, &file_name(path), progress)
}
