//! `automaster album`: an EP or album mastered as one record and sequenced. One matching for the
//! album (toward its references, or without any toward the album's own average balance) — each
//! track's EQ correction drawn toward the album's common one by the consistency, one
//! dynamics setting for all (fitted on the loudest track), loudness by album (the loudest track on
//! the target, the others where their mixes put them relative to it, plus their `offset_lu`) or by
//! track — written down as the album plan; then the plan rendered: each track rendered, faded,
//! placed on the timeline with its gaps and crossfades, and the whole timeline limited, dithered
//! and verified as one. `automaster album --plan` renders a saved plan again, bit for bit.
mod outputs;
mod page;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use outputs::{AlbumSummary, TrackSummary};

use super::{analyze_buffers, check_output, decode_and_analyse, is_profile};
use crate::analysis::device::SpectrumDevice;
use crate::analysis::loudness::integrated_lufs;
use crate::audio::AudioBuffer;
use crate::dsp::resample::resample_len;
use crate::error::{Error, Result};
use crate::io::decode::{decode_file_with, file_name, DecodeOptions};
use crate::matching::match_profiles;
use crate::model::album::*;
use crate::model::album_plan::{AlbumDelivery, AlbumPlan, PlannedTrack, ALBUM_PLAN_SCHEMA_VERSION};
use crate::model::settings::{LevelerSettings, LimiterSettings, MultibandSettings};
use crate::model::{
    BitDepth, Container, Dither, DynamicsPlan, LoudnessTarget, MasteringPlan, MatchSettings, OutputSpec, Profile,
    Provenance,
};
use crate::progress::Progress;
use crate::render::render;
use crate::render::sequence::{apply_fades, frame_len, layout, Join, Placement, Timeline};

/// A sample below this (−60 dBFS) is silence to `trim`.
const TRIM_THRESHOLD: f32 = 0.001;
/// The default share of the common EQ correction, %.
pub const DEFAULT_CONSISTENCY: f64 = 70.0;
/// What the album writes in its folder beside the image and the tracks.
pub const PLAN_FILE: &str = "album-plan.json";
pub const CUE_FILE: &str = "album.cue";
pub const SUMMARY_FILE: &str = "album.json";
pub const REPORT_FILE: &str = "album-report.html";

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

