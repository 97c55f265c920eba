//! The jobs a user runs — master, render, analyze — from paths to written files and a summary. The CLI
//! only turns arguments into these calls.
pub mod album;
pub mod batch;
pub mod codec_check;
pub mod deliver;
pub mod restoration;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::analyze_with_spectra;
use crate::analysis::device::SpectrumDevice;
use crate::analysis::loudness::integrated_lufs;
use crate::audio::AudioBuffer;
use crate::dsp::to_db;
use crate::dsp::true_peak::bs1770_true_peak;
use crate::error::{Error, Result};
use crate::io::decode::{decode_file_with, file_name, DecodeOptions};
use crate::io::encode::{check_writable, stage_audio, write_atomically, Container};
use crate::io::tags::read_tags;
use crate::matching::match_profiles;
use crate::model::platform::Codec;
use crate::model::restore::{RestorePlan, RestoreRequest};
use crate::model::MasteringPlan;
use crate::model::MatchSettings;
use crate::model::Profile;
use crate::model::{BitDepth, Dither, OutputSpec, Tags};
use crate::progress::Progress;
use crate::render::restore::RestoreReport;
use crate::render::{render_alongside, RenderReport};
use crate::report::{ReportData, Role, Source, Spectrogram};
use codec_check::CodecCheck;

/// What `master` and `render` report (the `--json` summary).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub target: String,
    pub references: Vec<String>,
    pub output: String,
    /// The output's (after any conversion; `input_sample_rate` the target's).
    pub sample_rate: u32,
    pub input_sample_rate: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub format: Container,
    pub bit_depth: BitDepth,
    /// As applied (`auto` resolved).
    pub dither: Dither,
    /// The tags written (the target's own, with those given on top).
    pub tags: Tags,
    pub loudness_before_lufs: f64,
    pub loudness_target_lufs: f64,
    /// Measured on the written (quantised) output.
    pub loudness_after_lufs: f64,
    pub true_peak_before_dbtp: f64,
    pub true_peak_after_dbtp: f64,
    pub ceiling_dbtp: f64,
    /// The output through the platform's codec (`--codec-check`), when asked.
    #[serde(default)]
    pub codec_check: Option<CodecCheck>,
    pub eq: EqSummary,
    /// Where the gated STFT of the analyses ran ("CPU" or the GPU adapter).
    pub analysis_device: String,
    /// What restoration found and repaired, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoration: Option<RestoreReport>,
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
    /// Rendering, less the output's writing (`encode_s`), which overlaps its verification and metering.
    pub render_s: f64,
    pub encode_s: f64,
    /// Transcoding and metering for `--codec-check`, every round (0 without it).
    #[serde(default)]
    pub codec_check_s: f64,
    /// Analysing the output and writing the report (0 without `--report`).
    pub report_s: f64,
    pub total_s: f64,
}

/// Where a report goes: an HTML page, its data as JSON, or both (neither: no report).
#[derive(Clone, Copy, Default)]
pub struct ReportOut<'a> {
    pub html: Option<&'a Path>,
    pub json: Option<&'a Path>,
}

impl ReportOut<'_> {
    pub fn wanted(&self) -> bool {
        self.html.is_some() || self.json.is_some()
    }

    fn paths(&self) -> Vec<&Path> {
        self.html.into_iter().chain(self.json).collect()
    }

    /// Refuses report paths that are inputs or other outputs.
    fn check(&self, inputs: &[&Path], outputs: &[&Path]) -> Result<()> {
        let paths = self.paths();
        for (k, p) in paths.iter().enumerate() {
            check_output(p, inputs)?;
            check_writable(p)?;
            if check_output(p, outputs).is_err() || check_output(p, &paths[..k]).is_err() {
                return Err(Error::InvalidSetting(format!("{}: the report must go to its own file", p.display())));
            }
        }
        Ok(())
    }

    /// Writes the page and/or the JSON (each to a temporary file, then renamed).
    pub fn write(&self, data: &ReportData) -> Result<()> {
        if let Some(p) = self.html {
            let html = crate::report::to_html(data)?;
            write_atomically(p, |f| std::io::Write::write_all(f, html.as_bytes()).map_err(|e| e.to_string()))?;
        }
        if let Some(p) = self.json {
            // Compact: the spectrogram levels would put one number per line.
            let json = serde_json::to_string(data).map_err(|e| Error::Report(e.to_string()))?;
            write_atomically(p, |f| std::io::Write::write_all(f, json.as_bytes()).map_err(|e| e.to_string()))?;
        }
        Ok(())
    }
}

