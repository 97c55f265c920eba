//! `ReportData` → one self-contained HTML page: inline SVG charts (plotters), embedded PNG
//! spectrograms, tables, a stylesheet; no script and no external resource, so it opens offline.
use std::fmt::Write as _;

use plotters::style::RGBColor;

use super::charts::{format_hz, spectrogram_svg, Corner, LineChart, Series, Stroke, XAxis};
use super::data::{InputReport, Processing, ReportData, Role, HISTOGRAM_BIN_LU, HISTOGRAM_LOW_LUFS};
use crate::analysis::bands::has_information;
use crate::error::Result;

/// Line colours for inputs (Tableau 10); the reference is always dark grey.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
/// The frequency axis of every spectrum chart.
const FREQUENCY_RANGE_HZ: (f64, f64) = (20.0, 20_000.0);
const REFERENCE_COLOR: RGBColor = RGBColor(70, 70, 70);
const LIMITER_COLOR: RGBColor = RGBColor(20, 20, 20);

/// Every input's colour, the same in every chart and in the legend: the reference grey, the
/// original blue, the master red, other inputs the rest of the palette in order.
fn colors(data: &ReportData) -> Vec<RGBColor> {
    let mut next = 2;
    data.inputs
        .iter()
        .map(|i| match i.role {
            Role::Reference => REFERENCE_COLOR,
            Role::Original => PALETTE[0],
            Role::Master => PALETTE[1],
            Role::Input => {
                next += 1;
                PALETTE[(next - 1) % PALETTE.len()]
            }
        })
        .collect()
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The label an input has in legends: its name and role.
fn label(i: &InputReport) -> String {
    format!("{} ({})", i.name, i.role.label())
}

/// Rounds a data range outward to multiples of `step`, at least `min_span` wide.
fn range(values: impl Iterator<Item = f64>, step: f64, min_span: f64) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return (-min_span / 2.0, min_span / 2.0);
    }
    let (mut lo, mut hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    if hi - lo < min_span {
        let mid = 0.5 * (lo + hi);
        (lo, hi) = (mid - min_span / 2.0, mid + min_span / 2.0);
    }
    (lo, hi)
}

/// Symmetric range around 0 covering the data, at least ±`min`, at most ±`max`.
fn symmetric(values: impl Iterator<Item = f64>, min: f64, max: f64) -> (f64, f64) {
    let m = values.filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
    let m = (m / 3.0).ceil() * 3.0;
    let m = m.clamp(min, max);
    (-m, m)
}

struct Page {
    body: String,
}

impl Page {
    fn figure(&mut self, id: &str, caption: &str, svg: &str) {
        let _ = write!(
            self.body,
            r#"<figure class="chart" id="{id}"><figcaption>{}</figcaption>{svg}</figure>"#,
            escape(caption)
        );
    }
}

