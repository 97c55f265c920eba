//! True-peak detection by 8× oversampling (ITU-R BS.1770-4 Annex 2 asks for ≥ 4×; 8× under-reads by
//! < 0.2 dB). The seven fractional-delay phases are 32-tap Kaiser-windowed sinc filters (β = 5: within
//! 0.005 of the ideal delay's complex response up to 0.45 fs), run directly in the time domain with
//! AVX2/FMA where the CPU has it (a scalar path otherwise) — about half the cost of FFT convolution
//! with longer phases.
//!
//! No finite interpolator is exact up to Nyquist, and a limiter driven by one pushes energy into its
//! blind band (limited white noise read up to 1 dB low against ideal interpolation). So the detector
//! also measures that band, 0.45–0.5 fs, as its analytic envelope, and adds it: a bound on what the
//! phases can miss, ≈ 0 for music (lossy masters have nothing there) and honest for signals that do.
//! The band is narrow, so its bins (from an FFT of each block) are shifted to baseband and
//! inverse-transformed at 1/4 of the block size: the exact envelope every 4 samples, taken as the
//! maximum over neighbouring points.
//!
//! [`bs1770_true_peak`] is the standard's own meter (4×, no blind band) at a sixth of the cost, for
//! the figures a profile reports; limiting and verification always use the 8× detector.
use rayon::prelude::*;
use realfft::num_complex::Complex;

use super::overlap_save::OverlapSave;
use super::window::{kaiser, sinc};
use crate::audio::AudioBuffer;

pub const OVERSAMPLING: usize = 8;
const PHASES: usize = OVERSAMPLING - 1;
/// Half length of the phase filters; tap t of 2H − 1 weighs x[n − (H − 1) + t] (the 2H-th tap of
/// a window of 2H falls where the Kaiser window is 0).
const PHASE_HALF_TAPS: usize = 16;
const PHASE_TAPS: usize = 2 * PHASE_HALF_TAPS - 1;
const PHASE_HISTORY: usize = PHASE_HALF_TAPS - 1;
const PHASE_BETA: f64 = 5.0;
/// The BS.1770 meter's three phases: 23 taps, Kaiser β = 5 (magnitude within 0.04 dB up to 0.42 fs).
const METER_PHASES: usize = 3;
const METER_TAPS: usize = 23;
/// Lower edge of the band the phases cannot resolve exactly, in cycles per sample.
const BLIND_BAND_START: f64 = 0.45;
/// Half length of the blind-band filter (applied by FFT, so its length costs little).
const BLIND_HALF_TAPS: usize = 64;
const BLIND_BETA: f64 = 7.0;
const FFT_SIZE: usize = 4096;

/// Decimation of the blind-band envelope (block samples per envelope point).
const ENVELOPE_STEP: usize = 4;

/// Phase coefficients of a (P + 1)× interpolator by tap, each broadcast to a SIMD lane group:
/// `table[t][p][..]` multiplies x[n − (H − 1) + t] for phase p + 1 at output n (T = 2H − 1 taps).
type PhaseTable<const P: usize, const T: usize> = [[[f32; 8]; P]; T];

/// Phase p interpolates x at n + p/(P + 1) (Whittaker–Shannon): y_p(n) = Σ_k x[k] s(n − k + p/(P+1)),
/// k ∈ (n − H, n + H), with s the Kaiser-windowed sinc; tap t weighs x[n − (H − 1) + t]. (The 2H-th
/// tap of a window of 2H falls where the Kaiser window is 0.)
fn phase_table<const P: usize, const T: usize>(beta: f64) -> Box<PhaseTable<P, T>> {
    let half = T.div_ceil(2);
    let mut table = Box::new([[[0.0f32; 8]; P]; T]);
    for (t, by_phase) in table.iter_mut().enumerate() {
        for (p, lanes) in by_phase.iter_mut().enumerate() {
            let arg = (half - 1) as f64 - t as f64 + (p + 1) as f64 / (P + 1) as f64;
            *lanes = [(sinc(arg) * kaiser(arg / half as f64, beta)) as f32; 8];
        }
    }
    table
}

pub struct TruePeakDetector {
    phases: Box<PhaseTable<PHASES, PHASE_TAPS>>,
    /// Runs the blind-band filter and hands each block to the phases.
    conv: OverlapSave,
    /// Band-pass over the blind band (centred on tap BLIND_HALF_TAPS − 1), spectrum from its first bin.
    blind: Vec<Complex<f32>>,
    blind_first_bin: usize,
    /// Complex inverse FFT of FFT_SIZE / ENVELOPE_STEP points.
    envelope_fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    simd: bool,
}

impl Default for TruePeakDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl TruePeakDetector {
    pub fn new() -> Self {
        Self::with_simd(simd_available())
    }

