//! Autoregressive (AR) models of audio and least-squares AR interpolation of missing samples
//! (Godsill & Rayner, *Digital Audio Restoration*, 1998, ch. 3 and 5): the model x\[n\] ≈ Σ a_k
//! x[n−k] predicts each sample from the p before it; its prediction error (the excitation) is small
//! and white where the model fits, so clicks stand out in it, and the samples a click spoiled are
//! rebuilt as those that make the excitation across the gap smallest.
//!
//! Coefficients are `a[0..p]` = a_1 … a_p; the prediction-error filter is b = (1, −a_1, …, −a_p).

use super::simd::simd_versions;

simd_versions! {
    /// Autocorrelation r[0..=lags] of `x` weighted by `window` (the same length), for the
    /// autocorrelation method (`levinson`). Products in f32, eight lanes over blocks of
    /// `AUTOCORRELATION_BLOCK`, each block's sum added in f64: relative errors near 1e-6, far
    /// under the ridge a detector adds.
    pub fn windowed_autocorrelation(x: &[f32], window: &[f32], r: &mut [f64], scratch: &mut Vec<f32>) {
        scratch.clear();
        scratch.extend(x.iter().zip(window).map(|(&v, &w)| v * w));
        for (lag, out) in r.iter_mut().enumerate() {
            let shifted = &scratch[lag.min(scratch.len())..];
            let base = &scratch[..shifted.len()];
            let mut total = 0.0f64;
            for (a, b) in shifted.chunks(AUTOCORRELATION_BLOCK).zip(base.chunks(AUTOCORRELATION_BLOCK)) {
                let mut lanes = [0.0f32; 8];
                let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
                let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(u, v)| u * v).sum();
                for (u, v) in ca.zip(cb) {
                    for ((l, &u), &v) in lanes.iter_mut().zip(u).zip(v) {
                        *l += u * v;
                    }
                }
                total += f64::from(lanes.iter().sum::<f32>() + tail);
            }
            *out = total;
        }
    }
}

/// Products summed in f32 before they join an f64 total.
const AUTOCORRELATION_BLOCK: usize = 512;

/// Levinson–Durbin recursion: the coefficients `a` (length p) of the order-p model whose
/// autocorrelation is `r[0..=p]`; returns the prediction-error power, or `None` when `r` is not
/// positive definite (silence).
pub fn levinson(r: &[f64], a: &mut [f64]) -> Option<f64> {
    let p = a.len();
    a.fill(0.0);
    let mut err = r[0];
    if err <= 0.0 || !err.is_finite() {
        return None;
    }
    for i in 0..p {
        let acc: f64 = r[i + 1] - (0..i).map(|k| a[k] * r[i - k]).sum::<f64>();
        let k = acc / err;
        if !k.is_finite() || k.abs() >= 1.0 {
            return None;
        }
        // a_new[j] = a[j] − k·a[i−1−j] for j < i, symmetric pairs updated together.
        for j in 0..i / 2 {
            let (lo, hi) = (a[j], a[i - 1 - j]);
            a[j] = lo - k * hi;
            a[i - 1 - j] = hi - k * lo;
        }
        if i % 2 == 1 {
            let m = i / 2;
            a[m] -= k * a[m];
        }
        a[i] = k;
        err *= 1.0 - k * k;
    }
    Some(err)
}

/// The prediction error e\[n\] = x\[n\] − Σ a_k x[n−k] of `x[from..to]` into `out` (x must hold p
/// samples before `from`).
pub fn prediction_error(x: &[f32], from: usize, to: usize, a: &[f64], out: &mut [f32]) {
    let p = a.len();
    debug_assert!(from >= p && to <= x.len() && out.len() >= to - from);
    for (n, o) in (from..to).zip(out.iter_mut()) {
        let past = &x[n - p..n];
        let predicted: f64 = a.iter().zip(past.iter().rev()).map(|(&c, &v)| c * f64::from(v)).sum();
        *o = (f64::from(x[n]) - predicted) as f32;
    }
}

