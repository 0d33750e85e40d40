//! Schema recognition: which [`LogSchema`] a recorded document is, and how its parts become
//! one [`Event`] with the field names Sigma (or KQL) expects.
//!
//! Windows events are recognised by channel (or provider) and event id: Sysmon EID 1 is
//! [`LogSchema::Sysmon`], Security 4688 is [`LogSchema::Security4688`], every other Windows
//! event is [`LogSchema::Other`] with its System fields (`Channel`, `EventID`, `Computer`,
//! `Provider_Name`, `EventRecordID`) and its EventData fields flattened beside them, the way
//! SigmaHQ's rules name them. Defender `DeviceProcessEvents` rows are [`LogSchema::Mde`], ECS
//! documents [`LogSchema::Ecs`] (kept nested), ASIM and OCSF rows their own schemas.

use super::ReadOptions;
use crate::event::{Event, Fields, LogSchema, Name, Value};
use chrono::{DateTime, NaiveDateTime, Utc};

/// The layout a JSON document turned out to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Layout {
    /// Top-level fields.
    #[default]
    Flat,
    /// `Event.System` / `Event.EventData` (evtx_dump and EVTX records).
    EvtxDump,
    /// `winlog.*` (Winlogbeat, raw or after the ingest pipeline).
    Winlogbeat,
    /// `{"category":"AdvancedHunting-<Table>","properties":{…}}`.
    DefenderStream,
}

/// The System part of a Windows event.
#[derive(Debug, Default)]
pub(crate) struct System {
    pub channel: Option<Value>,
    pub event_id: Option<Value>,
    pub computer: Option<Value>,
    pub provider: Option<Value>,
    pub record_id: Option<Value>,
}

/// What the parser collected from one document, before assembly.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    pub layout: Layout,
    pub system: System,
    /// EventData / `winlog.event_data` / Defender `properties`, flattened.
    pub data: Fields,
    /// Top-level fields (flat layout; ECS objects in Winlogbeat documents).
    pub top: Fields,
    /// Other `winlog.*` keys a rule reads (ECS documents keep them nested).
    pub winlog_rest: Fields,
    /// The best timestamp seen so far and its rank (lower wins).
    time: Option<(u8, DateTime<Utc>)>,
    /// Whether the event data names the process the Sigma way (`Image`, `NewProcessName`).
    data_names_process: bool,
    /// Whether there is a top-level ECS `process` object.
    has_process_object: bool,
}

/// How many fields a document's map makes room for when its first field arrives: a Sysmon
/// record has about 45, and growing the map would hash every key again.
const FIELDS_HINT: usize = 48;

/// The rank of `Event.System.TimeCreated.SystemTime`.
pub(crate) const SYSTEM_TIME_RANK: u8 = 1;

/// Recognised timestamp fields, best first (after a configured `--time-field`, rank 0, and
/// `Event.System.TimeCreated`, rank 1).
const TIME_FIELDS: [&str; 6] = [
    "@timestamp",
    "UtcTime",
    "timestamp",
    "Timestamp",
    "TimeGenerated",
    "time",
];

/// The rank of `key` as a timestamp field, if it is one.
pub(crate) fn time_rank(opts: &ReadOptions, key: &str) -> Option<u8> {
    if opts.time_field.as_deref() == Some(key) {
        return Some(0);
    }
    TIME_FIELDS
        .iter()
        .position(|name| *name == key)
        .map(|i| i as u8 + 2)
}

impl Parts {
    /// Puts a System field straight into the event's fields (evtx_dump layout).
    pub(crate) fn put_system(&mut self, name: &str, value: &Option<Value>) {
        if let Some(value) = value {
            self.insert_data(Name::new(name), value.clone());
        }
    }

    /// Adds an event-data field (room for a typical event made on the first).
    pub(crate) fn insert_data(&mut self, name: Name, value: Value) {
        if self.data.capacity() == 0 {
            self.data.reserve(FIELDS_HINT);
        }
        self.data.insert(name, value);
    }

