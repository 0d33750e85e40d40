//! Recorded process creations as rows of ASIM `imProcessCreate`, normalised the way
//! Sentinel's own ASIM parsers normalise them, so that a query over `imProcessCreate` (the
//! ArcSOC seed's KQL conversion, for one) reads recorded Sysmon, Security and Defender logs as a
//! workspace would.
//!
//! Three sources, one parser each (`../shared/docs/schemas.md` §1.1, §1.5):
//! - Sysmon event 1, as `ASimProcessCreateMicrosoftSysmon`: P is `ActingProcess*` and the actor
//!   is `ParentUser`; there is no `ParentProcess*`.
//! - Security event 4688, as `ASimProcessCreateMicrosoftSecurityEvents`: the actor is the
//!   `Subject*` creator, P is `ParentProcessName` and `ProcessId` (hex, made decimal), the target
//!   user is `Target*` when filled and the creator otherwise; integrity comes from the mandatory
//!   label (`High integrity`).
//! - Defender `DeviceProcessEvents`, as `ASimProcessEventMicrosoft365D`: P is
//!   `InitiatingProcess*`, and G, as a bare file name, is `ParentProcess*`.
//!
//! The row holds the columns the generator's ASIM renderer writes for the same source
//! ([`crate::generate::schema`]) wherever the recorded event carries them, formatted the same
//! way (ids as decimal strings, times in RFC 3339); a test checks the two agree over every
//! bundled scenario. Where the event lacks one (Sysmon writes no SIDs and no token
//! elevation), the column is left out rather than guessed. The device columns follow
//! `_ASIM_ResolveDvcFQDN`: a dotted computer name splits into host and DNS domain.

use crate::event::{Event, Fields, LogSchema, Name, Value};
use crate::generate::tree::Elevation;
use crate::scenario::{Integrity, file_name};
use chrono::{DateTime, Utc};

/// Every field [`process_create_row`] reads: a scan that only keeps the fields its rules read
/// keeps these when a query reads `imProcessCreate`.
pub const SOURCE_FIELDS: &[&str] = &[
    // Sysmon event 1.
    "Computer",
    "ParentImage",
    "ParentUser",
    "ParentCommandLine",
    "ParentProcessId",
    "ParentProcessGuid",
    "User",
    "LogonId",
    "Image",
    "OriginalFileName",
    "CommandLine",
    "ProcessId",
    "IntegrityLevel",
    "ProcessGuid",
    "CurrentDirectory",
    "Hashes",
    "md5",
    "sha1",
    "sha256",
    "imphash",
    "Company",
    "Description",
    "Product",
    "FileVersion",
    // Security event 4688.
    "SubjectDomainName",
    "SubjectUserName",
    "SubjectUserSid",
    "SubjectLogonId",
    "ParentProcessName",
    "TargetUserSid",
    "TargetDomainName",
    "TargetUserName",
    "TargetLogonId",
    "NewProcessName",
    "NewProcessId",
    "MandatoryLabel",
    "TokenElevationType",
    // Defender `DeviceProcessEvents`.
    "DeviceName",
    "DeviceId",
    "ActionType",
    "InitiatingProcessAccountDomain",
    "InitiatingProcessAccountName",
    "InitiatingProcessAccountSid",
    "InitiatingProcessLogonId",
    "InitiatingProcessFolderPath",
    "InitiatingProcessCommandLine",
    "InitiatingProcessId",
    "InitiatingProcessFileName",
    "InitiatingProcessCreationTime",
    "InitiatingProcessIntegrityLevel",
    "InitiatingProcessTokenElevation",
    "InitiatingProcessMD5",
    "InitiatingProcessSHA1",
    "InitiatingProcessSHA256",
    "InitiatingProcessParentFileName",
    "InitiatingProcessParentId",
    "InitiatingProcessParentCreationTime",
    "AccountDomain",
    "AccountName",
    "AccountSid",
    "FileName",
    "FolderPath",
    "ProcessCommandLine",
    "ProcessCreationTime",
    "ProcessIntegrityLevel",
    "ProcessTokenElevation",
    "MD5",
    "SHA1",
    "SHA256",
    "ProcessVersionInfoCompanyName",
    "ProcessVersionInfoFileDescription",
    "ProcessVersionInfoProductName",
    "ProcessVersionInfoProductVersion",
    "ProcessVersionInfoOriginalFileName",
];