/// Scratch of [`covariance_fit`] and [`interpolate`], kept between calls so neither allocates
/// once warm.
#[derive(Default)]
pub struct ArScratch {
    spans: Vec<std::ops::Range<usize>>,
    matrix: Vec<f64>,
    vector: Vec<f64>,
    solution: Vec<f64>,
    autocorrelation: Vec<f64>,
    reversed: Vec<f64>,
    /// The size and band of the factor the last successful [`interpolate`] left in `matrix`.
    factored: Option<(usize, usize)>,
    /// The band of the factor's inverse, row-major by offset (`gap_variances`).
    inverse: Vec<f64>,
}

/// The covariance (least-squares) fit of an order-`a.len()` model to the rows of `x` whose whole
/// span of p + 1 samples is `known` (samples a click spoiled are left out, not zeroed). A small
/// ridge (`ridge` × the rows' energy) keeps the system well posed. Returns the excitation's
/// variance (the mean squared prediction error over those rows), or `None` when too few rows
/// remain or the system is singular.
pub fn covariance_fit(x: &[f32], known: &[bool], a: &mut [f64], ridge: f64, scratch: &mut ArScratch) -> Option<f64> {
    covariance_fit_in(x, known, a, ridge, scratch)
}

simd_versions! {
    fn covariance_fit_in(x: &[f32], known: &[bool], a: &mut [f64], ridge: f64, scratch: &mut ArScratch) -> Option<f64> {
        let p = a.len();
        let len = x.len();
        // x reversed in f64: the p samples before n, latest first, are reversed[len − n ..][..p],
        // one contiguous slice.
        let reversed = &mut scratch.reversed;
        reversed.clear();
        reversed.extend(x.iter().rev().map(|&v| f64::from(v)));
        let (m, v, first) = (&mut scratch.matrix, &mut scratch.vector, &mut scratch.solution);
        m.clear();
        m.resize(p * p, 0.0);
        v.clear();
        v.resize(p, 0.0);
        first.clear();
        first.resize(p, 0.0);
        // The rows (n with p + 1 known samples ending there) as runs of consecutive n.
        let spans = &mut scratch.spans;
        spans.clear();
        let mut run = 0usize; // known samples ending at n
        for (n, &k) in known.iter().enumerate().take(len) {
            run = if k { run + 1 } else { 0 };
            if run > p {
                match spans.last_mut() {
                    Some(last) if last.end == n => last.end = n + 1,
                    _ => spans.push(n..n + 1),
                }
            }
        }
        let rows: usize = spans.iter().map(|r| r.len()).sum();
        let xf = |n: usize| f64::from(x[n]);
        let mut energy = 0.0;
        // m[i][0] (in `first`) and v[i] directly, over every row.
        for r in spans.iter() {
            for n in r.clone() {
                let (target, last) = (xf(n), xf(n - 1));
                energy += target * target;
                let before = &reversed[len - n..len - n + p];
                for ((vi, fi), &xi) in v.iter_mut().zip(first.iter_mut()).zip(before) {
                    *vi += xi * target;
                    *fi += xi * last;
                }
            }
        }
        for (i, &f) in first.iter().enumerate() {
            m[i * p] = f;
        }
        // The rest by the shift recursion m[i+1][j+1] = m[i][j] + what the rows shifted by one
        // gain at each run's start and lose at its end: O(p² · runs) instead of O(p² · rows).
        for i in 0..p.saturating_sub(1) {
            for j in 0..=i {
                let mut next = m[i * p + j];
                for r in spans.iter() {
                    let (s, e) = (r.start, r.end - 1);
                    next += xf(s - 2 - i) * xf(s - 2 - j) - xf(e - 1 - i) * xf(e - 1 - j);
                }
                m[(i + 1) * p + j + 1] = next;
            }
        }
        if rows < 2 * p || energy <= 0.0 {
            return None;
        }
        // The diagonal holds about the rows' energy: the ridge is a share of it.
        ridge_and_mirror(m, p, ridge * energy);
        if !cholesky_solve(m, p, p, v) {
            return None;
        }
        a.copy_from_slice(v);
        let mut residual = 0.0;
        for r in spans.iter() {
            for n in r.clone() {
                let predicted = dot(a, &reversed[len - n..len - n + p]);
                residual += (xf(n) - predicted).powi(2);
            }
        }
        Some(residual / rows as f64)
    }
}

