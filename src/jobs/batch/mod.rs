//! `automaster batch`: a catalogue mastered unattended. Each distinct reference is analysed once
//! (its profile cached in the output folder by content hash); rows run `jobs` at a time inside a
//! memory budget on the one shared thread pool; a ledger records each row, so a second run skips
//! what is done, redoes what changed and (asked) retries what failed; a failing row is recorded
//! and the rest go on; `--shard I --shards N` takes every N-th row, so shards of a Slurm array or
//! a Kubernetes Indexed Job share one folder.
pub mod catalogue;
pub mod ledger;
pub mod manifest;
mod shard;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rayon::prelude::*;
use serde::Serialize;

use self::catalogue::Entry;
use self::ledger::{Event, Ledger, Status};
use self::manifest::{Manifest, Row};
pub use self::shard::{Shard, ShardChoice};
use super::{file_name, master, Delivery, MasterJob, ReportOut};
use crate::analysis::analyze;
use crate::analysis::device::SpectrumDevice;
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::io::decode::{announced_size, decode_file};
use crate::io::encode::{remove_stale_parts, write_atomically};
use crate::model::{Dither, MatchSettings, OutputSpec, Platform, Profile, Tags};
use crate::progress::Progress;
use crate::report::data::distances;

/// Exit status of a batch in which some rows failed (every other row done).
pub const EXIT_SOME_FAILED: u8 = 3;

/// A batch as the command line gives it.
pub struct BatchJob<'a> {
    pub manifest: &'a Manifest,
    pub out_dir: &'a Path,
    /// For rows without a reference of their own.
    pub default_references: &'a [PathBuf],
    /// Defaults a row's own columns override.
    pub settings: MatchSettings,
    /// The output format of rows without their own (tags: none given).
    pub delivery: Delivery,
    pub device: &'a SpectrumDevice,
    /// Rows run at once (`None`: one per core).
    pub jobs: Option<usize>,
    /// Bytes the rows in flight may hold together (estimated from their decoded size).
    pub memory_budget: u64,
    pub retry_failed: bool,
    pub fail_fast: bool,
    pub shard: Shard,
    /// Also a report per track (`DIR/reports/<output>.html`).
    pub reports: bool,
}

/// What a run did with its shard's rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchOutcome {
    pub rows: usize,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Rows not run because of `--fail-fast`, or failed before and not retried.
    pub not_run: usize,
    pub stale_parts_removed: usize,
}

/// One line of progress for `--json` and the bars: a row finished.
#[derive(Debug, Clone, Serialize)]
pub struct RowEvent<'a> {
    pub output: &'a str,
    pub status: &'a str,
    pub error: Option<&'a str>,
}

/// Runs the batch; `on_row` hears of each row as it ends.
pub fn run(job: &BatchJob, progress: &dyn Progress, on_row: &(dyn Fn(&RowEvent) + Sync)) -> Result<BatchOutcome> {
    std::fs::create_dir_all(job.out_dir).map_err(|e| Error::io(job.out_dir, e))?;
    job.manifest.check_outputs_against_inputs(job.out_dir)?;
    let mut outcome = BatchOutcome { stale_parts_removed: remove_stale_parts(job.out_dir)?, ..Default::default() };
    let rows: Vec<&Row> = job.shard.rows(&job.manifest.rows);
    outcome.rows = rows.len();
    let references = References::prepare(job, &rows, progress)?;
    let latest = ledger::latest(job.out_dir)?;
    let ledger = Ledger::new(job.out_dir);
    manifest::save_copy(job.manifest, job.out_dir)?;
    let mut todo = Vec::new();
    for row in rows {
        let work = match references.work(job, row) {
            Ok(work) => work,
            Err(e) => {
                // A reference that cannot be read fails its rows, not the batch.
                let key = row.output.display().to_string();
                ledger.record(&Event::failed(&key, e.to_string()))?;
                on_row(&RowEvent { output: &key, status: "failed", error: Some(&e.to_string()) });
                outcome.failed += 1;
                continue;
            }
        };
        match latest.get(&work.key) {
            Some(e) if e.status == Status::Done && work.matches(e) && output_hash(&work.output) == e.output_hash => {
                outcome.skipped += 1;
            }
            Some(e) if e.status == Status::Failed && work.matches(e) && !job.retry_failed => outcome.not_run += 1,
            _ => todo.push(work),
        }
    }
    if job.device.has_gpu() {
        analyse_targets_on_gpu(&mut todo, job, progress);
    }
    let run = Runner { job, ledger: &ledger, budget: Budget::new(job.memory_budget), stop: Mutex::new(false) };
    let results = run.all(todo, progress, on_row);
    outcome.done += results.iter().filter(|r| **r == Some(true)).count();
    outcome.failed += results.iter().filter(|r| **r == Some(false)).count();
    outcome.not_run += results.iter().filter(|r| r.is_none()).count();
    catalogue::write(job.out_dir, &catalogue::lines(job.manifest, &ledger::latest(job.out_dir)?))?;
    Ok(outcome)
}

