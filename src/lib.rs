//! automaster: analysis-driven, reference-matching auto-mastering.
//!
//! Data flows one way, each arrow a plain serde value:
//! [`io`] (decode) → [`analysis`] → [`Profile`] → [`matching`] → [`MasteringPlan`] → [`render`] →
//! [`io`] (encode + atomic write); [`jobs`] tie them together for the CLI and [`report`] draws them.
//! Modules import only those below them: `dsp` and `model` at the bottom, then `io` and
//! `analysis`, `matching`, `render`, `report`, `jobs`.
pub mod analysis;
pub mod audio;
pub mod dsp;
pub mod error;
pub mod fpenv;
pub mod io;
pub mod jobs;
pub mod matching;
pub mod model;
pub mod progress;
pub mod render;
pub mod report;

pub use audio::AudioBuffer;
pub use error::{Error, Result};
pub use model::{MasteringPlan, Profile};
