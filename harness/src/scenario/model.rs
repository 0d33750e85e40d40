//! The scenario model: hosts, a process tree, background profiles and per-rule expectations.
//!
//! These are the validated, public types. `scenario::load` builds them from YAML (strictly:
//! unknown keys are errors) and checks everything the type system cannot (unique node ids,
//! absolute image paths, expectations naming real nodes) before handing one out.

use crate::diag::Location;
use chrono::{DateTime, TimeDelta, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The only scenario format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// One scenario: an attack (or a benign day) described as process trees on hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// A short human title; also the scenario name in event origins and reports.
    pub name: String,
    /// What happens and why the expectations are what they are.
    pub description: String,
    /// MITRE ATT&CK technique ids (`T1059.001`).
    pub attack: Vec<String>,
    /// The hosts the processes run on; at least one. The first is the default host.
    pub hosts: Vec<Host>,
    /// When the scenario starts; root offsets are relative to it.
    pub start: DateTime<Utc>,
    /// How long background activity runs from `start` (at least the span of the tree).
    pub duration: Option<TimeDelta>,
    /// Background profiles mixed in on the first host (`hosts[0]`), by name.
    pub background: Vec<String>,
    /// The root processes. Roots are already running unless they say `emit: true`.
    pub processes: Vec<ProcessNode>,
    /// What each rule should do on this scenario.
    pub expect: Vec<Expectation>,
    /// When set, the scenario is skipped with this reason.
    pub skip: Option<String>,
    /// The file it was loaded from (as given to `parse`).
    pub file: String,
}

/// A machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The NetBIOS name, for example `GIS01`.
    pub name: String,
    /// The NetBIOS domain, for example `CORP`; none for a workgroup machine.
    #[serde(default)]
    pub domain: Option<String>,
    /// The DNS name; defaults to `name.domain.local` in lower case.
    #[serde(default)]
    pub fqdn: Option<String>,
    /// Background profiles for this host (in addition to the scenario's, which go to the first host).
    #[serde(default, deserialize_with = "one_or_many")]
    pub background: Vec<String>,
}

impl Host {
    /// The host's DNS name: `fqdn` when given, else `name.domain.local` (lower case), else `name`.
    pub fn fqdn(&self) -> String {
        match (&self.fqdn, &self.domain) {
            (Some(fqdn), _) => fqdn.clone(),
            (None, Some(domain)) => format!("{}.{}.local", self.name, domain).to_lowercase(),
            (None, None) => self.name.to_lowercase(),
        }
    }
}

/// A process in the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessNode {
    /// Unique within the scenario; expectations and event origins name nodes by it.
    pub id: String,
    /// The full Windows path of the image, for example `C:\Windows\System32\cmd.exe`.
    pub image: String,
    /// The command line, verbatim; defaults to the quoted image path.
    #[serde(default)]
    pub command_line: Option<String>,
    /// `DOMAIN\name`; defaults to the parent's user (roots: by image, else `NT AUTHORITY\SYSTEM`).
    #[serde(default)]
    pub user: Option<String>,
    /// Integrity level; defaults to the parent's (roots: from the user).
    #[serde(default)]
    pub integrity: Option<Integrity>,
    /// Process id; derived from the seed when absent.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Working directory; defaults to the parent's (roots: `C:\Windows\system32\`).
    #[serde(default)]
    pub current_directory: Option<String>,
    /// The PE original file name; a renamed binary keeps its original (defaults to the known
    /// name for the image's file name, else the file name itself).
    #[serde(default)]
    pub original_file_name: Option<String>,
    /// Hashes of the image; plausible synthetic ones derived from the file are used when absent.
    #[serde(default)]
    pub hashes: Option<Hashes>,
    /// Start offset from the parent's start (roots: from the scenario start), such as `+2s`.
    #[serde(default, with = "offset_serde")]
    pub at: Option<TimeDelta>,
    /// Benign activity (inherited by children unless they say `benign: false`).
    #[serde(default)]
    pub benign: Option<bool>,
    /// For a root: record its creation too (roots are otherwise already running).
    #[serde(default)]
    pub emit: bool,
    /// For a root: the host it runs on (a host name); defaults to the first host.
    #[serde(default)]
    pub host: Option<String>,
    /// Processes this one creates.
    #[serde(default)]
    pub children: Vec<ProcessNode>,
}

impl ProcessNode {
    /// The file name part of the image path (`cmd.exe`).
    pub fn file_name(&self) -> &str {
        file_name(&self.image)
    }
}

/// The last component of a Windows path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Image hashes, as upper- or lower-case hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hashes {
    /// 32 hex digits.
    #[serde(default)]
    pub md5: Option<String>,
    /// 40 hex digits.
    #[serde(default)]
    pub sha1: Option<String>,
    /// 64 hex digits.
    #[serde(default)]
    pub sha256: Option<String>,
    /// 32 hex digits (PE import hash).
    #[serde(default)]
    pub imphash: Option<String>,
}