    /// [`Parts::insert_data`] with the name's hash in the field map already known (see
    /// [`Parts::insert_top_hashed`]).
    pub(crate) fn insert_data_hashed(&mut self, hash: u64, name: Name, value: Value) {
        if self.data.capacity() == 0 {
            self.data.reserve(FIELDS_HINT);
        }
        insert_hashed(&mut self.data, hash, name, value);
    }

    /// Adds a top-level field whose hash in the field map is `hash` (room for a typical event
    /// made on the first): a key written twice keeps its first place and takes the later value,
    /// as `IndexMap::insert` does.
    pub(crate) fn insert_top_hashed(&mut self, hash: u64, name: Name, value: Value) {
        if self.top.capacity() == 0 {
            self.top.reserve(FIELDS_HINT);
        }
        insert_hashed(&mut self.top, hash, name, value);
    }

    /// Offers a parsed timestamp of `rank`; kept when it beats the current one.
    pub(crate) fn offer_parsed_time(&mut self, rank: u8, time: DateTime<Utc>) {
        if self.time.is_none_or(|(best, _)| rank < best) {
            self.time = Some((rank, time));
        }
    }

    /// Offers a timestamp candidate of `rank`; kept when it parses and beats the current one.
    pub(crate) fn offer_time(&mut self, rank: u8, value: &Value) {
        if self.time.is_some_and(|(best, _)| best <= rank) {
            return;
        }
        if let Some(time) = value.as_str().and_then(parse_time) {
            self.time = Some((rank, time));
        }
    }
}

/// Parses the timestamp spellings of Windows logs and their exports: RFC 3339
/// (`2025-12-11T06:17:19.772545Z`), Sysmon's `UtcTime` (`2025-12-11 06:17:19.636`, UTC) and
/// the same with a `T`.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(time) = parse_plain_time(text.as_bytes()) {
        return Some(time);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), format) {
            return Some(naive.and_utc());
        }
    }
    None
}

/// The common spellings without chrono's general parsers (one per event, so it shows):
/// `YYYY-MM-DD`, `T` or a space, `HH:MM:SS`, an optional fraction of up to nine digits and an
/// optional `Z`. Anything else, an impossible date included, is `None` and left to chrono,
/// so the answer is the one chrono would give.
fn parse_plain_time(text: &[u8]) -> Option<DateTime<Utc>> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        text.get(range)?.iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if text.len() < 19
        || separators.iter().any(|&(i, c)| text[i] != c)
        || !matches!(text[10], b'T' | b' ')
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(stripped) = rest.strip_suffix(b"Z") {
        rest = stripped;
    }
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix(b".") {
        if fraction.is_empty() || fraction.len() > 9 || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let digits = fraction
            .iter()
            .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'));
        nanos = digits * 10u32.pow(9 - fraction.len() as u32);
    } else if !rest.is_empty() {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    let time = date.and_hms_nano_opt(number(11..13)?, number(14..16)?, number(17..19)?, nanos)?;
    Some(time.and_utc())
}

/// Top-level keys kept whatever the filter says, because recognition and routing read them.
pub(crate) fn always_kept(key: &str) -> bool {
    matches!(
        key,
        "Channel"
            | "EventID"
            | "Computer"
            | "Provider_Name"
            | "ActionType"
            | "EventType"
            | "class_uid"
            | "event"
            | "category"
            | "Type"
    )
}

/// Notes recognition hints carried by a top-level key.
pub(crate) fn note_top_key(parts: &mut Parts, key: &str) {
    if key == "process" {
        parts.has_process_object = true;
    }
}

/// Notes recognition hints carried by an event-data key.
pub(crate) fn note_data_key(parts: &mut Parts, key: &str) {
    if key == "Image" || key == "NewProcessName" {
        parts.data_names_process = true;
    }
}

