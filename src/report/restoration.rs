//! What restoration found and did, as a section of a report (a master's, with `--restore`) or a
//! page of its own (`automaster restore --report`): the repairs asked for and their findings, and
//! the mid's spectrum before and after with what was taken out.
use std::fmt::Write as _;

use super::charts::{Corner, LineChart, Series, Stroke, XAxis};
use super::html::{escape, page, range, Page, PALETTE};
use crate::analysis::bands::LEVEL_FLOOR_DB;
use crate::error::Result;
use crate::render::restore::{RestoreReport, LISTED_CLICKS};

/// The restoration section.
pub(crate) fn section(page: &mut Page, r: &RestoreReport) -> Result<()> {
    page.body.push_str("<section id=\"restoration\"><h2>Restoration</h2><ul>");
    for a in &r.asked {
        let _ = write!(page.body, "<li>{}</li>", escape(a));
    }
    let _ = write!(
        page.body,
        "</ul><p>Taken out in all: {:.1} dB relative to the input, in {:.2} s.</p>",
        r.removed_db.max(-200.0),
        r.seconds
    );
    for c in &r.declip {
        let level = |l: Option<f32>| l.map_or("–".to_string(), |l| format!("{:+.2} dBFS", 20.0 * l.abs().log10()));
        let _ = write!(
            page.body,
            "<p>Clipping in channel {}: levels {} / {}, {} runs, {} samples rebuilt.</p>",
            c.channel,
            level(c.positive),
            level(c.negative),
            c.runs,
            c.samples
        );
    }
    if let Some(d) = &r.declick {
        let at: Vec<String> = d.at_s.iter().map(|(c, t)| format!("{t:.3} s (ch {c})")).collect();
        let _ = write!(
            page.body,
            "<p>{} clicks ({:.1} a minute, {} samples, the longest {:.2} ms){}: {}{}</p>",
            d.clicks,
            d.per_minute,
            d.samples_repaired,
            d.longest_ms,
            if d.clicks > LISTED_CLICKS { format!(", the first {LISTED_CLICKS}") } else { String::new() },
            escape(&at.join(", ")),
            if d.clicks > at.len() { ", …" } else { "" }
        );
    }
    if let Some(h) = &r.dehum {
        let lines: Vec<String> =
            h.harmonics.iter().map(|l| format!("{:.2} Hz at {:.0} dBFS", l.freq_hz, l.level_db)).collect();
        let _ = write!(page.body, "<p>Hum on {:.3} Hz, notched at {}.</p>", h.fundamental_hz, lines.join(", "));
    }
    for f in &r.dehiss {
        let _ = write!(
            page.body,
            "<p>Noise floor in channel {}: {:.1} dBFS, measured over {:.1} s.</p>",
            f.channel, f.level_dbfs, f.measured_s
        );
    }
    if let Some(s) = &r.spectra {
        let curve = |name: &str, color, values: &[f64], stroke| Series {
            name: name.into(),
            color,
            points: s.freqs_hz.iter().zip(values).filter(|(_, &v)| v > LEVEL_FLOOR_DB).map(|(&f, &v)| (f, v)).collect(),
            stroke,
        };
        let series = vec![
            curve("before", PALETTE[0], &s.before_db, Stroke::Solid),
            curve("after", PALETTE[1], &s.after_db, Stroke::Solid),
            curve("taken out", PALETTE[3], &s.removed_db, Stroke::Dashed),
        ];
        let y = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 10.0, 40.0);
        let svg = LineChart {
            legend: Corner::LowerLeft,
            x_label: "frequency (Hz)",
            y_label: "PSD (dB re FS²/Hz)",
            x_axis: XAxis::LogHz,
            x_range: (20.0, 20_000.0),
            y_range: y,
            series,
        }
        .to_svg()?;
        page.figure(
            "chart-restoration",
            "Mid (L+R)/2 per third octave over the whole recording: before and after restoration, and what it took out",
            &svg,
        );
    }
    page.body.push_str("</section>");
    Ok(())
}

/// A page of its own for `name`'s restoration.
pub fn to_html(name: &str, r: &RestoreReport, generator: &str) -> Result<String> {
    let mut p = Page { body: String::new() };
    let _ = write!(p.body, "<header><h1>Restoration report</h1><p class=\"sub\">{}</p></header>", escape(name));
    section(&mut p, r)?;
    Ok(page(&format!("automaster restoration: {name}"), &p.body, generator))
}