/// Solves the symmetric positive definite system `m` (n × n, row-major, non-zero within `band` of
/// the diagonal) · x = `rhs` in place by Cholesky decomposition (`rhs` becomes x). False when `m`
/// is not positive definite.
pub(crate) fn cholesky_solve(m: &mut [f64], n: usize, band: usize, rhs: &mut [f64]) -> bool {
    cholesky_in_place(m, n, band, rhs)
}

simd_versions! {
    fn cholesky_in_place(m: &mut [f64], n: usize, band: usize, rhs: &mut [f64]) -> bool {
        // Lower factor L in place (row-major), only within the band.
        for i in 0..n {
            let lo = i.saturating_sub(band);
            for j in lo..=i {
                let k0 = lo.max(j.saturating_sub(band));
                let s = m[i * n + j] - dot(&m[i * n + k0..i * n + j], &m[j * n + k0..j * n + j]);
                if i == j {
                    if s <= 0.0 || !s.is_finite() {
                        return false;
                    }
                    m[i * n + i] = s.sqrt();
                } else {
                    m[i * n + j] = s / m[j * n + j];
                }
            }
        }
        // L y = rhs, then Lᵀ x = y.
        for i in 0..n {
            let lo = i.saturating_sub(band);
            let s = dot(&m[i * n + lo..i * n + i], &rhs[lo..i]);
            rhs[i] = (rhs[i] - s) / m[i * n + i];
        }
        for i in (0..n).rev() {
            let hi = (i + band + 1).min(n);
            let s: f64 = (i + 1..hi).map(|k| m[k * n + i] * rhs[k]).sum();
            rhs[i] = (rhs[i] - s) / m[i * n + i];
        }
        true
    }
}

/// The least-squares fit of an ARX model: x\[n\] ≈ Σ_{k=1..p} a_k x\[n−k\] + Σ_{j=−h..h} g_j u\[n−j\],
/// `u` a partner signal (the other channel of a stereo recording) over the same span as `x`,
/// over the rows whose p + 1 samples of `x` are `known` and whose 2h + 1 samples of `u` are
/// `u_known`. `coefficients` gets a_1 … a_p, then g_{−h} … g_h. A stereo recording's channels
/// share most of their music, so the partner predicts what a channel's own past cannot (Ljung,
/// *System Identification*, 2nd ed. 1999, §4.2). Returns the excitation's variance, or `None`
/// with too few rows or a singular system.
#[allow(clippy::too_many_arguments)]
pub fn arx_fit(
    x: &[f32],
    known: &[bool],
    u: &[f32],
    u_known: &[bool],
    p: usize,
    h: usize,
    coefficients: &mut Vec<f64>,
    ridge: f64,
    scratch: &mut ArScratch,
) -> Option<f64> {
    let m = p + 2 * h + 1;
    let len = x.len().min(u.len());
    let (g, rhs, v, projected) =
        (&mut scratch.matrix, &mut scratch.vector, &mut scratch.solution, &mut scratch.autocorrelation);
    g.clear();
    g.resize(m * m, 0.0);
    rhs.clear();
    rhs.resize(m, 0.0);
    let (mut rows, mut energy) = (0usize, 0.0f64);
    // Known samples of x ending at n, and of u ending at n + h.
    let (mut run_x, mut run_u) = (0usize, 0usize);
    for &k in &u_known[..h.min(len)] {
        run_u = if k { run_u + 1 } else { 0 };
    }
    for n in 0..len.saturating_sub(h) {
        run_x = if known[n] { run_x + 1 } else { 0 };
        run_u = if u_known[n + h] { run_u + 1 } else { 0 };
        if run_x <= p || run_u <= 2 * h || n < h {
            continue;
        }
        v.clear();
        v.extend((1..=p).map(|k| f64::from(x[n - k])));
        v.extend((0..=2 * h).map(|j| f64::from(u[n + h - j])));
        let target = f64::from(x[n]);
        for i in 0..m {
            let vi = v[i];
            rhs[i] += vi * target;
            let row = &mut g[i * m..i * m + i + 1];
            for (gij, &vj) in row.iter_mut().zip(&v[..=i]) {
                *gij += vi * vj;
            }
        }
        energy += target * target;
        rows += 1;
    }
    if rows < 2 * m || energy <= 0.0 {
        return None;
    }
    ridge_and_mirror(g, m, ridge * energy);
    // The residual energy from the normal equations: Σ x² − cᵀ(Gc) with Gc = rhs, before the
    // solve overwrites rhs.
    projected.clear();
    projected.extend_from_slice(rhs);
    if !cholesky_solve(g, m, m - 1, rhs) {
        return None;
    }
    coefficients.clear();
    coefficients.extend_from_slice(rhs);
    let explained: f64 = rhs.iter().zip(projected.iter()).map(|(c, r)| c * r).sum();
    Some(((energy - explained) / rows as f64).max(0.0))
}

