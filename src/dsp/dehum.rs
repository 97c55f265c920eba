//! Mains hum: found as a harmonic series of narrow, steady lines on 50 or 60 Hz in the long-term
//! spectrum, and removed by a notch at each line, run forward and backward (zero phase, the
//! attenuation doubled) over the signal continued at both ends by its fitted lines, so the notches
//! have settled before the first sample and after the last. Both run on the recording decimated
//! to the band the lines can lie in: the hum is all there, and the music above it is never
//! filtered.
//!
//! A line counts where it stands `min_prominence_db` above the median of the spectrum around it
//! (±`AROUND_HZ`, less its own ±`OWN_HZ`); hum is a fundamental whose harmonics line up on one
//! frequency, steady in both halves of the recording — which a bass note, moving and pitched off
//! the mains grid, is not. And hum sounds all the time at its level: a series must show at its
//! level in short frames nearly throughout (music only adds power there), which a note that comes
//! and goes — even one that repeats sample for sample, as a loop's do, and so gathers into steady
//! lines in the long-term spectrum — does not.
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

use rayon::prelude::*;

use super::ar::cholesky_solve;
use super::decimate::Decimator;
use super::simd::simd_versions;
use crate::error::{Error, Result};
pub use crate::model::settings::{DehumSettings, Hum, HumLine};

/// Mains frequencies looked at, and how far each may stray, Hz (grids hold ±0.2 Hz).
const MAINS_HZ: [f64; 2] = [50.0, 60.0];
const STRAY_HZ: f64 = 0.3;
/// Hum lies low: it is found and removed in the recording decimated to a rate about this many
/// times the band its lines lie in.
const LOW_RATE_OVER_BAND: f64 = 3.0;
/// The mains frequency the band is sized for where none is given, Hz.
const HIGHEST_MAINS_HZ: f64 = 60.0;
/// The spectrum's frames: `FRAME_S` (0.03 Hz bins: a steady line gathers its power into one,
/// where music's spreads over many), halved until they fit the span, at least `MIN_FRAME_S`.
const FRAME_S: f64 = 32.768;
const MIN_FRAME_S: f64 = 0.5;
/// Frames averaged at most (spread over the whole recording).
const MAX_FRAMES: usize = 96;
/// A line's neighbourhood for its prominence, and its own width left out of it, Hz.
const AROUND_HZ: f64 = 10.0;
const OWN_HZ: f64 = 1.0;
/// The lowest harmonics that fix the series' frequency, and how closely the fundamentals their
/// lines imply must agree, Hz.
const LOCATING_HARMONICS: usize = 6;
const AGREE_HZ: f64 = 0.1;
/// A line placed by its own peak where it stands this far out (else where its series puts it),
/// and the least a forced run's fundamental is located from, dB.
const FORCED_PROMINENCE_DB: f64 = 3.0;
/// How much further than the threshold the clearest line of a series must stand, dB.
const CLEAR_DB: f64 = 5.0;
/// Each half of the recording must show a line standing out at least the threshold less this, dB
/// (a note that sounds through one half only does not).
const STEADY_DB: f64 = 6.0;
/// How far each notch's settling is run off the ends, in time constants (1/(π·bandwidth)).
const SETTLING_CONSTANTS: f64 = 8.0;
/// The presence test: frames of `SHORT_FRAME_S` (half overlapping); in the `PRESENT_QUANTILE`
/// quietest of them a line's main lobe must hold its long-term power less `ABSENT_DB` (the median
/// over the series' lines that stand out). Hum alone gives 0 dB (up to +1.4 dB: the long-term
/// peak's scalloping), music with it more.
const SHORT_FRAME_S: f64 = 1.0;
const PRESENT_QUANTILE: f64 = 0.1;
const ABSENT_DB: f64 = 4.5;

