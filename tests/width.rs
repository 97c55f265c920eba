//! Width that follows the reference in every band: synthetic mixes whose side was reshaped in
//! 1/3-octave bands, mastered against the original with the dynamics stage on, must come back to
//! the original's side − mid per 1/3-octave band (40 Hz – 16 kHz, the yardstick's width), judged by
//! the independent f64 Welch band levels.
mod common;

use automaster::internals::analysis::analyze;
use automaster::internals::audio::AudioBuffer;
use automaster::internals::matching::match_profiles;
use automaster::internals::model::{BitDepth, MasteringPlan, MatchSettings};
use automaster::internals::progress::NoProgress;
use automaster::internals::render::render;
use common::*;

const FS: u32 = 44_100;

/// Side gains of the degraded targets: ±6 dB in 1/3-octave bands from the low end to the top
/// octave.
const SIDE_BUMPS: [(f64, f64); 6] =
    [(100.0, 6.0), (397.0, -6.0), (1587.0, 6.0), (5040.0, -6.0), (10_079.0, 6.0), (16_000.0, -6.0)];

fn side_bumps(f: f64) -> f64 {
    SIDE_BUMPS.iter().map(|&(c, g)| third_octave_bump(f, c, g)).sum()
}

/// Masters `target` against `original` (dynamics on, at its default amount) and returns the worst
/// side − mid error per 1/3-octave band against the original, the worst degradation and the plan.
fn width_recovery(original: &[Vec<f32>], target: &[Vec<f32>]) -> (f64, f64, MasteringPlan) {
    let t = analyze(&AudioBuffer::new(FS, target.to_vec()), "target", &NoProgress).unwrap();
    let r = analyze(&AudioBuffer::new(FS, original.to_vec()), "original", &NoProgress).unwrap();
    let plan = match_profiles(&t, &r, &MatchSettings::default()).unwrap();
    let (out, _) =
        render(AudioBuffer::new(FS, target.to_vec()), &plan, BitDepth::Float32, "target", &NoProgress).unwrap();
    let width = |c: &[Vec<f32>]| {
        let (m, s, centres) = third_octave_levels(c, FS);
        (m.iter().zip(&s).map(|(m, s)| s - m).collect::<Vec<f64>>(), centres)
    };
    let ((wo, centres), (wr, _), (wt, _)) = (width(&out.channels), width(original), width(target));
    let mut worst = 0.0f64;
    for (i, c) in centres.iter().enumerate() {
        eprintln!("{c:6.0} Hz: side − mid {:+6.2} dB, degraded {:+6.2}", wo[i] - wr[i], wt[i] - wr[i]);
        worst = worst.max((wo[i] - wr[i]).abs());
    }
    let degraded = wt.iter().zip(&wr).map(|(t, r)| (t - r).abs()).fold(0.0, f64::max);
    (worst, degraded, plan)
}

/// A mix whose side was reshaped (±6 dB in six bands, 8–16 kHz included) and whose sections move
/// more than the original's (so the dynamics stage acts, with its per-band side gains), mastered
/// against the original: side − mid within 0.5 dB of the original's in every band.
#[test]
fn per_band_side_gains_are_undone_with_the_dynamics_stage_on() {
    let mut original = moving_mix(FS, 24.0, 4.0, 1.0, 41);
    normalize_peak(&mut original, 0.5);
    let mut target = moving_mix(FS, 24.0, 14.0, 1.0, 41);
    shape_mid_side(&mut target, FS, |_| 0.0, side_bumps);
    normalize_peak(&mut target, 0.3);
    let (worst, degraded, plan) = width_recovery(&original, &target);
    assert!(plan.dynamics.goal.is_some(), "the dynamics stage must act in this test");
    assert!(degraded >= 5.0, "the degradation must be real: {degraded:.2} dB");
    assert!(worst <= 0.5, "side − mid off by up to {worst:.2} dB");
}

/// A mix that needs more tonal correction than the EQ's limits allow (its top two octaves 24 dB
/// down, a +20 dB resonance at 3.2 kHz) and whose side was reshaped as well: the tonal correction
/// stops at its limits, and the width must still follow the reference in every band, the clipped
/// bands included (the side relative to the mid is a correction of its own).
#[test]
fn width_follows_the_reference_where_the_tonal_correction_hits_its_limits() {
    let mut original = moving_mix(FS, 24.0, 4.0, 1.0, 42);
    normalize_peak(&mut original, 0.5);
    let mut target = original.clone();
    let dull = |f: f64| -24.0 * ((f / 2500.0).log2() / 2.0).clamp(0.0, 1.0);
    let tonal = |f: f64| dull(f) + third_octave_bump(f, 3175.0, 20.0);
    shape_mid_side(&mut target, FS, tonal, |f| tonal(f) + side_bumps(f));
    normalize_peak(&mut target, 0.3);
    let (worst, degraded, plan) = width_recovery(&original, &target);
    let settings = &plan.provenance.settings;
    let at = |f: f64| plan.eq.mid.gain_db_at(f);
    assert!(
        at(10_000.0) >= settings.max_boost_db - 0.01 && at(3175.0) <= -settings.max_cut_db + 0.01,
        "the tonal correction must reach its limits here: {:+.1} dB at 10 kHz, {:+.1} dB at 3.2 kHz",
        at(10_000.0),
        at(3175.0)
    );
    assert!(degraded >= 5.0, "the degradation must be real: {degraded:.2} dB");
    assert!(worst <= 0.5, "side − mid off by up to {worst:.2} dB");
}
