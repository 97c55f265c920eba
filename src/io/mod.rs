//! Files in and out: decoding (symphonia, with PCM WAV fast paths), WAV encoding and atomic writes.
pub mod decode;
pub mod encode;
pub(crate) mod wav;