/// `fields.insert(name, value)` with the name's hash in `fields` known: a key already there keeps
/// its place and takes the new value.
fn insert_hashed(fields: &mut Fields, hash: u64, name: Name, value: Value) {
    use indexmap::map::{RawEntryApiV1, raw_entry_v1::RawEntryMut};
    match fields
        .raw_entry_mut_v1()
        .from_key_hashed_nocheck(hash, name.as_str())
    {
        RawEntryMut::Occupied(mut known) => *known.get_mut() = value,
        RawEntryMut::Vacant(place) => {
            place.insert_hashed_nocheck(hash, name, value);
        }
    }
}

/// Integers written as strings (Winlogbeat's `"event_id":"1"`) become integers.
pub(crate) fn normalise_number(value: Value) -> Value {
    match &value {
        Value::String(text) => text.trim().parse::<i64>().map_or(value, Value::Int),
        _ => value,
    }
}

fn text_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// The schema of a Windows event from its channel, provider and event id.
pub fn windows_schema(
    channel: Option<&str>,
    provider: Option<&str>,
    event_id: Option<i64>,
) -> LogSchema {
    let sysmon = channel
        .is_some_and(|c| c.eq_ignore_ascii_case("Microsoft-Windows-Sysmon/Operational"))
        || (channel.is_none()
            && provider.is_some_and(|p| p.eq_ignore_ascii_case("Microsoft-Windows-Sysmon")));
    let security = channel.is_some_and(|c| c.eq_ignore_ascii_case("Security"))
        || (channel.is_none()
            && provider
                .is_some_and(|p| p.eq_ignore_ascii_case("Microsoft-Windows-Security-Auditing")));
    match event_id {
        Some(1) if sysmon => LogSchema::Sysmon,
        Some(4688) if security => LogSchema::Security4688,
        _ => LogSchema::Other,
    }
}

/// The schema of a flat row: Windows fields at the top level, a Defender, ASIM or OCSF row, or
/// an ECS document.
pub fn flat_schema(fields: &Fields) -> LogSchema {
    let text = |name: &str| text_of(fields.get(name));
    if let Some(event_id) = fields
        .get("EventID")
        .and_then(|v| normalise_number(v.clone()).as_i64())
    {
        let schema = windows_schema(text("Channel"), text("Provider_Name"), Some(event_id));
        if schema != LogSchema::Other {
            return schema;
        }
        // Exports without a channel (Sentinel's SecurityEvent, chainsaw-style flat Sysmon).
        if text("Channel").is_none() && text("Provider_Name").is_none() {
            if event_id == 1 && fields.contains_key("Image") {
                return LogSchema::Sysmon;
            }
            if event_id == 4688 && fields.contains_key("NewProcessName") {
                return LogSchema::Security4688;
            }
        }
        return LogSchema::Other;
    }
    if text("ActionType") == Some("ProcessCreated")
        && fields.contains_key("InitiatingProcessFileName")
        || fields.contains_key("ProcessCommandLine")
            && fields.contains_key("InitiatingProcessFileName")
    {
        return LogSchema::Mde;
    }
    if text("EventType") == Some("ProcessCreated") && fields.contains_key("TargetProcessName") {
        return LogSchema::Asim;
    }
    if fields.get("class_uid").and_then(Value::as_i64) == Some(1007) {
        return LogSchema::Ocsf;
    }
    if is_ecs(fields) {
        return LogSchema::Ecs;
    }
    LogSchema::Other
}

/// An ECS document: an `event` object with a `category`, or a `process` object.
fn is_ecs(fields: &Fields) -> bool {
    let category =
        matches!(fields.get("event"), Some(Value::Map(event)) if event.contains_key("category"));
    category || matches!(fields.get("process"), Some(Value::Map(_)))
}

/// The fields [`table_of`] reads besides a table's own columns.
pub const TABLE_HINTS: [&str; 4] = ["Type", "ActionType", "DeviceId", "DeviceName"];