/// How an output is delivered: its sample format, dither and rate, its container (`None`: by the
/// output's extension), tags given by the user (on top of the target's own), and the codec whose
/// decoded peaks must hold the ceiling too (`None`: no codec check).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub spec: OutputSpec,
    pub container: Option<Container>,
    pub tags: Tags,
    pub codec_check: Option<Codec>,
}

impl From<BitDepth> for Delivery {
    /// WAV or FLAC by the output's extension, at the input's rate, dither `auto`, no tags given.
    fn from(depth: BitDepth) -> Self {
        Delivery { spec: depth.into(), container: None, tags: Tags::default(), codec_check: None }
    }
}

impl Delivery {
    /// Refuses, before any work, tags that are malformed (an ISRC that is not one) and a container
    /// that cannot hold the sample format; returns the container for `output`.
    pub fn check(&mut self, output: &Path) -> Result<Container> {
        self.tags.validate()?;
        if let Some(rate) = self.spec.sample_rate_hz {
            if !crate::dsp::resample::RATE_RANGE_HZ.contains(&rate) {
                return Err(Error::InvalidSetting(format!("--sample-rate {rate} Hz is outside 8000 … 384000")));
            }
        }
        let container = Container::for_path(output, self.container);
        container.check(self.spec.bit_depth)?;
        Ok(container)
    }
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
    pub delivery: Delivery,
    /// Where the analyses' gated STFT runs.
    pub device: &'a SpectrumDevice,
    /// A report of reference(s), original and master, if wanted.
    pub report: ReportOut<'a>,
    /// The target's profile when it is known already (a batch analyses its targets together on
    /// the GPU); `None`: analysed here.
    pub target_profile: Option<&'a Profile>,
    /// How the target and the reference audio are decoded.
    pub decode: DecodeOptions,
    /// Restoration of the target ahead of its analysis (and of the render), and where its residual
    /// goes.
    pub restore: Option<&'a RestoreRequest>,
    pub residual_out: Option<&'a Path>,
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

/// What `master` produced besides the audio: the plan as rendered, the summary, and the report's
/// data when one was asked for.
pub struct Mastered {
    pub plan: MasteringPlan,
    pub summary: Summary,
    pub report: Option<ReportData>,
}

/// Masters `job.target` toward the reference(s) and writes the output (and the plan and report, if
/// asked).
pub fn master(job: &MasterJob, progress: &dyn Progress) -> Result<Mastered> {
    let start = Instant::now();
    let weights = job.check()?;
    let mut timings = Timings::default();
    let inputs = MasterInputs::load(job, progress, &mut timings)?;
    let t = Instant::now();
    let reference = Profile::average(&inputs.references, &weights)?;
    let mut plan = match_profiles(&inputs.target, &reference, &job.settings)?;
    timings.matching_s = t.elapsed().as_secs_f64();
    let references = inputs.references.iter().map(|p| p.source.clone()).collect();
    let (mut summary, output) = render_and_write(
        inputs.audio,
        &plan,
        Target {
            path: job.target,
            references,
            loudness_lufs: inputs.target.loudness.integrated_lufs,
            true_peak_dbtp: inputs.target.loudness.true_peak_dbtp,
        },
        job.output,
        &job.delivery,
        timings,
        start,
        progress,
    )?;
    summary.analysis_device = job.device.describe();
    let restore_plan = inputs.restoration.map(|(plan, report)| {
        summary.restoration = Some(report);
        plan
    });
    let report = if job.report.wanted() {
        let t = Instant::now();
        let analysed =
            Analysed { target: inputs.target, references: inputs.references, spectrograms: inputs.spectrograms };
        let data = master_report(job, analysed, reference, &plan, &summary, &output, progress)?;
        job.report.write(&data)?;
        summary.timings.report_s = t.elapsed().as_secs_f64();
        summary.timings.total_s = start.elapsed().as_secs_f64();
        Some(data)
    } else {
        None
    };
    drop(output);
    as_rendered(&mut plan, &summary);
    // The plan replays the restoration on the original (this run rendered the restored audio).
    plan.restore = restore_plan.filter(|r| !r.is_empty());
    if let Some(p) = job.plan_out {
        write_atomically(p, |f| std::io::Write::write_all(f, plan.to_json().as_bytes()).map_err(|e| e.to_string()))?;
    }
    Ok(Mastered { plan, summary, report })
}

/// One delivery of a pack: its name (the platform's), where it goes, how, and the loudness,
/// ceiling and bass-mono settings it is rendered with.
#[derive(Debug, Clone)]
pub struct PackOutput {
    pub name: String,
    pub output: PathBuf,
    pub delivery: Delivery,
    pub settings: MatchSettings,
}

/// Masters `job.target` once (one analysis, one matching) and delivers it in every form of
/// `outputs`, each with its own plan beside it (`<output>.plan.json`). `job.output` and
/// `job.plan_out` are not used.
pub fn master_pack(job: &MasterJob, outputs: &[PackOutput], progress: &dyn Progress) -> Result<Vec<Summary>> {
    let start = Instant::now();
    if job.report.wanted() {
        return Err(Error::InvalidSetting("a report is written for one output, not for a delivery pack".into()));
    }
    let mut inputs: Vec<&Path> = vec![job.target];
    inputs.extend(job.references.iter().map(PathBuf::as_path));
    let plan_path = |o: &PackOutput| {
        o.output
            .with_extension(format!("{}.plan.json", Container::for_path(&o.output, o.delivery.container).extension()))
    };
    for (k, o) in outputs.iter().enumerate() {
        check_output(&o.output, &inputs)?;
        check_writable(&o.output)?;
        o.delivery.clone().check(&o.output)?;
        o.settings.validate()?;
        if outputs[..k].iter().any(|p| p.output == o.output) {
            return Err(Error::InvalidSetting(format!("{} would be written twice", o.output.display())));
        }
    }
    let weights = job.check_inputs()?;
    let mut timings = Timings::default();
    let loaded = MasterInputs::load(job, progress, &mut timings)?;
    let t = Instant::now();
    let reference = Profile::average(&loaded.references, &weights)?;
    let plan = match_profiles(&loaded.target, &reference, &job.settings)?;
    timings.matching_s = t.elapsed().as_secs_f64();
    let stereo = loaded.target.channels == 2 && reference.channels == 2;
    let references: Vec<String> = loaded.references.iter().map(|p| p.source.clone()).collect();
    let mut summaries = Vec::with_capacity(outputs.len());
    for o in outputs {
        let mut plan = crate::matching::retarget(&plan, &o.settings, stereo)?;
        let target = Target {
            path: job.target,
            references: references.clone(),
            loudness_lufs: loaded.target.loudness.integrated_lufs,
            true_peak_dbtp: loaded.target.loudness.true_peak_dbtp,
        };
        let (mut summary, _) = render_and_write(
            loaded.audio.clone(),
            &plan,
            target,
            &o.output,
            &o.delivery,
            timings.clone(),
            start,
            progress,
        )?;
        summary.analysis_device = job.device.describe();
        summary.restoration = loaded.restoration.as_ref().map(|(_, r)| r.clone());
        as_rendered(&mut plan, &summary);
        plan.restore = loaded.restoration.as_ref().map(|(p, _)| p.clone()).filter(|r| !r.is_empty());
        write_atomically(&plan_path(o), |f| {
            std::io::Write::write_all(f, plan.to_json().as_bytes()).map_err(|e| e.to_string())
        })?;
        summaries.push(summary);
    }
    Ok(summaries)
}

impl MasterJob<'_> {
    /// The checks of [`Self::check`] that concern the inputs and settings, not the outputs;
    /// returns the references' weights.
    fn check_inputs(&self) -> Result<Vec<f64>> {
        self.settings.validate()?;
        if self.references.is_empty() {
            return Err(Error::InvalidSetting("at least one --reference is needed".into()));
        }
        let weights = if self.weights.is_empty() { vec![1.0; self.references.len()] } else { self.weights.to_vec() };
        if weights.len() != self.references.len() {
            return Err(Error::InvalidSetting(format!(
                "{} weights for {} references",
                weights.len(),
                self.references.len()
            )));
        }
        Ok(weights)
    }

