//! Test helpers: deterministic signals, an RBJ biquad EQ, and *independent* oracles (an f64 FFT
//! true-peak meter, 1/3-octave band levels by Welch averaging) that share no code with the library.
#![allow(dead_code)]

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// The seeded PRNG of all tests and benches (uniform in [−1, 1) from `signed`).
pub use automaster::internals::testing::Rng;

/// Pink-ish noise by the Voss–McCartney / Kellet filter on white noise (−3 dB/octave within ~0.5 dB).
pub fn pink(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut b = [0.0f64; 7];
    (0..n)
        .map(|_| {
            let w = rng.signed();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b.iter().sum::<f64>() + w * 0.5362;
            b[6] = w * 0.115926;
            out * 0.11
        })
        .collect()
}

/// A synthetic multi-instrument stereo mix: bass line and kick in the centre, a stereo pad, hi-hats
/// panned left and right, and a partly correlated pink-noise bed so every band has content.
pub fn synthetic_mix(seconds: f64, fs: u32, seed: u64) -> Vec<Vec<f32>> {
    let n = (seconds * f64::from(fs)) as usize;
    let fsf = f64::from(fs);
    let mut rng = Rng::new(seed);
    let bed_common = pink(n, &mut rng);
    let bed_l = pink(n, &mut rng);
    let bed_r = pink(n, &mut rng);
    let tau = std::f64::consts::TAU;
    let notes = [55.0, 55.0, 73.42, 65.41];
    let chord = [220.0, 277.18, 329.63, 440.0];
    let (mut l, mut r) = (vec![0.0f32; n], vec![0.0f32; n]);
    for i in 0..n {
        let t = i as f64 / fsf;
        let beat = t * 2.0; // 120 bpm
        let pos = beat.fract() / 2.0; // seconds since the beat
        let f0 = notes[(beat as usize / 2) % notes.len()];
        let bass: f64 =
            (1..12).map(|h| (tau * f0 * h as f64 * t).sin() / h as f64).sum::<f64>() * 0.18 * (-pos * 3.0).exp();
        let kick = 0.5 * (tau * 50.0 * pos * (1.0 + 2.0 * (-pos * 30.0).exp())).sin() * (-pos * 12.0).exp();
        let pad_l: f64 =
            chord.iter().enumerate().map(|(k, f)| (tau * f * 1.003 * t + k as f64).sin()).sum::<f64>() * 0.04;
        let pad_r: f64 =
            chord.iter().enumerate().map(|(k, f)| (tau * f * 0.997 * t + 2.0 * k as f64).sin()).sum::<f64>() * 0.04;
        let half = (beat * 2.0).fract() / 4.0;
        let hat = rng.signed() * 0.12 * (-half * 60.0).exp();
        let hat_left = ((beat * 2.0) as usize).is_multiple_of(2);
        let bed = 0.5 * bed_common[i];
        l[i] = (bass + kick + pad_l + if hat_left { hat } else { 0.3 * hat } + bed + 0.35 * bed_l[i]) as f32;
        r[i] = (bass + kick + pad_r + if hat_left { 0.3 * hat } else { hat } + bed + 0.35 * bed_r[i]) as f32;
    }
    vec![l, r]
}

/// A mix whose sections move in level: 4 s sections alternating by `swing_db` around the mix's
/// level (ramped over 0.5 s so nothing clicks), with the side scaled by `side_gain`.
pub fn moving_mix(fs: u32, seconds: f64, swing_db: f64, side_gain: f32, seed: u64) -> Vec<Vec<f32>> {
    let mut mix = synthetic_mix(seconds, fs, seed);
    let n = mix[0].len();
    let section = 4 * fs as usize;
    let ramp = fs as usize / 2;
    let gain = |i: usize| {
        let k = i / section;
        let level = |k: usize| if k.is_multiple_of(2) { swing_db / 2.0 } else { -swing_db / 2.0 };
        let pos = i % section;
        let db = if pos < ramp && k > 0 {
            level(k - 1) + (level(k) - level(k - 1)) * pos as f64 / ramp as f64
        } else {
            level(k)
        };
        10f64.powf(db / 20.0) as f32
    };
    let (left, right) = mix.split_at_mut(1);
    for (i, (l, r)) in left[0].iter_mut().zip(right[0].iter_mut()).enumerate().take(n) {
        let g = gain(i);
        let (m, s) = ((*l + *r) * 0.5, (*l - *r) * 0.5 * side_gain);
        *l = (m + s) * g;
        *r = (m - s) * g;
    }
    mix
}

