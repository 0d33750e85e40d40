//! Rendering: one process creation of a [`Timeline`] → one event in a log schema.
//!
//! Each schema lives in its own file under `schema/` and turns a [`Creation`] (the new process C,
//! its parent P and grandparent G) into that schema's fields, in the order the product writes
//! them. Who plays which role differs by schema (`../shared/docs/schemas.md` §0): Sysmon, 4688
//! and ECS know only C and P; Defender adds G's name, id and creation time; ASIM fills
//! `ParentProcess*` with G only for Defender-sourced rows; OCSF lists P and G in
//! `process.ancestry`.

mod asim;
mod ecs;
mod mde;
mod ocsf;
mod security4688;
mod sysmon;

use super::rng::Rng;
use super::tree::{HostInfo, Process, Timeline};
use crate::event::{Event, Fields, LogSchema, Origin, Value};
use chrono::{DateTime, Utc};

/// One creation to render: the new process, its parent and grandparent, its host.
#[derive(Debug)]
pub struct Creation<'a> {
    /// The whole timeline (for options such as the ASIM source).
    pub timeline: &'a Timeline,
    /// C, the new process.
    pub child: &'a Process,
    /// P, the process that created it.
    pub parent: Option<&'a Process>,
    /// G, the parent's parent.
    pub grandparent: Option<&'a Process>,
    /// The machine.
    pub host: &'a HostInfo,
    /// The event's record number in its channel on its host.
    pub record: u64,
}

/// Renders every creation of `timeline` as `schema` events, in time order.
pub fn render(timeline: &Timeline, schema: LogSchema) -> Vec<Event> {
    let render_one: fn(&Creation<'_>) -> Fields = match schema {
        LogSchema::Sysmon => sysmon::render,
        LogSchema::Security4688 => security4688::render,
        LogSchema::Mde => mde::render,
        LogSchema::Asim => asim::render,
        LogSchema::Ecs => ecs::render,
        LogSchema::Ocsf => ocsf::render,
        LogSchema::Other => return Vec::new(),
    };
    let mut records: Vec<u64> = timeline
        .hosts
        .iter()
        .map(|h| {
            let mut rng = Rng::keyed(
                timeline.options.seed,
                &format!("record:{}:{schema}", h.name),
            );
            100_000 + rng.below(9_000_000)
        })
        .collect();
    timeline
        .creations
        .iter()
        .map(|&index| {
            let child = &timeline.processes[index];
            records[child.host] += 1;
            let creation = Creation {
                timeline,
                child,
                parent: timeline.parent(index),
                grandparent: timeline.grandparent(index),
                host: &timeline.hosts[child.host],
                record: records[child.host],
            };
            Event {
                schema,
                timestamp: Some(child.created),
                fields: render_one(&creation),
                origin: Some(Origin {
                    scenario: timeline.scenario.clone(),
                    node: child.node.clone(),
                    benign: child.benign,
                }),
            }
        })
        .collect()
}

/// Builds [`Fields`] from `name => value` pairs, in order.
macro_rules! fields {
    ($($name:expr => $value:expr),* $(,)?) => {{
        let mut fields = $crate::event::Fields::default();
        $( fields.insert($crate::event::Name::from($name), $crate::event::Value::from($value)); )*
        fields
    }};
}
pub(crate) use fields;

/// Sysmon's `UtcTime`: `2025-10-25 17:02:36.894`.
pub fn sysmon_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// RFC 3339 with milliseconds: `2025-10-25T17:02:36.894Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Milliseconds since the epoch.
pub fn epoch_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// `0x` lower-case hex, as 4688 writes pids and logon ids.
pub fn hex(n: u64) -> String {
    format!("{n:#x}")
}

/// A nested map value.
pub fn map(fields: Fields) -> Value {
    Value::Map(Box::new(fields))
}

/// A list of strings.
pub fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
    Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
}

/// Splits a command line into arguments the way `CommandLineToArgvW` does.
pub fn argv(command_line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut has_arg = false;
    let mut backslashes = 0usize;
    for c in command_line.chars() {
        match c {
            '\\' => {
                backslashes += 1;
                has_arg = true;
                continue;
            }
            '"' => {
                current.extend(std::iter::repeat_n('\\', backslashes / 2));
                if backslashes % 2 == 1 {
                    current.push('"');
                } else {
                    in_quotes = !in_quotes;
                }
                backslashes = 0;
                has_arg = true;
                continue;
            }
            _ => {}
        }
        current.extend(std::iter::repeat_n('\\', backslashes));
        backslashes = 0;
        if (c == ' ' || c == '\t') && !in_quotes {
            if has_arg {
                args.push(std::mem::take(&mut current));
                has_arg = false;
            }
        } else {
            current.push(c);
            has_arg = true;
        }
    }
    current.extend(std::iter::repeat_n('\\', backslashes));
    if has_arg {
        args.push(current);
    }
    args
}

/// The creator account as 4688 names it: SYSTEM appears as the machine account.
pub fn subject_name(process: &Process, host: &HostInfo) -> (String, String) {
    if process.user.sid == "S-1-5-18" {
        (
            format!("{}$", host.name),
            host.domain.clone().unwrap_or_else(|| "WORKGROUP".into()),
        )
    } else {
        (process.user.name.clone(), process.user.domain.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_follows_windows_quoting() {
        assert_eq!(argv(r#"cmd.exe /c "ver""#), ["cmd.exe", "/c", "ver"]);
        assert_eq!(
            argv(r#""C:\Program Files\x.exe" -a "b c" d"#),
            [r"C:\Program Files\x.exe", "-a", "b c", "d"]
        );
        assert_eq!(argv(r#"a\\"b c" d"#), [r"a\b c", "d"]);
        assert_eq!(argv(""), Vec::<String>::new());
    }

    #[test]
    fn times_format_as_the_products_write_them() {
        let t = DateTime::parse_from_rfc3339("2025-10-25T17:02:36.894Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(sysmon_time(t), "2025-10-25 17:02:36.894");
        assert_eq!(iso(t), "2025-10-25T17:02:36.894Z");
        assert_eq!(hex(0x2bc), "0x2bc");
    }
}
