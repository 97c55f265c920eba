//! Decoding any supported container/codec (WAV, AIFF, FLAC, Ogg Vorbis, MP3, AAC/M4A, ALAC) with
//! symphonia into planar f32 at the file's own sample rate.
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CodecType, DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3, CODEC_TYPE_NULL,
    CODEC_TYPE_OPUS, CODEC_TYPE_VORBIS,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Largest shortfall against the frame count a header announces that is still accepted from lossy
/// codecs, whose priming/padding (MP3, AAC) can legitimately end a frame or two short of it.
const LOSSY_TRUNCATION_SLACK_FRAMES: u64 = 4096;
/// The same for lossless codecs: their readers resync past a damaged frame silently, and the missing
/// frames (a FLAC frame holds ≥ 192 samples, usually 4096) are how the damage shows; a few frames of
/// slack absorb container rounding (symphonia counts AIFF's pad byte as one more frame).
const LOSSLESS_TRUNCATION_SLACK_FRAMES: u64 = 64;

fn is_lossy(codec: CodecType) -> bool {
    [CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3, CODEC_TYPE_AAC, CODEC_TYPE_VORBIS, CODEC_TYPE_OPUS]
        .contains(&codec)
}

/// Decodes `path` and checks it is usable: mono or stereo, not empty, every sample finite.
pub fn decode_file(path: &Path, progress: &dyn Progress) -> Result<AudioBuffer> {
    // The WAV reader checks float samples as it converts them (integer ones are finite).
    let (buffer, checked) = match decode_pcm_wav(path, progress) {
        Some(result) => (result?, true),
        None => (decode_with_symphonia(path, progress)?, false),
    };
    if buffer.frames() == 0 {
        return Err(Error::Empty { path: path.into() });
    }
    if buffer.sample_rate == 0 {
        return Err(Error::UnsupportedFormat { path: path.into(), reason: "unknown sample rate".into() });
    }
    if let Some((channel, frame)) = (!checked).then(|| buffer.first_non_finite()).flatten() {
        return Err(Error::NonFinite { path: path.into(), channel, frame });
    }
    Ok(buffer)
}

/// Plain PCM WAV, the usual mastering input, by the fast path in [`crate::io::wav`].
fn decode_pcm_wav(path: &Path, progress: &dyn Progress) -> Option<Result<AudioBuffer>> {
    crate::io::wav::read_pcm(path, LOSSLESS_TRUNCATION_SLACK_FRAMES, |frames| {
        progress.start(&format!("decode {}", file_name(path)), frames)
    })
}

pub(crate) fn decode_with_symphonia(path: &Path, progress: &dyn Progress) -> Result<AudioBuffer> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::io(path, std::io::Error::other("is a directory")));
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let unsupported = |reason: String| Error::UnsupportedFormat { path: path.into(), reason };
    let corrupt = |reason: String| Error::Corrupt { path: path.into(), reason };

    let format_opts = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                corrupt("file ends inside its header".into())
            }
            other => unsupported(other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let expected_frames = track.codec_params.n_frames;
    let slack = if is_lossy(track.codec_params.codec) {
        LOSSY_TRUNCATION_SLACK_FRAMES
    } else {
        LOSSLESS_TRUNCATION_SLACK_FRAMES
    };
    if let Some(ch) = track.codec_params.channels {
        if ch.count() > 2 {
            return Err(Error::TooManyChannels { path: path.into(), channels: ch.count() });
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;

    let task = progress.start(&format!("decode {}", file_name(path)), expected_frames.unwrap_or(0));
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut sample_rate = track.codec_params.sample_rate.unwrap_or(0);
    if let Some(n) = expected_frames {
        let n_ch = track.codec_params.channels.map_or(2, |c| c.count());
        channels = (0..n_ch).map(|_| Vec::with_capacity(n as usize)).collect();
    }
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(e @ (SymError::DecodeError(_) | SymError::IoError(_))) => {
                return Err(corrupt(format!("{e} near frame {}", channels.first().map_or(0, Vec::len))))
            }
            Err(e) => return Err(corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        let n_ch = spec.channels.count();
        if n_ch > 2 {
            return Err(Error::TooManyChannels { path: path.into(), channels: n_ch });
        }
        if channels.len() != n_ch {
            if channels.iter().any(|c| !c.is_empty()) {
                return Err(corrupt("channel count changes mid-stream".into()));
            }
            channels = vec![Vec::new(); n_ch];
        }
        sample_rate = spec.rate;
        let buf = match &mut interleaved {
            Some(b) if b.capacity() >= decoded.capacity() * n_ch => b,
            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let samples = buf.samples();
        if n_ch == 1 {
            channels[0].extend_from_slice(samples);
        } else {
            for (c, ch) in channels.iter_mut().enumerate() {
                ch.extend(samples.iter().skip(c).step_by(n_ch));
            }
        }
        task.inc((buf.samples().len() / n_ch) as u64);
    }
    drop(task);

    let buffer = AudioBuffer::new(sample_rate, channels);
    let frames = buffer.frames() as u64;
    if let Some(expected) = expected_frames {
        if frames > 0 && frames + slack < expected {
            return Err(corrupt(format!("header announces {expected} frames, only {frames} decode")));
        }
    }
    Ok(buffer)
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
