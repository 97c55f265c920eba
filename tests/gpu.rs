//! The GPU analysis: shaders against their CPU ports, the ports against an f64 DFT, and GPU spectra
//! against the CPU path. Those that need an adapter are ignored on a machine without a Vulkan
//! driver (`build.rs` sets `no_vulkan_driver`), except under CI (`CI=true`), where a missing adapter
//! fails them: CI installs lavapipe.
mod common;

use automaster::internals::analysis::gpu::cpu::{
    frame_power::frame_power, reduce_groups::reduce_groups, stft_power::stft_power,
};
use automaster::internals::analysis::gpu::shaders::stft_threads;
use automaster::internals::analysis::gpu::stft::{
    tables, ReduceParams, StftParams, Track, FRAMES_PER_GROUP, MAX_BANDS,
};
use automaster::internals::analysis::gpu::{DeviceChoice, GpuContext};
use automaster::internals::analysis::spectrum::{dynamics_band_bins, gated_spectra, GatedSpectra, StftSettings};
use common::Rng;

/// The adapter; a test that asks for one fails without it (on a machine with no Vulkan driver at
/// all it is ignored instead, see `build.rs`).
fn gpu() -> GpuContext {
    match GpuContext::new(DeviceChoice::Gpu) {
        Ok(Some(ctx)) => ctx,
        Ok(None) => panic!("no GPU adapter, though a Vulkan driver is installed"),
        Err(e) => panic!("GPU: {e}"),
    }
}

/// A stereo test signal: noise plus a few sines, different in left and right.
fn stereo(len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    let mut l = vec![0.0f32; len];
    let mut r = vec![0.0f32; len];
    for i in 0..len {
        let t = i as f64;
        l[i] = (0.3 * rng.signed() + 0.5 * (t * 0.031).sin()) as f32;
        r[i] = (0.2 * rng.signed() + 0.4 * (t * 0.113).sin() + 0.3 * (t * 0.031).sin()) as f32;
    }
    vec![l, r]
}

/// f64 DFT of the windowed mid or side of the frame at `start` (zero past the end), bins 0..=N/2.
fn dft_reference(channels: &[Vec<f32>], start: usize, n: usize, sign: f64) -> Vec<(f64, f64)> {
    let window = automaster::internals::dsp::window::hann_periodic(n);
    let x: Vec<f64> = (0..n)
        .map(|j| {
            let i = start + j;
            let v = if i < channels[0].len() {
                if channels.len() == 2 {
                    0.5 * (f64::from(channels[0][i]) + sign * f64::from(channels[1][i]))
                } else {
                    f64::from(channels[0][i])
                }
            } else {
                0.0
            };
            v * window[j]
        })
        .collect();
    (0..=n / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            for (j, &v) in x.iter().enumerate() {
                let a = -2.0 * std::f64::consts::PI * ((k * j) % n) as f64 / n as f64;
                re += v * a.cos();
                im += v * a.sin();
            }
            (re, im)
        })
        .collect()
}

fn planar(channels: &[Vec<f32>]) -> Vec<f32> {
    channels.concat()
}

/// Band edges at 44.1 kHz for an `n`-point FFT.
fn band_edges(n: usize) -> Vec<u32> {
    dynamics_band_bins(44_100, n).iter().map(|&e| e as u32).collect()
}

/// One frame through the CPU port of stft_power: the per-bin |M|², |S|², Re(M·S̄) sums, and the
/// frame's per-band Σ|M|² + |S|² (at 44.1 kHz band edges).
fn port_single_frame(channels: &[Vec<f32>], start: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let (window, twiddles) = tables(n);
    let edges = band_edges(n);
    let params = StftParams {
        len: channels[0].len() as u32,
        stereo: u32::from(channels.len() == 2),
        frames: 1,
        groups: 1,
        row: 1,
        bands: edges.len() as u32 - 1,
        ..Default::default()
    };
    let mut partials = vec![0.0f32; 3 * (n / 2 + 1)];
    let mut bands = vec![0.0f32; MAX_BANDS as usize];
    stft_power(
        &params,
        n as u32,
        stft_threads(n) as u32,
        &planar(channels),
        &[start as u32],
        &window,
        &twiddles,
        &mut partials,
        &edges,
        &mut bands,
    );
    (partials, bands)
}

