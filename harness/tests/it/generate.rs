//! The generator: roles of parent and grandparent in every schema, determinism, bundled scenarios.

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
