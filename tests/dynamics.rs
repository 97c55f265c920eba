//! Dynamics and stereo image matching: bass mono through the render's side filter, and synthetic
//! mixes whose dynamics and width were changed, mastered back against the original. Independent
//! oracles judge: the `ebur128` crate for loudness and loudness range, a 16× FFT meter for true peak.
mod common;

use automaster::internals::analysis::analyze;
use automaster::internals::audio::AudioBuffer;
use automaster::internals::dsp::linear_phase_eq::EqCurve;
use automaster::internals::matching::match_profiles;
use automaster::internals::model::BitDepth;
use automaster::internals::model::MatchSettings;
use automaster::internals::model::{DynamicsGoal, EqPlan, StereoPlan};
use automaster::internals::progress::NoProgress;
use automaster::internals::render::{apply_eq, render};
use common::*;

const FS: u32 = 44_100;

fn rms_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).log10()
}

fn tone(freq_hz: f64, n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.5 * (std::f64::consts::TAU * freq_hz * i as f64 / f64::from(FS)).sin() as f32).collect()
}

#[test]
fn bass_mono_removes_low_side_only_and_leaves_mono_alone() {
    let grid: Vec<f64> = automaster::internals::analysis::bands::BandGrid::standard().centers_hz;
    let eq = EqPlan { mid: EqCurve::flat(grid.clone()), side: EqCurve::flat(grid.clone()) };
    let stereo = StereoPlan { width: EqCurve::flat(grid), bass_mono_hz: Some(120.0) };
    let n = FS as usize * 2;
    let inner = |x: &[f32]| x[FS as usize / 2..n - FS as usize / 2].to_vec();
    let side_only = |f: f64| {
        let t = tone(f, n);
        let neg: Vec<f32> = t.iter().map(|v| -v).collect();
        let mut buf = AudioBuffer::new(FS, vec![t.clone(), neg]);
        apply_eq(&mut buf, &eq, &stereo).unwrap();
        rms_db(&inner(&buf.channels[0])) - rms_db(&inner(&t))
    };
    let low = side_only(50.0);
    assert!(low <= -20.0, "50 Hz side tone changed by {low:.2} dB");
    let high = side_only(1000.0);
    assert!(high.abs() <= 0.1, "1 kHz side tone changed by {high:.3} dB");
    // Mono in, the same mono out, sample for sample.
    let t = tone(50.0, n);
    let mut buf = AudioBuffer::new(FS, vec![t.clone(), t.clone()]);
    apply_eq(&mut buf, &eq, &stereo).unwrap();
    assert_eq!(buf.channels, vec![t.clone(), t]);
}

fn ebur128_lra(channels: &[Vec<f32>]) -> f64 {
    let mut m = ebur128::EbuR128::new(channels.len() as u32, FS, ebur128::Mode::LRA | ebur128::Mode::I).unwrap();
    let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    m.add_frames_planar_f32(&refs).unwrap();
    m.loudness_range().unwrap()
}