    /// A detector that uses the SIMD kernel only if `simd` (and the CPU has it); tests compare both.
    pub fn with_simd(simd: bool) -> Self {
        let phases = phase_table::<PHASES, PHASE_TAPS>(PHASE_BETA);
        let conv = OverlapSave::new(2 * BLIND_HALF_TAPS, FFT_SIZE);
        // Band [f1, ½] (cycles/sample), centred on tap H − 1: h[k] = −sin(2πf1k)/(πk), h[0] = 1 − 2f1
        // (Oppenheim & Schafer §7.2), Kaiser-windowed.
        let taps: Vec<f32> = (0..2 * BLIND_HALF_TAPS - 1)
            .map(|i| {
                let k = i as f64 - (BLIND_HALF_TAPS as f64 - 1.0);
                let f1 = BLIND_BAND_START;
                let h = if k == 0.0 { 1.0 - 2.0 * f1 } else { -(2.0 * std::f64::consts::PI * k * f1).sin() / (std::f64::consts::PI * k) };
                (h * kaiser(k / BLIND_HALF_TAPS as f64, BLIND_BETA)) as f32
            })
            .collect();
        // The window widens the band's lower edge; start a few bins below it.
        let blind_first_bin = ((BLIND_BAND_START - 0.01) * FFT_SIZE as f64) as usize;
        let blind = conv.filter_spectrum(&taps)[blind_first_bin..].to_vec();
        let envelope_fft = rustfft::FftPlanner::new().plan_fft_inverse(FFT_SIZE / ENVELOPE_STEP);
        TruePeakDetector { phases, conv, blind, blind_first_bin, envelope_fft, simd: simd && simd_available() }
    }

    /// For each sample n, the largest absolute value of the band-limited signal over [n, n+1) on the
    /// 8× grid, taken over all channels (a linked envelope), written into `envelope`.
    pub fn envelope(&self, channels: &[&[f32]], envelope: &mut [f32]) {
        envelope.fill(0.0);
        for ch in channels {
            assert_eq!(ch.len(), envelope.len());
            self.conv.run(ch, BLIND_HALF_TAPS - 1, envelope, |s, start, out| {
                let n = out.len();
                // aux[0]: blind-band envelope. Analytic signal of the band, shifted to baseband:
                // z[m] = Σ_k X[k]H[k] e^{2πi(k−k0)m/M} is (up to a unit phase) the band's analytic
                // signal at block sample m·N/M.
                let m_len = FFT_SIZE / ENVELOPE_STEP;
                let (first, history) = (self.blind_first_bin, self.conv.filter_len() - 1);
                let mut z = std::mem::take(&mut s.aux_complex);
                let (buf, scratch) = z.split_at_mut(m_len);
                buf.fill(Complex::new(0.0, 0.0));
                for ((b, x), h) in buf.iter_mut().zip(&s.spectrum()[first..]).zip(&self.blind) {
                    *b = x * h;
                }
                self.envelope_fft.process_with_scratch(buf, &mut scratch[..self.envelope_fft.get_inplace_scratch_len()]);
                for c in buf.iter_mut() {
                    c.re = 2.0 * c.norm_sqr().sqrt();
                }
                // Envelope between points m and m+1: the largest of points m−1 … m+2.
                for m in 0..m_len {
                    let around = &buf[m.saturating_sub(1)..(m + 3).min(m_len)];
                    buf[m].im = around.iter().fold(0.0f32, |acc, c| fast_max(acc, c.re));
                }
                for (i, a) in s.aux[0][..n].iter_mut().enumerate() {
                    *a = buf[(i + history) / ENVELOPE_STEP].im;
                }
                s.aux_complex = z;
                // aux[1]: the phases' input x[start − (H − 1) .. start + n + H), zero outside the signal.
                fill_padded(ch, start, PHASE_HISTORY, &mut s.aux[1][..n + PHASE_TAPS]);
                let [blind, padded] = &s.aux;
                phase_peaks(&self.phases, padded, blind, out, self.simd);
            });
        }
    }