/// The band every line of `settings` lies in (its harmonics of the mains, strayed, and their
/// neighbourhoods), Hz.
fn band_hz(settings: &DehumSettings) -> f64 {
    settings.max_harmonics as f64 * (settings.mains_hz.unwrap_or(HIGHEST_MAINS_HZ) + STRAY_HZ) + AROUND_HZ
}

/// The decimation to a rate about `LOW_RATE_OVER_BAND` times the band of `settings`.
fn decimator(sample_rate: u32, settings: &DehumSettings) -> Result<Decimator> {
    let band = band_hz(settings);
    let factor = (f64::from(sample_rate) / (LOW_RATE_OVER_BAND * band)).floor().max(1.0) as usize;
    Decimator::new(sample_rate, factor, band)
}

/// The long-term power spectrum of `channels` (decimated to `rate`, summed), over the samples
/// `span` of the recording: Hann frames of `FRAME_S` (shorter where the span is), half
/// overlapping, at most `MAX_FRAMES` of them spread over it.
struct Spectrum {
    power: Vec<f64>,
    /// Summed over each bin and its two neighbours (a line's window spreads it over about three;
    /// the music's floor is steadier summed).
    smooth: Vec<f64>,
    bin_hz: f64,
}

impl Spectrum {
    fn of(channels: &[Vec<f32>], rate: f64, span: std::ops::Range<usize>) -> Option<Spectrum> {
        let len = span.len();
        let mut n = (rate * FRAME_S / 2.0).round() as usize * 2;
        while n > len {
            n = n / 4 * 2; // halved, kept even
        }
        if (n as f64) < MIN_FRAME_S * rate {
            return None;
        }
        let count = ((len - n) / (n / 2) + 1).min(MAX_FRAMES);
        let step = if count > 1 { (len - n) / (count - 1) } else { 0 };
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let window = hann(n);
        let (mut input, mut output) = (fft.make_input_vec(), fft.make_output_vec());
        let mut power = vec![0.0; n / 2 + 1];
        for k in 0..count {
            let at = span.start + k * step;
            for c in channels {
                for ((o, &v), w) in input.iter_mut().zip(&c[at..at + n]).zip(&window) {
                    *o = f64::from(v) * w;
                }
                fft.process(&mut input, &mut output).ok()?;
                for (p, x) in power.iter_mut().zip(&output) {
                    *p += x.norm_sqr() / count as f64;
                }
            }
        }
        let smooth =
            (0..power.len()).map(|k| power[k.saturating_sub(1)..(k + 2).min(power.len())].iter().sum()).collect();
        Some(Spectrum { power, smooth, bin_hz: rate / n as f64 })
    }

    fn n(&self) -> usize {
        (self.power.len() - 1) * 2
    }

    /// The strongest line within `lo..hi` Hz: its frequency (parabolic interpolation on the log
    /// power) and power.
    fn peak(&self, lo: f64, hi: f64) -> Option<(f64, f64)> {
        let (a, b) =
            ((lo / self.bin_hz).ceil() as usize, ((hi / self.bin_hz).floor() as usize).min(self.power.len() - 2));
        let k = (a.max(1)..=b).max_by(|&i, &j| self.power[i].total_cmp(&self.power[j]))?;
        let l = |i: usize| self.power[i].max(1e-300).ln();
        let (y0, y1, y2) = (l(k - 1), l(k), l(k + 1));
        let denominator = y0 - 2.0 * y1 + y2;
        let shift = if denominator < 0.0 { (0.5 * (y0 - y2) / denominator).clamp(-0.5, 0.5) } else { 0.0 };
        Some(((k as f64 + shift) * self.bin_hz, self.power[k]))
    }

