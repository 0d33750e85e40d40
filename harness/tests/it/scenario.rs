//! The scenario format: the issue's example loads as written, and the model answers questions about nodes.

use crate::support::{bundled_scenarios, check_expected_renderings};
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
    check_expected_renderings(
        "scenarios-bad",
        "yaml",
        12,
        |name, text| match scenario::parse(name, text) {
            Ok(_) => "(no diagnostics: the scenario loaded)\n".to_string(),
            Err(diagnostics) => diagnostics
                .iter()
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n"),
        },
    );
}

#[test]
fn the_worked_example_in_the_format_reference_parses() {
    let doc = include_str!("../../../docs/scenario-format.md");
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").expect("closed block");
    let s = scenario::parse("docs/scenario-format.md", &doc[start..end]).expect("parses");
    assert_eq!(s.node_ids(), ["arcsoc", "ver", "ps", "who"]);
    assert_eq!(s.expect.len(), 2);
}

#[test]
fn the_json_schema_names_every_key_the_loader_accepts() {
    let schema = scenario::json_schema();
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = value["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let mut top: Vec<String> = scenario::SCENARIO_KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    top.sort();
    assert_eq!(keys(&schema), top);
    let node = scenario::ProcessNode {
        id: "a".into(),
        image: r"C:\a.exe".into(),
        command_line: None,
        user: None,
        integrity: None,
        pid: None,
        current_directory: None,
        original_file_name: None,
        hashes: None,
        at: None,
        benign: None,
        emit: false,
        host: None,
        children: Vec::new(),
    };
    let mut node_keys: Vec<String> = serde_json::to_value(&node)
        .expect("serializes")
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    node_keys.sort();
    assert_eq!(keys(&schema["$defs"]["process"]), node_keys);
    assert_eq!(schema["properties"]["format_version"]["const"], 1);
}

#[test]
fn keys_given_twice_are_reported_where_the_second_one_is() {
    let text = "format_version: 1\nname: a\nname: b\nhost: { name: H }\nstart: 2025-11-20T09:00:00Z\nprocesses: []\n";
    let errors = scenario::parse("dup.yaml", text).expect_err("rejected");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let location = errors[0].location.as_ref().expect("located");
    assert_eq!(location.line, 3, "{}", errors[0].render());
}

#[test]
fn expectation_locations_point_at_their_rule_line() {
    let s = scenario::parse("soe-webshell-powershell.yaml", EXAMPLE).expect("loads");
    for expectation in &s.expect {
        let location = expectation.location.as_ref().expect("located");
        assert!(
            location.source_line.contains(&expectation.rule),
            "{location:?}"
        );
        assert_eq!(location.file, "soe-webshell-powershell.yaml");
    }
}

/// Bad input never panics: prefixes of bundled scenarios, and each of their lines deleted,
/// doubled or shifted left, load or fail with located diagnostics.
#[test]
fn mangled_scenarios_give_diagnostics_never_panics() {
    let mut inputs = Vec::new();
    for path in bundled_scenarios().iter().step_by(4) {
        let text = std::fs::read_to_string(path).expect("readable");
        let lines: Vec<&str> = text.lines().collect();
        for cut in (0..text.len())
            .step_by(97)
            .filter(|&i| text.is_char_boundary(i))
        {
            inputs.push(text[..cut].to_string());
        }
        for i in 0..lines.len() {
            let mut without = lines.clone();
            without.remove(i);
            inputs.push(without.join("\n"));
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            inputs.push(doubled.join("\n"));
            let mut shifted = lines.clone();
            shifted[i] = &lines[i][lines[i].len().min(2)..];
            inputs.push(shifted.join("\n"));
        }
    }
    inputs.push("[SCN9999] x: y\n".into());
    inputs.push("format_version: 1\n\"[SCN0001]é\": 1\n".into());
    let mut rejected = 0;
    for input in &inputs {
        if let Err(diagnostics) = scenario::parse("mangled.yaml", input) {
            rejected += 1;
            assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                assert!(d.code.starts_with("SCN"), "{d:?}");
                assert!(d.location.is_some(), "unlocated: {}", d.render());
                let _ = d.render();
            }
        }
    }
    assert!(
        rejected > inputs.len() / 4,
        "{rejected} of {}",
        inputs.len()
    );
}
