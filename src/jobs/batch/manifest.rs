//! The batch manifest: one row per track to master (CSV with a header, or JSON Lines), checked
//! whole before any work.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{BitDepth, Dither, Platform, Tags};

/// The columns a manifest may have: the files, then the `master` options a row may override, its
/// delivery and its tags.
const COLUMNS: [&str; 21] = [
    "target",
    "reference",
    "output",
    "lufs",
    "ceiling",
    "max_limiting_db",
    "eq_amount",
    "width_amount",
    "dynamics_amount",
    "platform",
    "bit_depth",
    "sample_rate",
    "dither",
    "title",
    "artist",
    "album",
    "track",
    "date",
    "genre",
    "isrc",
    "comment",
];

/// One track to master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Where the row is in the manifest (1-based; a CSV's header is line 1).
    pub line: usize,
    pub target: PathBuf,
    /// Audio files or saved profiles (several averaged with equal weights); empty: the batch's
    /// default reference.
    pub references: Vec<PathBuf>,
    /// Relative to the batch's output folder.
    pub output: PathBuf,
    pub options: RowOptions,
}

/// A row's own values of the `master` options (`None`: the batch's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowOptions {
    pub lufs: Option<f64>,
    pub ceiling: Option<f64>,
    /// Percent, as on the command line.
    pub eq_amount: Option<f64>,
    pub width_amount: Option<f64>,
    pub dynamics_amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_limiting_db: Option<f64>,
    /// A delivery platform's loudness, ceiling, rate, depth and bass mono, under the row's own
    /// cells and over the batch's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    pub bit_depth: Option<BitDepth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dither: Option<Dither>,
    /// Written over the target's own.
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub path: PathBuf,
    pub rows: Vec<Row>,
}

impl Manifest {
    /// Reads a CSV (with a header) or, for `.jsonl`/`.ndjson`, JSON Lines. Relative paths are taken
    /// from the manifest's folder. `has_default_reference`: rows may leave the reference out.
    pub fn load(path: &Path, has_default_reference: bool) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json_lines =
            path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"));
        let cells = if json_lines { json_cells(path, &text)? } else { csv_cells(path, &text)? };
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let rows = cells.into_iter().map(|(line, c)| row(path, base, line, c)).collect::<Result<Vec<_>>>()?;
        let manifest = Manifest { path: path.to_path_buf(), rows };
        manifest.check(has_default_reference)?;
        Ok(manifest)
    }

    /// A manifest of every file matching `pattern`, each mastered to `DIR/<stem>.wav`.
    pub fn from_glob(pattern: &str) -> Result<Self> {
        let bad = |m: String| Error::InvalidSetting(format!("--targets {pattern}: {m}"));
        let mut targets: Vec<PathBuf> = glob::glob(pattern)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        targets.retain(|p| p.is_file());
        targets.sort();
        if targets.is_empty() {
            return Err(bad("matches no file".into()));
        }
        let rows = targets
            .into_iter()
            .enumerate()
            .map(|(i, target)| {
                let stem =
                    target.file_stem().map_or_else(|| format!("track-{i}"), |s| s.to_string_lossy().into_owned());
                Row {
                    line: i + 2,
                    target,
                    references: Vec::new(),
                    output: format!("{stem}.wav").into(),
                    options: RowOptions::default(),
                }
            })
            .collect();
        let manifest = Manifest { path: PathBuf::from("manifest.csv"), rows };
        manifest.check(true)?;
        Ok(manifest)
    }

    /// The manifest as CSV (paths as given), for `--targets` to leave in the output folder.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| Error::InvalidSetting(format!("manifest: {e}"));
        w.write_record(["target", "reference", "output"]).map_err(fail)?;
        for r in &self.rows {
            let refs: Vec<String> = r.references.iter().map(|p| p.display().to_string()).collect();
            w.write_record([r.target.display().to_string(), refs.join(";"), r.output.display().to_string()])
                .map_err(fail)?;
        }
        String::from_utf8(w.into_inner().map_err(|e| Error::InvalidSetting(e.to_string()))?)
            .map_err(|e| Error::InvalidSetting(e.to_string()))
    }

    /// Every row has a reference (its own or the default), no two rows write one output, and no
    /// output is anyone's input.
    fn check(&self, has_default_reference: bool) -> Result<()> {
        let bad = |line: usize, m: String| Error::InvalidSetting(format!("{} line {line}: {m}", self.path.display()));
        let mut outputs: HashMap<PathBuf, usize> = HashMap::new();
        for r in &self.rows {
            if r.references.is_empty() && !has_default_reference {
                return Err(bad(r.line, "no reference (give one in the row or --reference)".into()));
            }
            if r.output.is_absolute() || r.output.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(bad(r.line, format!("output {} must lie inside the output folder", r.output.display())));
            }
            if let Some(first) = outputs.insert(normal(&r.output), r.line) {
                return Err(bad(r.line, format!("output {} is also line {first}'s", r.output.display())));
            }
        }
        Ok(())
    }

    /// Refuses a row whose output (under `out_dir`) is one of the manifest's inputs.
    pub fn check_outputs_against_inputs(&self, out_dir: &Path) -> Result<()> {
        let inputs: HashMap<PathBuf, usize> = self
            .rows
            .iter()
            .flat_map(|r| std::iter::once(&r.target).chain(&r.references).map(move |p| (absolute(p), r.line)))
            .collect();
        for r in &self.rows {
            if let Some(line) = inputs.get(&absolute(&out_dir.join(&r.output))) {
                return Err(Error::InvalidSetting(format!(
                    "{} line {}: output {} is an input of line {line}",
                    self.path.display(),
                    r.line,
                    r.output.display()
                )));
            }
        }
        Ok(())
    }
}

