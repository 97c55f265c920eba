//! The settings the processors of `dsp` are built from: plain serde documents, each with the bounds
//! it accepts. The plan carries them; `dsp` builds its processors from them.
mod clipper;
mod compressor;
mod declick;
mod declip;
mod dehiss;
mod dehum;
mod eq_curve;
mod leveler;
mod limiter;
mod multiband;

pub use clipper::ClipperSettings;
pub use compressor::CompressorSettings;
pub use declick::{Click, ClickMode, DeclickSettings};
pub use declip::{Clipping, DeclipSettings};
pub use dehiss::{DehissSettings, NoiseFloor};
pub use dehum::{DehumSettings, Hum, HumLine};
pub use eq_curve::EqCurve;
pub use leveler::{LevelerSettings, MAX_BOOST_DB, MAX_CUT_DB, RATIO_BOUNDS};
pub use limiter::LimiterSettings;
pub use multiband::MultibandSettings;

/// Err unless every named value lies in `range` (settings validation).
pub(crate) fn check_range(
    what: &str,
    values: &[(&str, f64)],
    range: std::ops::RangeInclusive<f64>,
) -> crate::error::Result<()> {
    for (name, v) in values {
        if !range.contains(v) {
            return Err(crate::error::Error::InvalidSetting(format!(
                "{what} {name} {v} must be between {} and {}",
                range.start(),
                range.end()
            )));
        }
    }
    Ok(())
}