    /// True peak of the buffer, linear (not dB).
    pub fn true_peak(&self, buffer: &AudioBuffer) -> f32 {
        let channels: Vec<&[f32]> = buffer.channels.iter().map(Vec::as_slice).collect();
        let mut env = vec![0.0f32; buffer.frames()];
        self.envelope(&channels, &mut env);
        env.iter().fold(0.0f32, |m, &v| m.max(v))
    }
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The true peak of `channels` by the 4× meter of ITU-R BS.1770-4 Annex 2 (linear, not dB).
pub fn bs1770_true_peak(channels: &[&[f32]]) -> f32 {
    const CHUNK: usize = 1 << 15;
    let phases = phase_table::<METER_PHASES, METER_TAPS>(PHASE_BETA);
    let history = (METER_TAPS - 1) / 2;
    let simd = simd_available();
    let zeros = [0.0f32; CHUNK];
    channels
        .par_iter()
        .flat_map(|ch| ch.par_chunks(CHUNK).enumerate().map(move |(k, c)| (*ch, k * CHUNK, c.len())))
        .map_init(
            || (vec![0.0f32; CHUNK + METER_TAPS], vec![0.0f32; CHUNK]),
            |(padded, out), (ch, start, n)| {
                fill_padded(ch, start, history, &mut padded[..n + METER_TAPS]);
                out[..n].fill(0.0);
                phase_peaks(&phases, padded, &zeros, &mut out[..n], simd);
                out[..n].iter().fold(0.0f32, |m, &v| fast_max(m, v))
            },
        )
        .reduce(|| 0.0, fast_max)
}

/// `padded[j]` = x[start − history + j], zero outside the signal.
fn fill_padded(x: &[f32], start: usize, history: usize, padded: &mut [f32]) {
    let lo = start as isize - history as isize;
    if lo >= 0 && lo as usize + padded.len() <= x.len() {
        padded.copy_from_slice(&x[lo as usize..lo as usize + padded.len()]);
    } else {
        for (j, v) in padded.iter_mut().enumerate() {
            let k = lo + j as isize;
            *v = if k >= 0 && (k as usize) < x.len() { x[k as usize] } else { 0.0 };
        }
    }
}

/// out[i] = max(out[i], max(|x[i]|, |y_1(i)| … |y_P(i)|) + blind[i]), where `padded` holds x from
/// H − 1 samples before the block to H after it; with AVX2/FMA when `simd` (and the CPU has them).
fn phase_peaks<const P: usize, const T: usize>(phases: &PhaseTable<P, T>, padded: &[f32], blind: &[f32], out: &mut [f32], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd && simd_available() {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe { phase_peaks_avx2(phases, padded, blind, out) };
        return;
    }
    let _ = simd;
    phase_peaks_scalar(phases, padded, blind, out);
}

fn phase_peaks_scalar<const P: usize, const T: usize>(phases: &PhaseTable<P, T>, padded: &[f32], blind: &[f32], out: &mut [f32]) {
    let history = (T - 1) / 2;
    for (i, o) in out.iter_mut().enumerate() {
        let window = &padded[i..i + T];
        let mut peak = padded[i + history].abs();
        for p in 0..P {
            let y: f32 = window.iter().zip(phases.iter()).map(|(&x, c)| x * c[p][0]).sum();
            peak = fast_max(peak, y.abs());
        }
        *o = fast_max(*o, peak + blind[i]);
    }
}

/// [`phase_peaks_scalar`] sixteen outputs at a time: per tap, two loads of x and two FMAs per
/// phase, 2P independent accumulators (for the 8× detector 14, enough to cover the FMA latency;
/// 8 outputs with 7 would not).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn phase_peaks_avx2<const P: usize, const T: usize>(phases: &PhaseTable<P, T>, padded: &[f32], blind: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    const LANES: usize = 8;
    let history = (T - 1) / 2;
    let n = out.len();
    assert!(padded.len() >= n + T - 1 && blind.len() >= n);
    let pairs = n / (2 * LANES);
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF));
    for v in 0..pairs {
        let i = v * 2 * LANES;
        let x = padded.as_ptr().add(i);
        let (mut acc0, mut acc1) = ([_mm256_setzero_ps(); P], [_mm256_setzero_ps(); P]);
        for (t, by_phase) in phases.iter().enumerate() {
            let x0 = _mm256_loadu_ps(x.add(t));
            let x1 = _mm256_loadu_ps(x.add(t + LANES));
            for ((a0, a1), c) in acc0.iter_mut().zip(acc1.iter_mut()).zip(by_phase) {
                let c = _mm256_loadu_ps(c.as_ptr());
                *a0 = _mm256_fmadd_ps(c, x0, *a0);
                *a1 = _mm256_fmadd_ps(c, x1, *a1);
            }
        }
        for (half, acc) in [acc0, acc1].iter().enumerate() {
            let j = i + half * LANES;
            let mut peak = _mm256_and_ps(_mm256_loadu_ps(padded.as_ptr().add(j + history)), abs_mask);
            for &a in acc {
                peak = _mm256_max_ps(peak, _mm256_and_ps(a, abs_mask));
            }
            let e = _mm256_add_ps(peak, _mm256_loadu_ps(blind.as_ptr().add(j)));
            let o = out.as_mut_ptr().add(j);
            _mm256_storeu_ps(o, _mm256_max_ps(_mm256_loadu_ps(o), e));
        }
    }
    let done = pairs * 2 * LANES;
    phase_peaks_scalar(phases, &padded[done..], &blind[done..], &mut out[done..]);
}

/// max without f32::max's NaN handling (inputs are finite: decode rejects NaN/∞), so the loops
/// compile to plain packed maxima.
#[inline(always)]
fn fast_max(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_scalar_kernels_agree() {
        let mut state = 1u32;
        let x: Vec<f32> = (0..20_000)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5 + 0.4 * (i as f32 * 0.37).sin()
            })
            .collect();
        let (mut a, mut b) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
        TruePeakDetector::with_simd(true).envelope(&[&x], &mut a);
        TruePeakDetector::with_simd(false).envelope(&[&x], &mut b);
        let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "SIMD and scalar envelopes differ by {worst}");
        assert!(a.iter().zip(&x).all(|(e, v)| *e >= v.abs()), "the envelope never lies below the samples");
    }
}