/// The whole page.
pub fn to_html(data: &ReportData) -> Result<String> {
    let colors = colors(data);
    let reference = data.reference();
    let mut page = Page { body: String::new() };
    let names: Vec<String> = data.inputs.iter().map(|i| escape(&i.name)).collect();

    // Header and legend.
    let _ = write!(page.body, "<header><h1>Spectral comparison</h1><p class=\"sub\">{} · differences and distances are to the reference, <b>{}</b></p><ul class=\"legend\">", escape(&data.generator), escape(&reference.name));
    for (i, input) in data.inputs.iter().enumerate() {
        let _ = write!(
            page.body,
            r#"<li><span class="swatch" style="background:{}"></span>{} <span class="role">{}</span></li>"#,
            hex(colors[i]),
            names[i],
            input.role.label()
        );
    }
    page.body.push_str("</ul></header>");

    metrics_table(&mut page, data, &names);

    // Spectra.
    let grid = &reference.spectrum.centers_hz;
    let (f_lo, f_hi) = FREQUENCY_RANGE_HZ;
    page.body.push_str("<section id=\"spectra\"><h2>Spectra</h2><p>Power spectral density of mid (L+R)/2 and side (L−R)/2 over the loud (gated) part of each track, smoothed over 1/6 octave. Differences remove each input's loudness difference to the reference first, so they show balance, not level.</p>");
    for (id, what, pick) in [("chart-mid-spectrum", "Mid spectrum", 0), ("chart-side-spectrum", "Side spectrum", 1)] {
        let series: Vec<Series> = data
            .inputs
            .iter()
            .zip(&colors)
            .map(|(i, &c)| {
                let levels = if pick == 0 { &i.spectrum.mid_db } else { &i.spectrum.side_db };
                Series {
                    name: label(i),
                    color: c,
                    points: grid
                        .iter()
                        .zip(levels)
                        .map(|(&f, &l)| (f, if has_information(l) { l } else { f64::NAN }))
                        .collect(),
                    stroke: Stroke::Solid,
                }
            })
            .collect();
        let (_, hi) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 10.0, 60.0);
        let svg = LineChart {
            legend: Corner::LowerLeft,
            x_label: "frequency (Hz)",
            y_label: "level (dB re FS²/Hz)",
            x_axis: XAxis::LogHz,
            x_range: (f_lo, f_hi),
            y_range: (hi - 100.0, hi),
            series,
        }
        .to_svg()?;
        page.figure(id, &format!("{what} (1/6-octave smoothed)"), &svg);
    }
    for (id, what, pick) in [
        ("chart-mid-difference", "Mid difference to the reference", 0),
        ("chart-side-difference", "Side difference to the reference", 1),
    ] {
        let mut series: Vec<Series> = data
            .inputs
            .iter()
            .zip(&colors)
            .filter_map(|(i, &c)| {
                let d = i.difference.as_ref()?;
                let values = if pick == 0 { &d.mid_db } else { &d.side_db };
                let points = grid
                    .iter()
                    .zip(values)
                    .zip(&d.masked)
                    .map(|((&f, &v), &m)| (f, if m { f64::NAN } else { v }))
                    .collect();
                Some(Series {
                    name: format!("{} (level {:+.1} LU removed)", i.name, d.level_offset_lu),
                    color: c,
                    points,
                    stroke: Stroke::Solid,
                })
            })
            .collect();
        let y = symmetric(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 6.0, 30.0);
        series.push(Series {
            name: format!("{} (reference)", reference.name),
            color: REFERENCE_COLOR,
            points: vec![(f_lo, 0.0), (f_hi, 0.0)],
            stroke: Stroke::Dashed,
        });
        let svg = LineChart {
            legend: Corner::UpperRight,
            x_label: "frequency (Hz)",
            y_label: "difference (dB)",
            x_axis: XAxis::LogHz,
            x_range: (f_lo, f_hi),
            y_range: y,
            series,
        }
        .to_svg()?;
        page.figure(id, what, &svg);
    }
    page.body.push_str("</section>");

    if let Some(p) = &data.processing {
        processing(&mut page, p, (f_lo, f_hi))?;
    }

    loudness(&mut page, data, &colors)?;
    stereo(&mut page, data, &colors, &names)?;
    spectrograms(&mut page, data)?;

    let title =
        format!("automaster report: {}", data.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "));
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{}<footer>Generated by {}. Spectra and dynamics are measured as the profiles measure them (<code>automaster analyze</code>); the same data is available as JSON (<code>--json</code>).</footer></body></html>\n",
        escape(&title),
        page.body,
        escape(&data.generator)
    ))
}

