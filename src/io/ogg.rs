//! Ogg streams: whether one ends as an encoder ends it (a last page flagged end-of-stream; a file cut
//! short has none, and symphonia's readers stop at the cut without a word), and Ogg Opus decoding
//! through libopus, trimmed as RFC 7845 says (pre-skip at the start, the last granule position at
//! the end, the header's output gain applied).
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ogg::PacketReader;

use crate::error::{Error, Result};

/// The first bytes of every Ogg page.
const CAPTURE_PATTERN: &[u8; 4] = b"OggS";

/// Whether `path` is an Ogg file (by its first page's capture pattern, whatever its extension).
pub fn is_ogg(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == CAPTURE_PATTERN
}

/// What the packets of an Ogg file's first logical stream say about it, read without decoding.
struct Scan {
    /// The stream's first packet (the codec's identification header).
    first: Vec<u8>,
    /// Whether its last packet ends the stream (the page flagged end-of-stream).
    complete: bool,
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Corrupt { path: path.into(), reason: e.to_string() }
}

/// The reason a stream that does not end is refused.
fn cut_short(path: &Path) -> Error {
    Error::Corrupt {
        path: path.into(),
        reason: "the Ogg stream has no end-of-stream page: the file is cut short (--allow-truncated \
                 masters what is there)"
            .into(),
    }
}

fn packets(path: &Path) -> Result<PacketReader<BufReader<File>>> {
    Ok(PacketReader::new(BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?)))
}

fn scan(path: &Path) -> Result<Scan> {
    let mut reader = packets(path)?;
    let first =
        reader.read_packet().map_err(|e| read_error(path, e))?.ok_or_else(|| Error::Empty { path: path.into() })?;
    let serial = first.stream_serial();
    let mut complete = first.last_in_stream();
    while !complete {
        match reader.read_packet() {
            Ok(Some(p)) => complete = p.stream_serial() == serial && p.last_in_stream(),
            // The end of the file, or a page cut in the middle: either way no end-of-stream page.
            Ok(None) | Err(_) => break,
        }
    }
    Ok(Scan { first: first.data, complete })
}

/// Refuses an Ogg file whose stream does not end (unless `allow_truncated`); says whether it is
/// Ogg Opus (which symphonia cannot decode).
pub fn check(path: &Path, allow_truncated: bool) -> Result<bool> {
    let scan = scan(path)?;
    if !scan.complete && !allow_truncated {
        return Err(cut_short(path));
    }
    Ok(scan.first.starts_with(b"OpusHead"))
}

/// Opus decodes at 48 kHz whatever rate the encoder was given (RFC 7845 §5.1).
pub const OPUS_RATE_HZ: u32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz (RFC 6716 §3.2.5).
pub const MAX_PACKET_FRAMES: usize = 5_760;

/// The identification header (RFC 7845 §5.1).
#[cfg(feature = "opus")]
struct OpusHead {
    channels: usize,
    pre_skip: u64,
    /// Q7.8 dB.
    output_gain: i16,
}

#[cfg(feature = "opus")]
impl OpusHead {
    fn parse(data: &[u8], path: &Path) -> Result<Self> {
        if data.len() < 19 || !data.starts_with(b"OpusHead") || data[8] >> 4 != 0 {
            return Err(Error::UnsupportedFormat { path: path.into(), reason: "bad OpusHead".into() });
        }
        let channels = usize::from(data[9]);
        if channels > 2 {
            return Err(Error::TooManyChannels { path: path.into(), channels });
        }
        if channels == 0 || data[18] != 0 {
            return Err(Error::UnsupportedFormat {
                path: path.into(),
                reason: format!("Opus with {channels} channels in mapping family {}", data[18]),
            });
        }
        Ok(OpusHead {
            channels,
            pre_skip: u64::from(u16::from_le_bytes([data[10], data[11]])),
            output_gain: i16::from_le_bytes([data[16], data[17]]),
        })
    }
}

/// Decodes an Ogg Opus file (mono or stereo) at 48 kHz. A stream without an end-of-stream page is
/// refused unless `allow_truncated`; then what decodes is kept.
#[cfg(feature = "opus")]
pub fn decode_opus(
    path: &Path,
    allow_truncated: bool,
    progress: &dyn crate::progress::Progress,
) -> Result<crate::audio::AudioBuffer> {
    let corrupt = |e: &dyn std::fmt::Display| Error::Corrupt { path: path.into(), reason: e.to_string() };
    let mut reader = packets(path)?;
    let head = reader.read_packet().map_err(|e| corrupt(&e))?.ok_or_else(|| Error::Empty { path: path.into() })?;
    let serial = head.stream_serial();
    let header = OpusHead::parse(&head.data, path)?;
    let layout = if header.channels == 1 { opus::Channels::Mono } else { opus::Channels::Stereo };
    let mut decoder = opus::Decoder::new(OPUS_RATE_HZ, layout).map_err(|e| corrupt(&e))?;
    let task = progress.start(&format!("decode {}", crate::io::decode::file_name(path)), 0);
    let mut channels = vec![Vec::new(); header.channels];
    let mut pcm = vec![0f32; MAX_PACKET_FRAMES * header.channels];
    let (mut packet_index, mut end_granule, mut complete) = (0usize, None, false);
    while !complete {
        let packet = match reader.read_packet() {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => break,
        };
        if packet.stream_serial() != serial {
            continue;
        }
        packet_index += 1;
        complete = packet.last_in_stream();
        // The comment header (the second packet) carries no audio.
        if packet_index == 1 {
            continue;
        }
        let frames = decoder.decode_float(&packet.data, &mut pcm, false).map_err(|e| corrupt(&e))?;
        for (c, channel) in channels.iter_mut().enumerate() {
            channel.extend(pcm[..frames * header.channels].iter().skip(c).step_by(header.channels));
        }
        if packet.last_in_page() {
            end_granule = Some(packet.absgp_page());
        }
        task.inc(frames as u64);
    }
    drop(task);
    if !complete && !allow_truncated {
        return Err(cut_short(path));
    }
    // The stream's length is its last granule position less the pre-skip; the last packet's
    // decoder output beyond it is padding (RFC 7845 §4.4). A truncated stream keeps all it has.
    let decoded = channels.first().map_or(0, Vec::len) as u64;
    let skip = header.pre_skip.min(decoded);
    let end = match (complete, end_granule) {
        (true, Some(g)) => g.saturating_sub(header.pre_skip).min(decoded - skip),
        _ => decoded - skip,
    };
    // RFC 7845 §5.1: the output gain, Q7.8 dB, applied to every sample.
    let gain = crate::dsp::from_db(f64::from(header.output_gain) / 256.0) as f32;
    for channel in &mut channels {
        channel.truncate((skip + end) as usize);
        channel.drain(..skip as usize);
        if header.output_gain != 0 {
            channel.iter_mut().for_each(|s| *s *= gain);
        }
    }
    Ok(crate::audio::AudioBuffer::new(OPUS_RATE_HZ, channels))
}

#[cfg(not(feature = "opus"))]
pub fn decode_opus(
    path: &Path,
    _allow_truncated: bool,
    _progress: &dyn crate::progress::Progress,
) -> Result<crate::audio::AudioBuffer> {
    Err(Error::UnsupportedFormat {
        path: path.into(),
        reason: "Opus: this build has no libopus (feature `opus`)".into(),
    })
}