    /// Refuses a job that could only fail or lose something before any work is done: an output
    /// that is an input, or not writable, no reference, weights that do not match the references.
    /// Returns the references' weights.
    fn check(&self) -> Result<Vec<f64>> {
        let mut inputs: Vec<&Path> = vec![self.target];
        inputs.extend(self.references.iter().map(PathBuf::as_path));
        check_output(self.output, &inputs)?;
        if let Some(p) = self.plan_out {
            check_output(p, &inputs)?;
            if check_output(p, &[self.output]).is_err() {
                return Err(Error::InvalidSetting("the plan and the audio output must be different files".into()));
            }
        }
        if let Some(r) = self.residual_out {
            check_output(r, &inputs)?;
            if check_output(r, &[self.output]).is_err() {
                return Err(Error::InvalidSetting("the residual and the audio output must be different files".into()));
            }
        }
        let mut outputs = vec![self.output];
        outputs.extend(self.plan_out);
        outputs.extend(self.residual_out);
        outputs.iter().try_for_each(|p| check_writable(p))?;
        self.report.check(&inputs, &outputs)?;
        self.delivery.clone().check(self.output)?;
        self.check_inputs()
    }
}

/// A master job's inputs, decoded and analysed: the target's audio and profile, the references'
/// profiles (decoded or loaded) and, for a report, the spectrograms of the decoded ones (target
/// first, then the decoded references in order).
struct MasterInputs {
    audio: AudioBuffer,
    target: Profile,
    references: Vec<Profile>,
    spectrograms: Vec<Spectrogram>,
    /// What restoring the target found and did (the audio and its profile are the restored ones).
    restoration: Option<(RestorePlan, RestoreReport)>,
}

