//! Multiband compressor: a linear-phase [`BandSplit`], one [`Compressor`] per band with detection
//! linked across channels, and the bands summed back. With every gain at 1 the output equals the
//! input (the split is exactly complementary), so the stage can sit in every render.
use serde::{Deserialize, Serialize};

use super::band_split::BandSplit;
use super::compressor::{Compressor, CompressorSettings};
use super::to_db;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultibandSettings {
    pub crossovers_hz: Vec<f64>,
    /// One per band (crossovers + 1), low to high.
    pub bands: Vec<CompressorSettings>,
}

pub struct MultibandCompressor {
    split: BandSplit,
    compressors: Vec<Compressor>,
}

impl MultibandCompressor {
    pub fn new(settings: &MultibandSettings, sample_rate: u32) -> Result<Self> {
        if settings.bands.len() != settings.crossovers_hz.len() + 1 {
            return Err(Error::InvalidSetting(format!(
                "{} crossovers need {} bands of compressor settings, not {}",
                settings.crossovers_hz.len(),
                settings.crossovers_hz.len() + 1,
                settings.bands.len()
            )));
        }
        let compressors = settings.bands.iter().map(|b| Compressor::new(b.clone(), sample_rate)).collect::<Result<_>>()?;
        Ok(MultibandCompressor { split: BandSplit::new(&settings.crossovers_hz, sample_rate)?, compressors })
    }

    /// Compresses planar `channels` in place; `scratch` holds the band signals (resized to fit, so a
    /// reused scratch allocates nothing). Returns each band's largest gain reduction in dB.
    pub fn process(&mut self, channels: &mut [Vec<f32>], scratch: &mut Vec<Vec<f32>>) -> Vec<f64> {
        let (n_ch, n) = (channels.len(), channels.first().map_or(0, Vec::len));
        scratch.resize_with(2 * n_ch, Vec::new);
        let (bands, sums) = scratch.split_at_mut(n_ch);
        for s in sums.iter_mut() {
            s.clear();
            s.resize(n, 0.0);
        }
        let mut reductions = Vec::with_capacity(self.compressors.len());
        for (b, compressor) in self.compressors.iter_mut().enumerate() {
            compressor.reset();
            for (band, input) in bands.iter_mut().zip(channels.iter()) {
                band.resize(n, 0.0);
                self.split.band(b, input, band);
            }
            let makeup = compressor.settings().makeup_db;
            let mut deepest = 0.0f64;
            for i in 0..n {
                let level = bands.iter().fold(0.0f32, |m, c| m.max(c[i].abs()));
                let g = compressor.gain(level);
                deepest = deepest.max(makeup - to_db(f64::from(g)));
                for (sum, band) in sums.iter_mut().zip(bands.iter()) {
                    sum[i] += g * band[i];
                }
            }
            reductions.push(deepest);
        }
        for (ch, sum) in channels.iter_mut().zip(sums.iter_mut()) {
            std::mem::swap(ch, sum);
        }
        reductions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: u32 = 44_100;

    fn settings(ratios: [f64; 4]) -> MultibandSettings {
        MultibandSettings {
            crossovers_hz: vec![120.0, 1000.0, 6000.0],
            bands: ratios.iter().map(|&ratio| CompressorSettings { threshold_db: -30.0, ratio, knee_db: 6.0, ..Default::default() }).collect(),
        }
    }

    fn tone(freq_hz: f64, amp: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / f64::from(FS)).sin() as f32).collect()
    }

    fn rms_db(x: &[f32]) -> f64 {
        10.0 * (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).log10()
    }

    #[test]
    fn ratio_one_is_flat_within_005_db_from_20_hz_to_20_khz() {
        let mut mb = MultibandCompressor::new(&settings([1.0; 4]), FS).unwrap();
        let n = FS as usize;
        let mut scratch = Vec::new();
        for f in [20.0, 40.0, 80.0, 120.0, 250.0, 1000.0, 3000.0, 6000.0, 10_000.0, 16_000.0, 20_000.0] {
            let x = tone(f, 0.5, n);
            let mut chans = vec![x.clone(), x.clone()];
            let reductions = mb.process(&mut chans, &mut scratch);
            assert!(reductions.iter().all(|&r| r == 0.0));
            let inner = |v: &[f32]| v[n / 4..3 * n / 4].to_vec();
            let change = rms_db(&inner(&chans[0])) - rms_db(&inner(&x));
            assert!(change.abs() <= 0.05, "{f} Hz: {change} dB");
        }
    }

    #[test]
    fn compressing_one_band_leaves_the_others_alone() {
        let mut mb = MultibandCompressor::new(&settings([4.0, 1.0, 1.0, 1.0]), FS).unwrap();
        let n = FS as usize * 2;
        let (low, high) = (tone(50.0, 0.5, n), tone(2000.0, 0.05, n));
        let x: Vec<f32> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
        let mut chans = vec![x.clone()];
        let reductions = mb.process(&mut chans, &mut Vec::new());
        assert!(reductions[0] > 6.0 && reductions[1..].iter().all(|&r| r == 0.0), "{reductions:?}");
        // Split the output again: the 2 kHz part is untouched, the 50 Hz part is reduced.
        let split = BandSplit::new(&[120.0, 1000.0, 6000.0], FS).unwrap();
        let (mut out_low, mut out_mid) = (vec![0.0; n], vec![0.0; n]);
        split.band(0, &chans[0], &mut out_low);
        split.band(2, &chans[0], &mut out_mid);
        let inner = |v: &[f32]| v[n / 4..3 * n / 4].to_vec();
        assert!((rms_db(&inner(&out_mid)) - rms_db(&inner(&high))).abs() < 0.1, "2 kHz band changed");
        assert!(rms_db(&inner(&out_low)) - rms_db(&inner(&low)) < -6.0, "50 Hz band not compressed");
    }
}
