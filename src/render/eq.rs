//! The render's first stage: linear-phase mid/side EQ, with the width correction and bass mono
//! folded into the side filter.

use crate::audio::{to_left_right, to_mid_side, AudioBuffer};
use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
use crate::error::Result;
use crate::model::{EqPlan, StereoPlan};

/// Deepest cut of the bass mono curve, dB (the EQ's limit).
const BASS_MONO_CUT_DB: f64 = -40.0;

/// The side filter's curve: the side EQ, the width correction and the bass mono cut added (all act
/// on side and are linear, so one filter does all three). Bass mono cuts 40 dB from half an octave
/// below its frequency, rising as a raised cosine in log frequency to 0 dB at it.
pub fn side_curve(eq: &EqCurve, stereo: &StereoPlan) -> EqCurve {
    let bass_mono = |f: f64| match stereo.bass_mono_hz {
        Some(fc) => {
            let t = ((f / fc).log2() + 0.5) / 0.5;
            if t <= 0.0 {
                BASS_MONO_CUT_DB
            } else if t >= 1.0 {
                0.0
            } else {
                BASS_MONO_CUT_DB * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
        None => 0.0,
    };
    let gain_db = eq
        .freqs_hz
        .iter()
        .map(|&f| {
            (eq.gain_db_at(f) + stereo.width.gain_db_at(f) + bass_mono(f)).clamp(BASS_MONO_CUT_DB, -BASS_MONO_CUT_DB)
        })
        .map(|g| if g == 0.0 { 0.0 } else { g })
        .collect();
    EqCurve { freqs_hz: eq.freqs_hz.clone(), gain_db }
}

/// Mid/side linear-phase EQ in place, with the stereo plan folded into the side filter (mono: the
/// mid curve on the one channel).
pub fn apply_eq(buffer: &mut AudioBuffer, eq: &EqPlan, stereo: &StereoPlan) -> Result<()> {
    let side = side_curve(&eq.side, stereo);
    if eq.mid.is_flat() && (side.is_flat() || buffer.num_channels() == 1) {
        return Ok(());
    }
    let fs = buffer.sample_rate;
    if let [l, r] = buffer.channels.as_mut_slice() {
        to_mid_side(l, r);
    }
    filter_mid_side(&mut buffer.channels, &eq.mid, &side, fs)?;
    if let [m, s] = buffer.channels.as_mut_slice() {
        to_left_right(m, s);
    }
    Ok(())
}

/// Linear-phase EQ in place on channels already in mid/side (or the one mono channel): `mid` on
/// the first, `side` on the second; flat curves cost nothing.
fn filter_mid_side(channels: &mut [Vec<f32>], mid: &EqCurve, side: &EqCurve, fs: u32) -> Result<()> {
    for (x, curve) in channels.iter_mut().zip([mid, side]) {
        if !curve.is_flat() {
            LinearPhaseEq::new(curve, fs)?.process_in_place(x);
        }
    }
    Ok(())
}