impl MasterInputs {
    /// Decodes and analyses target and reference audio side by side; loads saved profiles.
    fn load(job: &MasterJob, progress: &dyn Progress, timings: &mut Timings) -> Result<Self> {
        let t = Instant::now();
        let references = job.references.iter().map(PathBuf::as_path).filter(|r| !is_profile(r));
        let mut restoration = None;
        let (audio, target, analysed, decode_s) = match (job.target_profile, job.restore) {
            (Some(known), _) => {
                let audio = decode_file_with(job.target, job.decode, progress)?;
                let decode_s = t.elapsed().as_secs_f64();
                let (analysed, refs_s) =
                    decode_and_analyse(&references.collect::<Vec<_>>(), job.decode, job.device, progress)?;
                (audio, known.clone(), analysed, decode_s + refs_s)
            }
            // Restored first, so the matching hears the target as it will be rendered.
            (None, Some(request)) => {
                let mut audio = decode_file_with(job.target, job.decode, progress)?;
                let decode_s = t.elapsed().as_secs_f64();
                restoration = Some(restoration::restore(&mut audio, request, job.residual_out)?);
                let (analysed, refs_s) =
                    decode_and_analyse(&references.collect::<Vec<_>>(), job.decode, job.device, progress)?;
                let target = analyze_buffers(&[(&audio, file_name(job.target))], job.device, progress)?.remove(0);
                (audio, target, analysed, decode_s + refs_s)
            }
            (None, None) => {
                let audio_paths: Vec<&Path> = std::iter::once(job.target).chain(references).collect();
                let (mut analysed, decode_s) = decode_and_analyse(&audio_paths, job.decode, job.device, progress)?;
                let (audio, target) = analysed.remove(0);
                (audio, target, analysed, decode_s)
            }
        };
        // Spectrograms of the inputs for the report, before the audio goes.
        let spectrograms = if job.report.wanted() {
            std::iter::once(&audio)
                .chain(analysed.iter().map(|(b, _)| b))
                .collect::<Vec<_>>()
                .par_iter()
                .map(|b| Spectrogram::of(b))
                .collect()
        } else {
            Vec::new()
        };
        let mut analysed = analysed.into_iter().map(|(_, p)| p);
        let references: Vec<Profile> = job
            .references
            .iter()
            .map(|r| {
                if is_profile(r) {
                    Profile::load(r)
                } else {
                    Ok(analysed.next().expect("one profile per decoded reference"))
                }
            })
            .collect::<Result<_>>()?;
        timings.decode_s = decode_s;
        timings.analysis_s = t.elapsed().as_secs_f64() - decode_s;
        Ok(MasterInputs { audio, target, references, spectrograms, restoration })
    }
}

