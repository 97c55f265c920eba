//! The output's sample format: 16- or 24-bit integer PCM, or 32-bit float.
use serde::{Deserialize, Serialize};

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
