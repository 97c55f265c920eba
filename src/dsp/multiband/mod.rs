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
mod decimated;
mod multiplier;

use rayon::prelude::*;
use realfft::num_complex::Complex;

use self::decimated::DecimatedBand;
use self::multiplier::Multiplier;
use super::band_split::BandSplit;
use super::compressor::{Compressor, CompressorSettings};
use super::overlap_save::{BlockScratch, OverlapSave};
use super::simd::lane_sum;
use crate::error::Result;
pub use crate::model::settings::MultibandSettings;

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
            conv.run_aligned_in_place(
                ch,
                filters.latency,
                d,
                || BandScratch::new(conv),
                |s, own, start, out| {
                    let nb = out.len().div_ceil(d);
                    let mut values = vec![0.0f32; bands * nb];
                    if let Some(base) = filters.base {
                        conv.filtered(s, base, |y| out.copy_from_slice(&y[..out.len()]));
                    }
                    for (b, decimated) in decimated.iter().enumerate() {
                        let pw = &mut values[b * nb..(b + 1) * nb];
                        match decimated {
                            Some(band) => band.block_powers(s.spectrum(), own, out.len(), d, pw),
                            None => conv.filtered(s, filters.bands[b], |y| {
                                for (p, chunk) in pw.iter_mut().zip(y[..out.len()].chunks(d)) {
                                    *p = lane_sum(chunk, |v| v * v) / d as f32;
                                }
                            }),
                        }
                    }
                    per_call.lock().expect("envelope lock").push((start / d, values));
                },
            );
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
            let block = BlockTerms {
                conv,
                bands: &filters.bands,
                base,
                e_top: &top_multiplier,
                lower: &lower,
                multiplier: &multiplier,
            };
            conv.run_aligned_in_place(
                ch,
                filters.latency,
                d,
                || BandScratch::new(conv),
                |s, own, start, out| block.apply(s, own, start, out),
            );
        }
    }
}

/// What one block of [`Multiband::apply`] combines: the base spectrum, the top band's multiplier,
/// and the lower bands whose multiplier differs from it (each decimated if it can be).
struct BlockTerms<'a, M: Fn(usize) -> Multiplier<'a>> {
    conv: &'a OverlapSave,
    bands: &'a [&'a [Complex<f32>]],
    base: &'a [Complex<f32>],
    e_top: &'a Multiplier<'a>,
    lower: &'a [(usize, Option<DecimatedBand>)],
    multiplier: &'a M,
}

impl<'a, M: Fn(usize) -> Multiplier<'a>> BlockTerms<'a, M> {
    /// e_top·(base + Σ_b (e_b/e_top − 1)·y_b) for the block's outputs `out` (from `start`): the
    /// decimated bands' terms join the base's spectrum before its inverse transform, the full-rate
    /// bands' terms (e_b − e_top)·y_b are added after.
    fn apply(&self, s: &mut BlockScratch, own: &mut BandScratch, start: usize, out: &mut [f32]) {
        let (conv, len) = (self.conv, out.len());
        let history = conv.filter_len() - 1;
        let e_top = &mut own.e_top[..len];
        self.e_top.fill(start, e_top);
        own.spectrum_terms.fill(Complex::new(0.0, 0.0));
        own.full_rate_terms[..len].fill(0.0);
        for (b, decimated) in self.lower {
            let e = (self.multiplier)(*b);
            match decimated {
                Some(band) => {
                    band.add_term(
                        s.spectrum(),
                        &mut own.real,
                        &mut own.complex,
                        &mut own.spectrum_terms,
                        history,
                        len,
                        |j| e.at(start + j) / e_top[j] - 1.0,
                    );
                }
                None => conv.filtered(s, self.bands[*b], |y| {
                    let e_b = &mut own.real[..len];
                    e.fill(start, e_b);
                    for (((t, &v), &e_b), &e_top) in
                        own.full_rate_terms[..len].iter_mut().zip(y).zip(&*e_b).zip(&*e_top)
                    {
                        *t += (e_b - e_top) * v;
                    }
                }),
            }
        }
        let (terms, full_rate_terms) = (&own.spectrum_terms, &own.full_rate_terms[..len]);
        conv.filtered_with(
            s,
            |x, product| {
                for (((p, &x), &h), &t) in product.iter_mut().zip(x).zip(self.base).zip(terms) {
                    *p = x * h + t;
                }
            },
            |y| {
                for (((o, &v), &t), &e) in out.iter_mut().zip(y).zip(full_rate_terms).zip(&*e_top) {
                    *o = e * v + t;
                }
            },
        );
    }
}

/// A worker's buffers for the multiband passes.
struct BandScratch {
    /// A decimated band's samples, or a full-rate band's multiplier.
    real: Vec<f32>,
    /// The decimated transforms' work space.
    complex: Vec<Complex<f32>>,
    /// The decimated bands' terms (e_b/e_top − 1)·y_b as a spectrum joining the base's.
    spectrum_terms: Vec<Complex<f32>>,
    /// The full-rate bands' terms (e_b − e_top)·y_b, added after the inverse transform.
    full_rate_terms: Vec<f32>,
    /// The top band's multiplier at each output.
    e_top: Vec<f32>,
}

impl BandScratch {
    fn new(conv: &OverlapSave) -> Self {
        let n = conv.fft_size();
        BandScratch {
            real: vec![0.0; n],
            complex: vec![Complex::new(0.0, 0.0); 2 * n],
            spectrum_terms: vec![Complex::new(0.0, 0.0); n / 2 + 1],
            full_rate_terms: vec![0.0; n],
            e_top: vec![0.0; n],
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
mod tests;
