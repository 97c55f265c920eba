//! Oversampled soft clipper: the waveform above the knee bent smoothly toward the threshold (a
//! tanh segment that meets the straight line with equal value and slope), at 4× the sample rate so
//! that the bend's harmonics above the input's Nyquist are filtered away instead of folding back.
//! Only the clipped-off residual is band-limited and brought back to the sample rate
//! (y = x + D(shape(Ux) − Ux), which equals D(shape(Ux)) for ideal filters, since D·U = 1): the
//! samples whose neighbourhood never reaches the knee pass bit for bit.
use rayon::prelude::*;

use super::window::{kaiser, sinc};
use super::{from_db, to_db};
use crate::error::Result;
pub use crate::model::settings::ClipperSettings;
use crate::parallel::GRAIN;

pub const OVERSAMPLING: usize = 4;
/// Half-length of the interpolation and decimation filters, in input samples.
const HALF_TAPS: usize = 16;
/// Kaiser β of both filters (sidelobes near −80 dB).
const BETA: f64 = 8.0;
/// The decimation filter's cutoff as a fraction of the input's Nyquist: its transition band lies
/// below Nyquist, so what it lets fold back is tens of dB down.
const DECIMATION_CUTOFF: f64 = 0.9;
/// The reduction that counts toward [`ClipStats::seconds_above_3db`].
const COUNTED_REDUCTION_DB: f64 = 3.0;
/// Input samples per block of the knee check.
const CHECK_BLOCK: usize = 16;

const TAPS: usize = 2 * HALF_TAPS + 1;

pub struct SoftClipper {
    threshold: f32,
    knee: f32,
    /// Interpolation phases 1 … L−1 (phase 0 is the input sample itself), taps for x[n + H − d].
    phases: Vec<[f32; TAPS]>,
    /// Decimation filter over oversampled positions nL − HL … nL + HL.
    decimation: Vec<f32>,
    /// max over phases of Σ|tap|: how far the interpolated waveform can exceed the input's peak.
    overshoot: f32,
    sample_rate: u32,
}

/// What the clipper did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClipStats {
    /// Deepest reduction of an oversampled sample, dB.
    pub max_reduction_db: f64,
    /// Time during which the reduction exceeded 3 dB (oversampled samples over the oversampled
    /// rate), s.
    pub seconds_above_3db: f64,
}

impl SoftClipper {
    pub fn new(settings: &ClipperSettings, sample_rate: u32) -> Result<Self> {
        settings.validate()?;
        let l = OVERSAMPLING as f64;
        let reach = (HALF_TAPS * OVERSAMPLING) as f64;
        // Windowed-sinc interpolator (Crochiere & Rabiner, Multirate DSP, §2.3): h[i] =
        // sinc(i/L)·w(i), zero at every other multiple of L, so phase 0 is the sample itself.
        let h = |i: f64| sinc(i / l) * kaiser(i / reach, BETA);
        let phases: Vec<[f32; TAPS]> = (1..OVERSAMPLING)
            .map(|p| {
                let mut t = [0.0f32; TAPS];
                for (k, tap) in t.iter_mut().enumerate() {
                    let d = k as f64 - HALF_TAPS as f64;
                    *tap = h(d * l + p as f64) as f32;
                }
                t
            })
            .collect();
        let raw: Vec<f64> = (0..=2 * HALF_TAPS * OVERSAMPLING)
            .map(|i| {
                let i = i as f64 - reach;
                DECIMATION_CUTOFF / l * sinc(DECIMATION_CUTOFF * i / l) * kaiser(i / reach, BETA)
            })
            .collect();
        let sum: f64 = raw.iter().sum();
        let overshoot = phases.iter().map(|t| t.iter().map(|v| v.abs()).sum::<f32>()).fold(1.0f32, f32::max);
        Ok(SoftClipper {
            threshold: from_db(settings.threshold_db) as f32,
            knee: from_db(settings.threshold_db - settings.knee_db) as f32,
            phases,
            decimation: raw.iter().map(|v| (v / sum) as f32).collect(),
            overshoot,
            sample_rate,
        })
    }