/// The `imProcessCreate` row of `event`, when it is a recorded process creation: Sysmon event
/// 1, Security event 4688, or a Defender `DeviceProcessEvents` `ProcessCreated` row.
pub fn process_create_row(event: &Event) -> Option<Event> {
    let source = Source::of(event)?;
    let fields = &event.fields;
    let mut row = Row(Fields::default());
    let time = event.timestamp.map(time_text);
    let (product, original_type) = match source {
        Source::Sysmon => ("Sysmon", "1"),
        Source::SecurityEvent => ("Security Events", "4688"),
        Source::Defender => ("M365 Defender for Endpoint", "ProcessCreated"),
    };
    for name in ["TimeGenerated", "EventStartTime", "EventEndTime"] {
        row.put(name, time.clone());
    }
    row.set("EventCount", 1i64);
    for (name, value) in [
        ("EventType", "ProcessCreated"),
        ("EventResult", "Success"),
        ("EventProduct", product),
        ("EventVendor", "Microsoft"),
        ("EventSchema", "ProcessEvent"),
        ("EventSchemaVersion", "0.1.4"),
        ("EventOriginalType", original_type),
    ] {
        row.set(name, value);
    }
    let computer = match source {
        Source::Defender => text(fields, "DeviceName"),
        _ => text(fields, "Computer"),
    };
    if let Some(computer) = computer {
        row.device(&computer);
    }
    match source {
        Source::Sysmon => sysmon(fields, &mut row, time),
        Source::SecurityEvent => security(fields, &mut row, time),
        Source::Defender => defender(fields, &mut row),
    }
    for (alias, column) in [
        ("User", "TargetUsername"),
        ("Process", "TargetProcessName"),
        ("CommandLine", "TargetProcessCommandLine"),
    ] {
        if let Some(value) = row.0.get(column).cloned() {
            row.0.insert(Name::new(alias), value);
        }
    }
    Some(Event {
        schema: LogSchema::Asim,
        timestamp: event.timestamp,
        fields: row.0,
        origin: None,
    })
}

/// Which ASIM parser normalises an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Sysmon,
    SecurityEvent,
    Defender,
}

impl Source {
    fn of(event: &Event) -> Option<Source> {
        match event.schema {
            LogSchema::Sysmon => Some(Source::Sysmon),
            LogSchema::Security4688 => Some(Source::SecurityEvent),
            LogSchema::Mde => {
                let created =
                    text(&event.fields, "ActionType").is_none_or(|a| a == "ProcessCreated");
                let process = event.fields.contains_key("ProcessCommandLine")
                    || event.fields.contains_key("FolderPath");
                (created && process).then_some(Source::Defender)
            }
            _ => None,
        }
    }
}

/// The row being built: `put` and `copy` write nothing for a value the event lacks.
struct Row(Fields);

impl Row {
    fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(Name::new(name), value.into());
    }

    /// Sets `name` to `value` when there is one.
    fn put(&mut self, name: &str, value: Option<String>) {
        if let Some(value) = value {
            self.set(name, value);
        }
    }

    /// `{role}Username` (and its type), when there is one: `role` is `Actor` or `Target`.
    fn user(&mut self, role: &str, name: Option<String>) {
        if let Some(name) = name {
            self.set(&format!("{role}Username"), name);
            self.set(&format!("{role}UsernameType"), "Windows");
        }
    }

    /// `{role}UserId` (and its type), when there is one.
    fn sid(&mut self, role: &str, sid: Option<String>) {
        if let Some(sid) = sid {
            self.set(&format!("{role}UserId"), sid);
            self.set(&format!("{role}UserIdType"), "SID");
        }
    }

    /// Copies field `from` of `fields` as text, when present.
    fn copy(&mut self, fields: &Fields, name: &str, from: &str) {
        self.put(name, text(fields, from));
    }

    /// The device columns from a computer name, as `_ASIM_ResolveDvcFQDN` splits it.
    fn device(&mut self, computer: &str) {
        let (host, domain) = computer.split_once('.').unwrap_or((computer, ""));
        self.set("Dvc", host);
        self.set("DvcHostname", host);
        if !domain.is_empty() {
            self.set("DvcDomain", domain);
            self.set("DvcDomainType", "FQDN");
            self.set("DvcFQDN", computer);
        }
        self.set("DvcOs", "Windows");
    }
}

