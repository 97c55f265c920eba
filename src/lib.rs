//! automaster: analysis-driven, reference-matching auto-mastering.
//!
//! Data flows one way, each arrow a plain serde value: decode → analysis → [`Profile`] → matching
//! → [`MasteringPlan`] → render → encode (written atomically). Inside the crate, modules import
//! only those below them (`dsp` and `model` at the bottom, then `io`, `analysis`, `matching`,
//! `render`, `report`, `jobs`; docs/ARCHITECTURE.md).
//!
//! The facade: [`decode_file`] → [`analyze`] → [`match_profiles`] → [`render()`] → [`write_wav`], with
//! their documents ([`Profile`], [`MatchSettings`], [`MasteringPlan`], [`RenderReport`]) and the one
//! [`Error`]. A mix mastered to match a reference (here both synthesised, the reference 6 dB
//! louder):
//!
//! ```
//! use automaster::{analyze, match_profiles, render, AudioBuffer, BitDepth, MatchSettings, NoProgress};
//!
//! let fs = 48_000;
//! let tone = |gain: f32| -> Vec<f32> {
//!     (0..4 * fs).map(|n| gain * (0.002 * n as f32).sin() * (1.0 + (n % 97) as f32 / 97.0) / 2.0).collect()
//! };
//! let mix = AudioBuffer::new(fs as u32, vec![tone(0.1), tone(0.08)]);
//! let reference = AudioBuffer::new(fs as u32, vec![tone(0.2), tone(0.16)]);
//! let target = analyze(&mix, "mix", &NoProgress)?;
//! let plan = match_profiles(&target, &analyze(&reference, "reference", &NoProgress)?, &MatchSettings::default())?;
//! let (master, report) = render(mix, &plan, BitDepth::Int24, "mix", &NoProgress)?;
//! assert_eq!(master.frames(), 4 * fs);
//! assert!((report.output_lufs - plan.loudness.target_lufs).abs() < 0.1);
//! assert!(report.limit.output_true_peak_dbtp <= plan.limiter.ceiling_dbtp);
//! # Ok::<(), automaster::Error>(())
//! ```
mod analysis;
mod audio;
mod dsp;
mod error;
mod fpenv;
mod io;
mod jobs;
mod matching;
mod model;
mod parallel;
mod progress;
mod render;
mod report;
mod testing;

pub use analysis::analyze;
pub use audio::AudioBuffer;
pub use error::{Error, Result};
pub use io::decode::decode_file;
pub use io::encode::write_wav;
pub use matching::match_profiles;
pub use model::{BitDepth, MasteringPlan, MatchSettings, Profile};
pub use progress::{NoProgress, Progress};
pub use render::{render, RenderReport};

/// Every module, for the crate's own binary, tests and benches: not part of the library's API,
/// and free to change between any two versions.
#[doc(hidden)]
pub mod internals {
    pub mod analysis {
        pub use crate::analysis::*;
    }
    pub mod audio {
        pub use crate::audio::*;
    }
    pub mod dsp {
        pub use crate::dsp::*;
    }
    pub mod error {
        pub use crate::error::*;
    }
    pub mod fpenv {
        pub use crate::fpenv::*;
    }
    pub mod io {
        pub use crate::io::*;
    }
    pub mod jobs {
        pub use crate::jobs::*;
    }
    pub mod matching {
        pub use crate::matching::*;
    }
    pub mod model {
        pub use crate::model::*;
    }
    pub mod parallel {
        pub use crate::parallel::*;
    }
    pub mod progress {
        pub use crate::progress::*;
    }
    pub mod render {
        pub use crate::render::*;
    }
    pub mod report {
        pub use crate::report::*;
    }
    pub mod testing {
        pub use crate::testing::*;
    }
}
