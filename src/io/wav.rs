//! PCM WAV fast paths. Sample-by-sample readers and writers (symphonia's packet loop, hound's
//! `write_sample`) cost ~0.3 s per 5-minute stereo file; here the header is still parsed by hound, but
//! the sample data moves as bytes in large chunks, converted on all cores. Both paths give identical
//! values (tests compare them with symphonia and hound).
use std::io::{BufReader, Read, Write};
use std::path::Path;

use rayon::prelude::*;

use crate::audio::{first_non_finite, AudioBuffer};
use crate::error::{Error, Result};
use crate::progress::ProgressTask;

/// The sample encodings the fast paths move: little-endian integer PCM and IEEE float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PcmFormat {
    I16,
    I24,
    I32,
    F32,
}

impl PcmFormat {
    fn from_spec(spec: hound::WavSpec) -> Option<Self> {
        match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Int, 16) => Some(PcmFormat::I16),
            (hound::SampleFormat::Int, 24) => Some(PcmFormat::I24),
            (hound::SampleFormat::Int, 32) => Some(PcmFormat::I32),
            (hound::SampleFormat::Float, 32) => Some(PcmFormat::F32),
            _ => None,
        }
    }

    pub(crate) fn bytes(self) -> usize {
        match self {
            PcmFormat::I16 => 2,
            PcmFormat::I24 => 3,
            PcmFormat::I32 | PcmFormat::F32 => 4,
        }
    }
}

/// Frames converted per chunk: big enough to amortise the fork, small enough to stay in cache.
const CHUNK_FRAMES: usize = 1 << 16;
/// Frames per parallel task inside a chunk.
const TASK_FRAMES: usize = 4096;