    /// How far the line at `freq_hz` stands above the median around it, dB (both summed over three
    /// bins).
    fn prominence_db(&self, freq_hz: f64) -> f64 {
        let bin = |f: f64| ((f / self.bin_hz).round().max(1.0) as usize).min(self.power.len() - 1);
        let line = self.smooth[bin(freq_hz)];
        let mut around: Vec<f64> = (bin(freq_hz - AROUND_HZ)..=bin(freq_hz + AROUND_HZ))
            .filter(|&i| ((i as f64) * self.bin_hz - freq_hz).abs() > OWN_HZ)
            .map(|i| self.smooth[i])
            .collect();
        if around.is_empty() {
            return 0.0;
        }
        let mid = around.len() / 2;
        let median = *around.select_nth_unstable_by(mid, f64::total_cmp).1;
        10.0 * (line / median.max(1e-300)).log10()
    }

    /// A sine's amplitude from its line's peak power (Hann: |X| = A·N/4).
    fn amplitude(&self, peak: f64) -> f64 {
        4.0 * peak.sqrt() / self.n() as f64
    }
}

/// Finds mains hum in `channels` (the same recording's channels, summed in power). `forced`
/// (the user says there is hum): a series that stands out but comes and goes is taken; when none
/// stands out, the notches go on the mains
/// frequency's harmonics anyway — `settings.mains_hz`, else the grid whose harmonics stand out
/// more — each on its line where one shows.
pub fn detect(channels: &[&[f32]], sample_rate: u32, settings: &DehumSettings, forced: bool) -> Option<Hum> {
    let decimator = decimator(sample_rate, settings).ok()?;
    let low: Vec<Vec<f32>> = channels.par_iter().map(|c| decimator.decimate(c)).collect();
    let (len, rate) = (low.first().map_or(0, Vec::len), decimator.low_rate());
    let whole = Spectrum::of(&low, rate, 0..len)?;
    let halves = [Spectrum::of(&low, rate, 0..len / 2), Spectrum::of(&low, rate, len / 2..len)];
    let grids: Vec<f64> = settings.mains_hz.map_or(MAINS_HZ.to_vec(), |m| vec![m]);
    let strongest = |all: Vec<Hum>| all.into_iter().max_by(|a, b| strength(a).total_cmp(&strength(b)));
    let (present, intermittent): (Vec<Hum>, Vec<Hum>) = grids
        .iter()
        .filter_map(|&mains| series(&whole, &halves, mains, settings))
        .partition(|hum| present_throughout(&low, rate, hum, settings.min_prominence_db));
    // Asked for, a series that comes and goes is still the best guess at where the hum lies.
    let found = strongest(present).or(if forced { strongest(intermittent) } else { None });
    if found.is_some() || !forced {
        return found;
    }
    // Too faint to locate: the mains frequency itself (grids hold it within a few hundredths of a
    // hertz; a forced run's notches are twice as wide to take that in), on the grid whose series
    // stands out more.
    let mains = grids.into_iter().max_by(|&a, &b| {
        harmonic_sum(&whole, a, settings.max_harmonics).total_cmp(&harmonic_sum(&whole, b, settings.max_harmonics))
    })?;
    let harmonics = lines(&whole, None, mains, settings.max_harmonics, f64::NEG_INFINITY)
        .into_iter()
        .map(|l| HumLine { freq_hz: l.number as f64 * mains, ..l })
        .collect();
    Some(Hum { fundamental_hz: mains, located: false, harmonics })
}

fn strength(hum: &Hum) -> f64 {
    hum.harmonics.iter().map(|h| h.prominence_db).sum()
}

/// Σ over the series on `f0` of the log power at each harmonic (interpolated between bins).
fn harmonic_sum(whole: &Spectrum, f0: f64, max_harmonics: usize) -> f64 {
    (1..=max_harmonics)
        .map(|h| {
            let at = h as f64 * f0 / whole.bin_hz;
            let (k, frac) = (at.floor() as usize, at.fract());
            if k + 1 >= whole.power.len() {
                return 0.0;
            }
            let l = |i: usize| whole.power[i].max(1e-300).ln();
            (1.0 - frac) * l(k) + frac * l(k + 1)
        })
        .sum()
}

