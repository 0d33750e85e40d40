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
