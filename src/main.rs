//! The `automaster` command line: clap arguments → validated options → library calls.
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use automaster::internals::analysis::device::SpectrumDevice;
use automaster::internals::analysis::gpu::DeviceChoice;
use automaster::internals::io::decode::DecodeOptions;
use automaster::internals::io::encode::{check_writable, write_atomically, Container};
use automaster::internals::jobs::batch::manifest::Manifest;
use automaster::internals::jobs::batch::{self, BatchJob, Shard, ShardChoice};
use automaster::internals::jobs::deliver::{DeliverJob, Loudness};
use automaster::internals::jobs::{self, Delivery, MasterJob, PackOutput, ReportJob, ReportOut, Summary};
use automaster::internals::model::restore::{Mode as RepairMode, Repair, RestoreRequest};
use automaster::internals::model::settings::{
    ClickMode, DeclickSettings, DeclipSettings, DehissSettings, DehumSettings,
};
use automaster::internals::model::{platform, BitDepth, Dither, MatchSettings, OutputSpec, Platform, Tags};
use automaster::internals::progress::{NoProgress, Progress, ProgressTask};
use clap::{Args, Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "automaster",
    version,
    about = "Reference-matching auto-mastering: make a mix sound like a reference master"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Master TARGET to match one or more references; writes the master (and optionally the plan).
    Master(Box<MasterArgs>),
    /// Analyse audio files into profiles (JSON) usable as --reference.
    Analyze(AnalyzeArgs),
    /// Render TARGET with a saved (possibly edited) plan.
    Render(RenderArgs),
    /// Deliver a finished MASTER, with no matching: converted to the rate and format asked,
    /// limited only where it needs it (a true peak over the ceiling, or a loudness asked for),
    /// dithered, encoded and tagged.
    Deliver(Box<DeliverArgs>),
    /// Restore a recording: clipped peaks, clicks (and crackle), mains hum and hiss repaired
    /// where they are found, nothing else changed; the summary lists what was found.
    Restore(Box<RestoreArgs>),
    /// Compare audio files or profiles in a spectral report (HTML for a browser, JSON for scripts).
    Report(ReportArgs),
    /// Master the bundled example mix against the bundled reference.
    Demo(DemoArgs),
    /// Master and sequence an album from its file (TOML): the image, its CUE sheet, one tagged
    /// file per track, the album plan, album.json and album-report.html in DIR; or render a
    /// saved album plan again (--plan).
    Album(Box<AlbumArgs>),
    /// Master a catalogue from a manifest: resumable, parallel, shardable (Slurm, Kubernetes).
    Batch(BatchArgs),
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BatchArgs {
    #[command(subcommand)]
    action: Option<BatchAction>,
    /// The manifest: CSV with a header (target, reference, output, and optionally lufs, ceiling,
    /// max_limiting_db, eq_amount, width_amount, dynamics_amount, platform, bit_depth,
    /// sample_rate, dither, and the tags title, artist, album, track, date, genre, isrc,
    /// comment), or JSON Lines (.jsonl) with those keys. Relative paths are taken from the
    /// manifest's folder; several references are joined by `;`.
    manifest: Option<PathBuf>,
    /// Instead of a manifest: every file matching this glob, mastered to DIR/<name>.wav (the
    /// manifest is written into DIR).
    #[arg(long, conflicts_with = "manifest")]
    targets: Option<String>,
    /// The output folder: masters, the ledger, cached reference profiles, the catalogue.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Reference for rows without their own (audio or a saved profile); repeat to average.
    #[arg(short, long = "reference")]
    references: Vec<PathBuf>,
    #[command(flatten)]
    matching: MatchArgs,
    /// Output sample format for rows without their own.
    #[arg(long, value_enum, default_value = "24")]
    bit_depth: BitDepth,
    /// Output sample rate in Hz for rows without their own (default: each target's).
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,
    /// Dither for rows without their own (`auto`: noise-shaped for 16 bits at 44.1/48 kHz, TPDF
    /// otherwise).
    #[arg(long, value_enum, default_value = "auto")]
    dither: Dither,
    /// Tracks mastered at once (default: one per core, within the memory budget).
    #[arg(long)]
    jobs: Option<usize>,
    /// Memory the tracks in flight may hold together, e.g. 4G or 1500M (default: half of the
    /// available memory).
    #[arg(long, value_parser = parse_bytes)]
    memory_budget: Option<u64>,
    /// Master again the rows that failed in an earlier run (by default they are left failed).
    #[arg(long)]
    retry_failed: bool,
    /// Stop at the first failing row.
    #[arg(long)]
    fail_fast: bool,
    /// This run's shard: an index below --shards, or `auto` (SLURM_ARRAY_TASK_ID, else
    /// JOB_COMPLETION_INDEX). Row i belongs to shard i mod N.
    #[arg(long, value_parser = parse_shard, requires = "shards")]
    shard: Option<ShardChoice>,
    /// How many shards the rows are split into.
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// Also a report per track (DIR/reports/<output>.html).
    #[arg(long)]
    reports: bool,
    /// One JSON event per finished row on stdout (for cluster logs), then the outcome.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Subcommand)]
enum BatchAction {
    /// Done / failed / pending over every row of the batch in DIR (all shards).
    Status {
        dir: PathBuf,
        /// The rows as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_shard(s: &str) -> std::result::Result<ShardChoice, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(ShardChoice::Auto);
    }
    s.parse().map(ShardChoice::Index).map_err(|_| format!("`{s}` is neither an index nor `auto`"))
}

fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim().to_ascii_uppercase();
    let (number, unit) = match t.strip_suffix('G').or_else(|| t.strip_suffix("GB")) {
        Some(n) => (n, 1u64 << 30),
        None => match t.strip_suffix('M').or_else(|| t.strip_suffix("MB")) {
            Some(n) => (n, 1 << 20),
            None => (t.as_str(), 1 << 20),
        },
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("`{s}` is not a size like 4G or 1500M"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("`{s}` must be more than 0"));
    }
    Ok((value * unit as f64) as u64)
}

/// Half of the memory the system says is available (`MemAvailable`), or 4 GiB where it cannot say.
fn default_memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(4 << 30, |kib| kib * 1024 / 2)
}

