//! End-to-end quality through the library: identity, recovery of a known degradation, alignment,
//! determinism. Independent oracles (f64 Welch band levels, ebur128, a 16× FFT peak meter) judge.
mod common;

use automaster::internals::analysis::analyze;
use automaster::internals::dsp::limiter::LimiterSettings;
use automaster::internals::dsp::linear_phase_eq::EqCurve;
use automaster::internals::matching::match_profiles;
use automaster::internals::model::BitDepth;
use automaster::internals::model::MatchSettings;
use automaster::internals::model::{
    DynamicsPlan, EqPlan, LoudnessTarget, MasteringPlan, Provenance, StereoPlan, PLAN_SCHEMA_VERSION,
};
use automaster::internals::progress::NoProgress;
use automaster::internals::render::{render, render_alongside};
use automaster::AudioBuffer;
use common::*;

const FS: u32 = 44_100;

fn master(
    target: &AudioBuffer,
    reference: &AudioBuffer,
    settings: &MatchSettings,
    depth: BitDepth,
) -> (AudioBuffer, MasteringPlan) {
    let t = analyze(target, "target", &NoProgress).unwrap();
    let r = analyze(reference, "reference", &NoProgress).unwrap();
    let plan = match_profiles(&t, &r, settings).unwrap();
    let (out, _) = render(target.clone(), &plan, depth, "target", &NoProgress).unwrap();
    (out, plan)
}

fn residual_db(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let (mut err, mut sig) = (0.0f64, 0.0f64);
    for (ca, cb) in a.iter().zip(b) {
        for (&x, &y) in ca.iter().zip(cb) {
            err += (f64::from(x) - f64::from(y)).powi(2);
            sig += f64::from(y).powi(2);
        }
    }
    10.0 * (err / sig).log10()
}

#[test]
fn identity_a_track_mastered_against_itself_is_unchanged() {
    let mut mix = synthetic_mix(12.0, FS, 1);
    normalize_peak(&mut mix, 0.5); // −6 dBFS: already under the −1 dBTP ceiling
    let buf = AudioBuffer::new(FS, mix.clone());
    let (out, _) = master(&buf, &buf, &MatchSettings::default(), BitDepth::Int24);
    assert_eq!(out.frames(), buf.frames());
    let r = residual_db(&out.channels, &mix);
    assert!(r < -50.0, "residual {r:.1} dB");
}

#[test]
fn recovery_a_known_eq_narrowing_and_level_drop_is_undone() {
    let mut original = synthetic_mix(20.0, FS, 2);
    normalize_peak(&mut original, 0.35);
    // Degrade: +4 dB low shelf at 100 Hz, −3 dB bell at 3 kHz, side −4 dB, −10 dB overall.
    let mut degraded = original.clone();
    let fs = f64::from(FS);
    for ch in &mut degraded {
        Biquad::low_shelf(fs, 100.0, 4.0).process(ch);
        Biquad::bell(fs, 3000.0, 1.0, -3.0).process(ch);
    }
    let (l, r) = (degraded[0].clone(), degraded[1].clone());
    let side_gain = 10f32.powf(-4.0 / 20.0);
    let level = 10f32.powf(-10.0 / 20.0);
    for i in 0..l.len() {
        let (m, s) = ((l[i] + r[i]) * 0.5, (l[i] - r[i]) * 0.5 * side_gain);
        degraded[0][i] = (m + s) * level;
        degraded[1][i] = (m - s) * level;
    }
    let (out, _) = master(
        &AudioBuffer::new(FS, degraded.clone()),
        &AudioBuffer::new(FS, original.clone()),
        &MatchSettings::default(),
        BitDepth::Float32,
    );

    let (om, os, centres) = third_octave_levels(&original, FS);
    let (dm, ds, _) = third_octave_levels(&degraded, FS);
    let (rm, rs, _) = third_octave_levels(&out.channels, FS);
    let worst = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    for (i, c) in centres.iter().enumerate() {
        assert!(
            (rm[i] - om[i]).abs() <= 0.5,
            "mid {c:.0} Hz off by {:.2} dB (degraded {:.2})",
            rm[i] - om[i],
            dm[i] - om[i]
        );
        assert!(
            (rs[i] - os[i]).abs() <= 0.5,
            "side {c:.0} Hz off by {:.2} dB (degraded {:.2})",
            rs[i] - os[i],
            ds[i] - os[i]
        );
    }
    // The degradation was real: it moved bands by several dB.
    assert!(worst(&dm, &om) > 9.0 && worst(&ds, &os) > 13.0);
    let (lo, lr) = (ebur128_lufs(&out.channels, FS), ebur128_lufs(&original, FS));
    assert!((lo - lr).abs() <= 0.1, "loudness {lo:.3} vs {lr:.3}");
}