/// The fundamental near `mains` from the lowest harmonics that stand out `threshold` dB: each line
/// implies one, and the largest group of lines that agree (within `AGREE_HZ`) fixes it, weighted
/// by prominence — a note's line near one harmonic implies another fundamental and stays out.
fn fundamental(whole: &Spectrum, mains: f64, threshold: f64) -> Option<f64> {
    let mut implied: Vec<(f64, f64)> = (1..=LOCATING_HARMONICS)
        .filter_map(|h| {
            let hf = h as f64;
            let (f, _) = whole.peak(hf * (mains - STRAY_HZ), hf * (mains + STRAY_HZ))?;
            let prominence = whole.prominence_db(f);
            (prominence >= threshold).then_some((f / hf, prominence))
        })
        .collect();
    implied.sort_by(|a, b| a.0.total_cmp(&b.0));
    let group = (0..implied.len())
        .map(|i| implied[i..].iter().take_while(|(f, _)| f - implied[i].0 <= AGREE_HZ).copied().collect::<Vec<_>>())
        .max_by(|a, b| a.len().cmp(&b.len()).then(weight(a).total_cmp(&weight(b))))?;
    (group.len() >= 2).then(|| group.iter().map(|(f, p)| f * p).sum::<f64>() / weight(&group))
}

/// The lines of the series on `fundamental_hz` that stand `threshold` dB out (and, given the
/// halves, stand out as much in each: steady).
fn lines(
    whole: &Spectrum,
    halves: Option<&[Option<Spectrum>; 2]>,
    fundamental_hz: f64,
    max_harmonics: usize,
    threshold: f64,
) -> Vec<HumLine> {
    let nyquist = 0.45 * whole.bin_hz * whole.n() as f64;
    (1..=max_harmonics)
        .filter_map(|number| {
            let expected = number as f64 * fundamental_hz;
            let reach = 2.0 * whole.bin_hz + 0.01 * number as f64;
            if expected + reach >= nyquist {
                return None;
            }
            let (freq_hz, peak) = whole.peak(expected - reach, expected + reach)?;
            let prominence_db = whole.prominence_db(freq_hz);
            let steady = halves.is_none_or(|halves| {
                halves.iter().all(|h| {
                    h.as_ref().is_some_and(|h| {
                        h.peak(expected - reach, expected + reach)
                            .is_some_and(|(f, _)| h.prominence_db(f) >= threshold - STEADY_DB)
                    })
                })
            });
            // A line too faint to place is notched where the series puts it.
            let freq_hz = if prominence_db >= FORCED_PROMINENCE_DB { freq_hz } else { expected };
            (prominence_db >= threshold && steady).then(|| HumLine {
                number,
                freq_hz,
                level_db: 20.0 * whole.amplitude(peak).max(1e-20).log10(),
                prominence_db,
            })
        })
        .collect()
}

/// The hum series on `mains`, if its lines are there and steady: at least three, the fundamental
/// or the second among them, one standing `CLEAR_DB` further out, and no common factor in their
/// numbers (lines on every 4th harmonic are a note four times higher; a major chord's 4:5:6 is a
/// series without its bottom).
fn series(whole: &Spectrum, halves: &[Option<Spectrum>; 2], mains: f64, settings: &DehumSettings) -> Option<Hum> {
    let fundamental_hz = fundamental(whole, mains, settings.min_prominence_db)?;
    let seen = lines(whole, Some(halves), fundamental_hz, settings.max_harmonics, settings.min_prominence_db);
    let numbers = seen.iter().map(|h| h.number).fold(0, gcd);
    let low = seen.iter().any(|h| h.number <= 2);
    let clear = seen.iter().any(|h| h.prominence_db >= settings.min_prominence_db + CLEAR_DB);
    // Found: every harmonic is notched, those too faint to see among the music too.
    (seen.len() >= 3 && low && clear && numbers == 1).then(|| Hum {
        fundamental_hz,
        located: true,
        harmonics: lines(whole, None, fundamental_hz, settings.max_harmonics, f64::NEG_INFINITY),
    })
}

