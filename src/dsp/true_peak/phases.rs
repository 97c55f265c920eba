//! The oversampling interpolators' phases, folded by their mirror symmetry, and their kernels:
//! scalar, AVX2/FMA and AVX-512 (see [`SimdLevel`]).
use crate::dsp::simd::{fast_max, SimdLevel};
use crate::dsp::window::{kaiser, sinc};

/// Coefficients of a (P + 1)× interpolator (P odd) folded by its symmetry, each broadcast to a
/// SIMD lane group: `table[j − 1][r]` multiplies s_j = x[n + j] + x[n + 1 − j] (even rows r) or
/// d_j = x[n + j] − x[n + 1 − j] (odd rows), j = 1 … H.
///
/// Phase p interpolates x at n + p/(P + 1) (Whittaker–Shannon) with w, the Kaiser-windowed sinc:
/// y_p(n) = Σ_j w(p/(P + 1) − j)·x[n + j], j = −(H − 1) … H. Phase P + 1 − p is phase p mirrored
/// about n + ½ (w is even): with a_j = w(p/(P+1) − j), b_j = w(p/(P+1) − 1 + j),
///   y_p = E + O, y_{P+1−p} = E − O, E = Σ_j ½(a_j + b_j)·s_j, O = Σ_j ½(a_j − b_j)·d_j,
/// and max(|y_p|, |y_{P+1−p}|) = |E| + |O|. Rows 2q, 2q + 1 hold E and O of phase q + 1 (q <
/// (P − 1)/2); the last row, E of the middle phase (symmetric itself: O = 0). Half the
/// multiply-adds of the phases taken one by one.
pub(super) type PhaseTable<const P: usize, const H: usize> = [[[f32; 8]; P]; H];

pub(super) fn phase_table<const P: usize, const H: usize>(beta: f64) -> Box<PhaseTable<P, H>> {
    assert!(P % 2 == 1);
    let w = |d: f64| sinc(d) * kaiser(d / H as f64, beta);
    let mut table = Box::new([[[0.0f32; 8]; P]; H]);
    for (j, rows) in (1..=H).zip(table.iter_mut()) {
        let j = j as f64;
        for q in 0..P.div_ceil(2) {
            let frac = (q + 1) as f64 / (P + 1) as f64;
            let (a, b) = (w(frac - j), w(frac - 1.0 + j));
            if 2 * q + 1 < P {
                rows[2 * q] = [(0.5 * (a + b)) as f32; 8];
                rows[2 * q + 1] = [(0.5 * (a - b)) as f32; 8];
            } else {
                rows[P - 1] = [a as f32; 8];
            }
        }
    }
    table
}

/// The largest |y_p| per unit of max|x| that the folded `phases` can produce: |E| + |O| ≤
/// Σ_j (|e_j| + |o_j|)·2·max|x| (each of s_j, d_j is at most 2·max|x|).
pub(super) fn phase_gain_bound<const P: usize, const H: usize>(phases: &PhaseTable<P, H>) -> f32 {
    let row = |r: usize| phases.iter().map(|rows| rows[r][0].abs()).sum::<f32>();
    (0..P.div_ceil(2))
        .map(|q| 2.0 * if 2 * q + 1 < P { row(2 * q) + row(2 * q + 1) } else { row(P - 1) })
        .fold(0.0, f32::max)
}

/// x[start − history ..][..len], zero outside the signal: the signal itself where it covers the
/// span (no copy), else `scratch[..len]` filled.
pub(super) fn padded<'a>(x: &'a [f32], start: usize, history: usize, len: usize, scratch: &'a mut [f32]) -> &'a [f32] {
    let lo = start as isize - history as isize;
    if lo >= 0 && lo as usize + len <= x.len() {
        return &x[lo as usize..lo as usize + len];
    }
    for (j, v) in scratch[..len].iter_mut().enumerate() {
        let k = lo + j as isize;
        *v = if k >= 0 && (k as usize) < x.len() { x[k as usize] } else { 0.0 };
    }
    &scratch[..len]
}