/// Keeps the manifest's rows in `DIR/.automaster/manifest.json`, for `batch status DIR`.
pub fn save_copy(manifest: &Manifest, out_dir: &Path) -> Result<()> {
    let json = serde_json::to_string(&manifest.rows).map_err(|e| Error::InvalidSetting(e.to_string()))?;
    crate::io::encode::write_atomically(&out_dir.join(".automaster").join("manifest.json"), |f| {
        std::io::Write::write_all(f, json.as_bytes()).map_err(|e| e.to_string())
    })
}

/// The manifest a batch in `out_dir` ran (see [`save_copy`]).
pub fn load_copy(out_dir: &Path) -> Result<Manifest> {
    let path = out_dir.join(".automaster").join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let rows = serde_json::from_str(&text).map_err(|e| Error::InvalidSetting(format!("{}: {e}", path.display())))?;
    Ok(Manifest { path, rows })
}

/// A path with `.` components dropped (outputs compare by name: none exists yet).
fn normal(p: &Path) -> PathBuf {
    p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

/// `p` made absolute, links resolved where it exists (its folder's, where only that does).
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (parent.canonicalize(), p.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => normal(p),
    }
}

type Cells = Vec<(usize, HashMap<String, String>)>;

fn csv_cells(path: &Path, text: &str) -> Result<Cells> {
    let bad = |line: u64, m: String| Error::InvalidSetting(format!("{} line {line}: {m}", path.display()));
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> =
        reader.headers().map_err(|e| bad(1, e.to_string()))?.iter().map(|h| h.to_ascii_lowercase()).collect();
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) {
            return Err(bad(1, format!("unknown column `{h}` (columns: {})", COLUMNS.join(", "))));
        }
    }
    for needed in ["target", "output"] {
        if !header.iter().any(|h| h == needed) {
            return Err(bad(1, format!("no `{needed}` column")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line()) as usize;
        rows.push((line, header.iter().cloned().zip(record.iter().map(str::to_string)).collect()));
    }
    Ok(rows)
}

fn json_cells(path: &Path, text: &str) -> Result<Cells> {
    let mut rows = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |m: String| Error::InvalidSetting(format!("{} line {}: {m}", path.display(), i + 1));
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(l).map_err(|e| bad(e.to_string()))?;
        let mut cells = HashMap::new();
        for (k, v) in object {
            if !COLUMNS.contains(&k.as_str()) {
                return Err(bad(format!("unknown column `{k}` (columns: {})", COLUMNS.join(", "))));
            }
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
                    .collect::<Vec<_>>()
                    .join(";"),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            cells.insert(k, text);
        }
        rows.push((i + 1, cells));
    }
    Ok(rows)
}

