//! CUE sheets for an album image (the CDRWIN format cuetools and shntool read): the disc's
//! CATALOG, PERFORMER and TITLE, then per track its TITLE, PERFORMER, ISRC and INDEX 00/01 in
//! mm:ss:ff (75 frames a second).

/// One track of the sheet, positions in CUE frames from the image's start.
#[derive(Debug, Clone, PartialEq)]
pub struct CueTrack {
    pub title: String,
    pub performer: String,
    pub isrc: Option<String>,
    pub index_00: Option<u64>,
    pub index_01: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CueSheet {
    /// The image's file name, beside the sheet.
    pub file: String,
    pub title: String,
    pub performer: String,
    pub catalog: Option<String>,
    pub date: Option<String>,
    pub genre: Option<String>,
    pub tracks: Vec<CueTrack>,
}

/// mm:ss:ff.
fn time(frames: u64) -> String {
    format!("{:02}:{:02}:{:02}", frames / (75 * 60), frames / 75 % 60, frames % 75)
}

/// A quoted CUE string: its own quotes cannot be escaped in the format, so they become apostrophes.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'").replace(['\r', '\n'], " "))
}

impl CueSheet {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push_str("\r\n");
        };
        if let Some(g) = &self.genre {
            line(format!("REM GENRE {}", quoted(g)));
        }
        if let Some(d) = &self.date {
            line(format!("REM DATE {d}"));
        }
        if let Some(c) = &self.catalog {
            line(format!("CATALOG {c}"));
        }
        line(format!("PERFORMER {}", quoted(&self.performer)));
        line(format!("TITLE {}", quoted(&self.title)));
        line(format!("FILE {} WAVE", quoted(&self.file)));
        for (i, t) in self.tracks.iter().enumerate() {
            line(format!("  TRACK {:02} AUDIO", i + 1));
            line(format!("    TITLE {}", quoted(&t.title)));
            line(format!("    PERFORMER {}", quoted(&t.performer)));
            if let Some(isrc) = &t.isrc {
                line(format!("    ISRC {isrc}"));
            }
            if let Some(i0) = t.index_00 {
                line(format!("    INDEX 00 {}", time(i0)));
            }
            line(format!("    INDEX 01 {}", time(t.index_01)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_minutes_seconds_frames() {
        assert_eq!(time(0), "00:00:00");
        assert_eq!(time(150), "00:02:00");
        assert_eq!(time(75 * 61 + 74), "01:01:74");
    }
}
