//! The event model every stage shares: an ordered map of field name to [`Value`], a schema tag, a time.
//!
//! The generator produces events, the log readers produce events, and the Sigma and KQL engines
//! evaluate them. Where an event came from in a scenario ([`Origin`]) travels beside the fields,
//! never inside them, so no rule can see it.

pub use crate::hash::FieldHash;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A field's name: held inline up to 23 bytes (every name a log schema writes), so an event's
/// names cost no allocation and are read where its entries are, not through a pointer.
pub type Name = smol_str::SmolStr;

/// Field name → value, in the order the schema writes them, hashed by [`FieldHash`].
pub type Fields = IndexMap<Name, Value, FieldHash>;

/// A field value, JSON-shaped.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// Absent or explicitly null.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    String(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A nested object, boxed: a map inline would double every value's size (64 bytes rather
    /// than 32), and with it the memory each field of an event takes, for the few values that
    /// are maps.
    Map(Box<Fields>),
}

// A field entry (its hash, name and value) fills one 64-byte cache line on 64-bit targets: a larger
// value would spill every entry of every event into a second one.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Value>() == 32 && std::mem::size_of::<Name>() == 24);

impl Value {
    /// The text, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The whole number, when this is an integer (or a float with no fraction).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as text the way a log shows it: strings as they are, numbers and booleans
    /// in their usual spelling, null as `None`, lists and maps as compact JSON.
    pub fn to_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Float(f) => Some(Cow::Owned(f.to_string())),
            Value::List(_) | Value::Map(_) => Some(Cow::Owned(self.to_json().to_string())),
        }
    }

    /// Converts to `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Converts from `serde_json::Value`.
    pub fn from_json(value: &serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(Box::new(
                map.iter()
                    .map(|(k, v)| (Name::new(k), Value::from_json(v)))
                    .collect(),
            )),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(items) => items.serialize(serializer),
            Value::Map(map) => map.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|v| Value::from_json(&v))
    }
}

/// The log schema an event is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSchema {
    /// Sysmon Event ID 1, field names as the Sigma taxonomy uses them.
    Sysmon,
    /// Windows Security event 4688.
    #[serde(rename = "security4688")]
    Security4688,
    /// Microsoft Defender XDR `DeviceProcessEvents`.
    Mde,
    /// Microsoft Sentinel ASIM `imProcessCreate`.
    Asim,
    /// Elastic Common Schema, as Winlogbeat writes it after Elastic's ingest pipeline.
    Ecs,
    /// OCSF Process Activity (class 1007).
    Ocsf,
    /// Any other recorded event (another Windows channel, an unrecognised JSON line).
    Other,
}

impl LogSchema {
    /// The six schemas the generator renders, in canonical order.
    pub const GENERATED: [LogSchema; 6] = [
        LogSchema::Sysmon,
        LogSchema::Security4688,
        LogSchema::Mde,
        LogSchema::Asim,
        LogSchema::Ecs,
        LogSchema::Ocsf,
    ];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LogSchema::Sysmon => "sysmon",
            LogSchema::Security4688 => "security4688",
            LogSchema::Mde => "mde",
            LogSchema::Asim => "asim",
            LogSchema::Ecs => "ecs",
            LogSchema::Ocsf => "ocsf",
            LogSchema::Other => "other",
        }
    }
}

impl fmt::Display for LogSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogSchema {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogSchema::GENERATED
            .into_iter()
            .chain([LogSchema::Other])
            .find(|schema| schema.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown schema `{s}`; expected one of sysmon, security4688, mde, asim, ecs, ocsf")
            })
    }
}

/// Where a generated event came from: out-of-band provenance that evaluation never sees.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The scenario's name (or file stem).
    pub scenario: String,
    /// The process node whose creation this event records; for background events the profile
    /// entry's id (`bg:<profile>:<n>`).
    pub node: String,
    /// True for benign activity: background profiles and nodes marked `benign: true`.
    pub benign: bool,
}