/// Adds `load` (at least the smallest positive number) to the diagonal of the n × n normal matrix
/// `m`, whose lower triangle is filled, and mirrors that triangle into the upper one.
fn ridge_and_mirror(m: &mut [f64], n: usize, load: f64) {
    for i in 0..n {
        m[i * n + i] += load.max(f64::MIN_POSITIVE);
        for j in 0..i {
            m[j * n + i] = m[i * n + j];
        }
    }
}

/// Σ a·b in four interleaved partial sums, so that it vectorises.
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((l, &u), &v) in lanes.iter_mut().zip(x).zip(y) {
            *l += u * v;
        }
    }
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail
}

/// Least-squares AR interpolation (LSAR; Godsill & Rayner 1998, §5.2.2): the samples of a gap
/// rebuilt as those that minimise the excitation energy Σ e\[n\]² over every prediction the gap
/// takes part in. With b the prediction-error filter, the normal equations are Toeplitz in the
/// gap: Σ_j r_b(i − j) x_j = −Σ_n b_{n−i} c\[n\], r_b the autocorrelation of b and c\[n\] the part of
/// e\[n\] the known samples give.
///
/// With `observed_weights` (one per gap sample, λ_i) the gap's samples are not thrown away but
/// taken as the signal plus independent noise (the click) whose variance at sample i is 1/λ_i
/// times the excitation's: the MAP estimate (ibid. §5.3) adds λ_i to the diagonal and λ_i × the
/// observed sample to the right-hand side. Where the model is unsure (the music's strong low
/// frequencies) the observation then wins, where it is sure (the highs a click fills) the model
/// does; no weights (or zeros) is LSAR.
///
/// With `offset` (one per excitation sample n in [gap.start, gap.end + p), or empty), e\[n\] has
/// that known part taken off as well: the share of a partner signal in an ARX model
/// ([`arx_fit`]).
pub fn interpolate(
    x: &mut [f32],
    gap: std::ops::Range<usize>,
    a: &[f64],
    offset: &[f64],
    observed_weights: &[f64],
    scratch: &mut ArScratch,
) -> bool {
    let p = a.len();
    let (t0, len) = (gap.start, gap.len());
    if len == 0 {
        return true;
    }
    if t0 < p || gap.end + p > x.len() {
        return false;
    }
    scratch.factored = None;
    let b = |k: usize| if k == 0 { 1.0 } else { -a[k - 1] };
    let rb = |lag: usize| (0..=p - lag).map(|k| b(k) * b(k + lag)).sum::<f64>();
    let band = p.min(len - 1);
    let (m, rhs, r) = (&mut scratch.matrix, &mut scratch.vector, &mut scratch.autocorrelation);
    m.clear();
    m.resize(len * len, 0.0);
    r.clear();
    r.extend((0..=band).map(rb));
    for i in 0..len {
        for j in i.saturating_sub(band)..=i {
            m[i * len + j] = r[i - j];
            m[j * len + i] = r[i - j];
        }
    }
    // c[n] for n in [t0, t0 + len + p): the known samples' share of e[n].
    let c = &mut scratch.solution;
    c.clear();
    c.extend((t0..t0 + len + p).map(|n| {
        (0..=p).filter(|&k| !(t0..gap.end).contains(&(n - k))).map(|k| b(k) * f64::from(x[n - k])).sum::<f64>()
            - offset.get(n - t0).copied().unwrap_or(0.0)
    }));
    rhs.clear();
    rhs.extend((0..len).map(|i| -(0..=p).map(|k| b(k) * c[i + k]).sum::<f64>()));
    for (i, (v, &w)) in rhs.iter_mut().zip(observed_weights).enumerate() {
        m[i * len + i] += w;
        *v += w * f64::from(x[t0 + i]);
    }
    if !cholesky_solve(m, len, band, rhs) {
        return false;
    }
    for (o, &v) in x[gap].iter_mut().zip(rhs.iter()) {
        *o = v as f32;
    }
    scratch.factored = Some((len, band));
    true
}

