//! The album file (TOML): what `automaster album` masters and sequences — the album's tags and
//! delivery, then its tracks in order with their spacing, fades and intent. Checked whole before
//! any work; an error names the line it comes from.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{BitDepth, Container, Dither, Platform, Tags};

/// Red Book limits (IEC 60908): tracks, shortest track, whole programme.
pub const RED_BOOK_MAX_TRACKS: usize = 99;
pub const RED_BOOK_MIN_TRACK_S: f64 = 4.0;
pub const RED_BOOK_MAX_TOTAL_S: f64 = 79.0 * 60.0 + 57.0;
/// The pregap before track 1 on a CD, s.
pub const RED_BOOK_PREGAP_S: f64 = 2.0;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbumFile {
    pub title: String,
    pub artist: String,
    /// UPC/EAN, 13 digits with a valid check digit (`CATALOG` in the CUE sheet).
    #[serde(default)]
    pub catalog: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub genre: Option<String>,
    /// Reference masters (audio or saved profiles), averaged; relative to the album file. None:
    /// the album is matched to its own average balance (a loudness must then be given).
    #[serde(default)]
    pub references: Vec<PathBuf>,
    /// Loudness of the loudest track, LUFS (default: the platform's, else the reference's).
    #[serde(default)]
    pub lufs: Option<f64>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub ceiling_dbtp: Option<f64>,
    /// `album` (default: the tracks keep their loudness relative to the loudest) or `track`.
    #[serde(default)]
    pub loudness_policy: LoudnessPolicy,
    /// How far the tracks share one EQ correction, 0–100 % (default 70).
    #[serde(default)]
    pub consistency: Option<f64>,
    /// The image's and the tracks' container: `flac` (default) or `wav`.
    #[serde(default = "flac")]
    pub format: Container,
    /// Dither ahead of an integer format (default `auto`).
    #[serde(default)]
    pub dither: Option<Dither>,
    #[serde(default)]
    pub sample_rate: Option<u32>,
    #[serde(default)]
    pub bit_depth: Option<BitDepth>,
    /// Silence before track 1's INDEX 01, s (default: 2 for a CD, else 0).
    #[serde(default)]
    pub pregap_s: Option<f64>,
    pub tracks: Vec<toml::Spanned<AlbumTrack>>,
}

fn flac() -> Container {
    Container::Flac
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoudnessPolicy {
    #[default]
    Album,
    Track,
}

/// The shape of a fade or crossfade, as gain against time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FadeCurve {
    Linear,
    /// Sine/cosine: constant power through a crossfade of uncorrelated material.
    #[default]
    EqualPower,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbumTrack {
    pub file: PathBuf,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isrc: Option<String>,
    /// Silence before the track (its pregap: INDEX 00 to INDEX 01), s.
    #[serde(default)]
    pub gap_before_s: f64,
    #[serde(default)]
    pub fade_in_s: f64,
    #[serde(default)]
    pub fade_out_s: f64,
    #[serde(default)]
    pub fade_curve: FadeCurve,
    /// Overlap with the next track, s (that track then has no gap before it).
    #[serde(default)]
    pub crossfade_s: f64,
    #[serde(default)]
    pub crossfade_curve: FadeCurve,
    /// Cut leading and trailing silence (below −60 dBFS) from the mix.
    #[serde(default)]
    pub trim: bool,
    /// Loudness relative to where the album policy puts it, LU ("this interlude sits 3 LU under").
    #[serde(default)]
    pub offset_lu: f64,
}

/// A track as checked: its file resolved and the line its table starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub line: usize,
    pub spec: AlbumTrack,
}

/// An album file as checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Album {
    pub path: PathBuf,
    pub file: AlbumFile,
    pub tracks: Vec<Track>,
    pub platform: Option<Platform>,
}

impl Album {
    pub fn load(path: &Path) -> Result<Album> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        // The line of a key of the album's own table (before its first track).
        let key_line = |key: &str| {
            let head = text.split("[[tracks]]").next().unwrap_or("");
            head.lines()
                .position(|l| l.trim_start().strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('=')))
                .map_or(1, |i| i + 1)
        };
        let bad = |line: usize, m: String| Error::InvalidSetting(format!("{} line {line}: {m}", path.display()));
        let mut file: AlbumFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(s.start));
            bad(line, e.message().to_string())
        })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        file.references = file.references.iter().map(|r| resolve(r)).collect();
        if let Some(c) = &file.catalog {
            check_catalog(c).map_err(|m| bad(key_line("catalog"), m))?;
        }
        let platform = file
            .platform
            .as_deref()
            .map(Platform::named)
            .transpose()
            .map_err(|e| bad(key_line("platform"), e.into_reason()))?;
        if let Some(c) = file.consistency {
            if !(0.0..=100.0).contains(&c) {
                return Err(bad(key_line("consistency"), format!("consistency {c} must be 0 … 100 (%)")));
            }
        }
        if file.tracks.is_empty() {
            return Err(bad(1, "no [[tracks]]".into()));
        }
        let n = file.tracks.len();
        let mut tracks = Vec::with_capacity(n);
        for (i, spanned) in file.tracks.iter().enumerate() {
            let line = line_of(spanned.span().start);
            let mut t = spanned.get_ref().clone();
            t.file = resolve(&t.file);
            let previous = tracks.last().map(|p: &Track| &p.spec);
            t.check(i + 1 == n, previous).map_err(|m| bad(line, format!("track {}: {m}", i + 1)))?;
            tracks.push(Track { line, spec: t });
        }
        Ok(Album { path: path.to_path_buf(), file, tracks, platform })
    }

    /// Whether the output is a CD image (44.1 kHz/16-bit, or `platform = "cd"`): Red Book applies.
    pub fn is_cd(&self, sample_rate_hz: u32, bit_depth: BitDepth) -> bool {
        self.platform.is_some_and(|p| p.name == "cd") || (sample_rate_hz == 44_100 && bit_depth == BitDepth::Int16)
    }
}