/// Masters the album: one matching, written down as the album plan, then the plan rendered into
/// `job.out_dir`.
pub fn album(job: &AlbumJob, progress: &dyn Progress) -> Result<AlbumSummary> {
    let a = &job.album.file;
    let platform = job.album.platform;
    let given_lufs = a.lufs.or(platform.and_then(|p| p.target_lufs));
    if a.references.is_empty() && given_lufs.is_none() {
        return Err(Error::InvalidSetting(format!(
            "{}: give the album references (`references = [...]`), or a loudness (`lufs`, or a platform that sets one) to master it toward its own balance",
            job.album.path.display()
        )));
    }
    let specs: Vec<AlbumTrack> = job.album.tracks.iter().map(|t| t.spec.clone()).collect();
    let mut inputs = specs.iter().map(|t| t.file.clone()).collect::<Vec<_>>();
    inputs.extend(a.references.iter().cloned());
    check_outputs(job.out_dir, &specs, a.format, &inputs)?;
    // The tracks decoded (and trimmed) first: the layout is checked before any analysis.
    let mixes = decode_tracks(&specs, job.decode, progress)?;
    let delivery = delivery(job.album, mixes[0].sample_rate);
    check_layout(&delivery, &specs, &mixes)?;
    // One matching for the album.
    let names: Vec<String> = specs.iter().map(|t| file_name(&t.file)).collect();
    let pending: Vec<(&AudioBuffer, String)> = mixes.iter().zip(&names).map(|(m, n)| (m, n.clone())).collect();
    let profiles = analyze_buffers(&pending, job.device, progress)?;
    // Without references the album is its own: its mixes' balance averaged (level removed,
    // weighted by length), toward which each track's EQ and dynamics move.
    let reference = if a.references.is_empty() {
        let weights: Vec<f64> = profiles.iter().map(|p| p.duration_s).collect();
        Profile::average(&profiles, &weights)?
    } else {
        reference_profile(&a.references, job, progress)?
    };
    let consistency = job.consistency.or(a.consistency).unwrap_or(DEFAULT_CONSISTENCY);
    if !(0.0..=100.0).contains(&consistency) {
        return Err(Error::InvalidSetting(format!("--consistency {consistency} must be 0 … 100 (%)")));
    }
    let policy = job.loudness_policy.unwrap_or(a.loudness_policy);
    let target_lufs = given_lufs.unwrap_or(reference.loudness.integrated_lufs);
    let mix_lufs: Vec<f64> = profiles.iter().map(|p| p.loudness.integrated_lufs).collect();
    let targets = loudness_targets(&specs, &mix_lufs, target_lufs, policy);
    let mut plans = profiles
        .iter()
        .zip(&targets)
        .map(|(p, &t)| {
            let settings = MatchSettings {
                target_lufs: Some(t),
                ceiling_dbtp: delivery.ceiling_dbtp,
                bass_mono_min_hz: platform.and_then(|p| p.bass_mono_hz),
                ..job.settings.clone()
            };
            match_profiles(p, &reference, &settings)
        })
        .collect::<Result<Vec<_>>>()?;
    share_eq(&mut plans, consistency / 100.0);
    let anchor = loudest(&targets);
    let fitted = fit_dynamics(&plans[anchor], &mixes[anchor], delivery.sample_rate_hz, &names[anchor], progress)?;
    share_dynamics(&mut plans, anchor, fitted.as_ref(), &mix_lufs, &targets, policy);
    let tracks = specs
        .into_iter()
        .zip(targets)
        .zip(plans)
        .map(|((mut track, planned_lufs), plan)| {
            track.file = std::fs::canonicalize(&track.file).map_err(|e| Error::io(&track.file, e))?;
            Ok(PlannedTrack { track, planned_lufs, plan })
        })
        .collect::<Result<Vec<_>>>()?;
    let plan = AlbumPlan {
        schema_version: ALBUM_PLAN_SCHEMA_VERSION,
        title: a.title.clone(),
        artist: a.artist.clone(),
        catalog: a.catalog.clone(),
        date: a.date.clone(),
        genre: a.genre.clone(),
        delivery,
        loudness_policy: policy,
        consistency_percent: consistency,
        target_lufs,
        tracks,
    };
    render_album(&plan, mixes, profiles, job.out_dir, job.device, progress)
}

/// Renders a saved album plan (`automaster album --plan`) into `out_dir`: the same files as the
/// run that wrote it, bit for bit, without analysis or matching of the sound.
pub fn album_from_plan(
    plan_path: &Path,
    out_dir: &Path,
    decode: DecodeOptions,
    device: &SpectrumDevice,
    progress: &dyn Progress,
) -> Result<AlbumSummary> {
    let plan = AlbumPlan::load(plan_path)?;
    let specs: Vec<AlbumTrack> = plan.tracks.iter().map(|t| t.track.clone()).collect();
    let mut inputs = plan.files();
    inputs.push(plan_path.to_path_buf());
    check_outputs(out_dir, &specs, plan.delivery.format, &inputs)?;
    let mixes = decode_tracks(&specs, decode, progress)?;
    check_layout(&plan.delivery, &specs, &mixes)?;
    let names: Vec<String> = specs.iter().map(|t| file_name(&t.file)).collect();
    let pending: Vec<(&AudioBuffer, String)> = mixes.iter().zip(&names).map(|(m, n)| (m, n.clone())).collect();
    let profiles = analyze_buffers(&pending, device, progress)?;
    render_album(&plan, mixes, profiles, out_dir, device, progress)
}

/// None of the album's files may replace an input; the folder is made.
fn check_outputs(out_dir: &Path, tracks: &[AlbumTrack], format: Container, inputs: &[PathBuf]) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let image = format!("album.{}", format.extension());
    let names = [PLAN_FILE, CUE_FILE, SUMMARY_FILE, REPORT_FILE, image.as_str()].map(String::from);
    let tracks = tracks.iter().enumerate().map(|(i, t)| outputs::track_file_name(i + 1, &t.title, format));
    for name in names.into_iter().chain(tracks) {
        check_output(&out_dir.join(name), &inputs)?;
    }
    Ok(())
}