/// Windows mandatory integrity levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Integrity {
    /// `S-1-16-0`.
    Untrusted,
    /// `S-1-16-4096`.
    Low,
    /// `S-1-16-8192`.
    Medium,
    /// `S-1-16-12288`.
    High,
    /// `S-1-16-16384`.
    System,
    /// `S-1-16-20480`.
    Protected,
}

impl Integrity {
    /// Every level, lowest first.
    pub const ALL: [Integrity; 6] = [
        Integrity::Untrusted,
        Integrity::Low,
        Integrity::Medium,
        Integrity::High,
        Integrity::System,
        Integrity::Protected,
    ];

    /// The word Sysmon and Defender write (`High`).
    pub fn word(self) -> &'static str {
        match self {
            Integrity::Untrusted => "Untrusted",
            Integrity::Low => "Low",
            Integrity::Medium => "Medium",
            Integrity::High => "High",
            Integrity::System => "System",
            Integrity::Protected => "Protected",
        }
    }

    /// The mandatory label SID 4688 writes (`S-1-16-12288`).
    pub fn sid(self) -> &'static str {
        match self {
            Integrity::Untrusted => "S-1-16-0",
            Integrity::Low => "S-1-16-4096",
            Integrity::Medium => "S-1-16-8192",
            Integrity::High => "S-1-16-12288",
            Integrity::System => "S-1-16-16384",
            Integrity::Protected => "S-1-16-20480",
        }
    }

    /// The OCSF `integrity_id`.
    pub fn ocsf_id(self) -> i64 {
        match self {
            Integrity::Untrusted => 1,
            Integrity::Low => 2,
            Integrity::Medium => 3,
            Integrity::High => 4,
            Integrity::System => 5,
            Integrity::Protected => 6,
        }
    }
}

impl<'de> Deserialize<'de> for Integrity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LevelVisitor;
        impl Visitor<'_> for LevelVisitor {
            type Value = Integrity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integrity level such as `high`")
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<Integrity, E> {
                Integrity::ALL
                    .into_iter()
                    .find(|level| level.word().eq_ignore_ascii_case(word))
                    .ok_or_else(|| {
                        let hint = crate::diag::did_you_mean(word, Integrity::ALL.map(Integrity::word))
                            .map(|w| format!("; did you mean `{}`?", w.to_lowercase()))
                            .unwrap_or_default();
                        E::custom(format!(
                            "[SCN0014] unknown integrity level `{word}`, expected one of untrusted, low, medium, high, system, protected{hint}"
                        ))
                    })
            }
        }
        deserializer.deserialize_str(LevelVisitor)
    }
}

/// One expectation: what `rule` should do on this scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// The rule, by id, title or name (a KQL file's name is its file stem).
    pub rule: String,
    /// What should happen.
    pub check: Check,
    /// Why (free text, shown in reports).
    pub note: Option<String>,
    /// Where the expectation's `rule:` is in the scenario file.
    pub location: Option<Location>,
}

/// What a rule should do on a scenario's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// It matches exactly these nodes' events, and no others.
    FiresOn(Vec<String>),
    /// It matches at least one event.
    Fires,
    /// It matches exactly this many events.
    Count(usize),
    /// It matches nothing.
    Quiet,
}

impl Scenario {
    /// Every node id, in tree pre-order.
    pub fn node_ids(&self) -> Vec<&str> {
        self.walk().map(|(node, _)| node.id.as_str()).collect()
    }

    /// The node with `id`.
    pub fn node(&self, id: &str) -> Option<&ProcessNode> {
        self.walk().find(|(node, _)| node.id == id).map(|(n, _)| n)
    }

    /// Whether `id` is benign (its own `benign`, else its nearest ancestor's, else false);
    /// `None` when no such node exists.
    pub fn is_benign(&self, id: &str) -> Option<bool> {
        self.walk()
            .find(|(node, _)| node.id == id)
            .map(|(_, benign)| benign)
    }

    /// Whether `id` produces an event of its own (every non-root, and roots with `emit: true`).
    pub fn emits(&self, id: &str) -> bool {
        self.processes.iter().any(|root| root.id == id && root.emit)
            || self
                .processes
                .iter()
                .any(|root| contains(&root.children, id))
    }

    /// Every node with its effective benign flag, in tree pre-order.
    pub fn walk(&self) -> impl Iterator<Item = (&ProcessNode, bool)> {
        let mut out = Vec::new();
        fn visit<'a>(
            nodes: &'a [ProcessNode],
            benign: bool,
            out: &mut Vec<(&'a ProcessNode, bool)>,
        ) {
            for node in nodes {
                let own = node.benign.unwrap_or(benign);
                out.push((node, own));
                visit(&node.children, own, out);
            }
        }
        visit(&self.processes, false, &mut out);
        out.into_iter()
    }