/// out[i] = max(out[i], max(|x[i]|, |y_1(i)| … |y_P(i)|) + blind[i]), where `padded` holds x from
/// H − 1 samples before the block to H after it; on `kernel`, or the best the CPU has below it.
pub(super) fn phase_peaks<const P: usize, const H: usize>(
    phases: &PhaseTable<P, H>,
    padded: &[f32],
    blind: &[f32],
    out: &mut [f32],
    kernel: SimdLevel,
) {
    match kernel.min(SimdLevel::best()) {
        // SAFETY (both): at most `SimdLevel::best()`, so the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { phase_peaks_avx512(phases, padded, blind, out) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { phase_peaks_avx2(phases, padded, blind, out) },
        _ => phase_peaks_scalar(phases, padded, blind, out),
    }
}

fn phase_peaks_scalar<const P: usize, const H: usize>(
    phases: &PhaseTable<P, H>,
    padded: &[f32],
    blind: &[f32],
    out: &mut [f32],
) {
    for (i, o) in out.iter_mut().enumerate() {
        // padded[c] = x[n]; x[n + j] = padded[c + j].
        let c = i + H - 1;
        let mut acc = [0.0f32; P];
        for (j, rows) in (1..=H).zip(phases) {
            let (a, b) = (padded[c + j], padded[c + 1 - j]);
            let (sum, diff) = (a + b, a - b);
            for (r, (acc, row)) in acc.iter_mut().zip(rows).enumerate() {
                *acc += row[0] * if r % 2 == 0 { sum } else { diff };
            }
        }
        let mut peak = padded[c].abs();
        for pair in acc.chunks(2) {
            peak = fast_max(peak, pair.iter().map(|v| v.abs()).sum());
        }
        *o = fast_max(*o, peak + blind[i]);
    }
}

/// One SIMD kernel of [`phase_peaks`], for a lane type: `$name` runs `$lanes` outputs per lane
/// group, G groups at a time (G·P independent accumulators: `$g_meter` for the 4× meter's three
/// phases, `$g_detector` for the 8× detector's seven), and hands the rest to `$tail`. Per tap j:
/// two loads of x per group, their sum and difference (shared by all phases) and one FMA per row.
macro_rules! phase_kernel {
    ($(#[$doc:meta])* $name:ident, $features:literal, $lanes:literal, groups: ($g_meter:literal, $g_detector:literal), $tail:ident,
     load: $load:path, store: $store:path, zero: $zero:path, add: $add:path, sub: $sub:path, fma: $fma:path, max: $max:path,
     abs: $abs:expr, coefficient: $coefficient:expr) => {
        $(#[$doc])*
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name<const P: usize, const H: usize>(phases: &PhaseTable<P, H>, padded: &[f32], blind: &[f32], out: &mut [f32]) {
            // SAFETY: `groups` needs the features this function's caller guarantees.
            unsafe {
                if P <= 3 {
                    groups::<P, H, $g_meter>(phases, padded, blind, out);
                } else {
                    groups::<P, H, $g_detector>(phases, padded, blind, out);
                }
            }

            #[target_feature(enable = $features)]
            unsafe fn groups<const P: usize, const H: usize, const G: usize>(phases: &PhaseTable<P, H>, padded: &[f32], blind: &[f32], out: &mut [f32]) {
                #[allow(unused_imports)]
                use std::arch::x86_64::*;
                const LANES: usize = $lanes;
                let n = out.len();
                assert!(padded.len() >= n + 2 * H - 1 && blind.len() >= n);
                // SAFETY: the features are the caller's guarantee; every load and store lies within
                // `padded`, `blind` and `out` by the assertion above (groups cover whole outputs only).
                unsafe {
                    let groups = n / (G * LANES);
                    for v in 0..groups {
                        let i = v * G * LANES;
                        let x = padded.as_ptr().add(i + H - 1);
                        let mut acc = [[$zero(); P]; G];
                        for (j, rows) in (1..=H).zip(phases) {
                            for (g, acc) in acc.iter_mut().enumerate() {
                                let a = $load(x.add(g * LANES + j));
                                let b = $load(x.add(g * LANES + 1).sub(j));
                                let (sum, diff) = ($add(a, b), $sub(a, b));
                                for (r, (acc, row)) in acc.iter_mut().zip(rows).enumerate() {
                                    *acc = $fma($coefficient(row), if r % 2 == 0 { sum } else { diff }, *acc);
                                }
                            }
                        }
                        for (g, acc) in acc.iter().enumerate() {
                            let k = i + g * LANES;
                            let mut peak = $abs($load(x.add(g * LANES)));
                            for pair in acc.chunks(2) {
                                let folded = pair.iter().fold($zero(), |s, &a| $add(s, $abs(a)));
                                peak = $max(peak, folded);
                            }
                            let e = $add(peak, $load(blind.as_ptr().add(k)));
                            let o = out.as_mut_ptr().add(k);
                            $store(o, $max($load(o), e));
                        }
                    }
                    let done = groups * G * LANES;
                    $tail(phases, &padded[done..], &blind[done..], &mut out[done..]);
                }
            }
        }
    };
}

phase_kernel!(
    /// AVX2: eight lanes; G chosen so that the accumulators cover the FMA latency within the 16
    /// registers (each coefficient row is loaded whole: nine loads a tap per eight outputs).
    phase_peaks_avx2, "avx2,fma", 8, groups: (3, 1), phase_peaks_scalar,
    load: _mm256_loadu_ps, store: _mm256_storeu_ps, zero: _mm256_setzero_ps, add: _mm256_add_ps, sub: _mm256_sub_ps,
    fma: _mm256_fmadd_ps, max: _mm256_max_ps,
    abs: |v| _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))), coefficient: |row: &[f32; 8]| _mm256_loadu_ps(row.as_ptr()));

