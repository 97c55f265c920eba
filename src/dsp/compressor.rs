//! Feed-forward compressor after Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor
//! Design — A Tutorial and Analysis", JAES 60(6), 2012: the level in dB goes through a soft-knee
//! static curve (their eq. 4), and the resulting gain reduction is smoothed in the log domain by the
//! smooth decoupled peak detector (their eq. 17), after which make-up gain is added.
//!
//! Release is program-dependent, in the spirit of the two-detector designs the paper discusses: a
//! second, slow detector charges only under sustained reduction (its attack is `sustain_ms`), and
//! the larger reduction of the two is applied. After a short transient the slow path holds almost
//! nothing, so the gain recovers with `release_ms`; after a long overload it has charged and the
//! recovery follows `sustained_release_ms`, which avoids pumping on dense material.
//!
//! Below the threshold the same curve can expand downward (`expansion_ratio` > 1): quiet passages get
//! quieter, at most by `expansion_range_db`; this is how dynamics matching widens a mix that is
//! flatter than its reference. The expansion knee mirrors the compression knee about the threshold.

use super::one_pole;
use crate::error::Result;
pub use crate::model::settings::CompressorSettings;

/// 10/ln 10: dB of a power ratio per neper of it.
const DB_PER_NEPER_POWER: f64 = 10.0 / std::f64::consts::LN_10;
/// ln 10/20: nepers of an amplitude ratio per dB.
const NEPER_PER_DB_AMPLITUDE: f64 = std::f64::consts::LN_10 / 20.0;

impl CompressorSettings {
    /// The static curve's gain in dB (≤ 0) for an input level in dB: compression above the threshold
    /// (GMR 2012, eq. 4) plus its mirror image below it for expansion, floored at the range.
    pub fn static_gain_db(&self, level_db: f64) -> f64 {
        let (t, w) = (self.threshold_db, self.knee_db);
        // GMR eq. 4 as a gain: 0 below the knee, quadratic in it, (1/r − 1)·over above it, for the
        // distance `over` above the threshold and slope s = 1/r − 1.
        let knee_curve = |over: f64, s: f64| {
            if 2.0 * over < -w {
                0.0
            } else if 2.0 * over.abs() <= w {
                s * (over + w / 2.0).powi(2) / (2.0 * w)
            } else {
                s * over
            }
        };
        let compression = knee_curve(level_db - t, 1.0 / self.ratio - 1.0);
        // Mirrored: the distance below the threshold, output falling (E − 1) dB per dB.
        let expansion = knee_curve(t - level_db, 1.0 - self.expansion_ratio).max(-self.expansion_range_db);
        compression + expansion
    }
}

/// The compressor's state; `gain` turns a detector level into the linear gain to apply.
pub struct Compressor {
    settings: CompressorSettings,
    attack: f64,
    release: f64,
    sustained_release: f64,
    sustain: f64,
    /// Mean-square smoothing coefficient (0 = none) and its state.
    rms: f64,
    mean_square: f64,
    /// Detector states, all in dB of gain reduction (≥ 0).
    fast_peak: f64,
    fast: f64,
    slow: f64,
}

impl Compressor {
    pub fn new(settings: CompressorSettings, sample_rate: u32) -> Result<Self> {
        Self::at_rate(settings, f64::from(sample_rate))
    }

    /// A compressor whose `gain` is called `rate_hz` times a second: the detector of a multiband
    /// stage runs at a control rate, once per block of samples.
    pub fn at_rate(settings: CompressorSettings, rate_hz: f64) -> Result<Self> {
        settings.validate()?;
        Ok(Compressor {
            attack: one_pole(settings.attack_ms, rate_hz),
            release: one_pole(settings.release_ms, rate_hz),
            sustained_release: one_pole(settings.sustained_release_ms, rate_hz),
            sustain: one_pole(settings.sustain_ms, rate_hz),
            rms: if settings.rms_ms > 0.0 { one_pole(settings.rms_ms, rate_hz) } else { 0.0 },
            mean_square: 0.0,
            settings,
            fast_peak: 0.0,
            fast: 0.0,
            slow: 0.0,
        })
    }

