//! Quantisation to the output's bit depth with TPDF or noise-shaped dither (or none), the render's
//! last step; the limiter's gain is applied in the same pass. Digital silence (a sample of exactly 0) gets no
//! dither: gaps, pregaps and silent lead-ins stay silent.
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::audio::AudioBuffer;
use crate::dsp::simd::simd_versions;
use crate::model::{BitDepth, Dither};

/// Fixed seed: dither is part of the deterministic render (same plan + input → same bits).
const DITHER_SEED: u64 = 0x6175_746f_6d61_7374;

/// Samples per independently seeded dither stream: chunks run in parallel, and the result does not
/// depend on the thread count.
const DITHER_CHUNK: usize = 1 << 16;

/// The error filter of noise-shaped dither: the 5-tap filter of Lipshitz, Vanderkooy & Wannamaker,
/// "Minimally audible noise shaping", JAES 39(11), 1991 (SoX's `lipshitz`), designed for 44.1 kHz.
/// Noise transfer 1 − Σ h_k z^−k: −17.5 dB over 1–5 kHz, +12.2 dB in total, against flat TPDF.
const SHAPING_FIR: [f64; 5] = [2.033, -2.165, 1.959, -1.590, 0.6149];

/// The largest total error (LSB) of TPDF dither plus rounding: what the shaping loop feeds back. A
/// clamped sample's larger error is cut to it, so clipping cannot make the loop run away.
const MAX_LOOP_ERROR: f64 = 1.5;

/// Rounds every sample to the integer grid of `depth` with `dither` (resolved for the buffer's rate;
/// see [`Dither::resolve`]), clamping to the format's range. TPDF dither is 2 LSB peak-to-peak (the
/// sum of two independent uniform ±½ LSB values; Lipshitz, Wannamaker & Vanderkooy, JAES 1992);
/// shaped dither feeds the total error back through `SHAPING_FIR`. The buffer keeps f32 values
/// that lie exactly on the grid.
pub fn quantize(buffer: &mut AudioBuffer, depth: BitDepth, dither: Dither) {
    scale_and_quantize(buffer, None, depth, dither);
}

/// [`quantize`] of the buffer times `gain`, (pre, g): sample n of every channel is first multiplied by
/// pre·g\[n\]. One pass where a gain pass and a quantising pass would each read and write the track.
pub fn scale_and_quantize(buffer: &mut AudioBuffer, gain: Option<(f32, &[f32])>, depth: BitDepth, dither: Dither) {
    let scale = depth.int_bits().map(|bits| f64::from(1u32 << (bits - 1)));
    let dither = dither.resolve(depth, buffer.sample_rate);
    for (c, ch) in buffer.channels.iter_mut().enumerate() {
        ch.par_chunks_mut(DITHER_CHUNK).enumerate().for_each(|(k, chunk)| {
            let gain = gain.map(|(pre, g)| (pre, &g[k * DITHER_CHUNK..]));
            let Some(scale) = scale else {
                if let Some((pre, g)) = gain {
                    chunk.iter_mut().zip(g).for_each(|(x, &g)| *x *= pre * g);
                }
                return;
            };
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(DITHER_SEED ^ ((c as u64) << 48) ^ k as u64);
            // Draws first, arithmetic after: the generator is a serial chain, the rounding loop then
            // vectorises. (Each chunk's shaping loop starts from rest: a few samples of unshaped
            // error every 2^16, and a result independent of the thread count.)
            let mut draws = [0u64; 256];
            let mut errors = [0.0f64; SHAPING_FIR.len()];
            for (b, block) in chunk.chunks_mut(draws.len()).enumerate() {
                match dither {
                    Dither::None => draws.fill(TPDF_ZERO),
                    _ => draws[..block.len()].iter_mut().for_each(|d| *d = rng.next_u64()),
                }
                let gain = gain.map(|(pre, g)| (pre, &g[b * draws.len()..]));
                if dither == Dither::Shaped {
                    shape_and_round(block, gain, &draws, scale, &mut errors);
                } else {
                    dither_and_round(block, gain, &draws, scale);
                }
            }
        });
    }
}

/// A draw whose two uniforms are equal: TPDF value 0 (plain rounding).
const TPDF_ZERO: u64 = 0;

/// The two independent 24-bit uniforms in [0, 1) of one draw.
#[inline(always)]
fn uniforms(r: u64) -> (f64, f64) {
    const UNIT: f64 = 1.0 / (1u64 << 24) as f64;
    (f64::from((r >> 40) as i32) * UNIT, f64::from(((r >> 16) & 0xFF_FFFF) as i32) * UNIT)
}

