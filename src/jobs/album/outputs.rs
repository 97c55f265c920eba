//! The album's files, from its rendered image: the image, one tagged file per track cut at its
//! INDEX 01, the CUE sheet, the album plan, and `album.json` and `album-report.html` with what
//! each track got — loudness, range and true peak before and after, its place on the timeline,
//! its tonal balance against the album's — measured on the image as written.
use std::path::Path;

use serde::Serialize;

use super::{page, CUE_FILE, PLAN_FILE, REPORT_FILE, SUMMARY_FILE};
use crate::analysis::device::SpectrumDevice;
use crate::analysis::loudness::{loudness_stats, SHORT_TERM_HOP_S};
use crate::audio::AudioBuffer;
use crate::dsp::to_db;
use crate::dsp::true_peak::TruePeakDetector;
use crate::error::{Error, Result};
use crate::io::cue::{CueSheet, CueTrack};
use crate::io::encode::{stage_audio, write_atomically};
use crate::model::album::LoudnessPolicy;
use crate::model::album_plan::AlbumPlan;
use crate::model::{BitDepth, Container, Dither, Profile, Tags};
use crate::progress::Progress;
use crate::render::sequence::{Placement, FRAMES_PER_S};
use crate::report::{ReportData, Role, Source};

/// What `album.json` records.
#[derive(Debug, Clone, Serialize)]
pub struct AlbumSummary {
    pub title: String,
    pub artist: String,
    /// The files written in the album's folder.
    pub image: String,
    pub cue: String,
    pub plan: String,
    pub report: String,
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
    /// Measured on the written image (the 8× detector of the limiter's verification).
    pub true_peak_dbtp: f64,
    pub lufs: f64,
    pub range_lu: f64,
    /// The most the timeline's limiter took, dB: where crossfades summed over the ceiling, else no
    /// more than its safety margin on peaks the tracks' own limiters left at the ceiling.
    pub timeline_limiting_db: f64,
    /// The band centres of each track's tonal difference to the album (1/12 octave), Hz.
    pub tonal_centers_hz: Vec<f64>,
    pub tracks: Vec<TrackSummary>,
    /// Short-term loudness over the whole image, LUFS: value k of the 3 s window from k ·
    /// `short_term_hop_s` on (EBU Tech 3341), from the first whole window to the last.
    pub short_term_hop_s: f64,
    pub short_term_lufs: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackSummary {
    pub title: String,
    pub file: String,
    /// Its audio on the timeline: first and last sample, s.
    pub start_s: f64,
    pub end_s: f64,
    pub index_00_s: Option<f64>,
    pub index_01_s: f64,
    pub duration_s: f64,
    /// Silence before it, overlap with the track before, its own fades, s.
    pub gap_before_s: f64,
    pub crossfade_in_s: f64,
    pub fade_in_s: f64,
    pub fade_out_s: f64,
    pub offset_lu: f64,
    pub planned_lufs: f64,
    /// The mix as analysed.
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
    /// The dynamics stage as rendered, per band (empty: off).
    pub dynamics: Vec<BandSetting>,
    /// The yardstick's tonal distance (1/3-octave RMS of the level-free mid difference) to the
    /// album's balance: of the mix to the mixes', and of the master to the image's tracks', dB.
    pub tonal_distance_before_db: f64,
    pub tonal_distance_db: f64,
    /// The level-free mid difference to the album's balance (1/6-octave smoothed) on
    /// `tonal_centers_hz`, before and after, dB (`None`: no information in the band).
    pub tonal_difference_before_db: Vec<Option<f64>>,
    pub tonal_difference_db: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BandSetting {
    pub threshold_db: f64,
    pub ratio: f64,
    pub expansion_ratio: f64,
}

/// The rendered image and where its tracks lie.
pub struct Rendered<'a> {
    pub image: &'a AudioBuffer,
    pub placements: &'a [Placement],
    pub timeline_limiting_db: f64,
}

/// Writes the album's files in `out_dir`; `mixes` are the tracks' mixes as analysed.
pub fn write(
    plan: &AlbumPlan,
    rendered: &Rendered,
    mixes: &[Profile],
    out_dir: &Path,
    device: &SpectrumDevice,
    progress: &dyn Progress,
) -> Result<AlbumSummary> {
    let (image, placements) = (rendered.image, rendered.placements);
    let d = &plan.delivery;
    let rate = image.sample_rate;
    let image_name = format!("album.{}", d.format.extension());
    let album_tags = Tags {
        album: Some(plan.title.clone()),
        artist: Some(plan.artist.clone()),
        date: plan.date.clone(),
        genre: plan.genre.clone(),
        ..Tags::default()
    };
    let title_tags = Tags { title: Some(plan.title.clone()), ..album_tags.clone() };
    stage_audio(&out_dir.join(&image_name), image, d.bit_depth, d.format, &title_tags)?.commit()?;
    let n = placements.len();
    let span =
        |from: usize, to: usize| AudioBuffer::new(rate, image.channels.iter().map(|c| c[from..to].to_vec()).collect());
    // Each track's file: from its INDEX 01 to the next one's (what `shntool split` cuts).
    let mut files = Vec::with_capacity(n);
    for (i, (p, t)) in placements.iter().zip(&plan.tracks).enumerate() {
        let end = placements.get(i + 1).map_or(image.frames(), |q| q.index_01);
        let tags = Tags {
            title: Some(t.track.title.clone()),
            artist: Some(t.track.artist.clone().unwrap_or_else(|| plan.artist.clone())),
            track: Some(format!("{}/{n}", i + 1)),
            isrc: t.track.isrc.clone(),
            ..album_tags.clone()
        };
        let file = track_file_name(i + 1, &t.track.title, d.format);
        stage_audio(&out_dir.join(&file), &span(p.index_01, end), d.bit_depth, d.format, &tags)?.commit()?;
        files.push(file);
    }
    // Each track's own audio (from its first sample to its last, crossfades included) measured.
    let own: Vec<AudioBuffer> = placements.iter().map(|p| span(p.start, p.end())).collect();
    let named: Vec<(&AudioBuffer, String)> = own.iter().zip(&files).map(|(b, f)| (b, f.clone())).collect();
    let masters = super::analyze_buffers(&named, device, progress)?;
    let tonal_before = tonal_to_album(mixes)?;
    let tonal_after = tonal_to_album(&masters)?;
    let detector = TruePeakDetector::new();
    let seconds = |s: usize| s as f64 / f64::from(rate);
    let mut tracks = Vec::with_capacity(n);
    for (i, (p, t)) in placements.iter().zip(&plan.tracks).enumerate() {
        let slices: Vec<&[f32]> = own[i].channels.iter().map(Vec::as_slice).collect();
        let stats = loudness_stats(&slices, rate);
        let mix = &mixes[i].loudness;
        let eq = &t.plan.eq.mid.gain_db;
        let previous = i.checked_sub(1).map(|k| &plan.tracks[k].track);
        tracks.push(TrackSummary {
            title: t.track.title.clone(),
            file: files[i].clone(),
            start_s: seconds(p.start),
            end_s: seconds(p.end()),
            index_00_s: p.index_00.map(seconds),
            index_01_s: seconds(p.index_01),
            duration_s: seconds(p.frames),
            gap_before_s: t.track.gap_before_s + if i == 0 { d.pregap_s } else { 0.0 },
            crossfade_in_s: previous.map_or(0.0, |q| q.crossfade_s),
            fade_in_s: t.track.fade_in_s,
            fade_out_s: t.track.fade_out_s,
            offset_lu: t.track.offset_lu,
            planned_lufs: t.planned_lufs,
            mix_lufs: mix.integrated_lufs,
            mix_range_lu: mix.loudness_range_lu,
            mix_true_peak_dbtp: mix.true_peak_dbtp,
            lufs: stats.integrated_lufs.unwrap_or(f64::NEG_INFINITY),
            range_lu: stats.loudness_range_lu,
            true_peak_dbtp: to_db(f64::from(detector.true_peak(&own[i]))),
            eq_mid_max_boost_db: eq.iter().fold(0.0, |m, &g| m.max(g)),
            eq_mid_max_cut_db: eq.iter().fold(0.0, |m, &g| m.min(g)),
            dynamics: t.plan.dynamics.multiband.as_ref().map_or_else(Vec::new, |m| {
                m.bands
                    .iter()
                    .map(|b| BandSetting {
                        threshold_db: b.threshold_db,
                        ratio: b.ratio,
                        expansion_ratio: b.expansion_ratio,
                    })
                    .collect()
            }),
            tonal_distance_before_db: tonal_before.distances[i],
            tonal_distance_db: tonal_after.distances[i],
            tonal_difference_before_db: tonal_before.differences[i].clone(),
            tonal_difference_db: tonal_after.differences[i].clone(),
        });
    }
    drop(own);
    write_cue(plan, placements, &image_name, rate, out_dir)?;
    let slices: Vec<&[f32]> = image.channels.iter().map(Vec::as_slice).collect();
    let stats = loudness_stats(&slices, rate);
    let summary = AlbumSummary {
        title: plan.title.clone(),
        artist: plan.artist.clone(),
        image: image_name,
        cue: CUE_FILE.into(),
        plan: PLAN_FILE.into(),
        report: REPORT_FILE.into(),
        sample_rate: rate,
        bit_depth: d.bit_depth,
        dither: d.dither.resolve(d.bit_depth, rate),
        red_book: d.red_book,
        loudness_policy: plan.loudness_policy,
        consistency_percent: plan.consistency_percent,
        target_lufs: plan.target_lufs,
        ceiling_dbtp: d.ceiling_dbtp,
        frames: image.frames(),
        duration_s: image.duration_s(),
        true_peak_dbtp: to_db(f64::from(detector.true_peak(image))),
        lufs: stats.integrated_lufs.unwrap_or(f64::NEG_INFINITY),
        range_lu: stats.loudness_range_lu,
        timeline_limiting_db: rendered.timeline_limiting_db,
        tonal_centers_hz: tonal_after.centers_hz,
        tracks,
        short_term_hop_s: SHORT_TERM_HOP_S,
        short_term_lufs: stats.short_term_lufs,
    };
    write_text(&out_dir.join(PLAN_FILE), &plan.to_json())?;
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::Report(e.to_string()))?;
    write_text(&out_dir.join(SUMMARY_FILE), &json)?;
    write_text(&out_dir.join(REPORT_FILE), &page::to_html(&summary)?)?;
    Ok(summary)
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes()).map_err(|e| e.to_string()))
}

