//! Spectral comparison reports: [`ReportData`] (a plain versioned serde value, built from profiles,
//! spectrograms and, for a master, its plan and render report), drawn as one self-contained HTML
//! page ([`to_html`]) or summarised as a terminal table ([`terminal_table`]).
pub(crate) mod charts;
pub mod data;
pub(crate) mod html;
pub mod restoration;
pub mod spectrogram;

pub use data::{ReportData, Role, Source};
pub use html::to_html;
pub use spectrogram::Spectrogram;

use std::fmt::Write as _;

/// A compact table of the report's figures, one line per input.
pub fn terminal_table(data: &ReportData) -> String {
    let width = data.inputs.iter().map(|i| i.name.chars().count()).max().unwrap_or(4).clamp(4, 40);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:width$}  {:9}  {:>7}  {:>5}  {:>6}  {:>5}  {:>6}  {:>6}  {:>6}",
        "file", "role", "LUFS", "LRA", "dBTP", "PLR", "tonal", "width", "Δloud"
    );
    for i in &data.inputs {
        let name: String = i.name.chars().take(width).collect();
        let m = &i.metrics;
        let d = |f: fn(&data::Distances) -> Option<f64>, plus: bool| {
            i.distances
                .as_ref()
                .and_then(f)
                .map_or_else(|| "—".to_string(), |x| if plus { format!("{x:+.2}") } else { format!("{x:.2}") })
        };
        let _ = writeln!(
            out,
            "{name:width$}  {:9}  {:>7.2}  {:>5.1}  {:>6.2}  {:>5.1}  {:>6}  {:>6}  {:>6}",
            i.role.label(),
            m.integrated_lufs,
            m.loudness_range_lu,
            m.true_peak_dbtp,
            m.plr_db,
            d(|x| Some(x.tonal_db), false),
            d(|x| x.width_db, false),
            d(|x| Some(x.loudness_lu), true)
        );
    }
    out
}