/// Reads `path` if it is a plain PCM WAV (16/24/32-bit integer or 32-bit float, ≤ 2 channels,
/// every sample finite: a NaN or ∞ is an error); `None` when it is anything else, so the general decoder takes it. `slack` frames may be missing
/// against the header before the file counts as truncated; `start` opens the progress task once
/// the frame count is known.
pub(crate) fn read_pcm<'a>(
    path: &Path,
    slack: u64,
    start: impl FnOnce(u64) -> Box<dyn ProgressTask + 'a>,
) -> Option<Result<AudioBuffer>> {
    let file = std::fs::File::open(path).ok()?;
    let reader = hound::WavReader::new(BufReader::with_capacity(1 << 16, file)).ok()?;
    let spec = reader.spec();
    let format = PcmFormat::from_spec(spec)?;
    let n_ch = usize::from(spec.channels);
    if n_ch > 2 {
        return Some(Err(Error::TooManyChannels { path: path.into(), channels: n_ch }));
    }
    let expected = reader.duration() as usize;
    let task = start(expected as u64);
    let mut reader = reader.into_inner();
    let align = format.bytes() * n_ch;
    // One allocation per channel: `vec![v; n]` would clone (read) the first, mapping its pages to
    // the shared zero page and making every later write a copy-on-write fault with a TLB flush.
    let mut channels: Vec<Vec<f32>> = (0..n_ch).map(|_| vec![0.0f32; expected]).collect();
    let mut bytes = vec![0u8; CHUNK_FRAMES * align];
    let mut done = 0;
    while done < expected {
        let want = CHUNK_FRAMES.min(expected - done);
        let got = match read_up_to(&mut reader, &mut bytes[..want * align]) {
            Ok(n) => n / align,
            Err(e) => return Some(Err(Error::io(path, e))),
        };
        let mut outs: Vec<&mut [f32]> = channels.iter_mut().map(|ch| &mut ch[done..done + got]).collect();
        let data = &bytes[..got * align];
        // Symphonia's conversions (i / 2^(bits−1)), so both decoders give the same values.
        match format {
            PcmFormat::I16 => deinterleave(data, &mut outs, |b: [u8; 2]| f32::from(i16::from_le_bytes(b)) / 32768.0),
            PcmFormat::I24 => deinterleave(data, &mut outs, |b: [u8; 3]| {
                (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
            }),
            PcmFormat::I32 => {
                deinterleave(data, &mut outs, |b: [u8; 4]| (f64::from(i32::from_le_bytes(b)) / 2_147_483_648.0) as f32)
            }
            PcmFormat::F32 => {
                deinterleave(data, &mut outs, f32::from_le_bytes);
                // Integer samples are finite by construction; float ones are checked here, while
                // the chunk is in cache.
                if let Some((channel, i)) = first_non_finite(outs.iter().map(|o| &**o)) {
                    return Some(Err(Error::NonFinite { path: path.into(), channel, frame: done + i }));
                }
            }
        }
        done += got;
        task.inc(got as u64);
        if got < want {
            break;
        }
    }
    if ((expected - done) as u64) > slack {
        return Some(Err(Error::Corrupt {
            path: path.into(),
            reason: format!("header announces {expected} frames, only {done} decode"),
        }));
    }
    for ch in &mut channels {
        ch.truncate(done);
    }
    Some(Ok(AudioBuffer::new(spec.sample_rate, channels)))
}

/// The interleaved W-byte samples in `data` into `outs`, one or two channels, in one pass over
/// each frame (its size then known to the compiler).
fn deinterleave<const W: usize>(data: &[u8], outs: &mut [&mut [f32]], decode: impl Fn([u8; W]) -> f32 + Sync) {
    let sample = |b: &[u8]| decode(b.try_into().expect("W bytes"));
    match outs {
        [mono] => mono.par_chunks_mut(TASK_FRAMES).zip(data.par_chunks(TASK_FRAMES * W)).for_each(|(out, frames)| {
            for (x, frame) in out.iter_mut().zip(frames.chunks_exact(W)) {
                *x = sample(frame);
            }
        }),
        [left, right] => left
            .par_chunks_mut(TASK_FRAMES)
            .zip(right.par_chunks_mut(TASK_FRAMES))
            .zip(data.par_chunks(TASK_FRAMES * 2 * W))
            .for_each(|((l, r), frames)| {
                for ((l, r), frame) in l.iter_mut().zip(r.iter_mut()).zip(frames.chunks_exact(2 * W)) {
                    (*l, *r) = (sample(&frame[..W]), sample(&frame[W..]));
                }
            }),
        [] => {}
        _ => unreachable!("more than two channels are refused before decoding"),
    }
}

/// Interleaves the channels' samples `start..start + out.len() / (W·channels)` into `out` as W-byte
/// samples, one or two channels, each frame in one pass (its size then known to the compiler).
fn interleave<const W: usize>(
    channels: &[Vec<f32>],
    start: usize,
    out: &mut [u8],
    encode: impl Fn(f32) -> [u8; W] + Sync,
) {
    let align = W * channels.len();
    out.par_chunks_mut(TASK_FRAMES * align).enumerate().for_each(|(t, chunk)| {
        let first = start + t * TASK_FRAMES;
        match channels {
            [mono] => {
                chunk.chunks_exact_mut(W).zip(&mono[first..]).for_each(|(frame, &x)| frame.copy_from_slice(&encode(x)))
            }
            [left, right] => chunk.chunks_exact_mut(2 * W).zip(left[first..].iter().zip(&right[first..])).for_each(
                |(frame, (&l, &r))| {
                    frame[..W].copy_from_slice(&encode(l));
                    frame[W..].copy_from_slice(&encode(r));
                },
            ),
            _ => unreachable!("buffers hold one or two channels"),
        }
    });
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes `buffer` as a WAV stream in `format` (integer formats: samples already on the grid).
///
/// Header per Microsoft's WAVEFORMATEX / WAVEFORMATEXTENSIBLE documentation: plain PCM (tag 1) for
/// 16-bit; EXTENSIBLE with the PCM or IEEE-float sub-format GUID above 16 bits, as the documentation
/// asks, plus the `fact` chunk that non-PCM data carries.
pub(crate) fn write_pcm(out: &mut impl Write, buffer: &AudioBuffer, format: PcmFormat) -> std::io::Result<()> {
    let n_ch = buffer.num_channels();
    let (width, align) = (format.bytes(), format.bytes() * n_ch);
    let frames = buffer.frames();
    let data_len = u32::try_from(frames * align)
        .ok()
        .filter(|&n| n <= u32::MAX - 80)
        .ok_or_else(|| std::io::Error::other("too long for a WAV file (4 GiB data limit)"))?;
    let bits = (width * 8) as u16;
    let extensible = format != PcmFormat::I16;
    let mut fmt = Vec::with_capacity(40);
    fmt.extend_from_slice(&(if extensible { 0xFFFEu16 } else { 1 }).to_le_bytes());
    fmt.extend_from_slice(&(n_ch as u16).to_le_bytes());
    fmt.extend_from_slice(&buffer.sample_rate.to_le_bytes());
    fmt.extend_from_slice(&(buffer.sample_rate * align as u32).to_le_bytes());
    fmt.extend_from_slice(&(align as u16).to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes()); // valid bits
        fmt.extend_from_slice(&(if n_ch == 1 { 0x4u32 } else { 0x3 }).to_le_bytes()); // FC, or FL|FR
        let sub_format: u16 = if format == PcmFormat::F32 { 3 } else { 1 };
        fmt.extend_from_slice(&sub_format.to_le_bytes());
        fmt.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]);
    }
    let fact: Option<[u8; 12]> = (format == PcmFormat::F32).then(|| {
        let mut f = [0u8; 12];
        f[..4].copy_from_slice(b"fact");
        f[4..8].copy_from_slice(&4u32.to_le_bytes());
        f[8..].copy_from_slice(&(frames as u32).to_le_bytes());
        f
    });
    let riff_len = 4 + (8 + fmt.len()) + fact.map_or(0, |f| f.len()) + 8 + data_len as usize;
    out.write_all(b"RIFF")?;
    out.write_all(&(riff_len as u32).to_le_bytes())?;
    out.write_all(b"WAVEfmt ")?;
    out.write_all(&(fmt.len() as u32).to_le_bytes())?;
    out.write_all(&fmt)?;
    if let Some(f) = fact {
        out.write_all(&f)?;
    }
    out.write_all(b"data")?;
    out.write_all(&data_len.to_le_bytes())?;

    let mut bytes = vec![0u8; CHUNK_FRAMES * align];
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let n = CHUNK_FRAMES.min(frames - start);
        let (channels, data) = (&buffer.channels, &mut bytes[..n * align]);
        // Integer samples lie on the grid, so scaling is exact.
        match format {
            PcmFormat::I16 => interleave(channels, start, data, |x| ((x * 32768.0) as i16).to_le_bytes()),
            PcmFormat::I24 => interleave(channels, start, data, |x| {
                let b = ((x * 8_388_608.0) as i32).to_le_bytes();
                [b[0], b[1], b[2]]
            }),
            PcmFormat::I32 => {
                interleave(channels, start, data, |x| ((f64::from(x) * 2_147_483_648.0) as i32).to_le_bytes())
            }
            PcmFormat::F32 => interleave(channels, start, data, f32::to_le_bytes),
        }
        out.write_all(&bytes[..n * align])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{NoProgress, Progress};

    /// A stereo test signal with full-scale extremes, quantised to `bits` when integer.
    fn signal(frames: usize, bits: Option<u32>) -> Vec<Vec<f32>> {
        let mut rng = crate::testing::Rng::new(1);
        let mut next = move || rng.signed();
        (0..2)
            .map(|_| {
                let mut ch: Vec<f32> = (0..frames).map(|_| next() as f32).collect();
                ch[0] = -1.0;
                if let Some(b) = bits {
                    let scale = f64::from(1u32 << (b - 1));
                    for x in &mut ch {
                        *x = ((f64::from(*x) * scale).round().clamp(-scale, scale - 1.0) / scale) as f32;
                    }
                }
                ch
            })
            .collect()
    }

    fn write_with_hound(path: &Path, channels: &[Vec<f32>], bits: u16, float: bool) {
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..channels[0].len() {
            for ch in channels {
                if float {
                    w.write_sample(ch[i]).unwrap();
                } else {
                    w.write_sample((f64::from(ch[i]) * f64::from(1u32 << (bits - 1))) as i32).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn fast_reader_matches_symphonia_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        // More than one read chunk, with a partial last one.
        let frames = CHUNK_FRAMES + 1234;
        for (bits, float, channels) in
            [(16u16, false, 2), (24, false, 2), (32, false, 2), (32, true, 2), (16, false, 1), (24, false, 1)]
        {
            let path = dir.path().join(format!("{bits}{float}{channels}.wav"));
            let mut source = signal(frames, (!float).then_some(u32::from(bits)));
            source.truncate(channels);
            write_with_hound(&path, &source, bits, float);
            let fast = read_pcm(&path, 0, |n| NoProgress.start("", n)).expect("handled by the fast path").unwrap();
            let reference = crate::io::decode::decode_with_symphonia(&path, Default::default(), &NoProgress).unwrap();
            assert_eq!(fast, reference, "{bits}-bit float={float}");
            if bits != 32 || float {
                assert_eq!(fast.channels, source, "{bits}-bit float={float} round trip");
            }
        }
    }

    #[test]
    fn fast_reader_reports_truncation_and_declines_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        write_with_hound(&path, &signal(10_000, Some(16)), 16, false);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4 * 1000]).unwrap();
        let err = read_pcm(&path, 64, |n| NoProgress.start("", n)).unwrap().unwrap_err();
        assert!(err.to_string().contains("header announces 10000 frames, only 9000 decode"), "{err}");
        // Within the slack, the frames that are there are kept.
        std::fs::write(&path, &bytes[..bytes.len() - 4 * 10]).unwrap();
        assert_eq!(read_pcm(&path, 64, |n| NoProgress.start("", n)).unwrap().unwrap().frames(), 9990);
        std::fs::write(&path, b"fLaC not a wav").unwrap();
        assert!(read_pcm(&path, 64, |n| NoProgress.start("", n)).is_none());
    }

    #[test]
    fn writer_output_reads_back_identically_with_hound_and_symphonia() {
        let dir = tempfile::tempdir().unwrap();
        let frames = CHUNK_FRAMES + 777;
        for (format, bits, float) in
            [(PcmFormat::I16, 16u16, false), (PcmFormat::I24, 24, false), (PcmFormat::F32, 32, true)]
        {
            for n_ch in [1, 2] {
                let mut channels = signal(frames, (!float).then_some(u32::from(bits)));
                channels.truncate(n_ch);
                let buffer = AudioBuffer::new(48_000, channels);
                let path = dir.path().join(format!("{bits}-{n_ch}.wav"));
                let mut file = std::fs::File::create(&path).unwrap();
                write_pcm(&mut file, &buffer, format).unwrap();
                drop(file);
                let mut r = hound::WavReader::open(&path).unwrap();
                let spec = r.spec();
                assert_eq!((spec.channels as usize, spec.sample_rate, spec.bits_per_sample), (n_ch, 48_000, bits));
                let scale = if float { 1.0 } else { f64::from(1u32 << (bits - 1)) };
                let read: Vec<f32> = if float {
                    r.samples::<f32>().map(Result::unwrap).collect()
                } else {
                    r.samples::<i32>().map(|v| (f64::from(v.unwrap()) / scale) as f32).collect()
                };
                let interleaved: Vec<f32> =
                    (0..frames).flat_map(|i| buffer.channels.iter().map(move |c| c[i])).collect();
                assert_eq!(read, interleaved, "{bits}-bit {n_ch} ch via hound");
                let decoded = crate::io::decode::decode_with_symphonia(&path, Default::default(), &NoProgress).unwrap();
                assert_eq!(decoded, buffer, "{bits}-bit {n_ch} ch via symphonia");
            }
        }
    }
}
