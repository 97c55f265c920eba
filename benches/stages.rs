//! Per-stage throughput on 60 s of synthetic stereo at 44.1 kHz (pink-ish noise with transients).
//! `cargo bench --bench stages`; figures go to BENCHMARKS.md.
use automaster::internals::analysis::gpu::stft::Track;
use automaster::internals::analysis::gpu::{DeviceChoice, GpuContext};
use automaster::internals::analysis::loudness::{k_weighted_power, loudness_stats};
use automaster::internals::analysis::spectrum::{gated_spectra, StftSettings};
use automaster::internals::dsp::compressor::CompressorSettings;
use automaster::internals::dsp::limiter::{LimiterSettings, TruePeakLimiter};
use automaster::internals::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use automaster::internals::dsp::multiband::Multiband;
use automaster::internals::dsp::true_peak::{bs1770_true_peak, TruePeakDetector};
use automaster::internals::progress::NoProgress;
use automaster::internals::report::{ReportData, Role, Source, Spectrogram};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const FS: u32 = 44_100;

fn signal(seconds: usize) -> Vec<Vec<f32>> {
    let n = seconds * FS as usize;
    let mut rng = automaster::internals::testing::Rng::new(0x1234_5678);
    let mut lp = [0.0f32; 2];
    (0..2)
        .map(|c| {
            (0..n)
                .map(|i| {
                    let white = rng.signed() as f32;
                    lp[c] = 0.97 * lp[c] + 0.03 * white;
                    let hit = if i % 22_050 < 200 { 0.8 } else { 0.0 };
                    0.5 * lp[c] * 8.0 + 0.1 * white + hit * white
                })
                .collect()
        })
        .collect()
}

fn stages(c: &mut Criterion) {
    // As the binary runs (see `automaster::internals::fpenv`): the limiter benches' quiet stretches would
    // otherwise time subnormal arithmetic.
    automaster::internals::fpenv::flush_subnormals_everywhere().expect("rayon's pool not yet built");
    let x = signal(60);
    let chans: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let samples = (x.len() * x[0].len()) as u64;
    let mut g = c.benchmark_group("stages_60s_stereo");
    g.sample_size(10);
    g.throughput(Throughput::Elements(samples));

    let detector = TruePeakDetector::new();
    let mut env = vec![0.0f32; x[0].len()];
    g.bench_function("true_peak_envelope_8x", |b| b.iter(|| detector.envelope(&chans, &mut env)));
    g.bench_function("true_peak_bs1770_4x", |b| b.iter(|| bs1770_true_peak(&chans)));

    let mut limiter = TruePeakLimiter::new(&LimiterSettings::default(), FS).unwrap();
    let (mut peaks, mut gain) = (vec![0.0f32; env.len()], vec![0.0f32; env.len()]);
    g.bench_function("limiter_window_peaks", |b| b.iter(|| limiter.window_peaks(&env, &mut peaks)));
    g.bench_function("limiter_gain_curve", |b| b.iter(|| limiter.gain_curve(&peaks, 4.0, &mut gain)));
    // A minute is shorter than the 16 pieces' warm-ups (9.6 s each): the render's full-rate curves
    // run on whole tracks, so the curve is also timed on five minutes (the minute's peaks, repeated).
    let long_peaks: Vec<f32> = peaks.iter().cycle().take(5 * peaks.len()).copied().collect();
    let mut long_gain = vec![0.0f32; long_peaks.len()];
    g.bench_function("limiter_gain_curve_5min", |b| b.iter(|| limiter.gain_curve(&long_peaks, 4.0, &mut long_gain)));

    let grid = automaster::internals::analysis::bands::BandGrid::standard();
    let curve = EqCurve {
        gain_db: grid.centers_hz.iter().map(|f| 3.0 * (f / 1000.0).log2().sin()).collect(),
        freqs_hz: grid.centers_hz,
    };
    let eq = LinearPhaseEq::new(&curve, FS).unwrap();
    let mut out = vec![0.0f32; x[0].len()];
    g.bench_function("linear_phase_eq_2ch", |b| {
        b.iter(|| {
            for ch in &x {
                eq.process(ch, &mut out);
            }
        })
    });

    let stft = StftSettings::for_rate(FS);
    g.bench_function("gated_stft_mid_side", |b| b.iter(|| gated_spectra(&chans, FS, &stft)));
    g.bench_function("loudness_stats", |b| b.iter(|| loudness_stats(&chans, FS)));
    g.bench_function("k_weighted_power", |b| b.iter(|| k_weighted_power(&chans, FS, 10)));

    // The dynamics stage's three costs: band envelopes (one forward and three inverse FFTs per
    // block and channel), one band's control-rate gains, and applying four active bands.
    let mb = Multiband::new(&[120.0, 1000.0, 6000.0], FS).unwrap();
    // Without an EQ the channels are only read.
    let mut owned = x.clone();
    g.bench_function("multiband_envelopes", |b| b.iter(|| mb.envelopes(&mut owned, &[])));
    let envelopes = mb.envelopes(&mut owned, &[]);
    let settings = CompressorSettings {
        threshold_db: -30.0,
        ratio: 2.0,
        rms_ms: 300.0,
        attack_ms: 60.0,
        release_ms: 250.0,
        ..Default::default()
    };
    g.bench_function("multiband_gains_one_band", |b| b.iter(|| mb.gains(&settings, &envelopes.power[1]).unwrap()));
    let gains: Vec<Option<Vec<f32>>> = envelopes.power.iter().map(|p| Some(mb.gains(&settings, p).unwrap())).collect();
    g.bench_function("multiband_apply_4_bands", |b| b.iter(|| mb.apply(&mut x.clone(), &gains, &[], &[])));
    // A report's own costs: the bounded spectrogram, and the page from two analysed inputs.
    let buffer = automaster::AudioBuffer::new(FS, x.clone());
    g.bench_function("report_spectrogram", |b| b.iter(|| Spectrogram::of(&buffer)));
    let profile = automaster::internals::analysis::analyze(&buffer, "bench.wav", &NoProgress).unwrap();
    let sources = || {
        [Role::Reference, Role::Input]
            .map(|role| Source { profile: profile.clone(), role, spectrogram: Some(Spectrogram::of(&buffer)) })
            .into_iter()
            .collect::<Vec<_>>()
    };
    let data = ReportData::build(sources(), 0, None).unwrap();
    g.bench_function("report_html_2_inputs", |b| b.iter(|| automaster::internals::report::to_html(&data).unwrap()));
    // The same STFT on a hardware GPU, when there is one (`--device auto`'s choice; a software
    // adapter would only measure the CPU again, slowly).
    match GpuContext::new(DeviceChoice::Auto) {
        Ok(Some(gpu)) => {
            eprintln!("GPU: {}", gpu.describe());
            let track = [Track { channels: &chans, sample_rate: FS, settings: stft.clone() }];
            g.bench_function("gated_stft_mid_side_gpu", |b| {
                b.iter(|| gpu.gated_spectra(&track, None).expect("GPU analysis"))
            });
        }
        _ => eprintln!("no hardware GPU: gated_stft_mid_side_gpu skipped"),
    }
    g.finish();
}

