//! Window functions used by filter design and analysis.

/// Zeroth-order modified Bessel function of the first kind, by its power series
/// (Abramowitz & Stegun 9.6.12); converges quickly for the arguments Kaiser windows use (< 30).
pub fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Kaiser window value at position `t` in [−1, 1] (0 at the centre): I0(β√(1−t²)) / I0(β)
/// (Kaiser & Schafer, IEEE TASSP 1980).
pub fn kaiser(t: f64, beta: f64) -> f64 {
    if t.abs() > 1.0 {
        return 0.0;
    }
    bessel_i0(beta * (1.0 - t * t).sqrt()) / bessel_i0(beta)
}

/// Periodic Hann window of length `n` (the form that sums to a constant at 50 % overlap).
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).collect()
}

/// sin(πx)/(πx).
pub fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}