/// The file name of track `n`: its number and title, with what file systems refuse replaced.
pub fn track_file_name(n: usize, title: &str, container: Container) -> String {
    let clean: String =
        title.chars().map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { '_' } else { c }).collect();
    format!("{n:02} {}.{}", clean.trim(), container.extension())
}

/// The CUE sheet of the image: indices in whole frames (each placement's lie on the grid).
fn write_cue(plan: &AlbumPlan, placements: &[Placement], image_name: &str, rate: u32, out_dir: &Path) -> Result<()> {
    let frame = u64::from(rate / FRAMES_PER_S);
    let cue = CueSheet {
        file: image_name.into(),
        title: plan.title.clone(),
        performer: plan.artist.clone(),
        catalog: plan.catalog.clone(),
        date: plan.date.clone(),
        genre: plan.genre.clone(),
        tracks: placements
            .iter()
            .zip(&plan.tracks)
            .map(|(p, t)| CueTrack {
                title: t.track.title.clone(),
                performer: t.track.artist.clone().unwrap_or_else(|| plan.artist.clone()),
                isrc: t.track.isrc.clone(),
                index_00: p.index_00.map(|s| s as u64 / frame),
                index_01: p.index_01 as u64 / frame,
            })
            .collect(),
    };
    write_text(&out_dir.join(CUE_FILE), &cue.to_text())
}

