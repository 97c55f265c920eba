//! Multiband compressor/expander: a linear-phase [`BandSplit`], one [`Compressor`] per band with
//! detection linked across channels, and the bands summed back. The detectors run at a control rate,
//! once per block of [`Multiband::block`] samples (≈ 6 ms, far shorter than any attack), on each
//! band's block RMS over all channels (a level detector: the stage shapes how band levels move over
//! seconds, not the waveform's peaks, which are the limiter's job); the gains are interpolated
//! linearly back to the sample rate. Working from
//! [`BandEnvelopes`] lets a closed loop try many settings on one analysis of the signal. The split
//! sums to the input, so the render writes the output as the top band's multiplier times the input
//! plus a term per lower band (see [`Multiband::apply`]); the lows are band-limited, so both passes
//! work on them at a decimated rate (see `DecimatedBand`).
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::band_split::BandSplit;
use super::compressor::{Compressor, CompressorSettings};
use super::lane_sum;
use super::overlap_save::{BlockScratch, OverlapSave};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultibandSettings {
    pub crossovers_hz: Vec<f64>,
    /// One per band (crossovers + 1), low to high.
    pub bands: Vec<CompressorSettings>,
}

impl MultibandSettings {
    pub fn validate(&self) -> Result<()> {
        if self.bands.len() != self.crossovers_hz.len() + 1 {
            return Err(Error::InvalidSetting(format!(
                "{} crossovers need {} bands of compressor settings, not {}",
                self.crossovers_hz.len(),
                self.crossovers_hz.len() + 1,
                self.bands.len()
            )));
        }
        self.bands.iter().try_for_each(CompressorSettings::validate)
    }
}

/// Per band and control block: the block's mean-square power summed over the channels (its square
/// root is the linked detector's input), and per channel.
pub struct BandEnvelopes {
    pub power: Vec<Vec<f32>>,
    /// `[channel][band][block]`.
    pub channel_power: Vec<Vec<Vec<f32>>>,
}

pub struct Multiband {
    split: BandSplit,
    crossovers_hz: Vec<f64>,
    /// Samples per control block.
    block: usize,
    sample_rate: u32,
}

impl Multiband {
    /// The split at `crossovers_hz`, with control blocks of the largest power of two up to 6 ms
    /// (256 samples at 44.1/48 kHz; the gain moves on the scale of its 40 ms+ attack), so they tile
    /// the STFT hop the statistics pool them into.
    pub fn new(crossovers_hz: &[f64], sample_rate: u32) -> Result<Self> {
        let block = 1usize << (f64::from(sample_rate) * 6e-3).max(1.0).log2().floor() as u32;
        Ok(Multiband {
            split: BandSplit::new(crossovers_hz, sample_rate)?,
            crossovers_hz: crossovers_hz.to_vec(),
            block,
            sample_rate,
        })
    }

    pub fn bands(&self) -> usize {
        self.split.bands()
    }

    pub fn block(&self) -> usize {
        self.block
    }

    /// Each band's magnitude response at the bins of an `n`-point FFT (0 … n/2), up to one common
    /// scale factor: read off the split's own filter spectra where their FFT is a multiple of `n`
    /// long, evaluated analytically otherwise.
    pub fn band_magnitudes(&self, n: usize) -> Vec<Vec<f32>> {
        let m = self.split.conv().fft_size();
        (0..self.bands())
            .map(|b| {
                if m >= n && m.is_multiple_of(n) {
                    let spectrum = self.split.spectrum(b);
                    (0..=n / 2).map(|k| spectrum[k * (m / n)].norm()).collect()
                } else {
                    let bin_hz = f64::from(self.sample_rate) / n as f64;
                    (0..=n / 2)
                        .map(|k| {
                            super::from_db(self.split.response_db(b, (k as f64 * bin_hz).max(1.0), self.sample_rate))
                                as f32
                        })
                        .collect()
                }
            })
            .collect()
    }

    /// Control blocks per second.
    pub fn control_rate_hz(&self) -> f64 {
        f64::from(self.sample_rate) / self.block as f64
    }