#[test]
fn cpu_port_matches_an_f64_dft_at_every_size() {
    for n in [1024usize, 2048, 4096, 8192, 16384] {
        let channels = stereo(n + n / 3, n as u64);
        let start = n / 3; // the frame runs past the end: zero padding is exercised too
        let bins = n / 2 + 1;
        let (sums, bands) = port_single_frame(&channels, start, n);
        let mid = dft_reference(&channels, start, n, 1.0);
        let side = dft_reference(&channels, start, n, -1.0);
        let peak = mid.iter().chain(&side).map(|(re, im)| (re * re + im * im).sqrt()).fold(0.0, f64::max);
        // |X + e|² − |X|² ≤ 2|X||e| + |e|² with |e| ≤ 1e-5 of the frame's peak magnitude.
        let tol = 2e-5 * peak * peak;
        for k in 0..bins {
            let (m, s) = (mid[k], side[k]);
            let expected = [m.0 * m.0 + m.1 * m.1, s.0 * s.0 + s.1 * s.1, m.0 * s.0 + m.1 * s.1];
            for (a, e) in expected.iter().enumerate() {
                let got = f64::from(sums[a * bins + k]);
                assert!((got - e).abs() <= tol, "N={n} bin {k} array {a}: {got} vs {e} (tolerance {tol})");
            }
        }
        // Per-band sums against the f64 DFT's, within 1e-5 of the frame's total.
        let edges = band_edges(n);
        let power = |k: usize| mid[k].0.powi(2) + mid[k].1.powi(2) + side[k].0.powi(2) + side[k].1.powi(2);
        let total: f64 = (1..bins).map(power).sum();
        for b in 0..edges.len() - 1 {
            let expected: f64 = (edges[b] as usize..edges[b + 1] as usize).map(power).sum();
            let got = f64::from(bands[b]);
            assert!(
                (got - expected).abs() <= 1e-5 * total,
                "N={n} band {b}: {got} vs {expected} (frame total {total})"
            );
        }
    }
}

#[test]
fn cpu_port_structural_cases() {
    let n = 2048;
    let bins = n / 2 + 1;
    // An impulse at the window's peak (w[N/2] = 1) in mid only: a flat spectrum |X|² = 1.
    let mut l = vec![0.0f32; n];
    l[n / 2] = 1.0;
    let (sums, _) = port_single_frame(&[l.clone(), l], 0, n);
    for k in 0..bins {
        assert!((sums[k] - 1.0).abs() < 1e-5, "impulse bin {k}: {}", sums[k]);
        assert!(sums[bins + k].abs() < 1e-10, "impulse side bin {k}");
    }
    // An on-bin sine (bin 100) in the mid: Hann leaves bins 99..=101 only, 1:4:1 in amplitude² /16.
    let sine: Vec<f32> =
        (0..n).map(|i| (2.0 * std::f64::consts::PI * 100.0 * i as f64 / n as f64).cos() as f32).collect();
    let (sums, bands) = port_single_frame(&[sine.clone(), sine.clone()], 0, n);
    // Bin 100 of 2048 at 44.1 kHz is 2153 Hz: all of it in the 1–6 kHz band.
    assert!((f64::from(bands[2]) / (1.5 * centre_power(n)) - 1.0).abs() < 1e-4, "sine's band sum {}", bands[2]);
    assert!(bands[0] + bands[1] + bands[3] < 1e-6 * bands[2], "sine leaks into other bands: {bands:?}");
    let centre = f64::from(sums[100]);
    assert!((centre - (n as f64 / 4.0).powi(2)).abs() < 1e-3 * centre, "on-bin sine: {centre}");
    for k in (0..bins).filter(|k| !(99..=101).contains(k)) {
        assert!(f64::from(sums[k]) < 1e-8 * centre, "leakage at bin {k}: {}", sums[k]);
    }
    // Parseval: Σ_k |X[k]|² (one-sided, doubled except DC and Nyquist) = N Σ (w·x)².
    let channels = stereo(n, 7);
    let (sums, _) = port_single_frame(&channels, 0, n);
    let window = automaster::internals::dsp::window::hann_periodic(n);
    let energy: f64 = (0..n).map(|j| (0.5 * f64::from(channels[0][j] + channels[1][j]) * window[j]).powi(2)).sum();
    let spectral: f64 = (0..bins).map(|k| f64::from(sums[k]) * if k == 0 || k == bins - 1 { 1.0 } else { 2.0 }).sum();
    assert!((spectral / (n as f64 * energy) - 1.0).abs() < 1e-5, "Parseval: {spectral} vs {}", n as f64 * energy);
}