#[derive(Args)]
struct ReportArgs {
    /// Audio files or saved profiles (.json) to compare.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// What the others are compared with: an audio file or a profile (default: the first file).
    #[arg(short, long)]
    reference: Option<PathBuf>,
    /// The report: one self-contained HTML file.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The report's data as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Args)]
struct MasterArgs {
    /// The unmastered mix.
    target: PathBuf,
    /// Reference master: an audio file or a saved profile (.json). Repeat to average several.
    #[arg(short, long = "reference", required = true)]
    references: Vec<PathBuf>,
    /// Weight of each reference, in the order given (default: equal).
    #[arg(long = "weight")]
    weights: Vec<f64>,
    /// The master: a .wav or .flac file; with several --platform, a folder for one file per
    /// platform (<target>.<platform>.wav or .flac, each with its plan).
    #[arg(short, long)]
    output: PathBuf,
    /// Deliver for a platform: its loudness, true-peak ceiling, sample rate and bit depth (flags
    /// given explicitly win). Repeat, with -o DIR, for a delivery pack. `--platform list` shows
    /// the table.
    #[arg(long = "platform", value_name = "NAME")]
    platforms: Vec<String>,
    /// Also write the mastering plan (JSON) here; edit it and use `automaster render`.
    #[arg(long)]
    plan_out: Option<PathBuf>,
    /// Also write a report (HTML) comparing reference, original and master.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Also write the report's data (JSON).
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Restore the mix first (ahead of its analysis and the EQ): `off`, `auto` (each repair where
    /// its detector finds the fault) or a list of repairs to run (`declip`, `declick`, `dehum`, `dehiss`,
    /// comma-separated).
    #[arg(long, value_name = "auto|off|LIST", default_value = "off")]
    restore: String,
    #[command(flatten)]
    repair: RepairArgs,
    #[command(flatten)]
    matching: MatchArgs,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

impl MasterArgs {
    /// The master job these arguments ask for, delivered for `platform` when one is given.
    fn job<'a>(
        &'a self,
        platform: Option<&Platform>,
        plan_out: Option<&'a Path>,
        device: &'a SpectrumDevice,
        restore: Option<&'a RestoreRequest>,
    ) -> MasterJob<'a> {
        MasterJob {
            target: &self.target,
            references: &self.references,
            weights: &self.weights,
            output: &self.output,
            plan_out,
            settings: self.matching.settings(platform),
            delivery: self.out.delivery(platform),
            device,
            report: ReportOut { html: self.report.as_deref(), json: self.report_json.as_deref() },
            target_profile: None,
            decode: self.input.options(),
            restore,
            residual_out: self.repair.residual_out.as_deref(),
        }
    }
}

/// How restoration runs, for `master --restore` and `restore`.
#[derive(Args)]
struct RepairArgs {
    /// The declicker in its crackle mode: dense small clicks (vinyl), a lower threshold.
    #[arg(long)]
    crackle: bool,
    /// Also write what restoration took out (input − restored, 32-bit float WAV), to listen to.
    #[arg(long, value_name = "FILE")]
    residual_out: Option<PathBuf>,
    /// The mains frequency (50 or 60 Hz) the hum is on, when known: only its series is looked for,
    /// and an asked-for de-hum notches it even where it is too faint to find.
    #[arg(long, value_name = "HZ")]
    hum_hz: Option<f64>,
    /// Where the recording holds its noise alone, in seconds (e.g. `0.2-1.8`): the de-hisser
    /// measures the floor there instead of looking for it, and runs whatever it reads.
    #[arg(long, value_name = "START-END", value_parser = parse_span)]
    noise_profile: Option<(f64, f64)>,
}

/// `START-END` in seconds.
fn parse_span(s: &str) -> std::result::Result<(f64, f64), String> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("`{s}`: expected START-END in seconds, e.g. 0.5-2"))?;
    let num = |v: &str| v.trim().parse::<f64>().map_err(|_| format!("`{v}` is not a number of seconds"));
    let (a, b) = (num(a)?, num(b)?);
    if !(0.0 <= a && a < b && b.is_finite()) {
        return Err(format!("`{s}`: the span must run forward from 0 s or later"));
    }
    Ok((a, b))
}

impl RepairArgs {
    /// The request for `repairs` (each in `mode`), with these settings.
    fn request(&self, repairs: impl IntoIterator<Item = (Repair, RepairMode)>) -> RestoreRequest {
        let mode = if self.crackle { ClickMode::Crackle } else { ClickMode::Clicks };
        let mut repairs: Vec<(Repair, RepairMode)> = repairs.into_iter().collect();
        // A noise profile is a de-hiss asked for: it runs on what the span holds.
        if self.noise_profile.is_some() {
            repairs.retain(|(r, _)| *r != Repair::Dehiss);
            repairs.push((Repair::Dehiss, RepairMode::On));
        }
        RestoreRequest {
            repairs,
            declick: DeclickSettings::for_mode(mode),
            dehum: DehumSettings { mains_hz: self.hum_hz, ..DehumSettings::default() },
            declip: DeclipSettings::default(),
            dehiss: DehissSettings { noise_span_s: self.noise_profile, ..DehissSettings::default() },
        }
    }

    /// `--restore`'s value: `off` (no request), `auto`, or repairs by name.
    fn parse(&self, spec: &str) -> Result<Option<RestoreRequest>> {
        match spec.trim() {
            "off" => {
                if self.crackle || self.residual_out.is_some() || self.hum_hz.is_some() || self.noise_profile.is_some()
                {
                    bail!(
                        "--crackle, --hum-hz, --noise-profile and --residual-out go with --restore auto or a list of repairs"
                    );
                }
                Ok(None)
            }
            "auto" => Ok(Some(self.request(Repair::ALL.map(|r| (r, RepairMode::Auto))))),
            list => {
                let repairs = list.split(',').map(|n| Repair::named(n).map(|r| (r, RepairMode::On)));
                Ok(Some(self.request(repairs.collect::<Result<Vec<_>, _>>()?)))
            }
        }
    }
}

