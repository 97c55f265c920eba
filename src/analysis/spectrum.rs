//! Gated STFT analysis on the CPU: mid and side power spectral densities and the mid/side cross
//! spectrum, averaged over the loud frames of a track.
use rayon::prelude::*;
use realfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::dsp::simd::lane_sum;
use crate::dsp::stft::{add_to_totals, Stft};
use crate::dsp::window::hann_periodic;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StftSettings {
    pub fft_size: usize,
    pub hop: usize,
    /// Frames quieter than the mean frame power by more than this (dB) are left out: silence and
    /// near-silence, not the quiet passages that still shape how a track sounds.
    pub relative_gate_db: f64,
}

impl StftSettings {
    /// About 2.7 Hz resolution at 44.1/48 kHz (16384 points), 50 % overlap of a Hann window.
    pub fn for_rate(sample_rate: u32) -> Self {
        let fft_size = ((f64::from(sample_rate) / 2.9) as usize).next_power_of_two().max(1024);
        StftSettings { fft_size, hop: fft_size / 2, relative_gate_db: -20.0 }
    }
}

/// Averaged one-sided spectra, per bin, in FS²/Hz.
#[derive(Debug, Clone)]
pub struct GatedSpectra {
    pub bin_hz: f64,
    pub mid_psd: Vec<f64>,
    pub side_psd: Vec<f64>,
    /// Re(M·S*) with the same scaling; with the two PSDs it gives L/R correlation per bin.
    pub cross_psd: Vec<f64>,
    pub frames_used: usize,
    pub frames_total: usize,
    /// Seconds between frame starts.
    pub hop_s: f64,
    /// Bin edges of the dynamics bands ([`dynamics_band_bins`]).
    pub band_bins: Vec<usize>,
    /// Per frame (all frames in order, gated-out ones 0) and dynamics band: the band's mean-square
    /// power (|M|² + |S|², i.e. (L² + R²)/2), FS², so frame-by-frame band levels come with the spectra.
    pub band_power: Vec<f32>,
}

/// Crossovers of the dynamics bands, Hz: lows (kick and bass fundamentals, where bass mono acts),
/// low mids (body, warmth, mud), presence (voice, guitars; where the ear is most sensitive) and air
/// (cymbals, sibilance). The split mastering multiband compressors commonly default to.
pub const DYNAMICS_CROSSOVERS_HZ: [f64; 3] = [120.0, 1000.0, 6000.0];

/// The crossovers that fit under 0.45·fs (all of them at ordinary rates).
pub fn dynamics_crossovers(sample_rate: u32) -> Vec<f64> {
    DYNAMICS_CROSSOVERS_HZ.iter().copied().filter(|&f| f <= 0.45 * f64::from(sample_rate)).collect()
}

/// The dynamics bands start here: below it there is nothing audible to compress or widen (and the
/// EQ leaves it alone).
pub const DYNAMICS_LOW_HZ: f64 = 20.0;

/// Bin edges of the dynamics bands for an `fft_size`-point STFT: band b holds bins
/// `edges[b]..edges[b + 1]`; bins below 20 Hz are left out, Nyquist is in the top band.
pub fn dynamics_band_bins(sample_rate: u32, fft_size: usize) -> Vec<usize> {
    let bin_hz = f64::from(sample_rate) / fft_size as f64;
    let mut edges = vec![((DYNAMICS_LOW_HZ / bin_hz).round() as usize).max(1)];
    edges.extend(
        dynamics_crossovers(sample_rate).iter().map(|&f| ((f / bin_hz).round() as usize).clamp(1, fft_size / 2)),
    );
    edges.push(fft_size / 2 + 1);
    edges
}

/// Scale from Σ|X\[k\]|² over a band's bins (unnormalised FFT of the windowed frame) to the band's
/// mean-square power: Parseval, one-sided (×2), over the window's energy Σw².
pub fn band_power_scale(fft_size: usize) -> f64 {
    let w2: f64 = hann_periodic(fft_size).iter().map(|w| w * w).sum();
    2.0 / (fft_size as f64 * w2)
}

/// Band powers of one frame from its mid (and side) spectrum.
fn frame_band_power(mid: &[Complex<f32>], side: Option<&[Complex<f32>]>, edges: &[usize], scale: f64, out: &mut [f32]) {
    let power = |x: &[Complex<f32>]| f64::from(lane_sum(x, |c| c.norm_sqr()));
    for (b, o) in out.iter_mut().enumerate() {
        let range = edges[b]..edges[b + 1];
        let p = power(&mid[range.clone()]) + side.map_or(0.0, |s| power(&s[range]));
        *o = (p * scale) as f32;
    }
}