/// Delivery's own costs on the same 60 s: sample-rate conversion both ways between 44.1 and
/// 48 kHz, dither, FLAC encoding at 16 and 24 bits, and the codec check's Opus round trip.
fn delivery(c: &mut Criterion) {
    use automaster::internals::dsp::resample::resample;
    use automaster::internals::io::flac::write_flac;
    use automaster::internals::model::{BitDepth, Dither};
    use automaster::internals::render::dither::quantize;
    use criterion::BatchSize;
    let x = signal(60);
    let buffer = automaster::AudioBuffer::new(FS, x.clone());
    let mut g = c.benchmark_group("delivery_60s_stereo");
    g.sample_size(10);
    g.throughput(Throughput::Elements((x.len() * x[0].len()) as u64));
    g.bench_function("resample_44k1_to_48k", |b| {
        b.iter_batched(|| buffer.clone(), |input| resample(input, 48_000).unwrap(), BatchSize::LargeInput)
    });
    let at_48k = resample(buffer.clone(), 48_000).unwrap();
    g.bench_function("resample_48k_to_44k1", |b| {
        b.iter_batched(|| at_48k.clone(), |input| resample(input, FS).unwrap(), BatchSize::LargeInput)
    });
    for (name, dither) in [("dither_tpdf_16", Dither::Tpdf), ("dither_shaped_16", Dither::Shaped)] {
        g.bench_function(name, |b| {
            b.iter_batched(|| buffer.clone(), |mut x| quantize(&mut x, BitDepth::Int16, dither), BatchSize::LargeInput)
        });
    }
    for bits in [16u16, 24] {
        let mut q = buffer.clone();
        quantize(&mut q, if bits == 16 { BitDepth::Int16 } else { BitDepth::Int24 }, Dither::Tpdf);
        g.bench_function(format!("flac_encode_{bits}"), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(1 << 24);
                write_flac(&mut out, &q, bits).unwrap();
                out.len()
            })
        });
    }
    g.bench_function("codec_check_opus_160_round_trip", |b| {
        b.iter(|| automaster::internals::io::lossy::opus_round_trip(&at_48k, 160).unwrap())
    });
    g.finish();
}

criterion_group!(benches, stages, delivery);
criterion_main!(benches);
