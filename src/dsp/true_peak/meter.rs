//! The standard's own true-peak meter: ITU-R BS.1770-4 Annex 2's 4× oversampling, run only where
//! a block could hold the peak.
use rayon::prelude::*;

use super::phases::{padded, phase_gain_bound, phase_peaks, phase_table};
use super::{METER_HALF_TAPS, METER_PHASES, PHASE_BETA};
use crate::dsp::simd::{fast_max, SimdLevel};

/// The true peak of `channels` by the 4× meter of ITU-R BS.1770-4 Annex 2 (linear, not dB).
///
/// Only the maximum is wanted, so the phases run only where they could exceed it. Each phase is a
/// sum of taps times samples, so |y_p| ≤ B·max|x| over the samples its taps reach (B: the largest
/// Σ|tap| of the folded table, ≈ 2.7, with a margin for f32 rounding): a block whose samples lie
/// more than B below the peak found so far cannot hold the true peak and is skipped. The loudest
/// blocks run first, so the peak they find rules out most of the rest. The result is the exhaustive
/// computation's to the bit (the skipped blocks' values could only lie at or below it); on an
/// unmastered mix ~1 block in 8 runs, on a limited master about two in three.
pub fn bs1770_true_peak(channels: &[&[f32]]) -> f32 {
    bs1770_peaks(channels).true_peak
}

/// The true and sample peaks of a track (linear).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peaks {
    pub true_peak: f32,
    pub sample_peak: f32,
}

/// [`bs1770_true_peak`] with the sample peak it starts from.
pub fn bs1770_peaks(channels: &[&[f32]]) -> Peaks {
    let phases = phase_table::<METER_PHASES, METER_HALF_TAPS>(PHASE_BETA);
    let bound = f64::from(phase_gain_bound(&phases)) * (1.0 + 1e-4);
    // Per channel, each block's largest |x|; a block's taps reach into its neighbours only.
    const _: () = assert!(METER_BLOCK >= METER_HALF_TAPS);
    let block_max: Vec<Vec<f32>> = channels
        .iter()
        .map(|ch| {
            ch.par_chunks(METER_BLOCK)
                .with_min_len(1 << 10)
                .map(|c| c.iter().fold(0.0f32, |m, &v| fast_max(m, v.abs())))
                .collect()
        })
        .collect();
    // Phase 0 is the samples themselves: the sample peak is where the true peak starts.
    let sample_peak = block_max.iter().flatten().fold(0.0f32, |m, &v| fast_max(m, v));
    let mut peak = sample_peak;
    let mut candidates: Vec<(f32, usize, usize)> = block_max
        .iter()
        .enumerate()
        .flat_map(|(c, m)| {
            (0..m.len())
                .map(move |i| (fast_max(m[i.saturating_sub(1)], fast_max(m[i], *m.get(i + 1).unwrap_or(&0.0))), c, i))
        })
        .filter(|&(reach, ..)| f64::from(reach) * bound > f64::from(peak))
        .collect();
    // The loudest `first` ahead of the rest (in no order: only their maximum is wanted).
    let first = candidates.len().min(candidates.len() / 64 + 64);
    if first < candidates.len() {
        candidates.select_nth_unstable_by(first, |a, b| b.0.total_cmp(&a.0));
    }
    let kernel = SimdLevel::best();
    let run = |blocks: &[(f32, usize, usize)]| -> f32 {
        let span = 2 * METER_HALF_TAPS - 1;
        blocks
            .par_iter()
            .with_min_len(64)
            .map_init(
                || ([0.0f32; METER_BLOCK + 2 * METER_HALF_TAPS], [0.0f32; METER_BLOCK]),
                |(scratch, out), &(_, c, i)| {
                    let (ch, start) = (channels[c], i * METER_BLOCK);
                    let n = METER_BLOCK.min(ch.len() - start);
                    let x = padded(ch, start, METER_HALF_TAPS - 1, n + span, scratch);
                    out[..n].fill(0.0);
                    phase_peaks(&phases, x, &[0.0; METER_BLOCK], &mut out[..n], kernel);
                    out[..n].iter().fold(0.0f32, |m, &v| fast_max(m, v))
                },
            )
            .reduce(|| 0.0, fast_max)
    };
    peak = fast_max(peak, run(&candidates[..first]));
    let rest: Vec<(f32, usize, usize)> =
        candidates[first..].iter().copied().filter(|&(reach, ..)| f64::from(reach) * bound > f64::from(peak)).collect();
    Peaks { true_peak: fast_max(peak, run(&rest)), sample_peak }
}

/// Samples per block of [`bs1770_true_peak`]'s bound: a multiple of its SIMD kernel's 24 outputs.
const METER_BLOCK: usize = 96;

#[cfg(test)]
mod tests {
    use super::super::noisy_tone;
    use super::*;

    /// The BS.1770 meter with its skipped blocks against the phases run over every sample, on
    /// signals whose level moves (most blocks skipped), a limited-like one (few skipped) and inter-
    /// sample peaks that lie between two blocks.
    #[test]
    fn meter_skips_only_blocks_that_cannot_hold_the_peak() {
        fn exhaustive(channels: &[&[f32]]) -> f32 {
            let phases = phase_table::<METER_PHASES, METER_HALF_TAPS>(PHASE_BETA);
            let span = 2 * METER_HALF_TAPS - 1;
            channels.iter().fold(0.0f32, |m, ch| {
                let mut scratch = vec![0.0f32; ch.len() + span];
                let x = padded(ch, 0, METER_HALF_TAPS - 1, ch.len() + span, &mut scratch);
                let mut out = vec![0.0f32; ch.len()];
                phase_peaks(&phases, x, &vec![0.0; ch.len()], &mut out, SimdLevel::best());
                out.iter().fold(m, |m, &v| fast_max(m, v))
            })
        }
        let len = 200_000;
        let swell: Vec<f32> = noisy_tone(len, 5, 0.9)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (0.05 + (i as f32 * 3e-5).sin().abs()))
            .collect();
        let dense: Vec<f32> = noisy_tone(len, 6, 2.7).iter().map(|v| v.clamp(-0.6, 0.6)).collect();
        // [1, 1, −1, −1] at fs/4 and 45°: samples ±0.5, true peak 0.707, straddling a block edge.
        let mut straddle = vec![0.0f32; len];
        for (k, v) in straddle[METER_BLOCK * 700 - 8..METER_BLOCK * 700 + 8].iter_mut().enumerate() {
            *v = if (k / 2) % 2 == 0 { 0.5 } else { -0.5 };
        }
        let quiet: Vec<f32> = swell.iter().map(|v| v * 1e-3).collect();
        for channels in [
            vec![&swell[..]],
            vec![&swell[..], &dense[..]],
            vec![&straddle[..]],
            vec![&quiet[..], &straddle[..]],
            vec![&dense[..100]],
        ] {
            let (fast, all) = (bs1770_true_peak(&channels), exhaustive(&channels));
            assert_eq!(fast.to_bits(), all.to_bits(), "{fast} vs {all}");
        }
        assert!(bs1770_true_peak(&[&straddle]) > 0.7, "the inter-sample peak is found");
    }
}