/// The posterior variance of each sample the last successful [`interpolate`] with `scratch`
/// rebuilt, in units of the excitation's variance: the diagonal of the inverse of its normal
/// matrix (the samples' posterior is Gaussian with that covariance times the excitation's
/// variance; Godsill & Rayner 1998, §5.2.3). Worked out from the banded Cholesky factor L by
/// Takahashi's recursion, which needs the inverse only within the band (Takahashi, Fagan & Chen,
/// 1973): Z_ij = −(1/L_ii) Σ_{k>i} L_ki Z_kj for j > i, Z_ii = 1/L_ii² − (1/L_ii) Σ_{k>i} L_ki Z_ki.
/// Returns `false` (and leaves `out` empty) when there is no such factor.
pub fn gap_variances(scratch: &mut ArScratch, out: &mut Vec<f64>) -> bool {
    out.clear();
    let Some((n, band)) = scratch.factored else {
        return false;
    };
    let (l, z) = (&scratch.matrix, &mut scratch.inverse);
    // z[i * w + d] = Z_{i, i+d} for d in 0..=band.
    let w = band + 1;
    z.clear();
    z.resize(n * w, 0.0);
    let at = |z: &[f64], i: usize, j: usize| if i <= j { z[i * w + j - i] } else { z[j * w + i - j] };
    for i in (0..n).rev() {
        let hi = (i + band).min(n - 1);
        let lii = l[i * n + i];
        for j in (i + 1..=hi).rev() {
            let s: f64 = (i + 1..=hi).map(|k| l[k * n + i] * at(z, k, j)).sum();
            z[i * w + j - i] = -s / lii;
        }
        let s: f64 = (i + 1..=hi).map(|k| l[k * n + i] * z[i * w + k - i]).sum();
        z[i * w] = 1.0 / (lii * lii) - s / lii;
    }
    out.extend((0..n).map(|i| z[i * w]));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    /// An AR(2) process with poles at radius 0.95, ±0.3π.
    fn ar2(n: usize, seed: u64) -> (Vec<f32>, [f64; 2]) {
        let (r, w) = (0.95f64, 0.3 * std::f64::consts::PI);
        let a = [2.0 * r * w.cos(), -r * r];
        let mut rng = Rng::new(seed);
        let mut x = vec![0.0f32; n];
        let (mut y1, mut y2) = (0.0, 0.0);
        for v in &mut x {
            let y = a[0] * y1 + a[1] * y2 + 0.1 * rng.signed();
            (y2, y1) = (y1, y);
            *v = y as f32;
        }
        (x, a)
    }

    #[test]
    fn levinson_and_the_covariance_fit_recover_a_known_model() {
        let (x, want) = ar2(1 << 16, 1);
        let window = vec![1.0f32; x.len()];
        let mut r = [0.0; 3];
        windowed_autocorrelation(&x, &window, &mut r, &mut Vec::new());
        let mut a = [0.0; 2];
        levinson(&r, &mut a).unwrap();
        assert!((a[0] - want[0]).abs() < 0.02 && (a[1] - want[1]).abs() < 0.02, "{a:?} vs {want:?}");
        let mut c = [0.0; 2];
        let known = vec![true; x.len()];
        let variance = covariance_fit(&x, &known, &mut c, 0.0, &mut ArScratch::default()).unwrap();
        // The excitation was uniform in ±0.1: variance 0.01 / 3.
        assert!((variance / (0.01 / 3.0) - 1.0).abs() < 0.02, "{variance}");
        assert!((c[0] - want[0]).abs() < 0.02 && (c[1] - want[1]).abs() < 0.02, "{c:?} vs {want:?}");
    }

    /// LSAR against the same least-squares problem solved densely from its definition (every
    /// excitation sample built from the full prediction matrix): they agree to rounding.
    #[test]
    fn interpolation_solves_the_least_squares_problem() {
        let (x, _) = ar2(600, 3);
        let a = [1.1, -0.5, 0.2, -0.1];
        let p = a.len();
        let gap = 280..300;
        let mut got = x.clone();
        got[gap.clone()].fill(0.0);
        assert!(interpolate(&mut got, gap.clone(), &a, &[], &[], &mut ArScratch::default()));
        // Dense oracle: unknown u minimise ‖A_u u + A_k x_k‖² over rows n = p..len.
        let n = x.len();
        let m = gap.len();
        let mut ata = vec![vec![0.0f64; m]; m];
        let mut atb = vec![0.0f64; m];
        for row in p..n {
            let coef = |col: usize| -> f64 {
                if col == row {
                    1.0
                } else if col < row && row - col <= p {
                    -a[row - col - 1]
                } else {
                    0.0
                }
            };
            let known: f64 = (0..n).filter(|c| !gap.contains(c)).map(|c| coef(c) * f64::from(x[c])).sum();
            for (i, (row_i, b)) in ata.iter_mut().zip(atb.iter_mut()).enumerate() {
                let ci = coef(gap.start + i);
                *b -= ci * known;
                for (j, v) in row_i.iter_mut().enumerate() {
                    *v += ci * coef(gap.start + j);
                }
            }
        }
        // Gaussian elimination.
        for k in 0..m {
            let pivot = ata[k].clone();
            for i in k + 1..m {
                let f = ata[i][k] / pivot[k];
                ata[i].iter_mut().zip(&pivot).skip(k).for_each(|(v, &p)| *v -= f * p);
                atb[i] -= f * atb[k];
            }
        }
        let mut u = vec![0.0; m];
        for i in (0..m).rev() {
            u[i] = (atb[i] - (i + 1..m).map(|j| ata[i][j] * u[j]).sum::<f64>()) / ata[i][i];
        }
        for (i, want) in u.iter().enumerate() {
            assert!((f64::from(got[gap.start + i]) - want).abs() < 1e-5, "{i}: {} vs {want}", got[gap.start + i]);
        }
    }

    /// An ARX process (an AR(2) driven by noise plus a 3-tap filter of a partner AR(2) signal)
    /// with a span of its own samples and one of the partner's marked unknown: the fit recovers
    /// both filters and the excitation's variance.
    #[test]
    fn the_arx_fit_recovers_a_known_model() {
        let (u, _) = ar2(20_000, 11);
        let mut rng = Rng::new(12);
        let (a, g) = ([1.2, -0.6], [0.3, -0.5, 0.8]);
        let mut x = vec![0.0f32; u.len()];
        for n in 2..u.len() - 1 {
            let own = a[0] * f64::from(x[n - 1]) + a[1] * f64::from(x[n - 2]);
            // g over u[n + 1], u[n], u[n − 1] (j = −1, 0, 1).
            let partner: f64 = (0..3).map(|j| g[j] * f64::from(u[n + 1 - j])).sum();
            x[n] = (own + partner + 0.05 * rng.signed()) as f32;
        }
        let mut known = vec![true; x.len()];
        known[5_000..5_100].fill(false);
        let mut u_known = vec![true; u.len()];
        u_known[9_000..9_050].fill(false);
        let mut c = Vec::new();
        let variance = arx_fit(&x, &known, &u, &u_known, 2, 1, &mut c, 0.0, &mut ArScratch::default()).unwrap();
        let want = [a[0], a[1], g[0], g[1], g[2]];
        for (got, want) in c.iter().zip(want) {
            assert!((got - want).abs() < 0.02, "{c:?} vs {want:?}");
        }
        // Uniform in ±0.05: variance 0.0025 / 3.
        assert!((variance / (0.0025 / 3.0) - 1.0).abs() < 0.05, "{variance}");
    }

    /// The posterior variances against the inverse of the same normal matrix built densely and
    /// inverted by Gauss–Jordan elimination, with observed weights on part of the gap.
    #[test]
    fn gap_variances_are_the_inverse_normal_matrix_diagonal() {
        let (mut x, _) = ar2(400, 5);
        let a = [1.1, -0.5, 0.2, -0.1];
        let p = a.len();
        let gap = 180..210;
        let n = gap.len();
        let weights: Vec<f64> = (0..n).map(|i| if i % 7 == 3 { 1e3 } else { 0.0 }).collect();
        let mut scratch = ArScratch::default();
        let mut got = Vec::new();
        assert!(!gap_variances(&mut scratch, &mut got), "no factor yet");
        assert!(interpolate(&mut x, gap.clone(), &a, &[], &weights, &mut scratch));
        assert!(gap_variances(&mut scratch, &mut got));
        let b = |k: usize| if k == 0 { 1.0 } else { -a[k - 1] };
        let rb = |lag: usize| if lag > p { 0.0 } else { (0..=p - lag).map(|k| b(k) * b(k + lag)).sum::<f64>() };
        // [M | I] → [I | M⁻¹].
        let mut m: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..2 * n)
                    .map(|j| match j {
                        j if j < n => rb(i.abs_diff(j)) + if i == j { weights[i] } else { 0.0 },
                        j => f64::from(u8::from(j - n == i)),
                    })
                    .collect()
            })
            .collect();
        for c in 0..n {
            let pivot = m[c][c];
            m[c].iter_mut().for_each(|v| *v /= pivot);
            let row = m[c].clone();
            for (r, other) in m.iter_mut().enumerate() {
                if r != c {
                    let f = other[c];
                    other.iter_mut().zip(&row).for_each(|(v, &u)| *v -= f * u);
                }
            }
        }
        for (i, g) in got.iter().enumerate() {
            let want = m[i][n + i];
            assert!((g - want).abs() <= 1e-9 * want.abs(), "{i}: {g} vs {want}");
        }
        // Observed samples are pinned (variance near 1/weight), unobserved ones are not.
        assert!(got[3] < 1e-3 && got[15] > 0.1, "{got:?}");
    }

    #[test]
    fn a_sinusoid_is_rebuilt_across_a_gap() {
        // A sinusoid is an exact AR(2) process: its samples come back to f32 rounding.
        let w = 0.07f64;
        let x: Vec<f32> = (0..400).map(|n| (0.5 * (w * n as f64).sin()) as f32).collect();
        let a = [2.0 * w.cos(), -1.0];
        let mut y = x.clone();
        y[150..190].fill(0.9);
        assert!(interpolate(&mut y, 150..190, &a, &[], &[], &mut ArScratch::default()));
        for n in 150..190 {
            assert!((y[n] - x[n]).abs() < 1e-4, "{n}: {} vs {}", y[n], x[n]);
        }
    }
}