/// What a master report compares, once the audio is rendered.
struct Analysed {
    target: Profile,
    references: Vec<Profile>,
    spectrograms: Vec<Spectrogram>,
}

/// The report of a master: each reference with its spectrogram (saved profiles have none; several
/// are compared through their weighted `average`, which is what the plan matched), the original
/// and the master (`output`, analysed here).
fn master_report(
    job: &MasterJob,
    analysed: Analysed,
    average: Profile,
    plan: &MasteringPlan,
    summary: &Summary,
    output: &AudioBuffer,
    progress: &dyn Progress,
) -> Result<ReportData> {
    let Analysed { target, references, spectrograms } = analysed;
    let mut spectrograms = spectrograms.into_iter();
    let target_spectrogram = spectrograms.next();
    let single = references.len() == 1;
    let mut sources: Vec<Source> = job
        .references
        .iter()
        .zip(references)
        .map(|(r, profile)| Source {
            profile,
            role: if single { Role::Reference } else { Role::Input },
            spectrogram: if is_profile(r) { None } else { spectrograms.next() },
        })
        .collect();
    if !single {
        let mut average = average;
        average.source = "references (weighted average)".into();
        sources.insert(0, Source { profile: average, role: Role::Reference, spectrogram: None });
    }
    let (master_profile, master_spectrogram) =
        rayon::join(|| crate::analysis::analyze(output, &file_name(job.output), progress), || Spectrogram::of(output));
    sources.push(Source { profile: target, role: Role::Original, spectrogram: target_spectrogram });
    sources.push(Source { profile: master_profile?, role: Role::Master, spectrogram: Some(master_spectrogram) });
    let mut data = ReportData::build(sources, 0, Some((plan, &summary.render)))?;
    data.restoration = summary.restoration.clone();
    Ok(data)
}