/// Whether `hum`'s lines that stand `threshold` dB out sound nearly all the time at their level in
/// the decimated `channels` (at `rate`): the median over them of the `PRESENT_QUANTILE` frame's
/// power in the line's main lobe over the line's long-term power, within `ABSENT_DB`.
fn present_throughout(channels: &[Vec<f32>], rate: f64, hum: &Hum, threshold: f64) -> bool {
    let lines: Vec<&HumLine> = hum.harmonics.iter().filter(|h| h.prominence_db >= threshold).collect();
    let n = ((rate * SHORT_FRAME_S / 2.0).round() as usize * 2).max(8);
    let len = channels.first().map_or(0, Vec::len);
    if lines.is_empty() || len < 2 * n {
        return true; // too short to tell: the long-term test stands alone
    }
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let window = hann(n);
    let bin_hz = rate / n as f64;
    // A sine of amplitude A puts 3·n²·A²/32 into a Hann frame's main lobe (five bins about it).
    let lobe = |f: f64| {
        let k = (f / bin_hz).round() as usize;
        k.saturating_sub(2)..(k + 3).min(n / 2 + 1)
    };
    let (mut input, mut output) = (fft.make_input_vec(), fft.make_output_vec());
    let mut frames: Vec<Vec<f64>> = vec![Vec::new(); lines.len()];
    for at in (0..=len - n).step_by(n / 2) {
        let mut power = vec![0.0; lines.len()];
        for c in channels {
            for ((o, &v), w) in input.iter_mut().zip(&c[at..at + n]).zip(&window) {
                *o = f64::from(v) * w;
            }
            if fft.process(&mut input, &mut output).is_err() {
                return true;
            }
            for (p, line) in power.iter_mut().zip(&lines) {
                *p += output[lobe(line.freq_hz)].iter().map(|x| x.norm_sqr()).sum::<f64>();
            }
        }
        for (f, p) in frames.iter_mut().zip(power) {
            f.push(32.0 * p / (3.0 * (n * n) as f64));
        }
    }
    let mut ratios: Vec<f64> = lines
        .iter()
        .zip(&mut frames)
        .map(|(line, f)| {
            let k = ((f.len() - 1) as f64 * PRESENT_QUANTILE).round() as usize;
            let quiet = *f.select_nth_unstable_by(k, f64::total_cmp).1;
            10.0 * (quiet.max(1e-300) / 10f64.powf(line.level_db / 10.0)).log10()
        })
        .collect();
    let mid = ratios.len() / 2;
    *ratios.select_nth_unstable_by(mid, f64::total_cmp).1 >= -ABSENT_DB
}

/// The periodic Hann window of `n` points.
fn hann(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()).collect()
}