    /// The envelopes of every band of planar `channels` (a trailing partial block counts as a block),
    /// each channel c first through the symmetric FIR `eq_taps[c]` when given, folded into the
    /// bands' filters: the channel is then replaced by its equalised self, at no pass of its own.
    /// Bands below a crossover are read decimated (see `DecimatedBand`): only the top band and
    /// the equalised channel take full-size inverse transforms.
    pub fn envelopes(&self, channels: &mut [Vec<f32>], eq_taps: &[Option<&[f32]>]) -> BandEnvelopes {
        let (bands, n, d) = (self.bands(), channels.first().map_or(0, Vec::len), self.block);
        let blocks = n.div_ceil(d);
        let mut power = vec![vec![0.0f32; blocks]; bands];
        let mut channel_power = Vec::with_capacity(channels.len());
        for (c, ch) in channels.iter_mut().enumerate() {
            let folded = eq_taps.get(c).copied().flatten().map(|taps| self.split.with_eq(taps));
            let filters = folded.as_ref().map_or_else(|| self.split.filters(), |f| f.view());
            let conv = filters.conv;
            let decimated: Vec<Option<DecimatedBand>> = (0..bands)
                .map(|b| {
                    self.crossovers_hz
                        .get(b)
                        .and_then(|&upper| DecimatedBand::new(filters.bands[b], conv, upper, self.sample_rate, d, true))
                })
                .collect();
            let mut own = vec![vec![0.0f32; blocks]; bands];
            // Each call covers whole control blocks and returns their values, band after band.
            let per_call: std::sync::Mutex<Vec<(usize, Vec<f32>)>> = Default::default();
            // With an EQ: the equalised channel (the base path), written over the input.
            conv.run_aligned_in_place(ch, filters.latency, d, |s, start, out| {
                let nb = out.len().div_ceil(d);
                let mut values = vec![0.0f32; bands * nb];
                if let Some(base) = filters.base {
                    conv.filtered(s, base, |y, _| out.copy_from_slice(&y[..out.len()]));
                }
                for (b, decimated) in decimated.iter().enumerate() {
                    let pw = &mut values[b * nb..(b + 1) * nb];
                    match decimated {
                        Some(band) => band.block_powers(s, out.len(), d, pw),
                        None => conv.filtered(s, filters.bands[b], |y, _| {
                            for (p, chunk) in pw.iter_mut().zip(y[..out.len()].chunks(d)) {
                                *p = lane_sum(chunk, |v| v * v) / d as f32;
                            }
                        }),
                    }
                }
                per_call.lock().expect("envelope lock").push((start / d, values));
            });
            for (first, values) in per_call.into_inner().expect("envelope lock") {
                let nb = values.len() / bands;
                for (b, own) in own.iter_mut().enumerate() {
                    own[first..first + nb].copy_from_slice(&values[b * nb..(b + 1) * nb]);
                }
            }
            for (sum, own) in power.iter_mut().zip(&own) {
                for (p, v) in sum.iter_mut().zip(own) {
                    *p += v;
                }
            }
            channel_power.push(own);
        }
        BandEnvelopes { power, channel_power }
    }

    /// Control-rate gains (make-up included) of a compressor with `settings` fed with the RMS of
    /// `power`, advanced by the detector's delay (`rms_ms` + `attack_ms`: the time constants of its
    /// two one-poles): offline the gain may anticipate, so a loud passage is met by its reduction
    /// instead of overshooting for the first few hundred milliseconds.
    pub fn gains(&self, settings: &CompressorSettings, power: &[f32]) -> Result<Vec<f32>> {
        self.gains_at_levels(settings, &self.detector_levels(settings, power)?)
    }

    /// The RMS detector's levels (dB) for `power` (see [`Compressor::level_db`]), which depend on
    /// `settings.rms_ms` alone: [`Self::gains_at_levels`] then tries curves without recomputing them.
    pub fn detector_levels(&self, settings: &CompressorSettings, power: &[f32]) -> Result<Vec<f64>> {
        let mut c = Compressor::at_rate(settings.clone(), self.control_rate_hz())?;
        Ok(power.iter().map(|&p| c.level_db(f64::from(p))).collect())
    }