/// The KQL table a recorded event is a row of. A Defender advanced-hunting row (it names a
/// `DeviceId` or `DeviceName`) is recognised by its `Type` (Sentinel writes the table name
/// there, and the streaming API's `category` becomes it), else by its `ActionType`, else by the
/// columns only one table has; any other event by its schema (`SecurityEvent` for Security
/// 4688, `imProcessCreate` for ASIM rows).
pub fn table_of(event: &Event) -> Option<&'static str> {
    let fields = &event.fields;
    let text = |name: &str| text_of(fields.get(name));
    let defender = fields.contains_key("DeviceId") || fields.contains_key("DeviceName");
    if !defender {
        return crate::kql::bind::table_for_rendering(event.schema);
    }
    if let Some(table) = text("Type").and_then(|t| crate::kql::Catalog::builtin().get(t)) {
        return Some(table.name.as_str());
    }
    let by_action = text("ActionType").map(|action| match action {
        "ProcessCreated" => "DeviceProcessEvents",
        "FileCreated" | "FileModified" | "FileDeleted" | "FileRenamed" => "DeviceFileEvents",
        "LogonSuccess" | "LogonFailed" | "LogonAttempted" => "DeviceLogonEvents",
        "ImageLoaded" => "DeviceImageLoadEvents",
        "InboundConnectionAccepted"
        | "ListeningConnectionCreated"
        | "NetworkSignatureInspected" => "DeviceNetworkEvents",
        a if a.starts_with("Connection") => "DeviceNetworkEvents",
        a if a.starts_with("Registry") => "DeviceRegistryEvents",
        _ => "DeviceEvents",
    });
    let has = |name: &str| fields.contains_key(name);
    by_action.or_else(|| {
        Some(
            if has("RemoteIP") || has("RemoteUrl") || has("RemotePort") {
                "DeviceNetworkEvents"
            } else if has("RegistryKey") {
                "DeviceRegistryEvents"
            } else if has("LogonType") {
                "DeviceLogonEvents"
            } else if has("ProcessCommandLine") {
                "DeviceProcessEvents"
            } else if has("SHA256") && has("FolderPath") {
                "DeviceFileEvents"
            } else {
                return crate::kql::bind::table_for_rendering(event.schema);
            },
        )
    })
}

/// Builds the event from what the parser collected.
pub(crate) fn assemble(parts: Parts) -> Event {
    let timestamp = parts.time.map(|(_, time)| time);
    let mut event = match parts.layout {
        Layout::Flat => {
            let schema = flat_schema(&parts.top);
            Event {
                schema,
                timestamp,
                fields: parts.top,
                origin: None,
            }
        }
        Layout::DefenderStream => {
            let table = text_of(parts.top.get("category"))
                .map(|c| c.trim_start_matches("AdvancedHunting-").to_string());
            let schema = if table
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("DeviceProcessEvents"))
            {
                LogSchema::Mde
            } else {
                flat_schema(&parts.data)
            };
            // The table name travels as Sentinel's `Type` column.
            let mut fields = parts.data;
            if let Some(table) = table
                && !fields.contains_key("Type")
            {
                fields.insert(Name::new_static("Type"), Value::String(table));
            }
            Event {
                schema,
                timestamp,
                fields,
                origin: None,
            }
        }
        Layout::Winlogbeat
            if !parts.data_names_process && (parts.has_process_object || is_ecs(&parts.top)) =>
        {
            assemble_ecs(parts, timestamp)
        }
        Layout::EvtxDump | Layout::Winlogbeat => assemble_windows(parts, timestamp),
    };
    if event.timestamp.is_none() {
        event.timestamp = timestamp;
    }
    event
}

