//! Repository hygiene: every module documents itself, and no test hides behind `should_panic` or `ignore`.

use crate::support::{files_with_ext, root};
use std::path::PathBuf;

fn sources(under: &str) -> Vec<PathBuf> {
    let files = files_with_ext(&root().join(under), "rs");
    assert!(!files.is_empty(), "no Rust sources under {under}");
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
