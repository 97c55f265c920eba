//! `Profile`s → **matching** → `MasteringPlan`: mid and side EQ corrections that move the target's
//! tonal balance and per-band width to the reference's, the loudness target and the limiter.
use crate::analysis::bands::{has_information, same_grid, smooth};
use crate::analysis::spectrum::dynamics_crossovers;
use crate::dsp::limiter::LimiterSettings;
use crate::dsp::linear_phase_eq::EqCurve;
use crate::error::{Error, Result};
use crate::model::{
    DynamicsGoal, DynamicsPlan, EqPlan, LoudnessTarget, MasteringPlan, MatchSettings, Provenance, StereoPlan,
    PLAN_SCHEMA_VERSION,
};
use crate::model::{Profile, SpectralProfile};

/// Spread differences smaller than this (dB) are not worth a compressor.
const MIN_SPREAD_CHANGE_DB: f64 = 0.5;
/// Bass mono crossovers the matching may choose, Hz.
const BASS_MONO_HZ: (f64, f64) = (40.0, 250.0);

/// The range that decides the "no change" level: the core of the audible band, where every sensible
/// reference has content (lossy references often have none above 16 kHz).
const OFFSET_RANGE_HZ: (f64, f64) = (40.0, 16_000.0);

/// Derives the plan that masters `target` toward `reference`.
pub fn match_profiles(target: &Profile, reference: &Profile, settings: &MatchSettings) -> Result<MasteringPlan> {
    settings.validate()?;
    if !same_grid(&target.spectrum.centers_hz, &reference.spectrum.centers_hz) {
        return Err(Error::InvalidSetting("target and reference profiles use different band grids".into()));
    }
    let freqs = &target.spectrum.centers_hz;
    let (ts, rs) = (&target.spectrum, &reference.spectrum);
    let mid_diff = smooth(freqs, &difference(&rs.mid_db, &ts.mid_db), settings.smoothing_octaves);
    // Width: side − mid, reference − target, a correction of its own (smoothed more finely).
    let width_diff = smooth(freqs, &width_difference(rs, ts), settings.width_smoothing_octaves);
    // One offset for both: loudness is matched separately, and keeping side relative to mid is what
    // carries the reference's width.
    let offset = fitting_offset(freqs, &mid_diff, settings.max_boost_db, settings.max_cut_db);
    let curve = |gain: &dyn Fn(usize) -> Option<f64>| EqCurve {
        freqs_hz: freqs.clone(),
        gain_db: (0..freqs.len())
            .map(|i| gain(i).map_or(0.0, |g| g * taper(freqs[i], settings.low_hz, settings.high_hz)))
            .map(|g| if g == 0.0 { 0.0 } else { g })
            .collect(),
    };
    let stereo = target.channels == 2 && reference.channels == 2;
    // Tonal: the mid correction, applied to side as well so the side keeps its place beside the mid.
    let tonal = |i: usize| {
        mid_diff[i].map(|d| (d - offset).clamp(-settings.max_cut_db, settings.max_boost_db) * settings.eq_amount)
    };
    let mid = curve(&tonal);
    // Width: what side needs beyond the tonal correction, within its own limits. It does not
    // depend on where the tonal correction stopped: a band whose tonal correction hit a limit
    // still gets the reference's side relative to its mid.
    let width = |i: usize| {
        width_diff[i].map(|w| w.clamp(-settings.side_max_cut_db, settings.side_max_boost_db) * settings.width_amount)
    };
    let (side, width) = if stereo {
        (mid.clone(), curve(&width))
    } else {
        (EqCurve::flat(freqs.clone()), EqCurve::flat(freqs.clone()))
    };
    let bass_mono_hz = match (reference.dynamics.mono_below_hz, target.dynamics.mono_below_hz) {
        (Some(r), t) if stereo && settings.width_amount > 0.0 && t.is_none_or(|t| t < r) => {
            Some(r.clamp(BASS_MONO_HZ.0, BASS_MONO_HZ.1))
        }
        _ => None,
    };
    let plan = MasteringPlan {
        schema_version: PLAN_SCHEMA_VERSION,
        restore: None,
        eq: EqPlan { mid, side },
        stereo: StereoPlan { width, bass_mono_hz },
        dynamics: DynamicsPlan { multiband: None, goal: dynamics_goal(target, reference, settings), leveler: None },
        loudness: LoudnessTarget { target_lufs: 0.0, max_limiting_db: None, fixed_gain_db: None },
        limiter: LimiterSettings::default(),
        provenance: Provenance {
            target: target.source.clone(),
            reference: reference.source.clone(),
            target_lufs_before: target.loudness.integrated_lufs,
            reference_lufs: reference.loudness.integrated_lufs,
            settings: settings.clone(),
        },
    };
    retarget(&plan, settings, stereo)
}