/// The plan as rendered: the dynamics goal replaced by the settings fitted to it and the limiter's
/// ceiling as a codec check left it, so that `automaster render --plan` reproduces the output bit
/// for bit.
fn as_rendered(plan: &mut MasteringPlan, summary: &Summary) {
    if let Some(round) = summary.codec_check.as_ref().and_then(|c| c.rounds.last()) {
        plan.limiter.ceiling_dbtp = round.limiter_ceiling_dbtp;
    }
    if let Some(d) = &summary.render.dynamics {
        plan.dynamics.multiband = Some(d.settings.clone());
        plan.dynamics.leveler = d.leveler.as_ref().map(|l| l.settings.clone());
        plan.dynamics.goal = None;
    }
}

/// Re-renders `target` with a saved (possibly hand-edited) plan.
pub fn render_with_plan(
    target: &Path,
    plan_path: &Path,
    output: &Path,
    delivery: &Delivery,
    decode: DecodeOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    let start = Instant::now();
    check_output(output, &[target, plan_path])?;
    delivery.clone().check(output)?;
    check_writable(output)?;
    let plan = MasteringPlan::load(plan_path)?;
    let mut timings = Timings::default();
    let (audio, target) = decode_and_meter(target, "render", decode, &mut timings, progress)?;
    let target = Target { references: vec![plan.provenance.reference.clone()], ..target };
    Ok(render_and_write(audio, &plan, target, output, delivery, timings, start, progress)?.0)
}

/// Decodes `path` and meters its loudness and true peak (no analysis of its sound): the input of
/// a render that needs no matching (`what` the job, for the error a silent input gets).
fn decode_and_meter<'a>(
    path: &'a Path,
    what: &'static str,
    decode: DecodeOptions,
    timings: &mut Timings,
    progress: &dyn Progress,
) -> Result<(AudioBuffer, Target<'a>)> {
    let t = Instant::now();
    let audio = decode_file_with(path, decode, progress)?;
    timings.decode_s = t.elapsed().as_secs_f64();
    if audio.is_silent() {
        return Err(Error::Silent { path: path.into(), what });
    }
    let t = Instant::now();
    let channels: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let loudness_lufs = integrated_lufs(&channels, audio.sample_rate)
        .ok_or_else(|| Error::no_loudness(path, audio.duration_s(), what))?;
    let true_peak_dbtp = to_db(f64::from(bs1770_true_peak(&channels)));
    timings.analysis_s = t.elapsed().as_secs_f64();
    Ok((audio, Target { path, references: Vec::new(), loudness_lufs, true_peak_dbtp }))
}

/// The input of a render, as the summary describes it.
struct Target<'a> {
    path: &'a Path,
    references: Vec<String>,
    loudness_lufs: f64,
    true_peak_dbtp: f64,
}

