//! Loud targets: the peak reduction shared between the soft clipper and the limiter so that the
//! output keeps getting louder with gain and the target is met under the ceiling; a user's bound
//! on the reduction is kept, and the shortfall is reported. Independent oracles judge: the
//! `ebur128` crate for loudness, a 16× FFT meter for true peak.
mod common;

use automaster::internals::analysis::analyze;
use automaster::internals::audio::AudioBuffer;
use automaster::internals::matching::match_profiles;
use automaster::internals::model::{BitDepth, MatchSettings};
use automaster::internals::progress::NoProgress;
use automaster::internals::render::{render, RenderReport, ShortfallReason};
use common::*;

const FS: u32 = 44_100;

/// The synthetic mix (kick, bass, hats: transients well above its body), mastered against itself
/// (so the EQ is flat) to `lufs` with `max_limiting_db`.
fn master(lufs: f64, max_limiting_db: Option<f64>) -> (Vec<Vec<f32>>, RenderReport) {
    let mut mix = synthetic_mix(12.0, FS, 7);
    normalize_peak(&mut mix, 0.5);
    let buf = AudioBuffer::new(FS, mix);
    let p = analyze(&buf, "mix", &NoProgress).unwrap();
    let settings = MatchSettings { target_lufs: Some(lufs), max_limiting_db, ..Default::default() };
    let plan = match_profiles(&p, &p, &settings).unwrap();
    let (out, report) = render(buf, &plan, BitDepth::Float32, "mix", &NoProgress).unwrap();
    (out.channels, report)
}

/// With the limiter alone this mix's loudness flattened out: −7.44 LUFS for a −7 target (more
/// gain no longer helped) and −6.97 for −6 (35 dB of limiting at the 40 dB gain bound). With the
/// clipper each target is met within 0.2 LU under the −1 dBTP ceiling, louder targets give
/// louder masters, and the clipper takes part.
#[test]
fn loud_targets_are_met_with_the_clipper_taking_its_share() {
    let mut last = f64::NEG_INFINITY;
    for lufs in [-9.0, -7.0, -6.0, -5.0] {
        let (out, report) = master(lufs, None);
        let (measured, peak) = (ebur128_lufs(&out, FS), true_peak_db_fft16(&out, FS));
        eprintln!(
            "target {lufs}: {measured:.2} LUFS, {peak:.2} dBTP; clipper {:?}, limiter {:.1} dB; {:?}",
            report.clipper, report.limit.max_gain_reduction_db, report.loudness_shortfall
        );
        assert!((measured - lufs).abs() <= 0.2, "target {lufs}: {measured:.2} LUFS");
        let clip = report.clipper.as_ref().expect("deep reduction engages the clipper");
        assert!(peak <= -0.95, "target {lufs}: true peak {peak:.2} dBTP");
        assert!(report.loudness_target_reached && report.loudness_shortfall.is_none());
        assert!(clip.max_reduction_db > 1.0 && clip.seconds_above_3db >= 0.0);
        assert!(measured > last + 0.5, "louder targets give louder masters");
        last = measured;
    }
}

/// A master that needs little reduction passes the clipper untouched.
#[test]
fn gentle_masters_leave_the_clipper_off() {
    let (_, report) = master(-20.0, None);
    assert!(report.clipper.is_none(), "{:?}", report.clipper);
    assert!(report.loudness_target_reached);
}

/// With the reduction bounded at 6 dB, a target that needs more is missed, by the amount the
/// report says, for the reason it gives; the limiter keeps within the bound.
#[test]
fn a_bound_on_limiting_is_kept_and_the_shortfall_reported() {
    let (out, report) = master(-7.0, Some(6.0));
    let measured = ebur128_lufs(&out, FS);
    let short = report.loudness_shortfall.as_ref().expect("the bound stops the gain short of -7 LUFS");
    assert_eq!(short.reason, ShortfallReason::MaxLimiting);
    assert!(!report.loudness_target_reached);
    assert!((short.missed_by_lu - (-7.0 - measured)).abs() <= 0.05, "{short:?} vs {measured:.2} LUFS");
    assert!(short.missed_by_lu > 1.0);
    assert!(report.clipper.is_none(), "6 dB is the limiter's alone");
    assert!(report.limit.max_gain_reduction_db <= 6.05, "{:.2} dB", report.limit.max_gain_reduction_db);
}
