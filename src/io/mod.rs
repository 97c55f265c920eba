//! Files in and out: decoding (symphonia, with PCM WAV fast paths; Ogg Opus through libopus; MP4
//! edit lists), WAV and FLAC encoding, tags, atomic writes, and lossy round trips (what a platform's
//! codec does to a master).
pub mod cue;
pub mod decode;
pub mod encode;
pub mod flac;
pub mod lossy;
pub mod mp4;
pub mod ogg;
pub mod tags;
pub(crate) mod wav;