    pub fn settings(&self) -> &CompressorSettings {
        &self.settings
    }

    pub fn reset(&mut self) {
        (self.fast_peak, self.fast, self.slow, self.mean_square) = (0.0, 0.0, 0.0, 0.0);
    }

    /// Linear gain (make-up included) for the next sample, whose detector input is `level`
    /// (e.g. the larger |sample| of a linked stereo pair).
    pub fn gain(&mut self, level: f32) -> f32 {
        let level = f64::from(level);
        self.gain_for_power(level * level)
    }

    /// [`Self::gain`] for a detector input given as its square (a mean-square power).
    pub fn gain_for_power(&mut self, power: f64) -> f32 {
        let level_db = self.level_db(power);
        self.gain_for_level_db(level_db)
    }

    /// The RMS detector alone: the level (dB) of the mean square after `power`. It depends on
    /// `rms_ms` only, so a caller trying several curves on one signal can compute it once.
    pub fn level_db(&mut self, power: f64) -> f64 {
        self.mean_square = self.rms * self.mean_square + (1.0 - self.rms) * power;
        // 10·log10 of the mean square, by ln (cheaper than log10 of its square root).
        DB_PER_NEPER_POWER * self.mean_square.max(1e-40).ln()
    }

    /// The rest of [`Self::gain_for_power`]: the gain for a detector level from [`Self::level_db`].
    pub fn gain_for_level_db(&mut self, level_db: f64) -> f32 {
        let reduction = -self.settings.static_gain_db(level_db);
        // Smooth decoupled peak detector (GMR eq. 17): instant attack into a release stage, then
        // an attack smoother.
        self.fast_peak = reduction.max(self.release * self.fast_peak + (1.0 - self.release) * reduction);
        self.fast = self.attack * self.fast + (1.0 - self.attack) * self.fast_peak;
        // The slow path: charges with `sustain`, releases with `sustained_release`.
        let slow_coef = if reduction > self.slow { self.sustain } else { self.sustained_release };
        self.slow = slow_coef * self.slow + (1.0 - slow_coef) * reduction;
        // 10^(dB/20) as exp(dB·ln10/20): cheaper than powf.
        ((self.settings.makeup_db - self.fast.max(self.slow)) * NEPER_PER_DB_AMPLITUDE).exp() as f32
    }

