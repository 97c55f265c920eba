//! `album-report.html`: the album as one self-contained page (no script, nothing fetched) — its
//! loudness table (each track before and after, against its plan), the short-term loudness over
//! the whole timeline with the track starts and gaps marked, each track's tonal balance against
//! the album's before and after, and the dynamics setting every track shares.
use std::fmt::Write as _;

use super::outputs::{AlbumSummary, TrackSummary};
use crate::analysis::loudness::SHORT_TERM_WINDOW_S;
use crate::error::Result;
use crate::report::charts::{Corner, LineChart, Mark, Series, Stroke, XAxis};
use crate::report::html::{escape, page, range, Page, PALETTE};

/// The frequency axis of the tonal charts.
const FREQUENCY_RANGE_HZ: (f64, f64) = (20.0, 20_000.0);
/// Points the timeline chart draws at most (the page's size is bounded for any album).
const MAX_TIMELINE_POINTS: usize = 2400;

pub fn to_html(s: &AlbumSummary) -> Result<String> {
    let mut p = Page { body: String::new() };
    let bits = s.bit_depth.int_bits().map_or("32-bit float".to_string(), |b| format!("{b}-bit"));
    let _ = write!(
        p.body,
        "<header><h1>{} <span class=\"unit\">— {}</span></h1><p class=\"sub\">{} tracks, {} · {} Hz/{bits}{} · loudness by {} (the loudest at {:.1} LUFS), EQ consistency {:.0} % · ceiling {:.1} dBTP, the image's true peak {:.2} dBTP{}</p></header>",
        escape(&s.title),
        escape(&s.artist),
        s.tracks.len(),
        clock(s.duration_s),
        s.sample_rate,
        if s.red_book { ", Red Book (CD)" } else { "" },
        match s.loudness_policy {
            crate::model::album::LoudnessPolicy::Album => "album",
            crate::model::album::LoudnessPolicy::Track => "track",
        },
        s.target_lufs,
        s.consistency_percent,
        s.ceiling_dbtp,
        s.true_peak_dbtp,
        if s.timeline_limiting_db > 0.0 {
            format!(" (the timeline's limiter took {:.2} dB at most)", s.timeline_limiting_db)
        } else {
            String::new()
        }
    );
    loudness_table(&mut p, s);
    timeline(&mut p, s)?;
    tonal(&mut p, s)?;
    dynamics_table(&mut p, s);
    Ok(page(&format!("automaster album: {}", s.title), &p.body, concat!("automaster ", env!("CARGO_PKG_VERSION"))))
}

/// m:ss.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0);
    format!("{}:{:05.2}", (s / 60.0).floor(), s % 60.0)
}

fn loudest(s: &AlbumSummary) -> &TrackSummary {
    s.tracks.iter().fold(&s.tracks[0], |m, t| if t.planned_lufs > m.planned_lufs { t } else { m })
}