/// RBJ Audio EQ Cookbook biquad (Bristow-Johnson), f64, direct form I.
#[derive(Clone, Copy)]
pub struct Biquad {
    b: [f64; 3],
    a: [f64; 3],
}

impl Biquad {
    pub fn low_shelf(fs: f64, f0: f64, gain_db: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w = std::f64::consts::TAU * f0 / fs;
        let alpha = w.sin() / 2.0 * 2f64.sqrt(); // S = 1
        let c = w.cos();
        let sa = 2.0 * a.sqrt() * alpha;
        Self::norm(
            [
                a * ((a + 1.0) - (a - 1.0) * c + sa),
                2.0 * a * ((a - 1.0) - (a + 1.0) * c),
                a * ((a + 1.0) - (a - 1.0) * c - sa),
            ],
            [(a + 1.0) + (a - 1.0) * c + sa, -2.0 * ((a - 1.0) + (a + 1.0) * c), (a + 1.0) + (a - 1.0) * c - sa],
        )
    }
    pub fn bell(fs: f64, f0: f64, q: f64, gain_db: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w = std::f64::consts::TAU * f0 / fs;
        let alpha = w.sin() / (2.0 * q);
        let c = w.cos();
        Self::norm([1.0 + alpha * a, -2.0 * c, 1.0 - alpha * a], [1.0 + alpha / a, -2.0 * c, 1.0 - alpha / a])
    }
    fn norm(b: [f64; 3], a: [f64; 3]) -> Self {
        Biquad { b: [b[0] / a[0], b[1] / a[0], b[2] / a[0]], a: [1.0, a[1] / a[0], a[2] / a[0]] }
    }
    pub fn process(&self, x: &mut [f32]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        for v in x.iter_mut() {
            let x0 = f64::from(*v);
            let y0 = self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[1] * y1 - self.a[2] * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            *v = y0 as f32;
        }
    }
    /// Analytic magnitude in dB.
    pub fn response_db(&self, fs: f64, f: f64) -> f64 {
        let w = std::f64::consts::TAU * f / fs;
        let z = |c: &[f64; 3]| {
            Complex::new(c[0] + c[1] * w.cos() + c[2] * (2.0 * w).cos(), -(c[1] * w.sin() + c[2] * (2.0 * w).sin()))
        };
        20.0 * (z(&self.b).norm() / z(&self.a).norm()).log10()
    }
}

/// Independent true-peak meter: the signal, zero-padded by ≥ 1 s, is interpolated 16× by
/// zero-padding its f64 spectrum (ideal band-limited interpolation), and the largest |value| over
/// channels returned in dB. A long signal (over 2^21 samples: memory) goes in pieces of 2^21 with
/// 2^15 samples of context on each side, of which only the piece's own interpolated values count
/// (the interpolant's tails from farther away are below 10^-4 of a sample's amplitude).
pub fn true_peak_db_fft16(channels: &[Vec<f32>], fs: u32) -> f64 {
    const PIECE: usize = 1 << 21;
    const CONTEXT: usize = 1 << 15;
    let mut peak = 0.0f64;
    for ch in channels {
        if ch.len() <= PIECE {
            peak = peak.max(fft16_peak(ch, fs, 0..ch.len()));
            continue;
        }
        for start in (0..ch.len()).step_by(PIECE) {
            let (a, b) = (start.saturating_sub(CONTEXT), (start + PIECE + CONTEXT).min(ch.len()));
            let own = start - a..(start + PIECE).min(ch.len()) - a;
            peak = peak.max(fft16_peak(&ch[a..b], fs, own));
        }
    }
    20.0 * peak.log10()
}

