//! The gapless trim of an MP4/M4A audio track from its edit list (ISO/IEC 14496-12 §8.6.6): AAC
//! encoders prime the decoder with about 1,024 samples and pad the last frame; the muxer records
//! where the real audio starts (`media_time`) and how long it lasts (`segment_duration`) in the
//! track's `elst` box, as ffmpeg and Apple's tools do. symphonia 0.5 ignores edit lists, so the
//! decoded samples are trimmed here.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Which decoded frames are the track's: from `skip`, `frames` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub skip: u64,
    pub frames: u64,
}

/// A `moov` larger than this is not read (a real one is kilobytes to a few megabytes).
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// The boxes one after another in `data`: each one's type and payload.
fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = data.get(at..at + 8)?;
        let (mut size, kind) = (u64::from(u32::from_be_bytes(header[..4].try_into().ok()?)), &header[4..8]);
        let mut start = at + 8;
        if size == 1 {
            size = u64::from_be_bytes(data.get(at + 8..at + 16)?.try_into().ok()?);
            start += 8;
        } else if size == 0 {
            size = (data.len() - at) as u64;
        }
        let end = at.checked_add(usize::try_from(size).ok()?)?;
        let payload = data.get(start..end)?;
        at = end;
        Some((kind, payload))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, p)| p)
}

fn be_u32(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?)))
}

fn be_u64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

/// The timescale of an `mvhd` or `mdhd` (full boxes: version 1 has 64-bit times).
fn timescale(header: &[u8]) -> Option<u64> {
    be_u32(header, if header.first() == Some(&1) { 20 } else { 12 }).filter(|&t| t > 0)
}

/// The single edit of an `elst`: (segment duration in the movie's timescale, media time in the
/// track's). Lists of several edits, or an empty edit (a delay), are left alone: `None`.
fn single_edit(elst: &[u8]) -> Option<(u64, u64)> {
    let version = *elst.first()?;
    if be_u32(elst, 4)? != 1 {
        return None;
    }
    let (duration, media_time) = if version == 1 {
        (be_u64(elst, 8)?, be_u64(elst, 16)? as i64)
    } else {
        (be_u32(elst, 8)?, be_u32(elst, 12)? as u32 as i32 as i64)
    };
    (media_time >= 0).then_some((duration, media_time as u64))
}

/// The trim of the first sound track of `moov`, at `sample_rate`.
fn trim_of_moov(moov: &[u8], sample_rate: u32) -> Option<Trim> {
    let movie_scale = timescale(child(moov, b"mvhd")?)?;
    let sound = boxes(moov).filter(|(k, _)| k == b"trak").map(|(_, t)| t).find(|trak| {
        child(trak, b"mdia").and_then(|m| child(m, b"hdlr")).and_then(|h| h.get(8..12)) == Some(b"soun")
    })?;
    let media_scale = timescale(child(child(sound, b"mdia")?, b"mdhd")?)?;
    let (duration, media_time) = single_edit(child(child(sound, b"edts")?, b"elst")?)?;
    let fs = u128::from(sample_rate);
    let rescale = |v: u64, scale: u64| ((u128::from(v) * fs + u128::from(scale) / 2) / u128::from(scale)) as u64;
    Some(Trim { skip: rescale(media_time, media_scale), frames: rescale(duration, movie_scale) })
}

/// The gapless trim `path`'s edit list gives its sound track at `sample_rate`, if it is an MP4 file
/// with one; `None` for any other file.
pub fn edit_trim(path: &Path, sample_rate: u32) -> Option<Trim> {
    let mut file = File::open(path).ok()?;
    let mut header = [0u8; 16];
    file.read_exact(&mut header[..8]).ok()?;
    if &header[4..8] != b"ftyp" {
        return None;
    }
    let mut at = 0u64;
    // The top level is walked by seeking (the media data may be gigabytes); `moov` is read whole.
    loop {
        file.seek(SeekFrom::Start(at)).ok()?;
        file.read_exact(&mut header[..8]).ok()?;
        let (mut size, mut header_len) = (be_u32(&header, 0)?, 8);
        if size == 1 {
            file.read_exact(&mut header[8..16]).ok()?;
            size = be_u64(&header, 8)?;
            header_len = 16;
        }
        if size < header_len {
            return None;
        }
        if &header[4..8] == b"moov" {
            if size > MAX_MOOV_BYTES {
                return None;
            }
            let mut moov = vec![0u8; (size - header_len) as usize];
            file.read_exact(&mut moov).ok()?;
            return trim_of_moov(&moov, sample_rate);
        }
        at = at.checked_add(size)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    fn full_v0_timescale(scale: u32) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&scale.to_be_bytes());
        v.extend_from_slice(&[0u8; 8]);
        v
    }

    fn moov(handler: &[u8; 4], edits: &[(u32, i32)]) -> Vec<u8> {
        let mut elst = vec![0u8; 4];
        elst.extend_from_slice(&(edits.len() as u32).to_be_bytes());
        for (d, t) in edits {
            elst.extend_from_slice(&d.to_be_bytes());
            elst.extend_from_slice(&t.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0u8; 13]);
        let mdia = [atom(b"mdhd", &full_v0_timescale(44_100)), atom(b"hdlr", &hdlr)].concat();
        let trak = [atom(b"edts", &atom(b"elst", &elst)), atom(b"mdia", &mdia)].concat();
        [atom(b"mvhd", &full_v0_timescale(1000)), atom(b"trak", &trak)].concat()
    }

    #[test]
    fn one_edit_gives_the_priming_and_the_length() {
        // ffmpeg's layout for a 60 s AAC at 44.1 kHz: 1,024 frames of priming, 60,000 ms kept.
        let trim = trim_of_moov(&moov(b"soun", &[(60_000, 1024)]), 44_100);
        assert_eq!(trim, Some(Trim { skip: 1024, frames: 2_646_000 }));
    }

    #[test]
    fn no_sound_track_several_edits_or_an_empty_edit_trim_nothing() {
        assert_eq!(trim_of_moov(&moov(b"vide", &[(60_000, 1024)]), 44_100), None);
        assert_eq!(trim_of_moov(&moov(b"soun", &[(10, -1), (60_000, 1024)]), 44_100), None);
        assert_eq!(trim_of_moov(&moov(b"soun", &[(60_000, -1)]), 44_100), None);
    }
}