/// Each track's mix, decoded (all at once, across the cores) and trimmed where asked.
fn decode_tracks(tracks: &[AlbumTrack], decode: DecodeOptions, progress: &dyn Progress) -> Result<Vec<AudioBuffer>> {
    tracks
        .par_iter()
        .map(|t| {
            let mut audio = decode_file_with(&t.file, decode, progress)?;
            let silent = || Error::Silent { path: t.file.clone(), what: "track" };
            if t.trim {
                trim(&mut audio).ok_or_else(silent)?;
            }
            if audio.is_silent() {
                return Err(silent());
            }
            Ok(audio)
        })
        .collect()
}

/// The album's delivery, from its file and platform (`first_rate`: the first mix's rate, kept
/// when neither gives one).
fn delivery(album: &Album, first_rate: u32) -> AlbumDelivery {
    let (a, platform) = (&album.file, album.platform);
    let sample_rate_hz = a.sample_rate.or(platform.map(|p| p.sample_rate_hz)).unwrap_or(first_rate);
    let bit_depth = a.bit_depth.or(platform.map(|p| p.bit_depth)).unwrap_or(BitDepth::Int24);
    let red_book = album.is_cd(sample_rate_hz, bit_depth);
    AlbumDelivery {
        format: a.format,
        sample_rate_hz,
        bit_depth,
        dither: a.dither.unwrap_or_default(),
        ceiling_dbtp: a.ceiling_dbtp.or(platform.map(|p| p.ceiling_dbtp)).unwrap_or(-1.0),
        pregap_s: a.pregap_s.unwrap_or(if red_book { RED_BOOK_PREGAP_S } else { 0.0 }),
        red_book,
    }
}

/// The timeline the mixes will make, checked before any rendering: crossfades no longer than the
/// tracks they join, a rate with whole CUE frames, Red Book for a CD.
fn check_layout(d: &AlbumDelivery, tracks: &[AlbumTrack], mixes: &[AudioBuffer]) -> Result<()> {
    d.format.check(d.bit_depth)?;
    let frame = frame_len(d.sample_rate_hz)?;
    let lengths: Vec<usize> = mixes.iter().map(|m| resample_len(m.frames(), m.sample_rate, d.sample_rate_hz)).collect();
    let (placements, total) = layout(&lengths, &joins(tracks, d), frame)?;
    if d.red_book {
        check_red_book(&placements, total, d)?;
    }
    Ok(())
}

/// Renders `plan` from the decoded `mixes` (their `profiles` describe them in the summary) and
/// writes the album's files.
fn render_album(
    plan: &AlbumPlan,
    mixes: Vec<AudioBuffer>,
    profiles: Vec<Profile>,
    out_dir: &Path,
    device: &SpectrumDevice,
    progress: &dyn Progress,
) -> Result<AlbumSummary> {
    let d = &plan.delivery;
    let rate = d.sample_rate_hz;
    // Laid out from the mixes' lengths at the album's rate (a render keeps the length), then
    // each track rendered in float, faded and added to the timeline, its mix let go.
    let specs: Vec<AlbumTrack> = plan.tracks.iter().map(|t| t.track.clone()).collect();
    let joins = joins(&specs, d);
    let lengths: Vec<usize> = mixes.iter().map(|m| resample_len(m.frames(), m.sample_rate, rate)).collect();
    let (placements, total) = layout(&lengths, &joins, frame_len(rate)?)?;
    let channels = mixes.iter().map(AudioBuffer::num_channels).max().unwrap_or(2);
    let mut timeline = Timeline::new(channels, placements.clone(), joins, total);
    let float = OutputSpec { bit_depth: BitDepth::Float32, dither: Dither::None, sample_rate_hz: Some(rate) };
    for (i, (mix, t)) in mixes.into_iter().zip(&plan.tracks).enumerate() {
        let (mut track, _) = render(mix, &t.plan, float, &file_name(&t.track.file), progress)?;
        let (fade_in, fade_out) = (samples(t.track.fade_in_s, rate), samples(t.track.fade_out_s, rate));
        apply_fades(&mut track, fade_in, fade_out, t.track.fade_curve);
        timeline.add(i, &track)?;
    }
    let timeline = timeline.into_buffer(rate);
    // The timeline limited (where crossfades summed over the ceiling), dithered and verified as
    // one: a neutral plan at a fixed 0 dB.
    let channels: Vec<&[f32]> = timeline.channels.iter().map(Vec::as_slice).collect();
    let timeline_lufs = integrated_lufs(&channels, rate).unwrap_or(plan.target_lufs);
    let neutral = MasteringPlan::neutral(
        LoudnessTarget {
            target_lufs: timeline_lufs.clamp(-70.0, 0.0),
            max_limiting_db: None,
            fixed_gain_db: Some(0.0),
        },
        LimiterSettings { ceiling_dbtp: d.ceiling_dbtp, ..Default::default() },
        Provenance {
            target: plan.title.clone(),
            reference: String::new(),
            target_lufs_before: timeline_lufs,
            reference_lufs: plan.target_lufs,
            settings: MatchSettings::default(),
        },
    );
    let spec = OutputSpec { bit_depth: d.bit_depth, dither: d.dither, sample_rate_hz: None };
    let (image, report) = render(timeline, &neutral, spec, &plan.title, progress)?;
    outputs::write(
        plan,
        &outputs::Rendered {
            image: &image,
            placements: &placements,
            timeline_limiting_db: report.limit.max_gain_reduction_db,
        },
        &profiles,
        out_dir,
        device,
        progress,
    )
}