fn loudness_table(p: &mut Page, s: &AlbumSummary) {
    p.body.push_str(concat!(
        "<section id=\"loudness\"><h2>Loudness</h2><div class=\"scroll\"><table class=\"metrics compact\"><thead>",
        "<tr><th rowspan=\"2\">#</th><th rowspan=\"2\">title</th><th rowspan=\"2\">INDEX 01</th><th rowspan=\"2\">length</th><th rowspan=\"2\">before it</th>",
        "<th colspan=\"3\">mix</th><th rowspan=\"2\">plan <span class=\"unit\">LUFS</span></th><th colspan=\"3\">master</th>",
        "<th colspan=\"2\">to the loudest <span class=\"unit\">LU</span></th><th colspan=\"2\">tonal distance to the album <span class=\"unit\">dB</span></th></tr>",
        "<tr><th>LUFS</th><th>LRA</th><th>dBTP</th><th>LUFS</th><th>LRA</th><th>dBTP</th><th>plan</th><th>got</th><th>mix</th><th>master</th></tr>",
        "</thead><tbody>"
    ));
    let anchor = loudest(s);
    for (i, t) in s.tracks.iter().enumerate() {
        let joined = if t.crossfade_in_s > 0.0 {
            format!("{:.2} s<br>crossfade", t.crossfade_in_s)
        } else if t.gap_before_s > 0.0 {
            format!("{:.2} s<br>gap", t.gap_before_s)
        } else {
            "gapless".into()
        };
        let _ = write!(
            p.body,
            "<tr><td>{}</td><th>{}</th><td>{}</td><td>{}</td><td>{joined}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td><td>{:.1}{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td><td>{:+.2}</td><td>{:+.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            i + 1,
            escape(&t.title),
            clock(t.index_01_s),
            clock(t.duration_s),
            t.mix_lufs,
            t.mix_range_lu,
            t.mix_true_peak_dbtp,
            t.planned_lufs,
            if t.offset_lu == 0.0 { String::new() } else { format!("<br><span class=\"unit\">{:+.1} LU asked</span>", t.offset_lu) },
            t.lufs,
            t.range_lu,
            t.true_peak_dbtp,
            t.planned_lufs - anchor.planned_lufs,
            t.lufs - anchor.lufs,
            t.tonal_distance_before_db,
            t.tonal_distance_db
        );
    }
    let _ = write!(
        p.body,
        "<tr><td></td><th>album</th><td></td><td>{}</td><td></td><td></td><td></td><td></td><td></td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td><td></td><td></td><td></td><td></td></tr></tbody></table></div><p class=\"note\">Master figures are measured on each track's audio in the written image (from its first sample to its last, crossfades included); the mix's as analysed. The tonal distance is the quality yardstick's (RMS over 1/3-octave bands, 40 Hz – 16 kHz, of the mid level difference with its mean removed) to the album's balance: the tracks' balances averaged, level removed, weighted by length.</p></section>",
        clock(s.duration_s),
        s.lufs,
        s.range_lu,
        s.true_peak_dbtp
    );
}

/// The short-term loudness of the whole image, the track starts marked, the gaps shaded, and
/// each track's planned loudness over its span.
fn timeline(p: &mut Page, s: &AlbumSummary) -> Result<()> {
    let step = s.short_term_lufs.len().div_ceil(MAX_TIMELINE_POINTS).max(1);
    // Each point at the centre of the windows it averages (power mean; silence breaks the line).
    let points: Vec<(f64, f64)> = s
        .short_term_lufs
        .chunks(step)
        .enumerate()
        .map(|(k, c)| {
            let mean = c.iter().map(|&l| 10f64.powf(f64::from(l) / 10.0)).sum::<f64>() / c.len() as f64;
            let x = (k * step) as f64 * s.short_term_hop_s
                + 0.5 * ((c.len() - 1) as f64 * s.short_term_hop_s + SHORT_TERM_WINDOW_S);
            let lufs = 10.0 * mean.log10();
            (x, if lufs > -70.0 { lufs } else { f64::NAN })
        })
        .collect();
    let planned: Vec<(f64, f64)> = s
        .tracks
        .iter()
        .flat_map(|t| [(t.start_s, t.planned_lufs), (t.end_s, t.planned_lufs), (t.end_s, f64::NAN)])
        .collect();
    let measured: Vec<(f64, f64)> =
        s.tracks.iter().flat_map(|t| [(t.start_s, t.lufs), (t.end_s, t.lufs), (t.end_s, f64::NAN)]).collect();
    let values = points.iter().chain(&planned).map(|q| q.1);
    let (lo, hi) = range(values, 6.0, 12.0);
    let mut marks: Vec<Mark> = Vec::new();
    for (i, t) in s.tracks.iter().enumerate() {
        let gap_from = t.start_s - t.gap_before_s;
        if t.gap_before_s > 0.0 {
            marks.push(Mark::Span { from: gap_from, to: t.start_s });
        }
        marks.push(Mark::Line { x: t.index_01_s, label: format!(" {}", i + 1) });
    }
    let svg = LineChart {
        legend: Corner::LowerRight,
        x_label: "time",
        y_label: "loudness (LUFS)",
        x_axis: XAxis::Time,
        x_range: (0.0, s.duration_s.max(1.0)),
        y_range: (lo.max(-60.0), hi.max(0.0)),
        series: vec![
            Series { name: "short-term loudness (3 s)".into(), color: PALETTE[0], points, stroke: Stroke::Thin },
            Series { name: "planned (integrated)".into(), color: PALETTE[1], points: planned, stroke: Stroke::Dashed },
            Series { name: "got (integrated)".into(), color: PALETTE[1], points: measured, stroke: Stroke::Solid },
        ],
    }
    .to_svg_marked(&marks)?;
    p.body.push_str("<section id=\"timeline\"><h2>The album's timeline</h2>");
    p.figure(
        "chart-timeline",
        "Short-term loudness over the whole image; each track's INDEX 01 marked by its number, gaps shaded, its planned and measured integrated loudness over its span",
        &svg,
    );
    p.body.push_str("</section>");
    Ok(())
}