/// RFC 3339 in UTC, with milliseconds as the generator writes them, or to the 100 ns tick
/// Windows records when the time has more.
fn time_text(time: DateTime<Utc>) -> String {
    if time.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        crate::generate::schema::iso(time)
    } else {
        time.format("%Y-%m-%dT%H:%M:%S%.7fZ").to_string()
    }
}

/// A field's text (numbers in decimal), unless absent, null or empty.
fn text(fields: &Fields, name: &str) -> Option<String> {
    let value = fields.get(name)?.to_text()?;
    (!value.is_empty()).then(|| value.into_owned())
}

/// [`text`], except Windows' `-` for a value it does not have (a parent it did not see).
fn known(fields: &Fields, name: &str) -> Option<String> {
    text(fields, name).filter(|value| value != "-")
}

/// A field's whole number, written in decimal or, as Windows writes ids, `0x` hex.
fn number(fields: &Fields, name: &str) -> Option<u64> {
    match fields.get(name)? {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::String(s) => match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// A decimal id, as ASIM types ids.
fn id(fields: &Fields, name: &str) -> Option<String> {
    number(fields, name).map(|n| n.to_string())
}

/// A Sysmon GUID as the Sysmon parser writes it: upper case, without braces.
fn guid(fields: &Fields, name: &str) -> Option<String> {
    let guid = text(fields, name)?;
    Some(
        guid.trim_start_matches('{')
            .trim_end_matches('}')
            .to_uppercase(),
    )
}

/// `DOMAIN\name`, from two fields.
fn qualified(fields: &Fields, domain: &str, name: &str) -> Option<String> {
    let name = known(fields, name)?;
    Some(match known(fields, domain) {
        Some(domain) => format!("{domain}\\{name}"),
        None => name,
    })
}

/// Sysmon event 1 (`ASimProcessCreateMicrosoftSysmon`).
fn sysmon(fields: &Fields, row: &mut Row, time: Option<String>) {
    if let Some(parent) = known(fields, "ParentImage") {
        row.user("Actor", known(fields, "ParentUser"));
        row.set("ActingProcessName", parent);
        row.copy(fields, "ActingProcessCommandLine", "ParentCommandLine");
        row.put("ActingProcessId", id(fields, "ParentProcessId"));
        row.put("ActingProcessGuid", guid(fields, "ParentProcessGuid"));
    }
    row.user("Target", text(fields, "User"));
    row.put("TargetUserSessionId", id(fields, "LogonId"));
    row.copy(fields, "TargetProcessName", "Image");
    row.copy(fields, "TargetProcessFilename", "OriginalFileName");
    row.copy(fields, "TargetProcessCommandLine", "CommandLine");
    row.put("TargetProcessId", id(fields, "ProcessId"));
    row.put("TargetProcessCreationTime", time);
    row.copy(fields, "TargetProcessIntegrityLevel", "IntegrityLevel");
    row.put("TargetProcessGuid", guid(fields, "ProcessGuid"));
    row.copy(fields, "TargetProcessCurrentDirectory", "CurrentDirectory");
    // `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`, or the legacy separate fields.
    let mut hashes: Vec<(String, String)> = text(fields, "Hashes")
        .map(|all| {
            all.split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(algo, digest)| (algo.trim().to_uppercase(), digest.trim().to_uppercase()))
                .collect()
        })
        .unwrap_or_default();
    for algo in ["MD5", "SHA1", "SHA256", "IMPHASH"] {
        if !hashes.iter().any(|(a, _)| a == algo)
            && let Some(digest) = text(fields, &algo.to_lowercase())
        {
            hashes.push((algo.to_string(), digest.to_uppercase()));
        }
    }
    let digest = |algo: &str| {
        hashes
            .iter()
            .find(|(a, _)| a == algo)
            .map(|(_, d)| d.clone())
    };
    for algo in ["MD5", "SHA1", "SHA256", "IMPHASH"] {
        row.put(&format!("TargetProcess{algo}"), digest(algo));
    }
    for (name, from) in [
        ("TargetProcessFileCompany", "Company"),
        ("TargetProcessFileDescription", "Description"),
        ("TargetProcessFileProduct", "Product"),
        ("TargetProcessFileVersion", "FileVersion"),
        ("TargetProcessFileOriginalName", "OriginalFileName"),
    ] {
        row.copy(fields, name, from);
    }
    if let Some(sha256) = digest("SHA256") {
        row.set("Hash", sha256);
        row.set("HashType", "SHA256");
    }
}

/// Security event 4688 (`ASimProcessCreateMicrosoftSecurityEvents`).
fn security(fields: &Fields, row: &mut Row, time: Option<String>) {
    let actor = qualified(fields, "SubjectDomainName", "SubjectUserName");
    row.user("Actor", actor.clone());
    row.sid("Actor", text(fields, "SubjectUserSid"));
    row.put("ActorSessionId", id(fields, "SubjectLogonId"));
    if let Some(parent) = text(fields, "ParentProcessName") {
        row.set("ActingProcessName", parent);
        // 4688 records no parent command line.
        row.set("ActingProcessCommandLine", "");
    }
    row.put("ActingProcessId", id(fields, "ProcessId"));
    // `Target*` are filled only when the new process runs as another user than its creator.
    let other = text(fields, "TargetUserSid").filter(|sid| sid != "S-1-0-0");
    let (user, sid, session) = match other {
        Some(sid) => (
            qualified(fields, "TargetDomainName", "TargetUserName"),
            Some(sid),
            id(fields, "TargetLogonId"),
        ),
        None => (
            actor,
            text(fields, "SubjectUserSid"),
            id(fields, "SubjectLogonId"),
        ),
    };
    row.user("Target", user);
    row.sid("Target", sid);
    row.put("TargetUserSessionId", session);
    if let Some(image) = text(fields, "NewProcessName") {
        row.set("TargetProcessFilename", file_name(&image));
        row.set("TargetProcessName", image);
    }
    row.copy(fields, "TargetProcessCommandLine", "CommandLine");
    row.put("TargetProcessId", id(fields, "NewProcessId"));
    row.put("TargetProcessCreationTime", time);
    let label = text(fields, "MandatoryLabel");
    let integrity = Integrity::ALL
        .into_iter()
        .find(|level| label.as_deref() == Some(level.sid()));
    row.put(
        "TargetProcessIntegrityLevel",
        integrity
            .map(|level| format!("{} integrity", level.word()))
            .or(label),
    );
    let code = text(fields, "TokenElevationType");
    let elevation = [Elevation::Default, Elevation::Full, Elevation::Limited]
        .into_iter()
        .find(|e| code.as_deref() == Some(e.code()));
    row.put(
        "TargetProcessTokenElevation",
        elevation.map(|e| e.word().to_string()).or(code),
    );
}

/// Defender `DeviceProcessEvents` (`ASimProcessEventMicrosoft365D`).
fn defender(fields: &Fields, row: &mut Row) {
    row.copy(fields, "DvcId", "DeviceId");
    if row.0.contains_key("DvcId") {
        row.set("DvcIdType", "MDEid");
    }
    row.user(
        "Actor",
        qualified(
            fields,
            "InitiatingProcessAccountDomain",
            "InitiatingProcessAccountName",
        ),
    );
    row.sid("Actor", text(fields, "InitiatingProcessAccountSid"));
    row.put("ActorSessionId", id(fields, "InitiatingProcessLogonId"));
    row.copy(fields, "ActingProcessName", "InitiatingProcessFolderPath");
    row.copy(
        fields,
        "ActingProcessCommandLine",
        "InitiatingProcessCommandLine",
    );
    row.put("ActingProcessId", id(fields, "InitiatingProcessId"));
    for (name, from) in [
        ("ActingProcessFilename", "InitiatingProcessFileName"),
        ("ActingProcessCreationTime", "InitiatingProcessCreationTime"),
        (
            "ActingProcessIntegrityLevel",
            "InitiatingProcessIntegrityLevel",
        ),
        (
            "ActingProcessTokenElevation",
            "InitiatingProcessTokenElevation",
        ),
        ("ActingProcessMD5", "InitiatingProcessMD5"),
        ("ActingProcessSHA1", "InitiatingProcessSHA1"),
        ("ActingProcessSHA256", "InitiatingProcessSHA256"),
        ("ParentProcessName", "InitiatingProcessParentFileName"),
    ] {
        row.copy(fields, name, from);
    }
    row.put("ParentProcessId", id(fields, "InitiatingProcessParentId"));
    row.copy(
        fields,
        "ParentProcessCreationTime",
        "InitiatingProcessParentCreationTime",
    );
    row.user("Target", qualified(fields, "AccountDomain", "AccountName"));
    row.sid("Target", text(fields, "AccountSid"));
    row.put("TargetUserSessionId", id(fields, "LogonId"));
    for (name, from) in [
        ("TargetProcessName", "FolderPath"),
        ("TargetProcessFilename", "FileName"),
        ("TargetProcessCommandLine", "ProcessCommandLine"),
    ] {
        row.copy(fields, name, from);
    }
    row.put("TargetProcessId", id(fields, "ProcessId"));
    for (name, from) in [
        ("TargetProcessCreationTime", "ProcessCreationTime"),
        ("TargetProcessIntegrityLevel", "ProcessIntegrityLevel"),
        ("TargetProcessTokenElevation", "ProcessTokenElevation"),
        ("TargetProcessMD5", "MD5"),
        ("TargetProcessSHA1", "SHA1"),
        ("TargetProcessSHA256", "SHA256"),
        ("TargetProcessFileCompany", "ProcessVersionInfoCompanyName"),
        (
            "TargetProcessFileDescription",
            "ProcessVersionInfoFileDescription",
        ),
        ("TargetProcessFileProduct", "ProcessVersionInfoProductName"),
        (
            "TargetProcessFileVersion",
            "ProcessVersionInfoProductVersion",
        ),
        (
            "TargetProcessFileOriginalName",
            "ProcessVersionInfoOriginalFileName",
        ),
    ] {
        row.copy(fields, name, from);
    }
    if let Some(sha256) = text(fields, "SHA256") {
        row.set("Hash", sha256);
        row.set("HashType", "SHA256");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, AsimSource, Options};
    use std::path::Path;

    /// Columns a source's events cannot supply, so the converted row leaves them out where the
    /// generator, which knows the whole process, writes them.
    fn not_carried(source: AsimSource, column: &str) -> bool {
        match source {
            // Sysmon event 1 names accounts but writes no SIDs, no token elevation and no
            // session of the parent.
            AsimSource::Sysmon => matches!(
                column,
                "ActorUserId"
                    | "ActorUserIdType"
                    | "ActorSessionId"
                    | "TargetUserId"
                    | "TargetUserIdType"
                    | "TargetProcessTokenElevation"
            ),
            AsimSource::SecurityEvent | AsimSource::Defender => false,
        }
    }

    /// Columns where the generator's emulation and the recorded event legitimately differ.
    fn differs(source: AsimSource, column: &str, generated: &str) -> bool {
        // The generator names the device by its NetBIOS name; a recorded event knows only the
        // DNS name, which `_ASIM_ResolveDvcFQDN` splits.
        if column.starts_with("Dvc") && column != "DvcId" && column != "DvcIdType" {
            return true;
        }
        match source {
            AsimSource::Sysmon | AsimSource::SecurityEvent => false,
            // Defender writes `-` version fields as empty, and the product version without the
            // build branch.
            AsimSource::Defender => {
                generated == "-" && column.starts_with("TargetProcessFile")
                    || column == "TargetProcessFileVersion"
            }
        }
    }

    fn scenarios() -> Vec<crate::scenario::Scenario> {
        let mut files = Vec::new();
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).expect("scenarios directory") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    files.push(path);
                }
            }
        }
        files.sort();
        let loaded: Vec<_> = files
            .iter()
            .filter_map(|f| crate::scenario::load(f).ok())
            .collect();
        assert!(loaded.len() > 10, "bundled scenarios load");
        loaded
    }

    #[test]
    fn recorded_process_creations_become_the_asim_rows_the_generator_emulates_from_them() {
        let mut compared = 0;
        for scenario in scenarios() {
            for (source, schema) in [
                (AsimSource::Sysmon, LogSchema::Sysmon),
                (AsimSource::SecurityEvent, LogSchema::Security4688),
                (AsimSource::Defender, LogSchema::Mde),
            ] {
                let options = Options {
                    asim_source: source,
                    ..Options::default()
                };
                let timeline = generate::timeline(&scenario, &options);
                let recorded = generate::render(&timeline, schema);
                let expected = generate::render(&timeline, LogSchema::Asim);
                assert_eq!(recorded.len(), expected.len());
                for (event, want) in recorded.iter().zip(&expected) {
                    let got = process_create_row(event).expect("a process creation");
                    // Only the source fields are read.
                    let mut kept = event.clone();
                    kept.fields
                        .retain(|name, _| SOURCE_FIELDS.contains(&name.as_str()));
                    assert_eq!(process_create_row(&kept).as_ref(), Some(&got));
                    let context = || format!("{} from {schema}: {event:?}", scenario.name);
                    for (column, value) in &want.fields {
                        let value = value.to_text().unwrap_or_default();
                        if differs(source, column, &value) {
                            continue;
                        }
                        let converted = got.fields.get(column).and_then(Value::to_text);
                        match converted {
                            None if not_carried(source, column) || value.is_empty() => {}
                            converted => {
                                let converted = converted.unwrap_or_default();
                                let same = if source == AsimSource::Defender {
                                    // Defender stores account names in lower case.
                                    converted.eq_ignore_ascii_case(&value)
                                } else {
                                    converted == value
                                };
                                assert!(
                                    same,
                                    "{column}: {converted:?}, want {value:?}; {}",
                                    context()
                                );
                            }
                        }
                        compared += 1;
                    }
                    for column in got.fields.keys() {
                        assert!(
                            want.fields.contains_key(column),
                            "{column} is not an ASIM column the generator writes; {}",
                            context()
                        );
                    }
                }
            }
        }
        assert!(compared > 1000, "{compared} columns compared");
    }

    #[test]
    fn other_events_are_not_process_creation_rows() {
        let logon = Event::new(LogSchema::Other).with("EventID", 4624i64);
        assert!(process_create_row(&logon).is_none());
        let file = Event::new(LogSchema::Mde)
            .with("ActionType", "FileCreated")
            .with("FolderPath", r"C:\temp\a.txt");
        assert!(process_create_row(&file).is_none());
    }

    #[test]
    fn ids_in_hex_become_decimal_and_guids_lose_their_braces() {
        let event = Event::new(LogSchema::Sysmon)
            .with("Computer", "web01")
            .with("Image", r"C:\Windows\System32\cmd.exe")
            .with("ProcessId", "4242")
            .with("LogonId", "0x3e7")
            .with("ProcessGuid", "{2b404f71-a336-6923-9dc9-00000d254002}")
            .with("ParentImage", "-");
        let row = process_create_row(&event).expect("a row");
        let get = |name: &str| row.fields.get(name).and_then(Value::as_str);
        assert_eq!(get("TargetProcessId"), Some("4242"));
        assert_eq!(get("TargetUserSessionId"), Some("999"));
        assert_eq!(
            get("TargetProcessGuid"),
            Some("2B404F71-A336-6923-9DC9-00000D254002")
        );
        assert_eq!(get("DvcHostname"), Some("web01"));
        assert_eq!(get("DvcFQDN"), None);
        // Sysmon's `-` for a parent it did not see is no acting process.
        assert_eq!(get("ActingProcessName"), None);
        assert_eq!(get("Process"), Some(r"C:\Windows\System32\cmd.exe"));
        // An undated event's row has no time rather than an empty one.
        assert_eq!(get("TimeGenerated"), None);
        assert_eq!(get("TargetProcessCreationTime"), None);
    }
}
