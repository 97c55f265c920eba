//! Sample-rate conversion of whole tracks with rubato's synchronous FFT resampler (fixed ratio,
//! band-limited, linear phase), in f64, channels side by side.
//!
//! The resampler's anti-aliasing filter is a windowed sinc (rubato: squared Blackman–Harris) whose
//! length follows the FFT block; blocks of about `BLOCK_FRAMES` output frames keep the passband
//! flat to 20 kHz at 44.1/48 kHz outputs and the stopband below −120 dB past the output's Nyquist
//! (measured in `tests/delivery.rs`). rubato trims its delay, so the output is aligned with the
//! input: output frame k is the input at time k / rate_out.
use rayon::prelude::*;
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use crate::audio::AudioBuffer;
use crate::error::{Error, Result};

/// Output frames per FFT block: longer blocks give a longer filter (a narrower transition band).
const BLOCK_FRAMES: usize = 2048;

/// The sample rates the engine converts to and from (8 kHz … 384 kHz).
pub const RATE_RANGE_HZ: std::ops::RangeInclusive<u32> = 8_000..=384_000;

/// The frames [`resample`] gives `frames` at `from_hz` converted to `to_hz`.
pub fn resample_len(frames: usize, from_hz: u32, to_hz: u32) -> usize {
    (frames as u64 * u64::from(to_hz)).div_ceil(u64::from(from_hz)) as usize
}

/// `buffer` at `rate_hz`: ⌈frames · rate_hz / rate_in⌉ frames, aligned with the input. Returns the
/// buffer itself when the rates already agree.
pub fn resample(buffer: AudioBuffer, rate_hz: u32) -> Result<AudioBuffer> {
    let from = buffer.sample_rate;
    if from == rate_hz {
        return Ok(buffer);
    }
    for rate in [from, rate_hz] {
        if !RATE_RANGE_HZ.contains(&rate) {
            return Err(Error::InvalidSetting(format!(
                "sample rate {rate} Hz is outside {} … {} Hz",
                RATE_RANGE_HZ.start(),
                RATE_RANGE_HZ.end()
            )));
        }
    }
    let channels =
        buffer.channels.into_par_iter().map(|ch| resample_channel(&ch, from, rate_hz)).collect::<Result<Vec<_>>>()?;
    Ok(AudioBuffer::new(rate_hz, channels))
}

fn resample_channel(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let fail = |e: String| Error::InvalidSetting(format!("resampling {from} → {to} Hz: {e}"));
    // One block per call, a whole and *even* number of the rates' smallest common blocks: rubato
    // centres its filter on sample ⌊N/2⌋ but trims N/2, so an odd block would shift the output by
    // half an input sample.
    let min_out = (to / gcd(from, to)) as usize;
    let block = BLOCK_FRAMES.div_ceil(min_out).next_multiple_of(2) * min_out;
    let mut resampler = Fft::<f64>::new_custom(
        from as usize,
        to as usize,
        block,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Output,
    )
    .map_err(|e| fail(e.to_string()))?;
    let input = vec![x.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>()];
    let len = resampler.process_all_needed_output_len(x.len());
    let mut output = vec![vec![0.0f64; len]];
    let source = SequentialSliceOfVecs::new(&input, 1, x.len()).map_err(|e| fail(e.to_string()))?;
    let mut sink = SequentialSliceOfVecs::new_mut(&mut output, 1, len).map_err(|e| fail(e.to_string()))?;
    let (_, produced) =
        resampler.process_all_into_buffer(&source, &mut sink, x.len(), None).map_err(|e| fail(e.to_string()))?;
    // ⌈n·to/from⌉ in integers (rubato's float ratio can round one frame over).
    let exact = (x.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    Ok(output.swap_remove(0)[..produced.min(exact)].iter().map(|&v| v as f32).collect())
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
