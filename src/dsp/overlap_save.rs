//! FFT convolution by overlap-save, shared by the linear-phase EQ and the true-peak detector.
//! Output blocks are independent, so they run in parallel (rayon), each with its own scratch.
use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

pub struct OverlapSave {
    fft_size: usize,
    filter_len: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

/// Per-thread buffers; allocated once per worker, never inside the block loop.
pub struct BlockScratch {
    time: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    product: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
    /// Two buffers of FFT length for callers that combine several filtered results.
    pub aux: [Vec<f32>; 2],
    /// A complex buffer of twice the FFT size, for callers' own transforms of the block's spectrum.
    pub aux_complex: Vec<Complex<f32>>,
}

impl BlockScratch {
    /// The current block's input spectrum (unnormalised forward FFT).
    pub fn spectrum(&self) -> &[Complex<f32>] {
        &self.spectrum
    }

    /// The block's spectrum beside the aux buffers, to read one while writing the other.
    pub fn spectrum_and_aux(&mut self) -> (&[Complex<f32>], &mut [Vec<f32>; 2]) {
        (&self.spectrum, &mut self.aux)
    }
}

impl OverlapSave {
    /// A convolver for filters of up to `filter_len` taps with FFT size `fft_size` (≥ 2·filter_len).
    pub fn new(filter_len: usize, fft_size: usize) -> Self {
        assert!(fft_size >= 2 * filter_len && filter_len > 0);
        let mut planner = RealFftPlanner::<f32>::new();
        OverlapSave {
            fft_size,
            filter_len,
            forward: planner.plan_fft_forward(fft_size),
            inverse: planner.plan_fft_inverse(fft_size),
        }
    }

    pub fn fft_size(&self) -> usize {
        self.fft_size
    }

    /// Taps the filters may have; the first filter_len − 1 block samples are history.
    pub fn filter_len(&self) -> usize {
        self.filter_len
    }

    /// New output samples per block.
    pub fn hop(&self) -> usize {
        self.fft_size - self.filter_len + 1
    }

    /// The spectrum of `taps`, zero-padded, with the inverse FFT's 1/N folded in.
    pub fn filter_spectrum(&self, taps: &[f32]) -> Vec<Complex<f32>> {
        assert!(taps.len() <= self.filter_len);
        let mut time = vec![0.0f32; self.fft_size];
        let scale = 1.0 / self.fft_size as f32;
        for (t, &h) in time.iter_mut().zip(taps) {
            *t = h * scale;
        }
        let mut spec = self.forward.make_output_vec();
        self.forward.process(&mut time, &mut spec).expect("sizes match the plan");
        spec
    }

    fn scratch(&self) -> BlockScratch {
        BlockScratch {
            time: self.forward.make_input_vec(),
            spectrum: self.forward.make_output_vec(),
            product: self.forward.make_output_vec(),
            fft: self.forward.make_scratch_vec().into_iter().chain(self.inverse.make_scratch_vec()).collect(),
            aux: [vec![0.0; self.fft_size], vec![0.0; self.fft_size]],
            aux_complex: vec![Complex::new(0.0, 0.0); 2 * self.fft_size],
        }
    }

    /// Splits `output` into blocks; for each, loads the input spectrum such that the linear convolution
    /// z = input * h satisfies output[n] ↔ z[n + delay], and calls `per_block(scratch, start, out_block)`
    /// (`start`: the block's first output index), which combines one or more [`Self::filtered`]
    /// results into `out_block`. Input beyond its ends reads as 0.
    pub fn run<F>(&self, input: &[f32], delay: usize, output: &mut [f32], per_block: F)
    where
        F: Fn(&mut BlockScratch, usize, &mut [f32]) + Sync,
    {
        self.run_aligned(input, delay, output, 1, per_block);
    }

    /// As [`Self::run`], with every block's output length (and so its start) a multiple of `align`
    /// (≤ the hop): callers that reduce blocks of `align` samples then never share one between calls.
    pub fn run_aligned<F>(&self, input: &[f32], delay: usize, output: &mut [f32], align: usize, per_block: F)
    where
        F: Fn(&mut BlockScratch, usize, &mut [f32]) + Sync,
    {
        assert!(align >= 1 && align <= self.hop());
        let hop = self.hop() / align * align;
        output.par_chunks_mut(hop).enumerate().for_each_init(
            || self.scratch(),
            |s, (block, out)| {
                // Block input: input[first .. first + N), zero outside the signal.
                let first = (block * hop + delay) as isize - (self.filter_len as isize - 1);
                let lo = (-first).clamp(0, self.fft_size as isize) as usize;
                let src_start = (first + lo as isize) as usize;
                let count = input.len().saturating_sub(src_start).min(self.fft_size - lo);
                s.time[..lo].fill(0.0);
                s.time[lo..lo + count].copy_from_slice(&input[src_start..src_start + count]);
                s.time[lo + count..].fill(0.0);
                let fft_scratch_len = self.forward.get_scratch_len();
                self.forward
                    .process_with_scratch(&mut s.time, &mut s.spectrum, &mut s.fft[..fft_scratch_len])
                    .expect("sizes match the plan");
                per_block(s, block * hop, out);
            },
        );
    }

    /// The current block filtered by `filter` (from [`Self::filter_spectrum`]): the valid samples,
    /// at least as many as the block's output; `use_result` gets them with the scratch's aux buffers.
    pub fn filtered<R>(&self, s: &mut BlockScratch, filter: &[Complex<f32>], use_result: impl FnOnce(&[f32], &mut [Vec<f32>; 2]) -> R) -> R {
        self.filtered_with(
            s,
            |x, product, _| {
                for ((p, &x), &h) in product.iter_mut().zip(x).zip(filter) {
                    *p = x * h;
                }
            },
            use_result,
        )
    }

    /// As [`Self::filtered`], with the spectrum to invert written by `fill(input spectrum, product,
    /// aux_complex)` (scaled like a product with a filter spectrum: 1/N folded in).
    pub fn filtered_with<R>(
        &self,
        s: &mut BlockScratch,
        fill: impl FnOnce(&[Complex<f32>], &mut [Complex<f32>], &[Complex<f32>]),
        use_result: impl FnOnce(&[f32], &mut [Vec<f32>; 2]) -> R,
    ) -> R {
        fill(&s.spectrum, &mut s.product, &s.aux_complex);
        // Real signals: DC and Nyquist bins are real; clear rounding residue so the c2r FFT accepts them.
        s.product[0].im = 0.0;
        let last = s.product.len() - 1;
        s.product[last].im = 0.0;
        let inv_scratch_len = self.inverse.get_scratch_len();
        self.inverse
            .process_with_scratch(&mut s.product, &mut s.time, &mut s.fft[..inv_scratch_len])
            .expect("sizes match the plan");
        use_result(&s.time[self.filter_len - 1..], &mut s.aux)
    }
}
