//! WAV output: quantisation with TPDF dither, and an atomic write (temporary file, then rename) so
//! an interrupted run never leaves a half-written output behind.
use std::io::{BufWriter, Write};
use std::path::Path;

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::wav::{write_pcm, PcmFormat};

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
    fn int_bits(self) -> Option<u16> {
        match self {
            BitDepth::Int16 => Some(16),
            BitDepth::Int24 => Some(24),
            BitDepth::Float32 => None,
        }
    }
}

/// Fixed seed: dither is part of the deterministic render (same plan + input → same bits).
const DITHER_SEED: u64 = 0x6175_746f_6d61_7374;

/// Rounds every sample to the integer grid of `depth` after adding TPDF dither of 2 LSB peak-to-peak
/// (the sum of two independent uniform ±½ LSB values; Lipshitz, Wannamaker & Vanderkooy, JAES 1992),
/// clamping to the format's range. The buffer keeps f32 values that lie exactly on the grid.
pub fn quantize(buffer: &mut AudioBuffer, depth: BitDepth) {
    let Some(bits) = depth.int_bits() else { return };
    let scale = f64::from(1u32 << (bits - 1));
    let (lo, hi) = (-scale, scale - 1.0);
    const UNIT: f64 = 1.0 / (1u64 << 24) as f64;
    // Channels in parallel, each with its own seed: the result does not depend on thread count.
    buffer.channels.par_iter_mut().enumerate().for_each(|(c, ch)| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(DITHER_SEED ^ c as u64);
        for x in ch.iter_mut() {
            // Two independent 24-bit uniforms from one 64-bit draw.
            let r = rng.next_u64();
            let (u1, u2) = ((r >> 40) as f64 * UNIT, ((r >> 16) & 0xFF_FFFF) as f64 * UNIT);
            let q = (f64::from(*x) * scale + (u1 - u2)).round().clamp(lo, hi);
            *x = (q / scale) as f32;
        }
    });
}

/// Writes `buffer` (already quantised for integer formats) to `path` as WAV, atomically.
pub fn write_wav(path: &Path, buffer: &AudioBuffer, depth: BitDepth) -> Result<()> {
    let format = match depth {
        BitDepth::Int16 => PcmFormat::I16,
        BitDepth::Int24 => PcmFormat::I24,
        BitDepth::Float32 => PcmFormat::F32,
    };
    write_atomically(path, |file| {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write_pcm(&mut out, buffer, format).and_then(|()| out.flush()).map_err(|e| e.to_string())
    })
}

/// Writes through a temporary file in the destination's folder, then renames it over `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    let fail = |reason: String| Error::Write { path: path.into(), reason };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".automaster-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| fail(e.to_string()))?;
    write(tmp.as_file_mut()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    // Temporary files are created private (0600); the finished output gets ordinary permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| fail(e.to_string()))?;
    }
    tmp.persist(path).map_err(|e| fail(e.error.to_string()))?;
    Ok(())
}
