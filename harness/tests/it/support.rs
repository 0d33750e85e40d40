//! Helpers the integration tests share: the repository root, the binary, walking fixture and
//! scenario directories, rendering diagnostics, and checking rendered-diagnostic fixtures.

use firedrill::diag::Diagnostic;
use std::path::{Path, PathBuf};

/// The repository root (where `Cargo.toml`, `fixtures/` and `scenarios/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `firedrill` binary, ready for arguments.
pub fn firedrill() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("firedrill").expect("binary builds")
}

/// Every file ending in `.ext` below `dir` (recursively), sorted; none when `dir` is absent.
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, ext, out);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, ext, &mut out);
    out.sort();
    out
}

/// Every bundled scenario (`scenarios/**/*.yaml`), sorted.
pub fn bundled_scenarios() -> Vec<PathBuf> {
    let files = files_with_ext(&root().join("scenarios"), "yaml");
    assert!(!files.is_empty(), "no bundled scenarios under scenarios/");
    files
}

/// Diagnostics rendered one after another, as the CLI prints them.
pub fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(Diagnostic::render).collect()
}

/// Checks every file ending in `.ext` under `fixtures/<dir>` against the `.expected` file next
/// to it: `render` gets the file's repository-relative name and its text and returns what the
/// loader reports. At least `min` cases must exist. `FIREDRILL_BLESS=1` rewrites the expected
/// files instead.
pub fn check_expected_renderings(
    dir: &str,
    ext: &str,
    min: usize,
    render: impl Fn(&str, &str) -> String,
) {
    let cases: Vec<PathBuf> = files_with_ext(&root().join("fixtures").join(dir), ext);
    assert!(
        cases.len() >= min,
        "only {} cases in fixtures/{dir}",
        cases.len()
    );
    let bless = std::env::var_os("FIREDRILL_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let name = relative(case);
        let text = std::fs::read_to_string(case).expect("readable");
        let rendered = render(&name, &text);
        let expected_path = case.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &rendered).expect("writable");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if rendered != expected {
            failures.push(format!(
                "{name}\n--- expected\n{expected}--- actual\n{rendered}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `path` relative to the repository root, with `/` separators (the label fixtures render with).
pub fn relative(path: &Path) -> String {
    let relative = path.strip_prefix(root()).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