/// The batch's references: each distinct file's content hash and profile (analysed once, cached
/// under `DIR/.automaster/profiles/`).
struct References {
    /// Reference path → (content hash, profile path), or why it cannot be used.
    known: HashMap<PathBuf, std::result::Result<(String, PathBuf), String>>,
}

impl References {
    fn prepare(job: &BatchJob, rows: &[&Row], progress: &dyn Progress) -> Result<Self> {
        let cache = job.out_dir.join(".automaster").join("profiles");
        std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
        let mut known = HashMap::new();
        let wanted =
            rows.iter().flat_map(|r| if r.references.is_empty() { job.default_references } else { &r.references[..] });
        for path in wanted {
            if !known.contains_key(path) {
                known
                    .insert(path.clone(), Self::profile(path, &cache, job.device, progress).map_err(|e| e.to_string()));
            }
        }
        Ok(References { known })
    }

    /// The content hash of the reference at `path` and its profile's path: the file itself when it
    /// is a profile, else the cached analysis (made now when it is not cached yet).
    /// It is analysed on `device`, as `automaster master` would analyse it.
    fn profile(
        path: &Path,
        cache: &Path,
        device: &SpectrumDevice,
        progress: &dyn Progress,
    ) -> Result<(String, PathBuf)> {
        let hash = hash_file(path)?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Profile::load(path)?;
            return Ok((hash, path.to_path_buf()));
        }
        // Keyed by the content and by what analysed it: the engine's version and the device (a
        // GPU's sums round differently from the CPU's).
        let by = blake3::hash(format!("{} {}", env!("CARGO_PKG_VERSION"), device.describe()).as_bytes()).to_hex();
        let cached = cache.join(format!("{hash}-{}.profile.json", &by[..16]));
        if !cached.exists() {
            let audio = decode_file(path, progress)?;
            let profile = super::analyze_buffers(&[(&audio, file_name(path))], device, progress)?.remove(0);
            write_atomically(&cached, |f| {
                std::io::Write::write_all(f, profile.to_json().as_bytes()).map_err(|e| e.to_string())
            })?;
        }
        Ok((hash, cached))
    }

    /// A row's work: its effective settings and the hashes that decide whether it must run.
    fn work(&self, job: &BatchJob, row: &Row) -> Result<Work> {
        let refs = if row.references.is_empty() { job.default_references } else { &row.references[..] };
        let o = &row.options;
        // The row's cells over its platform's values over the batch's.
        let platform = o.platform.as_deref().map(Platform::named).transpose()?;
        let base = &job.settings;
        let settings = MatchSettings {
            target_lufs: o.lufs.or(platform.and_then(|p| p.target_lufs)).or(base.target_lufs),
            ceiling_dbtp: o.ceiling.or(platform.map(|p| p.ceiling_dbtp)).unwrap_or(base.ceiling_dbtp),
            max_limiting_db: o.max_limiting_db.or(base.max_limiting_db),
            bass_mono_min_hz: platform.map_or(base.bass_mono_min_hz, |p| p.bass_mono_hz),
            eq_amount: o.eq_amount.map_or(base.eq_amount, |a| a / 100.0),
            width_amount: o.width_amount.map_or(base.width_amount, |a| a / 100.0),
            dynamics_amount: o.dynamics_amount.map_or(base.dynamics_amount, |a| a / 100.0),
            ..base.clone()
        };
        let spec = &job.delivery.spec;
        let delivery = Delivery {
            spec: OutputSpec {
                bit_depth: o.bit_depth.or(platform.map(|p| p.bit_depth)).unwrap_or(spec.bit_depth),
                dither: o.dither.unwrap_or(spec.dither),
                sample_rate_hz: o.sample_rate.or(platform.map(|p| p.sample_rate_hz)).or(spec.sample_rate_hz),
            },
            tags: o.tags.clone(),
            ..job.delivery.clone()
        };
        let known: Vec<(String, PathBuf)> = refs
            .iter()
            .map(|r| {
                self.known[r].clone().map_err(|e| Error::InvalidSetting(format!("reference {}: {e}", r.display())))
            })
            .collect::<Result<_>>()?;
        let (ref_hashes, profiles): (Vec<String>, Vec<PathBuf>) = known.into_iter().unzip();
        let target_hash = hash_file(&row.target).unwrap_or_else(|e| format!("unreadable: {e}"));
        let input_hash =
            blake3::hash(format!("{target_hash} {}", ref_hashes.join(" ")).as_bytes()).to_hex().to_string();
        let mut described = serde_json::json!({
            "engine": env!("CARGO_PKG_VERSION"), "settings": settings, "bit_depth": delivery.spec.bit_depth
        });
        // Only where a row asks for them, so that ledgers written before these existed still match.
        let spec = delivery.spec;
        if spec.sample_rate_hz.is_some() || spec.dither != Dither::Auto || delivery.tags != Tags::default() {
            described["output"] =
                serde_json::json!({ "sample_rate": spec.sample_rate_hz, "dither": spec.dither, "tags": delivery.tags });
        }
        let settings_hash = blake3::hash(described.to_string().as_bytes()).to_hex().to_string();
        Ok(Work {
            key: row.output.display().to_string(),
            row: row.clone(),
            output: job.out_dir.join(&row.output),
            profiles,
            settings,
            delivery,
            input_hash,
            settings_hash,
            target_profile: None,
        })
    }
}