    /// The host a root runs on.
    pub fn host_of(&self, root: &ProcessNode) -> &Host {
        root.host
            .as_deref()
            .and_then(|name| {
                self.hosts
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
            })
            .unwrap_or(&self.hosts[0])
    }
}

fn contains(nodes: &[ProcessNode], id: &str) -> bool {
    nodes
        .iter()
        .any(|node| node.id == id || contains(&node.children, id))
}

/// Parses an offset such as `+2s`, `1m30s`, `+500ms`, `+1h`, `+8d`.
pub fn parse_offset(text: &str) -> Option<TimeDelta> {
    let body = text.trim().strip_prefix('+').unwrap_or(text.trim());
    if body.is_empty() {
        return None;
    }
    let mut total = TimeDelta::zero();
    let mut rest = body;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => TimeDelta::try_milliseconds(number)?,
            "s" => TimeDelta::try_seconds(number)?,
            "m" => TimeDelta::try_minutes(number)?,
            "h" => TimeDelta::try_hours(number)?,
            "d" => TimeDelta::try_days(number)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
    }
    Some(total)
}

/// Formats an offset the way scenarios write it (`+1m30s`).
pub fn format_offset(offset: TimeDelta) -> String {
    let mut ms = offset.num_milliseconds();
    let mut out = String::from("+");
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size {
            out += &format!("{}{unit}", ms / size);
            ms %= size;
        }
    }
    if ms > 0 || out.len() == 1 {
        out += &format!("{ms}ms");
    }
    out
}

/// Parses a scenario time: RFC 3339, or `YYYY-MM-DDTHH:MM:SS` / `YYYY-MM-DD HH:MM:SS` taken as UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    None
}

pub(crate) mod offset_serde {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        value: &Option<TimeDelta>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(offset) => serializer.serialize_str(&format_offset(*offset)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<TimeDelta>, D::Error> {
        struct OffsetVisitor;
        impl Visitor<'_> for OffsetVisitor {
            type Value = Option<TimeDelta>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an offset such as `+2s`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                parse_offset(text).map(Some).ok_or_else(|| {
                    E::custom(format!(
                        "[SCN0006] unparsable offset `{text}`, expected a number and a unit (ms, s, m, h, d) such as `+2s` or `+1m30s`"
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "[SCN0006] offset `{n}` has no unit, write `+{n}s` for seconds"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "[SCN0006] offset `{n}` has no unit and offsets cannot be negative"
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "[SCN0006] offset `{n}` has no unit, write `+500ms` style offsets"
                )))
            }
        }
        deserializer.deserialize_any(OffsetVisitor)
    }
}

pub(crate) mod time_serde {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        struct TimeVisitor;
        impl Visitor<'_> for TimeVisitor {
            type Value = DateTime<Utc>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time such as `2025-11-20T09:00:00Z`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                parse_time(text).ok_or_else(|| {
                    E::custom(format!(
                        "[SCN0005] unparsable time `{text}`, expected RFC 3339 such as `2025-11-20T09:00:00Z`"
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                self.visit_str(&n.to_string())
            }
        }
        deserializer.deserialize_any(TimeVisitor)
    }
}

/// Accepts a single string or a list of strings.
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a profile name or a list of profile names")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(vec![text.to_string()])
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_with_units_and_round_trip() {
        assert_eq!(parse_offset("+2s"), Some(TimeDelta::seconds(2)));
        assert_eq!(parse_offset("1m30s"), Some(TimeDelta::seconds(90)));
        assert_eq!(parse_offset("+500ms"), Some(TimeDelta::milliseconds(500)));
        assert_eq!(parse_offset("+8d"), Some(TimeDelta::days(8)));
        assert_eq!(parse_offset("+2x"), None);
        assert_eq!(parse_offset("s"), None);
        assert_eq!(parse_offset("+"), None);
        assert_eq!(format_offset(TimeDelta::seconds(90)), "+1m30s");
        assert_eq!(format_offset(TimeDelta::zero()), "+0ms");
    }

    #[test]
    fn times_accept_rfc3339_and_naive_utc() {
        let t = parse_time("2025-11-20T09:00:00Z").unwrap();
        assert_eq!(parse_time("2025-11-20 09:00:00"), Some(t));
        assert_eq!(parse_time("2025-11-20T10:00:00+01:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn file_name_is_the_last_path_component() {
        assert_eq!(file_name(r"C:\Windows\System32\cmd.exe"), "cmd.exe");
        assert_eq!(file_name("cmd.exe"), "cmd.exe");
    }
}
