//! The fractional-octave frequency grid every profile and EQ curve uses, and the integration of a
//! per-bin power spectral density into band levels.
use serde::{Deserialize, Serialize};

pub use crate::model::profile::{has_information, same_grid, LEVEL_FLOOR_DB};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandGrid {
    pub bands_per_octave: u32,
    pub centers_hz: Vec<f64>,
}

impl BandGrid {
    /// 1/12-octave bands centred on 1 kHz·2^(k/12), covering 20 Hz – 20 kHz.
    pub fn standard() -> Self {
        Self::new(12, 20.0, 20_000.0)
    }

    pub fn new(bands_per_octave: u32, lo_hz: f64, hi_hz: f64) -> Self {
        let b = f64::from(bands_per_octave);
        let k0 = (b * (lo_hz / 1000.0).log2()).ceil() as i32;
        let k1 = (b * (hi_hz / 1000.0).log2()).floor() as i32;
        let centers_hz = (k0..=k1).map(|k| 1000.0 * 2f64.powf(f64::from(k) / b)).collect();
        BandGrid { bands_per_octave, centers_hz }
    }

    /// Lower and upper edge of band `i`.
    pub fn edges(&self, i: usize) -> (f64, f64) {
        let half = 2f64.powf(0.5 / f64::from(self.bands_per_octave));
        (self.centers_hz[i] / half, self.centers_hz[i] * half)
    }

    /// Mean power spectral density per band, in dB, from a one-sided PSD sampled at bin spacing
    /// `bin_hz` (bin k covers [(k−½)Δ, (k+½)Δ]). Bins are weighted by their overlap with the band, so
    /// bands narrower than a bin still get a proper (interpolated) value.
    pub fn levels_db(&self, psd: &[f64], bin_hz: f64) -> Vec<f64> {
        let nyquist = (psd.len() - 1) as f64 * bin_hz;
        (0..self.centers_hz.len())
            .map(|i| {
                let (lo, hi) = self.edges(i);
                if hi > nyquist {
                    return LEVEL_FLOOR_DB;
                }
                let k0 = ((lo / bin_hz) + 0.5).floor() as usize;
                let k1 = (((hi / bin_hz) + 0.5).floor() as usize).min(psd.len() - 1);
                let mut acc = 0.0;
                for (k, &p) in psd.iter().enumerate().take(k1 + 1).skip(k0) {
                    let b_lo = (k as f64 - 0.5) * bin_hz;
                    let b_hi = (k as f64 + 0.5) * bin_hz;
                    acc += p * (hi.min(b_hi) - lo.max(b_lo)).max(0.0);
                }
                let mean = acc / (hi - lo);
                if mean > 0.0 {
                    (10.0 * mean.log10()).max(LEVEL_FLOOR_DB)
                } else {
                    LEVEL_FLOOR_DB
                }
            })
            .collect()
    }
}

/// Gaussian smoothing in dB along log₂ frequency with standard deviation `sigma_oct`, over the bands
/// that have information.
pub fn smooth(freqs: &[f64], values: &[Option<f64>], sigma_oct: f64) -> Vec<Option<f64>> {
    let oct: Vec<f64> = freqs.iter().map(|f| f.log2()).collect();
    (0..values.len())
        .map(|i| {
            values[i]?;
            let (mut acc, mut wsum) = (0.0, 0.0);
            for (j, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    let d = (oct[j] - oct[i]) / sigma_oct;
                    if d.abs() < 4.0 {
                        let w = (-0.5 * d * d).exp();
                        acc += w * v;
                        wsum += w;
                    }
                }
            }
            Some(acc / wsum)
        })
        .collect()
}