/// One row ready to run.
struct Work {
    key: String,
    row: Row,
    output: PathBuf,
    /// The references' profiles (cached or given).
    profiles: Vec<PathBuf>,
    settings: MatchSettings,
    delivery: Delivery,
    input_hash: String,
    settings_hash: String,
    /// The target's profile, when the targets were analysed together on the GPU.
    target_profile: Option<Profile>,
}

impl Work {
    fn matches(&self, e: &Event) -> bool {
        e.input_hash == self.input_hash && e.settings_hash == self.settings_hash
    }
}

/// Tracks the GPU analyses in one batch, at most.
const GPU_BATCH: usize = 16;

/// The targets of `todo` analysed on the GPU in batches of up to [`GPU_BATCH`] tracks whose
/// decoded audio together takes at most half the memory budget; a target that does not decode is
/// left to its row, which fails with the error.
fn analyse_targets_on_gpu(todo: &mut [Work], job: &BatchJob, progress: &dyn Progress) {
    let decoded_bytes = |w: &Work| announced_size(&w.row.target).map_or(0, |(f, c)| f * c as u64 * 4);
    let mut rest = &mut todo[..];
    while !rest.is_empty() {
        let mut n = 0;
        let mut bytes = 0;
        while n < rest.len().min(GPU_BATCH) && (n == 0 || bytes + decoded_bytes(&rest[n]) <= job.memory_budget / 2) {
            bytes += decoded_bytes(&rest[n]);
            n += 1;
        }
        let (batch, later) = rest.split_at_mut(n);
        let decoded: Vec<Option<AudioBuffer>> =
            batch.par_iter().map(|w| decode_file(&w.row.target, progress).ok()).collect();
        let tracks: Vec<(&AudioBuffer, String)> = decoded
            .iter()
            .zip(batch.iter())
            .filter_map(|(b, w)| b.as_ref().map(|b| (b, file_name(&w.row.target))))
            .collect();
        if let Ok(profiles) = super::analyze_buffers(&tracks, job.device, progress) {
            let mut profiles = profiles.into_iter();
            for (w, b) in batch.iter_mut().zip(&decoded) {
                if b.is_some() {
                    w.target_profile = profiles.next();
                }
            }
        }
        rest = later;
    }
}

