//! Loudness meter conformance: EBU Tech 3341 / 3342 cases synthesised from their definitions, the
//! BS.1770-4 filter coefficients, and agreement with the independent `ebur128` crate.
mod common;

use automaster::internals::analysis::loudness::{integrated_lufs, loudness_stats, KWeighting};
use common::*;

/// Stereo 1 kHz sine segments: (seconds, level dBFS) each; "a sine of peak amplitude 10^(L/20) per
/// channel reads L LUFS" (EBU Tech 3341 §2).
fn segments(fs: u32, parts: &[(f64, f64)]) -> Vec<Vec<f32>> {
    let mut x = Vec::new();
    let mut i = 0usize;
    for &(seconds, level) in parts {
        let amp = 10f64.powf(level / 20.0);
        for _ in 0..(seconds * f64::from(fs)).round() as usize {
            x.push((amp * (std::f64::consts::TAU * 1000.0 * i as f64 / f64::from(fs)).sin()) as f32);
            i += 1;
        }
    }
    vec![x.clone(), x]
}

fn integrated(x: &[Vec<f32>], fs: u32) -> f64 {
    let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    integrated_lufs(&refs, fs).unwrap()
}

#[test]
fn tech_3341_integrated_cases() {
    for fs in [44_100, 48_000] {
        let cases: [(&[(f64, f64)], f64); 5] = [
            (&[(20.0, -23.0)], -23.0),
            (&[(20.0, -33.0)], -33.0),
            (&[(10.0, -36.0), (60.0, -23.0), (10.0, -36.0)], -23.0),
            (&[(10.0, -72.0), (10.0, -36.0), (60.0, -23.0), (10.0, -36.0), (10.0, -72.0)], -23.0),
            (&[(20.0, -26.0), (20.1, -20.0), (20.0, -26.0)], -23.0),
        ];
        for (k, (parts, expected)) in cases.iter().enumerate() {
            let l = integrated(&segments(fs, parts), fs);
            assert!((l - expected).abs() <= 0.1, "3341 case {} at {fs}: {l:.3} LUFS", k + 1);
        }
    }
}

#[test]
fn tech_3341_short_term_of_a_steady_tone() {
    let fs = 48_000;
    let x = segments(fs, &[(20.0, -23.0)]);
    let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let st = loudness_stats(&refs, fs).short_term_lufs;
    assert!(st.len() > 150);
    assert!(st.iter().all(|&v| (f64::from(v) + 23.0).abs() <= 0.1), "{:?}", &st[..5]);
}

#[test]
fn tech_3342_loudness_range_cases() {
    let fs = 48_000;
    let cases: [(&[f64], f64); 4] = [
        (&[-20.0, -30.0], 10.0),
        (&[-20.0, -15.0], 5.0),
        (&[-40.0, -20.0], 20.0),
        (&[-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
    ];
    for (levels, expected) in cases {
        let parts: Vec<(f64, f64)> = levels.iter().map(|&l| (20.0, l)).collect();
        let x = segments(fs, &parts);
        let refs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let lra = loudness_stats(&refs, fs).loudness_range_lu;
        assert!((lra - expected).abs() <= 1.0, "3342 {levels:?}: LRA {lra:.2}");
    }
}

#[test]
fn k_weighting_at_48k_matches_the_published_bs1770_coefficients() {
    // ITU-R BS.1770-4 Tables 1 and 2 (48 kHz); compare the magnitude responses of the cascades.
    let shelf_b = [1.53512485958697, -2.69169618940638, 1.19839281085285];
    let shelf_a = [1.0, -1.69065929318241, 0.73248077421585];
    let hp_b = [1.0, -2.0, 1.0];
    let hp_a = [1.0, -1.99004745483398, 0.99007225036621];
    let mag = |b: &[f64; 3], a: &[f64; 3], f: f64| {
        let w = std::f64::consts::TAU * f / 48_000.0;
        let e = |c: &[f64; 3]| {
            let re = c[0] + c[1] * w.cos() + c[2] * (2.0 * w).cos();
            let im = c[1] * w.sin() + c[2] * (2.0 * w).sin();
            (re * re + im * im).sqrt()
        };
        e(b) / e(a)
    };
    let k = KWeighting::new(48_000);
    for f in [20.0, 40.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0] {
        let published = 20.0 * (mag(&shelf_b, &shelf_a, f) * mag(&hp_b, &hp_a, f)).log10();
        let ours = k.response_db(f, 48_000);
        assert!((ours - published).abs() < 0.01, "{f} Hz: {ours:.4} vs {published:.4}");
    }
}

#[test]
fn measured_loudness_of_tones_follows_the_analytic_k_response() {
    for fs in [44_100u32, 96_000] {
        let k = KWeighting::new(fs);
        let tone = |f: f64| {
            let x: Vec<f32> = (0..fs as usize * 5)
                .map(|i| (0.1 * (std::f64::consts::TAU * f * i as f64 / f64::from(fs)).sin()) as f32)
                .collect();
            integrated(&[x], fs)
        };
        let at_1k = tone(997.0);
        for f in [50.0, 200.0, 3000.0, 8000.0, 15_000.0] {
            let measured = tone(f) - at_1k;
            let analytic = k.response_db(f, fs) - k.response_db(997.0, fs);
            assert!((measured - analytic).abs() < 0.05, "{fs} Hz rate, {f} Hz tone: {measured:.3} vs {analytic:.3}");
        }
    }
}

#[test]
fn agrees_with_the_ebur128_crate_on_music_and_noise() {
    for (fs, seed) in [(44_100u32, 1u64), (48_000, 2), (96_000, 3)] {
        let mut mix = synthetic_mix(15.0, fs, seed);
        normalize_peak(&mut mix, 0.7);
        let ours = integrated(&mix, fs);
        let theirs = ebur128_lufs(&mix, fs);
        assert!((ours - theirs).abs() < 0.02, "{fs}: {ours:.3} vs {theirs:.3}");
        let mono = vec![mix[0].clone()];
        let (o, t) = (integrated(&mono, fs), ebur128_lufs(&mono, fs));
        assert!((o - t).abs() < 0.02, "{fs} mono: {o:.3} vs {t:.3}");
    }
}