fn weight(group: &[(f64, f64)]) -> f64 {
    group.iter().map(|(_, p)| p).sum()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The notches of `hum`. They run where detection looks, at the decimated rate: the notched copy
/// subtracted from the decimated recording leaves the hum, which is interpolated back to the full
/// rate and subtracted from the recording — the same zero-phase notches at a small part of the
/// work, and the music above the band is never filtered at all.
pub struct Dehummer {
    decimator: Decimator,
    /// At the decimated rate.
    notches: Vec<Notch>,
    /// Each line's centre at the full rate, radians per sample (for the end fits).
    omegas: Vec<f64>,
    /// The hum continued off each end, in decimated samples (each the decimation factor long).
    pad_low: usize,
}

/// RBJ notch biquad (Bristow-Johnson, *Audio EQ Cookbook*), normalised.
#[derive(Clone, Copy)]
struct Notch {
    b1: f64,
    a1: f64,
    a2: f64,
    gain: f64,
}

impl Notch {
    fn new(freq_hz: f64, bandwidth_hz: f64, sample_rate: f64) -> Self {
        let w = std::f64::consts::TAU * freq_hz / sample_rate;
        let alpha = w.sin() / (2.0 * freq_hz / bandwidth_hz);
        let a0 = 1.0 + alpha;
        // b = (1, −2 cos w, 1) / a0; a = (1, −2 cos w / a0, (1 − α) / a0).
        Notch { b1: -2.0 * w.cos(), a1: -2.0 * w.cos() / a0, a2: (1.0 - alpha) / a0, gain: 1.0 / a0 }
    }

    /// Its magnitude response at `freq_hz`.
    fn response(&self, freq_hz: f64, sample_rate: f64) -> f64 {
        let w = std::f64::consts::TAU * freq_hz / sample_rate;
        let z1 = Complex::from_polar(1.0, -w);
        let z2 = z1 * z1;
        let b = (1.0 + self.b1 * z1 + z2) * self.gain;
        let a = 1.0 + self.a1 * z1 + self.a2 * z2;
        (b / a).norm()
    }
}

impl Dehummer {
    pub fn new(hum: &Hum, settings: &DehumSettings, sample_rate: u32) -> Result<Self> {
        settings.validate()?;
        let decimator = decimator(sample_rate, settings)?;
        let band = band_hz(settings);
        if let Some(h) = hum.harmonics.iter().find(|h| !(h.freq_hz > 0.0 && h.freq_hz < band)) {
            return Err(Error::InvalidSetting(format!(
                "dehum: a line at {} Hz lies outside the {band:.0} Hz its settings look in",
                h.freq_hz
            )));
        }
        let low = decimator.low_rate();
        let notches = hum.harmonics.iter().map(|h| Notch::new(h.freq_hz, settings.bandwidth_hz, low)).collect();
        let omegas = hum.harmonics.iter().map(|h| std::f64::consts::TAU * h.freq_hz / f64::from(sample_rate)).collect();
        let pad_low = (SETTLING_CONSTANTS / (std::f64::consts::PI * settings.bandwidth_hz) * low).ceil() as usize;
        Ok(Dehummer { decimator, notches, omegas, pad_low })
    }

    /// The magnitude response at `freq_hz`: what the decimation passes, less what the zero-phase
    /// notches keep of it (x − R²(1 − N²)·x, R the decimation's lowpass and N the notches).
    pub fn response(&self, freq_hz: f64) -> f64 {
        let low = self.decimator.low_rate();
        let notched: f64 = self.notches.iter().map(|n| n.response(freq_hz, low).powi(2)).product();
        1.0 - self.decimator.response(freq_hz).powi(2) * (1.0 - notched)
    }

    /// Removes the hum from one channel.
    pub fn process(&self, x: &mut [f32], scratch: &mut Vec<f64>) {
        let n = x.len();
        if n < 2 || self.notches.is_empty() {
            return;
        }
        // Either side, the hum continued: its lines fitted (least squares) to the first and the
        // last stretch and run on, so neither the notches nor the lowpass meet an edge.
        let pad = self.pad_low * self.decimator.factor();
        let fit = pad.min(n);
        let before = self.lines_fit(&x[..fit], 0.0);
        let after = self.lines_fit(&x[n - fit..], (n - fit) as f64);
        let padded: Vec<f32> = self
            .lines_from(&before, -(pad as f64), pad)
            .chain(x.iter().copied())
            .chain(self.lines_from(&after, n as f64, pad))
            .collect();
        let low = self.decimator.decimate(&padded);
        drop(padded);
        scratch.clear();
        scratch.extend(low.iter().map(|&v| f64::from(v)));
        // All the notches in one pass each way (one sweep of memory, not two per notch).
        cascade(&self.notches, scratch.iter_mut());
        cascade(&self.notches, scratch.iter_mut().rev());
        let hum: Vec<f32> = low.iter().zip(scratch.iter()).map(|(&v, &y)| (f64::from(v) - y) as f32).collect();
        for (o, h) in x.iter_mut().zip(self.decimator.interpolate(&hum, pad..pad + n)) {
            *o -= h;
        }
    }

    /// The cosine and sine amplitudes of each line in `x` (whose first sample is at time `t0`, in
    /// samples), by least squares.
    fn lines_fit(&self, x: &[f32], t0: f64) -> Vec<f64> {
        let k = 2 * self.omegas.len();
        let (mut m, mut rhs) = (vec![0.0; k * k], vec![0.0; k]);
        normal_equations(&self.omegas, x, t0, &mut m, &mut rhs);
        let ridge = 1e-9 * x.len() as f64;
        for r in 0..k {
            m[r * k + r] += ridge;
            for c in 0..r {
                m[c * k + r] = m[r * k + c];
            }
        }
        if cholesky_solve(&mut m, k, k, &mut rhs) {
            rhs
        } else {
            vec![0.0; k]
        }
    }

    /// The fitted lines' values over `len` samples from time `t0` (samples).
    fn lines_from<'a>(&self, amplitudes: &'a [f64], t0: f64, len: usize) -> impl Iterator<Item = f32> + 'a {
        let mut lines = Phasors::new(&self.omegas, t0);
        let mut b = vec![0.0; amplitudes.len()];
        (0..len).map(move |_| {
            lines.basis(&mut b);
            b.iter().zip(amplitudes).map(|(b, a)| b * a).sum::<f64>() as f32
        })
    }
}