#[derive(Args)]
struct RestoreArgs {
    /// The recording to restore.
    input: PathBuf,
    /// The restored file: .wav or .flac.
    #[arg(short, long)]
    output: PathBuf,
    /// Repair clicks (and crackle, with --crackle) wherever the detector finds them; in click
    /// mode those the music masks (their repair changes it less than 30 dB under its peak within
    /// 50 ms) are left.
    #[arg(long)]
    declick: bool,
    /// Notch out mains hum (50 or 60 Hz and its harmonics): the series found, even one that comes
    /// and goes (auto takes only one that sounds throughout), else the mains grid itself.
    #[arg(long)]
    dehum: bool,
    /// Rebuild clipped peaks (runs of samples at a channel's extreme level) beyond the level.
    #[arg(long)]
    declip: bool,
    /// Take a steady noise floor (hiss) down where one is found under the music (or measured
    /// with --noise-profile).
    #[arg(long)]
    dehiss: bool,
    /// Every repair, each only where its detector finds the fault (the default when no repair is
    /// named); with named repairs, the others too.
    #[arg(long)]
    auto: bool,
    /// True-peak ceiling in dBTP: only what a repair rebuilt above it is limited (default 0).
    #[arg(long, allow_hyphen_values = true)]
    ceiling: Option<f64>,
    /// Also write what restoration found and did as a page to read in a browser (with the
    /// spectrum before and after).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    #[command(flatten)]
    repair: RepairArgs,
    #[command(flatten)]
    input_options: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
}

impl RestoreArgs {
    fn request(&self) -> RestoreRequest {
        let named: Vec<Repair> = [
            (self.declip, Repair::Declip),
            (self.declick, Repair::Declick),
            (self.dehum, Repair::Dehum),
            (self.dehiss, Repair::Dehiss),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, r)| r)
        .collect();
        let auto = self.auto || named.is_empty();
        self.repair.request(Repair::ALL.into_iter().filter_map(|r| {
            if named.contains(&r) {
                Some((r, RepairMode::On))
            } else {
                auto.then_some((r, RepairMode::Auto))
            }
        }))
    }
}

#[derive(Args)]
struct InputArgs {
    /// Master what a truncated lossy input holds (an Ogg stream without its end, an MP3 or AAC
    /// shorter than its header says) instead of refusing it.
    #[arg(long)]
    allow_truncated: bool,
}

impl InputArgs {
    fn options(&self) -> DecodeOptions {
        DecodeOptions { allow_truncated: self.allow_truncated }
    }
}

#[derive(Args)]
struct DeviceArgs {
    /// Where the spectral analysis runs: a hardware GPU when there is one (auto), any GPU adapter
    /// including software ones (gpu; an error without one), or the CPU.
    #[arg(long = "device", value_enum, default_value = "auto")]
    choice: DeviceChoice,
}

impl DeviceArgs {
    fn open(&self) -> Result<SpectrumDevice> {
        Ok(SpectrumDevice::new(self.choice)?)
    }
}

#[derive(Args)]
struct MatchArgs {
    /// Loudness target in LUFS (default: the reference's integrated loudness).
    #[arg(long, allow_hyphen_values = true, conflicts_with = "loudness")]
    lufs: Option<f64>,
    /// Loudness target: `reference` (its integrated loudness) or a level in LUFS.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_loudness)]
    loudness: Option<LoudnessChoice>,
    /// True-peak ceiling in dBTP (default -1, or the platform's).
    #[arg(long, allow_hyphen_values = true)]
    ceiling: Option<f64>,
    /// The most peak reduction, in dB, that the soft clipper and the limiter together may use at
    /// the highest peak to reach the loudness target (default: as much as it needs). When it is
    /// not enough, the summary says by how much the target was missed.
    #[arg(long, value_name = "DB")]
    max_limiting_db: Option<f64>,
    #[command(flatten)]
    amounts: AmountArgs,
}

/// How much of each correction toward the reference the matching applies.
#[derive(Args)]
struct AmountArgs {
    /// How much of the EQ correction to apply, in percent.
    #[arg(long, default_value_t = 100.0)]
    eq_amount: f64,
    /// How much of the width correction (side level per band) and bass mono to apply, in percent.
    #[arg(long, default_value_t = 100.0)]
    width_amount: f64,
    /// How far the multiband compressor/expander moves each band's dynamics (short-term level
    /// spread) toward the reference's, in percent.
    #[arg(long, default_value_t = 50.0)]
    dynamics_amount: f64,
}

