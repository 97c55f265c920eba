//! Signal processing building blocks. Each processor is built from a settings struct and a sample
//! rate; `process`-style methods never allocate.
pub mod limiter;
pub mod linear_phase_eq;
pub mod overlap_save;
pub mod true_peak;
pub mod window;

/// Linear amplitude to dB (floored at −400 dB so silence stays finite).
pub fn to_db(linear: f64) -> f64 {
    20.0 * linear.max(1e-20).log10()
}

/// dB to linear amplitude.
pub fn from_db(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}
