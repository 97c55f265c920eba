//! What a streaming platform's lossy transcode does to a master, in memory: the samples encoded
//! and decoded again, as the platform's player will play them. Opus through libopus.
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
#[cfg(feature = "opus")]
use crate::io::ogg::OPUS_RATE_HZ;

/// 20 ms at 48 kHz: the frame size streaming encoders use (RFC 6716 §2.1.4).
#[cfg(feature = "opus")]
const FRAME: usize = 960;
/// Bytes a packet may take: RFC 6716 §3.4's bound for one frame.
#[cfg(feature = "opus")]
const MAX_PACKET_BYTES: usize = 1275;

fn codec_error(reason: impl std::fmt::Display) -> Error {
    Error::Codec { codec: "opus", reason: reason.to_string() }
}

/// `buffer` (48 kHz, mono or stereo) through an Opus encoder at `bitrate_kbps` (VBR, full
/// complexity, the music application) and a decoder: the same number of frames, aligned with the
/// input (the encoder's look-ahead trimmed, the end padded through it).
#[cfg(feature = "opus")]
pub fn opus_round_trip(buffer: &AudioBuffer, bitrate_kbps: u32) -> Result<AudioBuffer> {
    if buffer.sample_rate != OPUS_RATE_HZ {
        return Err(codec_error(format!("needs {OPUS_RATE_HZ} Hz, got {} Hz", buffer.sample_rate)));
    }
    let n_ch = buffer.num_channels();
    let layout = match n_ch {
        1 => opus::Channels::Mono,
        2 => opus::Channels::Stereo,
        n => return Err(codec_error(format!("{n} channels; the check encodes mono or stereo"))),
    };
    let mut encoder = opus::Encoder::new(OPUS_RATE_HZ, layout, opus::Application::Audio).map_err(codec_error)?;
    encoder.set_bitrate(opus::Bitrate::Bits(bitrate_kbps as i32 * 1000)).map_err(codec_error)?;
    encoder.set_complexity(10).map_err(codec_error)?;
    // Unconstrained VBR, as ffmpeg's and opus-tools' encoders run it (libopus defaults to
    // constrained): its bigger transient frames move the peaks.
    encoder.set_vbr(true).map_err(codec_error)?;
    encoder.set_vbr_constraint(false).map_err(codec_error)?;
    let lookahead = usize::try_from(encoder.get_lookahead().map_err(codec_error)?).map_err(codec_error)?;
    let mut decoder = opus::Decoder::new(OPUS_RATE_HZ, layout).map_err(codec_error)?;
    let frames = buffer.frames();
    // Zeros after the end carry the last samples out through the look-ahead.
    let total = (frames + lookahead).div_ceil(FRAME) * FRAME;
    let mut out = vec![Vec::with_capacity(total); n_ch];
    let (mut input, mut packet, mut pcm) =
        (vec![0f32; FRAME * n_ch], [0u8; MAX_PACKET_BYTES], vec![0f32; FRAME * n_ch]);
    for start in (0..total).step_by(FRAME) {
        for (i, frame) in input.chunks_exact_mut(n_ch).enumerate() {
            for (c, s) in frame.iter_mut().enumerate() {
                *s = buffer.channels[c].get(start + i).copied().unwrap_or(0.0);
            }
        }
        let len = encoder.encode_float(&input, &mut packet).map_err(codec_error)?;
        let got = decoder.decode_float(&packet[..len], &mut pcm, false).map_err(codec_error)?;
        for (c, channel) in out.iter_mut().enumerate() {
            channel.extend(pcm[..got * n_ch].iter().skip(c).step_by(n_ch));
        }
    }
    for channel in &mut out {
        channel.drain(..lookahead.min(channel.len()));
        channel.resize(frames, 0.0);
    }
    Ok(AudioBuffer::new(OPUS_RATE_HZ, out))
}

#[cfg(not(feature = "opus"))]
pub fn opus_round_trip(_buffer: &AudioBuffer, _bitrate_kbps: u32) -> Result<AudioBuffer> {
    Err(codec_error("this build has no libopus (feature `opus`)"))
}
