//! Tags in and out with lofty: read from any input (to carry a target's own over), written as
//! Vorbis comments into FLAC, and as ID3v2 plus RIFF INFO into WAV. The ISRC goes where it means
//! the recording code: FLAC's `ISRC` comment and ID3's `TSRC` frame (RIFF INFO's `ISRC` is the
//! "source", so INFO carries none).
use std::fs::File;
use std::io::Seek;
use std::path::Path;

use lofty::config::WriteOptions;
use lofty::id3::v2::{Frame, Id3v2Tag};
use lofty::prelude::*;
use lofty::tag::{Tag, TagType};

use crate::model::Tags;

/// The tags of `path`, from its primary tag (or the first it has), less malformed ones (track 0, an
/// ISRC that is not one); none when it has none or they cannot be read (a mastering job never
/// fails on its input's tags).
pub fn read_tags(path: &Path) -> Tags {
    let Ok(file) = lofty::read_from_path(path) else { return Tags::default() };
    let Some(tag) = file.primary_tag().or_else(|| file.first_tag()) else { return Tags::default() };
    let text = |key: ItemKey| tag.get_string(key).map(str::to_string).filter(|s| !s.trim().is_empty());
    let track = tag.track().map(|n| match tag.track_total() {
        Some(total) => format!("{n}/{total}"),
        None => n.to_string(),
    });
    let read = Tags {
        title: text(ItemKey::TrackTitle),
        artist: text(ItemKey::TrackArtist),
        album: text(ItemKey::AlbumTitle),
        track,
        date: text(ItemKey::RecordingDate).or_else(|| text(ItemKey::Year)),
        genre: text(ItemKey::Genre),
        isrc: text(ItemKey::Isrc),
        comment: text(ItemKey::Comment),
    };
    read.keep_valid()
}

/// Writes `tags` into the audio file open in `file` (its type found from its content), as the tag
/// types `kinds`.
pub fn write_tags(file: &mut File, tags: &Tags, kinds: &[TagType]) -> Result<(), String> {
    if tags.is_empty() {
        return Ok(());
    }
    let track = tags.track_numbers().map_err(|e| e.to_string())?;
    for &kind in kinds {
        let mut tag = Tag::new(kind);
        let mut put = |key: ItemKey, value: &Option<String>| {
            if let Some(v) = value {
                tag.insert_text(key, v.clone());
            }
        };
        put(ItemKey::TrackTitle, &tags.title);
        put(ItemKey::TrackArtist, &tags.artist);
        put(ItemKey::AlbumTitle, &tags.album);
        put(ItemKey::RecordingDate, &tags.date);
        put(ItemKey::Genre, &tags.genre);
        put(ItemKey::Comment, &tags.comment);
        if kind != TagType::RiffInfo {
            put(ItemKey::Isrc, &tags.isrc);
        }
        if let Some((n, total)) = track {
            tag.set_track(n);
            if let Some(total) = total {
                tag.set_track_total(total);
            }
        }
        file.rewind().map_err(|e| e.to_string())?;
        let saved = if kind == TagType::Id3v2 {
            in_frame_order(tag).save_to(file, WriteOptions::default())
        } else {
            tag.save_to(file, WriteOptions::default())
        };
        saved.map_err(|e| format!("cannot write its {kind:?} tags: {e}"))?;
    }
    Ok(())
}

/// `tag` as ID3v2 with its frames in the order of their IDs: lofty's conversion gathers them in a
/// hash set, whose order changes from run to run, and the same master must be the same bytes.
fn in_frame_order(tag: Tag) -> Id3v2Tag {
    let mut frames: Vec<Frame<'static>> = Id3v2Tag::from(tag).into_iter().collect();
    frames.sort_by(|a, b| a.id_str().cmp(b.id_str()));
    let mut ordered = Id3v2Tag::new();
    for frame in frames {
        ordered.insert(frame);
    }
    ordered
}