/// Masters `target` against `original` and checks loudness range, PLR and per-band width against
/// the original's.
fn check_recovery(label: &str, original: &[Vec<f32>], target: &[Vec<f32>]) {
    let t = analyze(&AudioBuffer::new(FS, target.to_vec()), "target", &NoProgress).unwrap();
    let r = analyze(&AudioBuffer::new(FS, original.to_vec()), "original", &NoProgress).unwrap();
    let plan = match_profiles(&t, &r, &MatchSettings { dynamics_amount: 1.0, ..Default::default() }).unwrap();
    assert!(plan.dynamics.goal.is_some(), "{label}: the matching asked for no dynamics change");
    let (out, report) =
        render(AudioBuffer::new(FS, target.to_vec()), &plan, BitDepth::Float32, "target", &NoProgress).unwrap();
    let lra = |c: &[Vec<f32>]| ebur128_lra(c);
    let plr = |c: &[Vec<f32>]| true_peak_db_fft16(c, FS) - ebur128_lufs(c, FS);
    let (lo, lr, lt) = (lra(&out.channels), lra(original), lra(target));
    let (po, pr) = (plr(&out.channels), plr(original));
    eprintln!(
        "{label}: LRA target {lt:.2} → output {lo:.2} (original {lr:.2}); PLR {po:.2} (original {pr:.2}); {:?}",
        report.dynamics.as_ref().map(|d| &d.bands)
    );
    assert!((lt - lr).abs() > 2.0, "{label}: the degradation must move LRA by more than 2 LU");
    assert!((lo - lr).abs() <= 1.0, "{label}: LRA {lo:.2} vs original {lr:.2} (target {lt:.2})");
    assert!((po - pr).abs() <= 1.0, "{label}: PLR {po:.2} vs original {pr:.2}");
    let o = analyze(&out, "output", &NoProgress).unwrap();
    for (b, (ob, rb)) in o.dynamics.bands.iter().zip(&r.dynamics.bands).enumerate() {
        assert!(
            (ob.width_db - rb.width_db).abs() <= 1.0,
            "{label}: band {b} width {:.2} vs original {:.2} dB",
            ob.width_db,
            rb.width_db
        );
    }
}

#[test]
fn expanded_and_narrowed_mix_comes_back_to_the_originals_range_plr_and_width() {
    let mut original = moving_mix(FS, 48.0, 6.0, 1.0, 21);
    normalize_peak(&mut original, 0.5);
    // More movement (±8 dB instead of ±3), side −6 dB, 6 dB quieter.
    let mut target = moving_mix(FS, 48.0, 16.0, 0.5, 21);
    normalize_peak(&mut target, 0.25);
    check_recovery("expanded", &original, &target);
}

#[test]
fn squashed_and_narrowed_mix_comes_back_to_the_originals_range_plr_and_width() {
    let mut original = moving_mix(FS, 48.0, 10.0, 1.0, 22);
    normalize_peak(&mut original, 0.5);
    let mut target = moving_mix(FS, 48.0, 5.0, 0.5, 22);
    normalize_peak(&mut target, 0.25);
    check_recovery("squashed", &original, &target);
}

