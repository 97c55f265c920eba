//! Bands below a crossover, read at a decimated rate straight from the block's spectrum.
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::BandScratch;
use crate::dsp::overlap_save::OverlapSave;
use crate::dsp::simd::lane_sum;

/// Most samples a control block is read at, decimated (16 points of a 256-sample block).
const MAX_DECIMATION: usize = 16;
/// Room above a crossover before the band below it is taken as silent (its filter's transition is
/// ~30 Hz wide, −80 dB beyond).
const DECIMATION_GUARD_HZ: f64 = 100.0;

/// A band below a crossover read every `factor` samples straight from the block's spectrum: its
/// bins up to the decimated Nyquist (those above lie in the band's stop band) through an inverse
/// transform `factor` times shorter. For a band-limited signal the decimated samples are the
/// full-rate ones exactly; a control block's power is their mean square at the midpoints of its
/// runs of `factor` samples (the midpoint rule), close to the full-rate mean square while the
/// band's square (twice its bandwidth B) aliases far from the block's own frequencies: the
/// decimated rate is kept at 3.5 B or more, so its aliases land above 1.5 B.
pub(super) struct DecimatedBand {
    pub(super) factor: usize,
    /// The band's spectrum below the decimated Nyquist, advanced so that the decimated grid falls
    /// on the block's outputs; its Nyquist bin is zero.
    filter: Vec<Complex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    forward: Arc<dyn RealToComplex<f32>>,
    /// Decimated index of the block's first output (with midpoints).
    first: usize,
}

impl DecimatedBand {
    /// The band whose spectrum (for `conv`) is `spectrum` and that ends at `upper_hz`, decimated by
    /// the largest power of two up to [`MAX_DECIMATION`] dividing `block` that keeps the decimated
    /// rate at 3.5 times the band's width or more; `None` when that is 1.
    pub(super) fn new(
        spectrum: &[Complex<f32>],
        conv: &OverlapSave,
        upper_hz: f64,
        sample_rate: u32,
        block: usize,
        midpoints: bool,
    ) -> Option<Self> {
        let fs = f64::from(sample_rate);
        let fits = |f: usize| fs / f as f64 >= 3.5 * (upper_hz + DECIMATION_GUARD_HZ);
        let factor = (1..=MAX_DECIMATION.trailing_zeros())
            .map(|e| 1usize << e)
            .rfind(|&f| block.is_multiple_of(f) && fits(f))?;
        let (n, history) = (conv.fft_size(), conv.filter_len() - 1);
        let m = n / factor;
        // With `midpoints`, advance by r samples (bin k times e^{2πi·k·r/N}) so that the decimated
        // grid falls on frame index history + factor/2 + j·factor: the midpoints of the block's
        // runs of `factor` outputs (a block's mean square by the midpoint rule). Without, the grid
        // is the frame's own (index i·factor).
        let r = if midpoints { (history + factor / 2) % factor } else { 0 };
        let mut filter: Vec<Complex<f32>> = spectrum[..=m / 2]
            .iter()
            .enumerate()
            .map(|(k, h)| h * Complex::from_polar(1.0, (2.0 * std::f64::consts::PI * (k * r) as f64 / n as f64) as f32))
            .collect();
        filter[m / 2] = Complex::new(0.0, 0.0);
        let mut planner = RealFftPlanner::<f32>::new();
        Some(DecimatedBand {
            factor,
            filter,
            inverse: planner.plan_fft_inverse(m),
            forward: planner.plan_fft_forward(m),
            first: (history + factor / 2 - r) / factor,
        })
    }

    /// The mean square per control block of `d` samples of the band in the current block (input
    /// spectrum `spectrum`),
    /// whose first `len` outputs are wanted (the last control block may be partial: its sum over
    /// `d`, as the full-rate reduction does).
    pub(super) fn block_powers(
        &self,
        spectrum: &[Complex<f32>],
        own: &mut BandScratch,
        len: usize,
        d: usize,
        powers: &mut [f32],
    ) {
        let y = self.samples(spectrum, &mut own.real, &mut own.complex);
        let y = &y[self.first..self.first + len.div_ceil(self.factor)];
        let scale = self.factor as f32 / d as f32;
        for (p, chunk) in powers.iter_mut().zip(y.chunks(d / self.factor)) {
            *p = lane_sum(chunk, |v| v * v) * scale;
        }
    }

    /// The band's decimated samples in the current block (input spectrum `spectrum`), written into
    /// `real`; `complex` is scratch, its first M/2 + 1 values free for the caller afterwards.
    pub(super) fn samples<'a>(
        &self,
        spectrum: &[Complex<f32>],
        real: &'a mut [f32],
        complex: &mut [Complex<f32>],
    ) -> &'a mut [f32] {
        let half = self.filter.len() - 1;
        let (small, scratch) = complex.split_at_mut(half + 1);
        for ((i, &x), &h) in small.iter_mut().zip(spectrum).zip(&self.filter) {
            *i = x * h;
        }
        small[0].im = 0.0;
        let y = &mut real[..2 * half];
        self.inverse
            .process_with_scratch(small, y, &mut scratch[..self.inverse.get_scratch_len()])
            .expect("sizes match the plan");
        y
    }

    /// Adds to `terms` (a spectrum scaled like the block's filtered spectra) the band's term
    /// w·y_b of the current block (input spectrum `spectrum`), with w = `relative(j)` at output j
    /// (frame index `history` + j, j < `len`), formed at the decimated rate: the band and a slowly
    /// varying w make a band-limited product, whose decimated samples give its spectrum exactly.
    /// Around the rest of the circular frame w runs from its last value back to its first along a
    /// raised cosine, so the product has no edge there to alias. `real` and `complex` are scratch.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_term(
        &self,
        spectrum: &[Complex<f32>],
        real: &mut [f32],
        complex: &mut [Complex<f32>],
        terms: &mut [Complex<f32>],
        history: usize,
        len: usize,
        relative: impl Fn(usize) -> f32,
    ) {
        let y = self.samples(spectrum, real, complex);
        let (half, m) = (self.filter.len() - 1, y.len());
        let (n, f) = (m * self.factor, self.factor);
        // Decimated points in the output's span: i·f − history = j ∈ [0, len).
        let (lo, hi) = (history.div_ceil(f), (history + len).div_ceil(f));
        for (i, v) in y.iter_mut().enumerate().take(hi).skip(lo) {
            *v *= relative(i * f - history);
        }
        let (w_first, w_last) = (relative(0), relative(len - 1));
        let arc = (n - len) as f32 + 1.0;
        let blend = |t: usize| {
            // Distance along the arc from the span's end (the frame wraps at n).
            let u = if t >= history + len { t - history - len } else { t + n - history - len };
            let lambda = 0.5 - 0.5 * (std::f32::consts::PI * (u as f32 + 1.0) / arc).cos();
            w_last + (w_first - w_last) * lambda
        };
        for (i, v) in y.iter_mut().enumerate().filter(|(i, _)| *i < lo || *i >= hi) {
            *v *= blend(i * f);
        }
        let (small, scratch) = complex.split_at_mut(half + 1);
        self.forward
            .process_with_scratch(y, small, &mut scratch[..self.forward.get_scratch_len()])
            .expect("sizes match the plan");
        // The N-point spectrum of a band-limited signal is `factor` times the M-point one of its
        // decimated samples; filter spectra carry 1/N: 1/M in all.
        let norm = 1.0 / m as f32;
        for (t, &q) in terms.iter_mut().zip(&small[..half]) {
            *t += q * norm;
        }
    }
}