/// One log event: fields in schema order, the schema, the time it happened, and its origin.
///
/// An event's entries and texts are separate allocations, placed wherever the allocator had room
/// while the event was built (between the temporaries of a render or a parse). A store of events
/// evaluated long after they were made, from main memory, is read faster copied afresh in one go
/// (`events.to_vec()` while the originals are still held): each copy's map and texts then lie one
/// after another, and a scan reads them as one stream (the Sigma bench's cycled pool, 1.2x).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The schema the fields are written in.
    pub schema: LogSchema,
    /// When it happened, when known.
    pub timestamp: Option<DateTime<Utc>>,
    /// The fields, as the schema names and orders them. Nested schemas (ECS, OCSF) use maps.
    pub fields: Fields,
    /// Provenance, for generated events.
    pub origin: Option<Origin>,
}

/// The key under which `firedrill generate` writes an event's origin; stripped before evaluation.
pub const ORIGIN_KEY: &str = "_firedrill";

impl Event {
    /// An empty event of `schema`.
    pub fn new(schema: LogSchema) -> Self {
        Event {
            schema,
            timestamp: None,
            fields: Fields::default(),
            origin: None,
        }
    }

    /// Sets a top-level field (builder style).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(Name::new(name), value.into());
        self
    }

    /// Looks a field up by name: first as a top-level key (`process.parent.name` may be a flat
    /// key in some exports), then as a dotted path through nested maps.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).or_else(|| self.get_nested(name))
    }

    /// Looks a dotted name up as a path through nested maps only (`None` for a name without a
    /// dot): [`Event::get`] after the top-level lookup failed.
    pub fn get_nested(&self, name: &str) -> Option<&Value> {
        if !name.contains('.') {
            return None;
        }
        let mut parts = name.split('.');
        let mut current = self.fields.get(parts.next()?)?;
        for part in parts {
            current = match current {
                Value::Map(map) => map.get(part)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The event as one JSON object, with its origin under [`ORIGIN_KEY`] when it has one.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object: serde_json::Map<String, serde_json::Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_json()))
            .collect();
        if let Some(origin) = &self.origin {
            object.insert(
                ORIGIN_KEY.to_string(),
                serde_json::to_value(origin).unwrap_or(serde_json::Value::Null),
            );
        }
        serde_json::Value::Object(object)
    }

    /// Builds an event from one JSON object, taking its origin out of [`ORIGIN_KEY`] if present.
    pub fn from_json(
        schema: LogSchema,
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Event {
        let mut event = Event::new(schema);
        for (key, value) in object {
            if key == ORIGIN_KEY {
                event.origin = serde_json::from_value(value.clone()).ok();
            } else {
                event.fields.insert(Name::new(key), Value::from_json(value));
            }
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_walks_dotted_paths_after_flat_keys() {
        let mut parent = Fields::default();
        parent.insert("name".into(), "w3wp.exe".into());
        let mut process = Fields::default();
        process.insert("parent".into(), Value::Map(Box::new(parent)));
        let mut event = Event::new(LogSchema::Ecs);
        event
            .fields
            .insert("process".into(), Value::Map(Box::new(process)));
        assert_eq!(
            event.get("process.parent.name"),
            Some(&Value::from("w3wp.exe"))
        );
        let flat = Event::new(LogSchema::Ecs).with("process.parent.name", "cmd.exe");
        assert_eq!(
            flat.get("process.parent.name"),
            Some(&Value::from("cmd.exe"))
        );
        assert_eq!(event.get("process.child"), None);
    }

    #[test]
    fn origin_survives_a_json_round_trip_out_of_band() {
        let mut event = Event::new(LogSchema::Sysmon).with("Image", "C:\\x.exe");
        event.origin = Some(Origin {
            scenario: "s".into(),
            node: "ps".into(),
            benign: false,
        });
        let json = event.to_json();
        let back = Event::from_json(LogSchema::Sysmon, json.as_object().unwrap());
        assert_eq!(back, event);
        assert!(!back.fields.contains_key(ORIGIN_KEY));
    }

    #[test]
    fn schema_names_parse_case_insensitively() {
        assert_eq!("MDE".parse::<LogSchema>(), Ok(LogSchema::Mde));
        assert!("splunk".parse::<LogSchema>().is_err());
    }
}
