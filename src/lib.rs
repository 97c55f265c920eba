//! automaster: analysis-driven, reference-matching auto-mastering.
//!
//! Data flows one way, each arrow a plain serde value:
//! [`io`] (decode) → [`analysis`] → [`Profile`] → [`matching`] → [`MasteringPlan`] → [`render`](mod@render) →
//! [`io`] (encode + atomic write); [`jobs`] tie them together for the CLI and [`report`] draws them.
//! Modules import only those below them: `dsp` and `model` at the bottom, then `io` and
//! `analysis`, `matching`, `render`, `report`, `jobs`.
//!
//! The facade: [`decode_file`] → [`analyze`] → [`match_profiles`] → [`render()`] → [`write_wav`], with
//! their documents ([`Profile`], [`MatchSettings`], [`MasteringPlan`], [`RenderReport`]) and the one
//! [`Error`]. A mix mastered to match a reference (here both synthesised, the reference 6 dB
//! louder):
//!
//! ```
//! use automaster::{analyze, match_profiles, render, AudioBuffer, BitDepth, MatchSettings};
//! use automaster::progress::NoProgress;
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
pub mod analysis;
pub mod audio;
pub mod dsp;
pub mod error;
pub mod fpenv;
pub mod io;
pub mod jobs;
pub mod matching;
pub mod model;
pub mod parallel;
pub mod progress;
pub mod render;
pub mod report;
#[doc(hidden)]
pub mod testing;

pub use analysis::analyze;
pub use audio::AudioBuffer;
pub use error::{Error, Result};
pub use io::decode::decode_file;
pub use io::encode::write_wav;
pub use matching::match_profiles;
pub use model::{BitDepth, MasteringPlan, MatchSettings, Profile};
pub use render::{render, RenderReport};
