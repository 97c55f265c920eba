//! `automaster album`: an EP or album mastered as one record and sequenced. One matching for the
//! album — each track's EQ correction drawn toward the album's common one by the consistency,
//! the same dynamics goal, loudness by album (the loudest track on the target, the others where
//! their mixes put them relative to it, plus their `offset_lu`) or by track — then each track
//! rendered, faded, placed on the timeline with its gaps and crossfades, and the whole timeline
//! limited, dithered and verified as one: the image, its CUE sheet, one tagged file per track cut
//! from the image at its INDEX 01, and `album.json` with what each track got.
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{analyze_buffers, decode_and_analyse, is_profile};
use crate::analysis::device::SpectrumDevice;
use crate::analysis::loudness::loudness_stats;
use crate::audio::AudioBuffer;
use crate::dsp::resample::resample_len;
use crate::dsp::to_db;
use crate::dsp::true_peak::TruePeakDetector;
use crate::error::{Error, Result};
use crate::io::cue::{CueSheet, CueTrack};
use crate::io::decode::{decode_file_with, file_name, DecodeOptions};
use crate::io::encode::{stage_audio, write_atomically, Container};
use crate::matching::match_profiles;
use crate::model::album::*;
use crate::model::settings::LimiterSettings;
use crate::model::{
    BitDepth, Dither, LoudnessTarget, MasteringPlan, MatchSettings, OutputSpec, Profile, Provenance, Tags,
};
use crate::progress::Progress;
use crate::render::render;
use crate::render::sequence::{apply_fades, assemble, frame_len, layout, Join, Placement};

/// A sample below this (−60 dBFS) is silence to `trim`.
const TRIM_THRESHOLD: f32 = 0.001;
/// The default share of the common EQ correction, %.
pub const DEFAULT_CONSISTENCY: f64 = 70.0;

pub struct AlbumJob<'a> {
    pub album: &'a Album,
    pub out_dir: &'a Path,
    /// Overrides of the album file's.
    pub consistency: Option<f64>,
    pub loudness_policy: Option<LoudnessPolicy>,
    pub device: &'a SpectrumDevice,
    pub decode: DecodeOptions,
    /// The matching's amounts (EQ, width, dynamics) and limits; loudness and ceiling come from the
    /// album.
    pub settings: MatchSettings,
}

