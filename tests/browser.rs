//! A master's report rendered by a real browser (headless Chromium): no console errors and no
//! failed resource, every chart present and drawn, embedded spectrograms that decode, and a
//! screenshot that is not blank. Under `CI=true` a missing Chromium fails the test (the CI script
//! installs Debian's `chromium`); elsewhere, without one, it is ignored (`build.rs`).
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::*;

const FS: u32 = 44_100;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"].iter().find_map(|name| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
    })
}

/// Headless, offline and quiet: no GPU, no sandbox (CI runs as root), no background networking,
/// a throw-away profile.
fn browser(exe: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider",
        "--metrics-recording-only",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Injected at the top of the page by the test (the report itself has no script): records script
/// errors, failed resources and console errors, then checks every chart once the page has loaded.
const HARNESS: &str = r#"<script>
window.__problems = [];
window.addEventListener('error', e => window.__problems.push('error: ' + (e.message || (e.target && e.target.outerHTML && e.target.outerHTML.slice(0, 80)))), true);
const __consoleError = console.error;
console.error = (...a) => { window.__problems.push('console: ' + a.join(' ')); __consoleError(...a); };
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('figure.chart')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const marks = svg ? svg.querySelectorAll('polyline, path, line, rect, image').length : 0;
    const images = svg ? [...svg.querySelectorAll('image')].map(i => i.getBBox().width * i.getBBox().height) : [];
    return { id: f.id, width: Math.round(box.width), height: Math.round(box.height), marks, images, caption: (f.querySelector('figcaption') || {}).textContent || '' };
  });
  document.body.setAttribute('data-check', JSON.stringify({ problems: window.__problems, charts }));
});
</script>"#;

