//! The catalogue summary: one row per track (`catalogue.csv`, `catalogue.json` and the page
//! `catalogue.html` in the output folder), from the ledger, so it covers every shard's rows.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ledger::{Event, Status};
use super::manifest::Manifest;
use crate::error::{Error, Result};
use crate::io::encode::write_atomically;

/// A mastered track as the catalogue shows it, measured on the written file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The written file's container, rate and depth, e.g. `flac 44100 Hz 16-bit` (empty in
    /// ledgers from before it was recorded).
    #[serde(default)]
    pub format: String,
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

/// Writes `catalogue.csv`, `catalogue.json` and `catalogue.html` into `out_dir` (each atomically).
pub fn write(out_dir: &Path, lines: &[Line]) -> Result<()> {
    let html = to_html(lines)?;
    write_atomically(&out_dir.join("catalogue.html"), |f| {
        std::io::Write::write_all(f, html.as_bytes()).map_err(|e| e.to_string())
    })?;
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
        "format",
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
            e.map_or_else(String::new, |e| e.format.clone()),
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

/// The catalogue as one self-contained page (no script, nothing fetched): counts, a chart of each
/// track's loudness and true peak against its target and ceiling, and the table.
pub fn to_html(lines: &[Line]) -> Result<String> {
    use crate::report::charts::{Corner, LineChart, Series, Stroke, XAxis};
    use crate::report::html::{escape, page, range, Page, PALETTE};
    use std::fmt::Write as _;
    let mut p = Page { body: String::new() };
    let count = |s: &str| lines.iter().filter(|l| l.status == s).count();
    let _ = write!(
        p.body,
        "<header><h1>Catalogue</h1><p class=\"sub\">{} tracks: {} done, {} failed, {} pending</p></header><section id=\"loudness\"><h2>Loudness and true peak</h2>",
        lines.len(),
        count("done"),
        count("failed"),
        count("pending")
    );
    let points = |f: &dyn Fn(&Entry) -> f64| -> Vec<(f64, f64)> {
        lines.iter().enumerate().filter_map(|(i, l)| l.entry.as_ref().map(|e| ((i + 1) as f64, f(e)))).collect()
    };
    let line = |name: &str, color, value: &dyn Fn(&Entry) -> f64, stroke| Series {
        name: name.into(),
        color,
        points: points(value),
        stroke,
    };
    let series = vec![
        line("integrated loudness (LUFS)", PALETTE[0], &|e| e.loudness_after_lufs, Stroke::Solid),
        line("target (LUFS)", PALETTE[0], &|e| e.loudness_target_lufs, Stroke::Dashed),
        line("true peak (dBTP)", PALETTE[1], &|e| e.true_peak_after_dbtp, Stroke::Solid),
        line("ceiling (dBTP)", PALETTE[1], &|e| e.ceiling_dbtp, Stroke::Dashed),
    ];
    let (lo, hi) = range(series.iter().flat_map(|s| s.points.iter().map(|q| q.1)), 3.0, 6.0);
    let svg = LineChart {
        legend: Corner::LowerRight,
        x_label: "track (manifest order)",
        y_label: "level (LUFS / dBTP)",
        x_axis: XAxis::Linear,
        x_range: (0.5, lines.len() as f64 + 0.5),
        y_range: (lo, hi.max(0.0)),
        series,
    }
    .to_svg()?;
    p.figure(
        "chart-catalogue",
        "Each mastered track's loudness and true peak, measured on the written file, with its target and ceiling",
        &svg,
    );
    p.body.push_str("</section><section id=\"tracks\"><h2>Tracks</h2><div class=\"scroll\"><table class=\"metrics\"><thead><tr><th>#</th><th>target</th><th>output</th><th>status</th><th>format</th><th>loudness before → after (target)</th><th>true peak</th><th>loudness range</th><th>tonal / width distance</th><th>warnings or error</th></tr></thead><tbody>");
    for (i, l) in lines.iter().enumerate() {
        let cells = match &l.entry {
            Some(e) => format!(
                "<td>{}</td><td>{:.1} → {:.1} ({:.1}) LUFS</td><td>{:.2} dBTP</td><td>{:.1} LU</td><td>{:.2} / {} dB</td><td>{}</td>",
                escape(&e.format),
                e.loudness_before_lufs,
                e.loudness_after_lufs,
                e.loudness_target_lufs,
                e.true_peak_after_dbtp,
                e.loudness_range_after_lu,
                e.tonal_distance_db,
                e.width_distance_db.map_or_else(|| "–".to_string(), |w| format!("{w:.2}")),
                escape(&e.warnings.join("; "))
            ),
            None => format!("<td></td><td></td><td></td><td></td><td></td><td>{}</td>", escape(l.error.as_deref().unwrap_or(""))),
        };
        let _ = write!(
            p.body,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{cells}</tr>",
            escape(&l.status),
            i + 1,
            escape(&l.target),
            escape(&l.output),
            escape(&l.status)
        );
    }
    p.body.push_str("</tbody></table></div></section>");
    Ok(page("automaster catalogue", &p.body, concat!("automaster ", env!("CARGO_PKG_VERSION"))))
}
