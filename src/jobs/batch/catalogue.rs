//! The catalogue summary: one row per track (`catalogue.csv`, `catalogue.json` in the output
//! folder), from the ledger, so it covers every shard's rows.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ledger::{Event, Status};
use super::manifest::Manifest;
use crate::error::{Error, Result};
use crate::io::encode::write_atomically;

/// A mastered track as the catalogue shows it, measured on the written file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub loudness_before_lufs: f64,
    pub loudness_target_lufs: f64,
    pub loudness_after_lufs: f64,
    pub true_peak_after_dbtp: f64,
    pub ceiling_dbtp: f64,
    pub loudness_range_after_lu: f64,
    /// The yardstick's distances of the master to its reference (1/3-octave RMS, dB).
    pub tonal_distance_db: f64,
    pub width_distance_db: Option<f64>,
    pub warnings: Vec<String>,
}

/// One manifest row's line in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub target: String,
    pub output: String,
    /// done, failed or pending.
    pub status: String,
    pub error: Option<String>,
    #[serde(flatten)]
    pub entry: Option<Entry>,
}

/// The catalogue of `manifest`'s rows with their latest events.
pub fn lines(manifest: &Manifest, latest: &std::collections::HashMap<String, Event>) -> Vec<Line> {
    manifest
        .rows
        .iter()
        .map(|r| {
            let key = r.output.display().to_string();
            let event = latest.get(&key);
            Line {
                target: r.target.display().to_string(),
                output: key,
                status: match event.map(|e| e.status) {
                    Some(Status::Done) => "done",
                    Some(Status::Failed) => "failed",
                    None => "pending",
                }
                .into(),
                error: event.and_then(|e| e.error.clone()),
                entry: event.filter(|e| e.status == Status::Done).and_then(|e| e.entry.clone()),
            }
        })
        .collect()
}

/// Writes `catalogue.csv` and `catalogue.json` into `out_dir` (each atomically).
pub fn write(out_dir: &Path, lines: &[Line]) -> Result<()> {
    let json = serde_json::to_string_pretty(lines).map_err(|e| Error::Report(e.to_string()))?;
    write_atomically(&out_dir.join("catalogue.json"), |f| {
        std::io::Write::write_all(f, json.as_bytes()).map_err(|e| e.to_string())
    })?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Report(e.to_string());
    w.write_record([
        "target",
        "output",
        "status",
        "loudness_before_lufs",
        "loudness_target_lufs",
        "loudness_after_lufs",
        "true_peak_after_dbtp",
        "loudness_range_after_lu",
        "tonal_distance_db",
        "width_distance_db",
        "warnings",
        "error",
    ])
    .map_err(fail)?;
    let num = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v:.2}"));
    for l in lines {
        let e = l.entry.as_ref();
        w.write_record([
            l.target.clone(),
            l.output.clone(),
            l.status.clone(),
            num(e.map(|e| e.loudness_before_lufs)),
            num(e.map(|e| e.loudness_target_lufs)),
            num(e.map(|e| e.loudness_after_lufs)),
            num(e.map(|e| e.true_peak_after_dbtp)),
            num(e.map(|e| e.loudness_range_after_lu)),
            num(e.map(|e| e.tonal_distance_db)),
            num(e.and_then(|e| e.width_distance_db)),
            e.map_or_else(String::new, |e| e.warnings.join("; ")),
            l.error.clone().unwrap_or_default(),
        ])
        .map_err(fail)?;
    }
    let csv = w.into_inner().map_err(|e| Error::Report(e.to_string()))?;
    write_atomically(&out_dir.join("catalogue.csv"), |f| std::io::Write::write_all(f, &csv).map_err(|e| e.to_string()))
}