simd_versions! {
    /// The lower triangle of the normal matrix (`m`, k × k) and the right-hand side of the
    /// least-squares fit of the lines on `omegas` (cos and sin each, k = 2 · lines) to `x` from
    /// time `t0`.
    fn normal_equations(omegas: &[f64], x: &[f32], t0: f64, m: &mut [f64], rhs: &mut [f64]) {
        let k = rhs.len();
        let mut b = vec![0.0; k];
        let mut lines = Phasors::new(omegas, t0);
        for &v in x {
            lines.basis(&mut b);
            for (r, &br) in b.iter().enumerate() {
                rhs[r] += br * f64::from(v);
                m[r * k..=r * k + r].iter_mut().zip(&b).for_each(|(m, &bc)| *m += br * bc);
            }
        }
    }
}

/// cos and sin of each line's phase, sample after sample: each a phasor turned by its step (one
/// complex multiply instead of a sin_cos; over the seconds the fits span its error stays near
/// 1e-11).
struct Phasors {
    now: Vec<Complex<f64>>,
    step: Vec<Complex<f64>>,
}

impl Phasors {
    fn new(omegas: &[f64], t0: f64) -> Self {
        Phasors {
            now: omegas.iter().map(|w| Complex::from_polar(1.0, w * t0)).collect(),
            step: omegas.iter().map(|&w| Complex::from_polar(1.0, w)).collect(),
        }
    }

    /// This sample's basis (cos, sin per line) into `out`; then on to the next sample.
    fn basis(&mut self, out: &mut [f64]) {
        for ((p, r), o) in self.now.iter_mut().zip(&self.step).zip(out.chunks_exact_mut(2)) {
            (o[0], o[1]) = (p.re, p.im);
            *p *= r;
        }
    }
}