fn hash_file(path: &Path) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    std::io::copy(&mut std::io::BufReader::with_capacity(1 << 20, file), &mut hasher)
        .map_err(|e| Error::io(path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn output_hash(path: &Path) -> Option<String> {
    hash_file(path).ok()
}

/// Bytes the rows in flight hold: a row waits until its estimate fits (one larger than the whole
/// budget runs alone).
struct Budget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Budget {
    fn new(total: u64) -> Self {
        Budget { total, used: Mutex::new(0), freed: Condvar::new() }
    }

    fn acquire(&self, bytes: u64) -> u64 {
        let bytes = bytes.min(self.total);
        let mut used = self.used.lock().expect("budget lock");
        while *used + bytes > self.total {
            used = self.freed.wait(used).expect("budget lock");
        }
        *used += bytes;
        bytes
    }

    fn release(&self, bytes: u64) {
        *self.used.lock().expect("budget lock") -= bytes;
        self.freed.notify_all();
    }
}

/// A row's peak memory, estimated from the frames its header announces: the render holds up to
/// about four copies of the decoded track while the soft clipper's share settles (measured: 390 MB
/// for a 5-min stereo track of 106 MB with the clipper engaged, 270 MB without; 2.9 GB for an hour
/// of 1.27 GB without), plus the reference's profile and scratch.
fn estimated_bytes(target: &Path) -> u64 {
    const PER_SAMPLE: u64 = 4 * 4;
    const BASE: u64 = 64 << 20;
    announced_size(target)
        .map_or(BASE + (10 << 20) * PER_SAMPLE, |(frames, channels)| BASE + frames * channels as u64 * PER_SAMPLE)
}

struct Runner<'a> {
    job: &'a BatchJob<'a>,
    ledger: &'a Ledger,
    budget: Budget,
    /// Set by `--fail-fast` at the first failure.
    stop: Mutex<bool>,
}

impl Runner<'_> {
    /// Runs `todo` on `jobs` worker threads (each row's own work on the shared rayon pool, so the
    /// threads busy stay the cores'); per row Some(done?) or None (not run).
    fn all(&self, todo: Vec<Work>, progress: &dyn Progress, on_row: &(dyn Fn(&RowEvent) + Sync)) -> Vec<Option<bool>> {
        let jobs = self.job.jobs.unwrap_or_else(rayon::current_num_threads).clamp(1, todo.len().max(1));
        let queue = Mutex::new(todo.into_iter().enumerate());
        let results = Mutex::new(Vec::new());
        let total = queue.lock().expect("queue").len();
        let task = progress.start("batch", total as u64);
        // The bar's label: the tracks done of all, and those in flight.
        let in_flight: Mutex<Vec<String>> = Mutex::default();
        let show = |change: &dyn Fn(&mut Vec<String>)| {
            let mut names = in_flight.lock().expect("in flight");
            change(&mut names);
            task.set_detail(&format!("{total} tracks; now {}", names.join(", ")));
        };
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(|| loop {
                    let Some((i, work)) = queue.lock().expect("queue").next() else { break };
                    if *self.stop.lock().expect("stop") {
                        results.lock().expect("results").push((i, None));
                        continue;
                    }
                    show(&|names| names.push(work.key.clone()));
                    let ok = self.one(&work, progress, on_row);
                    show(&|names| names.retain(|n| n != &work.key));
                    if !ok && self.job.fail_fast {
                        *self.stop.lock().expect("stop") = true;
                    }
                    results.lock().expect("results").push((i, Some(ok)));
                    task.inc(1);
                });
            }
        });
        let mut results = results.into_inner().expect("results");
        results.sort_by_key(|r| r.0);
        results.into_iter().map(|r| r.1).collect()
    }

    /// Masters one row and records it: true when done.
    fn one(&self, work: &Work, progress: &dyn Progress, on_row: &(dyn Fn(&RowEvent) + Sync)) -> bool {
        let held = self.budget.acquire(estimated_bytes(&work.row.target));
        let result = self.master(work, progress);
        self.budget.release(held);
        let at_s = ledger::now_s();
        let (status, error, entry) = match result {
            Ok(entry) => (Status::Done, None, Some(entry)),
            Err(e) => (Status::Failed, Some(e.to_string()), None),
        };
        let event = Event {
            output: work.key.clone(),
            status,
            input_hash: work.input_hash.clone(),
            settings_hash: work.settings_hash.clone(),
            output_hash: (status == Status::Done).then(|| output_hash(&work.output)).flatten(),
            error,
            at_s,
            entry,
        };
        let recorded = self.ledger.record(&event);
        let error = event.error.clone().or_else(|| recorded.as_ref().err().map(ToString::to_string));
        let status = if recorded.is_ok() && status == Status::Done { "done" } else { "failed" };
        on_row(&RowEvent { output: &work.key, status, error: error.as_deref() });
        status == "done"
    }

    /// The master of one row, then its written file measured for the catalogue.
    fn master(&self, work: &Work, progress: &dyn Progress) -> Result<Entry> {
        if let Some(parent) = work.output.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let report =
            self.job.reports.then(|| self.job.out_dir.join("reports").join(&work.row.output).with_extension("html"));
        if let Some(parent) = report.as_ref().and_then(|r| r.parent()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let job = MasterJob {
            restore: None,
            residual_out: None,
            target: &work.row.target,
            references: &work.profiles,
            weights: &[],
            output: &work.output,
            plan_out: None,
            settings: work.settings.clone(),
            delivery: work.delivery.clone(),
            device: self.job.device,
            report: ReportOut { html: report.as_deref(), json: None },
            target_profile: work.target_profile.as_ref(),
            decode: Default::default(),
        };
        let mastered = master(&job, progress)?;
        let written = analyze(&decode_file(&work.output, progress)?, &work.key, progress)?;
        let references: Vec<Profile> = work.profiles.iter().map(|p| Profile::load(p)).collect::<Result<_>>()?;
        let weights = vec![1.0; references.len()];
        let reference = Profile::average(&references, &weights)?;
        let (tonal, width) = distances(&written, &reference);
        let s = &mastered.summary;
        let mut warnings = Vec::new();
        if !s.render.loudness_target_reached {
            let why =
                s.render.loudness_shortfall.as_ref().map_or(String::new(), |f| {
                    format!(" (missed by {:.2} LU: {})", f.missed_by_lu, f.reason.describe())
                });
            warnings.push(format!("loudness target {:.1} LUFS not reached{why}", s.loudness_target_lufs));
        }
        if s.render.limit.max_gain_reduction_db > 12.0 {
            warnings.push(format!("{:.1} dB of limiting", s.render.limit.max_gain_reduction_db));
        }
        let bits = s.bit_depth.int_bits().map_or("32-bit float".into(), |b| format!("{b}-bit"));
        Ok(Entry {
            format: format!("{} {} Hz {bits}", s.format.extension(), s.sample_rate),
            loudness_before_lufs: s.loudness_before_lufs,
            loudness_target_lufs: s.loudness_target_lufs,
            loudness_after_lufs: written.loudness.integrated_lufs,
            true_peak_after_dbtp: written.loudness.true_peak_dbtp,
            ceiling_dbtp: s.ceiling_dbtp,
            loudness_range_after_lu: written.loudness.loudness_range_lu,
            tonal_distance_db: tonal,
            width_distance_db: (written.channels == 2 && reference.channels == 2).then_some(width),
            warnings,
        })
    }
}

/// done / failed / pending over every row of the batch that ran in `out_dir`, all shards together.
pub fn status(out_dir: &Path) -> Result<Vec<catalogue::Line>> {
    let manifest = manifest::load_copy(out_dir)?;
    Ok(catalogue::lines(&manifest, &ledger::latest(out_dir)?))
}