    /// The static curve: |output| for |input| `z` (linear), the analytic transfer function.
    pub fn curve(&self, z: f32) -> f32 {
        let (a, t) = (self.knee, self.threshold);
        if z <= a {
            z
        } else {
            a + (t - a) * ((z - a) / (t - a)).tanh()
        }
    }

    /// Clips `input` into `output` (same length).
    pub fn process(&self, input: &[f32], output: &mut [f32]) -> ClipStats {
        assert_eq!(input.len(), output.len());
        let (max_ratio, counted) = output
            .par_chunks_mut(GRAIN)
            .enumerate()
            .map_init(
                || (vec![0.0f32; (GRAIN + 2 * HALF_TAPS) * OVERSAMPLING], vec![0u32; GRAIN + 2 * HALF_TAPS + 1]),
                |(residual, clipped), (c, out)| self.chunk(input, c * GRAIN, out, residual, clipped),
            )
            .reduce(|| (1.0, 0), |a, b| (a.0.max(b.0), a.1 + b.1));
        ClipStats {
            max_reduction_db: to_db(f64::from(max_ratio)),
            seconds_above_3db: counted as f64 / (f64::from(self.sample_rate) * OVERSAMPLING as f64),
        }
    }

    /// Output samples `start ..` into `out`: the residual of the oversampled waveform over the
    /// samples within the decimation filter's reach, then its decimation added to the input.
    /// Returns the deepest |in|/|out| ratio and the oversampled samples reduced by more than 3 dB.
    /// `clipped` counts the clipped positions before each one, so output samples out of the
    /// decimation filter's reach of any skip it.
    fn chunk(&self, x: &[f32], start: usize, out: &mut [f32], residual: &mut [f32], clipped: &mut [u32]) -> (f32, u64) {
        let (h, l) = (HALF_TAPS as isize, OVERSAMPLING);
        let at = |i: isize| if i >= 0 && (i as usize) < x.len() { x[i as usize] } else { 0.0 };
        let first = start as isize - h; // the residual covers input positions first … first + span
        let span = out.len() + 2 * HALF_TAPS;
        let residual = &mut residual[..span * l];
        residual.fill(0.0);
        let counted_ratio = from_db(COUNTED_REDUCTION_DB) as f32;
        let clipped = &mut clipped[..=span];
        clipped.fill(0);
        let (mut max_ratio, mut counted) = (1.0f32, 0u64);
        for b in (0..span).step_by(CHECK_BLOCK) {
            let b_end = (b + CHECK_BLOCK).min(span);
            // No oversampled value of these positions can exceed the knee: nothing to clip.
            let lo = first + b as isize - h;
            let peak = (lo..first + b_end as isize + h).map(at).fold(0.0f32, |m, v| m.max(v.abs()));
            if peak * self.overshoot <= self.knee {
                continue;
            }
            for n in b..b_end {
                let pos = first + n as isize;
                for p in 0..l {
                    let v = if p == 0 {
                        at(pos)
                    } else {
                        let taps = &self.phases[p - 1];
                        (0..TAPS).map(|k| taps[k] * at(pos + h - k as isize)).sum::<f32>()
                    };
                    let z = v.abs();
                    if z > self.knee {
                        let y = self.curve(z);
                        residual[n * l + p] = -(z - y).copysign(v);
                        let ratio = z / y;
                        max_ratio = max_ratio.max(ratio);
                        counted += u64::from(ratio > counted_ratio && n >= HALF_TAPS && n < span - HALF_TAPS);
                        clipped[n + 1] = 1;
                    }
                }
            }
        }
        for n in 0..span {
            clipped[n + 1] += clipped[n];
        }
        for (i, o) in out.iter_mut().enumerate() {
            let x_n = x[start + i];
            // Positions i … i + 2H of the residual are within reach of output i.
            *o = if clipped[i + 2 * HALF_TAPS + 1] > clipped[i] {
                // Oversampled positions (i + H)·L − HL … (i + H)·L + HL of the residual.
                let centre = (i + HALF_TAPS) * l;
                let r = &residual[centre - HALF_TAPS * l..=centre + HALF_TAPS * l];
                x_n + r.iter().zip(&self.decimation).map(|(r, g)| r * g).sum::<f32>()
            } else {
                x_n
            };
        }
        (max_ratio, counted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    const FS: u32 = 44_100;

    fn sine(freq_hz: f64, amplitude: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| amplitude * (std::f64::consts::TAU * freq_hz * i as f64 / f64::from(FS)).sin() as f32).collect()
    }

    /// Power spectrum (Hann, whole signal) in dB relative to its largest bin, and the bin width.
    fn spectrum_db(x: &[f32]) -> (Vec<f64>, f64) {
        let n = x.len();
        let mut t: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| f64::from(v) * (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()))
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let mut s = fft.make_output_vec();
        fft.process(&mut t, &mut s).unwrap();
        let p: Vec<f64> = s.iter().map(|c| c.norm_sqr()).collect();
        let max = p.iter().cloned().fold(0.0, f64::max);
        (p.iter().map(|v| 10.0 * (v / max).max(1e-30).log10()).collect(), f64::from(FS) / n as f64)
    }