/// The largest |value| of `ch` interpolated 16×, over the samples `own` (and the 15 points after each).
fn fft16_peak(ch: &[f32], fs: u32, own: std::ops::Range<usize>) -> f64 {
    const UP: usize = 16;
    let n = (ch.len() + fs as usize).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n * UP);
    let mut time: Vec<f64> = ch.iter().map(|&x| f64::from(x)).chain(std::iter::repeat(0.0)).take(n).collect();
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut time, &mut spec).unwrap();
    // Split the Nyquist bin between ±fs/2 so the interpolant stays real and symmetric.
    spec[n / 2] *= 0.5;
    let mut up = vec![Complex::new(0.0, 0.0); n * UP / 2 + 1];
    up[..=n / 2].copy_from_slice(&spec);
    up[0].im = 0.0;
    let mut out = vec![0.0f64; n * UP];
    inv.process(&mut up, &mut out).unwrap();
    let scale = 1.0 / n as f64;
    // The whole padded signal for a signal taken whole (its interpolation runs into the padding).
    let range = if own == (0..ch.len()) { 0..out.len() } else { own.start * UP..own.end * UP };
    out[range].iter().fold(0.0, |m: f64, &v| m.max((v * scale).abs()))
}

/// Mid (L+R)/2 and side (L−R)/2 levels in 1/3-octave bands centred 1 kHz·2^(k/3) within
/// [40 Hz, 16 kHz], from a Welch average (Hann, 16384 points, 50 % overlap) in f64.
pub fn third_octave_levels(channels: &[Vec<f32>], fs: u32) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = 16384;
    let mid: Vec<f64> =
        (0..channels[0].len()).map(|i| 0.5 * (f64::from(channels[0][i]) + f64::from(channels[1][i]))).collect();
    let side: Vec<f64> =
        (0..channels[0].len()).map(|i| 0.5 * (f64::from(channels[0][i]) - f64::from(channels[1][i]))).collect();
    let welch = |x: &[f64]| -> Vec<f64> {
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n);
        let w: Vec<f64> = (0..n).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()).collect();
        let mut acc = vec![0.0; n / 2 + 1];
        let mut start = 0;
        let mut frames = 0;
        while start + n <= x.len() {
            let mut t: Vec<f64> = (0..n).map(|i| x[start + i] * w[i]).collect();
            let mut s = fft.make_output_vec();
            fft.process(&mut t, &mut s).unwrap();
            for (a, v) in acc.iter_mut().zip(&s) {
                *a += v.norm_sqr();
            }
            frames += 1;
            start += n / 2;
        }
        acc.iter().map(|a| a / frames as f64).collect()
    };
    let (pm, ps) = (welch(&mid), welch(&side));
    let bin = f64::from(fs) / n as f64;
    let centres: Vec<f64> =
        (-14..=12).map(|k| 1000.0 * 2f64.powf(k as f64 / 3.0)).filter(|&c| (40.0..=16_000.0).contains(&c)).collect();
    let level = |p: &[f64], c: f64| {
        let (lo, hi) = (c / 2f64.powf(1.0 / 6.0), c * 2f64.powf(1.0 / 6.0));
        let e: f64 = p
            .iter()
            .enumerate()
            .filter(|(k, _)| (*k as f64 * bin) >= lo && (*k as f64 * bin) < hi)
            .map(|(_, v)| v)
            .sum();
        10.0 * (e + 1e-30).log10()
    };
    (centres.iter().map(|&c| level(&pm, c)).collect(), centres.iter().map(|&c| level(&ps, c)).collect(), centres)
}

/// Integrated loudness by the independent `ebur128` crate.
pub fn ebur128_lufs(channels: &[Vec<f32>], fs: u32) -> f64 {
    let mut m = ebur128::EbuR128::new(channels.len() as u32, fs, ebur128::Mode::I).unwrap();
    let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    m.add_frames_planar_f32(&refs).unwrap();
    m.loudness_global().unwrap()
}

