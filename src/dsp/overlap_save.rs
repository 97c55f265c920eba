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

/// The convolver's per-worker buffers; allocated once per worker, never inside the block loop.
/// Callers that need buffers of their own pass a constructor of their own scratch type beside it
/// (see [`OverlapSave::run`]).
pub struct BlockScratch {
    time: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    product: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
}

impl BlockScratch {
    /// The current block's input spectrum (unnormalised forward FFT).
    pub fn spectrum(&self) -> &[Complex<f32>] {
        &self.spectrum
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
        }
    }

    /// Splits `output` into blocks; for each, loads the input spectrum such that the linear convolution
    /// z = input * h satisfies output\[n\] ↔ z\[n + delay\], and calls `per_block(scratch, own, start,
    /// out_block)` (`own`: the caller's buffers, one made by `own_scratch` per worker; `start`: the
    /// block's first output index), which combines one or more [`Self::filtered`] results into
    /// `out_block`. Input beyond its ends reads as 0.
    pub fn run<S: Send, F>(
        &self,
        input: &[f32],
        delay: usize,
        output: &mut [f32],
        own_scratch: impl Fn() -> S + Sync,
        per_block: F,
    ) where
        F: Fn(&mut BlockScratch, &mut S, usize, &mut [f32]) + Sync,
    {
        self.run_aligned(input, delay, output, 1, own_scratch, per_block);
    }

    /// As [`Self::run`], with every block's output length (and so its start) a multiple of `align`
    /// (≤ the hop): callers that reduce blocks of `align` samples then never share one between calls.
    pub fn run_aligned<S: Send, F>(
        &self,
        input: &[f32],
        delay: usize,
        output: &mut [f32],
        align: usize,
        own_scratch: impl Fn() -> S + Sync,
        per_block: F,
    ) where
        F: Fn(&mut BlockScratch, &mut S, usize, &mut [f32]) + Sync,
    {
        let hop = self.aligned_hop(align);
        output.par_chunks_mut(hop).enumerate().for_each_init(
            || (self.scratch(), own_scratch()),
            |(s, own), (block, out)| {
                self.load_block(s, (block * hop) as isize + self.reach(delay).0, &[(0, input)]);
                per_block(s, own, block * hop, out);
            },
        );
    }

    /// As [`Self::run_aligned`] with the output written over its own input, so a whole-track pass
    /// needs no second whole-track buffer. Blocks run in order within a few contiguous chunks, the
    /// chunks in parallel; what a block reads that is already overwritten (the end of the block
    /// before, or a neighbouring chunk's edge) comes from copies taken before it was. Every block
    /// sees the original input, so the output is bit-identical to [`Self::run_aligned`]'s.
    pub fn run_aligned_in_place<S: Send, F>(
        &self,
        data: &mut [f32],
        delay: usize,
        align: usize,
        own_scratch: impl Fn() -> S + Sync,
        per_block: F,
    ) where
        F: Fn(&mut BlockScratch, &mut S, usize, &mut [f32]) + Sync,
    {
        let hop = self.aligned_hop(align);
        let (offset, back) = self.reach(delay);
        // The input a block reads past its own output's end.
        let ahead = (offset + self.fft_size as isize - hop as isize).max(0) as usize;
        assert!(back <= hop, "a block reads back no further than the block before");
        let blocks = data.len().div_ceil(hop);
        let chunk = hop * blocks.div_ceil(4 * rayon::current_num_threads()).max(1);
        // Each chunk's edges as they were: the `back` samples before it, the `ahead` after it.
        let original = |from: isize, len: usize| -> Vec<f32> {
            (from..from + len as isize)
                .map(|p| usize::try_from(p).ok().and_then(|p| data.get(p)).copied().unwrap_or(0.0))
                .collect()
        };
        let edges: Vec<(Vec<f32>, Vec<f32>)> = (0..data.len().div_ceil(chunk))
            .map(|c| {
                (original((c * chunk) as isize - back as isize, back), original(((c + 1) * chunk) as isize, ahead))
            })
            .collect();
        data.par_chunks_mut(chunk).zip(edges).enumerate().for_each_init(
            || (self.scratch(), own_scratch(), vec![0.0f32; back]),
            |(s, own, behind), (c, (chunk_data, (before, after)))| {
                let (first, end) = (c * chunk, c * chunk + chunk_data.len());
                behind.copy_from_slice(&before);
                for o in (first..end).step_by(hop) {
                    let local = o - first;
                    let sources = [
                        (o as isize - back as isize, &behind[..]),
                        (o as isize, &chunk_data[local..]),
                        (end as isize, &after[..]),
                    ];
                    self.load_block(s, o as isize + offset, &sources);
                    // What the next block reads back, before this block overwrites it.
                    let len = hop.min(end - o);
                    if len == hop && back > 0 {
                        behind.copy_from_slice(&chunk_data[local + hop - back..local + hop]);
                    }
                    per_block(s, own, o, &mut chunk_data[local..local + len]);
                }
            },
        );
    }

    fn aligned_hop(&self, align: usize) -> usize {
        assert!(align >= 1 && align <= self.hop());
        self.hop() / align * align
    }

    /// Where a block's input starts relative to its first output (the linear convolution's
    /// z[n + delay] needs x from n + delay − (filter_len − 1) on), and how far that reaches back.
    fn reach(&self, delay: usize) -> (isize, usize) {
        let offset = delay as isize - (self.filter_len as isize - 1);
        (offset, (-offset).max(0) as usize)
    }

    /// Loads the block input x[first .. first + N) into the scratch and transforms it: x is given
    /// by `sources`, (position of its first sample, samples) in ascending order, each ending where
    /// the next begins; positions no source covers read as 0.
    fn load_block(&self, s: &mut BlockScratch, first: isize, sources: &[(isize, &[f32])]) {
        // Zeros only where no source reaches: the block is mostly copied.
        let mut filled = 0;
        for (k, &(at, samples)) in sources.iter().enumerate() {
            let until = sources.get(k + 1).map_or(isize::MAX, |next| next.0).min(at + samples.len() as isize);
            let (lo, hi) = (at.max(first), until.min(first + self.fft_size as isize));
            if lo < hi {
                let (lo_i, hi_i) = ((lo - first) as usize, (hi - first) as usize);
                s.time[filled.min(lo_i)..lo_i].fill(0.0);
                s.time[lo_i..hi_i].copy_from_slice(&samples[(lo - at) as usize..(hi - at) as usize]);
                filled = filled.max(hi_i);
            }
        }
        s.time[filled..].fill(0.0);
        let fft_scratch_len = self.forward.get_scratch_len();
        self.forward
            .process_with_scratch(&mut s.time, &mut s.spectrum, &mut s.fft[..fft_scratch_len])
            .expect("sizes match the plan");
    }

    /// The current block filtered by `filter` (from [`Self::filter_spectrum`]): the valid samples,
    /// at least as many as the block's output, handed to `use_result`.
    pub fn filtered<R>(
        &self,
        s: &mut BlockScratch,
        filter: &[Complex<f32>],
        use_result: impl FnOnce(&[f32]) -> R,
    ) -> R {
        self.filtered_with(
            s,
            |x, product| {
                for ((p, &x), &h) in product.iter_mut().zip(x).zip(filter) {
                    *p = x * h;
                }
            },
            use_result,
        )
    }

    /// As [`Self::filtered`], with the spectrum to invert written by `fill(input spectrum, product)`
    /// (scaled like a product with a filter spectrum: 1/N folded in).
    pub fn filtered_with<R>(
        &self,
        s: &mut BlockScratch,
        fill: impl FnOnce(&[Complex<f32>], &mut [Complex<f32>]),
        use_result: impl FnOnce(&[f32]) -> R,
    ) -> R {
        fill(&s.spectrum, &mut s.product);
        // Real signals: DC and Nyquist bins are real; clear rounding residue so the c2r FFT accepts them.
        s.product[0].im = 0.0;
        let last = s.product.len() - 1;
        s.product[last].im = 0.0;
        let inv_scratch_len = self.inverse.get_scratch_len();
        self.inverse
            .process_with_scratch(&mut s.product, &mut s.time, &mut s.fft[..inv_scratch_len])
            .expect("sizes match the plan");
        use_result(&s.time[self.filter_len - 1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In place, every block must still see the original input: any block reading a sample its
    /// neighbour (in its chunk or the next) already overwrote would change the output.
    #[test]
    fn in_place_output_is_bit_identical_to_the_out_of_place_one() {
        let x = crate::testing::Rng::new(1).noise(50_021, 0.5);
        let taps: Vec<f32> = (0..63).map(|k| 1.0 / (1.0 + (k as f32 - 31.0).abs())).collect();
        let conv = OverlapSave::new(taps.len(), 256);
        let h = conv.filter_spectrum(&taps);
        let filter = |s: &mut BlockScratch, _: &mut (), _: usize, out: &mut [f32]| {
            conv.filtered(s, &h, |y| out.copy_from_slice(&y[..out.len()]))
        };
        for (delay, align, n) in
            [(31, 1, x.len()), (0, 1, x.len()), (62, 1, x.len()), (31, 64, x.len()), (31, 1, 150), (10, 16, 9_999)]
        {
            let mut want = vec![0.0f32; n];
            conv.run_aligned(&x[..n], delay, &mut want, align, || (), filter);
            let mut got = x[..n].to_vec();
            conv.run_aligned_in_place(&mut got, delay, align, || (), filter);
            assert!(got == want, "delay {delay}, align {align}, {n} samples");
        }
    }
}