/// Per-bin sums of |M|², |S|² and Re(M·S̄) over one group's frames (see [`Stft::grouped`]).
struct Sums {
    mid: Vec<f32>,
    side: Vec<f32>,
    cross: Vec<f32>,
}

impl Sums {
    fn new(bins: usize) -> Self {
        Sums { mid: vec![0.0; bins], side: vec![0.0; bins], cross: vec![0.0; bins] }
    }

    fn add(&mut self, mid: &[Complex<f32>], side: Option<&[Complex<f32>]>) {
        match side {
            Some(side) => {
                for ((((m, s), mm), ss), ms) in
                    mid.iter().zip(side).zip(&mut self.mid).zip(&mut self.side).zip(&mut self.cross)
                {
                    *mm += m.re * m.re + m.im * m.im;
                    *ss += s.re * s.re + s.im * s.im;
                    *ms += m.re * s.re + m.im * s.im;
                }
            }
            None => {
                for (m, mm) in mid.iter().zip(&mut self.mid) {
                    *mm += m.re * m.re + m.im * m.im;
                }
            }
        }
    }

    fn add_to(&self, total: &mut [Vec<f64>; 3]) {
        for (a, b) in total.iter_mut().zip([&self.mid, &self.side, &self.cross]) {
            add_to_totals(a, b);
        }
    }
}

/// Frame start positions: frames cover the whole signal, the last one zero-padded.
pub(crate) fn frame_starts(len: usize, settings: &StftSettings) -> Vec<usize> {
    let count = if len <= settings.fft_size { 1 } else { (len - settings.fft_size).div_ceil(settings.hop) + 1 };
    (0..count).map(|i| i * settings.hop).collect()
}

