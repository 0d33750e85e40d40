//! The light JSON parser: one log document (a line, an evtx_dump record) → one [`Event`].
//!
//! A full `serde_json::Value` per line costs more than the rules do, so the parser walks the
//! document with serde visitors, borrows keys, skips every value no rule reads
//! ([`FieldFilter`](super::FieldFilter)), and materialises only what is wanted. It understands
//! these layouts in one pass and decides which one it saw at the end:
//!
//! - flat objects (`{"EventID":1,"Image":…}`, Defender rows, our own generated events);
//! - evtx_dump (`{"Event":{"System":{…},"EventData":{…}}}`), which is also how EVTX records
//!   are rendered before they reach this parser;
//! - Winlogbeat raw (`{"winlog":{"event_data":{…},"channel":…},"@timestamp":…}`), flattened to
//!   the Sigma names;
//! - Winlogbeat after Elastic's ingest pipeline (ECS: `process.*`, `event.category`), kept nested;
//! - the Defender streaming API wrapper (`{"category":"AdvancedHunting-…","properties":{…}}`).

use super::ReadOptions;
use super::recognize::{self, Layout, Parts};
use crate::event::{Event, Fields, Name, Value};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Parses one JSON document into an event; `Err` carries serde_json's message.
///
/// A document that is valid UTF-8 as a whole (nearly all) is parsed as text, so serde_json does
/// not check each string again: on the bench's Sysmon lines those checks were an eighth of the
/// parse. Any other goes byte by byte, and serde_json names the place of its first bad string.
pub fn parse_document(bytes: &[u8], opts: &ReadOptions) -> Result<Event, String> {
    parse_document_with(bytes, &mut KeyMemo::new(opts))
}

/// [`parse_document`] for one of a run of documents, read with the options `memo` was made for
/// and carrying what their keys came to from each document to the next.
pub fn parse_document_with(bytes: &[u8], memo: &mut KeyMemo<'_>) -> Result<Event, String> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_with(serde_json::Deserializer::from_str(text), memo),
        Err(_) => parse_with(serde_json::Deserializer::from_slice(bytes), memo),
    }
}

/// What the keys of the documents parsed before came to under one [`ReadOptions`], by position
/// (top-level keys and event data keys apart). Documents from one source write the same keys in
/// the same order, so a key equal to the one its position held before takes that one's name,
/// hash and answers (kept? a timestamp?) rather than asking the field filter's table and hashing
/// the name again: those were a fifth of a JSON lines scan.
#[derive(Debug)]
pub struct KeyMemo<'o> {
    opts: &'o ReadOptions,
    top: Vec<MemoKey>,
    /// The same for the keys of event data (`EventData`, Winlogbeat's `event_data`, ...).
    data: Vec<MemoKey>,
}

/// One key and what it came to.
#[derive(Clone, Debug)]
struct MemoKey {
    name: Name,
    /// The name's hash in every event's field map (all hash with `FieldHash::default()`, one
    /// seed per process), so the insert need not hash it again.
    hash: u64,
    keep: bool,
    time: Option<u8>,
}

impl<'o> KeyMemo<'o> {
    /// An empty memo for documents read with `opts`.
    pub fn new(opts: &'o ReadOptions) -> Self {
        KeyMemo {
            opts,
            top: Vec::new(),
            data: Vec::new(),
        }
    }

    /// What the top-level key at position `at` of a document comes to.
    fn top(&mut self, at: usize, key: &str) -> &MemoKey {
        let opts = self.opts;
        let keep = || recognize::always_kept(key) || opts.fields.wants_top(key);
        Self::get(&mut self.top, at, key, keep, opts)
    }

    /// What the key at position `at` of a document's event data comes to.
    fn data(&mut self, at: usize, key: &str) -> &MemoKey {
        let opts = self.opts;
        Self::get(
            &mut self.data,
            at,
            key,
            || opts.fields.wants_data(key),
            opts,
        )
    }

    fn get<'m>(
        keys: &'m mut Vec<MemoKey>,
        at: usize,
        key: &str,
        keep: impl FnOnce() -> bool,
        opts: &ReadOptions,
    ) -> &'m MemoKey {
        let at = at.min(keys.len());
        if keys.get(at).is_none_or(|k| k.name != key) {
            let entry = MemoKey {
                name: Name::new(key),
                hash: std::hash::BuildHasher::hash_one(&crate::event::FieldHash::default(), key),
                keep: keep(),
                time: recognize::time_rank(opts, key),
            };
            keys.truncate(at);
            keys.push(entry);
        }
        &keys[at]
    }
}

