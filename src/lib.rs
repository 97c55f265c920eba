//! automaster: analysis-driven, reference-matching auto-mastering.
//!
//! Data flows one way, each arrow a plain serde value:
//! decode → [`analysis`] → [`Profile`] → [`matching`] → [`MasteringPlan`] → [`render`] → encode + verify.
pub mod analysis;
pub mod audio;
pub mod decode;
pub mod dsp;
pub mod dynamics_stage;
pub mod encode;
pub mod error;
pub mod fpenv;
pub mod gpu;
pub mod leveler;
mod json;
pub mod matching;
pub mod pipeline;
pub mod plan;
pub mod profile;
pub mod progress;
pub mod render;
pub mod report;
mod wav;

pub use audio::AudioBuffer;
pub use error::{Error, Result};
pub use plan::MasteringPlan;
pub use profile::Profile;
