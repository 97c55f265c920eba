//! Linear-phase band split for multiband dynamics and bass mono. Each crossover is a Kaiser-windowed
//! sinc low-pass (Oppenheim & Schafer §7.5) of odd length, all of the same length; band 0 is the
//! first low-pass, band k the difference of low-passes k and k−1, the top band the delayed input
//! minus the last low-pass. The bands therefore sum to the input exactly (latency removed), so a
//! multiband stage whose gains are all 1 changes nothing — unlike IIR crossovers, whose sum is only
//! an all-pass — and no band adds phase distortion.
use realfft::num_complex::Complex;

use super::linear_phase_eq::SymmetricFir;
use super::overlap_save::OverlapSave;
use super::window::{kaiser, sinc};
use crate::error::{Error, Result};

/// Kaiser β of the crossovers: about −80 dB stop band.
const BETA: f64 = 8.0;
/// Filter length in seconds: ~0.19 s (8191 taps at 44.1/48 kHz) gives transitions of ~40 Hz, narrow
/// enough for a crossover at 80 Hz.
const LENGTH_S: f64 = 0.17;

pub struct BandSplit {
    bands: Vec<SymmetricFir>,
}

/// What a stage filters each block with: the convolver, the latency to remove, the bands' spectra
/// and, when an EQ is folded in, the spectrum the bands sum to (`None`: the input itself).
pub(crate) struct BandFilters<'a> {
    pub conv: &'a OverlapSave,
    pub latency: usize,
    pub base: Option<&'a [Complex<f32>]>,
    pub bands: Vec<&'a [Complex<f32>]>,
}

/// A split with an EQ folded in (see [`BandSplit::with_eq`]).
pub(crate) struct FoldedSplit {
    conv: OverlapSave,
    latency: usize,
    base: Vec<Complex<f32>>,
    bands: Vec<Vec<Complex<f32>>>,
}

impl FoldedSplit {
    pub(crate) fn view(&self) -> BandFilters<'_> {
        BandFilters {
            conv: &self.conv,
            latency: self.latency,
            base: Some(&self.base),
            bands: self.bands.iter().map(Vec::as_slice).collect(),
        }
    }
}

impl BandSplit {
    /// Bands split at `crossovers_hz` (ascending, within 20 Hz … 0.45·fs): one more band than
    /// crossovers.
    pub fn new(crossovers_hz: &[f64], sample_rate: u32) -> Result<Self> {
        let fs = f64::from(sample_rate);
        let ascending = crossovers_hz.windows(2).all(|w| w[1].partial_cmp(&w[0]) == Some(std::cmp::Ordering::Greater));
        if crossovers_hz.is_empty() || !ascending || crossovers_hz.iter().any(|&f| !(20.0..=0.45 * fs).contains(&f)) {
            return Err(Error::InvalidSetting(format!(
                "crossovers {crossovers_hz:?} Hz must ascend within 20 Hz … {:.0} Hz",
                0.45 * fs
            )));
        }
        let len = ((fs * LENGTH_S) as usize).next_power_of_two() - 1;
        let centre = (len - 1) / 2;
        let lowpass = |fc: f64| -> Vec<f64> {
            let c = 2.0 * fc / fs;
            (0..len)
                .map(|i| {
                    let t = i as f64 - centre as f64;
                    c * sinc(c * t) * kaiser(t / centre as f64, BETA)
                })
                .collect()
        };
        let lows: Vec<Vec<f64>> = crossovers_hz.iter().map(|&f| lowpass(f)).collect();
        let mut delta = vec![0.0f64; len];
        delta[centre] = 1.0;
        let zero = vec![0.0f64; len];
        let bands = (0..=lows.len())
            .map(|k| {
                let upper = lows.get(k).unwrap_or(&delta);
                let lower = if k == 0 { &zero } else { &lows[k - 1] };
                SymmetricFir::new(upper.iter().zip(lower).map(|(u, l)| (u - l) as f32).collect())
            })
            .collect();
        Ok(BandSplit { bands })
    }

    pub fn bands(&self) -> usize {
        self.bands.len()
    }

    /// Writes band `band` of `input` into `output` (same length, latency removed).
    pub fn band(&self, band: usize, input: &[f32], output: &mut [f32]) {
        self.bands[band].process(input, output);
    }

    /// The convolver every band shares (all bands have the same length) and band `band`'s spectrum,
    /// for stages that filter one block into several bands after a single forward FFT.
    pub(crate) fn conv(&self) -> &super::overlap_save::OverlapSave {
        &self.bands[0].conv
    }