/// [`parse_document`] through `de`.
fn parse_with<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    memo: &mut KeyMemo<'_>,
) -> Result<Event, String> {
    let mut parts = Parts::default();
    TopSeed {
        parts: &mut parts,
        memo,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(recognize::assemble(parts))
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Materialises any JSON value as an [`event::Value`](Value).
pub(crate) struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value_seed(ValueSeed)?;
            fields.insert(Name::new(&*key.0), value);
        }
        Ok(Value::Map(Box::new(fields)))
    }
}

/// evtx_dump wraps attributed elements as `{"#attributes":{…},"#text":v}`: the text is the value.
pub(crate) fn unwrap_text(value: Value) -> Value {
    match value {
        Value::Map(mut map) if map.contains_key("#text") => {
            map.swap_remove("#text").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// The attribute `name` of an evtx_dump element (`{"#attributes":{name:…}}`).
fn attribute(value: &Value, name: &str) -> Option<Value> {
    match value {
        Value::Map(map) => match map.get("#attributes") {
            Some(Value::Map(attrs)) => attrs.get(name).cloned(),
            _ => None,
        },
        _ => None,
    }
}

/// The whole document.
struct TopSeed<'p, 'f> {
    parts: &'p mut Parts,
    /// What earlier documents' keys came to, and the options they are read with.
    memo: &'p mut KeyMemo<'f>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (one log event)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.parts;
        let memo = self.memo;
        let mut at = 0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0;
            match key.as_ref() {
                "Event" if parts.layout == Layout::Flat && parts.top.is_empty() => {
                    parts.layout = Layout::EvtxDump;
                    map.next_value_seed(EventSeed {
                        parts,
                        memo: &mut *memo,
                    })?;
                }
                "winlog" => {
                    parts.layout = Layout::Winlogbeat;
                    map.next_value_seed(WinlogSeed {
                        parts,
                        memo: &mut *memo,
                    })?;
                }
                "properties" if parts.top.contains_key("category") => {
                    parts.layout = Layout::DefenderStream;
                    map.next_value_seed(DataSeed {
                        parts,
                        memo: &mut *memo,
                        user_data: false,
                    })?;
                }
                crate::event::ORIGIN_KEY => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    recognize::note_top_key(parts, &key);
                    let known = memo.top(at, &key);
                    at += 1;
                    if known.keep || known.time.is_some() {
                        let value = map.next_value_seed(ValueSeed)?;
                        if let Some(rank) = known.time {
                            parts.offer_time(rank, &value);
                        }
                        if known.keep {
                            parts.insert_top_hashed(known.hash, known.name.clone(), value);
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `Event` in evtx_dump style: `System`, `EventData`, `UserData`.
struct EventSeed<'p, 'f> {
    parts: &'p mut Parts,
    /// What earlier documents' keys came to, and the options they are read with.
    memo: &'p mut KeyMemo<'f>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an evtx_dump `Event` object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.parts;
        let memo = self.memo;
        let opts = memo.opts;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "System" => map.next_value_seed(SystemSeed { parts, opts })?,
                "EventData" => map.next_value_seed(DataSeed {
                    parts,
                    memo: &mut *memo,
                    user_data: false,
                })?,
                "UserData" => map.next_value_seed(DataSeed {
                    parts,
                    memo: &mut *memo,
                    user_data: true,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `Event.System`: the header fields every Windows event has.
struct SystemSeed<'p, 'f> {
    parts: &'p mut Parts,
    opts: &'f ReadOptions,
}

impl<'de> DeserializeSeed<'de> for SystemSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SystemSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an evtx_dump `System` object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.parts;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0;
            match key.as_ref() {
                "Provider" => {
                    let value = map.next_value_seed(ValueSeed)?;
                    parts.system.provider = attribute(&value, "Name");
                    parts.put_system("Provider_Name", &parts.system.provider.clone());
                }
                "TimeCreated" => {
                    let value = map.next_value_seed(ValueSeed)?;
                    if let Some(time) = attribute(&value, "SystemTime") {
                        parts.offer_time(recognize::SYSTEM_TIME_RANK, &time);
                    }
                }
                "EventID" => {
                    let value =
                        recognize::normalise_number(unwrap_text(map.next_value_seed(ValueSeed)?));
                    parts.system.event_id = Some(value);
                    parts.put_system("EventID", &parts.system.event_id.clone());
                }
                "Channel" => {
                    parts.system.channel = Some(map.next_value_seed(ValueSeed)?);
                    parts.put_system("Channel", &parts.system.channel.clone());
                }
                "Computer" => {
                    let value = Some(map.next_value_seed(ValueSeed)?);
                    parts.put_system("Computer", &value);
                }
                "EventRecordID" => {
                    let value = Some(recognize::normalise_number(map.next_value_seed(ValueSeed)?));
                    parts.put_system("EventRecordID", &value);
                }
                other if self.opts.fields.wants_data(other) => {
                    let value = unwrap_text(map.next_value_seed(ValueSeed)?);
                    parts.insert_data(Name::new(&*key), value);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `EventData` / `UserData` / `winlog.event_data` / Defender `properties`: named fields,
/// flattened to the top level of the event.
struct DataSeed<'p, 'f> {
    parts: &'p mut Parts,
    /// What earlier documents' keys came to, and the options they are read with.
    memo: &'p mut KeyMemo<'f>,
    /// `UserData` nests one element (`{"EventXML":{…}}`) around the fields.
    user_data: bool,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of event data fields")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Unnamed `<Data>` elements: kept as a `Data` list when wanted.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        if self.memo.opts.fields.wants_data("Data") {
            self.parts.insert_data("Data".into(), Value::List(items));
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.parts;
        let memo = self.memo;
        let mut at = 0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0;
            if key.starts_with('#') {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if self.user_data {
                map.next_value_seed(DataSeed {
                    parts: &mut *parts,
                    memo: &mut *memo,
                    user_data: false,
                })?;
                continue;
            }
            recognize::note_data_key(parts, &key);
            let known = memo.data(at, &key);
            at += 1;
            if known.keep || known.time.is_some() {
                let value = unwrap_text(map.next_value_seed(ValueSeed)?);
                if let Some(rank) = known.time {
                    parts.offer_time(rank, &value);
                }
                if known.keep {
                    parts.insert_data_hashed(known.hash, known.name.clone(), value);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `winlog` in Winlogbeat documents.
struct WinlogSeed<'p, 'f> {
    parts: &'p mut Parts,
    /// What earlier documents' keys came to, and the options they are read with.
    memo: &'p mut KeyMemo<'f>,
}

impl<'de> DeserializeSeed<'de> for WinlogSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for WinlogSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Winlogbeat `winlog` object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parts = self.parts;
        let memo = self.memo;
        let opts = memo.opts;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0;
            match key.as_ref() {
                "channel" => parts.system.channel = Some(map.next_value_seed(ValueSeed)?),
                "event_id" => parts.system.event_id = Some(map.next_value_seed(ValueSeed)?),
                "computer_name" => parts.system.computer = Some(map.next_value_seed(ValueSeed)?),
                "provider_name" => parts.system.provider = Some(map.next_value_seed(ValueSeed)?),
                "record_id" => parts.system.record_id = Some(map.next_value_seed(ValueSeed)?),
                "event_data" => map.next_value_seed(DataSeed {
                    parts: &mut *parts,
                    memo: &mut *memo,
                    user_data: false,
                })?,
                "user_data" => map.next_value_seed(DataSeed {
                    parts: &mut *parts,
                    memo: &mut *memo,
                    user_data: false,
                })?,
                other if opts.fields.wants_winlog(other) => {
                    let value = map.next_value_seed(ValueSeed)?;
                    parts.winlog_rest.insert(Name::new(&*key), value);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LogSchema;
    use crate::logs::FieldFilter;

    fn parse(text: &str) -> Event {
        parse_document(text.as_bytes(), &ReadOptions::default()).unwrap()
    }

    #[test]
    fn evtx_dump_records_flatten_system_and_event_data() {
        let event = parse(
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"2025-12-11T06:17:19.772545Z"}},"EventRecordID":21475,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"host"},"EventData":{"Image":"C:\\Windows\\System32\\curl.exe","ProcessId":6400}}}"##,
        );
        assert_eq!(event.schema, LogSchema::Sysmon);
        assert_eq!(event.get("EventID"), Some(&Value::Int(1)));
        assert_eq!(
            event.get("Provider_Name"),
            Some(&Value::from("Microsoft-Windows-Sysmon"))
        );
        assert_eq!(event.get("Computer"), Some(&Value::from("host")));
        assert_eq!(
            event.get("Image"),
            Some(&Value::from("C:\\Windows\\System32\\curl.exe"))
        );
        assert_eq!(
            event.timestamp.unwrap().to_rfc3339(),
            "2025-12-11T06:17:19.772545+00:00"
        );
    }

    #[test]
    fn attributed_event_ids_unwrap_their_text() {
        let event = parse(
            r##"{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":0},"#text":4688},"Channel":"Security"},"EventData":{"NewProcessName":"C:\\a.exe"}}}"##,
        );
        assert_eq!(event.schema, LogSchema::Security4688);
        assert_eq!(event.get("EventID"), Some(&Value::Int(4688)));
    }

    #[test]
    fn unwanted_fields_are_skipped_but_routing_fields_stay() {
        let opts = ReadOptions {
            fields: FieldFilter::only(["CommandLine"]),
            ..ReadOptions::default()
        };
        let event = parse_document(
            br##"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"a","CommandLine":"b","Hashes":"c"}"##,
            &opts,
        )
        .unwrap();
        assert_eq!(event.get("CommandLine"), Some(&Value::from("b")));
        assert_eq!(event.get("Hashes"), None);
        assert_eq!(event.get("EventID"), Some(&Value::Int(1)));
        assert_eq!(event.schema, LogSchema::Sysmon);
    }

    #[test]
    fn invalid_json_is_an_error_not_a_panic() {
        let opts = ReadOptions::default();
        assert!(parse_document(b"{\"a\":", &opts).is_err());
        assert!(parse_document(b"[1,2]", &opts).is_err());
        assert!(parse_document(b"{} x", &opts).is_err());
    }

    #[test]
    fn invalid_utf8_in_a_string_is_an_error_that_names_its_place() {
        let error = parse_document(b"{\"Image\":\"a\xffb\"}", &ReadOptions::default())
            .expect_err("invalid UTF-8");
        assert!(error.contains("line 1 column"), "{error}");
    }

    #[test]
    fn text_beyond_ascii_and_escapes_parse_as_written() {
        let event = parse(r#"{"Product":"Microsoft® Windows®","CommandLine":"a \"b\" \u00e9"}"#);
        assert_eq!(
            event.get("Product").and_then(Value::as_str),
            Some("Microsoft® Windows®")
        );
        assert_eq!(
            event.get("CommandLine").and_then(Value::as_str),
            Some("a \"b\" é")
        );
    }

    #[test]
    fn documents_read_in_a_run_parse_as_each_would_alone() {
        // Each document against the run's memo of the keys before it: same keys, reordered, one
        // added, one dropped, one written twice, a timestamp moved, a wanted key where an unwanted
        // one was; under every field and under a filter.
        let run = [
            r#"{"EventID":1,"UtcTime":"2025-11-24 00:13:42.974","Image":"a.exe","ProcessId":7}"#,
            r#"{"EventID":1,"UtcTime":"2025-11-24 00:13:43.000","Image":"b.exe","ProcessId":8}"#,
            r#"{"Image":"c.exe","EventID":1,"ProcessId":9,"UtcTime":"2025-11-24 00:13:44.000"}"#,
            r#"{"EventID":1,"CommandLine":"c /x","Image":"d.exe","ProcessId":1}"#,
            r#"{"EventID":1,"Image":"e.exe"}"#,
            r#"{"EventID":1,"Image":"f.exe","Image":"g.exe","ProcessId":2}"#,
            r#"{"EventID":1,"ProcessId":3,"Image":"h.exe","UtcTime":"2025-11-24 00:13:45.000"}"#,
            r#"{}"#,
            r#"{"EventID":1,"UtcTime":"2025-11-24 00:13:46.000","Image":"i.exe","ProcessId":4}"#,
        ];
        // Event data keys (Winlogbeat, evtx_dump) have a memo of their own.
        let data_run = [
            r#"{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"Image":"a.exe","ProcessId":"7","UtcTime":"2025-11-24 00:13:42.974"}}}"#,
            r#"{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"event_data":{"ProcessId":"8","Image":"b.exe"}}}"#,
            r#"{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"c.exe","CommandLine":"c /x","Image":"d.exe"}}}"#,
            r#"{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"CommandLine":"e /x","ProcessId":9}}}"#,
        ];
        for fields in [
            FieldFilter::All,
            FieldFilter::only(["Image", "CommandLine"]),
        ] {
            let opts = ReadOptions {
                fields,
                ..ReadOptions::default()
            };
            let mut memo = KeyMemo::new(&opts);
            for text in run.iter().chain(&data_run).chain(&run) {
                let alone = parse_document(text.as_bytes(), &opts).unwrap();
                let in_run = parse_document_with(text.as_bytes(), &mut memo).unwrap();
                assert_eq!(in_run, alone, "{text}");
                assert!(in_run.fields.keys().eq(alone.fields.keys()), "{text}");
                // Every field is found by its name, so by its hash.
                for (name, value) in &alone.fields {
                    assert_eq!(in_run.get(name), Some(value), "{name} in {text}");
                }
            }
        }
        let twice = parse(r#"{"Image":"f.exe","ProcessId":2,"Image":"g.exe"}"#);
        assert!(twice.fields.keys().eq(["Image", "ProcessId"]));
        assert_eq!(twice.get("Image"), Some(&Value::from("g.exe")));
    }
}
