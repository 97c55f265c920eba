//! The report's charts as inline SVG, drawn with plotters' SVG backend: line charts (log or linear
//! x) and the spectrogram (plotters draws its axes and colour bar; the raster is one embedded PNG).
use base64::Engine as _;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use super::spectrogram::Spectrogram;
use crate::error::{Error, Result};

const WIDTH: u32 = 920;
const HEIGHT: u32 = 380;
const FONT: &str = "sans-serif";

/// One line; NaN points break it (bands without information, gaps).
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub stroke: Stroke,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Stroke {
    Solid,
    /// For marks such as the reference's 0 dB line.
    Dashed,
    /// For dense traces drawn under the others.
    Thin,
}

#[derive(Clone, Copy)]
pub enum Corner {
    UpperRight,
    LowerLeft,
    LowerRight,
}

#[derive(Clone, Copy)]
pub enum XAxis {
    /// Frequency, log scale, labelled in Hz / kHz.
    LogHz,
    /// Time in seconds, labelled m:ss.
    Time,
    /// Plain linear.
    Linear,
}

pub struct LineChart<'a> {
    /// Where the legend box sits inside the plot: the corner the data leaves free.
    pub legend: Corner,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_axis: XAxis,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub series: Vec<Series>,
}

/// Marks behind a chart's lines: a labelled vertical line (a track's start) or a shaded span (a
/// gap), in the x axis' units.
pub enum Mark {
    Line { x: f64, label: String },
    Span { from: f64, to: f64 },
}

const MARK_COLOR: RGBColor = RGBColor(120, 120, 120);
const SPAN_COLOR: RGBColor = RGBColor(236, 236, 236);

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Report(format!("drawing a chart: {e}"))
}

pub fn format_hz(f: f64) -> String {
    if f >= 1000.0 {
        let k = f / 1000.0;
        if (k - k.round()).abs() < 1e-9 {
            format!("{k:.0}k")
        } else {
            format!("{k:.1}k")
        }
    } else {
        format!("{f:.0}")
    }
}

/// An axis value without float noise (0.30000000000000004 → 0.3).
fn format_tick(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    if r == 0.0 {
        "0".into()
    } else {
        format!("{r}")
    }
}

pub fn format_time(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

impl LineChart<'_> {
    pub fn to_svg(&self) -> Result<String> {
        self.to_svg_marked(&[])
    }

    /// The chart with `marks` drawn behind its lines.
    pub fn to_svg_marked(&self, marks: &[Mark]) -> Result<String> {
        let (x0, x1) = self.x_range;
        match self.x_axis {
            XAxis::LogHz => {
                self.draw((x0..x1).log_scale().with_key_points(log_ticks(x0, x1)), &|v: &f64| format_hz(*v), marks)
            }
            XAxis::Time => {
                // Longer than two minutes: the axis runs in minutes, so its round ticks are 30 s,
                // 1, 2, 5 … minutes rather than 50 s or 100 s.
                let unit = time_unit(x1 - x0);
                let scaled = LineChart {
                    series: self
                        .series
                        .iter()
                        .map(|s| Series {
                            points: s.points.iter().map(|&(x, y)| (x / unit, y)).collect(),
                            name: s.name.clone(),
                            ..*s
                        })
                        .collect(),
                    x_range: (x0 / unit, x1 / unit),
                    ..*self
                };
                let marks: Vec<Mark> = marks
                    .iter()
                    .map(|m| match m {
                        Mark::Line { x, label } => Mark::Line { x: x / unit, label: label.clone() },
                        Mark::Span { from, to } => Mark::Span { from: from / unit, to: to / unit },
                    })
                    .collect();
                scaled.draw(x0 / unit..x1 / unit, &|v: &f64| format_time(*v * unit), &marks)
            }
            XAxis::Linear => self.draw(x0..x1, &|v: &f64| format_tick(*v), marks),
        }
    }

    fn draw<X>(&self, x: X, x_format: &dyn Fn(&f64) -> String, marks: &[Mark]) -> Result<String>
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(chart_error)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d(x, self.y_range.0..self.y_range.1)
                .map_err(chart_error)?;
            chart
                .configure_mesh()
                .x_desc(self.x_label)
                .y_desc(self.y_label)
                .x_label_formatter(x_format)
                .y_label_formatter(&|v| format_tick(*v))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(238, 238, 238))
                .bold_line_style(RGBColor(215, 215, 215))
                .draw()
                .map_err(chart_error)?;
            let (y0, y1) = self.y_range;
            for m in marks {
                match m {
                    Mark::Span { from, to } => {
                        chart
                            .draw_series(std::iter::once(Rectangle::new([(*from, y0), (*to, y1)], SPAN_COLOR.filled())))
                            .map_err(chart_error)?;
                    }
                    Mark::Line { x, label } => {
                        let style = MARK_COLOR.stroke_width(1);
                        chart
                            .draw_series(DashedLineSeries::new(vec![(*x, y0), (*x, y1)], 3, 3, style))
                            .map_err(chart_error)?;
                        let font = (FONT, 12).into_font().color(&MARK_COLOR);
                        let top = y1 - 0.04 * (y1 - y0);
                        chart
                            .draw_series(std::iter::once(Text::new(label.clone(), (*x, top), font)))
                            .map_err(chart_error)?;
                    }
                }
            }
            for s in &self.series {
                let style = s.color.stroke_width(if s.stroke == Stroke::Thin { 1 } else { 2 });
                let mut labelled = false;
                for segment in segments(&s.points) {
                    let drawn = if s.stroke == Stroke::Dashed {
                        chart.draw_series(DashedLineSeries::new(segment, 6, 4, style)).map_err(chart_error)?
                    } else {
                        chart.draw_series(LineSeries::new(segment, style)).map_err(chart_error)?
                    };
                    if !labelled {
                        labelled = true;
                        drawn
                            .label(s.name.as_str())
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
                    }
                }
            }
            chart
                .configure_series_labels()
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.75))
                .border_style(RGBColor(190, 190, 190))
                .position(match self.legend {
                    Corner::UpperRight => SeriesLabelPosition::UpperRight,
                    Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                    Corner::LowerRight => SeriesLabelPosition::LowerRight,
                })
                .draw()
                .map_err(chart_error)?;
            root.present().map_err(chart_error)?;
        }
        Ok(svg)
    }
}

