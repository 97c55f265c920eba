//! The crate's layers (docs/ARCHITECTURE.md): each top-level module imports only modules of a lower
//! layer (or of its own, for the primitives), so data flows one way and there are no cycles.
use std::path::Path;

/// Top-level modules by layer, lowest first; a module may import those in earlier rows, and in its
/// own row only where the row is the primitives'.
const LAYERS: [&[&str]; 9] = [
    &["audio", "error", "progress", "fpenv", "parallel", "testing"],
    &["model"],
    &["dsp"],
    &["io"],
    &["analysis"],
    &["matching"],
    &["render"],
    &["report"],
    &["jobs"],
];

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|row| row.contains(&module)).unwrap_or_else(|| panic!("module `{module}` is in no layer"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::NAME` paths in a file's code (comments left out).
fn imports(text: &str) -> Vec<String> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    code.match_indices("crate::")
        .map(|(i, _)| code[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect())
        .collect()
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let own = layer(&top);
        for used in imports(&std::fs::read_to_string(file).unwrap()) {
            if used == top {
                continue;
            }
            let theirs = layer(&used);
            if theirs > own || (theirs == own && own != 0) {
                wrong.push(format!("{} ({top}) imports {used}", rel.display()));
            }
        }
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

/// `dsp` knows no plan or profile: of the documents it reads only the settings its processors are
/// built from, and the documents import nothing of the crate but its error.
#[test]
fn dsp_reads_only_settings_and_documents_import_only_the_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    let primitives = LAYERS[0].iter().map(|m| m.to_string());
    let dsp: Vec<String> = primitives.chain(["model::settings".to_string()]).collect();
    for (dir, allowed) in [("dsp", dsp), ("model", vec!["error".to_string()])] {
        let mut files = Vec::new();
        rust_files(&src.join(dir), &mut files);
        for file in files {
            let code: String = std::fs::read_to_string(&file)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            for (i, _) in code.match_indices("crate::") {
                let path: String =
                    code[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == ':').collect();
                let path = path.trim_end_matches(':');
                let ok = path.starts_with(dir) || allowed.iter().any(|a| path.starts_with(a.as_str()));
                if !ok {
                    wrong.push(format!("{}: crate::{path}", file.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports a document layer may not make:\n{}", wrong.join("\n"));
}
