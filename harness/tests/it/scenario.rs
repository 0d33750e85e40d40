//! The scenario format: the example loads as written, and the model answers questions about nodes.

use firedrill::scenario::{self, Check};

const EXAMPLE: &str = include_str!("../../../scenarios/arcgis/soe-webshell-powershell.yaml");

#[test]
fn the_arcsoc_example_loads_as_written() {
    let s = scenario::parse("soe-webshell-powershell.yaml", EXAMPLE).expect("loads");
    assert_eq!(s.name, "ArcGIS Server SOE web shell launches PowerShell");
    assert_eq!(s.attack, ["T1190", "T1059.001"]);
    assert_eq!(s.hosts[0].name, "GIS01");
    assert_eq!(s.background, ["arcgis-server"]);
    assert_eq!(s.node_ids(), ["arcsoc", "ver", "ps", "who"]);
    assert_eq!(s.is_benign("ver"), Some(true));
    assert_eq!(s.is_benign("ps"), Some(false));
    assert_eq!(s.is_benign("nope"), None);
    assert!(!s.emits("arcsoc"));
    assert!(s.emits("who"));
    assert_eq!(s.expect[0].rule, "8e95e73e-ba02-4a87-b4d7-0929b8053038");
    assert_eq!(s.expect[0].check, Check::FiresOn(vec!["ps".into()]));
    let location = s.expect[0].location.as_ref().expect("located");
    assert_eq!(
        location.source_line.trim_start().split(' ').next(),
        Some("-")
    );
    assert_eq!(s.expect[2].check, Check::Quiet);
}

/// Every malformed scenario under `fixtures/scenarios-bad/` is rejected with exactly the rendered
/// diagnostics in the `.expected` file next to it. `FIREDRILL_BLESS=1` rewrites the expected files.
#[test]
fn malformed_scenarios_get_their_expected_diagnostics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios-bad");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/scenarios-bad exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 12,
        "only {} malformed scenarios",
        cases.len()
    );
    let bless = std::env::var_os("FIREDRILL_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let name = format!(
            "fixtures/scenarios-bad/{}",
            case.file_name().unwrap().to_string_lossy()
        );
        let text = std::fs::read_to_string(case).expect("readable");
        let rendered = match scenario::parse(&name, &text) {
            Ok(_) => "(no diagnostics: the scenario loaded)\n".to_string(),
            Err(diagnostics) => diagnostics
                .iter()
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n"),
        };
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