impl AlbumTrack {
    /// Checks the track's own settings (`last`: whether it ends the album; `previous`: the track
    /// before it) and puts its ISRC in its compact form.
    pub fn check(&mut self, last: bool, previous: Option<&AlbumTrack>) -> std::result::Result<(), String> {
        for (name, v) in [
            ("gap_before_s", self.gap_before_s),
            ("fade_in_s", self.fade_in_s),
            ("fade_out_s", self.fade_out_s),
            ("crossfade_s", self.crossfade_s),
        ] {
            if !(0.0..=600.0).contains(&v) {
                return Err(format!("{name} {v} must be 0 … 600 s"));
            }
        }
        if !(-40.0..=40.0).contains(&self.offset_lu) {
            return Err(format!("offset_lu {} must be within ±40", self.offset_lu));
        }
        if self.crossfade_s > 0.0 && last {
            return Err("crossfade_s into the next track, but it is the last".into());
        }
        if self.gap_before_s > 0.0 && previous.is_some_and(|p| p.crossfade_s > 0.0) {
            return Err("a gap before a track the previous one crossfades into".into());
        }
        if let Some(isrc) = &self.isrc {
            let mut tags = Tags { isrc: Some(isrc.clone()), ..Tags::default() };
            tags.validate().map_err(Error::into_reason)?;
            self.isrc = tags.isrc;
        }
        Ok(())
    }
}

/// A 13-digit UPC/EAN with its check digit (GS1: weights 1, 3 alternating from the left).
fn check_catalog(code: &str) -> std::result::Result<(), String> {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 13 || code.chars().count() != 13 {
        return Err(format!("catalog `{code}` is not 13 digits (UPC/EAN-13)"));
    }
    let sum: u32 = digits[..12].iter().enumerate().map(|(i, d)| if i % 2 == 0 { *d } else { 3 * d }).sum();
    if (10 - sum % 10) % 10 != digits[12] {
        return Err(format!("catalog `{code}`: the check digit is wrong"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Album> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("album.toml");
        std::fs::write(&p, text).unwrap();
        Album::load(&p)
    }

    const HEAD: &str = "title = \"T\"\nartist = \"A\"\n";

    #[test]
    fn an_album_reads_with_its_tracks_lines() {
        let a = load(&format!(
            "{HEAD}catalog = \"4006381333931\"\n\n[[tracks]]\nfile = \"a.wav\"\ntitle = \"One\"\ncrossfade_s = 2\n\n[[tracks]]\nfile = \"b.wav\"\ntitle = \"Two\"\nisrc = \"GB-AYE-06-01498\"\noffset_lu = -3\n"
        ))
        .unwrap();
        assert_eq!(a.tracks.len(), 2);
        assert_eq!((a.tracks[0].line, a.tracks[1].line), (5, 10));
        assert_eq!(a.tracks[1].spec.isrc.as_deref(), Some("GBAYE0601498"));
        assert_eq!(a.tracks[1].spec.fade_curve, FadeCurve::EqualPower);
    }

    #[test]
    fn bad_albums_name_the_line() {
        let err = |t: &str| load(&format!("{HEAD}{t}")).unwrap_err().to_string();
        let track = "[[tracks]]\nfile = \"a.wav\"\ntitle = \"One\"\n";
        assert!(
            err(&format!("{track}colour = 3\n")).contains("line 6: unknown field `colour`"),
            "{}",
            err(&format!("{track}colour = 3\n"))
        );
        assert!(err(&format!("{track}gap_before_s = -1\n")).contains("line 3: track 1: gap_before_s -1"));
        assert!(err(&format!("{track}isrc = \"XX\"\n")).contains("line 3: track 1: "));
        assert!(err(&format!("{track}crossfade_s = 1\n")).contains("but it is the last"));
        assert!(err(&format!("catalog = \"4006381333932\"\n{track}"))
            .contains("line 3: catalog `4006381333932`: the check digit"));
        assert!(err(&format!("consistency = 120\n{track}")).contains("line 3: consistency 120"));
        assert!(err(&format!("format = \"mp3\"\n{track}")).contains("line 3"));
        assert!(err(&format!("{track}fade_curve = \"wobbly\"\n")).contains("line 6"));
        assert!(err("").contains("missing field `tracks`"));
    }
}