fn metrics_table(page: &mut Page, data: &ReportData, names: &[String]) {
    page.body.push_str("<section id=\"metrics\"><h2>Loudness, peaks and distances</h2><div class=\"scroll\"><table class=\"metrics\"><thead><tr><th></th>");
    for (i, input) in data.inputs.iter().enumerate() {
        let _ = write!(page.body, "<th>{}<br><span class=\"role\">{}</span></th>", names[i], input.role.label());
    }
    page.body.push_str("</tr></thead><tbody>");
    type Row = (&'static str, fn(&InputReport) -> Option<f64>, &'static str);
    let rows: [Row; 13] = [
        ("duration", |i| Some(i.metrics.duration_s), "s"),
        ("integrated loudness", |i| Some(i.metrics.integrated_lufs), "LUFS"),
        ("loudness range", |i| Some(i.metrics.loudness_range_lu), "LU"),
        ("true peak", |i| Some(i.metrics.true_peak_dbtp), "dBTP"),
        ("sample peak", |i| Some(i.metrics.sample_peak_dbfs), "dBFS"),
        ("PLR (true peak − loudness)", |i| Some(i.metrics.plr_db), "dB"),
        ("PSR (true peak − max short-term)", |i| Some(i.metrics.psr_db), "dB"),
        ("side − mid", |i| Some(i.metrics.side_to_mid_db), "dB"),
        ("L/R correlation", |i| Some(i.metrics.correlation), ""),
        ("tonal distance", |i| i.distances.as_ref().map(|d| d.tonal_db), "dB"),
        ("width distance", |i| i.distances.as_ref().and_then(|d| d.width_db), "dB"),
        ("loudness distance", |i| i.distances.as_ref().map(|d| d.loudness_lu), "LU"),
        ("sample rate", |i| Some(f64::from(i.metrics.sample_rate)), "Hz"),
    ];
    for (name, value, unit) in rows {
        let _ = write!(
            page.body,
            "<tr><th>{name}{}</th>",
            if unit.is_empty() { String::new() } else { format!(" <span class=\"unit\">({unit})</span>") }
        );
        for input in &data.inputs {
            let cell = match value(input) {
                Some(v) if name == "sample rate" => format!("{v:.0}"),
                Some(v) if name == "loudness distance" => format!("{v:+.2}"),
                Some(v) if name == "L/R correlation" => format!("{v:.3}"),
                Some(v) => format!("{v:.2}"),
                None => "—".into(),
            };
            let _ = write!(page.body, "<td>{cell}</td>");
        }
        page.body.push_str("</tr>");
    }
    page.body.push_str("</tbody></table></div><p class=\"note\">Distances follow the quality yardstick: RMS over 1/3-octave bands, 40 Hz – 16 kHz, of the mid level difference with its mean removed (tonal) and of the difference in side − mid (width); loudness distance is the integrated loudness difference.</p></section>");
}