#[test]
#[cfg_attr(no_chromium, ignore = "no Chromium on this machine (install Debian's `chromium` to run it)")]
fn the_report_renders_in_chromium() {
    let exe = chromium().expect("no Chromium found; .ci/run installs Debian's chromium");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let mut mix = synthetic_mix(8.0, FS, 41);
    normalize_peak(&mut mix, 0.3);
    write_wav_f32(&p("mix.wav"), &mix, FS);
    let mut reference = synthetic_mix(8.0, FS, 42);
    for ch in &mut reference {
        Biquad::bell(f64::from(FS), 3000.0, 0.8, 5.0).process(ch);
    }
    normalize_peak(&mut reference, 0.95);
    write_wav_f32(&p("ref.wav"), &reference, FS);
    let out = Command::new(env!("CARGO_BIN_EXE_automaster"))
        .args(["master", "--device", "cpu", "--quiet", "-r"])
        .arg(p("ref.wav"))
        .arg(p("mix.wav"))
        .arg("-o")
        .arg(p("master.wav"))
        .arg("--report")
        .arg(p("report.html"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(p("report.html")).unwrap();
    // Self-contained: nothing is fetched (the SVG namespace URI is a name, not a fetch).
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import", "<script", "<link"] {
        assert!(!html.contains(fetch), "the report contains `{fetch}`");
    }

    // Every embedded spectrogram is a PNG that decodes to a picture with content.
    let pngs: Vec<&str> = html.split("data:image/png;base64,").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
    assert_eq!(pngs.len(), 3, "one spectrogram per input (reference, original, master)");
    for b64 in &pngs {
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let (pixels, w, h) = decode_png(&bytes);
        assert!(w >= 50 && h >= 100, "spectrogram {w}×{h}");
        assert!(distinct_colours(&pixels) > 20, "a spectrogram of music has many colours");
    }

    let check = rendered(&exe, dir.path(), &html);
    let charts = check["charts"].as_array().unwrap();
    let ids: Vec<&str> = charts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for expected in [
        "chart-mid-spectrum",
        "chart-side-spectrum",
        "chart-mid-difference",
        "chart-side-difference",
        "chart-eq",
        "chart-gain-reduction",
        "chart-short-term",
        "chart-loudness-distribution",
        "chart-width",
        "chart-correlation",
        "chart-spectrogram-0",
        "chart-spectrogram-1",
        "chart-spectrogram-2",
    ] {
        assert!(ids.contains(&expected), "chart {expected} missing; charts: {ids:?}");
    }
    for c in charts {
        assert!(
            c["width"].as_f64().unwrap() > 400.0 && c["height"].as_f64().unwrap() > 150.0,
            "chart laid out too small: {c}"
        );
        assert!(c["marks"].as_u64().unwrap() >= 10, "chart with nothing drawn: {c}");
        if c["id"].as_str().unwrap().starts_with("chart-spectrogram") {
            assert!(c["images"][0].as_f64().unwrap() > 10_000.0, "spectrogram image not laid out: {c}");
        }
    }

    // A screenshot of the page is not blank: many colours, much of it not background.
    let shot = p("shot.png");
    let run = browser(&exe, &p("profile2"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,5000")
        .arg(format!("file://{}", p("report.html").display()))
        .output()
        .unwrap();
    assert!(
        run.status.success() && shot.exists(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (pixels, w, h) = decode_png(&std::fs::read(&shot).unwrap());
    let background = pixels.iter().filter(|p| p[0] > 245 && p[1] > 245 && p[2] > 245).count();
    let inked = 1.0 - background as f64 / (w * h) as f64;
    assert!(inked > 0.05, "screenshot is {:.1} % ink", 100.0 * inked);
    assert!(distinct_colours(&pixels) > 200, "screenshot has {} colours", distinct_colours(&pixels));
}

/// `html` as headless Chromium renders it, with the harness injected at the top of `<head>`:
/// no console message and no page problem, and what the harness found (`charts`).
fn rendered(exe: &Path, dir: &Path, html: &str) -> serde_json::Value {
    let page = dir.join("page.html");
    std::fs::write(&page, html.replacen("<head>", &format!("<head>{HARNESS}"), 1)).unwrap();
    let url = format!("file://{}", page.display());
    let dom = browser(exe, &dir.join("profile"))
        .args(["--dump-dom", "--virtual-time-budget=5000"])
        .arg(&url)
        .output()
        .unwrap();
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    let stderr = String::from_utf8_lossy(&dom.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom.find("data-check=\"").expect("the harness ran after load") + "data-check=\"".len();
    let raw = &dom[start..start + dom[start..].find('"').unwrap()];
    let check: serde_json::Value = serde_json::from_str(
        &raw.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"),
    )
    .unwrap();
    assert_eq!(check["problems"].as_array().unwrap().len(), 0, "page problems: {}", check["problems"]);
    check
}

/// The catalogue page of a batch with a broken file: self-contained, its chart drawn, one table
/// row per track with its status.
#[test]
#[cfg_attr(no_chromium, ignore = "no Chromium on this machine (install Debian's `chromium` to run it)")]
fn the_catalogue_renders_in_chromium() {
    let exe = chromium().expect("no Chromium found; .ci/run installs Debian's chromium");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    for i in 0..3 {
        let mut mix = synthetic_mix(4.0, FS, 80 + i);
        normalize_peak(&mut mix, 0.3);
        write_wav_f32(&p(&format!("mix{i}.wav")), &mix, FS);
    }
    let mut reference = synthetic_mix(4.0, FS, 90);
    normalize_peak(&mut reference, 0.95);
    write_wav_f32(&p("ref.wav"), &reference, FS);
    std::fs::write(p("bad.wav"), b"not audio").unwrap();
    std::fs::write(p("m.csv"), "target,output\nmix0.wav,a.wav\nmix1.wav,b.wav\nbad.wav,c.wav\nmix2.wav,d.wav\n")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_automaster"))
        .args(["batch", "--device", "cpu", "--quiet", "-r"])
        .arg(p("ref.wav"))
        .arg(p("m.csv"))
        .arg("--out-dir")
        .arg(p("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(p("out/catalogue.html")).unwrap();
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import", "<script", "<link"] {
        assert!(!html.contains(fetch), "the catalogue contains `{fetch}`");
    }
    assert_eq!(html.matches("<tr class=\"done\">").count(), 3);
    assert_eq!(html.matches("<tr class=\"failed\">").count(), 1);
    let check = rendered(&exe, dir.path(), &html);
    let charts = check["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 1, "{charts:?}");
    let c = &charts[0];
    assert_eq!(c["id"].as_str(), Some("chart-catalogue"));
    assert!(c["width"].as_f64().unwrap() > 400.0 && c["marks"].as_u64().unwrap() >= 10, "chart not drawn: {c}");
}

/// The album report of three short tracks (a gap, a crossfade): self-contained, its timeline and
/// both tonal charts drawn, a loudness row per track and one for the album.
#[test]
#[cfg_attr(no_chromium, ignore = "no Chromium on this machine (install Debian's `chromium` to run it)")]
fn the_album_report_renders_in_chromium() {
    let exe = chromium().expect("no Chromium found; .ci/run installs Debian's chromium");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    for (i, peak) in [0.3f32, 0.5, 0.4].into_iter().enumerate() {
        let mut mix = synthetic_mix(5.0, FS, 100 + i as u64);
        normalize_peak(&mut mix, peak);
        write_wav_f32(&p(&format!("t{i}.wav")), &mix, FS);
    }
    let mut reference = synthetic_mix(5.0, FS, 110);
    normalize_peak(&mut reference, 0.95);
    write_wav_f32(&p("ref.wav"), &reference, FS);
    std::fs::write(
        p("album.toml"),
        "title = \"Oracles\"\nartist = \"The Testers\"\nreferences = [\"ref.wav\"]\n\
         [[tracks]]\nfile = \"t0.wav\"\ntitle = \"One\"\ncrossfade_s = 1\n\
         [[tracks]]\nfile = \"t1.wav\"\ntitle = \"Two\"\n\
         [[tracks]]\nfile = \"t2.wav\"\ntitle = \"Three\"\ngap_before_s = 2\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_automaster"))
        .args(["album", "--device", "cpu", "--quiet"])
        .arg(p("album.toml"))
        .arg("-o")
        .arg(p("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(p("out/album-report.html")).unwrap();
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import", "<script", "<link"] {
        assert!(!html.contains(fetch), "the album report contains `{fetch}`");
    }
    let rows = html.split("<section id=\"loudness\">").nth(1).unwrap().split("</tbody>").next().unwrap();
    assert_eq!(rows.matches("<tr>").count() - 2, 4, "two header rows, three tracks and the album");
    let check = rendered(&exe, dir.path(), &html);
    let charts = check["charts"].as_array().unwrap();
    let ids: Vec<&str> = charts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["chart-timeline", "chart-tonal-after", "chart-tonal-before"]);
    for c in charts {
        assert!(c["width"].as_f64().unwrap() > 400.0 && c["marks"].as_u64().unwrap() >= 10, "chart not drawn: {c}");
    }
}

/// The restoration page of clicked music (the bundled excerpt; `restore --report`): self-contained, the clicks
/// listed, its spectrum chart drawn.
#[test]
#[cfg_attr(no_chromium, ignore = "no Chromium on this machine (install Debian's `chromium` to run it)")]
fn the_restoration_report_renders_in_chromium() {
    let exe = chromium().expect("no Chromium found; .ci/run installs Debian's chromium");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let excerpt = Path::new(env!("CARGO_MANIFEST_DIR")).join("references/sectoid_feelings_excerpt.ogg");
    let b = automaster::decode_file(&excerpt, &automaster::NoProgress).unwrap();
    let mut mix: Vec<Vec<f32>> = b.channels.iter().map(|c| c[..6 * b.sample_rate as usize].to_vec()).collect();
    for (k, channel) in mix.iter_mut().enumerate() {
        for c in 0..6 {
            let at = 22_050 + c * 38_000 + 3000 * k;
            channel[at..at + 6].iter_mut().for_each(|v| *v += 0.3);
        }
    }
    write_wav_f32(&p("clicked.wav"), &mix, b.sample_rate);
    let out = Command::new(env!("CARGO_BIN_EXE_automaster"))
        .args(["restore", "--quiet", "--declick"])
        .arg(p("clicked.wav"))
        .arg("-o")
        .arg(p("restored.wav"))
        .arg("--report")
        .arg(p("restoration.html"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(p("restoration.html")).unwrap();
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import", "<script", "<link"] {
        assert!(!html.contains(fetch), "the restoration page contains `{fetch}`");
    }
    assert!(html.contains("declick: repaired") && html.contains(" clicks ("), "{html}");
    let check = rendered(&exe, dir.path(), &html);
    let charts = check["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 1, "{charts:?}");
    let c = &charts[0];
    assert_eq!(c["id"].as_str(), Some("chart-restoration"));
    assert!(c["width"].as_f64().unwrap() > 400.0 && c["marks"].as_u64().unwrap() >= 10, "chart not drawn: {c}");
}

/// RGB pixels, width, height.
fn decode_png(bytes: &[u8]) -> (Vec<[u8; 3]>, usize, usize) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| if channels >= 3 { [c[0], c[1], c[2]] } else { [c[0]; 3] })
        .collect();
    (pixels, info.width as usize, info.height as usize)
}

fn distinct_colours(pixels: &[[u8; 3]]) -> usize {
    let mut set: Vec<[u8; 3]> = pixels.to_vec();
    set.sort_unstable();
    set.dedup();
    set.len()
}