/// Noise-shaped rounding by error feedback (Lipshitz et al. 1991): v = x·scale − Σ h_k e\[n−k\],
/// q = round(v + TPDF), e\[n\] = q − v, so the output's error is e filtered by 1 − Σ h_k z^−k.
/// Serial (the loop carries the errors), in f64.
fn shape_and_round(
    block: &mut [f32],
    gain: Option<(f32, &[f32])>,
    draws: &[u64],
    scale: f64,
    errors: &mut [f64; SHAPING_FIR.len()],
) {
    let (lo, hi, inv_scale) = (-scale, scale - 1.0, 1.0 / scale);
    for (n, x) in block.iter_mut().enumerate() {
        let input = gain.map_or(*x, |(pre, g)| *x * (pre * g[n]));
        if input == 0.0 {
            // Digital silence stays silent (a gap, a pregap), and the loop restarts from rest.
            *errors = [0.0; SHAPING_FIR.len()];
            *x = 0.0;
            continue;
        }
        let feedback: f64 = SHAPING_FIR.iter().zip(errors.iter()).map(|(h, e)| h * e).sum();
        let v = f64::from(input) * scale - feedback;
        let (u1, u2) = uniforms(draws[n]);
        let q = (v + (u1 - u2)).round().clamp(lo, hi);
        errors.copy_within(..SHAPING_FIR.len() - 1, 1);
        errors[0] = (q - v).clamp(-MAX_LOOP_ERROR, MAX_LOOP_ERROR);
        *x = (q * inv_scale) as f32;
    }
}

simd_versions! {
    /// x ← round(x'·scale + u1 − u2)/scale, clamped to [−scale, scale − 1]/scale, with x' = x·(pre·g)
    /// (x itself without a gain) and u1, u2 two independent 24-bit uniforms in [0, 1) from each draw.
    /// Every step is exact or correctly rounded (scale is a power of two), so the SIMD versions give
    /// the same bits as the baseline one.
    fn dither_and_round(block: &mut [f32], gain: Option<(f32, &[f32])>, draws: &[u64], scale: f64) {
        // Adding and subtracting 1.5·2^52 rounds an f64 of magnitude < 2^51 to the nearest integer in
        // two instructions (f64::round is a library call on baseline x86-64).
        const ROUND: f64 = 6_755_399_441_055_744.0;
        let (lo, hi, inv_scale) = (-scale, scale - 1.0, 1.0 / scale);
        let round = |x: f32, r: u64| {
            let (u1, u2) = uniforms(r);
            let q = (f64::from(x) * scale + (u1 - u2)) + ROUND - ROUND;
            let q = if q < lo {
                lo
            } else if q > hi {
                hi
            } else {
                q
            };
            // Digital silence stays silent (a gap, a pregap): no dither where there is no signal.
            if x == 0.0 {
                0.0
            } else {
                (q * inv_scale) as f32
            }
        };
        match gain {
            Some((pre, g)) => block.iter_mut().zip(draws).zip(g).for_each(|((x, &r), &g)| *x = round(*x * (pre * g), r)),
            None => block.iter_mut().zip(draws).for_each(|(x, &r)| *x = round(*x, r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TPDF dither of 2 LSB p-p plus rounding: error mean 0, variance 1/6 + 1/12 = 1/4 LSB², and
    /// (the point of TPDF) an error variance that does not depend on the signal.
    #[test]
    fn dither_is_tpdf_on_the_grid_and_deterministic() {
        let n = 400_000;
        let lsb = 1.0 / 32768.0;
        // A very quiet sine (±3 LSB): undithered rounding error would follow the signal.
        let x: Vec<f32> = (0..n).map(|i| (3.0 * lsb * (i as f64 * 0.001).sin()) as f32).collect();
        let mut buffer = AudioBuffer::new(44_100, vec![x.clone(), x.clone()]);
        quantize(&mut buffer, BitDepth::Int16, Dither::Tpdf);
        let mut again = AudioBuffer::new(44_100, vec![x.clone(), x.clone()]);
        quantize(&mut again, BitDepth::Int16, Dither::Tpdf);
        assert_eq!(buffer, again, "bit-identical re-quantisation");
        assert_ne!(buffer.channels[0], buffer.channels[1], "channels get independent dither");
        for ch in &buffer.channels {
            assert!(ch.iter().all(|&q| (f64::from(q) * 32768.0).fract() == 0.0), "on the 16-bit grid");
            let err: Vec<f64> = ch.iter().zip(&x).map(|(&q, &s)| (f64::from(q) - f64::from(s)) / lsb).collect();
            let mean = err.iter().sum::<f64>() / n as f64;
            let var = err.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(mean.abs() < 0.01, "mean error {mean} LSB");
            assert!((var - 0.25).abs() < 0.01, "error variance {var} LSB²");
            // Error power where the signal is near a grid point vs halfway between: equal under TPDF.
            let (mut on, mut half) = (Vec::new(), Vec::new());
            for (e, &s) in err.iter().zip(&x) {
                let frac = (f64::from(s) / lsb).rem_euclid(1.0);
                if !(0.1..=0.9).contains(&frac) {
                    on.push(e * e);
                } else if (0.4..=0.6).contains(&frac) {
                    half.push(e * e);
                }
            }
            let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            assert!(
                (avg(&on) - avg(&half)).abs() < 0.02,
                "signal-dependent error power: {} vs {}",
                avg(&on),
                avg(&half)
            );
        }
    }

    #[test]
    fn quantize_clamps_to_the_format_range() {
        let mut buffer = AudioBuffer::new(48_000, vec![vec![1.5, -1.5, 0.999_999, -1.0]]);
        quantize(&mut buffer, BitDepth::Int24, Dither::Auto);
        let max = (8_388_607.0f64 / 8_388_608.0) as f32;
        assert_eq!(buffer.channels[0][..2], [max, -1.0]);
        assert!(buffer.channels[0][2] <= max && buffer.channels[0][3] >= -1.0);
    }
}