fn processing(page: &mut Page, p: &Processing, (f_lo, f_hi): (f64, f64)) -> Result<()> {
    page.body.push_str("<section id=\"processing\"><h2>What the master did</h2>");
    let curve = |name: &str, color, values: &[f64]| Series {
        name: name.into(),
        color,
        points: p.freqs_hz.iter().zip(values).map(|(&f, &g)| (f, g)).collect(),
        stroke: Stroke::Solid,
    };
    let mut series = vec![
        curve("mid EQ", PALETTE[0], &p.eq_mid_db),
        curve("side EQ (with width and bass mono)", PALETTE[3], &p.eq_side_db),
    ];
    if let Some((mid, side)) = &p.compensation_db {
        series.push(Series { stroke: Stroke::Dashed, ..curve("mid compensation (after dynamics)", PALETTE[0], mid) });
        series.push(Series { stroke: Stroke::Dashed, ..curve("side compensation (after dynamics)", PALETTE[3], side) });
    }
    let y = symmetric(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 6.0, 42.0);
    let svg = LineChart {
        legend: Corner::LowerRight,
        x_label: "frequency (Hz)",
        y_label: "gain (dB)",
        x_axis: XAxis::LogHz,
        x_range: (f_lo, f_hi),
        y_range: y,
        series,
    }
    .to_svg()?;
    page.figure("chart-eq", "EQ curves applied (linear phase); dashed: the compensation that keeps the long-term balance through the dynamics stage and the limiter", &svg);

    let time = |v: &[f32]| -> Vec<(f64, f64)> {
        v.iter().enumerate().map(|(k, &g)| ((k as f64 + 0.5) * p.trace_hop_s, f64::from(g))).collect()
    };
    let mut series: Vec<Series> = p
        .dynamics
        .iter()
        .zip(&p.band_gain_db)
        .enumerate()
        .filter(|(_, (_, g))| !g.is_empty())
        .map(|(b, (band, g))| Series {
            name: format!("{}–{} Hz", format_hz(band.low_hz), format_hz(band.high_hz)),
            color: PALETTE[(b + 2) % PALETTE.len()],
            points: time(g),
            stroke: Stroke::Solid,
        })
        .collect();
    series.insert(
        0,
        Series { name: "limiter".into(), color: LIMITER_COLOR, points: time(&p.limiter_gain_db), stroke: Stroke::Thin },
    );
    if !p.leveler_gain_db.is_empty() {
        series.push(Series {
            name: "leveller (all bands)".into(),
            color: LIMITER_COLOR,
            points: time(&p.leveler_gain_db),
            stroke: Stroke::Dashed,
        });
    }
    let duration = p.limiter_gain_db.len() as f64 * p.trace_hop_s;
    let (lo, hi) = range(series.iter().flat_map(|s| s.points.iter().map(|q| q.1)), 3.0, 6.0);
    let svg = LineChart {
        legend: Corner::LowerLeft,
        x_label: "time (m:ss)",
        y_label: "gain (dB, make-up not counted)",
        x_axis: XAxis::Time,
        x_range: (0.0, duration.max(1e-3)),
        y_range: (lo.min(-3.0), hi.max(1.0)),
        series,
    }
    .to_svg()?;
    page.figure(
        "chart-gain-reduction",
        "Gain over time: the multiband compressor per band, the leveller (dashed) and the limiter",
        &svg,
    );

    let _ = write!(page.body, "<table class=\"bands\"><thead><tr><th>band</th><th>mode</th><th>threshold</th><th>knee</th><th>attack / release</th><th>make-up</th><th>side gain</th><th>spread before → goal → after</th><th>deepest reduction</th></tr></thead><tbody>");
    for b in &p.dynamics {
        let s = &b.settings;
        let mode = if s.ratio > 1.0 {
            format!("compress {:.2}:1", s.ratio)
        } else if s.expansion_ratio > 1.0 {
            format!("expand 1:{:.2}", s.expansion_ratio)
        } else {
            "off".into()
        };
        let r = &b.result;
        let _ = write!(
            page.body,
            "<tr><td>{}–{} Hz</td><td>{mode}</td><td>{:.1} dB</td><td>{:.1} dB</td><td>{:.0} / {:.0} ms</td><td>{:+.1} dB</td><td>{:+.1} dB</td><td>{:.1} → {:.1} → {:.1} dB</td><td>{:.1} dB</td></tr>",
            format_hz(b.low_hz),
            format_hz(b.high_hz),
            s.threshold_db,
            s.knee_db,
            s.attack_ms,
            s.release_ms,
            s.makeup_db,
            r.side_gain_db,
            r.spread_before_db,
            r.spread_goal_db,
            r.spread_after_db,
            r.max_reduction_db
        );
    }
    let leveler = p.leveler.as_ref().map_or_else(
        || "off".to_string(),
        |l| {
            let goal = l.range_goal_lu.map_or_else(|| "fixed by the plan".to_string(), |g| format!("{g:.1} LU"));
            format!(
                "{}{:.2} dB per dB below {:.1} LUFS (cut up to {:.1} dB, boost up to {:.1} dB); predicted loudness range {:.1} LU → goal {goal} → {:.1} LU",
                if l.settings.ratio >= 1.0 { "expand " } else { "level " },
                l.settings.ratio,
                l.settings.threshold_lufs,
                l.max_cut_db,
                l.max_boost_db,
                l.range_before_lu,
                l.range_after_lu
            )
        },
    );
    let _ = write!(
        page.body,
        "</tbody></table><p class=\"note\">Loudness gain into the limiter {:+.2} dB; deepest limiting {:.2} dB; bass mono {}; leveller {}.</p></section>",
        p.gain_db,
        p.limiter_max_reduction_db,
        p.bass_mono_hz.map_or_else(|| "off".to_string(), |f| format!("below {f:.0} Hz")),
        leveler
    );
    Ok(())
}

