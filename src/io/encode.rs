//! Audio output (WAV or FLAC, tagged) and atomic writes (temporary file, then rename) so an
//! interrupted run never leaves a half-written output behind.
use std::io::{BufWriter, Write};
use std::path::Path;

use lofty::tag::TagType;

use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::io::flac::write_flac;
use crate::io::tags::write_tags;
use crate::io::wav::{write_pcm, PcmFormat};
pub use crate::model::Container;
use crate::model::{BitDepth, Tags};

/// Writes `buffer` (already quantised for integer formats) to `path` as WAV, atomically.
pub fn write_wav(path: &Path, buffer: &AudioBuffer, depth: BitDepth) -> Result<()> {
    stage_audio(path, buffer, depth, Container::Wav, &Tags::default())?.commit()
}

/// Writes `buffer` (already quantised to `depth`) in `container` with `tags`, up to the rename: the
/// file is complete and on disk in a temporary file beside `path`, which [`StagedWrite::commit`]
/// puts in place (dropped uncommitted, it is removed).
pub fn stage_audio(
    path: &Path,
    buffer: &AudioBuffer,
    depth: BitDepth,
    container: Container,
    tags: &Tags,
) -> Result<StagedWrite> {
    container.check(depth)?;
    stage(path, |file| {
        {
            let mut out = BufWriter::with_capacity(1 << 20, &mut *file);
            match (container, depth.int_bits()) {
                (Container::Flac, Some(bits)) => write_flac(&mut out, buffer, bits)?,
                _ => {
                    let format = match depth {
                        BitDepth::Int16 => PcmFormat::I16,
                        BitDepth::Int24 => PcmFormat::I24,
                        BitDepth::Float32 => PcmFormat::F32,
                    };
                    write_pcm(&mut out, buffer, format).map_err(|e| e.to_string())?;
                }
            }
            out.flush().map_err(|e| e.to_string())?;
        }
        let kinds: &[TagType] = match container {
            Container::Flac => &[TagType::VorbisComments],
            Container::Wav => &[TagType::Id3v2, TagType::RiffInfo],
        };
        write_tags(file, tags, kinds)
    })
}

/// Writes through a temporary file in the destination's folder, then renames it over `path`.
/// Fails now, before any work, if `path` could not be written by [`write_atomically`] (its folder
/// missing or read-only, or it is a folder): a probe temporary file is created and removed.
pub fn check_writable(path: &Path) -> Result<()> {
    let fail = |reason: String| Error::Write { path: path.into(), reason };
    if path.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    tempfile::Builder::new()
        .prefix(".automaster-")
        .suffix(".part")
        .tempfile_in(folder_of(path))
        .map(drop)
        .map_err(|e| fail(e.to_string()))
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes through a temporary file in the destination's folder, then renames it over `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    stage(path, write)?.commit()
}

/// A finished output in its temporary file, not yet renamed over its destination.
pub struct StagedWrite {
    file: tempfile::NamedTempFile,
    path: std::path::PathBuf,
}

impl StagedWrite {
    /// Renames the temporary file over the destination.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.file.persist(&path).map_err(|e| Error::Write { path: path.clone(), reason: e.error.to_string() })?;
        // The rename itself made durable: without the folder's sync a crash can lose it.
        #[cfg(unix)]
        std::fs::File::open(folder_of(&path))
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::Write { path, reason: format!("cannot sync its folder: {e}") })?;
        Ok(())
    }
}

/// The temporary file written by `write` and synced, with ordinary permissions.
fn stage(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<StagedWrite> {
    let fail = |reason: String| Error::Write { path: path.into(), reason };
    let dir = folder_of(path);
    if path.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".automaster-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| fail(e.to_string()))?;
    // Locked while it is written and until it is renamed (the lock goes with the process): what
    // `remove_stale_parts` finds unlocked, a killed run left behind.
    tmp.as_file().try_lock().map_err(|e| fail(format!("cannot lock its temporary file: {e}")))?;
    write(tmp.as_file_mut()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    // Temporary files are created private (0600); the finished output gets ordinary permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| fail(e.to_string()))?;
    }
    Ok(StagedWrite { file: tmp, path: path.into() })
}

/// Removes the temporary files (`.automaster-*.part`) under `dir` that no running process holds:
/// those a killed run left. Returns how many were removed.
pub fn remove_stale_parts(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            removed += remove_stale_parts(&path)?;
        } else if name.starts_with(".automaster-") && name.ends_with(".part") {
            let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else { continue };
            // Unlocked: its writer is gone. (Held: a live writer, maybe another shard's.)
            if file.try_lock().is_ok() && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}