/// A Windows event: System fields first, then the event data, all at the top level.
fn assemble_windows(parts: Parts, timestamp: Option<DateTime<Utc>>) -> Event {
    let system = parts.system;
    let event_id = system.event_id.map(normalise_number);
    let schema = windows_schema(
        text_of(system.channel.as_ref()),
        text_of(system.provider.as_ref()),
        event_id.as_ref().and_then(Value::as_i64),
    );
    // The event data map becomes the event's fields as it is (no second hashing of every
    // key). evtx_dump's System part comes first in the document, so the parser put its fields
    // there already; Winlogbeat's header fields are added after the event data.
    let mut fields = parts.data;
    if parts.layout != Layout::EvtxDump {
        let header = [
            ("Channel", system.channel),
            ("EventID", event_id),
            ("Computer", system.computer),
            ("Provider_Name", system.provider),
            ("EventRecordID", system.record_id.map(normalise_number)),
        ];
        for (name, value) in header {
            if let Some(value) = value {
                fields.insert(Name::new(name), value);
            }
        }
    }
    Event {
        schema,
        timestamp,
        fields,
        origin: None,
    }
}

/// An ECS document: the top-level objects as they are, `winlog` rebuilt nested.
fn assemble_ecs(parts: Parts, timestamp: Option<DateTime<Utc>>) -> Event {
    let mut fields = parts.top;
    let system = parts.system;
    let mut winlog = Fields::default();
    let header = [
        ("channel", system.channel),
        ("event_id", system.event_id),
        ("computer_name", system.computer),
        ("provider_name", system.provider),
        ("record_id", system.record_id),
    ];
    for (name, value) in header {
        if let Some(value) = value {
            winlog.insert(Name::new(name), value);
        }
    }
    if !parts.data.is_empty() {
        winlog.insert(
            Name::new_static("event_data"),
            Value::Map(Box::new(parts.data)),
        );
    }
    winlog.extend(parts.winlog_rest);
    fields.insert(Name::new_static("winlog"), Value::Map(Box::new(winlog)));
    Event {
        schema: LogSchema::Ecs,
        timestamp,
        fields,
        origin: None,
    }
}

