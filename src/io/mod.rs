//! Files in and out: decoding (symphonia, with PCM WAV fast paths), WAV and FLAC encoding, tags, and
//! atomic writes.
pub mod decode;
pub mod encode;
pub mod flac;
pub mod tags;
pub(crate) mod wav;
