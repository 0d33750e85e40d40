//! Helpers the integration tests share: the repository root and fixture walking.

use std::path::{Path, PathBuf};

/// The repository root (where `Cargo.toml`, `fixtures/` and `scenarios/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
    let full = root().join("fixtures").join(dir);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("fixtures/{dir}: {e}"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= min,
        "only {} cases in fixtures/{dir}",
        cases.len()
    );
    let bless = std::env::var_os("FIREDRILL_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let name = format!("fixtures/{dir}/{}", file_name(case));
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

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