/// What `album.json` records.
#[derive(Debug, Clone, Serialize)]
pub struct AlbumSummary {
    pub title: String,
    pub artist: String,
    pub image: String,
    pub cue: String,
    pub sample_rate: u32,
    pub bit_depth: BitDepth,
    pub dither: Dither,
    pub red_book: bool,
    pub loudness_policy: LoudnessPolicy,
    pub consistency_percent: f64,
    /// The loudest track's, LUFS.
    pub target_lufs: f64,
    pub ceiling_dbtp: f64,
    pub frames: usize,
    pub duration_s: f64,
    /// Measured on the written image.
    pub true_peak_dbtp: f64,
    /// What the timeline's limiter took where crossfades summed over the ceiling, dB.
    pub timeline_limiting_db: f64,
    pub tracks: Vec<TrackSummary>,
    /// Short-term loudness over the image, every 100 ms, LUFS.
    pub short_term_lufs: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackSummary {
    pub title: String,
    pub file: String,
    pub start_s: f64,
    pub index_00_s: Option<f64>,
    pub index_01_s: f64,
    pub duration_s: f64,
    pub planned_lufs: f64,
    pub mix_lufs: f64,
    pub mix_range_lu: f64,
    pub mix_true_peak_dbtp: f64,
    /// On the track's audio in the written image (its crossfades included).
    pub lufs: f64,
    pub range_lu: f64,
    pub true_peak_dbtp: f64,
    /// The EQ applied, mid, most boost and cut, dB.
    pub eq_mid_max_boost_db: f64,
    pub eq_mid_max_cut_db: f64,
}

/// The album's delivery, resolved from its file and platform.
struct Output {
    rate: u32,
    bit_depth: BitDepth,
    container: Container,
    ceiling_dbtp: f64,
    red_book: bool,
    pregap_s: f64,
}

pub fn album(job: &AlbumJob, progress: &dyn Progress) -> Result<AlbumSummary> {
    let a = &job.album.file;
    let platform = job.album.platform;
    if a.references.is_empty() {
        return Err(Error::InvalidSetting(format!(
            "{}: give the album a reference (`references = [...]`)",
            job.album.path.display()
        )));
    }
    std::fs::create_dir_all(job.out_dir).map_err(|e| Error::io(job.out_dir, e))?;
    // The tracks, decoded (and trimmed) first: the layout is checked before any analysis.
    let mut mixes = Vec::with_capacity(job.album.tracks.len());
    for t in &job.album.tracks {
        let mut audio = decode_file_with(&t.spec.file, job.decode, progress)?;
        if t.spec.trim {
            trim(&mut audio).ok_or_else(|| Error::Silent { path: t.spec.file.clone(), what: "track" })?;
        }
        if audio.is_silent() {
            return Err(Error::Silent { path: t.spec.file.clone(), what: "track" });
        }
        mixes.push(audio);
    }
    let rate = a.sample_rate.or(platform.map(|p| p.sample_rate_hz)).unwrap_or(mixes[0].sample_rate);
    let bit_depth = a.bit_depth.or(platform.map(|p| p.bit_depth)).unwrap_or(BitDepth::Int24);
    let red_book = job.album.is_cd(rate, bit_depth);
    let out = Output {
        rate,
        bit_depth,
        container: if a.format.as_deref() == Some("wav") { Container::Wav } else { Container::Flac },
        ceiling_dbtp: a.ceiling_dbtp.or(platform.map(|p| p.ceiling_dbtp)).unwrap_or(-1.0),
        red_book,
        pregap_s: a.pregap_s.unwrap_or(if red_book { RED_BOOK_PREGAP_S } else { 0.0 }),
    };
    out.container.check(bit_depth)?;
    let frame = frame_len(rate)?;
    let joins = joins(job.album, &out);
    let lengths: Vec<usize> = mixes.iter().map(|m| resample_len(m.frames(), m.sample_rate, rate)).collect();
    let (planned, total) = layout(&lengths, &joins, frame)?;
    if red_book {
        check_red_book(&planned, total, rate, &out)?;
    }
    // One matching for the album.
    let names: Vec<String> = job.album.tracks.iter().map(|t| file_name(&t.spec.file)).collect();
    let pending: Vec<(&AudioBuffer, String)> = mixes.iter().zip(&names).map(|(m, n)| (m, n.clone())).collect();
    let profiles = analyze_buffers(&pending, job.device, progress)?;
    let reference = reference_profile(&a.references, job, progress)?;
    let consistency = job.consistency.or(a.consistency).unwrap_or(DEFAULT_CONSISTENCY);
    if !(0.0..=100.0).contains(&consistency) {
        return Err(Error::InvalidSetting(format!("--consistency {consistency} must be 0 … 100 (%)")));
    }
    let policy = job.loudness_policy.unwrap_or(a.loudness_policy);
    let target_lufs = a.lufs.or(platform.and_then(|p| p.target_lufs)).unwrap_or(reference.loudness.integrated_lufs);
    let targets = loudness_targets(job.album, &profiles, target_lufs, policy);
    let mut plans = profiles
        .iter()
        .zip(&targets)
        .map(|(p, &t)| {
            let settings = MatchSettings {
                target_lufs: Some(t),
                ceiling_dbtp: out.ceiling_dbtp,
                bass_mono_min_hz: platform.and_then(|p| p.bass_mono_hz),
                ..job.settings.clone()
            };
            match_profiles(p, &reference, &settings)
        })
        .collect::<Result<Vec<_>>>()?;
    share_eq(&mut plans, consistency / 100.0);
    // Each track rendered in float at the album's rate, faded.
    let float = OutputSpec { bit_depth: BitDepth::Float32, dither: Dither::None, sample_rate_hz: Some(rate) };
    let mut rendered = Vec::with_capacity(mixes.len());
    for ((mix, plan), (t, name)) in mixes.into_iter().zip(&plans).zip(job.album.tracks.iter().zip(&names)) {
        let (mut track, _) = render(mix, plan, float, name, progress)?;
        let (fade_in, fade_out) = (samples(t.spec.fade_in_s, rate), samples(t.spec.fade_out_s, rate));
        apply_fades(&mut track, fade_in, fade_out, t.spec.fade_curve);
        rendered.push(track);
    }
    let lengths: Vec<usize> = rendered.iter().map(AudioBuffer::frames).collect();
    let (placements, total) = layout(&lengths, &joins, frame)?;
    let timeline = assemble(&rendered, &placements, &joins, total);
    drop(rendered);
    // The timeline limited (where crossfades summed over the ceiling), dithered and verified as one.
    let spec = OutputSpec { bit_depth, dither: Dither::Auto, sample_rate_hz: None };
    let channels: Vec<&[f32]> = timeline.channels.iter().map(Vec::as_slice).collect();
    let timeline_lufs = loudness_stats(&channels, rate).integrated_lufs.unwrap_or(target_lufs);
    let neutral = MasteringPlan::neutral(
        LoudnessTarget {
            target_lufs: timeline_lufs.clamp(-70.0, 0.0),
            max_limiting_db: None,
            fixed_gain_db: Some(0.0),
        },
        LimiterSettings { ceiling_dbtp: out.ceiling_dbtp, ..Default::default() },
        Provenance {
            target: a.title.clone(),
            reference: String::new(),
            target_lufs_before: timeline_lufs,
            reference_lufs: target_lufs,
            settings: job.settings.clone(),
        },
    );
    let (image, report) = render(timeline, &neutral, spec, &a.title, progress)?;
    write_outputs(
        job,
        &out,
        &image,
        &placements,
        &profiles,
        &targets,
        &plans,
        report.limit.max_gain_reduction_db,
        consistency,
        policy,
        target_lufs,
    )
}

/// `seconds` at `rate`, to the nearest sample.
fn samples(seconds: f64, rate: u32) -> usize {
    (seconds * f64::from(rate)).round() as usize
}

/// How each track joins the one before (track 1: after the album's pregap).
fn joins(album: &Album, out: &Output) -> Vec<Join> {
    let s = |sec: f64| samples(sec, out.rate);
    let tracks = &album.tracks;
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let previous = i.checked_sub(1).map(|p| &tracks[p].spec);
            Join {
                gap: s(t.spec.gap_before_s + if i == 0 { out.pregap_s } else { 0.0 }),
                crossfade: previous.map_or(0, |p| s(p.crossfade_s)),
                crossfade_curve: previous.map_or(FadeCurve::EqualPower, |p| p.crossfade_curve),
            }
        })
        .collect()
}