/// Mid (sign +1) or side (sign −1) of stereo `channels` — or the mono channel itself — at frame `i`:
/// (L ± R)/2, formed on the fly so no mid/side copy of the track is ever made.
fn mid_or_side(channels: &[&[f32]], i: usize, sign: f32) -> f32 {
    match channels {
        [l, r] => l.get(i).zip(r.get(i)).map_or(0.0, |(&l, &r)| 0.5 * (l + sign * r)),
        [m] => m.get(i).copied().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn windowed(channels: &[&[f32]], sign: f32, start: usize, window: &[f32], dst: &mut [f32]) {
    let n = dst.len();
    match channels {
        // Frames inside the signal (all but the last): straight slices, which vectorise.
        [l, r] if start + n <= l.len() => {
            for (((d, &w), &l), &r) in dst.iter_mut().zip(window).zip(&l[start..]).zip(&r[start..]) {
                *d = 0.5 * (l + sign * r) * w;
            }
        }
        [m] if start + n <= m.len() => {
            for ((d, &w), &m) in dst.iter_mut().zip(window).zip(&m[start..]) {
                *d = m * w;
            }
        }
        _ => {
            for (i, (d, &w)) in dst.iter_mut().zip(window).enumerate() {
                *d = mid_or_side(channels, start + i, sign) * w;
            }
        }
    }
}

/// Gated mid/side spectra of mono or stereo `channels` (side stays zero for mono).
pub fn gated_spectra(channels: &[&[f32]], sample_rate: u32, settings: &StftSettings) -> GatedSpectra {
    let n = settings.fft_size;
    let window = hann_periodic(n);
    let starts = frame_starts(channels[0].len(), settings);
    let stereo = channels.len() == 2;

    // Gate on the windowed frame power of mid + side (cheap, time domain); M² + S² = (L² + R²)/2.
    let w2: Vec<f32> = window.iter().map(|w| (w * w) as f32).collect();
    let power: Vec<f64> = starts
        .par_iter()
        .map(|&s| {
            let mut e = 0.0f64;
            for ch in channels {
                let frame = &ch[s.min(ch.len())..(s + n).min(ch.len())];
                // Runs of 64 in eight f32 partial sums (one running sum is a dependent chain that
                // does not vectorise), each run's total added in f64.
                let (mut x64, mut w64) = (frame.chunks_exact(64), w2[..frame.len()].chunks_exact(64));
                for (x, w) in (&mut x64).zip(&mut w64) {
                    let mut lanes = [0.0f32; 8];
                    for (x, w) in x.chunks_exact(8).zip(w.chunks_exact(8)) {
                        for ((l, &x), &w) in lanes.iter_mut().zip(x).zip(w) {
                            *l += w * x * x;
                        }
                    }
                    e += f64::from(lanes.iter().sum::<f32>());
                }
                e += x64.remainder().iter().zip(w64.remainder()).fold(0.0, |e, (&x, &w)| e + f64::from(w * x * x));
            }
            if stereo {
                0.5 * e
            } else {
                e
            }
        })
        .collect();
    let used_frames = gated_frames(&power, settings.relative_gate_db);
    let used: Vec<usize> = used_frames.iter().map(|&i| starts[i]).collect();
    let edges = dynamics_band_bins(sample_rate, n);
    let n_bands = edges.len() - 1;
    let scale = band_power_scale(n);

    let stft = Stft::new(n);
    let bins = stft.bins();
    let mut total = [vec![0.0f64; bins], vec![0.0f64; bins], vec![0.0f64; bins]];
    let mut band_power = vec![0.0f32; starts.len() * n_bands];
    let mut frames = used_frames.iter();
    stft.grouped(
        &used,
        || (stft.frame(), stft.frame()),
        |(mid, side), group| {
            let mut sums = Sums::new(bins);
            let mut bands = vec![0.0f32; group.len() * n_bands];
            for (&start, band) in group.iter().zip(bands.chunks_exact_mut(n_bands)) {
                let ms = stft.transform(mid, |dst, window| windowed(channels, 1.0, start, window, dst));
                let ss =
                    stereo.then(|| stft.transform(side, |dst, window| windowed(channels, -1.0, start, window, dst)));
                sums.add(ms, ss);
                frame_band_power(ms, ss, &edges, scale, band);
            }
            (sums, bands)
        },
        |(sums, bands)| {
            sums.add_to(&mut total);
            for band in bands.chunks_exact(n_bands) {
                let f = *frames.next().expect("one band row per used frame");
                band_power[f * n_bands..(f + 1) * n_bands].copy_from_slice(band);
            }
        },
    );
    let mut spectra = spectra_from_sums(total, sample_rate, n, used.len(), starts.len());
    spectra.hop_s = settings.hop as f64 / f64::from(sample_rate);
    spectra.band_bins = edges;
    spectra.band_power = band_power;
    spectra
}

/// Indices of the frames whose windowed power is within `relative_gate_db` of the mean (and not 0).
pub(crate) fn gated_frames(power: &[f64], relative_gate_db: f64) -> Vec<usize> {
    let mean = power.iter().sum::<f64>() / power.len().max(1) as f64;
    let threshold = mean * 10f64.powf(relative_gate_db / 10.0);
    (0..power.len()).filter(|&i| power[i] >= threshold && power[i] > 0.0).collect()
}

/// Averaged one-sided PSDs from per-bin sums over the used frames of |M|², |S|² and Re(M·S̄).
pub(crate) fn spectra_from_sums(
    sums: [Vec<f64>; 3],
    sample_rate: u32,
    fft_size: usize,
    frames_used: usize,
    frames_total: usize,
) -> GatedSpectra {
    let window = hann_periodic(fft_size);
    let bins = fft_size / 2 + 1;
    let [mid_acc, side_acc, cross_acc] = sums;
    // One-sided PSD: P[k] = 2|X[k]|² / (fs Σw²) per frame (DC and Nyquist not doubled), then averaged.
    let fs = f64::from(sample_rate);
    let w2: f64 = window.iter().map(|w| w * w).sum();
    let frames = frames_used.max(1) as f64;
    let scale = |k: usize| if k == 0 || k == bins - 1 { 1.0 } else { 2.0 } / (fs * w2 * frames);
    let to_psd = |acc: Vec<f64>| acc.into_iter().enumerate().map(|(k, v)| v * scale(k)).collect::<Vec<_>>();
    GatedSpectra {
        bin_hz: fs / fft_size as f64,
        mid_psd: to_psd(mid_acc),
        side_psd: to_psd(side_acc),
        cross_psd: to_psd(cross_acc),
        frames_used,
        frames_total,
        hop_s: 0.0,
        band_bins: Vec::new(),
        band_power: Vec::new(),
    }
}