    /// [`Self::gains`] from the detector levels of [`Self::detector_levels`] (taken with the same
    /// `rms_ms`).
    pub fn gains_at_levels(&self, settings: &CompressorSettings, levels_db: &[f64]) -> Result<Vec<f32>> {
        let mut c = Compressor::at_rate(settings.clone(), self.control_rate_hz())?;
        let lead = ((settings.rms_ms + settings.attack_ms) * 1e-3 * self.control_rate_hz()).round() as usize;
        let mut gains: Vec<f32> = levels_db.iter().map(|&l| c.gain_for_level_db(l)).collect();
        if lead > 0 && lead < gains.len() {
            let last = gains[gains.len() - 1];
            gains.drain(..lead);
            gains.resize(levels_db.len(), last);
        }
        Ok(gains)
    }

    /// Applies control-rate `gains` (one per band; `None` = 1 throughout), each band of channel c
    /// further scaled by `channel_scale[c][band]` (empty: 1; ignored for a band without gains), to
    /// planar `channels` in place; channel c also through the symmetric FIR `eq_taps[c]` when given
    /// (absent: none), folded into the bands' filters so it costs no pass of its own.
    ///
    /// With e_b the multiplier of band b (k_b·g_b, or 1) and the top band's taken out, the output is
    /// Σ_b e_b·y_b = e_top·(base + Σ_{b<top} (e_b/e_top − 1)·y_b), the bands summing to the base
    /// (the input through the EQ alone, or the input itself). A band below a crossover is
    /// band-limited and so is its slowly varying multiplier: its term is formed at the band's
    /// decimated rate (see `DecimatedBand`) and added to the base's spectrum, so the lows cost
    /// transforms 8–16 times shorter and the top band none of its own.
    pub fn apply(
        &self,
        channels: &mut [Vec<f32>],
        gains: &[Option<Vec<f32>>],
        channel_scale: &[Vec<f32>],
        eq_taps: &[Option<&[f32]>],
    ) {
        let (bands, d) = (self.bands(), self.block);
        let top = bands - 1;
        let ramp = Multiplier::ramp(d);
        for (c, ch) in channels.iter_mut().enumerate() {
            let eq = eq_taps.get(c).copied().flatten();
            if gains.iter().all(Option::is_none) && eq.is_none() {
                continue;
            }
            let folded = eq.map(|taps| self.split.with_eq(taps));
            let filters = folded.as_ref().map_or_else(|| self.split.filters(), |f| f.view());
            let conv = filters.conv;
            let multiplier = |b: usize| Multiplier {
                gains: gains[b].as_deref(),
                scale: channel_scale.get(c).map_or(1.0, |s| s[b]),
                ramp: &ramp,
            };
            let top_multiplier = multiplier(top);
            // The lower bands whose multiplier differs from the top band's, each decimated if it can be.
            let lower: Vec<(usize, Option<DecimatedBand>)> = (0..top)
                .filter(|&b| gains[b].is_some() || gains[top].is_some())
                // By 2 the band's two shorter transforms cost what one full-size one does.
                .map(|b| {
                    (
                        b,
                        DecimatedBand::new(filters.bands[b], conv, self.crossovers_hz[b], self.sample_rate, d, false)
                            .filter(|band| band.factor >= 4),
                    )
                })
                .collect();
            // Without an EQ the base is the input delayed to the bands' latency.
            let delayed;
            let base = match filters.base {
                Some(base) => base,
                None => {
                    let mut impulse = vec![0.0f32; filters.latency + 1];
                    impulse[filters.latency] = 1.0;
                    delayed = conv.filter_spectrum(&impulse);
                    &delayed
                }
            };
            let (n, history) = (conv.fft_size(), conv.filter_len() - 1);
            conv.run_aligned_in_place(ch, filters.latency, d, |s, start, out| {
                let len = out.len();
                let mut e_top = vec![0.0f32; len];
                top_multiplier.fill(start, &mut e_top);
                // aux_complex[..n/2 + 1]: the decimated bands' terms (e_b/e_top − 1)·y_b, as a
                // spectrum joining the base's; aux[1]: the full-rate bands' (e_b − e_top)·y_b,
                // added after.
                let mut z = std::mem::take(&mut s.aux_complex);
                let (terms, rest) = z.split_at_mut(n / 2 + 1);
                terms.fill(Complex::new(0.0, 0.0));
                s.aux[1][..len].fill(0.0);
                for (b, decimated) in &lower {
                    let e = multiplier(*b);
                    match decimated {
                        Some(band) => {
                            let (spectrum, aux) = s.spectrum_and_aux();
                            band.add_term(spectrum, &mut aux[0], rest, terms, history, len, |j| {
                                e.at(start + j) / e_top[j] - 1.0
                            });
                        }
                        None => conv.filtered(s, filters.bands[*b], |y, aux| {
                            let [e_b, terms] = aux;
                            e.fill(start, &mut e_b[..len]);
                            for (((t, &v), &e_b), &e_top) in terms[..len].iter_mut().zip(y).zip(&e_b[..len]).zip(&e_top)
                            {
                                *t += (e_b - e_top) * v;
                            }
                        }),
                    }
                }
                s.aux_complex = z;
                conv.filtered_with(
                    s,
                    |x, product, aux| {
                        for (((p, &x), &h), &t) in product.iter_mut().zip(x).zip(base).zip(&aux[..n / 2 + 1]) {
                            *p = x * h + t;
                        }
                    },
                    |y, aux| {
                        for (((o, &v), &t), &e) in out.iter_mut().zip(y).zip(&aux[1][..len]).zip(&e_top) {
                            *o = e * v + t;
                        }
                    },
                );
            });
        }
    }
}

