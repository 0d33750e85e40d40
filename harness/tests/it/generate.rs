//! The generator: roles of parent and grandparent in every schema, determinism, bundled scenarios.

use crate::support::bundled_scenarios;
use firedrill::event::{Event, LogSchema, Value};
use firedrill::generate::{self, AsimSource, Options};
use firedrill::scenario;

const WEB_SHELL: &str = r#"
format_version: 1
name: IIS web shell runs whoami through cmd
host: { name: WEB01, domain: CORP }
start: 2025-11-20T10:00:00Z
processes:
  - id: w3wp
    image: 'C:\Windows\System32\inetsrv\w3wp.exe'
    children:
      - id: cmd
        image: 'C:\Windows\System32\cmd.exe'
        command_line: 'cmd.exe /c whoami'
        children:
          - id: who
            image: 'C:\Windows\System32\whoami.exe'
            command_line: 'whoami'
"#;

fn events(schema: LogSchema, options: &Options) -> Vec<Event> {
    let scenario = scenario::parse("web-shell.yaml", WEB_SHELL).expect("valid scenario");
    generate::render(&generate::timeline(&scenario, options), schema)
}

fn node<'a>(events: &'a [Event], id: &str) -> &'a Event {
    events
        .iter()
        .find(|e| e.origin.as_ref().is_some_and(|o| o.node == id))
        .unwrap_or_else(|| panic!("no event for node {id}"))
}

fn text<'a>(event: &'a Event, field: &str) -> Option<&'a str> {
    event.get(field).and_then(Value::as_str)
}

