//! The output's format: its container (WAV or FLAC), its samples (16- or 24-bit integer PCM, or
//! 32-bit float), and how integer formats are dithered.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum BitDepth {
    #[value(name = "16")]
    #[serde(rename = "16")]
    Int16,
    #[value(name = "24")]
    #[serde(rename = "24")]
    Int24,
    #[value(name = "32f")]
    #[serde(rename = "32f")]
    Float32,
}

impl BitDepth {
    pub fn int_bits(self) -> Option<u16> {
        match self {
            BitDepth::Int16 => Some(16),
            BitDepth::Int24 => Some(24),
            BitDepth::Float32 => None,
        }
    }
}

/// Dither ahead of rounding to an integer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Dither {
    /// Shaped for 16 bits at 44.1/48 kHz (where the shaping filter is designed), TPDF otherwise.
    #[default]
    Auto,
    /// Flat triangular-PDF dither of 2 LSB peak to peak: error independent of the signal.
    Tpdf,
    /// TPDF inside an error-feedback loop that moves the noise out of the ear's most sensitive
    /// band (1–5 kHz) to where it hears least.
    Shaped,
    /// Plain rounding (the error follows the signal: distortion on quiet passages).
    None,
}

impl Dither {
    /// What `self` means for `depth` at `sample_rate_hz`: never `Auto`.
    pub fn resolve(self, depth: BitDepth, sample_rate_hz: u32) -> Dither {
        match self {
            Dither::Auto if depth == BitDepth::Int16 && [44_100, 48_000].contains(&sample_rate_hz) => Dither::Shaped,
            Dither::Auto => Dither::Tpdf,
            d => d,
        }
    }
}

/// The render's output format: sample format, dither, and the sample rate (`None`: the input's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSpec {
    pub bit_depth: BitDepth,
    pub dither: Dither,
    pub sample_rate_hz: Option<u32>,
}

impl From<BitDepth> for OutputSpec {
    fn from(bit_depth: BitDepth) -> Self {
        OutputSpec { bit_depth, dither: Dither::Auto, sample_rate_hz: None }
    }
}

/// The container an output is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Wav,
    Flac,
}

impl Container {
    /// `explicit`, else the one `path`'s extension names (`.flac`: FLAC; anything else: WAV).
    pub fn for_path(path: &Path, explicit: Option<Container>) -> Container {
        explicit.unwrap_or_else(|| {
            if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("flac")) {
                Container::Flac
            } else {
                Container::Wav
            }
        })
    }

    /// Refuses a sample format the container cannot hold (FLAC is integer PCM).
    pub fn check(self, depth: BitDepth) -> Result<()> {
        if self == Container::Flac && depth.int_bits().is_none() {
            return Err(Error::InvalidSetting("FLAC holds 16- or 24-bit integer samples, not 32-bit float".into()));
        }
        Ok(())
    }

    pub fn extension(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Flac => "flac",
        }
    }
}