    /// Compresses `channels` in place with one linked detector (the largest |sample| across them).
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let n = channels.first().map_or(0, |c| c.len());
        for i in 0..n {
            let level = channels.iter().fold(0.0f32, |m, c| m.max(c[i].abs()));
            let g = self.gain(level);
            for c in channels.iter_mut() {
                c[i] *= g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::{from_db, to_db};

    const FS: u32 = 48_000;

    fn compressor(s: CompressorSettings) -> Compressor {
        Compressor::new(s, FS).unwrap()
    }

    /// The gain, in dB, the compressor settles at for a constant |x| at `level_db`.
    fn settled_gain_db(s: &CompressorSettings, level_db: f64) -> f64 {
        let mut c = compressor(s.clone());
        let x = from_db(level_db) as f32;
        let mut g = 1.0;
        for _ in 0..FS * 8 {
            g = c.gain(x);
        }
        to_db(f64::from(g))
    }

    #[test]
    fn static_curve_matches_the_formula_within_a_tenth_of_a_db_knee_included() {
        let s =
            CompressorSettings { threshold_db: -24.0, ratio: 4.0, knee_db: 8.0, makeup_db: 2.0, ..Default::default() };
        for level in (-60..=0).map(f64::from) {
            // The formula, written out independently of static_gain_db.
            let expected_out = if level < -28.0 {
                level
            } else if level <= -20.0 {
                level + (0.25 - 1.0) * (level + 24.0 + 4.0).powi(2) / 16.0
            } else {
                -24.0 + (level + 24.0) / 4.0
            };
            let got = settled_gain_db(&s, level);
            let want = expected_out - level + 2.0;
            assert!((got - want).abs() <= 0.1, "{level} dBFS: gain {got:.3} dB, formula {want:.3} dB");
        }
    }

    #[test]
    fn expansion_below_threshold_follows_its_formula_and_stops_at_the_range() {
        let s = CompressorSettings {
            threshold_db: -30.0,
            ratio: 1.0,
            knee_db: 6.0,
            expansion_ratio: 2.0,
            expansion_range_db: 12.0,
            ..Default::default()
        };
        for level in (-60..=0).map(f64::from) {
            // Written out: hard expansion (E − 1)·(level − T) below T − w/2, the mirrored knee
            // −(E − 1)(T − level + w/2)²/(2w) within it, nothing above; floored at −12 dB.
            let u = -30.0 - level;
            let want = if u > 3.0 {
                -(u)
            } else if u >= -3.0 {
                -(u + 3.0).powi(2) / 12.0
            } else {
                0.0
            }
            .max(-12.0);
            let got = settled_gain_db(&s, level);
            assert!((got - want).abs() <= 0.1, "{level} dBFS: gain {got:.3} dB, formula {want:.3} dB");
        }
    }

    /// Time for the gain (dB) to cover 1 − 1/e of a step's change.
    fn time_constant_ms(gains_db: &[f64]) -> f64 {
        let (start, end) = (gains_db[0], gains_db[gains_db.len() - 1]);
        let target = start + (end - start) * (1.0 - (-1.0f64).exp());
        let i = gains_db.iter().position(|&g| (g - target) * (end - start).signum() >= 0.0).unwrap();
        i as f64 * 1000.0 / f64::from(FS)
    }

    #[test]
    fn attack_and_release_time_constants_within_ten_percent() {
        let s = CompressorSettings {
            threshold_db: -30.0,
            ratio: 10.0,
            knee_db: 0.0,
            attack_ms: 5.0,
            release_ms: 150.0,
            // The slow path stays out of this test: it would charge only after seconds.
            sustain_ms: 10_000.0,
            ..Default::default()
        };
        let mut c = compressor(s);
        let (quiet, loud) = (from_db(-40.0) as f32, from_db(-10.0) as f32);
        for _ in 0..FS {
            c.gain(quiet);
        }
        let up: Vec<f64> = (0..FS / 4).map(|_| to_db(f64::from(c.gain(loud)))).collect();
        let down: Vec<f64> = (0..FS * 2).map(|_| to_db(f64::from(c.gain(quiet)))).collect();
        let (attack, release) = (time_constant_ms(&up), time_constant_ms(&down));
        assert!((attack - 5.0).abs() <= 0.5, "attack {attack} ms");
        assert!((release - 150.0).abs() <= 15.0, "release {release} ms");
    }

    #[test]
    fn release_is_longer_after_a_sustained_overload_than_after_a_transient() {
        let s = CompressorSettings { threshold_db: -30.0, ratio: 8.0, knee_db: 0.0, ..Default::default() };
        let release_after = |overload_ms: u32| {
            let mut c = compressor(s.clone());
            let (quiet, loud) = (from_db(-40.0) as f32, from_db(-10.0) as f32);
            for _ in 0..FS {
                c.gain(quiet);
            }
            for _ in 0..FS * overload_ms / 1000 {
                c.gain(loud);
            }
            // Time until the reduction is back under 1 dB.
            (0..FS * 10).position(|_| c.gain(quiet) > from_db(-1.0) as f32).unwrap() as f64 * 1000.0 / f64::from(FS)
        };
        let (transient, sustained) = (release_after(30), release_after(3000));
        assert!(
            sustained > 2.0 * transient,
            "release after 3 s of overload {sustained} ms vs after 30 ms {transient} ms"
        );
    }

    #[test]
    fn ratio_one_is_transparent_and_settings_are_checked() {
        let mut c = compressor(CompressorSettings::default());
        let mut x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin()).collect();
        let before = x.clone();
        c.process(&mut [&mut x]);
        assert_eq!(x, before);
        assert!(Compressor::new(CompressorSettings { ratio: 0.5, ..Default::default() }, FS).is_err());
        assert!(Compressor::new(CompressorSettings { attack_ms: 0.0, ..Default::default() }, FS).is_err());
    }
}