/// |X|² of an on-bin unit cosine at its bin under an `n`-point Hann window: (N/4)²; the 1:4:1
/// neighbours sum to 1.5 times that.
fn centre_power(n: usize) -> f64 {
    (n as f64 / 4.0).powi(2)
}

/// Frame-by-frame band powers of two analyses agree within 1e-4 of each frame's total.
fn assert_band_power_agrees(label: &str, a: &GatedSpectra, b: &GatedSpectra) {
    assert_eq!(a.band_bins, b.band_bins, "{label}: band edges");
    let bands = a.band_bins.len() - 1;
    assert_eq!(a.band_power.len(), b.band_power.len(), "{label}: frames");
    assert!(a.band_power.iter().any(|&v| v > 0.0), "{label}: no band power at all");
    for (f, (x, y)) in a.band_power.chunks_exact(bands).zip(b.band_power.chunks_exact(bands)).enumerate() {
        let total: f32 = x.iter().sum::<f32>().max(y.iter().sum());
        for (band, (p, q)) in x.iter().zip(y).enumerate() {
            assert!((p - q).abs() <= 1e-4 * total, "{label}: frame {f} band {band}: {p} vs {q}");
        }
    }
}

/// Per-bin agreement of two PSDs relative to the larger's peak, and of their 1/12-octave band
/// levels (where the band carries information) within `band_db`.
fn assert_spectra_agree(label: &str, a: &[f64], b: &[f64], bin_hz: f64, band_db: f64) {
    use automaster::internals::analysis::bands::{has_information, BandGrid};
    let peak = a.iter().chain(b).fold(0.0f64, |m, &v| m.max(v.abs()));
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 2e-5 * peak, "{label}: bin {k}: {x} vs {y} (peak {peak})");
    }
    let grid = BandGrid::standard();
    let (la, lb) = (grid.levels_db(a, bin_hz), grid.levels_db(b, bin_hz));
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        if has_information(*x) && *x > la.iter().cloned().fold(f64::MIN, f64::max) - 60.0 {
            assert!((x - y).abs() <= band_db, "{label}: band {} Hz: {x} vs {y} dB", grid.centers_hz[i]);
        }
    }
}

#[test]
#[cfg_attr(no_vulkan_driver, ignore = "no Vulkan driver on this machine (install mesa-vulkan-drivers)")]
fn gpu_spectra_match_the_cpu_path_at_several_sizes_and_chunkings() {
    let ctx = gpu();
    eprintln!("GPU adapter: {}", ctx.describe());
    // 44.1 kHz → 16384 points; 8 kHz → 4096; 3 kHz → 1024 (odd and even radix-4 stage counts).
    let cases = [(44_100u32, 4.0, false), (8_000, 30.0, false), (3_000, 20.0, true)];
    let signals: Vec<Vec<Vec<f32>>> = cases
        .iter()
        .map(|&(fs, seconds, mono)| {
            let len = (f64::from(fs) * seconds) as usize;
            let mut channels = stereo(len, u64::from(fs));
            // A quiet stretch the gate leaves out.
            for ch in &mut channels {
                for x in &mut ch[len / 3..len / 2] {
                    *x *= 1e-4;
                }
            }
            channels.truncate(if mono { 1 } else { 2 });
            channels
        })
        .collect();
    let refs: Vec<Vec<&[f32]>> = signals.iter().map(|c| c.iter().map(Vec::as_slice).collect()).collect();
    let tracks: Vec<Track> = refs
        .iter()
        .zip(&cases)
        .map(|(r, &(fs, _, _))| Track { channels: r, sample_rate: fs, settings: StftSettings::for_rate(fs) })
        .collect();
    // All three in one batch (one upload each), then each again cut into chunks of ≤ 40 000 samples.
    let batched = ctx.gated_spectra(&tracks, None).unwrap();
    for (i, (track, &(fs, _, _))) in tracks.iter().zip(&cases).enumerate() {
        let chunked = ctx.gated_spectra(std::slice::from_ref(track), Some(40_000)).unwrap().remove(0);
        let cpu = gated_spectra(&refs[i], fs, &StftSettings::for_rate(fs));
        for (how, gpu) in [("batched", &batched[i]), ("chunked", &chunked)] {
            let label = format!("{fs} Hz {how}");
            assert_eq!((gpu.frames_used, gpu.frames_total), (cpu.frames_used, cpu.frames_total), "{label}: frames");
            assert!(gpu.frames_used < gpu.frames_total, "{label}: the gate left frames out");
            assert_spectra_agree(&format!("{label} mid"), &gpu.mid_psd, &cpu.mid_psd, gpu.bin_hz, 0.001);
            assert_spectra_agree(&format!("{label} side"), &gpu.side_psd, &cpu.side_psd, gpu.bin_hz, 0.001);
            assert_spectra_agree(&format!("{label} cross"), &gpu.cross_psd, &cpu.cross_psd, gpu.bin_hz, f64::INFINITY);
            assert_band_power_agrees(&label, gpu, &cpu);
        }
    }
}