fn impulse_plan(target_lufs: f64) -> MasteringPlan {
    let freqs: Vec<f64> = (0..40).map(|k| 20.0 * 2f64.powf(k as f64 / 4.0)).collect();
    let tilt: Vec<f64> = freqs.iter().map(|f| 3.0 * (f / 1000.0).log2() / 5.0).collect();
    MasteringPlan {
        restore: None,
        schema_version: PLAN_SCHEMA_VERSION,
        eq: EqPlan {
            mid: EqCurve { freqs_hz: freqs.clone(), gain_db: tilt.clone() },
            side: EqCurve { freqs_hz: freqs.clone(), gain_db: tilt },
        },
        stereo: StereoPlan { width: EqCurve::flat(freqs), bass_mono_hz: None },
        dynamics: DynamicsPlan { multiband: None, goal: None, leveler: None },
        loudness: LoudnessTarget { target_lufs, max_limiting_db: None, fixed_gain_db: None },
        limiter: LimiterSettings { ceiling_dbtp: 0.0, ..Default::default() },
        provenance: Provenance {
            target: "t".into(),
            reference: "r".into(),
            target_lufs_before: 0.0,
            reference_lufs: 0.0,
            settings: MatchSettings::default(),
        },
    }
}

#[test]
fn alignment_output_length_and_impulse_position_are_preserved() {
    for (fs, len, at) in
        [(44_100u32, 44_100 * 3 + 17, 50_001usize), (48_000, 48_000 * 2 + 5, 3), (96_000, 96_000 * 2, 150_000)]
    {
        let mut ch = vec![0.0f32; len];
        ch[at] = 0.25;
        let buf = AudioBuffer::new(fs, vec![ch.clone(), ch]);
        let lufs =
            automaster::internals::analysis::loudness::integrated_lufs(&[&buf.channels[0], &buf.channels[1]], fs)
                .unwrap();
        let (out, report) =
            render(buf.clone(), &impulse_plan(lufs), BitDepth::Float32, "impulse", &NoProgress).unwrap();
        assert_eq!(out.frames(), len);
        assert!(report.limit.max_gain_reduction_db < 0.01, "{report:?}");
        for c in &out.channels {
            let argmax =
                c.iter().enumerate().fold((0, 0.0f32), |m, (i, &v)| if v.abs() > m.1 { (i, v.abs()) } else { m }).0;
            assert_eq!(argmax, at, "fs {fs}");
        }
    }
}