/// A plan with a dynamics goal renders, fits and reports its settings; the plan with those settings
/// in place of the goal (what `--plan-out` saves) renders the same samples, bit for bit.
#[test]
fn a_fitted_dynamics_plan_re_renders_identically() {
    let mut mix = moving_mix(FS, 12.0, 10.0, 1.0, 23);
    normalize_peak(&mut mix, 0.5);
    let buf = AudioBuffer::new(FS, mix);
    let t = analyze(&buf, "mix", &NoProgress).unwrap();
    let mut plan = match_profiles(&t, &t, &MatchSettings::default()).unwrap();
    // The mix's own band spreads are about 10 dB: tighten three bands, widen one.
    plan.dynamics.goal = Some(DynamicsGoal {
        crossovers_hz: vec![120.0, 1000.0, 6000.0],
        spread_db: vec![7.0, 7.0, 12.0, 7.0],
        amount: 1.0,
        loudness_range_lu: None,
    });
    let (a, report) = render(buf.clone(), &plan, BitDepth::Int24, "mix", &NoProgress).unwrap();
    let d = report.dynamics.expect("the stage ran");
    assert!(d.settings.bands[0].ratio > 1.0 && d.settings.bands[2].expansion_ratio > 1.0, "{:?}", d.settings);
    for (b, r) in d.bands.iter().enumerate() {
        // Each band moved toward its goal.
        assert!(
            (r.spread_after_db - r.spread_goal_db).abs() < (r.spread_before_db - r.spread_goal_db).abs(),
            "band {b}: {r:?}"
        );
    }
    plan.dynamics.goal = None;
    plan.dynamics.multiband = Some(d.settings);
    let (b, _) = render(buf, &plan, BitDepth::Int24, "mix", &NoProgress).unwrap();
    assert!(a.channels.iter().flatten().zip(b.channels.iter().flatten()).all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// A mix that must get 16 dB louder: the limiter takes the loud end off its sections and with it
/// loudness range. With the mix's own range in the goal the leveller wins it back to within 1 LU
/// (ebur128 as the meter); without it (bands alone) the output ends more than 1.5 LU short. The plan
/// with the fitted leveller in place of the goal re-renders bit for bit.
#[test]
fn the_leveller_wins_back_the_range_the_limiter_takes() {
    // Level swelling ±5 dB over 17 s: a smooth spread of short-term loudness (alternating sections
    // would put P10 and P95 on two plateaus, where the range jumps as either plateau moves).
    let mut chans = synthetic_mix(51.0, FS, 31);
    for ch in &mut chans {
        for (i, x) in ch.iter_mut().enumerate() {
            *x *= 10f64.powf(5.0 * (std::f64::consts::TAU * i as f64 / (17.0 * f64::from(FS))).sin() / 20.0) as f32;
        }
    }
    normalize_peak(&mut chans, 0.25);
    let own = ebur128_lra(&chans);
    let buf = AudioBuffer::new(FS, chans.clone());
    let t = analyze(&buf, "mix", &NoProgress).unwrap();
    let spread_db: Vec<f64> = t.dynamics.bands.iter().map(|b| b.short_term_p95_db - b.short_term_p10_db).collect();
    let mut plan = match_profiles(&t, &t, &MatchSettings::default()).unwrap();
    plan.loudness.target_lufs = t.loudness.integrated_lufs + 19.0;
    let render_with = |plan: &automaster::internals::model::MasteringPlan| {
        render(buf.clone(), plan, BitDepth::Int24, "mix", &NoProgress).unwrap()
    };
    let goal = |range: Option<f64>| {
        Some(DynamicsGoal {
            crossovers_hz: vec![120.0, 1000.0, 6000.0],
            spread_db: spread_db.clone(),
            amount: 1.0,
            loudness_range_lu: range,
        })
    };
    plan.dynamics.goal = goal(None);
    let (bands_alone, _) = render_with(&plan);
    plan.dynamics.goal = goal(Some(own));
    let (levelled, report) = render_with(&plan);
    let (without, with) = (ebur128_lra(&bands_alone.channels), ebur128_lra(&levelled.channels));
    let d = report.dynamics.expect("the stage ran");
    eprintln!(
        "LRA own {own:.2}; bands alone {without:.2}; levelled {with:.2}; {:?}; limiter {:.1} dB",
        d.leveler, report.limit.max_gain_reduction_db
    );
    assert!(own - without > 1.5, "the limiter must take range here: {own:.2} → {without:.2}");
    assert!((with - own).abs() <= 1.0, "levelled {with:.2} vs own {own:.2}");
    let leveler = d.leveler.expect("the leveller ran");
    assert!(leveler.settings.ratio > 1.0 && leveler.max_boost_db == 0.0, "{leveler:?}");
    plan.dynamics.goal = None;
    plan.dynamics.multiband = Some(d.settings);
    plan.dynamics.leveler = Some(leveler.settings);
    let (again, _) = render_with(&plan);
    assert!(levelled
        .channels
        .iter()
        .flatten()
        .zip(again.channels.iter().flatten())
        .all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// The profile's band dynamics against levels known by construction: a 3 kHz tone (band 1–6 kHz)
/// alternating every 10 s between two levels 10 dB apart, and a 50 Hz tone with R at half of L.
#[test]
fn profile_band_dynamics_match_known_levels() {
    let n = FS as usize * 60;
    let section = FS as usize * 10;
    let (mut l, mut r) = (vec![0.0f32; n], vec![0.0f32; n]);
    let loud = 0.3f64;
    for i in 0..n {
        let t = i as f64 / f64::from(FS);
        let a = if (i / section).is_multiple_of(2) { loud } else { loud / 10f64.sqrt() };
        let tone = a * (std::f64::consts::TAU * 3000.0 * t).sin();
        let bass = 0.2 * (std::f64::consts::TAU * 50.0 * t).sin();
        l[i] = (tone + bass) as f32;
        r[i] = (tone + 0.5 * bass) as f32;
    }
    let p = analyze(&AudioBuffer::new(FS, vec![l, r]), "known", &NoProgress).unwrap();
    let presence = &p.dynamics.bands[2];
    // |M|² + |S|² of a tone of amplitude a in both channels: a²/2.
    let loud_db = 10.0 * (loud * loud / 2.0).log10();
    assert!((presence.short_term_p95_db - loud_db).abs() < 0.1, "P95 {} vs {loud_db}", presence.short_term_p95_db);
    assert!(
        (presence.short_term_p10_db - (loud_db - 10.0)).abs() < 0.1,
        "P10 {} vs {}",
        presence.short_term_p10_db,
        loud_db - 10.0
    );
    // The bass: M = 0.75 b, S = 0.25 b, so side − mid = 20·log10(1/3) = −9.54 dB; L and R in phase.
    let lows = &p.dynamics.bands[0];
    assert!((lows.width_db - 20.0 * (1.0f64 / 3.0).log10()).abs() < 0.05, "width {}", lows.width_db);
    assert!((lows.correlation - 1.0).abs() < 1e-3, "correlation {}", lows.correlation);
    assert!(lows.short_term_p95_db - lows.short_term_p10_db < 0.2, "a steady tone has no spread");
    assert_eq!(p.dynamics.mono_below_hz, None, "side 9.5 dB under mid is not mono");
}

/// Tonal distance (RMS of the level-free 1/3-octave mid difference) and width distance between two
/// stereo signals, by the Welch oracle.
fn balance_distance(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f64, f64) {
    let ((am, as_, _), (bm, bs, _)) = (third_octave_levels(a, FS), third_octave_levels(b, FS));
    let d: Vec<f64> = am.iter().zip(&bm).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let tonal = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
    let w: Vec<f64> = (0..am.len()).map(|i| (as_[i] - am[i]) - (bs[i] - bm[i])).collect();
    (tonal, (w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64).sqrt())
}

/// Time-varying gains reweigh a track's moments, and with them its spectrum: a limiter pushed hard
/// into a mix turns its kicks down and so thins the long-term bass; the dynamics stage reweighs too.
/// With a flat EQ and the limiter pushed 20 dB (its deepest cut ~20 dB), the long-term balance must
/// stay close to the input's: tonal ≤ 0.55 dB and width ≤ 1.05 dB (Welch oracle). Without the
/// compensation EQ this mix measured 0.85 and 1.18 dB; with it 0.41 and 0.91.
#[test]
fn the_long_term_balance_survives_the_stage_and_the_limiter() {
    let mut chans = moving_mix(FS, 32.0, 8.0, 1.0, 78);
    normalize_peak(&mut chans, 0.25);
    let buf = AudioBuffer::new(FS, chans.clone());
    let t = analyze(&buf, "mix", &NoProgress).unwrap();
    let mut plan = match_profiles(&t, &t, &MatchSettings::default()).unwrap();
    plan.dynamics.goal = Some(DynamicsGoal {
        crossovers_hz: vec![120.0, 1000.0, 6000.0],
        spread_db: vec![6.0, 8.0, 8.0, 8.0],
        amount: 1.0,
        loudness_range_lu: None,
    });
    plan.loudness.target_lufs = t.loudness.integrated_lufs + 20.0;
    let (out, report) = render(buf, &plan, BitDepth::Float32, "mix", &NoProgress).unwrap();
    let d = report.dynamics.expect("the stage ran");
    let (tonal, width) = balance_distance(&out.channels, &chans);
    assert!(d.compensation.is_some(), "no compensation for a mix whose balance moves with its level");
    assert!(
        report.limit.max_gain_reduction_db > 6.0,
        "the limiter must work hard here: {:.1} dB",
        report.limit.max_gain_reduction_db
    );
    assert!(tonal <= 0.55 && width <= 1.05, "balance drifted: tonal {tonal:.2} dB, width {width:.2} dB");
}
