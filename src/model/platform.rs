//! Delivery targets: what each platform (or medium) normalises to and accepts, as one table of data.
//! `docs/PLATFORMS.md` gives the source of every value; `source` repeats it in short.
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::BitDepth;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Platform {
    /// The name `--platform` takes.
    pub name: &'static str,
    /// Integrated loudness the platform plays at; `None`: it does not normalise (the master keeps
    /// the loudness matching gives it).
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    pub sample_rate_hz: u32,
    pub bit_depth: BitDepth,
    /// Side removed below this frequency (vinyl: lateral-only bass for the cutting stylus).
    pub bass_mono_hz: Option<f64>,
    /// The codec the platform transcodes to, for `--codec-check` (`None`: delivered as is).
    pub codec: Option<Codec>,
    pub source: &'static str,
}

/// A lossy codec a platform streams in, with the bit rate its highest common tier uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Codec {
    pub name: &'static str,
    pub bitrate_kbps: u32,
}

const OPUS_160: Codec = Codec { name: "opus", bitrate_kbps: 160 };
/// What `--codec-check` encodes with for a platform whose codec the table does not give: the
/// common streaming transcode.
pub const DEFAULT_CHECK_CODEC: Codec = OPUS_160;
const OPUS_128: Codec = Codec { name: "opus", bitrate_kbps: 128 };

pub const PLATFORMS: [Platform; 9] = [
    Platform {
        name: "spotify",
        target_lufs: Some(-14.0),
        ceiling_dbtp: -1.0,
        sample_rate_hz: 44_100,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: None,
        codec: Some(OPUS_160),
        source: "Spotify for Artists, Loudness normalization: -14 LUFS, -1 dBTP (-2 if louder than -14)",
    },
    Platform {
        name: "apple-music",
        target_lufs: Some(-16.0),
        ceiling_dbtp: -1.0,
        sample_rate_hz: 48_000,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: None,
        codec: None,
        source: "Apple Digital Masters: 24-bit masters, -1 dBTP for AAC; Sound Check about -16 LUFS",
    },
    Platform {
        name: "youtube",
        target_lufs: Some(-14.0),
        ceiling_dbtp: -1.0,
        sample_rate_hz: 48_000,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: None,
        codec: Some(OPUS_128),
        source: "YouTube: -14 LUFS (turns loud tracks down only), 48 kHz recommended; streams Opus",
    },
    Platform {
        name: "tidal",
        target_lufs: Some(-14.0),
        ceiling_dbtp: -1.0,
        sample_rate_hz: 44_100,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: None,
        codec: None,
        source: "TIDAL: -14 LUFS (does not raise quiet tracks), lossless delivery",
    },
    Platform {
        name: "amazon",
        target_lufs: Some(-14.0),
        ceiling_dbtp: -2.0,
        sample_rate_hz: 44_100,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: None,
        codec: None,
        source: "Amazon Music: -14 LUFS, -2 dBTP (secondary sources)",
    },
    Platform {
        name: "deezer",
        target_lufs: Some(-15.0),
        ceiling_dbtp: -1.0,
        sample_rate_hz: 44_100,
        bit_depth: BitDepth::Int16,
        bass_mono_hz: None,
        codec: None,
        source: "Deezer: -15 LUFS normalisation; streams 16-bit/44.1 kHz FLAC at its highest tier",
    },
    Platform {
        name: "cd",
        target_lufs: None,
        ceiling_dbtp: -0.3,
        sample_rate_hz: 44_100,
        bit_depth: BitDepth::Int16,
        bass_mono_hz: None,
        codec: None,
        source: "Red Book (IEC 60908): 44.1 kHz/16-bit; no normalisation; -0.3 dBTP common practice",
    },
    Platform {
        name: "ebu-r128",
        target_lufs: Some(-23.0),
        ceiling_dbtp: -1.0,
        sample_rate_hz: 48_000,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: None,
        codec: None,
        source: "EBU R 128 (2023): -23 LUFS, -1 dBTP; EBU Tech 3285 broadcast WAV at 48 kHz",
    },
    Platform {
        name: "vinyl",
        target_lufs: None,
        ceiling_dbtp: -1.0,
        sample_rate_hz: 96_000,
        bit_depth: BitDepth::Int24,
        bass_mono_hz: Some(150.0),
        codec: None,
        source: "Cutting engineers' practice: 24-bit/96 kHz, no normalisation, bass mono below ~150 Hz",
    },
];

impl Platform {
    /// The platform called `name` (case-insensitive).
    pub fn named(name: &str) -> Result<Platform> {
        PLATFORMS.iter().find(|p| p.name.eq_ignore_ascii_case(name)).copied().ok_or_else(|| {
            let names: Vec<&str> = PLATFORMS.iter().map(|p| p.name).collect();
            Error::InvalidSetting(format!("unknown platform `{name}` (known: {})", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for (i, p) in PLATFORMS.iter().enumerate() {
            assert_eq!(Platform::named(&p.name.to_uppercase()).unwrap(), *p);
            assert!(PLATFORMS[..i].iter().all(|q| q.name != p.name), "{} twice", p.name);
            assert!(p.target_lufs.is_none_or(|l| (-30.0..=-5.0).contains(&l)));
            assert!((-3.0..=0.0).contains(&p.ceiling_dbtp) && !p.source.is_empty());
        }
        assert!(Platform::named("myspace").is_err());
    }
}