impl AmountArgs {
    /// The default settings with these amounts.
    fn settings(&self) -> MatchSettings {
        MatchSettings {
            eq_amount: self.eq_amount / 100.0,
            width_amount: self.width_amount / 100.0,
            dynamics_amount: self.dynamics_amount / 100.0,
            ..Default::default()
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum LoudnessChoice {
    Reference,
    Lufs(f64),
}

fn parse_loudness(s: &str) -> std::result::Result<LoudnessChoice, String> {
    if s.eq_ignore_ascii_case("reference") {
        return Ok(LoudnessChoice::Reference);
    }
    s.trim_end_matches("LUFS")
        .trim()
        .parse::<f64>()
        .map(LoudnessChoice::Lufs)
        .map_err(|_| format!("`{s}` is neither `reference` nor a level in LUFS"))
}

#[derive(Args)]
struct OutputArgs {
    /// Output sample format (default 24, or the platform's).
    #[arg(long, value_enum)]
    bit_depth: Option<BitDepth>,
    /// Output sample rate in Hz (default: the input's, or the platform's); the conversion comes
    /// before the limiter, so the true peak is limited and verified at the output's rate.
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,
    /// Dither for integer formats: `auto` is noise-shaped for 16 bits at 44.1/48 kHz and TPDF
    /// otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    dither: Dither,
    /// Container (default: by the output's extension, .flac for FLAC, else WAV).
    #[arg(long, value_enum)]
    format: Option<Container>,
    #[command(flatten)]
    tags: TagArgs,
    /// Check the true peak after the platform's lossy codec (Opus at the platform's bit rate, or
    /// 160 kbit/s): the output is encoded and decoded in memory and, where its peaks come out
    /// over the ceiling, rendered again with the limiter's ceiling lowered (a few rounds at most).
    #[arg(long)]
    codec_check: bool,
    /// Print a machine-readable summary (JSON) on stdout.
    #[arg(long)]
    json: bool,
}

/// Tags written into the output, over the target's own (FLAC: Vorbis comments; WAV: ID3v2 and
/// RIFF INFO).
#[derive(Args)]
struct TagArgs {
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    artist: Option<String>,
    #[arg(long)]
    album: Option<String>,
    /// Track number, optionally with the total: 3 or 3/12.
    #[arg(long)]
    track: Option<String>,
    #[arg(long)]
    date: Option<String>,
    #[arg(long)]
    genre: Option<String>,
    /// International Standard Recording Code: 12 characters, e.g. GBAYE0601498 (dashes allowed).
    #[arg(long)]
    isrc: Option<String>,
    #[arg(long)]
    comment: Option<String>,
}

impl TagArgs {
    fn tags(&self) -> Tags {
        Tags {
            title: self.title.clone(),
            artist: self.artist.clone(),
            album: self.album.clone(),
            track: self.track.clone(),
            date: self.date.clone(),
            genre: self.genre.clone(),
            isrc: self.isrc.clone(),
            comment: self.comment.clone(),
        }
    }
}

impl OutputArgs {
    /// The delivery these flags ask for, with `platform`'s rate and depth where they give none.
    fn delivery(&self, platform: Option<&Platform>) -> Delivery {
        Delivery {
            spec: OutputSpec {
                bit_depth: self.bit_depth.or(platform.map(|p| p.bit_depth)).unwrap_or(BitDepth::Int24),
                dither: self.dither,
                sample_rate_hz: self.sample_rate.or(platform.map(|p| p.sample_rate_hz)),
            },
            container: self.format,
            tags: self.tags.tags(),
            codec_check: self
                .codec_check
                .then(|| platform.and_then(|p| p.codec).unwrap_or(platform::DEFAULT_CHECK_CODEC)),
        }
    }
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Audio files to analyse.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output: a .json file for one input, a folder for several (one <name>.profile.json each).
    /// Without it the profile JSON goes to stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Args)]
struct RenderArgs {
    target: PathBuf,
    #[arg(long)]
    plan: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Args)]
struct DeliverArgs {
    /// The finished master.
    master: PathBuf,
    /// The delivery: a .wav or .flac file; with several --platform, a folder for one file per
    /// platform (<master>.<platform>.wav or .flac).
    #[arg(short, long)]
    output: PathBuf,
    /// Deliver for a platform: its loudness (where it normalises), true-peak ceiling, sample rate
    /// and bit depth, and vinyl's mono bass (flags given explicitly win). Repeat, with -o DIR, for
    /// one delivery per platform.
    #[arg(long = "platform", value_name = "NAME")]
    platforms: Vec<String>,
    /// Loudness in LUFS, reached by gain and limiting (default: the master's own, or the
    /// platform's).
    #[arg(long, allow_hyphen_values = true)]
    lufs: Option<f64>,
    /// Keep the master's loudness for a platform that normalises: only peaks over the ceiling are
    /// limited.
    #[arg(long, conflicts_with = "lufs")]
    keep_loudness: bool,
    /// True-peak ceiling in dBTP (default -1, or the platform's).
    #[arg(long, allow_hyphen_values = true)]
    ceiling: Option<f64>,
    /// The most peak reduction, in dB, a loudness target may take at the highest peak.
    #[arg(long, value_name = "DB")]
    max_limiting_db: Option<f64>,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
}

impl DeliverArgs {
    fn job<'a>(&'a self, platform: Option<&Platform>, output: &'a Path) -> DeliverJob<'a> {
        let lufs = self.lufs.or(platform.and_then(|p| p.target_lufs).filter(|_| !self.keep_loudness));
        DeliverJob {
            input: &self.master,
            output,
            delivery: self.out.delivery(platform),
            bit_depth_given: self.out.bit_depth.is_some() || platform.is_some(),
            loudness: lufs.map_or(Loudness::Keep, Loudness::Lufs),
            ceiling_dbtp: self.ceiling.or(platform.map(|p| p.ceiling_dbtp)).unwrap_or(-1.0),
            max_limiting_db: self.max_limiting_db,
            bass_mono_hz: platform.and_then(|p| p.bass_mono_hz),
            decode: self.input.options(),
            restore: None,
            residual_out: None,
        }
    }
}

#[derive(Args)]
struct AlbumArgs {
    /// The album file: title, artist, references, delivery, then [[tracks]] in order.
    #[arg(required_unless_present = "plan")]
    album: Option<PathBuf>,
    /// Render a saved (possibly edited) album plan instead (DIR/album-plan.json of an earlier
    /// run): no analysis, no matching; unedited, the same files bit for bit.
    #[arg(long, conflicts_with_all = ["album", "consistency", "loudness_policy", "platform", "eq_amount", "width_amount", "dynamics_amount"])]
    plan: Option<PathBuf>,
    /// The output folder.
    #[arg(short, long)]
    output: PathBuf,
    /// How far the tracks share one EQ correction, 0–100 % (default: the album file's, else 70).
    #[arg(long)]
    consistency: Option<f64>,
    /// `album`: the loudest track on the target, the others keep their loudness relative to it;
    /// `track`: each on the target (default: the album file's, else album).
    #[arg(long, value_enum)]
    loudness_policy: Option<AlbumPolicy>,
    /// Deliver the album for a platform (over the album file's `platform`): its loudness,
    /// ceiling, rate and bit depth where the file gives none; `cd` holds it to Red Book.
    #[arg(long, value_name = "NAME")]
    platform: Option<String>,
    /// The summary (album.json's content) as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    amounts: AmountArgs,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AlbumPolicy {
    Album,
    Track,
}

#[derive(Args)]
struct DemoArgs {
    /// Folder for the demo's inputs, master, plan and summary.
    #[arg(long, default_value = "automaster-demo")]
    out: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
}

/// Progress bars on stderr via indicatif.
struct Bars(MultiProgress);

struct Bar(ProgressBar);

impl ProgressTask for Bar {
    fn inc(&self, units: u64) {
        self.0.inc(units);
    }

    fn set_detail(&self, detail: &str) {
        self.0.set_message(detail.to_string());
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64) -> Box<dyn ProgressTask + '_> {
        let bar = self.0.add(if total > 0 { ProgressBar::new(total) } else { ProgressBar::new_spinner() });
        let template = if total > 0 {
            "{msg:32} [{bar:30}] {percent:>3}% {elapsed} (eta {eta})"
        } else {
            "{msg:32} {spinner} {elapsed}"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
        bar.set_message(label.to_string());
        Box::new(Bar(bar))
    }

    fn warn(&self, message: &str) {
        // Above the bars, so they are not torn.
        if self.0.println(format!("warning: {message}")).is_err() {
            eprintln!("warning: {message}");
        }
    }
}

fn main() -> ExitCode {
    // automaster chooses its GPU adapter itself; Mesa's device-select Vulkan layer would only probe
    // the display and print errors on headless machines. Set before any thread starts.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    // Subnormals flushed to zero on every thread (see `fpenv`): silence would otherwise slow the
    // recursions several-fold on Intel cores. Before anything starts rayon's pool.
    if let Err(e) = automaster::internals::fpenv::flush_subnormals_everywhere() {
        eprintln!("warning: subnormal floats stay on: {e}");
    }
    let cli = Cli::parse();
    let bars;
    let progress: &dyn Progress = if cli.quiet || !std::io::stderr().is_terminal() {
        &NoProgress
    } else {
        bars = Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        &bars
    };
    match run(cli.command, progress) {
        Ok(code) => code,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, progress: &dyn Progress) -> Result<ExitCode> {
    if let Command::Batch(a) = command {
        return batch(a, progress);
    }
    run_one(command, progress).map(|()| ExitCode::SUCCESS)
}

fn run_one(command: Command, progress: &dyn Progress) -> Result<()> {
    match command {
        Command::Master(a) => {
            if a.platforms.iter().any(|p| p == "list") {
                print_platforms();
                return Ok(());
            }
            let platforms = a.platforms.iter().map(|p| Platform::named(p)).collect::<Result<Vec<_>, _>>()?;
            if platforms.len() > 1 || a.output.is_dir() {
                return master_pack(&a, &platforms, progress);
            }
            let platform = platforms.first();
            let device = a.device.open()?;
            let restore = a.repair.parse(&a.restore)?;
            let job = a.job(platform, a.plan_out.as_deref(), &device, restore.as_ref());
            let mastered = jobs::master(&job, progress)?;
            report(&mastered.summary, a.out.json)?;
            if let (Some(data), false) = (&mastered.report, a.out.json) {
                print!("{}", automaster::internals::report::terminal_table(data));
            }
            Ok(())
        }
        Command::Report(a) => {
            let device = a.device.open()?;
            let job = ReportJob {
                inputs: &a.files,
                reference: a.reference.as_deref(),
                device: &device,
                out: ReportOut { html: a.output.as_deref(), json: a.json.as_deref() },
            };
            let data = jobs::report(&job, progress)?;
            print!("{}", automaster::internals::report::terminal_table(&data));
            for path in a.output.iter().chain(&a.json) {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Render(a) => {
            let summary = jobs::render_with_plan(
                &a.target,
                &a.plan,
                &a.output,
                &a.out.delivery(None),
                a.input.options(),
                progress,
            )?;
            report(&summary, a.out.json)
        }
        Command::Deliver(a) => deliver(&a, progress),
        Command::Restore(a) => restore(&a, progress),
        Command::Album(a) => album(&a, progress),
        Command::Analyze(a) => analyze(&a, progress),
        Command::Demo(a) => demo(&a.out, &a.device.open()?, progress),
        Command::Batch(_) => unreachable!("batch is run by `run`"),
    }
}

fn batch(a: BatchArgs, progress: &dyn Progress) -> Result<ExitCode> {
    if let Some(BatchAction::Status { dir, json }) = &a.action {
        let lines = batch::status(dir)?;
        if *json {
            println!("{}", serde_json::to_string_pretty(&lines)?);
        } else {
            let count = |s: &str| lines.iter().filter(|l| l.status == s).count();
            println!(
                "{} rows: {} done, {} failed, {} pending",
                lines.len(),
                count("done"),
                count("failed"),
                count("pending")
            );
            for l in lines.iter().filter(|l| l.status == "failed") {
                println!("  failed  {}: {}", l.output, l.error.as_deref().unwrap_or(""));
            }
        }
        return Ok(if lines.iter().all(|l| l.status == "done") {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(batch::EXIT_SOME_FAILED)
        });
    }
    let Some(out_dir) = a.out_dir.as_deref() else { bail!("--out-dir is needed") };
    let manifest = match (&a.manifest, &a.targets) {
        (Some(m), _) => Manifest::load(m, !a.references.is_empty())?,
        (None, Some(glob)) => {
            if a.references.is_empty() {
                bail!("--targets needs --reference");
            }
            let m = Manifest::from_glob(glob)?;
            std::fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
            let csv = m.to_csv()?;
            write_atomically(&out_dir.join("manifest.csv"), |f| {
                std::io::Write::write_all(f, csv.as_bytes()).map_err(|e| e.to_string())
            })?;
            m
        }
        (None, None) => bail!("give a manifest or --targets GLOB"),
    };
    let shard = match a.shard {
        Some(choice) => Shard::new(choice, a.shards, |k| std::env::var(k).ok())?,
        None if a.shards > 1 => bail!("--shards needs --shard"),
        None => Shard::WHOLE,
    };
    let device = a.device.open()?;
    let job = BatchJob {
        manifest: &manifest,
        out_dir,
        default_references: &a.references,
        settings: a.matching.settings(None),
        delivery: Delivery {
            spec: OutputSpec { bit_depth: a.bit_depth, dither: a.dither, sample_rate_hz: a.sample_rate },
            ..a.bit_depth.into()
        },
        device: &device,
        jobs: a.jobs,
        memory_budget: a.memory_budget.unwrap_or_else(default_memory_budget),
        retry_failed: a.retry_failed,
        fail_fast: a.fail_fast,
        shard,
        reports: a.reports,
    };
    let json = a.json;
    let on_row = |e: &batch::RowEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(e) {
                println!("{line}");
            }
        } else if let Some(error) = e.error {
            progress.warn(&format!("{} failed: {error}", e.output));
        }
    };
    let outcome = batch::run(&job, &NoProgressInRows(progress), &on_row)?;
    if json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        println!(
            "{} rows: {} mastered, {} already done, {} failed, {} not run; catalogue in {}",
            outcome.rows,
            outcome.done,
            outcome.skipped,
            outcome.failed,
            outcome.not_run,
            out_dir.join("catalogue.csv").display()
        );
    }
    Ok(if outcome.failed + outcome.not_run == 0 { ExitCode::SUCCESS } else { ExitCode::from(batch::EXIT_SOME_FAILED) })
}

/// The batch's own bar (tracks done of total) and warnings, without each track's stage bars.
struct NoProgressInRows<'a>(&'a dyn Progress);

impl Progress for NoProgressInRows<'_> {
    fn start(&self, label: &str, total: u64) -> Box<dyn ProgressTask + '_> {
        if label == "batch" {
            self.0.start(&format!("{total} tracks"), total)
        } else {
            NoProgress.start(label, total)
        }
    }