/// Builds an event from one row of named text cells (a Defender CSV export): empty cells are
/// absent, the schema is recognised as for a flat JSON row.
pub fn from_row<'a>(
    cells: impl IntoIterator<Item = (&'a str, &'a str)>,
    opts: &ReadOptions,
) -> Event {
    let mut fields = Fields::default();
    let mut best: Option<(u8, DateTime<Utc>)> = None;
    for (name, text) in cells {
        if text.is_empty() {
            continue;
        }
        if let Some(rank) = time_rank(opts, name)
            && best.is_none_or(|(b, _)| rank < b)
            && let Some(time) = parse_time(text)
        {
            best = Some((rank, time));
        }
        if always_kept(name) || opts.fields.wants_top(name) {
            fields.insert(Name::new(name), Value::String(text.to_string()));
        }
    }
    Event {
        schema: flat_schema(&fields),
        timestamp: best.map(|(_, time)| time),
        fields,
        origin: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_events_are_recognised_by_channel_and_event_id() {
        let sysmon = Some("Microsoft-Windows-Sysmon/Operational");
        assert_eq!(windows_schema(sysmon, None, Some(1)), LogSchema::Sysmon);
        assert_eq!(windows_schema(sysmon, None, Some(13)), LogSchema::Other);
        assert_eq!(
            windows_schema(Some("Security"), None, Some(4688)),
            LogSchema::Security4688
        );
        assert_eq!(
            windows_schema(Some("Security"), None, Some(1)),
            LogSchema::Other
        );
        assert_eq!(
            windows_schema(
                None,
                Some("Microsoft-Windows-Security-Auditing"),
                Some(4688)
            ),
            LogSchema::Security4688
        );
    }

    #[test]
    fn timestamps_parse_in_every_spelling_logs_use() {
        let expected = "2025-12-11T06:17:19.636+00:00";
        for text in [
            "2025-12-11T06:17:19.636Z",
            "2025-12-11 06:17:19.636",
            "2025-12-11T06:17:19.636",
            "2025-12-11T07:17:19.636+01:00",
        ] {
            assert_eq!(
                parse_time(text).map(|t| t.to_rfc3339()).as_deref(),
                Some(expected),
                "{text}"
            );
        }
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn plain_times_parse_as_chrono_parses_them() {
        let chrono_only = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                        .iter()
                        .find_map(|f| {
                            NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), f).ok()
                        })
                        .map(|n| n.and_utc())
                })
        };
        for text in [
            "2025-12-11T06:17:19.772545Z",
            "2025-12-11T06:17:19.7725456Z",
            "2025-12-11 06:17:19.636",
            "2025-12-11 06:17:19",
            "2025-12-11T06:17:19Z",
            "2024-02-29T23:59:59.999999999Z",
            "2025-02-29 00:00:00.000",
            "2025-12-11T24:00:00Z",
            "2025-12-11T06:17:19.",
            "2025-12-11T06:17:19.1234567890Z",
            "2025-12-11T06:17:19+01:00",
            "2025-12-11x06:17:19",
        ] {
            let plain = parse_plain_time(text.as_bytes());
            if plain.is_some() {
                assert_eq!(plain, chrono_only(text), "{text}");
            }
            assert_eq!(parse_time(text), chrono_only(text), "{text}");
        }
        assert!(parse_plain_time(b"2025-12-11 06:17:19.636").is_some());
    }

    #[test]
    fn defender_rows_are_recognised_as_their_advanced_hunting_table() {
        let row = |cells: &[(&str, &str)]| {
            let mut cells = cells.to_vec();
            cells.push(("DeviceName", "web01"));
            table_of(&from_row(cells, &ReadOptions::default()))
        };
        assert_eq!(
            row(&[("Type", "DeviceFileEvents")]),
            Some("DeviceFileEvents")
        );
        assert_eq!(
            row(&[("ActionType", "ProcessCreated")]),
            Some("DeviceProcessEvents")
        );
        assert_eq!(
            row(&[("ActionType", "ConnectionFailed")]),
            Some("DeviceNetworkEvents")
        );
        assert_eq!(
            row(&[("ActionType", "RegistryValueSet")]),
            Some("DeviceRegistryEvents")
        );
        assert_eq!(
            row(&[("ActionType", "LogonSuccess")]),
            Some("DeviceLogonEvents")
        );
        assert_eq!(
            row(&[("ActionType", "AntivirusDetection")]),
            Some("DeviceEvents")
        );
        assert_eq!(
            row(&[("RemoteIP", "203.0.113.7")]),
            Some("DeviceNetworkEvents")
        );
        assert_eq!(
            row(&[("RegistryKey", "HKLM")]),
            Some("DeviceRegistryEvents")
        );
        // Not a Defender row: the table that serves its schema, if any.
        let sysmon = from_row(
            [
                ("EventID", "1"),
                ("Channel", "Microsoft-Windows-Sysmon/Operational"),
            ],
            &ReadOptions::default(),
        );
        assert_eq!(table_of(&sysmon), None);
        let security = from_row(
            [("EventID", "4688"), ("Channel", "Security")],
            &ReadOptions::default(),
        );
        assert_eq!(table_of(&security), Some("SecurityEvent"));
    }

    #[test]
    fn defender_rows_are_mde() {
        let event = from_row(
            [
                ("Timestamp", "2024-05-01T10:00:00.1234567Z"),
                ("ActionType", "ProcessCreated"),
                ("FileName", "cmd.exe"),
                ("InitiatingProcessFileName", "w3wp.exe"),
                ("ProcessId", ""),
            ],
            &ReadOptions::default(),
        );
        assert_eq!(event.schema, LogSchema::Mde);
        assert!(event.timestamp.is_some());
        assert_eq!(event.get("ProcessId"), None);
    }
}