/// `seconds` at `rate`, to the nearest sample.
fn samples(seconds: f64, rate: u32) -> usize {
    (seconds * f64::from(rate)).round() as usize
}

/// How each track joins the one before (track 1: after the album's pregap).
fn joins(tracks: &[AlbumTrack], d: &AlbumDelivery) -> Vec<Join> {
    let s = |sec: f64| samples(sec, d.sample_rate_hz);
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let previous = i.checked_sub(1).map(|p| &tracks[p]);
            Join {
                gap: s(t.gap_before_s + if i == 0 { d.pregap_s } else { 0.0 }),
                crossfade: previous.map_or(0, |p| s(p.crossfade_s)),
                crossfade_curve: previous.map_or(FadeCurve::EqualPower, |p| p.crossfade_curve),
            }
        })
        .collect()
}

/// Red Book (IEC 60908): ≤ 99 tracks, each ≥ 4 s from its INDEX 01 to the next, ≤ 79:57 in all,
/// a 2 s pregap before track 1.
fn check_red_book(placements: &[Placement], total: usize, d: &AlbumDelivery) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidSetting(format!("Red Book (CD): {m}")));
    if placements.len() > RED_BOOK_MAX_TRACKS {
        return bad(format!("{} tracks; a CD holds {RED_BOOK_MAX_TRACKS} at most", placements.len()));
    }
    if d.pregap_s < RED_BOOK_PREGAP_S {
        return bad(format!("a pregap of {} s before track 1; a CD needs {RED_BOOK_PREGAP_S} s", d.pregap_s));
    }
    let rate = f64::from(d.sample_rate_hz);
    for (i, p) in placements.iter().enumerate() {
        let next = placements.get(i + 1).map_or(total, |n| n.index_01);
        let seconds = (next - p.index_01) as f64 / rate;
        if seconds < RED_BOOK_MIN_TRACK_S {
            return bad(format!(
                "track {} lasts {seconds:.2} s; a CD track lasts {RED_BOOK_MIN_TRACK_S} s at least",
                i + 1
            ));
        }
    }
    let seconds = total as f64 / rate;
    if seconds > RED_BOOK_MAX_TOTAL_S {
        let (minutes, rest) = ((seconds / 60.0).floor(), seconds - 60.0 * (seconds / 60.0).floor());
        return bad(format!("{minutes:.0}:{rest:05.2} in all; a CD holds 79:57 at most"));
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
fn loudness_targets(tracks: &[AlbumTrack], mix_lufs: &[f64], target_lufs: f64, policy: LoudnessPolicy) -> Vec<f64> {
    let intended: Vec<f64> = mix_lufs.iter().zip(tracks).map(|(l, t)| l + t.offset_lu).collect();
    let loudest = intended.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    match policy {
        LoudnessPolicy::Album => intended.iter().map(|v| (target_lufs + v - loudest).max(-70.0)).collect(),
        LoudnessPolicy::Track => tracks.iter().map(|t| (target_lufs + t.offset_lu).clamp(-70.0, 0.0)).collect(),
    }
}

/// The index of the loudest planned track (the first of equals).
fn loudest(targets: &[f64]) -> usize {
    (0..targets.len()).fold(0, |best, i| if targets[i] > targets[best] { i } else { best })
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

/// The album's one dynamics setting: the stage fitted to `plan`'s goal on `mix` (the loudest
/// track) as its render fits it; `None` when the plan has no goal or the fit leaves the stage off.
fn fit_dynamics(
    plan: &MasteringPlan,
    mix: &AudioBuffer,
    rate: u32,
    name: &str,
    progress: &dyn Progress,
) -> Result<Option<(MultibandSettings, Option<LevelerSettings>)>> {
    if plan.dynamics.goal.is_none() {
        return Ok(None);
    }
    let float = OutputSpec { bit_depth: BitDepth::Float32, dither: Dither::None, sample_rate_hz: Some(rate) };
    let (_, report) = render(mix.clone(), plan, float, name, progress)?;
    Ok(report.dynamics.map(|d| (d.settings, d.leveler.map(|l| l.settings))))
}

/// Gives every track the album's dynamics setting, fitted on track `anchor`. The compressors sit
/// before the loudness gain, so their thresholds stay where the mixes put the anchor's under the
/// album policy (a quieter song is compressed less, as one chain over the record would) and move
/// with each mix's loudness under the track policy; the leveller acts on the output, so its
/// thresholds move with each track's planned loudness.
fn share_dynamics(
    plans: &mut [MasteringPlan],
    anchor: usize,
    fitted: Option<&(MultibandSettings, Option<LevelerSettings>)>,
    mix_lufs: &[f64],
    targets: &[f64],
    policy: LoudnessPolicy,
) {
    for (i, plan) in plans.iter_mut().enumerate() {
        plan.dynamics = match fitted {
            None => DynamicsPlan { multiband: None, goal: None, leveler: None },
            Some((multiband, leveler)) => {
                let input_shift = match policy {
                    LoudnessPolicy::Album => 0.0,
                    LoudnessPolicy::Track => mix_lufs[i] - mix_lufs[anchor],
                };
                let mut multiband = multiband.clone();
                for band in &mut multiband.bands {
                    band.threshold_db = (band.threshold_db + input_shift).clamp(-80.0, 0.0);
                }
                let output_shift = targets[i] - targets[anchor];
                let leveler = leveler.as_ref().map(|l| LevelerSettings {
                    threshold_lufs: l.threshold_lufs + output_shift,
                    floor_lufs: l.floor_lufs + output_shift,
                    ..l.clone()
                });
                DynamicsPlan { multiband: Some(multiband), goal: None, leveler }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::{CompressorSettings, EqCurve};

    fn plan_with_eq(gains: &[f64]) -> MasteringPlan {
        let curve = EqCurve { freqs_hz: vec![100.0, 1_000.0, 10_000.0], gain_db: gains.to_vec() };
        let mut p = MasteringPlan::neutral(
            LoudnessTarget { target_lufs: -14.0, max_limiting_db: None, fixed_gain_db: None },
            LimiterSettings::default(),
            Provenance {
                target: String::new(),
                reference: String::new(),
                target_lufs_before: -20.0,
                reference_lufs: -14.0,
                settings: MatchSettings::default(),
            },
        );
        p.eq.mid = curve.clone();
        p.eq.side = curve;
        p
    }

    #[test]
    fn consistency_draws_each_curve_toward_the_albums_mean() {
        let curves = [[3.0, 0.0, -3.0], [-1.0, 2.0, 1.0]];
        let mean = [1.0, 1.0, -1.0];
        for (share, expect) in [(0.0, curves), (1.0, [mean, mean]), (0.5, [[2.0, 0.5, -2.0], [0.0, 1.5, 0.0]])] {
            let mut plans: Vec<MasteringPlan> = curves.iter().map(|c| plan_with_eq(c)).collect();
            share_eq(&mut plans, share);
            for (p, e) in plans.iter().zip(&expect) {
                assert_eq!(p.eq.mid.gain_db, e.to_vec(), "share {share}");
                assert_eq!(p.eq.side.gain_db, e.to_vec(), "share {share}");
            }
        }
    }

    #[test]
    fn loudness_targets_keep_the_mixes_relations_or_level_them() {
        let track = |offset_lu| AlbumTrack {
            file: "x.wav".into(),
            title: "x".into(),
            artist: None,
            isrc: None,
            gap_before_s: 0.0,
            fade_in_s: 0.0,
            fade_out_s: 0.0,
            fade_curve: FadeCurve::Linear,
            crossfade_s: 0.0,
            crossfade_curve: FadeCurve::Linear,
            trim: false,
            offset_lu,
        };
        let tracks = [track(0.0), track(0.0), track(-3.0)];
        let mixes = [-18.0, -15.0, -16.0];
        assert_eq!(loudness_targets(&tracks, &mixes, -10.0, LoudnessPolicy::Album), vec![-13.0, -10.0, -14.0]);
        assert_eq!(loudness_targets(&tracks, &mixes, -10.0, LoudnessPolicy::Track), vec![-10.0, -10.0, -13.0]);
        assert_eq!(loudest(&[-13.0, -10.0, -14.0]), 1);
    }

    #[test]
    fn red_book_counts_tracks_lengths_the_whole_and_the_pregap() {
        let cd = |pregap_s| AlbumDelivery {
            format: Container::Flac,
            sample_rate_hz: 44_100,
            bit_depth: BitDepth::Int16,
            dither: Dither::Auto,
            ceiling_dbtp: -0.3,
            pregap_s,
            red_book: true,
        };
        let check = |lengths_s: &[f64], pregap_s: f64| {
            let lengths: Vec<usize> = lengths_s.iter().map(|&s| samples(s, 44_100)).collect();
            let joins: Vec<Join> = (0..lengths.len())
                .map(|i| Join {
                    gap: if i == 0 { samples(pregap_s, 44_100) } else { 0 },
                    crossfade: 0,
                    crossfade_curve: FadeCurve::Linear,
                })
                .collect();
            let (placements, total) = layout(&lengths, &joins, 588).unwrap();
            check_red_book(&placements, total, &cd(pregap_s)).map_err(|e| e.to_string())
        };
        assert!(check(&[4.0; 99], 2.0).is_ok());
        assert!(check(&[4.0; 100], 2.0).unwrap_err().contains("100 tracks"));
        assert!(check(&[10.0, 3.99, 10.0], 2.0).unwrap_err().contains("track 2 lasts 3.99 s"));
        // 79:55 of music after the 2 s pregap fits; a second more does not.
        assert!(check(&[60.0 * 40.0, 60.0 * 39.0 + 55.0], 2.0).is_ok());
        assert!(check(&[60.0 * 40.0, 60.0 * 39.0 + 56.0], 2.0).unwrap_err().contains("79:58.00 in all"));
        assert!(check(&[10.0], 1.0).unwrap_err().contains("pregap of 1 s"));
    }

    #[test]
    fn every_track_gets_the_anchors_dynamics_with_thresholds_where_the_policy_puts_them() {
        let band = |threshold_db, ratio| CompressorSettings { threshold_db, ratio, ..Default::default() };
        let multiband =
            MultibandSettings { crossovers_hz: vec![200.0], bands: vec![band(-30.0, 2.0), band(-25.0, 1.5)] };
        let leveler = LevelerSettings { ratio: 1.3, threshold_lufs: -12.0, floor_lufs: -32.0 };
        let fitted = (multiband.clone(), Some(leveler));
        let (mixes, targets) = ([-16.0, -20.0], [-10.0, -14.0]);
        for (policy, input_shift) in [(LoudnessPolicy::Album, 0.0), (LoudnessPolicy::Track, -4.0)] {
            let mut plans = vec![plan_with_eq(&[0.0; 3]), plan_with_eq(&[0.0; 3])];
            share_dynamics(&mut plans, 0, Some(&fitted), &mixes, &targets, policy);
            assert_eq!(plans[0].dynamics.multiband.as_ref(), Some(&multiband));
            let other = plans[1].dynamics.multiband.as_ref().unwrap();
            for (o, a) in other.bands.iter().zip(&multiband.bands) {
                assert_eq!((o.ratio, o.attack_ms), (a.ratio, a.attack_ms));
                assert_eq!(o.threshold_db, a.threshold_db + input_shift, "{policy:?}");
            }
            let l = plans[1].dynamics.leveler.as_ref().unwrap();
            assert_eq!((l.ratio, l.threshold_lufs, l.floor_lufs), (1.3, -16.0, -36.0));
            assert!(plans.iter().all(|p| p.dynamics.goal.is_none() && p.validate().is_ok()));
        }
        let mut plans = vec![plan_with_eq(&[0.0; 3])];
        share_dynamics(&mut plans, 0, None, &[-16.0], &[-10.0], LoudnessPolicy::Album);
        assert_eq!(plans[0].dynamics, DynamicsPlan { multiband: None, goal: None, leveler: None });
    }
}