/// True peak (dBTP) by the `ebur128` crate's BS.1770 meter: another implementation of the standard.
pub fn ebur128_true_peak_db(channels: &[Vec<f32>], fs: u32) -> f64 {
    let mut m = ebur128::EbuR128::new(channels.len() as u32, fs, ebur128::Mode::TRUE_PEAK).unwrap();
    let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    m.add_frames_planar_f32(&refs).unwrap();
    let peak = (0..channels.len() as u32).map(|c| m.true_peak(c).unwrap()).fold(0.0f64, f64::max);
    20.0 * peak.log10()
}

pub fn write_wav_f32(path: &std::path::Path, channels: &[Vec<f32>], fs: u32) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: fs,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample(ch[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

pub fn read_wav(path: &std::path::Path) -> (Vec<Vec<f32>>, u32) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let n_ch = spec.channels as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.unwrap() as f32 / scale).collect()
        }
    };
    let chans = (0..n_ch).map(|c| samples.iter().skip(c).step_by(n_ch).copied().collect()).collect();
    (chans, spec.sample_rate)
}

/// Scales channels so their sample peak is `peak`.
pub fn normalize_peak(channels: &mut [Vec<f32>], peak: f32) {
    let m = channels.iter().flatten().fold(0.0f32, |m, &v| m.max(v.abs()));
    for v in channels.iter_mut().flatten() {
        *v *= peak / m;
    }
}

/// Removes everything above `cutoff_hz` (ideal brick wall on the zero-padded f64 spectrum), as lossy
/// codecs do to the masters users bring.
pub fn band_limit(channels: &mut [Vec<f32>], fs: u32, cutoff_hz: f64) {
    for ch in channels {
        shape_spectrum(ch, fs, |f| if f < cutoff_hz { 1.0 } else { 0.0 });
    }
}

/// Zero-phase filtering by `gain(f_hz)` (linear amplitude) on the zero-padded f64 spectrum of the
/// whole signal.
pub fn shape_spectrum(x: &mut [f32], fs: u32, gain: impl Fn(f64) -> f64) {
    let n = (x.len() + fs as usize).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let mut t: Vec<f64> = x.iter().map(|&v| f64::from(v)).chain(std::iter::repeat(0.0)).take(n).collect();
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut t, &mut spec).unwrap();
    for (k, v) in spec.iter_mut().enumerate() {
        *v *= gain(k as f64 * f64::from(fs) / n as f64);
    }
    inv.process(&mut spec, &mut t).unwrap();
    for (y, v) in x.iter_mut().zip(&t) {
        *y = (v / n as f64) as f32;
    }
}

/// Applies `mid_db(f)` to the mid and `side_db(f)` to the side of a stereo signal (zero phase).
pub fn shape_mid_side(channels: &mut [Vec<f32>], fs: u32, mid_db: impl Fn(f64) -> f64, side_db: impl Fn(f64) -> f64) {
    let (mut m, mut s): (Vec<f32>, Vec<f32>) =
        channels[0].iter().zip(&channels[1]).map(|(l, r)| ((l + r) * 0.5, (l - r) * 0.5)).unzip();
    shape_spectrum(&mut m, fs, |f| 10f64.powf(mid_db(f) / 20.0));
    shape_spectrum(&mut s, fs, |f| 10f64.powf(side_db(f) / 20.0));
    for i in 0..m.len() {
        channels[0][i] = m[i] + s[i];
        channels[1][i] = m[i] - s[i];
    }
}

/// `gain_db` across the 1/3-octave band centred on `centre_hz`, rising and falling as a raised
/// cosine over the sixth of an octave either side.
pub fn third_octave_bump(f_hz: f64, centre_hz: f64, gain_db: f64) -> f64 {
    let outside = ((f_hz.max(1e-3) / centre_hz).log2().abs() - 1.0 / 6.0).max(0.0) * 6.0;
    if outside >= 1.0 {
        0.0
    } else {
        gain_db * 0.5 * (1.0 + (std::f64::consts::PI * outside).cos())
    }
}
