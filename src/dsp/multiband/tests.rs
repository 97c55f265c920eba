use super::*;
use crate::dsp::from_db;

const FS: u32 = 44_100;
const CROSSOVERS: [f64; 3] = [120.0, 1000.0, 6000.0];

fn tone(freq_hz: f64, amp: f32, n: usize) -> Vec<f32> {
    (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / f64::from(FS)).sin() as f32).collect()
}

fn rms_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).log10()
}

fn compress(mb: &Multiband, chans: &mut [Vec<f32>], ratios: [f64; 4]) -> Vec<f64> {
    let env = mb.envelopes(chans, &[]);
    let gains: Vec<Option<Vec<f32>>> = ratios
        .iter()
        .zip(&env.power)
        .map(|(&ratio, power)| {
            let s = CompressorSettings { threshold_db: -30.0, ratio, knee_db: 6.0, ..Default::default() };
            Some(mb.gains(&s, power).unwrap())
        })
        .collect();
    let deepest = gains
        .iter()
        .map(|g| -crate::dsp::to_db(f64::from(g.as_ref().unwrap().iter().fold(1.0f32, |m, &v| m.min(v)))))
        .collect();
    mb.apply(chans, &gains, &[], &[]);
    deepest
}

#[test]
fn ratio_one_is_flat_within_005_db_from_20_hz_to_20_khz() {
    let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
    let n = FS as usize;
    for f in [20.0, 40.0, 80.0, 120.0, 250.0, 1000.0, 3000.0, 6000.0, 10_000.0, 16_000.0, 20_000.0] {
        let x = tone(f, 0.5, n);
        let mut chans = vec![x.clone(), x.clone()];
        let reductions = compress(&mb, &mut chans, [1.0; 4]);
        assert!(reductions.iter().all(|&r| r == 0.0));
        let inner = |v: &[f32]| v[n / 4..3 * n / 4].to_vec();
        let change = rms_db(&inner(&chans[0])) - rms_db(&inner(&x));
        assert!(change.abs() <= 0.05, "{f} Hz: {change} dB");
    }
}

/// An EQ folded into the bands is the EQ alone when the gains are 1, whether the bands are
/// active (every band filtered with it) or not (the base path).
#[test]
fn a_folded_eq_with_unit_gains_is_the_eq_alone() {
    use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
    let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
    let n = 2 * FS as usize;
    let x: Vec<f32> = tone(70.0, 0.3, n)
        .iter()
        .zip(tone(2500.0, 0.2, n))
        .zip(tone(9000.0, 0.1, n))
        .map(|((a, b), c)| a + b + c)
        .collect();
    let eq = LinearPhaseEq::new(&EqCurve { freqs_hz: vec![100.0, 1000.0, 8000.0], gain_db: vec![6.0, -3.0, 4.0] }, FS)
        .unwrap();
    let mut want = vec![0.0; n];
    eq.process(&x, &mut want);
    let blocks = n.div_ceil(mb.block());
    for gains in [vec![Some(vec![1.0f32; blocks]); 4], vec![None; 4]] {
        let mut chans = vec![x.clone()];
        mb.apply(&mut chans, &gains, &[], &[Some(eq.taps())]);
        let worst = chans[0].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "folded EQ differs by {worst}");
    }
    // The envelopes' pass with the EQ folded in: the channel comes back equalised, and its
    // envelopes are those of the equalised signal.
    let mut chans = vec![x.clone()];
    let folded = mb.envelopes(&mut chans, &[Some(eq.taps())]);
    let worst = chans[0].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "the envelopes' pass equalised with an error of {worst}");
    // (Within the filters' reach of the ends the folded pass sees the EQ's tail beyond them,
    // which the equalised signal, cut to length, has lost.)
    let plain = mb.envelopes(&mut [want.clone()], &[]);
    let reach = 2 * eq.taps().len() / mb.block();
    for (f, p) in folded.power.iter().zip(&plain.power) {
        for (f, p) in f[reach..f.len() - reach].iter().zip(&p[reach..p.len() - reach]) {
            assert!((f - p).abs() <= 1e-3 * p.max(1e-6), "{f} vs {p}");
        }
    }
}

#[test]
fn compressing_one_band_leaves_the_others_alone() {
    let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
    let n = FS as usize * 2;
    let (low, high) = (tone(50.0, 0.5, n), tone(2000.0, 0.05, n));
    let x: Vec<f32> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
    let mut chans = vec![x.clone()];
    let reductions = compress(&mb, &mut chans, [4.0, 1.0, 1.0, 1.0]);
    assert!(reductions[0] > 6.0 && reductions[1..].iter().all(|&r| r == 0.0), "{reductions:?}");
    // Split the output again: the 2 kHz part is untouched, the 50 Hz part is reduced.
    let split = BandSplit::new(&CROSSOVERS, FS).unwrap();
    let (mut out_low, mut out_mid) = (vec![0.0; n], vec![0.0; n]);
    split.band(0, &chans[0], &mut out_low);
    split.band(2, &chans[0], &mut out_mid);
    let inner = |v: &[f32]| v[n / 4..3 * n / 4].to_vec();
    assert!((rms_db(&inner(&out_mid)) - rms_db(&inner(&high))).abs() < 0.1, "2 kHz band changed");
    assert!(rms_db(&inner(&out_low)) - rms_db(&inner(&low)) < -6.0, "50 Hz band not compressed");
}