/// The whole GPU sequence mirrored by the CPU ports (single chunk): frame powers, the gate,
/// grouped spectra, the ordered reduction.
#[test]
#[cfg_attr(no_vulkan_driver, ignore = "no Vulkan driver on this machine (install mesa-vulkan-drivers)")]
fn gpu_matches_its_cpu_ports() {
    let ctx = gpu();
    let fs = 8_000;
    let channels = stereo(fs as usize * 20, 3);
    let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    let gpu = ctx
        .gated_spectra(&[Track { channels: &refs, sample_rate: fs, settings: StftSettings::for_rate(fs) }], None)
        .unwrap()
        .remove(0);

    let settings = StftSettings::for_rate(fs);
    let (n, hop) = (settings.fft_size, settings.hop);
    let (window, twiddles) = tables(n);
    let samples = planar(&channels);
    let len = channels[0].len();
    let frames = (len - n).div_ceil(hop) + 1;
    let edges: Vec<u32> = dynamics_band_bins(fs, n).iter().map(|&e| e as u32).collect();
    let bands = edges.len() - 1;
    let mut params =
        StftParams { len: len as u32, stereo: 1, frames: frames as u32, hop: hop as u32, row: 1, ..Default::default() };
    let mut power = vec![0.0f32; frames];
    frame_power(&params, n as u32, &samples, &window, &mut power);
    let mean = power.iter().map(|&p| f64::from(p)).sum::<f64>() / frames as f64;
    let used: Vec<u32> = (0..frames)
        .filter(|&i| f64::from(power[i]) >= mean * 0.01 && power[i] > 0.0)
        .map(|i| (i * hop) as u32)
        .collect();
    assert_eq!(used.len(), gpu.frames_used);
    params.frames = used.len() as u32;
    params.groups = params.frames.div_ceil(FRAMES_PER_GROUP);
    let bins = n / 2 + 1;
    params.bands = bands as u32;
    let mut partials = vec![0.0f32; params.groups as usize * 3 * bins];
    let mut band_sums = vec![0.0f32; used.len() * MAX_BANDS as usize];
    stft_power(
        &params,
        n as u32,
        stft_threads(n) as u32,
        &samples,
        &used,
        &window,
        &twiddles,
        &mut partials,
        &edges,
        &mut band_sums,
    );
    let mut totals = vec![0.0f32; 3 * bins];
    reduce_groups(
        &ReduceParams { values: (3 * bins) as u32, groups: params.groups, accumulate: 0, offset: 0 },
        &partials,
        &mut totals,
    );
    // Same scaling as the GPU path's spectra.
    let w2: f64 = automaster::internals::dsp::window::hann_periodic(n).iter().map(|w| w * w).sum();
    let scale = |k: usize| if k == 0 || k == bins - 1 { 1.0 } else { 2.0 } / (f64::from(fs) * w2 * used.len() as f64);
    let port: Vec<f64> = (0..bins).map(|k| f64::from(totals[k]) * scale(k)).collect();
    assert_spectra_agree("GPU vs CPU port, mid", &gpu.mid_psd, &port, gpu.bin_hz, 0.001);
    // The frame-by-frame band sums, row by row (the gated frames in order).
    let rows: Vec<&[f32]> = gpu.band_power.chunks_exact(bands).filter(|r| r.iter().any(|&v| v > 0.0)).collect();
    assert_eq!(rows.len(), used.len());
    let scale = automaster::internals::analysis::spectrum::band_power_scale(n);
    for (f, (row, port)) in rows.iter().zip(band_sums.chunks_exact(MAX_BANDS as usize)).enumerate() {
        let total: f64 = port[..bands].iter().map(|&v| f64::from(v) * scale).sum();
        for b in 0..bands {
            let want = f64::from(port[b]) * scale;
            assert!(
                (f64::from(row[b]) - want).abs() <= 1e-4 * total,
                "frame {f} band {b}: GPU {} vs port {want}",
                row[b]
            );
        }
    }
}

