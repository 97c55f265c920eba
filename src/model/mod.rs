//! The documents that flow between the stages: [`Profile`] (analysis → matching), [`MasteringPlan`]
//! (matching → render) and the settings they carry. Plain versioned serde values; they import only
//! the settings of the `dsp` primitives they configure.
pub mod bit_depth;
mod json;
pub mod match_settings;
pub mod plan;
pub mod profile;

pub use bit_depth::BitDepth;
pub use match_settings::MatchSettings;
pub use plan::*;
pub use profile::*;
