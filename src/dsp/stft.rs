//! Hann-windowed real FFT frames: the one short-time Fourier transform of the profiles' gated
//! spectra, the dynamics stage's compensation EQ and the report's spectrogram. Passes that sum over
//! frames take them in fixed groups of [`FRAMES_PER_GROUP`] (see [`Stft::grouped`]): each group
//! summed in f32 by one worker, the groups added in order, so the sums (and the profiles and plans
//! made from them) do not depend on how the work was scheduled.
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::window::hann_periodic;
use crate::parallel::ordered_groups;

/// Frames a group sums in f32 before its sums join the f64 totals: at most 16 terms each, a
/// relative error of ~1e-6.
pub const FRAMES_PER_GROUP: usize = 16;

/// Groups mapped at a time: bounds the partial sums held for an hour-long track.
const GROUPS_PER_BATCH: usize = 64;

/// An `n`-point STFT with a periodic Hann window.
pub struct Stft {
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

/// A worker's buffers for one transform at a time: the windowed frame and its spectrum.
pub struct StftFrame {
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl StftFrame {
    /// The last transform's spectrum (unnormalised, bins 0 … n/2).
    pub fn spectrum(&self) -> &[Complex<f32>] {
        &self.spectrum
    }
}

impl Stft {
    pub fn new(n: usize) -> Self {
        Stft {
            window: hann_periodic(n).into_iter().map(|w| w as f32).collect(),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(n),
        }
    }

    pub fn size(&self) -> usize {
        self.window.len()
    }

    /// Bins of a spectrum: 0 … n/2.
    pub fn bins(&self) -> usize {
        self.window.len() / 2 + 1
    }

    pub fn window(&self) -> &[f32] {
        &self.window
    }

    pub fn frame(&self) -> StftFrame {
        StftFrame {
            input: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            scratch: self.fft.make_scratch_vec(),
        }
    }

    /// Transforms the frame that `fill(frame, window)` writes (windowed by the caller, who may
    /// form it from several channels on the fly) and returns its spectrum.
    pub fn transform<'a>(&self, frame: &'a mut StftFrame, fill: impl FnOnce(&mut [f32], &[f32])) -> &'a [Complex<f32>] {
        fill(&mut frame.input, &self.window);
        self.fft.process_with_scratch(&mut frame.input, &mut frame.spectrum, &mut frame.scratch).expect("plan size");
        &frame.spectrum
    }

    /// The spectrum of `x[start .. start + n]` windowed (zero past its end).
    pub fn of_slice<'a>(&self, frame: &'a mut StftFrame, x: &[f32], start: usize) -> &'a [Complex<f32>] {
        self.transform(frame, |input, window| {
            let inside = x.len().saturating_sub(start).min(input.len());
            for ((d, &w), &s) in input.iter_mut().zip(window).zip(&x[start.min(x.len())..][..inside]) {
                *d = s * w;
            }
            input[inside..].fill(0.0);
        })
    }

    /// Maps each fixed group of [`FRAMES_PER_GROUP`] `frames` (frame descriptions: starts,
    /// indices) to its partial sums with `map(worker's scratch, group)`, in parallel, and hands
    /// them to `fold` in order. `init` makes a worker's scratch (its [`StftFrame`]s, say).
    pub fn grouped<T: Sync, S, R: Send>(
        &self,
        frames: &[T],
        init: impl Fn() -> S + Sync + Send,
        map: impl Fn(&mut S, &[T]) -> R + Sync + Send,
        fold: impl FnMut(R),
    ) {
        ordered_groups(frames, FRAMES_PER_GROUP, GROUPS_PER_BATCH, init, map, fold);
    }
}

/// Adds each f32 partial sum to its f64 total.
pub fn add_to_totals(totals: &mut [f64], part: &[f32]) {
    for (t, &p) in totals.iter_mut().zip(part) {
        *t += f64::from(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame reaching past the signal's end is zero-padded: the same spectrum as the padded
    /// signal's frame.
    #[test]
    fn a_frame_past_the_end_is_zero_padded() {
        let stft = Stft::new(64);
        let x = crate::testing::Rng::new(3).noise(100, 0.5);
        let mut padded = x.clone();
        padded.resize(200, 0.0);
        let (mut a, mut b) = (stft.frame(), stft.frame());
        assert_eq!(stft.of_slice(&mut a, &x, 70), stft.of_slice(&mut b, &padded, 70));
        assert!(stft.of_slice(&mut a, &x, 150).iter().all(|c| c.norm_sqr() == 0.0));
    }
}