    pub(crate) fn spectrum(&self, band: usize) -> &[realfft::num_complex::Complex<f32>] {
        &self.bands[band].spectrum
    }

    pub(crate) fn latency(&self) -> usize {
        self.bands[0].latency()
    }

    /// The split's own filters, for stages that filter one block into several bands.
    pub(crate) fn filters(&self) -> BandFilters<'_> {
        BandFilters {
            conv: self.conv(),
            latency: self.latency(),
            base: None,
            bands: self.bands.iter().map(|b| b.spectrum.as_slice()).collect(),
        }
    }

    /// The split with the symmetric FIR `eq_taps` folded into every band, and a base path (the EQ
    /// alone, delayed to the bands' latency) that the bands sum to: one convolver long enough for
    /// both filters in series, so an EQ after the bands costs no pass of its own.
    pub(crate) fn with_eq(&self, eq_taps: &[f32]) -> FoldedSplit {
        let split_len = self.bands[0].taps.len();
        let len = split_len + eq_taps.len() - 1;
        let conv = OverlapSave::new(len, 4 * (len + 1).next_power_of_two());
        // Each filter_spectrum carries the inverse FFT's 1/N; a product of two carries it twice.
        let n = conv.fft_size() as f32;
        let eq = conv.filter_spectrum(eq_taps);
        let bands = self
            .bands
            .iter()
            .map(|b| conv.filter_spectrum(&b.taps).iter().zip(&eq).map(|(h, e)| h * e * n).collect())
            .collect();
        let mut delayed = vec![0.0f32; self.latency()];
        delayed.extend_from_slice(eq_taps);
        let base = conv.filter_spectrum(&delayed);
        FoldedSplit { latency: self.latency() + (eq_taps.len() - 1) / 2, conv, base, bands }
    }

    /// Analytic magnitude response of band `band`, dB.
    pub fn response_db(&self, band: usize, freq_hz: f64, sample_rate: u32) -> f64 {
        self.bands[band].response_db(freq_hz, sample_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: u32 = 44_100;

    #[test]
    fn bands_sum_to_the_input_flat_from_20_hz_to_20_khz() {
        let split = BandSplit::new(&[120.0, 1000.0, 6000.0], FS).unwrap();
        // Analytic: the band responses add (as complex values with one shared linear phase) to 1.
        // Summed taps must form a delayed unit impulse.
        let len = split.bands[0].taps.len();
        for i in 0..len {
            let sum: f32 = split.bands.iter().map(|b| b.taps[i]).sum();
            let want = if i == (len - 1) / 2 { 1.0 } else { 0.0 };
            assert!((sum - want).abs() < 1e-6, "tap {i}: {sum}");
        }
        // Measured: noise split and re-summed comes back within ±0.05 dB in every third-octave
        // (and, since the sum is exact, sample for sample).
        let x = crate::testing::Rng::new(7).noise(FS as usize * 2, 0.5);
        let mut sum = vec![0.0f32; x.len()];
        let mut band = vec![0.0f32; x.len()];
        for b in 0..split.bands() {
            split.band(b, &x, &mut band);
            for (s, v) in sum.iter_mut().zip(&band) {
                *s += v;
            }
        }
        let worst = x.iter().zip(&sum).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "re-summed bands differ by {worst}");
        for f in [20.0, 31.5, 50.0, 120.0, 1000.0, 6000.0, 16_000.0, 20_000.0] {
            let h: f64 = (0..split.bands()).map(|b| 10f64.powf(split.response_db(b, f, FS) / 20.0)).fold(0.0, f64::max);
            assert!(h <= 1.0 + 1e-3, "no band exceeds unity at {f} Hz: {h}");
        }
    }

    #[test]
    fn each_band_passes_its_range_and_stops_the_others() {
        let split = BandSplit::new(&[120.0, 1000.0, 6000.0], FS).unwrap();
        let centres = [50.0, 350.0, 2500.0, 12_000.0];
        for (b, &fc) in centres.iter().enumerate() {
            for (other, &f) in centres.iter().enumerate() {
                let db = split.response_db(b, f, FS);
                if other == b {
                    assert!(db.abs() < 0.01, "band {b} at {f} Hz: {db} dB");
                } else {
                    assert!(db < -60.0, "band {b} leaks {db} dB at {f} Hz (its centre {fc} Hz)");
                }
            }
        }
    }
}