fn row(path: &Path, base: &Path, line: usize, mut cells: HashMap<String, String>) -> Result<Row> {
    let bad = |m: String| Error::InvalidSetting(format!("{} line {line}: {m}", path.display()));
    let mut take = |k: &str| cells.remove(k).filter(|v| !v.is_empty());
    let file = |p: String| if Path::new(&p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
    let target = take("target").map(file).ok_or_else(|| bad("no target".into()))?;
    let output = take("output").map(PathBuf::from).ok_or_else(|| bad("no output".into()))?;
    let references = take("reference").map_or_else(Vec::new, |r| {
        r.split(';').map(str::trim).filter(|s| !s.is_empty()).map(|s| file(s.into())).collect()
    });
    let mut number = |k: &str| -> Result<Option<f64>> {
        take(k)
            .map(|v| {
                v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad(format!("{k} `{v}` is not a number")))
            })
            .transpose()
    };
    let (lufs, ceiling, max_limiting_db) = (number("lufs")?, number("ceiling")?, number("max_limiting_db")?);
    let (eq_amount, width_amount, dynamics_amount) =
        (number("eq_amount")?, number("width_amount")?, number("dynamics_amount")?);
    let bit_depth: Option<BitDepth> =
        named(take("bit_depth")).map_err(|v| bad(format!("bit_depth `{v}` is not 16, 24 or 32f")))?;
    let dither: Option<Dither> =
        named(take("dither")).map_err(|v| bad(format!("dither `{v}` is not auto, tpdf, shaped or none")))?;
    let sample_rate = take("sample_rate")
        .map(|v| {
            v.parse::<u32>()
                .ok()
                .filter(|r| crate::dsp::resample::RATE_RANGE_HZ.contains(r))
                .ok_or_else(|| bad(format!("sample_rate `{v}` is not a rate in Hz within 8000 … 384000")))
        })
        .transpose()?;
    let platform = take("platform");
    if let Some(p) = &platform {
        Platform::named(p).map_err(|e| bad(e.into_reason()))?;
    }
    let mut tags = Tags {
        title: take("title"),
        artist: take("artist"),
        album: take("album"),
        track: take("track"),
        date: take("date"),
        genre: take("genre"),
        isrc: take("isrc"),
        comment: take("comment"),
    };
    tags.validate().map_err(|e| bad(e.into_reason()))?;
    let options = RowOptions {
        lufs,
        ceiling,
        eq_amount,
        width_amount,
        dynamics_amount,
        max_limiting_db,
        platform,
        bit_depth,
        sample_rate,
        dither,
        tags,
    };
    Ok(Row { line, target, references, output, options })
}

/// A cell holding one of a set of names, as serde reads them; the error is the cell when it names none.
fn named<T: serde::de::DeserializeOwned>(cell: Option<String>) -> std::result::Result<Option<T>, String> {
    cell.map(|v| serde_json::from_value(serde_json::Value::String(v.clone())).map_err(|_| v)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, ext: &str) -> Result<Manifest> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("m.{ext}"));
        std::fs::write(&p, text).unwrap();
        Manifest::load(&p, false)
    }

    #[test]
    fn rows_read_with_their_options_and_lines() {
        let m = load(
            "target,reference,output,lufs,bit_depth\na.wav,r.wav;s.json,a.wav,-9,16\nb.wav,r.wav,sub/b.wav,,\n",
            "csv",
        )
        .unwrap();
        assert_eq!(m.rows.len(), 2);
        assert_eq!((m.rows[0].line, m.rows[1].line), (2, 3));
        assert_eq!(m.rows[0].references.len(), 2);
        assert_eq!(m.rows[0].options.lufs, Some(-9.0));
        assert_eq!(m.rows[0].options.bit_depth, Some(BitDepth::Int16));
        assert_eq!(m.rows[1].options, RowOptions::default());
        let j = load(
            "{\"target\": \"a.wav\", \"reference\": [\"r.wav\"], \"output\": \"a.wav\", \"ceiling\": -2}\n",
            "jsonl",
        )
        .unwrap();
        assert_eq!(j.rows[0].options.ceiling, Some(-2.0));
    }

    #[test]
    fn bad_manifests_name_the_line() {
        let err = |t: &str| load(t, "csv").unwrap_err().to_string();
        assert!(err("target,output,colour\na,b,c\n").contains("line 1: unknown column `colour`"));
        assert!(err("reference,output\nr,b\n").contains("no `target` column"));
        assert!(
            err("target,reference,output\na,r,x.wav\nb,r,x.wav\n").contains("line 3: output x.wav is also line 2's")
        );
        assert!(err("target,reference,output\na,r,x.wav\nb,,y.wav\n").contains("line 3: no reference"));
        assert!(err("target,reference,output,lufs\na,r,x.wav,loud\n").contains("line 2: lufs `loud` is not a number"));
        assert!(err("target,reference,output\na,r,../x.wav\n").contains("inside the output folder"));
    }
}