#[test]
fn determinism_two_renders_of_one_plan_are_bit_identical() {
    let mut mix = synthetic_mix(6.0, FS, 3);
    normalize_peak(&mut mix, 0.9);
    let target = AudioBuffer::new(FS, mix.clone());
    let mut reference = synthetic_mix(6.0, FS, 4);
    for ch in &mut reference {
        Biquad::bell(f64::from(FS), 500.0, 0.7, 5.0).process(ch);
    }
    normalize_peak(&mut reference, 1.0);
    let (a, plan) = master(
        &target,
        &AudioBuffer::new(FS, reference),
        &MatchSettings { target_lufs: Some(-9.0), ..Default::default() },
        BitDepth::Int16,
    );
    let (b, _) = render(target, &plan, BitDepth::Int16, "again", &NoProgress).unwrap();
    assert!(a.channels.iter().flatten().zip(b.channels.iter().flatten()).all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn mono_target_gives_a_mono_master_at_its_own_rate() {
    let mut mix = synthetic_mix(6.0, 48_000, 5);
    let mono: Vec<f32> = mix[0].iter().zip(&mix[1]).map(|(l, r)| 0.5 * (l + r)).collect();
    normalize_peak(&mut mix, 0.9);
    let (out, _) = master(
        &AudioBuffer::new(48_000, vec![mono]),
        &AudioBuffer::new(48_000, mix),
        &MatchSettings::default(),
        BitDepth::Int24,
    );
    assert_eq!((out.num_channels(), out.sample_rate), (1, 48_000));
}

#[test]
fn pink_versus_white_gives_a_minus_3_db_per_octave_correction() {
    let n = FS as usize * 20;
    let mut rng = Rng::new(9);
    let white: Vec<f32> = (0..n).map(|_| (rng.signed() * 0.3) as f32).collect();
    let pinkn: Vec<f32> = pink(n, &mut rng).iter().map(|&v| v as f32).collect();
    let t = analyze(&AudioBuffer::new(FS, vec![white]), "white", &NoProgress).unwrap();
    let r = analyze(&AudioBuffer::new(FS, vec![pinkn]), "pink", &NoProgress).unwrap();
    let settings = MatchSettings { max_boost_db: 30.0, max_cut_db: 30.0, ..Default::default() };
    let plan = match_profiles(&t, &r, &settings).unwrap();
    let c = &plan.eq.mid;
    // Slope between 100 Hz and 6.4 kHz (6 octaves), where the pink filter is accurate.
    let slope = (c.gain_db_at(6400.0) - c.gain_db_at(100.0)) / 6.0;
    assert!((slope + 3.0).abs() < 0.3, "slope {slope:.2} dB/oct");
}

#[test]
fn analysis_does_not_depend_on_thread_count() {
    let mut mix = synthetic_mix(8.0, FS, 6);
    normalize_peak(&mut mix, 0.8);
    let buf = AudioBuffer::new(FS, mix);
    let with_threads = |n: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        pool.install(|| analyze(&buf, "mix", &NoProgress).unwrap())
    };
    assert_eq!(with_threads(1), with_threads(3));
}

/// The output is handed on (written, in `master`) while it is verified; a verification pass that
/// limits again must hand it on again, so that what was handed on last is the returned, verified
/// output. Loud 16-bit noise makes the dither's overs likely, so some runs take such a pass.
#[test]
fn the_last_output_handed_on_is_the_verified_one() {
    let mut passes_seen = 0;
    for (seed, target_lufs) in [(11u64, -4.0), (12, -3.0), (13, -2.0)] {
        let mut rng = Rng::new(seed);
        let noise: Vec<Vec<f32>> = (0..2).map(|_| rng.noise(FS as usize * 3, 0.9)).collect();
        let mut handed: Vec<Vec<Vec<f32>>> = Vec::new();
        let (out, report, ()) = render_alongside(
            AudioBuffer::new(FS, noise),
            &impulse_plan(target_lufs),
            BitDepth::Int16.into(),
            "noise",
            &NoProgress,
            |b| {
                handed.push(b.channels.clone());
                Ok(())
            },
        )
        .unwrap();
        let passes = report.limit.verify_passes;
        passes_seen += passes;
        assert_eq!(handed.len(), 1 + usize::from(passes > 0), "target {target_lufs}: {passes} verification passes");
        assert!(
            handed.last() == Some(&out.channels),
            "target {target_lufs}: the last output handed on is not the returned one"
        );
        assert!(report.limit.output_true_peak_dbtp <= 0.0 + 1e-6 || passes == 4, "{report:?}");
    }
    assert!(passes_seen > 0, "no run took a verification pass: the second hand-on went untested");
}

/// A mix that needs more tonal correction than the EQ's ±12 dB allow: its top two octaves 16 dB
/// down and a +16 dB resonance a third of an octave wide at 63 Hz (32 dB of range for 24). What
/// the limits leave undone goes where it costs least: the broad top end comes back within 1.5 dB
/// (splitting the overflow equally between the two ends left it 3.8 dB short) and the level-free
/// tonal distance to the original is below the 1.89 dB that split gave (1.53 measured).
#[test]
fn a_correction_beyond_the_limits_leaves_its_shortfall_where_it_costs_least() {
    let mut original = synthetic_mix(20.0, FS, 5);
    normalize_peak(&mut original, 0.5);
    let mut target = original.clone();
    let shape = |f: f64| -16.0 * ((f / 4000.0).log2() * 4.0).clamp(0.0, 1.0) + third_octave_bump(f, 63.0, 16.0);
    shape_mid_side(&mut target, FS, shape, shape);
    normalize_peak(&mut target, 0.3);
    let settings = MatchSettings { dynamics_amount: 0.0, ..Default::default() };
    let (out, _) = master(
        &AudioBuffer::new(FS, target.clone()),
        &AudioBuffer::new(FS, original.clone()),
        &settings,
        BitDepth::Float32,
    );
    let (om, _, centres) = third_octave_levels(&original, FS);
    let (rm, _, _) = third_octave_levels(&out.channels, FS);
    let diff: Vec<f64> = rm.iter().zip(&om).map(|(r, o)| r - o).collect();
    let mean_over = |lo: f64, hi: f64| {
        let sel: Vec<f64> =
            centres.iter().zip(&diff).filter(|(c, _)| (lo..=hi).contains(*c)).map(|(_, d)| *d).collect();
        sel.iter().sum::<f64>() / sel.len() as f64
    };
    let top_short = mean_over(250.0, 2000.0) - mean_over(5000.0, 16_000.0);
    let mean = diff.iter().sum::<f64>() / diff.len() as f64;
    let tonal = (diff.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / diff.len() as f64).sqrt();
    eprintln!("top two octaves short by {top_short:.2} dB; tonal distance {tonal:.2} dB");
    assert!(top_short.abs() <= 1.5, "the top end is {top_short:.2} dB short");
    assert!(tonal <= 1.65, "tonal distance {tonal:.2} dB");
}