#[allow(clippy::too_many_arguments)]
fn render_and_write(
    audio: AudioBuffer,
    plan: &MasteringPlan,
    target: Target,
    output: &Path,
    delivery: &Delivery,
    mut timings: Timings,
    start: Instant,
    progress: &dyn Progress,
) -> Result<(Summary, AudioBuffer)> {
    let mut delivery = delivery.clone();
    let container = delivery.check(output)?;
    let tags = delivery.tags.clone().over(read_tags(target.path));
    let name = file_name(target.path);
    let (input_sample_rate, channels, duration_s) = (audio.sample_rate, audio.num_channels(), audio.duration_s());
    let spec = delivery.spec;
    let t = Instant::now();
    let (mut encode_s, mut codec_s) = (0.0, 0.0);
    let mut check = delivery.codec_check.map(|c| (c, CodecCheck::new(c, plan.limiter.ceiling_dbtp)));
    let mut plan = plan.clone();
    let mut audio = Some(audio);
    let (out, report, staged) = loop {
        // The input is kept for another round while one may follow.
        let last = check.as_ref().is_none_or(|(_, c)| c.rounds.len() + 1 == codec_check::MAX_ROUNDS);
        let input = if last { audio.take() } else { audio.clone() }.expect("the input stays until the last round");
        // The output is staged while it is verified and put in place once it is (and passes a
        // codec check): the destination only ever receives verified samples.
        let (out, report, staged) = render_alongside(input, &plan, spec, &name, progress, |out| {
            let t = Instant::now();
            let staged = stage_audio(output, out, spec.bit_depth, container, &tags);
            encode_s += t.elapsed().as_secs_f64();
            staged
        })?;
        let Some((codec, c)) = check.as_mut() else { break (out, report, staged) };
        let t_codec = Instant::now();
        let next = c.round(*codec, &out, plan.limiter.ceiling_dbtp, report.limit.output_true_peak_dbtp)?;
        codec_s += t_codec.elapsed().as_secs_f64();
        match next {
            Some(ceiling) => plan.limiter.ceiling_dbtp = ceiling,
            None => break (out, report, staged),
        }
    };
    let t_commit = Instant::now();
    staged.commit()?;
    encode_s += t_commit.elapsed().as_secs_f64();
    timings.encode_s = encode_s;
    timings.codec_check_s = codec_s;
    timings.render_s = t.elapsed().as_secs_f64() - encode_s - codec_s;
    timings.total_s = start.elapsed().as_secs_f64();
    let extremes = |g: &[f64]| (g.iter().fold(0.0f64, |m, &v| m.max(v)), g.iter().fold(0.0f64, |m, &v| m.min(v)));
    let (mb, mc) = extremes(&plan.eq.mid.gain_db);
    // The side filter as rendered: side EQ, width and bass mono together.
    let (sb, sc) = extremes(&crate::render::side_curve(&plan.eq.side, &plan.stereo).gain_db);
    Ok((
        Summary {
            target: name,
            references: target.references,
            output: output.display().to_string(),
            sample_rate: out.sample_rate,
            input_sample_rate,
            channels,
            duration_s,
            format: container,
            bit_depth: spec.bit_depth,
            dither: spec.dither.resolve(spec.bit_depth, out.sample_rate),
            tags,
            loudness_before_lufs: target.loudness_lufs,
            loudness_target_lufs: plan.loudness.target_lufs,
            loudness_after_lufs: report.output_lufs,
            true_peak_before_dbtp: target.true_peak_dbtp,
            true_peak_after_dbtp: report.limit.output_true_peak_dbtp,
            ceiling_dbtp: check.as_ref().map_or(plan.limiter.ceiling_dbtp, |(_, c)| c.ceiling_dbtp),
            codec_check: check.map(|(_, c)| c),
            eq: EqSummary { mid_max_boost_db: mb, mid_max_cut_db: mc, side_max_boost_db: sb, side_max_cut_db: sc },
            analysis_device: "CPU".into(),
            restoration: None,
            render: report,
            timings,
        },
        out,
    ))
}

/// Files decoded at once by [`analyze_files`] (bounds memory on large catalogues).
const ANALYSIS_BATCH: usize = 8;

/// Decodes and analyses `paths`, in batches (bounded memory on large catalogues).
pub fn analyze_files(paths: &[PathBuf], device: &SpectrumDevice, progress: &dyn Progress) -> Result<Vec<Profile>> {
    let mut profiles = Vec::with_capacity(paths.len());
    for batch in paths.chunks(ANALYSIS_BATCH) {
        let batch: Vec<&Path> = batch.iter().map(PathBuf::as_path).collect();
        profiles.extend(
            decode_and_analyse(&batch, DecodeOptions::default(), device, progress)?.0.into_iter().map(|(_, p)| p),
        );
    }
    Ok(profiles)
}

