//! Decoding any supported container/codec (WAV, AIFF, FLAC, Ogg Vorbis, MP3, AAC/M4A, ALAC) with
//! symphonia, and Ogg Opus with libopus, into planar f32 at the file's own sample rate: gapless
//! (MP3's LAME header and MP4's edit list trim the encoder's delay and padding), and a file cut
//! short is refused unless asked to take what is there.
use std::path::Path;

use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs::{
    CodecType, DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3, CODEC_TYPE_NULL,
    CODEC_TYPE_OPUS, CODEC_TYPE_VORBIS,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
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

/// How inputs are decoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Take what a truncated lossy file holds (an Ogg stream without its end, fewer frames than
    /// its header announces) instead of refusing it.
    pub allow_truncated: bool,
}

/// Decodes `path` and checks it is usable: mono or stereo, not empty, every sample finite; a
/// truncated file is refused.
pub fn decode_file(path: &Path, progress: &dyn Progress) -> Result<AudioBuffer> {
    decode_file_with(path, DecodeOptions::default(), progress)
}

/// As [`decode_file`], with `options`.
pub fn decode_file_with(path: &Path, options: DecodeOptions, progress: &dyn Progress) -> Result<AudioBuffer> {
    // The WAV reader checks float samples as it converts them (integer ones are finite).
    let (buffer, checked) = match decode_pcm_wav(path, progress) {
        Some(result) => (result?, true),
        None if crate::io::ogg::is_ogg(path) && crate::io::ogg::check(path, options.allow_truncated)? => {
            (crate::io::ogg::decode_opus(path, options.allow_truncated, progress)?, false)
        }
        None => (decode_with_symphonia(path, options, progress)?, false),
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

pub(crate) fn decode_with_symphonia(
    path: &Path,
    options: DecodeOptions,
    progress: &dyn Progress,
) -> Result<AudioBuffer> {
    let corrupt = |reason: String| Error::Corrupt { path: path.into(), reason };
    let mut format = probe(path)?;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| Error::UnsupportedFormat { path: path.into(), reason: "no audio track".into() })?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    let expected_frames = params.n_frames;
    let slack = if is_lossy(params.codec) { LOSSY_TRUNCATION_SLACK_FRAMES } else { LOSSLESS_TRUNCATION_SLACK_FRAMES };
    if let Some(ch) = params.channels {
        if ch.count() > 2 {
            return Err(Error::TooManyChannels { path: path.into(), channels: ch.count() });
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| Error::UnsupportedFormat { path: path.into(), reason: e.to_string() })?;

    let task = progress.start(&format!("decode {}", file_name(path)), expected_frames.unwrap_or(0));
    let mut pcm =
        Planar::new(params.sample_rate.unwrap_or(0), expected_frames, params.channels.map_or(2, |c| c.count()));
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
                return Err(corrupt(format!("{e} near frame {}", pcm.frames())))
            }
            Err(e) => return Err(corrupt(e.to_string())),
        };
        task.inc(pcm.append(decoded, path)? as u64);
    }
    drop(task);

    let mut buffer = AudioBuffer::new(pcm.sample_rate, pcm.channels);
    let frames = buffer.frames() as u64;
    if let Some(expected) = expected_frames {
        if frames > 0 && frames + slack < expected && !options.allow_truncated {
            return Err(corrupt(format!(
                "header announces {expected} frames, only {frames} decode (--allow-truncated masters what is there)"
            )));
        }
    }
    if let Some(trim) = crate::io::mp4::edit_trim(path, buffer.sample_rate) {
        let start = (trim.skip as usize).min(buffer.frames());
        let end = start.saturating_add(trim.frames as usize).min(buffer.frames());
        for channel in &mut buffer.channels {
            channel.truncate(end);
            channel.drain(..start);
        }
    }
    Ok(buffer)
}

/// The frames and channels the header of `path` announces, where it does (cheap: no decoding).
pub fn announced_size(path: &Path) -> Option<(u64, usize)> {
    if let Ok(reader) = hound::WavReader::open(path) {
        let spec = reader.spec();
        return Some((u64::from(reader.duration()), usize::from(spec.channels)));
    }
    let format = probe(path).ok()?;
    let track = format.tracks().iter().find(|t| t.codec_params.codec != CODEC_TYPE_NULL)?;
    Some((track.codec_params.n_frames?, track.codec_params.channels.map_or(2, |c| c.count())))
}

/// The container of `path`, probed (gapless, so encoder delay and padding are trimmed).
fn probe(path: &Path) -> Result<Box<dyn FormatReader>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::io(path, std::io::Error::other("is a directory")));
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_opts = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::Corrupt { path: path.into(), reason: "file ends inside its header".into() }
            }
            other => Error::UnsupportedFormat { path: path.into(), reason: other.to_string() },
        })?;
    Ok(probed.format)
}

/// The decoded samples so far, planar, with the interleaving buffer packets pass through.
struct Planar {
    sample_rate: u32,
    channels: Vec<Vec<f32>>,
    interleaved: Option<SampleBuffer<f32>>,
}

impl Planar {
    /// Room for the frames a header announces, when it does.
    fn new(sample_rate: u32, expected_frames: Option<u64>, channels: usize) -> Self {
        let channels = match expected_frames {
            Some(n) => (0..channels).map(|_| Vec::with_capacity(n as usize)).collect(),
            None => Vec::new(),
        };
        Planar { sample_rate, channels, interleaved: None }
    }

    fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Appends a decoded packet; returns its frames. Refuses more than two channels and a channel
    /// count that changes mid-stream.
    fn append(&mut self, decoded: AudioBufferRef, path: &Path) -> Result<usize> {
        let spec = *decoded.spec();
        let n_ch = spec.channels.count();
        if n_ch > 2 {
            return Err(Error::TooManyChannels { path: path.into(), channels: n_ch });
        }
        if self.channels.len() != n_ch {
            if self.channels.iter().any(|c| !c.is_empty()) {
                return Err(Error::Corrupt { path: path.into(), reason: "channel count changes mid-stream".into() });
            }
            self.channels = vec![Vec::new(); n_ch];
        }
        self.sample_rate = spec.rate;
        let buf = match &mut self.interleaved {
            Some(b) if b.capacity() >= decoded.capacity() * n_ch => b,
            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(decoded);
        let samples = buf.samples();
        if n_ch == 1 {
            self.channels[0].extend_from_slice(samples);
        } else {
            for (c, ch) in self.channels.iter_mut().enumerate() {
                ch.extend(samples.iter().skip(c).step_by(n_ch));
            }
        }
        Ok(samples.len() / n_ch)
    }
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