/// Red Book (IEC 60908): ≤ 99 tracks, each ≥ 4 s from its INDEX 01 to the next, ≤ 79:57 in all,
/// a 2 s pregap before track 1.
fn check_red_book(placements: &[Placement], total: usize, rate: u32, out: &Output) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidSetting(format!("Red Book (CD): {m}")));
    if placements.len() > RED_BOOK_MAX_TRACKS {
        return bad(format!("{} tracks; a CD holds {RED_BOOK_MAX_TRACKS} at most", placements.len()));
    }
    if out.pregap_s < RED_BOOK_PREGAP_S {
        return bad(format!("a pregap of {} s before track 1; a CD needs {RED_BOOK_PREGAP_S} s", out.pregap_s));
    }
    for (i, p) in placements.iter().enumerate() {
        let next = placements.get(i + 1).map_or(total, |n| n.index_01);
        let seconds = (next - p.index_01) as f64 / f64::from(rate);
        if seconds < RED_BOOK_MIN_TRACK_S {
            return bad(format!(
                "track {} lasts {seconds:.2} s; a CD track lasts {RED_BOOK_MIN_TRACK_S} s at least",
                i + 1
            ));
        }
    }
    let seconds = total as f64 / f64::from(rate);
    if seconds > RED_BOOK_MAX_TOTAL_S {
        return bad(format!(
            "{:.0}:{:02.0} in all; a CD holds 79:57 at most",
            (seconds / 60.0).floor(),
            seconds % 60.0
        ));
    }
    Ok(())
}