#[test]
fn mde_names_the_parent_initiating_and_the_grandparent_initiating_parent() {
    let events = events(LogSchema::Mde, &Options::default());
    let who = node(&events, "who");
    assert_eq!(text(who, "FileName"), Some("whoami.exe"));
    assert_eq!(
        text(who, "FolderPath"),
        Some(r"C:\Windows\System32\whoami.exe")
    );
    assert_eq!(text(who, "InitiatingProcessFileName"), Some("cmd.exe"));
    assert_eq!(
        text(who, "InitiatingProcessFolderPath"),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(
        text(who, "InitiatingProcessCommandLine"),
        Some("cmd.exe /c whoami")
    );
    assert_eq!(
        text(who, "InitiatingProcessParentFileName"),
        Some("w3wp.exe")
    );
    let cmd = node(&events, "cmd");
    assert_eq!(text(cmd, "InitiatingProcessFileName"), Some("w3wp.exe"));
    assert_eq!(
        text(cmd, "InitiatingProcessParentFileName"),
        Some("svchost.exe")
    );
    assert_eq!(who.get("InitiatingProcessId"), cmd.get("ProcessId"));
}

#[test]
fn sysmon_has_the_parent_and_no_grandparent() {
    let events = events(LogSchema::Sysmon, &Options::default());
    let who = node(&events, "who");
    assert_eq!(text(who, "Image"), Some(r"C:\Windows\System32\whoami.exe"));
    assert_eq!(
        text(who, "ParentImage"),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(text(who, "ParentCommandLine"), Some("cmd.exe /c whoami"));
    assert!(
        !who.fields
            .keys()
            .any(|k| k.contains("GrandParent") || k.contains("w3wp"))
    );
    assert!(
        !who.fields
            .values()
            .any(|v| v.as_str().is_some_and(|s| s.contains("w3wp")))
    );
    assert_eq!(text(who, "User"), Some(r"IIS APPPOOL\DefaultAppPool"));
    assert_eq!(text(who, "IntegrityLevel"), Some("High"));
}

#[test]
fn security_4688_has_the_parent_path_and_creator_but_no_parent_command_line() {
    let events = events(LogSchema::Security4688, &Options::default());
    let who = node(&events, "who");
    assert_eq!(
        text(who, "NewProcessName"),
        Some(r"C:\Windows\System32\whoami.exe")
    );
    assert_eq!(
        text(who, "ParentProcessName"),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(text(who, "SubjectUserName"), Some("DefaultAppPool"));
    assert_eq!(text(who, "SubjectDomainName"), Some("IIS APPPOOL"));
    assert_eq!(text(who, "MandatoryLabel"), Some("S-1-16-12288"));
    assert!(text(who, "NewProcessId").unwrap().starts_with("0x"));
    assert!(
        !who.fields
            .values()
            .any(|v| v.as_str().is_some_and(|s| s.contains("w3wp")))
    );
    assert!(who.get("ParentCommandLine").is_none());
}

#[test]
fn asim_fills_parent_process_with_the_grandparent_only_for_defender_rows() {
    let defender = events(LogSchema::Asim, &Options::default());
    let who = node(&defender, "who");
    assert_eq!(
        text(who, "TargetProcessName"),
        Some(r"C:\Windows\System32\whoami.exe")
    );
    assert_eq!(
        text(who, "ActingProcessName"),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(text(who, "ParentProcessName"), Some("w3wp.exe"));
    assert_eq!(
        text(who, "ActorUsername"),
        Some(r"IIS APPPOOL\DefaultAppPool")
    );
    for source in [AsimSource::Sysmon, AsimSource::SecurityEvent] {
        let options = Options {
            asim_source: source,
            ..Options::default()
        };
        let rows = events(LogSchema::Asim, &options);
        let who = node(&rows, "who");
        assert_eq!(
            text(who, "ActingProcessName"),
            Some(r"C:\Windows\System32\cmd.exe")
        );
        assert!(who.get("ParentProcessName").is_none(), "{source:?}");
    }
}

#[test]
fn ecs_nests_the_parent_and_has_no_grandparent() {
    let events = events(LogSchema::Ecs, &Options::default());
    let who = node(&events, "who");
    assert_eq!(text(who, "process.name"), Some("whoami.exe"));
    assert_eq!(text(who, "process.parent.name"), Some("cmd.exe"));
    assert_eq!(
        text(who, "process.parent.executable"),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert!(who.get("process.parent.parent").is_none());
    assert_eq!(text(who, "user.name"), Some("DefaultAppPool"));
    assert_eq!(text(who, "user.domain"), Some("IIS APPPOOL"));
}

#[test]
fn ocsf_puts_the_parent_in_actor_and_the_grandparent_second_in_ancestry() {
    let events = events(LogSchema::Ocsf, &Options::default());
    let who = node(&events, "who");
    assert_eq!(who.get("type_uid"), Some(&Value::Int(100701)));
    assert_eq!(text(who, "process.name"), Some("whoami.exe"));
    assert_eq!(text(who, "actor.process.name"), Some("cmd.exe"));
    assert_eq!(
        text(who, "actor.process.parent_process.name"),
        Some("w3wp.exe")
    );
    let Some(Value::List(ancestry)) = who.get("process.ancestry") else {
        panic!("no ancestry");
    };
    let names: Vec<_> = ancestry
        .iter()
        .map(|a| match a {
            Value::Map(m) => m.get("name").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        })
        .collect();
    assert_eq!(names, ["cmd.exe", "w3wp.exe"]);
}

#[test]
fn the_same_seed_gives_byte_identical_output_and_another_seed_does_not() {
    let scenario = scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/arcgis/soe-webshell-powershell.yaml"
    )))
    .expect("bundled scenario loads");
    let render = |seed| -> String {
        let options = Options {
            seed,
            ..Options::default()
        };
        let timeline = generate::timeline(&scenario, &options);
        LogSchema::GENERATED
            .iter()
            .flat_map(|&schema| generate::render(&timeline, schema))
            .map(|e| e.to_json().to_string() + "\n")
            .collect()
    };
    assert_eq!(render(7), render(7));
    assert_ne!(render(7), render(8));
}

#[test]
fn events_are_in_time_order_and_the_timeline_ends_at_the_last_one() {
    let scenario = scenario::parse("web-shell.yaml", WEB_SHELL).expect("valid scenario");
    let timeline = generate::timeline(&scenario, &Options::default());
    for schema in LogSchema::GENERATED {
        let events = generate::render(&timeline, schema);
        assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        assert_eq!(
            events.last().and_then(|e| e.timestamp),
            Some(timeline.end())
        );
    }
}

#[test]
fn every_bundled_scenario_renders_in_all_six_schemas() {
    for path in bundled_scenarios() {
        let scenario = scenario::load(&path).expect("bundled scenario loads");
        let timeline = generate::timeline(&scenario, &Options::default());
        let emitting: Vec<&str> = scenario
            .node_ids()
            .into_iter()
            .filter(|id| scenario.emits(id))
            .collect();
        for schema in LogSchema::GENERATED {
            let events = generate::render(&timeline, schema);
            assert_eq!(events.len(), timeline.creations.len(), "{}", path.display());
            for id in &emitting {
                let count = events
                    .iter()
                    .filter(|e| e.origin.as_ref().is_some_and(|o| o.node == *id))
                    .count();
                assert_eq!(count, 1, "{} {schema}: node {id}", path.display());
            }
            for event in &events {
                let origin = event.origin.as_ref().expect("origin");
                assert_eq!(origin.scenario, scenario.name);
                assert_eq!(event.schema, schema);
                if let Some(benign) = scenario.is_benign(&origin.node) {
                    assert_eq!(origin.benign, benign);
                } else {
                    assert!(
                        origin.node.starts_with("bg:") && origin.benign,
                        "{}",
                        origin.node
                    );
                }
            }
        }
    }
}

/// One snapshot per schema of the canonical w3wp.exe → cmd.exe → whoami.exe tree.
#[test]
fn each_schema_renders_the_web_shell_tree_as_snapshotted() {
    let options = Options {
        background: false,
        ..Options::default()
    };
    for schema in LogSchema::GENERATED {
        let lines: String = events(schema, &options)
            .iter()
            .map(|e| serde_json::to_string_pretty(&e.to_json()).expect("json") + "\n")
            .collect();
        insta::assert_snapshot!(format!("web_shell_{schema}"), lines);
    }
}

#[test]
fn explicit_attributes_win_over_defaults_and_children_inherit() {
    let yaml = r#"
format_version: 1
name: explicit
host: { name: WS01, domain: CORP }
start: 2025-11-20T10:00:00Z
processes:
  - id: explorer
    image: 'C:\Windows\explorer.exe'
    user: 'CORP\alice'
    children:
      - id: ps
        image: 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe'
        pid: 4242
        integrity: high
        current_directory: 'C:\Users\alice'
        hashes: { sha256: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }
        children:
          - id: child
            at: +1m30s
            image: 'C:\Windows\System32\whoami.exe'
"#;
    let scenario = scenario::parse("explicit.yaml", yaml).expect("valid");
    let timeline = generate::timeline(&scenario, &Options::default());
    let events = generate::render(&timeline, LogSchema::Sysmon);
    let ps = node(&events, "ps");
    assert_eq!(ps.get("ProcessId"), Some(&Value::Int(4242)));
    assert_eq!(text(ps, "User"), Some(r"CORP\alice"));
    assert_eq!(text(ps, "IntegrityLevel"), Some("High"));
    assert_eq!(text(ps, "CurrentDirectory"), Some(r"C:\Users\alice\"));
    assert!(
        text(ps, "Hashes")
            .unwrap()
            .contains(&format!("SHA256={}", "A".repeat(64)))
    );
    let child = node(&events, "child");
    assert_eq!(text(child, "User"), Some(r"CORP\alice"));
    assert_eq!(text(child, "IntegrityLevel"), Some("High"));
    assert_eq!(text(child, "CurrentDirectory"), Some(r"C:\Users\alice\"));
    assert_eq!(child.get("ParentProcessId"), Some(&Value::Int(4242)));
    let gap = child.timestamp.unwrap() - ps.timestamp.unwrap();
    assert!(gap >= chrono::TimeDelta::seconds(90) && gap < chrono::TimeDelta::seconds(91));
    assert_eq!(
        text(child, "Image"),
        Some(r"C:\Windows\System32\whoami.exe")
    );
    assert_eq!(
        text(child, "CommandLine"),
        Some(r"C:\Windows\System32\whoami.exe")
    );
}

#[test]
fn a_renamed_binary_keeps_its_original_file_name_in_every_schema_that_has_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/arcgis/renamed-powershell-gap.yaml");
    let scenario = scenario::load(&path).expect("loads");
    let timeline = generate::timeline(&scenario, &Options::default());
    let sysmon = generate::render(&timeline, LogSchema::Sysmon);
    let renamed = node(&sysmon, "renamed-ps");
    assert_eq!(text(renamed, "Image"), Some(r"C:\ProgramData\svchost.exe"));
    assert_eq!(text(renamed, "OriginalFileName"), Some("PowerShell.EXE"));
    assert_eq!(text(renamed, "Description"), Some("Windows PowerShell"));
    let mde = generate::render(&timeline, LogSchema::Mde);
    let row = node(&mde, "renamed-ps");
    assert_eq!(text(row, "FileName"), Some("svchost.exe"));
    assert_eq!(
        text(row, "ProcessVersionInfoOriginalFileName"),
        Some("PowerShell.EXE")
    );
    let ecs = generate::render(&timeline, LogSchema::Ecs);
    assert_eq!(
        text(node(&ecs, "renamed-ps"), "process.pe.original_file_name"),
        Some("PowerShell.EXE")
    );
}

#[test]
fn background_activity_is_benign_deterministic_and_can_be_left_out() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/iis/benign-day.yaml");
    let scenario = scenario::load(&path).expect("loads");
    let with = generate::timeline(&scenario, &Options::default());
    let events = generate::render(&with, LogSchema::Sysmon);
    let background: Vec<_> = events
        .iter()
        .filter(|e| e.origin.as_ref().unwrap().node.starts_with("bg:"))
        .collect();
    assert!(
        background.len() > 50,
        "a day of IIS has plenty of background"
    );
    assert!(background.iter().all(|e| e.origin.as_ref().unwrap().benign));
    let images: std::collections::BTreeSet<_> = background
        .iter()
        .filter_map(|e| text(e, "Image"))
        .map(|i| i.rsplit('\\').next().unwrap().to_string())
        .collect();
    for expected in ["csc.exe", "vbc.exe", "conhost.exe", "cvtres.exe"] {
        assert!(images.contains(expected), "{images:?}");
    }
    let csc = background
        .iter()
        .find(|e| text(e, "Image").is_some_and(|i| i.ends_with("csc.exe")))
        .unwrap();
    assert_eq!(
        text(csc, "ParentImage"),
        Some(r"C:\Windows\System32\inetsrv\w3wp.exe")
    );
    let without = generate::timeline(
        &scenario,
        &Options {
            background: false,
            ..Options::default()
        },
    );
    assert_eq!(generate::render(&without, LogSchema::Sysmon).len(), 2);
    assert_eq!(with, generate::timeline(&scenario, &Options::default()));
}

#[test]
fn an_emitted_root_is_created_by_its_implicit_launcher() {
    let yaml = r#"
format_version: 1
name: emitted root
host: { name: WEB01 }
start: 2025-11-20T10:00:00Z
processes:
  - id: w3wp
    emit: true
    at: +5s
    image: 'C:\Windows\System32\inetsrv\w3wp.exe'
"#;
    let scenario = scenario::parse("emit.yaml", yaml).expect("valid");
    assert!(scenario.emits("w3wp"));
    let timeline = generate::timeline(&scenario, &Options::default());
    let mde = generate::render(&timeline, LogSchema::Mde);
    assert_eq!(mde.len(), 1);
    let w3wp = &mde[0];
    assert_eq!(text(w3wp, "FileName"), Some("w3wp.exe"));
    assert_eq!(text(w3wp, "InitiatingProcessFileName"), Some("svchost.exe"));
    assert_eq!(
        text(w3wp, "InitiatingProcessCommandLine"),
        Some(r"C:\Windows\system32\svchost.exe -k iissvcs")
    );
    assert_eq!(
        text(w3wp, "InitiatingProcessParentFileName"),
        Some("services.exe")
    );
    assert_eq!(text(w3wp, "AccountDomain"), Some("iis apppool"));
    assert_eq!(text(w3wp, "DeviceName"), Some("web01"));
    let start = chrono::DateTime::parse_from_rfc3339("2025-11-20T10:00:05Z").unwrap();
    let at = w3wp.timestamp.unwrap();
    assert!(at >= start && at < start + chrono::TimeDelta::milliseconds(50));
}

#[test]
fn a_timeline_without_events_ends_at_the_start() {
    let yaml = "format_version: 1\nname: idle\nhost: { name: H }\nstart: 2025-11-20T10:00:00Z\nprocesses:\n  - { id: idle, image: 'C:\\Windows\\System32\\svchost.exe' }\n";
    let scenario = scenario::parse("idle.yaml", yaml).expect("valid");
    let options = Options {
        background: false,
        ..Options::default()
    };
    let timeline = generate::timeline(&scenario, &options);
    assert!(timeline.creations.is_empty());
    assert_eq!(timeline.end(), scenario.start);
    assert!(generate::render(&timeline, LogSchema::Other).is_empty());
}