/// `plan` delivered with other loudness, ceiling and bass-mono settings (a platform's): the
/// tonal, width and dynamics matching stays as it is. `stereo`: whether bass mono can apply.
pub fn retarget(plan: &MasteringPlan, settings: &MatchSettings, stereo: bool) -> Result<MasteringPlan> {
    settings.validate()?;
    let mut plan = plan.clone();
    plan.loudness = LoudnessTarget {
        target_lufs: settings.target_lufs.unwrap_or(plan.provenance.reference_lufs),
        max_limiting_db: settings.max_limiting_db,
        fixed_gain_db: None,
    };
    plan.limiter = LimiterSettings { ceiling_dbtp: settings.ceiling_dbtp, ..Default::default() };
    if let (Some(min), true) = (settings.bass_mono_min_hz, stereo) {
        plan.stereo.bass_mono_hz = Some(plan.stereo.bass_mono_hz.map_or(min, |f| f.max(min)));
    }
    plan.provenance.settings = settings.clone();
    Ok(plan)
}

/// The reference's per-band spreads for the multiband stage to move the target toward, by the
/// dynamics amount; `None` when the amount is 0 or no band differs by half a dB.
fn dynamics_goal(target: &Profile, reference: &Profile, settings: &MatchSettings) -> Option<DynamicsGoal> {
    let (t, r) = (&target.dynamics.bands, &reference.dynamics.bands);
    let crossovers_hz = dynamics_crossovers(target.sample_rate);
    if t.len() != r.len() || r.len() != crossovers_hz.len() + 1 || settings.dynamics_amount == 0.0 {
        return None;
    }
    let spread = |b: &crate::model::BandDynamics| b.short_term_p95_db - b.short_term_p10_db;
    let differs =
        t.iter().zip(r).any(|(t, r)| (spread(r) - spread(t)).abs() * settings.dynamics_amount >= MIN_SPREAD_CHANGE_DB);
    differs.then(|| DynamicsGoal {
        crossovers_hz,
        spread_db: r.iter().map(spread).collect(),
        amount: settings.dynamics_amount,
        loudness_range_lu: Some(reference.loudness.loudness_range_lu),
    })
}

/// (side − mid) of the reference − (side − mid) of the target per band, `None` where any of the
/// four has no information.
fn width_difference(reference: &SpectralProfile, target: &SpectralProfile) -> Vec<Option<f64>> {
    let (mid, side) = (difference(&reference.mid_db, &target.mid_db), difference(&reference.side_db, &target.side_db));
    mid.iter().zip(side).map(|(m, s)| Some(s? - (*m)?)).collect()
}

/// reference − target per band, `None` where either has no information.
fn difference(reference: &[f64], target: &[f64]) -> Vec<Option<f64>> {
    reference.iter().zip(target).map(|(&r, &t)| (has_information(r) && has_information(t)).then_some(r - t)).collect()
}

/// The level that counts as "no change". Loudness is normalised afterwards, so it is free: take the
/// mean correction over the core range, moved as little as needed for the whole correction there to
/// fit within [−max_cut, +max_boost]; when it cannot fit, the level that leaves the least of it
/// undone (the sum over the bands of the squares of what the limits cut off), so a shortfall spread
/// over many bands — a whole dull top octave — weighs more than one over a narrow resonance, as it
/// does on a fractional-octave meter and to the ear.
fn fitting_offset(freqs: &[f64], values: &[Option<f64>], max_boost: f64, max_cut: f64) -> f64 {
    let (lo, hi) = OFFSET_RANGE_HZ;
    let sel: Vec<f64> = freqs.iter().zip(values).filter(|(&f, _)| f >= lo && f <= hi).filter_map(|(_, v)| *v).collect();
    if sel.is_empty() {
        return 0.0;
    }
    let mean = sel.iter().sum::<f64>() / sel.len() as f64;
    let (min, max) = sel.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    // Offsets o with max − o ≤ boost and min − o ≥ −cut.
    let (o_lo, o_hi) = (max - max_boost, min + max_cut);
    if o_lo <= o_hi {
        return mean.clamp(o_lo, o_hi);
    }
    // The undone part is convex in o and its slope rises with o: bisect on the slope between
    // the offsets at which either limit alone would be met.
    let slope =
        |o: f64| -> f64 { sel.iter().map(|&v| (o - v - max_cut).max(0.0) - (v - o - max_boost).max(0.0)).sum() };
    let (mut a, mut b) = (o_hi, o_lo);
    for _ in 0..64 {
        let m = 0.5 * (a + b);
        if slope(m) < 0.0 {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}

/// 1 inside [lo, hi], raised-cosine to 0 over half an octave outside.
fn taper(f: f64, lo: f64, hi: f64) -> f64 {
    const WIDTH_OCT: f64 = 0.5;
    let outside = if f < lo {
        (lo / f).log2()
    } else if f > hi {
        (f / hi).log2()
    } else {
        0.0
    };
    if outside >= WIDTH_OCT {
        0.0
    } else {
        0.5 * (1.0 + (std::f64::consts::PI * outside / WIDTH_OCT).cos())
    }
}