    #[test]
    fn the_static_curve_is_continuous_smooth_and_bounded() {
        let c = SoftClipper::new(&ClipperSettings { threshold_db: -3.0, knee_db: 6.0 }, FS).unwrap();
        let (a, t) = (c.knee, c.threshold);
        assert_eq!(c.curve(a), a);
        // Slope 1 at the knee (a finite difference), never above the threshold, rising.
        let slope = (c.curve(a + 1e-3) - c.curve(a)) / 1e-3;
        assert!((slope - 1.0).abs() < 1e-2, "slope at the knee {slope}");
        let mut last = 0.0;
        for k in 0..1000 {
            let z = k as f32 * 0.01;
            let y = c.curve(z);
            assert!(y <= t && y >= last, "curve({z}) = {y}");
            last = y;
        }
    }

    #[test]
    fn below_the_knee_every_sample_passes_unchanged() {
        let c = SoftClipper::new(&ClipperSettings { threshold_db: 0.0, knee_db: 6.0 }, FS).unwrap();
        // Peaks of 0.4 stay under the 0.5 knee even between the samples.
        let x = sine(3000.0, 0.4, FS as usize);
        let mut y = vec![0.0; x.len()];
        let stats = c.process(&x, &mut y);
        assert_eq!(x, y);
        assert_eq!(stats, ClipStats { max_reduction_db: 0.0, seconds_above_3db: 0.0 });
    }

    /// A 5 kHz sine driven 9 dB into the threshold: the bend's odd harmonics at 15 kHz stay, those
    /// above Nyquist (25, 35, 45, 55 kHz) would fold to 19.1, 9.1, 0.9 and 10.9 kHz with a clipper at the sample rate.
    /// Oversampled, they are at least 60 dB down. The peaks stay within 1.5 dB of the threshold (the
    /// harmonics filtered away let the waveform overshoot a little; the limiter after takes it).
    #[test]
    fn harmonics_above_nyquist_do_not_fold_back() {
        let c = SoftClipper::new(&ClipperSettings { threshold_db: -9.0, knee_db: 3.0 }, FS).unwrap();
        let n = 1 << 15;
        let x = sine(5000.0, 1.0, n);
        let mut y = vec![0.0; n];
        let stats = c.process(&x, &mut y);
        assert!(stats.max_reduction_db > 8.0 && stats.seconds_above_3db > 0.3, "{stats:?}");
        let (s, bin) = spectrum_db(&y[1000..n - 1000]);
        let level = |f: f64| {
            let k = (f / bin).round() as usize;
            s[k.saturating_sub(3)..=k + 3].iter().cloned().fold(-300.0, f64::max)
        };
        assert!(level(15_000.0) > -40.0, "the in-band harmonic is there: {:.1} dB", level(15_000.0));
        for alias in [19_100.0, 9_100.0, 900.0, 10_900.0] {
            assert!(level(alias) < -60.0, "alias at {alias} Hz: {:.1} dB", level(alias));
        }
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(to_db(f64::from(peak)) < -9.0 + 1.5, "peak {:.2} dB", to_db(f64::from(peak)));
    }
}
