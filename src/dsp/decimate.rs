//! Integer-factor decimation, and the interpolation back, of what lies low in a signal: one
//! linear-phase lowpass (a Kaiser-windowed sinc, Kaiser & Schafer 1980; the length from Kaiser's
//! formula, Oppenheim & Schafer eq. 7.63) serves both. Only `0 … pass_hz` must come through
//! clean, so the filter's stopband starts where content would alias onto that band — at the low
//! rate less `pass_hz` — not at the low rate's Nyquist: the transition is wide and the filter
//! short (tens of multiply-adds a full-rate sample), against a general resampler's flat
//! passband to near Nyquist.
use super::simd::simd_versions;
use super::window::{kaiser, sinc};
use crate::error::{Error, Result};

/// The stopband's attenuation, dB, and Kaiser's β for it (0.1102 (A − 8.7)).
const STOP_DB: f64 = 100.0;
const BETA: f64 = 0.1102 * (STOP_DB - 8.7);
/// Low-rate samples the interpolation works on at a time (a block of each branch stays in cache).
const BLOCK: usize = 1024;

pub struct Decimator {
    factor: usize,
    sample_rate: u32,
    /// The lowpass at the full rate (odd length, symmetric, unit gain at DC), and its polyphase
    /// branches for the interpolation (taps p, p + D, … reversed and scaled by the factor).
    taps: Vec<f32>,
    branches: Vec<Vec<f32>>,
}

impl Decimator {
    /// Decimates `sample_rate` by `factor`, keeping `0 … pass_hz`: the low rate must exceed
    /// twice the band.
    pub fn new(sample_rate: u32, factor: usize, pass_hz: f64) -> Result<Self> {
        let fs = f64::from(sample_rate);
        let low = fs / factor.max(1) as f64;
        if factor == 0 || !(pass_hz > 0.0 && 2.0 * pass_hz < low) {
            return Err(Error::InvalidSetting(format!(
                "decimating {sample_rate} Hz by {factor}: the band 0 … {pass_hz} Hz does not fit"
            )));
        }
        // Transition from the band's top to where content aliases onto it; cutoff between.
        let transition = (low - 2.0 * pass_hz) / fs;
        let len = ((STOP_DB - 7.95) / (2.285 * std::f64::consts::TAU * transition)).ceil() as usize + 1;
        let half = len / 2;
        let cutoff = 0.5 * low / fs;
        let mut h: Vec<f64> = (0..=2 * half)
            .map(|k| {
                let t = k as f64 - half as f64;
                2.0 * cutoff * sinc(2.0 * cutoff * t) * kaiser(t / half.max(1) as f64, BETA)
            })
            .collect();
        let dc: f64 = h.iter().sum();
        h.iter_mut().for_each(|v| *v /= dc);
        let taps: Vec<f32> = h.iter().map(|&v| v as f32).collect();
        // Branch p holds taps p, p + D, p + 2D, … reversed, times D (the zeros stuffed between the
        // low-rate samples take that share of the energy).
        let branches = (0..factor)
            .map(|p| h.iter().skip(p).step_by(factor).rev().map(|&v| (v * factor as f64) as f32).collect())
            .collect();
        Ok(Decimator { factor, sample_rate, taps, branches })
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    /// The low rate, Hz.
    pub fn low_rate(&self) -> f64 {
        f64::from(self.sample_rate) / self.factor as f64
    }

    fn half(&self) -> usize {
        self.taps.len() / 2
    }

    /// `x` filtered and decimated: low-rate sample j is the filtered signal at full-rate sample
    /// j·D (zero outside `x`), ⌈len / D⌉ of them.
    pub fn decimate(&self, x: &[f32]) -> Vec<f32> {
        let (d, half) = (self.factor, self.half());
        let mut padded = vec![0.0f32; x.len() + 2 * half + d];
        padded[half..half + x.len()].copy_from_slice(x);
        let mut y = vec![0.0f32; x.len().div_ceil(d)];
        filter_at(&self.taps, &padded, d, &mut y);
        y
    }

    /// `y` (at the low rate, as [`Decimator::decimate`] gives it) back at the full rate, its
    /// samples `range`: zeros stuffed between its samples, then the same lowpass.
    pub fn interpolate(&self, y: &[f32], range: std::ops::Range<usize>) -> Vec<f32> {
        let (d, half) = (self.factor, self.half());
        // x[i] = D Σ_j h[i + half − jD] y[j]: output i takes branch p = (i + half) mod D against
        // the low-rate samples ending at q = (i + half) div D. Per branch, the outputs it makes
        // are a short filter along y, run a block at a time as contiguous multiply-adds.
        let width = self.branches[0].len();
        let last = (range.end.max(1) - 1 + half) / d;
        // y[m] sits at padded[m + width].
        let mut padded = vec![0.0f32; (y.len() + width).max(last + 1) + width];
        padded[width..width + y.len()].copy_from_slice(y);
        let mut out = vec![0.0f32; range.len()];
        branch_filters(&self.branches, &padded, (range.start, half, d), (range.start + half) / d..last + 1, &mut out);
        out
    }

    /// The lowpass's magnitude response at `freq_hz` (each pass; interpolating after decimating
    /// gives its square in the band).
    pub fn response(&self, freq_hz: f64) -> f64 {
        let w = std::f64::consts::TAU * freq_hz / f64::from(self.sample_rate);
        let half = self.half() as f64;
        // Symmetric: a real, zero-phase sum about the centre.
        self.taps.iter().enumerate().map(|(k, &h)| f64::from(h) * (w * (k as f64 - half)).cos()).sum::<f64>().abs()
    }
}

simd_versions! {
    /// out[j] = Σ_k taps[k] · x[j·step + k]: the filter at every `step`-th sample, each output one
    /// dot product over contiguous slices (the taps are long: it vectorises).
    fn filter_at(taps: &[f32], x: &[f32], step: usize, out: &mut [f32]) {
        for (j, o) in out.iter_mut().enumerate() {
            let window = &x[j * step..j * step + taps.len()];
            let mut lanes = [0.0f32; 8];
            let (ca, cb) = (taps.chunks_exact(8), window.chunks_exact(8));
            let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(a, b)| a * b).sum();
            for (a, b) in ca.zip(cb) {
                for ((l, &u), &v) in lanes.iter_mut().zip(a).zip(b) {
                    *l += u * v;
                }
            }
            *o = lanes.iter().sum::<f32>() + tail;
        }
    }
}

