//! Filters and spectra against analytic responses and f64 references.
mod common;

use automaster::internals::analysis::bands::BandGrid;
use automaster::internals::analysis::spectrum::{gated_spectra, StftSettings};
use automaster::internals::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use common::*;
use realfft::RealFftPlanner;

fn test_curve() -> EqCurve {
    let grid = BandGrid::standard();
    let gain_db = grid
        .centers_hz
        .iter()
        .map(|&f: &f64| {
            let o = (f / 1000.0).log2();
            4.0 * (-(o + 3.3).powi(2) * 2.0).exp() - 3.0 * (-(o - 1.6).powi(2) * 4.0).exp()
                + 2.0 * (-(o - 3.5).powi(2)).exp()
        })
        .collect();
    EqCurve { freqs_hz: grid.centers_hz, gain_db }
}

#[test]
fn linear_phase_eq_analytic_response_follows_the_curve() {
    let curve = test_curve();
    for fs in [44_100, 48_000, 96_000] {
        let eq = LinearPhaseEq::new(&curve, fs).unwrap();
        for k in 0..60 {
            let f = 30.0 * 2f64.powf(k as f64 / 6.0);
            if f > 18_000.0 {
                break;
            }
            let (want, got) = (curve.gain_db_at(f), eq.response_db(f, fs));
            assert!((want - got).abs() < 0.1, "{fs} Hz rate, {f:.0} Hz: designed {got:.3} vs curve {want:.3}");
        }
    }
}

#[test]
fn linear_phase_eq_measured_response_equals_the_analytic_one() {
    let fs = 48_000;
    let eq = LinearPhaseEq::new(&test_curve(), fs).unwrap();
    for f in [40.0, 125.0, 1000.0, 3150.0, 10_000.0, 16_000.0] {
        let n = fs as usize * 2;
        let x: Vec<f32> =
            (0..n).map(|i| (0.25 * (std::f64::consts::TAU * f * i as f64 / f64::from(fs)).sin()) as f32).collect();
        let mut y = vec![0.0f32; n];
        eq.process(&x, &mut y);
        // Steady-state amplitude away from the edges (the filter spans 0.17 s).
        let rms = |v: &[f32]| (v.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        let measured = 20.0 * (rms(&y[n / 4..3 * n / 4]) / rms(&x[n / 4..3 * n / 4])).log10();
        let analytic = eq.response_db(f, fs);
        assert!((measured - analytic).abs() < 0.02, "{f} Hz: measured {measured:.3} vs analytic {analytic:.3}");
    }
}

#[test]
fn stft_power_spectrum_matches_an_f64_reference_and_parseval() {
    let fs = 44_100;
    let settings = StftSettings { fft_size: 4096, hop: 2048, relative_gate_db: -200.0 };
    let mut rng = Rng::new(5);
    let n: usize = 4096 * 8;
    let l: Vec<f32> = (0..n).map(|_| (rng.signed() * 0.5) as f32).collect();
    let r: Vec<f32> = l.iter().map(|&v| v * 0.3 + (rng.signed() * 0.1) as f32).collect();
    let ours = gated_spectra(&[&l, &r], fs, &settings);

    // f64 reference of the same definition: mid = (L+R)/2, periodic Hann, one-sided PSD, averaged.
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(4096);
    let w: Vec<f64> = (0..4096).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / 4096.0).cos()).collect();
    let w2: f64 = w.iter().map(|v| v * v).sum();
    let mut acc = vec![0.0f64; 2049];
    let starts: Vec<usize> = (0..(n - 4096).div_ceil(2048) + 1).map(|k| k * 2048).collect();
    let mut frames = 0;
    let mut peak_per_frame = Vec::new();
    for &s in &starts {
        let mut t: Vec<f64> = (0..4096)
            .map(|i| if s + i < n { 0.5 * (f64::from(l[s + i]) + f64::from(r[s + i])) * w[i] } else { 0.0 })
            .collect();
        let mut spec = fft.make_output_vec();
        fft.process(&mut t, &mut spec).unwrap();
        peak_per_frame.push(spec.iter().map(|c| c.norm_sqr()).fold(0.0, f64::max));
        for (a, c) in acc.iter_mut().zip(&spec) {
            *a += c.norm_sqr();
        }
        frames += 1;
    }
    assert_eq!(frames, ours.frames_total);
    let scale = |k: usize| if k == 0 || k == 2048 { 1.0 } else { 2.0 } / (f64::from(fs) * w2 * frames as f64);
    let peak = peak_per_frame.iter().copied().fold(0.0, f64::max) * scale(1);
    for (k, &sum) in acc.iter().enumerate() {
        let reference = sum * scale(k);
        assert!((ours.mid_psd[k] - reference).abs() <= 1e-5 * peak, "bin {k}: {} vs {reference}", ours.mid_psd[k]);
    }
    // Parseval: the integrated PSD equals the mean square of the windowed signal, per frame.
    let integrated: f64 = ours.mid_psd.iter().sum::<f64>() * ours.bin_hz;
    let mean_square: f64 = (0..n).map(|i| (0.5 * (f64::from(l[i]) + f64::from(r[i]))).powi(2)).sum::<f64>() / n as f64;
    assert!((integrated / mean_square - 1.0).abs() < 0.03, "{integrated} vs {mean_square}");
}

#[test]
fn on_bin_sine_lands_in_its_band_and_gating_drops_silence() {
    let fs = 48_000;
    let settings = StftSettings::for_rate(fs);
    let bin_hz = f64::from(fs) / settings.fft_size as f64;
    let f = 375.0 * bin_hz; // exactly on a bin
    let mut x: Vec<f32> = (0..fs as usize * 4)
        .map(|i| (0.5 * (std::f64::consts::TAU * f * i as f64 / f64::from(fs)).sin()) as f32)
        .collect();
    x.extend(std::iter::repeat_n(0.0, fs as usize * 4));
    let s = gated_spectra(&[&x], fs, &settings);
    let argmax = s.mid_psd.iter().enumerate().fold((0, 0.0), |m, (k, &v)| if v > m.1 { (k, v) } else { m }).0;
    assert_eq!(argmax, 375);
    assert!(s.frames_used < s.frames_total * 6 / 10, "{} of {}", s.frames_used, s.frames_total);
    let grid = BandGrid::standard();
    let levels = grid.levels_db(&s.mid_psd, s.bin_hz);
    let loudest = levels.iter().enumerate().fold((0, f64::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m }).0;
    let (lo, hi) = grid.edges(loudest);
    assert!(lo <= f && f <= hi, "{f} Hz not in [{lo}, {hi}]");
}