    fn warn(&self, message: &str) {
        self.0.warn(message);
    }
}

impl MatchArgs {
    /// The settings these flags ask for, with `platform`'s loudness, ceiling and bass mono where
    /// they give none (`--loudness reference` keeps the reference's loudness on any platform).
    fn settings(&self, platform: Option<&Platform>) -> MatchSettings {
        let target_lufs = match self.loudness {
            Some(LoudnessChoice::Lufs(l)) => Some(l),
            Some(LoudnessChoice::Reference) => None,
            None => self.lufs.or(platform.and_then(|p| p.target_lufs)),
        };
        MatchSettings {
            target_lufs,
            ceiling_dbtp: self.ceiling.or(platform.map(|p| p.ceiling_dbtp)).unwrap_or(-1.0),
            max_limiting_db: self.max_limiting_db,
            bass_mono_min_hz: platform.and_then(|p| p.bass_mono_hz),
            ..self.amounts.settings()
        }
    }
}

/// `master` with several platforms (or `-o` a folder): one delivery per platform in the folder,
/// from one analysis and one matching, and a table of what each got.
fn master_pack(a: &MasterArgs, platforms: &[Platform], progress: &dyn Progress) -> Result<()> {
    if a.plan_out.is_some() && !platforms.is_empty() {
        bail!("with several --platform, each delivery's plan is written beside it; --plan-out is for one output");
    }
    let paths = pack_paths(&a.target, &a.output, platforms, a.out.format)?;
    let outputs: Vec<PackOutput> = platforms
        .iter()
        .zip(paths)
        .map(|(p, output)| PackOutput {
            name: p.name.to_string(),
            output,
            delivery: a.out.delivery(Some(p)),
            settings: a.matching.settings(Some(p)),
        })
        .collect();
    let device = a.device.open()?;
    let restore = a.repair.parse(&a.restore)?;
    let job = a.job(None, None, &device, restore.as_ref());
    let summaries = jobs::master_pack(&job, &outputs, progress)?;
    if a.out.json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
        return Ok(());
    }
    let rows = outputs.iter().zip(&summaries).map(|(o, s)| (o.name.as_str(), o.output.as_path(), s));
    print_pack(&a.target, &a.output, rows);
    Ok(())
}