/// Each track's tonal balance against the album's: the tracks' balances averaged (level-free,
/// weighted by duration) as the report's reference.
struct Tonal {
    centers_hz: Vec<f64>,
    distances: Vec<f64>,
    differences: Vec<Vec<Option<f64>>>,
}

fn tonal_to_album(tracks: &[Profile]) -> Result<Tonal> {
    let weights: Vec<f64> = tracks.iter().map(|p| p.duration_s).collect();
    let album = Profile { source: "album".into(), ..Profile::average(tracks, &weights)? };
    let mut sources = vec![Source { profile: album, role: Role::Reference, spectrogram: None }];
    sources.extend(tracks.iter().map(|p| Source { profile: p.clone(), role: Role::Input, spectrogram: None }));
    let data = ReportData::build(sources, 0, None)?;
    let tracks = &data.inputs[1..];
    Ok(Tonal {
        centers_hz: data.inputs[0].spectrum.centers_hz.clone(),
        distances: tracks.iter().map(|t| t.distances.as_ref().map_or(0.0, |d| d.tonal_db)).collect(),
        differences: tracks
            .iter()
            .map(|t| {
                t.difference.as_ref().map_or_else(Vec::new, |d| {
                    d.mid_db.iter().zip(&d.masked).map(|(&v, &m)| (!m).then_some(v)).collect()
                })
            })
            .collect(),
    })
}
