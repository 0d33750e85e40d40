//! Repository hygiene: every module documents itself, and no test hides behind `should_panic` or `ignore`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources(under: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(under),
        &mut files,
    );
    files.sort();
    files
}

#[test]
fn every_source_module_opens_with_a_doc_line() {
    let missing: Vec<_> = sources("harness/src")
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("readable source");
            !text.starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` first line: {missing:?}"
    );
}

#[test]
fn no_test_is_hidden_behind_should_panic_or_ignore() {
    let needles = [concat!("#[should", "_panic"), concat!("#[ig", "nore")];
    let offenders: Vec<_> = sources("harness")
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("readable source");
            needles.iter().any(|n| text.contains(n))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "tests must assert, not hide: {offenders:?}"
    );
}