/// Each track's mid balance against the album's, before (mixes) and after (masters).
fn tonal(p: &mut Page, s: &AlbumSummary) -> Result<()> {
    p.body.push_str("<section id=\"tonal\"><h2>Tonal balance against the album's</h2>");
    for (id, caption, before) in [
        (
            "chart-tonal-after",
            "Masters: each track's mid balance minus the album's (level removed, 1/6-octave smoothed)",
            false,
        ),
        (
            "chart-tonal-before",
            "Mixes: each mix's mid balance minus the mixes' (the same measure, before mastering)",
            true,
        ),
    ] {
        let series: Vec<Series> = s
            .tracks
            .iter()
            .enumerate()
            .map(|(i, t)| Series {
                name: format!("{} {}", i + 1, t.title),
                color: PALETTE[i % PALETTE.len()],
                points: s
                    .tonal_centers_hz
                    .iter()
                    .zip(if before { &t.tonal_difference_before_db } else { &t.tonal_difference_db })
                    .map(|(&f, d)| (f, d.unwrap_or(f64::NAN)))
                    .collect(),
                stroke: if i < PALETTE.len() { Stroke::Solid } else { Stroke::Dashed },
            })
            .collect();
        let all = s.tracks.iter().flat_map(|t| t.tonal_difference_db.iter().chain(&t.tonal_difference_before_db));
        let m = all.flatten().fold(3.0f64, |m, v| m.max(v.abs())).min(24.0);
        let m = (m / 3.0).ceil() * 3.0;
        let svg = LineChart {
            legend: Corner::LowerLeft,
            x_label: "frequency (Hz)",
            y_label: "difference to the album (dB)",
            x_axis: XAxis::LogHz,
            x_range: FREQUENCY_RANGE_HZ,
            y_range: (-m, m),
            series,
        }
        .to_svg()?;
        p.figure(id, caption, &svg);
    }
    p.body.push_str("</section>");
    Ok(())
}

fn dynamics_table(p: &mut Page, s: &AlbumSummary) {
    p.body.push_str("<section id=\"dynamics\"><h2>Processing</h2><div class=\"scroll\"><table class=\"metrics\"><thead><tr><th>#</th><th>title</th><th>EQ (mid) most boost / cut <span class=\"unit\">dB</span></th><th>dynamics per band, low to high: threshold <span class=\"unit\">dB</span> · ratio · expansion</th></tr></thead><tbody>");
    for (i, t) in s.tracks.iter().enumerate() {
        let bands = if t.dynamics.is_empty() {
            "off".to_string()
        } else {
            t.dynamics
                .iter()
                .map(|b| format!("{:.1} · {:.2} · {:.2}", b.threshold_db, b.ratio, b.expansion_ratio))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let _ = write!(
            p.body,
            "<tr><td>{}</td><th>{}</th><td>{:+.1} / {:+.1}</td><td>{bands}</td></tr>",
            i + 1,
            escape(&t.title),
            t.eq_mid_max_boost_db,
            t.eq_mid_max_cut_db
        );
    }
    p.body.push_str("</tbody></table></div><p class=\"note\">One dynamics setting for the album: fitted on the loudest track and shared, the compressors' thresholds where the loudness policy puts each track's level. The full settings of every track are in the album plan (<code>album-plan.json</code>).</p></section>");
}