phase_kernel!(
    /// AVX-512: sixteen lanes in 32 registers, enough for three (4×) or two (8×) lane groups, each
    /// coefficient broadcast from memory inside its FMA: two loads a tap per group. Groups of 48 and
    /// 32 outputs are multiples of the AVX2 kernel's 24 and 8, and every lane does that kernel's
    /// operations in its order: the results are the same to the bit.
    phase_peaks_avx512, "avx512f,avx2,fma", 16, groups: (3, 2), phase_peaks_avx2,
    load: _mm512_loadu_ps, store: _mm512_storeu_ps, zero: _mm512_setzero_ps, add: _mm512_add_ps, sub: _mm512_sub_ps,
    fma: _mm512_fmadd_ps, max: _mm512_max_ps, abs: _mm512_abs_ps, coefficient: |row: &[f32; 8]| _mm512_set1_ps(row[0]));

#[cfg(test)]
mod tests {
    use super::super::noisy_tone;
    use super::*;
    use crate::dsp::true_peak::{METER_HALF_TAPS, METER_PHASES, PHASES, PHASE_BETA, PHASE_HALF_TAPS};

    /// The folded kernels (scalar and SIMD, 8× and 4×) against each phase's windowed sinc summed
    /// directly in f64.
    #[test]
    fn folded_phases_equal_the_phases_one_by_one() {
        fn check<const P: usize, const H: usize>() {
            let x = noisy_tone(1000, 3, 1.9);
            let table = phase_table::<P, H>(PHASE_BETA);
            let n = x.len() - 2 * H;
            let padded = &x[..n + 2 * H - 1];
            let blind = vec![0.0f32; n];
            for kernel in SimdLevel::available() {
                let mut out = vec![0.0f32; n];
                phase_peaks(&table, padded, &blind, &mut out, kernel);
                for (i, &got) in out.iter().enumerate() {
                    let c = i + H - 1;
                    let mut want = f64::from(x[c].abs());
                    for p in 1..=P {
                        let frac = p as f64 / (P + 1) as f64;
                        let y: f64 = (-(H as i64 - 1)..=H as i64)
                            .map(|j| {
                                let d = frac - j as f64;
                                sinc(d) * kaiser(d / H as f64, PHASE_BETA) * f64::from(x[(c as i64 + j) as usize])
                            })
                            .sum();
                        want = want.max(y.abs());
                    }
                    assert!((f64::from(got) - want).abs() < 2e-6, "P = {P}, {kernel:?}, sample {i}: {got} vs {want}");
                }
            }
        }
        check::<PHASES, PHASE_HALF_TAPS>();
        check::<METER_PHASES, METER_HALF_TAPS>();
    }
}