/// The notches in series over `samples` (each from rest).
fn cascade<'a>(notches: &[Notch], samples: impl Iterator<Item = &'a mut f64>) {
    // Per notch: x[n−1], x[n−2], y[n−1], y[n−2].
    let mut states = vec![[0.0f64; 4]; notches.len()];
    for s in samples {
        let mut v = *s;
        for (n, [x1, x2, y1, y2]) in notches.iter().zip(states.iter_mut()) {
            let y0 = n.gain * (v + n.b1 * *x1 + *x2) - n.a1 * *y1 - n.a2 * *y2;
            (*x2, *x1, *y2, *y1) = (*x1, v, *y1, y0);
            v = y0;
        }
        *s = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notch_measures_as_its_analytic_response() {
        let fs = 44_100;
        let notch = Notch::new(50.0, 1.0, f64::from(fs));
        for f in [20.0, 45.0, 49.5, 50.0, 50.5, 55.0, 100.0, 1000.0] {
            // Steady-state gain on a sine, measured after the notch has settled.
            let n = 8 * fs as usize;
            let mut x: Vec<f64> =
                (0..n).map(|i| (std::f64::consts::TAU * f * i as f64 / f64::from(fs)).sin()).collect();
            cascade(std::slice::from_ref(&notch), x.iter_mut());
            let tail = &x[n - fs as usize..];
            let measured = (2.0 * tail.iter().map(|v| v * v).sum::<f64>() / tail.len() as f64).sqrt();
            let analytic = notch.response(f, f64::from(fs));
            assert!((measured - analytic).abs() < 2e-3, "{f} Hz: {measured} vs {analytic}");
        }
        assert!(notch.response(50.0, f64::from(fs)) < 1e-9);
        assert!((notch.response(49.5, f64::from(fs)) - std::f64::consts::FRAC_1_SQRT_2).abs() < 0.01, "−3 dB at ±BW/2");
    }

    /// The whole de-hummer — decimation, notches both ways, interpolation — on sines measures as
    /// its analytic response: on a line, beside it, between lines and above the band.
    #[test]
    fn the_dehummer_measures_as_its_analytic_response() {
        let fs = 44_100;
        let settings = DehumSettings::default();
        let line =
            |number: usize| HumLine { number, freq_hz: 50.0 * number as f64, level_db: -50.0, prominence_db: 20.0 };
        let hum = Hum { fundamental_hz: 50.0, located: true, harmonics: (1..=12).map(line).collect() };
        let d = Dehummer::new(&hum, &settings, fs).unwrap();
        for f in [50.0, 50.4, 51.0, 75.0, 149.2, 600.0, 700.0, 1_000.0, 5_000.0] {
            let n = 10 * fs as usize;
            let mut x: Vec<f32> =
                (0..n).map(|i| (std::f64::consts::TAU * f * i as f64 / f64::from(fs)).sin() as f32).collect();
            d.process(&mut x, &mut Vec::new());
            let tail = &x[3 * fs as usize..7 * fs as usize];
            let measured = (2.0 * tail.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
            let analytic = d.response(f);
            assert!((measured - analytic).abs() < 1e-3, "{f} Hz: {measured} vs {analytic}");
        }
        // On a line only the lowpass's passband ripple (δ = 10^(−100/20) each way) is left.
        assert!(d.response(100.0) < 1e-4 && d.response(75.0) > 0.999);
    }

    /// A harmonic series on 50.02 Hz over faint noise is hum when it sounds throughout, and not
    /// when it is gated on and off every 2 s, sample for sample the same each time (steady lines
    /// in the long-term spectrum all the same) — unless the user says there is hum.
    #[test]
    fn hum_sounds_throughout() {
        let fs = 8_000;
        let n = 60 * fs as usize;
        let noise = crate::testing::Rng::new(1).noise(n, 1e-4);
        let series =
            |t: f64| (1..=5).map(|k| (std::f64::consts::TAU * 50.02 * k as f64 * t).sin() / k as f64).sum::<f64>();
        let (period, on) = (4 * fs as usize, 2 * fs as usize);
        let signal = |gated: bool| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    let hum = if !gated {
                        series(i as f64 / f64::from(fs))
                    } else if i % period < on {
                        series((i % period) as f64 / f64::from(fs))
                    } else {
                        0.0
                    };
                    (0.01 * hum) as f32 + noise[i]
                })
                .collect()
        };
        let settings = DehumSettings::default();
        let steady = signal(false);
        let found = detect(&[&steady], fs, &settings, false).expect("steady hum");
        assert!(found.located && (found.fundamental_hz - 50.02).abs() < 0.01, "{found:?}");
        let gated = signal(true);
        assert!(detect(&[&gated], fs, &settings, false).is_none());
        assert!(detect(&[&gated], fs, &settings, true).is_some_and(|h| h.located));
    }
}