/// Decodes `paths` side by side and analyses each: on the CPU as soon as it is decoded (a short
/// file's analysis then overlaps a long one's decoding); for a GPU, in one batch once all are.
/// Returns the buffers with their profiles and the time until the last was decoded; an error is
/// the first in `paths`' order, whichever thread met it first.
fn decode_and_analyse(
    paths: &[&Path],
    options: DecodeOptions,
    device: &SpectrumDevice,
    progress: &dyn Progress,
) -> Result<(Vec<(AudioBuffer, Profile)>, f64)> {
    let start = Instant::now();
    let done: Vec<Result<(AudioBuffer, Option<Profile>, f64)>> = paths
        .par_iter()
        .map(|p| {
            let buffer = decode_file_with(p, options, progress)?;
            let decoded_s = start.elapsed().as_secs_f64();
            // Asked once decoding is done, so that `auto`'s search for a GPU overlaps it.
            let profile = if device.has_gpu() {
                None
            } else {
                Some(analyze_with_spectra(&buffer, &file_name(p), None, progress)?)
            };
            Ok((buffer, profile, decoded_s))
        })
        .collect();
    let done = done.into_iter().collect::<Result<Vec<_>>>()?;
    let decode_s = done.iter().fold(0.0f64, |m, d| m.max(d.2));
    let batched = {
        let pending: Vec<(&AudioBuffer, String)> =
            done.iter().zip(paths).filter(|(d, _)| d.1.is_none()).map(|(d, p)| (&d.0, file_name(p))).collect();
        analyze_buffers(&pending, device, progress)?
    };
    let mut batched = batched.into_iter();
    Ok((
        done.into_iter()
            .map(|(b, p, _)| (b, p.unwrap_or_else(|| batched.next().expect("one profile per batched track"))))
            .collect(),
        decode_s,
    ))
}

/// The inputs of `automaster report`: audio files or saved profiles, and the reference the others
/// are compared with (without one, the first input is the reference).
pub struct ReportJob<'a> {
    pub inputs: &'a [PathBuf],
    pub reference: Option<&'a Path>,
    pub device: &'a SpectrumDevice,
    pub out: ReportOut<'a>,
}

/// Analyses the inputs of a report (audio decoded in batches, with spectrograms) and writes it.
pub fn report(job: &ReportJob, progress: &dyn Progress) -> Result<ReportData> {
    let paths: Vec<&Path> = job.reference.into_iter().chain(job.inputs.iter().map(PathBuf::as_path)).collect();
    if paths.is_empty() {
        return Err(Error::InvalidSetting("a report needs at least one input".into()));
    }
    job.out.check(&paths, &[])?;
    let mut sources = Vec::with_capacity(paths.len());
    for batch in paths.chunks(ANALYSIS_BATCH) {
        let audio: Vec<&Path> = batch.iter().copied().filter(|p| !is_profile(p)).collect();
        let mut analysed = decode_and_analyse(&audio, DecodeOptions::default(), job.device, progress)?
            .0
            .into_par_iter()
            .map(|(b, p)| (p, Spectrogram::of(&b)))
            .collect::<Vec<_>>()
            .into_iter();
        for p in batch {
            let (profile, spectrogram) = if is_profile(p) {
                (Profile::load(p)?, None)
            } else {
                analysed.next().map(|(p, s)| (p, Some(s))).expect("one per file")
            };
            let role = if sources.is_empty() { Role::Reference } else { Role::Input };
            sources.push(Source { profile, role, spectrogram });
        }
    }
    let data = ReportData::build(sources, 0, None)?;
    job.out.write(&data)?;
    Ok(data)
}

/// Profiles of decoded tracks: their gated spectra in one batch on the device (or none, for the
/// CPU path), then the rest of each analysis, tracks side by side.
fn analyze_buffers(
    tracks: &[(&AudioBuffer, String)],
    device: &SpectrumDevice,
    progress: &dyn Progress,
) -> Result<Vec<Profile>> {
    let buffers: Vec<&AudioBuffer> = tracks.iter().map(|(b, _)| *b).collect();
    let spectra = device.spectra(&buffers, progress);
    tracks
        .par_iter()
        .zip(spectra)
        .map(|((buffer, name), spectra)| analyze_with_spectra(buffer, name, spectra, progress))
        .collect()
}
