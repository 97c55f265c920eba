//! The documents that flow between the stages: [`Profile`] (analysis → matching), [`MasteringPlan`]
//! (matching → render) and the settings they carry, down to those each `dsp` processor is built
//! from. Plain versioned serde values that import nothing of the crate but its error.
pub mod album;
pub mod album_plan;
pub mod bit_depth;
mod json;
pub mod match_settings;
pub mod plan;
pub mod platform;
pub mod profile;
pub mod restore;
pub mod settings;
pub mod tags;

pub use bit_depth::{BitDepth, Container, Dither, OutputSpec};
pub use match_settings::MatchSettings;
pub use plan::*;
pub use platform::Platform;
pub use profile::*;
pub use tags::Tags;