/// Leading and trailing silence removed; `None` when nothing is above it.
fn trim(audio: &mut AudioBuffer) -> Option<()> {
    let loud = |i: usize| audio.channels.iter().any(|c| c[i].abs() > TRIM_THRESHOLD);
    let first = (0..audio.frames()).find(|&i| loud(i))?;
    let last = (0..audio.frames()).rev().find(|&i| loud(i))?;
    for c in &mut audio.channels {
        c.truncate(last + 1);
        c.drain(..first);
    }
    Some(())
}

fn reference_profile(paths: &[PathBuf], job: &AlbumJob, progress: &dyn Progress) -> Result<Profile> {
    let audio: Vec<&Path> = paths.iter().map(PathBuf::as_path).filter(|p| !is_profile(p)).collect();
    let (analysed, _) = decode_and_analyse(&audio, job.decode, job.device, progress)?;
    let mut analysed = analysed.into_iter().map(|(_, p)| p);
    let profiles: Vec<Profile> = paths
        .iter()
        .map(|p| if is_profile(p) { Profile::load(p) } else { Ok(analysed.next().expect("one profile per reference")) })
        .collect::<Result<_>>()?;
    Profile::average(&profiles, &vec![1.0; profiles.len()])
}

/// Each track's loudness target: by album, the loudest (its mix's loudness plus its offset) on
/// `target_lufs` and the others as far under it as in the mixes, plus their offsets; by track,
/// each on the target plus its offset.
fn loudness_targets(album: &Album, profiles: &[Profile], target_lufs: f64, policy: LoudnessPolicy) -> Vec<f64> {
    let intended: Vec<f64> =
        profiles.iter().zip(&album.tracks).map(|(p, t)| p.loudness.integrated_lufs + t.spec.offset_lu).collect();
    let loudest = intended.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    match policy {
        LoudnessPolicy::Album => intended.iter().map(|v| (target_lufs + v - loudest).max(-70.0)).collect(),
        LoudnessPolicy::Track => {
            album.tracks.iter().map(|t| (target_lufs + t.spec.offset_lu).clamp(-70.0, 0.0)).collect()
        }
    }
}

/// Draws each track's EQ (mid and side) toward the album's mean by `share` (0: each its own,
/// 1: all the same curve).
fn share_eq(plans: &mut [MasteringPlan], share: f64) {
    fn mid(p: &mut MasteringPlan) -> &mut Vec<f64> {
        &mut p.eq.mid.gain_db
    }
    fn side(p: &mut MasteringPlan) -> &mut Vec<f64> {
        &mut p.eq.side.gain_db
    }
    let n = plans.len() as f64;
    for curve in [mid as fn(&mut MasteringPlan) -> &mut Vec<f64>, side] {
        let len = curve(&mut plans[0]).len();
        let mean: Vec<f64> = (0..len).map(|k| plans.iter_mut().map(|p| curve(p)[k]).sum::<f64>() / n).collect();
        for p in plans.iter_mut() {
            for (g, m) in curve(p).iter_mut().zip(&mean) {
                *g = m + (1.0 - share) * (*g - m);
            }
        }
    }
}

