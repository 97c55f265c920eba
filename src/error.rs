//! The library's one error type. Every variant carries enough context (a path, a stage, a value) to
//! print as a single line a user can act on.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The I/O error is part of the message, not a `source`: error chains would print it twice.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: not a supported audio file ({reason})")]
    UnsupportedFormat { path: PathBuf, reason: String },
    #[error("{path}: corrupt or truncated audio ({reason})")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: contains no audio")]
    Empty { path: PathBuf },
    #[error("{path}: is silent, there is nothing to {what}")]
    Silent { path: PathBuf, what: &'static str },
    #[error("{path}: {seconds:.2} s is too short to measure its loudness (at least 0.4 s)")]
    TooShort { path: PathBuf, seconds: f64 },
    #[error("{path}: {channels} channels; only mono and stereo are supported")]
    TooManyChannels { path: PathBuf, channels: usize },
    #[error("{path}: non-finite sample (NaN or infinity) in channel {channel} at frame {frame}")]
    NonFinite { path: PathBuf, channel: usize, frame: usize },
    #[error("{path}: invalid {what} JSON: {reason}")]
    BadJson { path: PathBuf, what: &'static str, reason: String },
    #[error("{what}: schema version {found} is not supported (this build reads version {expected})")]
    SchemaVersion { what: &'static str, found: u32, expected: u32 },
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    #[error("output {path} would overwrite an input; choose another output path")]
    OutputIsInput { path: PathBuf },
    #[error("GPU: {reason}")]
    Gpu { reason: String },
    #[error("report: {0}")]
    Report(String),
    #[error("{codec} codec check: {reason}")]
    Codec { codec: &'static str, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What the error says, without the kind an enclosing message names again ("invalid
    /// setting: …" inside a manifest's or album file's line).
    pub(crate) fn into_reason(self) -> String {
        match self {
            Error::InvalidSetting(m) => m,
            other => other.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), error: source }
    }

    /// A recording with no integrated loudness: one shorter than a 400 ms gating block is not
    /// silent, just too short; a longer one is silent (`what`: the job it has nothing for).
    pub(crate) fn no_loudness(path: impl Into<PathBuf>, seconds: f64, what: &'static str) -> Self {
        if seconds < 0.4 {
            Error::TooShort { path: path.into(), seconds }
        } else {
            Error::Silent { path: path.into(), what }
        }
    }
}