/// A pack's files: `DIR/<input>.<platform>.<wav|flac>`, the folder made; refused without a platform.
fn pack_paths(input: &Path, dir: &Path, platforms: &[Platform], format: Option<Container>) -> Result<Vec<PathBuf>> {
    if platforms.is_empty() {
        bail!("{} is a folder: give one or more --platform to deliver into it", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stem = input.file_stem().map_or_else(|| "master".into(), |s| s.to_string_lossy().into_owned());
    let ext = format.unwrap_or(Container::Wav).extension();
    Ok(platforms.iter().map(|p| dir.join(format!("{stem}.{}.{ext}", p.name))).collect())
}

/// A pack's table: what each platform's delivery got.
fn print_pack<'a>(input: &Path, dir: &Path, rows: impl Iterator<Item = (&'a str, &'a Path, &'a Summary)>) {
    println!("{} -> {}", input.display(), dir.display());
    println!(
        "  {:<12} {:>9} {:>9} {:>9} {:>8} {:>6} {:>7} {:>11}  file",
        "platform", "target", "LUFS", "dBTP", "ceiling", "rate", "format", "after codec"
    );
    for (name, output, s) in rows {
        let bits = s.bit_depth.int_bits().map_or("32f".to_string(), |b| b.to_string());
        let codec = s
            .codec_check
            .as_ref()
            .map_or("-".into(), |c| format!("{:.2}{}", c.post_codec_true_peak_dbtp, if c.passed { "" } else { "!" }));
        println!(
            "  {:<12} {:>9.2} {:>9.2} {:>9.2} {:>8.1} {:>6} {:>7} {:>11}  {}",
            name,
            s.loudness_target_lufs,
            s.loudness_after_lufs,
            s.true_peak_after_dbtp,
            s.ceiling_dbtp,
            s.sample_rate,
            format!("{}/{bits}", s.format.extension()),
            codec,
            output.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        if let Some(short) = &s.render.loudness_shortfall {
            println!(
                "    warning: loudness target missed by {:.2} LU: {}",
                short.missed_by_lu,
                short.reason.describe()
            );
        }
    }
}

/// `deliver`: one file, or with several platforms (or `-o` a folder) one per platform.
fn deliver(a: &DeliverArgs, progress: &dyn Progress) -> Result<()> {
    if a.platforms.iter().any(|p| p == "list") {
        print_platforms();
        return Ok(());
    }
    let platforms = a.platforms.iter().map(|p| Platform::named(p)).collect::<Result<Vec<_>, _>>()?;
    if platforms.len() <= 1 && !a.output.is_dir() {
        let summary = jobs::deliver::deliver(&a.job(platforms.first(), &a.output), progress)?;
        return report(&summary, a.out.json);
    }
    let outputs = pack_paths(&a.master, &a.output, &platforms, a.out.format)?;
    let summaries = platforms
        .iter()
        .zip(&outputs)
        .map(|(p, o)| jobs::deliver::deliver(&a.job(Some(p), o), progress))
        .collect::<Result<Vec<_>, _>>()?;
    if a.out.json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
        return Ok(());
    }
    let rows = platforms.iter().zip(&outputs).zip(&summaries).map(|((p, o), s)| (p.name, o.as_path(), s));
    print_pack(&a.master, &a.output, rows);
    Ok(())
}

fn restore(a: &RestoreArgs, progress: &dyn Progress) -> Result<()> {
    let request = a.request();
    let job = DeliverJob {
        input: &a.input,
        output: &a.output,
        delivery: a.out.delivery(None),
        bit_depth_given: a.out.bit_depth.is_some(),
        loudness: Loudness::Keep,
        ceiling_dbtp: a.ceiling.unwrap_or(0.0),
        max_limiting_db: None,
        bass_mono_hz: None,
        decode: a.input_options.options(),
        restore: Some(&request),
        residual_out: a.repair.residual_out.as_deref(),
    };
    if let Some(p) = &a.report {
        check_writable(p)?;
    }
    let summary = jobs::deliver::deliver(&job, progress)?;
    if let (Some(p), Some(r)) = (&a.report, &summary.restoration) {
        let generator = format!("automaster {}", env!("CARGO_PKG_VERSION"));
        let html = automaster::internals::report::restoration::to_html(&summary.target, r, &generator)?;
        write_atomically(p, |f| std::io::Write::write_all(f, html.as_bytes()).map_err(|e| e.to_string()))?;
    }
    report(&summary, a.out.json)
}