/// The file name of track `n`: its number and title, with what file systems refuse replaced.
fn track_file_name(n: usize, title: &str, container: Container) -> String {
    let clean: String =
        title.chars().map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { '_' } else { c }).collect();
    format!("{n:02} {}.{}", clean.trim(), container.extension())
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    job: &AlbumJob,
    out: &Output,
    image: &AudioBuffer,
    placements: &[Placement],
    profiles: &[Profile],
    targets: &[f64],
    plans: &[MasteringPlan],
    timeline_limiting_db: f64,
    consistency: f64,
    policy: LoudnessPolicy,
    target_lufs: f64,
) -> Result<AlbumSummary> {
    let a = &job.album.file;
    let rate = out.rate;
    let frame = image.sample_rate as u64 / u64::from(crate::render::sequence::FRAMES_PER_S);
    let image_name = format!("album.{}", out.container.extension());
    let album_tags = Tags {
        album: Some(a.title.clone()),
        artist: Some(a.artist.clone()),
        date: a.date.clone(),
        genre: a.genre.clone(),
        ..Tags::default()
    };
    stage_audio(
        &job.out_dir.join(&image_name),
        image,
        out.bit_depth,
        out.container,
        &Tags { title: Some(a.title.clone()), ..album_tags.clone() },
    )?
    .commit()?;
    let n = placements.len();
    let detector = TruePeakDetector::new();
    let mut tracks = Vec::with_capacity(n);
    let mut cue_tracks = Vec::with_capacity(n);
    for (i, (p, t)) in placements.iter().zip(&job.album.tracks).enumerate() {
        let end = placements.get(i + 1).map_or(image.frames(), |q| q.index_01);
        let piece = AudioBuffer::new(rate, image.channels.iter().map(|c| c[p.index_01..end].to_vec()).collect());
        let performer = t.spec.artist.clone().unwrap_or_else(|| a.artist.clone());
        let tags = Tags {
            title: Some(t.spec.title.clone()),
            artist: Some(performer.clone()),
            track: Some(format!("{}/{n}", i + 1)),
            isrc: t.spec.isrc.clone(),
            ..album_tags.clone()
        };
        let file = track_file_name(i + 1, &t.spec.title, out.container);
        stage_audio(&job.out_dir.join(&file), &piece, out.bit_depth, out.container, &tags)?.commit()?;
        let own = AudioBuffer::new(rate, image.channels.iter().map(|c| c[p.start..p.end()].to_vec()).collect());
        let slices: Vec<&[f32]> = own.channels.iter().map(Vec::as_slice).collect();
        let stats = loudness_stats(&slices, rate);
        let mix = &profiles[i].loudness;
        let eq = &plans[i].eq.mid.gain_db;
        let seconds = |s: usize| s as f64 / f64::from(rate);
        tracks.push(TrackSummary {
            title: t.spec.title.clone(),
            file,
            start_s: seconds(p.start),
            index_00_s: p.index_00.map(seconds),
            index_01_s: seconds(p.index_01),
            duration_s: seconds(p.frames),
            planned_lufs: targets[i],
            mix_lufs: mix.integrated_lufs,
            mix_range_lu: mix.loudness_range_lu,
            mix_true_peak_dbtp: mix.true_peak_dbtp,
            lufs: stats.integrated_lufs.unwrap_or(f64::NEG_INFINITY),
            range_lu: stats.loudness_range_lu,
            true_peak_dbtp: to_db(f64::from(detector.true_peak(&own))),
            eq_mid_max_boost_db: eq.iter().fold(0.0, |m, &g| m.max(g)),
            eq_mid_max_cut_db: eq.iter().fold(0.0, |m, &g| m.min(g)),
        });
        cue_tracks.push(CueTrack {
            title: t.spec.title.clone(),
            performer,
            isrc: t.spec.isrc.clone(),
            index_00: p.index_00.map(|s| s as u64 / frame),
            index_01: p.index_01 as u64 / frame,
        });
    }
    let cue = CueSheet {
        file: image_name.clone(),
        title: a.title.clone(),
        performer: a.artist.clone(),
        catalog: a.catalog.clone(),
        date: a.date.clone(),
        genre: a.genre.clone(),
        tracks: cue_tracks,
    };
    let text = cue.to_text();
    write_atomically(&job.out_dir.join("album.cue"), |f| {
        std::io::Write::write_all(f, text.as_bytes()).map_err(|e| e.to_string())
    })?;
    let slices: Vec<&[f32]> = image.channels.iter().map(Vec::as_slice).collect();
    let summary = AlbumSummary {
        title: a.title.clone(),
        artist: a.artist.clone(),
        image: image_name,
        cue: "album.cue".into(),
        sample_rate: rate,
        bit_depth: out.bit_depth,
        dither: Dither::Auto.resolve(out.bit_depth, rate),
        red_book: out.red_book,
        loudness_policy: policy,
        consistency_percent: consistency,
        target_lufs,
        ceiling_dbtp: out.ceiling_dbtp,
        frames: image.frames(),
        duration_s: image.duration_s(),
        true_peak_dbtp: to_db(f64::from(detector.true_peak(image))),
        timeline_limiting_db,
        tracks,
        short_term_lufs: loudness_stats(&slices, rate).short_term_lufs,
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::Report(e.to_string()))?;
    write_atomically(&job.out_dir.join("album.json"), |f| {
        std::io::Write::write_all(f, json.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(summary)
}