#[test]
fn envelopes_measure_each_band() {
    let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
    let n = FS as usize;
    // A 3 kHz tone at 0.25 in both channels: band 2 holds it (power 0.25²/2 per channel).
    let x = tone(3000.0, 0.25, n);
    let env = mb.envelopes(&mut [x.clone(), x], &[]);
    let mid = env.power[2].len() / 2;
    assert!((f64::from(env.power[2][mid]) / 0.25f64.powi(2) - 1.0).abs() < 0.05, "power {}", env.power[2][mid]);
    assert!((f64::from(env.channel_power[1][2][mid]) / (0.25f64.powi(2) / 2.0) - 1.0).abs() < 0.05);
    for b in [0, 1, 3] {
        assert!(env.power[b][mid] < env.power[2][mid] * from_db(-100.0) as f32, "band {b} leaks {}", env.power[b][mid]);
    }
}

/// Tones at `freqs_hz` (0.1 each), switched down to `quiet` for two bursts of 5000 samples in
/// three, over uniform noise (0.2): something in every band.
fn busy_mix(n: usize, seed: u64, freqs_hz: &[f64], quiet: f32) -> Vec<f32> {
    let mut rng = crate::testing::Rng::new(seed);
    (0..n)
        .map(|i| {
            let noise = rng.unit() as f32 - 0.5;
            let burst = if (i / 5000) % 3 == 0 { 1.0 } else { quiet };
            let t = i as f64 / f64::from(FS);
            let tones: f64 = freqs_hz.iter().map(|f| (2.0 * std::f64::consts::PI * f * t).sin()).sum();
            0.1 * tones as f32 * burst + 0.2 * noise
        })
        .collect()
}

/// The bands read decimated against the split run at the full rate (time-domain FIRs): every
/// control block's power of every band of a busy mix (tones across the bands, noise, bursts).
#[test]
fn decimated_envelopes_match_the_full_rate_bands() {
    let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
    let n = FS as usize * 2;
    let x = busy_mix(n, 11, &[55.0, 110.0, 180.0, 700.0, 1100.0, 4000.0, 6500.0, 12_000.0], 0.1);
    let env = mb.envelopes(&mut [x.clone()], &[]);
    let d = mb.block();
    let mut band = vec![0.0f32; n];
    for b in 0..mb.bands() {
        mb.split.band(b, &x, &mut band);
        let want: Vec<f64> =
            band.chunks(d).map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / d as f64).collect();
        let mut errs: Vec<f64> =
            want.iter().zip(&env.power[b]).map(|(w, &g)| (10.0 * (f64::from(g) / w).log10()).abs()).collect();
        errs.sort_by(f64::total_cmp);
        let (median, worst) = (errs[errs.len() / 2], errs[errs.len() - 1]);
        // Decimated bands: a block's mean square by the midpoint rule, off only where the
        // power steps within the block (the bursts; 0.2 dB on a 20 dB step); full-rate: exact.
        let (max_median, max_worst) = if b + 1 < mb.bands() { (0.02, 0.25) } else { (1e-3, 1e-3) };
        assert!(
            median <= max_median && worst <= max_worst,
            "band {b}: block powers off by {median:.4} dB (median), {worst:.4} dB (worst)"
        );
    }
}

/// The whole stage against its definition run at the full rate in the time domain: each band
/// of the equalised input (the split's FIRs after the EQ's) times its interpolated gain and
/// scale, summed. Every band's gain moves (±6 dB at 2–7 Hz), the side scales differ.
#[test]
fn apply_matches_the_bands_times_their_gains_at_the_full_rate() {
    use crate::dsp::linear_phase_eq::{EqCurve, LinearPhaseEq};
    let mb = Multiband::new(&CROSSOVERS, FS).unwrap();
    let n = FS as usize * 3;
    let x = busy_mix(n, 5, &[45.0, 90.0, 300.0, 1500.0, 5000.0, 9000.0], 1.0);
    let eq = LinearPhaseEq::new(&EqCurve { freqs_hz: vec![60.0, 800.0, 7000.0], gain_db: vec![5.0, -4.0, 3.0] }, FS)
        .unwrap();
    let d = mb.block();
    let blocks = n.div_ceil(d);
    let gains: Vec<Option<Vec<f32>>> = (0..4)
        .map(|b| {
            Some(
                (0..blocks)
                    .map(|c| {
                        from_db(
                            6.0 * (2.0 * std::f64::consts::PI * (2.0 + 1.7 * b as f64) * (c * d) as f64
                                / f64::from(FS))
                            .sin(),
                        ) as f32
                    })
                    .collect(),
            )
        })
        .collect();
    let scale = vec![vec![1.0, 1.3, 0.8, 1.1]];
    let ramp = Multiplier::ramp(d);
    let mut got = vec![x.clone()];
    mb.apply(&mut got, &gains, &scale, &[Some(eq.taps())]);
    let mut equalised = vec![0.0f32; n];
    eq.process(&x, &mut equalised);
    let mut want = vec![0.0f64; n];
    let mut band = vec![0.0f32; n];
    for (b, g) in gains.iter().enumerate() {
        mb.split.band(b, &equalised, &mut band);
        let m = Multiplier { gains: g.as_deref(), scale: scale[0][b], ramp: &ramp };
        for (i, (w, &v)) in want.iter_mut().zip(&band).enumerate() {
            *w += f64::from(m.at(i)) * f64::from(v);
        }
    }
    // Away from the ends, where the reference's EQ output is cut to length and the stage's is not.
    let inner = eq.taps().len()..n - eq.taps().len();
    let (err, sig) =
        inner.fold((0.0f64, 0.0f64), |(e, s), i| (e + (f64::from(got[0][i]) - want[i]).powi(2), s + want[i].powi(2)));
    let residual_db = 10.0 * (err / sig).log10();
    assert!(residual_db < -80.0, "residual {residual_db:.1} dB");
}