/// A band's multiplier at the sample rate: its control-rate gains (linearly interpolated: block
/// c's value at its first sample, reaching block c + 1's at the next block's) times its scale, or
/// 1 for a band without gains.
#[derive(Clone, Copy)]
struct Multiplier<'a> {
    gains: Option<&'a [f32]>,
    scale: f32,
    /// k / block for k = 0 … block − 1 (see [`Self::ramp`]); its length is the control block.
    ramp: &'a [f32],
}

impl Multiplier<'_> {
    /// The interpolation's weights for a control block of `block` samples, computed once: the
    /// per-sample conversion and division kept the fill loop from vectorising.
    fn ramp(block: usize) -> Vec<f32> {
        (0..block).map(|k| k as f32 / block as f32).collect()
    }

    fn at(&self, n: usize) -> f32 {
        match self.gains {
            None => 1.0,
            Some(g) => {
                let block = self.ramp.len();
                let c = (n / block).min(g.len() - 1);
                let (g0, g1) = (g[c], *g.get(c + 1).unwrap_or(&g[c]));
                self.scale * (g0 + (g1 - g0) * self.ramp[n - c * block])
            }
        }
    }

    /// [`Self::at`] for n = start, start + 1, … into `out`; `start` on a block boundary.
    fn fill(&self, start: usize, out: &mut [f32]) {
        match self.gains {
            None => out.fill(1.0),
            Some(g) => {
                let block = self.ramp.len();
                for (c, chunk) in (start / block..).zip(out.chunks_mut(block)) {
                    let c = c.min(g.len() - 1);
                    let (g0, g1) = (g[c], *g.get(c + 1).unwrap_or(&g[c]));
                    for (o, &t) in chunk.iter_mut().zip(self.ramp) {
                        *o = self.scale * (g0 + (g1 - g0) * t);
                    }
                }
            }
        }
    }
}

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
struct DecimatedBand {
    factor: usize,
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
    fn new(
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

    /// The mean square per control block of `d` samples of the band in the current block of `s`,
    /// whose first `len` outputs are wanted (the last control block may be partial: its sum over
    /// `d`, as the full-rate reduction does).
    fn block_powers(&self, s: &mut BlockScratch, len: usize, d: usize, powers: &mut [f32]) {
        let mut z = std::mem::take(&mut s.aux_complex);
        let (spectrum, aux) = s.spectrum_and_aux();
        let y = self.samples(spectrum, &mut aux[0], &mut z);
        let y = &y[self.first..self.first + len.div_ceil(self.factor)];
        let scale = self.factor as f32 / d as f32;
        for (p, chunk) in powers.iter_mut().zip(y.chunks(d / self.factor)) {
            *p = lane_sum(chunk, |v| v * v) * scale;
        }
        s.aux_complex = z;
    }

    /// The band's decimated samples in the current block (input spectrum `spectrum`), written into
    /// `real`; `complex` is scratch, its first M/2 + 1 values free for the caller afterwards.
    fn samples<'a>(
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
    fn add_term(
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

/// Band powers of control blocks summed into blocks of `per` control blocks (for short-term
/// statistics), each with gain² applied when `gain` is given: Σ g²·p / per.
pub fn pooled_power(power: &[f32], gain: Option<&[f32]>, per: usize) -> Vec<f32> {
    power
        .par_chunks(per)
        .enumerate()
        .map(|(i, p)| {
            let sum: f32 = match gain {
                Some(g) => p.iter().zip(&g[i * per..]).map(|(&p, &g)| g * g * p).sum(),
                None => p.iter().sum(),
            };
            sum / per as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::from_db;

    const FS: u32 = 44_100;
    const CROSSOVERS: [f64; 3] = [120.0, 1000.0, 6000.0];

    fn tone(freq_hz: f64, amp: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / f64::from(FS)).sin() as f32).collect()
    }

    fn rms_db(x: &[f32]) -> f64 {
        10.0 * (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).log10()
    }

    fn compress(mb: &Multiband, chans: &mut [Vec<f32>], ratios: [f64; 4]) -> Vec<f64> {
        let env = mb.envelopes(chans, &[]);
        let gains: Vec<Option<Vec<f32>>> = ratios
            .iter()
            .zip(&env.power)
            .map(|(&ratio, power)| {
                let s = CompressorSettings { threshold_db: -30.0, ratio, knee_db: 6.0, ..Default::default() };
                Some(mb.gains(&s, power).unwrap())
            })
            .collect();
        let deepest = gains
            .iter()
            .map(|g| -crate::dsp::to_db(f64::from(g.as_ref().unwrap().iter().fold(1.0f32, |m, &v| m.min(v)))))
            .collect();
        mb.apply(chans, &gains, &[], &[]);
        deepest
    }

    #[test]
    fn ratio_one_is_flat_within_005_db_from_20_hz_to_20_khz() {
        let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
        let n = FS as usize;
        for f in [20.0, 40.0, 80.0, 120.0, 250.0, 1000.0, 3000.0, 6000.0, 10_000.0, 16_000.0, 20_000.0] {
            let x = tone(f, 0.5, n);
            let mut chans = vec![x.clone(), x.clone()];
            let reductions = compress(&mb, &mut chans, [1.0; 4]);
            assert!(reductions.iter().all(|&r| r == 0.0));
            let inner = |v: &[f32]| v[n / 4..3 * n / 4].to_vec();
            let change = rms_db(&inner(&chans[0])) - rms_db(&inner(&x));
            assert!(change.abs() <= 0.05, "{f} Hz: {change} dB");
        }
    }

    /// An EQ folded into the bands is the EQ alone when the gains are 1, whether the bands are
    /// active (every band filtered with it) or not (the base path).
    #[test]
    fn a_folded_eq_with_unit_gains_is_the_eq_alone() {
        use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
        let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
        let n = FS as usize;
        let x: Vec<f32> = tone(70.0, 0.3, n)
            .iter()
            .zip(tone(2500.0, 0.2, n))
            .zip(tone(9000.0, 0.1, n))
            .map(|((a, b), c)| a + b + c)
            .collect();
        let eq =
            LinearPhaseEq::new(&EqCurve { freqs_hz: vec![100.0, 1000.0, 8000.0], gain_db: vec![6.0, -3.0, 4.0] }, FS)
                .unwrap();
        let mut want = vec![0.0; n];
        eq.process(&x, &mut want);
        let blocks = n.div_ceil(mb.block());
        for gains in [vec![Some(vec![1.0f32; blocks]); 4], vec![None; 4]] {
            let mut chans = vec![x.clone()];
            mb.apply(&mut chans, &gains, &[], &[Some(eq.taps())]);
            let worst = chans[0].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "folded EQ differs by {worst}");
        }
        // The envelopes' pass with the EQ folded in: the channel comes back equalised, and its
        // envelopes are those of the equalised signal.
        let mut chans = vec![x.clone()];
        let folded = mb.envelopes(&mut chans, &[Some(eq.taps())]);
        let worst = chans[0].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "the envelopes' pass equalised with an error of {worst}");
        // (Within the filters' reach of the ends the folded pass sees the EQ's tail beyond them,
        // which the equalised signal, cut to length, has lost.)
        let plain = mb.envelopes(&mut [want.clone()], &[]);
        let reach = 2 * eq.taps().len() / mb.block();
        for (f, p) in folded.power.iter().zip(&plain.power) {
            for (f, p) in f[reach..f.len() - reach].iter().zip(&p[reach..p.len() - reach]) {
                assert!((f - p).abs() <= 1e-3 * p.max(1e-6), "{f} vs {p}");
            }
        }
    }

    #[test]
    fn compressing_one_band_leaves_the_others_alone() {
        let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
        let n = FS as usize * 2;
        let (low, high) = (tone(50.0, 0.5, n), tone(2000.0, 0.05, n));
        let x: Vec<f32> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
        let mut chans = vec![x.clone()];
        let reductions = compress(&mb, &mut chans, [4.0, 1.0, 1.0, 1.0]);
        assert!(reductions[0] > 6.0 && reductions[1..].iter().all(|&r| r == 0.0), "{reductions:?}");
        // Split the output again: the 2 kHz part is untouched, the 50 Hz part is reduced.
        let split = BandSplit::new(&CROSSOVERS, FS).unwrap();
        let (mut out_low, mut out_mid) = (vec![0.0; n], vec![0.0; n]);
        split.band(0, &chans[0], &mut out_low);
        split.band(2, &chans[0], &mut out_mid);
        let inner = |v: &[f32]| v[n / 4..3 * n / 4].to_vec();
        assert!((rms_db(&inner(&out_mid)) - rms_db(&inner(&high))).abs() < 0.1, "2 kHz band changed");
        assert!(rms_db(&inner(&out_low)) - rms_db(&inner(&low)) < -6.0, "50 Hz band not compressed");
    }

    #[test]
    fn envelopes_measure_each_band() {
        let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
        let n = FS as usize;
        // A 3 kHz tone at 0.25 in both channels: band 2 holds it (power 0.25²/2 per channel).
        let x = tone(3000.0, 0.25, n);
        let env = mb.envelopes(&mut [x.clone(), x], &[]);
        let mid = env.power[2].len() / 2;
        assert!((f64::from(env.power[2][mid]) / 0.25f64.powi(2) - 1.0).abs() < 0.05, "power {}", env.power[2][mid]);
        assert!((f64::from(env.channel_power[1][2][mid]) / (0.25f64.powi(2) / 2.0) - 1.0).abs() < 0.05);
        for b in [0, 1, 3] {
            assert!(
                env.power[b][mid] < env.power[2][mid] * from_db(-100.0) as f32,
                "band {b} leaks {}",
                env.power[b][mid]
            );
        }
    }

    /// Tones at `freqs_hz` (0.1 each), switched down to `quiet` for two bursts of 5000 samples in
    /// three, over uniform noise (0.2): something in every band.
    fn busy_mix(n: usize, seed: u32, freqs_hz: &[f64], quiet: f32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let burst = if (i / 5000) % 3 == 0 { 1.0 } else { quiet };
                let t = i as f64 / f64::from(FS);
                let tones: f64 = freqs_hz.iter().map(|f| (2.0 * std::f64::consts::PI * f * t).sin()).sum();
                0.1 * tones as f32 * burst + 0.2 * noise
            })
            .collect()
    }

    /// The bands read decimated against the split run at the full rate (time-domain FIRs): every
    /// control block's power of every band of a busy mix (tones across the bands, noise, bursts).
    #[test]
    fn decimated_envelopes_match_the_full_rate_bands() {
        let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
        let n = FS as usize * 2;
        let x = busy_mix(n, 11, &[55.0, 110.0, 180.0, 700.0, 1100.0, 4000.0, 6500.0, 12_000.0], 0.1);
        let env = mb.envelopes(&mut [x.clone()], &[]);
        let d = mb.block();
        let mut band = vec![0.0f32; n];
        for b in 0..mb.bands() {
            mb.split.band(b, &x, &mut band);
            let want: Vec<f64> =
                band.chunks(d).map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / d as f64).collect();
            let mut errs: Vec<f64> =
                want.iter().zip(&env.power[b]).map(|(w, &g)| (10.0 * (f64::from(g) / w).log10()).abs()).collect();
            errs.sort_by(f64::total_cmp);
            let (median, worst) = (errs[errs.len() / 2], errs[errs.len() - 1]);
            // Decimated bands: a block's mean square by the midpoint rule, off only where the
            // power steps within the block (the bursts; 0.2 dB on a 20 dB step); full-rate: exact.
            let (max_median, max_worst) = if b + 1 < mb.bands() { (0.02, 0.25) } else { (1e-3, 1e-3) };
            assert!(
                median <= max_median && worst <= max_worst,
                "band {b}: block powers off by {median:.4} dB (median), {worst:.4} dB (worst)"
            );
        }
    }

    /// The whole stage against its definition run at the full rate in the time domain: each band
    /// of the equalised input (the split's FIRs after the EQ's) times its interpolated gain and
    /// scale, summed. Every band's gain moves (±6 dB at 2–7 Hz), the side scales differ.
    #[test]
    fn apply_matches_the_bands_times_their_gains_at_the_full_rate() {
        use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
        let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
        let n = FS as usize * 3;
        let x = busy_mix(n, 5, &[45.0, 90.0, 300.0, 1500.0, 5000.0, 9000.0], 1.0);
        let eq =
            LinearPhaseEq::new(&EqCurve { freqs_hz: vec![60.0, 800.0, 7000.0], gain_db: vec![5.0, -4.0, 3.0] }, FS)
                .unwrap();
        let d = mb.block();
        let blocks = n.div_ceil(d);
        let gains: Vec<Option<Vec<f32>>> = (0..4)
            .map(|b| {
                Some(
                    (0..blocks)
                        .map(|c| {
                            from_db(
                                6.0 * (2.0 * std::f64::consts::PI * (2.0 + 1.7 * b as f64) * (c * d) as f64
                                    / f64::from(FS))
                                .sin(),
                            ) as f32
                        })
                        .collect(),
                )
            })
            .collect();
        let scale = vec![vec![1.0, 1.3, 0.8, 1.1]];
        let ramp = Multiplier::ramp(d);
        let mut got = vec![x.clone()];
        mb.apply(&mut got, &gains, &scale, &[Some(eq.taps())]);
        let mut equalised = vec![0.0f32; n];
        eq.process(&x, &mut equalised);
        let mut want = vec![0.0f64; n];
        let mut band = vec![0.0f32; n];
        for (b, g) in gains.iter().enumerate() {
            mb.split.band(b, &equalised, &mut band);
            let m = Multiplier { gains: g.as_deref(), scale: scale[0][b], ramp: &ramp };
            for (i, (w, &v)) in want.iter_mut().zip(&band).enumerate() {
                *w += f64::from(m.at(i)) * f64::from(v);
            }
        }
        // Away from the ends, where the reference's EQ output is cut to length and the stage's is not.
        let inner = eq.taps().len()..n - eq.taps().len();
        let (err, sig) = inner
            .fold((0.0f64, 0.0f64), |(e, s), i| (e + (f64::from(got[0][i]) - want[i]).powi(2), s + want[i].powi(2)));
        let residual_db = 10.0 * (err / sig).log10();
        assert!(residual_db < -80.0, "residual {residual_db:.1} dB");
    }
}