/// `analyze` through the GPU and through the CPU give the same profiles, and so the same plans.
#[test]
#[cfg_attr(no_vulkan_driver, ignore = "no Vulkan driver on this machine (install mesa-vulkan-drivers)")]
fn profiles_and_plans_agree_between_devices() {
    use automaster::internals::analysis::device::SpectrumDevice;
    use automaster::internals::matching::match_profiles;
    use automaster::internals::model::MatchSettings;
    use automaster::internals::progress::NoProgress;
    let _ = gpu();
    let dir = tempfile::tempdir().unwrap();
    let fs = 44_100;
    let mut paths = Vec::new();
    for (seed, name) in [(11u64, "target.wav"), (12, "reference.wav")] {
        let channels = stereo(fs as usize * 3, seed);
        let path = dir.path().join(name);
        common::write_wav_f32(&path, &channels, fs);
        paths.push(path);
    }
    let on_gpu = automaster::internals::jobs::analyze_files(
        &paths,
        &SpectrumDevice::new(DeviceChoice::Gpu).unwrap(),
        &NoProgress,
    )
    .unwrap();
    let on_cpu = automaster::internals::jobs::analyze_files(&paths, &SpectrumDevice::cpu(), &NoProgress).unwrap();
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        assert_eq!(g.spectrum.frames_used, c.spectrum.frames_used);
        for (a, b) in
            g.spectrum.mid_db.iter().zip(&c.spectrum.mid_db).chain(g.spectrum.side_db.iter().zip(&c.spectrum.side_db))
        {
            assert!((a - b).abs() <= 0.001, "band level {a} vs {b} dB");
        }
        assert_eq!(g.loudness, c.loudness, "loudness does not depend on the device");
        // The band dynamics come from the per-frame band powers, which the GPU computes too.
        for (a, b) in g.dynamics.bands.iter().zip(&c.dynamics.bands) {
            for (x, y) in [
                (a.short_term_p10_db, b.short_term_p10_db),
                (a.short_term_p50_db, b.short_term_p50_db),
                (a.short_term_p95_db, b.short_term_p95_db),
                (a.crest_db, b.crest_db),
                (a.width_db, b.width_db),
            ] {
                assert!((x - y).abs() <= 0.001, "band dynamics {x} vs {y} dB");
            }
        }
    }
    let settings = MatchSettings::default();
    let (pg, pc) = (
        match_profiles(&on_gpu[0], &on_gpu[1], &settings).unwrap(),
        match_profiles(&on_cpu[0], &on_cpu[1], &settings).unwrap(),
    );
    for (a, b) in
        pg.eq.mid.gain_db.iter().zip(&pc.eq.mid.gain_db).chain(pg.eq.side.gain_db.iter().zip(&pc.eq.side.gain_db))
    {
        assert!((a - b).abs() <= 0.001, "EQ {a} vs {b} dB");
    }
    assert_eq!(pg.loudness, pc.loudness);
    let spreads =
        |p: &automaster::internals::model::MasteringPlan| p.dynamics.goal.as_ref().map(|g| g.spread_db.clone());
    if let (Some(a), Some(b)) = (spreads(&pg), spreads(&pc)) {
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 0.001), "dynamics goals {a:?} vs {b:?}");
    } else {
        assert_eq!(spreads(&pg), spreads(&pc));
    }
}