fn loudness(page: &mut Page, data: &ReportData, colors: &[RGBColor]) -> Result<()> {
    page.body.push_str("<section id=\"loudness\"><h2>Loudness over time</h2>");
    let with_series: Vec<(&InputReport, RGBColor)> =
        data.inputs.iter().zip(colors.iter().copied()).filter(|(i, _)| !i.short_term.lufs.is_empty()).collect();
    let duration =
        with_series.iter().map(|(i, _)| i.short_term.lufs.len() as f64 * i.short_term.hop_s).fold(0.0, f64::max);
    // The series starts with the first complete 3 s window.
    let series: Vec<Series> = with_series
        .iter()
        .map(|(i, c)| Series {
            name: label(i),
            color: *c,
            points: i
                .short_term
                .lufs
                .iter()
                .enumerate()
                .map(|(k, &l)| (3.0 + k as f64 * i.short_term.hop_s, if l > -70.0 { f64::from(l) } else { f64::NAN }))
                .collect(),
            stroke: Stroke::Solid,
        })
        .collect();
    let (lo, hi) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 3.0, 12.0);
    let svg = LineChart {
        legend: Corner::LowerRight,
        x_label: "time (m:ss)",
        y_label: "short-term loudness (LUFS)",
        x_axis: XAxis::Time,
        x_range: (0.0, (duration + 3.0).max(1.0)),
        y_range: (lo.max(-70.0), hi + 3.0),
        series,
    }
    .to_svg()?;
    page.figure("chart-short-term", "Short-term (3 s) loudness over time", &svg);

    let bins = |i: &InputReport| {
        i.short_term
            .histogram_percent
            .iter()
            .enumerate()
            .map(|(b, &p)| (HISTOGRAM_LOW_LUFS + (b as f64 + 0.5) * HISTOGRAM_BIN_LU, p))
            .collect::<Vec<_>>()
    };
    let occupied: Vec<f64> =
        with_series.iter().flat_map(|(i, _)| bins(i).into_iter().filter(|b| b.1 > 0.2).map(|b| b.0)).collect();
    let (x_lo, x_hi) = range(occupied.iter().copied(), 3.0, 12.0);
    let series: Vec<Series> = with_series
        .iter()
        .map(|(i, c)| Series { name: label(i), color: *c, points: bins(i), stroke: Stroke::Solid })
        .collect();
    let top = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max);
    let svg = LineChart {
        legend: Corner::UpperRight,
        x_label: "short-term loudness (LUFS)",
        y_label: "time (%) per 1 LU",
        x_axis: XAxis::Linear,
        x_range: (x_lo - 3.0, x_hi + 3.0),
        y_range: (0.0, (top * 1.15).ceil()),
        series,
    }
    .to_svg()?;
    page.figure("chart-loudness-distribution", "Distribution of short-term loudness", &svg);
    page.body.push_str("</section>");
    Ok(())
}