/// Runs of finite points.
fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    points.split(|(x, y)| !(x.is_finite() && y.is_finite())).filter(|s| !s.is_empty()).map(<[_]>::to_vec).collect()
}

/// Seconds per unit of a time axis spanning `span_s`: minutes beyond two minutes.
fn time_unit(span_s: f64) -> f64 {
    if span_s > 120.0 {
        60.0
    } else {
        1.0
    }
}

/// 1-2-5 ticks per decade within the range.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo * 0.999 && t <= hi * 1.001 {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// Display range of a spectrogram chart: the loudest cell down `DYNAMIC_RANGE_DB`.
pub const DYNAMIC_RANGE_DB: f64 = 90.0;

/// The spectrogram of one input on shared scales: time (s) across, frequency (log) up, level
/// coloured from `top_db − DYNAMIC_RANGE_DB` (dark) to `top_db` (bright), with a colour bar.
pub fn spectrogram_svg(s: &Spectrogram, top_db: f64) -> Result<String> {
    let duration = s.column_s * s.columns as f64;
    let unit = time_unit(duration);
    let (f_lo, f_hi) = (s.freqs_hz[0], *s.freqs_hz.last().expect("rows"));
    let bottom_db = top_db - DYNAMIC_RANGE_DB;
    let mut svg = String::new();
    let plot_area;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (left, right) = root.split_horizontally(WIDTH - 110);
        let mut chart = ChartBuilder::on(&left)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..duration / unit, (f_lo..f_hi).log_scale().with_key_points(log_ticks(f_lo, f_hi)))
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (m:ss)")
            .y_desc("frequency (Hz)")
            .x_label_formatter(&|v| format_time(*v * unit))
            .y_label_formatter(&|v| format_hz(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(chart_error)?;
        plot_area = chart.plotting_area().get_pixel_range();
        let mut bar = ChartBuilder::on(&right)
            .margin_top(12)
            .margin_bottom(56)
            .margin_right(8)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, bottom_db..top_db)
            .map_err(chart_error)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc("level (dB)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(chart_error)?;
        let steps = 64;
        bar.draw_series((0..steps).map(|i| {
            let (a, b) = (
                bottom_db + DYNAMIC_RANGE_DB * i as f64 / steps as f64,
                bottom_db + DYNAMIC_RANGE_DB * (i + 1) as f64 / steps as f64,
            );
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                ViridisRGB::get_color_normalized((0.5 * (a + b)) as f32, bottom_db as f32, top_db as f32).filled(),
            )
        }))
        .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    let png = spectrogram_png(s, bottom_db, top_db)?;
    let image = format!(
        r#"<image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none" href="data:image/png;base64,{}"/>"#,
        plot_area.0.start,
        plot_area.1.start,
        plot_area.0.end - plot_area.0.start,
        plot_area.1.end - plot_area.1.start,
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    let close = svg.rfind("</svg>").ok_or_else(|| chart_error("no closing tag"))?;
    svg.insert_str(close, &image);
    Ok(svg)
}

/// One pixel per cell, high frequencies on top, coloured by level.
fn spectrogram_png(s: &Spectrogram, bottom_db: f64, top_db: f64) -> Result<Vec<u8>> {
    let rows = s.freqs_hz.len();
    let mut rgb = Vec::with_capacity(rows * s.columns * 3);
    for r in (0..rows).rev() {
        for c in 0..s.columns {
            let db = s.level_db(r, c).clamp(bottom_db, top_db);
            let RGBColor(red, green, blue) =
                ViridisRGB::get_color_normalized(db as f32, bottom_db as f32, top_db as f32);
            rgb.extend_from_slice(&[red, green, blue]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, s.columns as u32, rows as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(chart_error)?;
        writer.write_image_data(&rgb).map_err(chart_error)?;
    }
    Ok(out)
}