fn album(a: &AlbumArgs, progress: &dyn Progress) -> Result<()> {
    use automaster::internals::jobs::album::{self, AlbumJob};
    use automaster::internals::model::album::{Album, LoudnessPolicy};
    let device = a.device.open()?;
    let (s, source) = match (&a.plan, &a.album) {
        (Some(plan), _) => (album::album_from_plan(plan, &a.output, a.input.options(), &device, progress)?, plan),
        (None, Some(path)) => {
            let mut spec = Album::load(path)?;
            if let Some(name) = &a.platform {
                spec.platform = Some(Platform::named(name)?);
            }
            let job = AlbumJob {
                album: &spec,
                out_dir: &a.output,
                consistency: a.consistency,
                loudness_policy: a.loudness_policy.map(|p| match p {
                    AlbumPolicy::Album => LoudnessPolicy::Album,
                    AlbumPolicy::Track => LoudnessPolicy::Track,
                }),
                device: &device,
                decode: a.input.options(),
                settings: a.amounts.settings(),
            };
            (album::album(&job, progress)?, path)
        }
        (None, None) => bail!("give an album file or --plan"),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let bits = s.bit_depth.int_bits().map_or("32f".to_string(), |b| b.to_string());
    println!(
        "{} -> {} ({} {} Hz/{bits}{}, {:.1} s, true peak {:.2} dBTP, ceiling {:.1})",
        source.display(),
        a.output.join(&s.image).display(),
        s.image,
        s.sample_rate,
        if s.red_book { ", Red Book" } else { "" },
        s.duration_s,
        s.true_peak_dbtp,
        s.ceiling_dbtp
    );
    println!(
        "  {:<3} {:<28} {:>8} {:>9} {:>9} {:>7} {:>7} {:>8}",
        "#", "title", "start", "mix LUFS", "planned", "LUFS", "LRA", "dBTP"
    );
    for (i, t) in s.tracks.iter().enumerate() {
        println!(
            "  {:<3} {:<28} {:>8.2} {:>9.2} {:>9.2} {:>7.2} {:>7.1} {:>8.2}",
            i + 1,
            t.title.chars().take(28).collect::<String>(),
            t.index_01_s,
            t.mix_lufs,
            t.planned_lufs,
            t.lufs,
            t.range_lu,
            t.true_peak_dbtp
        );
    }
    println!("  report {}, plan {}", a.output.join(&s.report).display(), a.output.join(&s.plan).display());
    Ok(())
}

fn print_platforms() {
    println!("{:<12} {:>7} {:>8} {:>7} {:>5}  source", "platform", "LUFS", "ceiling", "rate", "bits");
    for p in automaster::internals::model::platform::PLATFORMS {
        println!(
            "{:<12} {:>7} {:>8.1} {:>7} {:>5}  {}",
            p.name,
            p.target_lufs.map_or("-".to_string(), |l| format!("{l:.0}")),
            p.ceiling_dbtp,
            p.sample_rate_hz,
            p.bit_depth.int_bits().map_or("32f".to_string(), |b| b.to_string()),
            p.source
        );
    }
}

fn report(s: &Summary, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("{} -> {}", s.target, s.output);
    if !s.references.is_empty() {
        println!("  reference    {}", s.references.join(", "));
    }
    if let Some(r) = &s.restoration {
        println!(
            "  restoration  {}; took out {:.1} dB re the input ({:.2} s)",
            r.asked.join(", "),
            r.removed_db.max(-200.0),
            r.seconds
        );
        for c in &r.declip {
            let level =
                |l: Option<f32>| l.map_or("–".to_string(), |l| format!("{:+.2} dBFS", 20.0 * l.abs().log10()));
            println!(
                "  clipping     channel {}: levels {} / {}, {} runs, {} samples rebuilt",
                c.channel,
                level(c.positive),
                level(c.negative),
                c.runs,
                c.samples
            );
        }
        if let Some(h) = &r.dehum {
            let lines: Vec<String> =
                h.harmonics.iter().map(|l| format!("{:.2} Hz {:.0} dBFS", l.freq_hz, l.level_db)).collect();
            println!("  hum          {:.3} Hz: {}", h.fundamental_hz, lines.join(", "));
        }
        for f in &r.dehiss {
            println!(
                "  noise floor  channel {}: {:.1} dBFS (measured over {:.1} s)",
                f.channel, f.level_dbfs, f.measured_s
            );
        }
        if let Some(d) = &r.declick {
            let first: Vec<String> = d.at_s.iter().take(8).map(|(c, t)| format!("{t:.3} s (ch {c})")).collect();
            println!(
                "  clicks       {} ({:.1}/min, {} samples, longest {:.2} ms){}{}",
                d.clicks,
                d.per_minute,
                d.samples_repaired,
                d.longest_ms,
                if first.is_empty() { String::new() } else { format!(": {}", first.join(", ")) },
                if d.clicks > first.len() { ", …" } else { "" }
            );
        }
    }
    let bits = s.bit_depth.int_bits().map_or("32-bit float".to_string(), |b| format!("{b}-bit"));
    let rate = if s.sample_rate == s.input_sample_rate {
        format!("{} Hz", s.sample_rate)
    } else {
        format!("{} -> {} Hz", s.input_sample_rate, s.sample_rate)
    };
    let dither = if s.bit_depth.int_bits().is_some() {
        format!(", {:?} dither", s.dither).to_lowercase()
    } else {
        String::new()
    };
    let tags: Vec<String> = s.tags.fields().iter().filter_map(|(k, v)| v.map(|v| format!("{k}={v}"))).collect();
    println!(
        "  format       {} {bits}, {rate}{dither}{}",
        s.format.extension().to_uppercase(),
        if tags.is_empty() { String::new() } else { format!("; tags {}", tags.join(", ")) }
    );
    println!(
        "  loudness     {:.1} LUFS -> {:.2} LUFS (target {:.2}); true peak {:.2} -> {:.2} dBTP (ceiling {:.1})",
        s.loudness_before_lufs,
        s.loudness_after_lufs,
        s.loudness_target_lufs,
        s.true_peak_before_dbtp,
        s.true_peak_after_dbtp,
        s.ceiling_dbtp
    );
    println!(
        "  EQ           mid {:+.1}/{:+.1} dB, side {:+.1}/{:+.1} dB; gain {:+.1} dB; limiter up to {:.1} dB",
        s.eq.mid_max_boost_db,
        s.eq.mid_max_cut_db,
        s.eq.side_max_boost_db,
        s.eq.side_max_cut_db,
        s.render.gain_db,
        s.render.limit.max_gain_reduction_db
    );
    let clipper = s.render.clipper.as_ref().map_or("clipper off".to_string(), |c| {
        format!("clipper up to {:.1} dB ({:.1} s above 3 dB)", c.max_reduction_db, c.seconds_above_3db)
    });
    println!(
        "  peaks        {clipper}, limiter up to {:.1} dB ({:.1} s above 3 dB)",
        s.render.limit.max_gain_reduction_db, s.render.limit.seconds_above_3db
    );
    if let Some(d) = &s.render.dynamics {
        let bands: Vec<String> = d
            .settings
            .bands
            .iter()
            .zip(&d.bands)
            .map(|(c, b)| {
                let kind = if c.ratio > 1.0 {
                    format!("{:.1}:1", c.ratio)
                } else if c.expansion_ratio > 1.0 {
                    format!("exp {:.2}", c.expansion_ratio)
                } else {
                    "off".into()
                };
                format!("{kind} (spread {:.1}->{:.1} dB)", b.spread_before_db, b.spread_after_db)
            })
            .collect();
        println!("  dynamics     {}", bands.join(", "));
        if let Some(l) = &d.leveler {
            println!(
                "  leveller     {:.2} dB/dB below {:.1} LUFS (cut {:.1}, boost {:.1} dB); loudness range {:.1} -> {:.1} LU (predicted)",
                l.settings.ratio, l.settings.threshold_lufs, l.max_cut_db, l.max_boost_db, l.range_before_lu, l.range_after_lu
            );
        }
    }
    if let Some(c) = &s.codec_check {
        let last = c.rounds.last().map_or(s.ceiling_dbtp, |r| r.limiter_ceiling_dbtp);
        println!(
            "  codec check  {} {} kbit/s: true peak {:.2} dBTP after the codec (ceiling {:.1}); {} round{}, limiter ceiling {:.2} dBTP{}",
            c.codec,
            c.bitrate_kbps,
            c.post_codec_true_peak_dbtp,
            c.ceiling_dbtp,
            c.rounds.len(),
            if c.rounds.len() == 1 { "" } else { "s" },
            last,
            if c.passed { "" } else { " — still over: lower --ceiling" }
        );
    }
    if let Some(short) = &s.render.loudness_shortfall {
        println!("  warning      loudness target missed by {:.2} LU: {}", short.missed_by_lu, short.reason.describe());
    } else if !s.render.loudness_target_reached {
        println!("  warning      the loudness target was not reached within 0.1 LU");
    }
    println!("  time         {:.2} s", s.timings.total_s);
    Ok(())
}

fn analyze(a: &AnalyzeArgs, progress: &dyn Progress) -> Result<()> {
    let several = a.files.len() > 1;
    if let Some(out) = &a.output {
        let inputs: Vec<&Path> = a.files.iter().map(PathBuf::as_path).collect();
        jobs::check_output(out, &inputs)?;
        if several && !out.is_dir() {
            bail!("{}: with several inputs, -o must be an existing folder", out.display());
        }
    }
    let device = a.device.open()?;
    let mut all = Vec::new();
    for (file, profile) in a.files.iter().zip(jobs::analyze_files(&a.files, &device, progress)?) {
        let json = profile.to_json();
        match &a.output {
            Some(out) => {
                let path = if several {
                    let stem = file.file_stem().map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned());
                    out.join(format!("{stem}.profile.json"))
                } else {
                    out.clone()
                };
                write_atomically(&path, |f| std::io::Write::write_all(f, json.as_bytes()).map_err(|e| e.to_string()))?;
            }
            None => all.push(profile),
        }
    }
    if a.output.is_none() {
        let text = if several { serde_json::to_string_pretty(&all)? } else { all[0].to_json() };
        println!("{text}");
    }
    Ok(())
}