fn stereo(page: &mut Page, data: &ReportData, colors: &[RGBColor], names: &[String]) -> Result<()> {
    page.body.push_str("<section id=\"stereo\"><h2>Stereo image and band dynamics</h2>");
    let grid = &data.reference().spectrum.centers_hz;
    let (f_lo, f_hi) = FREQUENCY_RANGE_HZ;
    let stereo_inputs: Vec<(&InputReport, RGBColor)> =
        data.inputs.iter().zip(colors.iter().copied()).filter(|(i, _)| i.metrics.channels == 2).collect();
    let points = |i: &InputReport, values: &[f64]| {
        grid.iter()
            .zip(values)
            .zip(&i.spectrum.mid_db)
            .map(|((&f, &v), &m)| (f, if has_information(m) { v } else { f64::NAN }))
            .collect()
    };
    let series: Vec<Series> = stereo_inputs
        .iter()
        .map(|(i, c)| Series { name: label(i), color: *c, points: points(i, &i.width_db), stroke: Stroke::Solid })
        .collect();
    let (lo, hi) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 5.0, 20.0);
    let svg = LineChart {
        legend: Corner::LowerRight,
        x_label: "frequency (Hz)",
        y_label: "side − mid (dB)",
        x_axis: XAxis::LogHz,
        x_range: (f_lo, f_hi),
        y_range: (lo.max(-60.0), hi.min(20.0).max(lo.max(-60.0) + 10.0)),
        series,
    }
    .to_svg()?;
    page.figure("chart-width", "Stereo width per band (side level relative to mid)", &svg);
    let series: Vec<Series> = stereo_inputs
        .iter()
        .map(|(i, c)| Series { name: label(i), color: *c, points: points(i, &i.correlation), stroke: Stroke::Solid })
        .collect();
    let svg = LineChart {
        legend: Corner::LowerLeft,
        x_label: "frequency (Hz)",
        y_label: "L/R correlation",
        x_axis: XAxis::LogHz,
        x_range: (f_lo, f_hi),
        y_range: (-1.0, 1.05),
        series,
    }
    .to_svg()?;
    page.figure("chart-correlation", "L/R correlation per band", &svg);

    let bands = &data.reference().dynamics_bands;
    page.body.push_str("<table class=\"bands\"><thead><tr><th></th>");
    for b in bands {
        let _ = write!(page.body, "<th>{}–{} Hz</th>", format_hz(b.low_hz), format_hz(b.high_hz));
    }
    page.body.push_str("</tr></thead><tbody>");
    for (k, input) in data.inputs.iter().enumerate() {
        let _ = write!(page.body, "<tr><th>{}</th>", names[k]);
        for b in &input.dynamics_bands {
            let _ = write!(
                page.body,
                "<td>spread {:.1} dB <span class=\"unit\">(P10 {:.1}, P50 {:.1}, P95 {:.1})</span><br>crest {:.1} dB · width {:+.1} dB · r {:.2}</td>",
                b.short_term_p95_db - b.short_term_p10_db,
                b.short_term_p10_db,
                b.short_term_p50_db,
                b.short_term_p95_db,
                b.crest_db,
                b.width_db,
                b.correlation
            );
        }
        page.body.push_str("</tr>");
    }
    page.body.push_str("</tbody></table><p class=\"note\">Per dynamics band: the spread of 3 s band levels (P95 − P10) over the loud part, the band's crest factor, its width (side − mid) and L/R correlation.</p></section>");
    Ok(())
}

fn spectrograms(page: &mut Page, data: &ReportData) -> Result<()> {
    let with: Vec<(usize, &InputReport)> =
        data.inputs.iter().enumerate().filter(|(_, i)| i.spectrogram.is_some()).collect();
    if with.is_empty() {
        return Ok(());
    }
    // One colour scale for all, so levels compare across inputs.
    let top = with
        .iter()
        .filter_map(|(_, i)| i.spectrogram.as_ref())
        .map(|s| {
            s.levels.iter().map(|&v| s.floor_db + super::spectrogram::STEP_DB * f64::from(v)).fold(f64::MIN, f64::max)
        })
        .fold(f64::MIN, f64::max)
        .ceil();
    page.body.push_str("<section id=\"spectrograms\"><h2>Spectrograms</h2><p>(L² + R²)/2, Hann-windowed frames averaged per column; one colour scale for all inputs.</p>");
    for (k, input) in with {
        let svg = spectrogram_svg(input.spectrogram.as_ref().expect("filtered"), top)?;
        page.figure(
            &format!("chart-spectrogram-{k}"),
            &format!("Spectrogram: {} ({})", input.name, input.role.label()),
            &svg,
        );
    }
    page.body.push_str("</section>");
    Ok(())
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:980px;padding:16px 24px;color:#222;background:#fafafa}
h1{margin:0 0 4px;font-size:1.6em}h2{margin:32px 0 8px;font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub,.note{color:#555;font-size:.9em}footer{margin:32px 0 8px;color:#777;font-size:.8em}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px}.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:22px;height:4px;border-radius:2px}.role{color:#777;font-size:.85em}.unit{color:#777;font-weight:normal}
figure.chart{margin:12px 0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px}
figure.chart figcaption{font-weight:600;margin:0 0 4px 4px}figure.chart svg{width:100%;height:auto;display:block}
.scroll{overflow-x:auto}thead th{max-width:16em;overflow-wrap:anywhere}
table{border-collapse:collapse;background:#fff;font-size:.9em;margin:8px 0}th,td{border:1px solid #e3e3e3;padding:4px 8px;text-align:right;vertical-align:top}
thead th{background:#f1f1f1;text-align:center}tbody th{text-align:left;font-weight:600}table.bands td{text-align:left}
";