simd_versions! {
    /// The interpolation's branches over the low-rate samples `qs` (`padded` holds y[m] at
    /// m + the widest branch's length): output i = qD + p − half (where it lies in the range
    /// from `start`) is branch p against the samples ending at q. A branch's outputs are a short
    /// filter along y, run a block at a time as contiguous multiply-adds.
    fn branch_filters(
        branches: &[Vec<f32>],
        padded: &[f32],
        layout: (usize, usize, usize),
        qs: std::ops::Range<usize>,
        out: &mut [f32],
    ) {
        let (start, half, d) = layout;
        let width = branches[0].len();
        let mut acc = [0.0f32; BLOCK];
        for q0 in qs.clone().step_by(BLOCK) {
            let q1 = (q0 + BLOCK).min(qs.end);
            for (p, branch) in branches.iter().enumerate() {
                let acc = &mut acc[..q1 - q0];
                acc.fill(0.0);
                // acc[q − q0] = Σ_t branch[t] · y[q − len + 1 + t].
                let from = q0 + width + 1 - branch.len();
                for (t, &c) in branch.iter().enumerate() {
                    acc.iter_mut().zip(&padded[from + t..]).for_each(|(a, &v)| *a += c * v);
                }
                for (k, &a) in acc.iter().enumerate() {
                    let i = ((q0 + k) * d + p).wrapping_sub(half);
                    if let Some(o) = i.checked_sub(start).and_then(|i| out.get_mut(i)) {
                        *o = a;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, f: f64, fs: f64) -> Vec<f32> {
        (0..n).map(|i| (std::f64::consts::TAU * f * i as f64 / fs).sin() as f32).collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// In the band a sine comes back through decimation and interpolation as the analytic
    /// response squared says, in place; what would alias onto the band is under the stopband.
    #[test]
    fn the_band_comes_back_and_aliases_stay_under_the_stopband() {
        let fs = 44_100u32;
        let d = Decimator::new(fs, 17, 850.0).unwrap();
        assert!(d.response(0.0) > 0.99999 && d.response(0.0) < 1.00001);
        let n = 4 * fs as usize;
        let inner = fs as usize..3 * fs as usize;
        for f in [50.0, 300.0, 849.0] {
            let x = sine(n, f, f64::from(fs));
            let back = d.interpolate(&d.decimate(&x), 0..n);
            let error: Vec<f32> = back[inner.clone()].iter().zip(&x[inner.clone()]).map(|(a, b)| a - b).collect();
            let expected = (1.0 - d.response(f).powi(2)).abs() / 2f64.sqrt();
            assert!(rms(&error) < 1e-5 + expected, "{f} Hz: error {:e}", rms(&error));
        }
        // Content from the low rate less the band up aliases onto it: it must be gone.
        let low = d.low_rate();
        for f in [low - 850.0, low + 100.0, 0.4 * f64::from(fs)] {
            assert!(d.response(f) < 1e-5, "{f} Hz: {:e}", d.response(f));
            let x = sine(n, f, f64::from(fs));
            let y = d.decimate(&x);
            let r = rms(&y[y.len() / 4..3 * y.len() / 4]);
            assert!(r < 2e-5, "{f} Hz leaks {r:e} through");
        }
    }

    #[test]
    fn a_band_that_does_not_fit_is_refused() {
        assert!(Decimator::new(44_100, 17, 1_400.0).is_err());
        assert!(Decimator::new(44_100, 0, 100.0).is_err());
    }
}