const DEMO_MIX: (&str, &[u8]) = (
    "sectoid_escape_from_chaosland_mix_excerpt.flac",
    include_bytes!("../references/sectoid_escape_from_chaosland_mix_excerpt.flac"),
);
const DEMO_REFERENCE: (&str, &[u8]) =
    ("sectoid_war_of_freedom_excerpt.ogg", include_bytes!("../references/sectoid_war_of_freedom_excerpt.ogg"));

fn demo(dir: &Path, device: &SpectrumDevice, progress: &dyn Progress) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |(name, bytes): (&str, &[u8])| -> Result<PathBuf> {
        let path = dir.join(name);
        write_atomically(&path, |f| std::io::Write::write_all(f, bytes).map_err(|e| e.to_string()))?;
        Ok(path)
    };
    let (mix, reference) = (write(DEMO_MIX)?, write(DEMO_REFERENCE)?);
    let (output, plan, summary_path, report_path) =
        (dir.join("master.wav"), dir.join("plan.json"), dir.join("summary.json"), dir.join("report.html"));
    let job = MasterJob {
        target: &mix,
        references: std::slice::from_ref(&reference),
        weights: &[],
        output: &output,
        plan_out: Some(&plan),
        settings: MatchSettings::default(),
        delivery: BitDepth::Int24.into(),
        device,
        report: ReportOut { html: Some(&report_path), json: None },
        target_profile: None,
        decode: Default::default(),
        restore: None,
        residual_out: None,
    };
    let summary = jobs::master(&job, progress)?.summary;
    let json = serde_json::to_string_pretty(&summary)?;
    write_atomically(&summary_path, |f| std::io::Write::write_all(f, json.as_bytes()).map_err(|e| e.to_string()))?;
    report(&summary, false)?;
    println!("  wrote        {} (master, plan.json, summary.json, report.html and the two inputs)", dir.display());
    Ok(())
}
