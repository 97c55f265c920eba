//! The tags written into a delivered file: what a distributor asks for (title, artist, album, track,
//! date, genre, ISRC, comment). A plain document; `io::tags` reads and writes them.
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// The track number, and optionally the tracks in all: "3" or "3/12".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    /// International Standard Recording Code, 12 characters (CC-XXX-YY-NNNNN without the dashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isrc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Tags {
    /// `self`'s tags, and `base`'s where `self` has none.
    pub fn over(self, base: Tags) -> Tags {
        Tags {
            title: self.title.or(base.title),
            artist: self.artist.or(base.artist),
            album: self.album.or(base.album),
            track: self.track.or(base.track),
            date: self.date.or(base.date),
            genre: self.genre.or(base.genre),
            isrc: self.isrc.or(base.isrc),
            comment: self.comment.or(base.comment),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Tags::default()
    }

    /// The track number and the total, when `track` gives them.
    pub fn track_numbers(&self) -> Result<Option<(u32, Option<u32>)>> {
        let Some(t) = &self.track else { return Ok(None) };
        let bad = || Error::InvalidSetting(format!("track `{t}` is not a number like 3 or 3/12"));
        let (n, total) = match t.split_once('/') {
            Some((n, total)) => (n, Some(total.trim().parse::<u32>().map_err(|_| bad())?)),
            None => (t.as_str(), None),
        };
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || total.is_some_and(|total| total < n) {
            return Err(bad());
        }
        Ok(Some((n, total)))
    }

    /// Refuses an ISRC that is not 2 letters, 3 letters or digits and 7 digits (ISO 3901; dashes as
    /// printed on sleeves are accepted and dropped), a malformed track number, or an empty tag.
    pub fn validate(&mut self) -> Result<()> {
        if let Some(isrc) = &self.isrc {
            self.isrc = Some(normalise_isrc(isrc)?);
        }
        self.track_numbers()?;
        for (name, value) in self.fields() {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(Error::InvalidSetting(format!("the {name} tag is empty")));
            }
        }
        Ok(())
    }

    /// The tags that would pass [`Self::validate`], each malformed one dropped (ISRCs
    /// normalised): what a file's own tags carry over as. Files in the wild hold track 0 or a
    /// mistyped ISRC, which must not stop their mastering.
    pub fn keep_valid(mut self) -> Tags {
        self.isrc = self.isrc.and_then(|i| normalise_isrc(&i).ok());
        if self.track_numbers().is_err() {
            self.track = None;
        }
        for value in [
            &mut self.title,
            &mut self.artist,
            &mut self.album,
            &mut self.track,
            &mut self.date,
            &mut self.genre,
            &mut self.isrc,
            &mut self.comment,
        ] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
        self
    }

    /// Each tag's name and value.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 8] {
        [
            ("title", self.title.as_deref()),
            ("artist", self.artist.as_deref()),
            ("album", self.album.as_deref()),
            ("track", self.track.as_deref()),
            ("date", self.date.as_deref()),
            ("genre", self.genre.as_deref()),
            ("isrc", self.isrc.as_deref()),
            ("comment", self.comment.as_deref()),
        ]
    }
}

/// `isrc` upper-cased without dashes, if it is an ISRC: 2 letters (the country), 3 letters or
/// digits (the registrant), 2 digits (the year) and 5 (the designation).
pub fn normalise_isrc(isrc: &str) -> Result<String> {
    let code: String = isrc.chars().filter(|&c| c != '-').collect::<String>().to_ascii_uppercase();
    let b = code.as_bytes();
    let ok = b.len() == 12
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..5].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && b[5..].iter().all(u8::is_ascii_digit);
    if !ok {
        return Err(Error::InvalidSetting(format!(
            "ISRC `{isrc}` is not 12 characters of 2 letters, 3 letters or digits and 7 digits (e.g. GBAYE0601498)"
        )));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_malformed_tags_are_dropped_and_the_rest_kept() {
        let read = Tags {
            title: Some("Song".into()),
            track: Some("0".into()),
            isrc: Some("gb-aye-06-01498".into()),
            comment: Some("  ".into()),
            ..Tags::default()
        };
        let mut kept = read.keep_valid();
        assert_eq!(kept.title.as_deref(), Some("Song"));
        assert_eq!((kept.track.as_deref(), kept.comment.as_deref()), (None, None));
        assert_eq!(kept.isrc.as_deref(), Some("GBAYE0601498"));
        kept.validate().unwrap();
        let bad = Tags { track: Some("5/3".into()), isrc: Some("GBAYE060149".into()), ..Tags::default() };
        assert!(bad.keep_valid().is_empty());
    }

    #[test]
    fn isrc_is_checked_and_normalised() {
        assert_eq!(normalise_isrc("GB-AYE-06-01498").unwrap(), "GBAYE0601498");
        assert_eq!(normalise_isrc("usrc17607839").unwrap(), "USRC17607839");
        for bad in ["GBAYE060149", "GBAYE06014980", "1BAYE0601498", "GBAY_0601498", "GBAYE06O1498", ""] {
            assert!(normalise_isrc(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn track_numbers_parse() {
        let t = |s: &str| Tags { track: Some(s.into()), ..Default::default() }.track_numbers();
        assert_eq!(t("3").unwrap(), Some((3, None)));
        assert_eq!(t("3/12").unwrap(), Some((3, Some(12))));
        assert!(t("0").is_err() && t("13/12").is_err() && t("x").is_err());
    }
}
