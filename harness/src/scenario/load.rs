//! Reading scenario files: strict deserialization, validation, and located diagnostics.
//!
//! Structural problems (YAML syntax, unknown keys, wrong types, unparsable times) stop
//! deserialization at the first one, located by the YAML parser. Everything checked afterwards
//! (duplicate ids, relative images, unknown nodes or profiles) is collected, all of it, each
//! located by a probe into the text.

use super::locate::{Seg, locate, scalar_width};
use super::model::*;
use crate::diag::{Diagnostic, Location, Span, did_you_mean, offset_of};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The top-level keys of a scenario file.
pub const SCENARIO_KEYS: &[&str] = &[
    "format_version",
    "name",
    "description",
    "attack",
    "host",
    "hosts",
    "start",
    "duration",
    "background",
    "processes",
    "expect",
    "skip",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    format_version: u32,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    attack: Vec<String>,
    #[serde(default)]
    host: Option<Host>,
    #[serde(default)]
    hosts: Option<Vec<Host>>,
    #[serde(with = "time_serde")]
    start: DateTime<Utc>,
    #[serde(default, with = "offset_serde")]
    duration: Option<TimeDelta>,
    #[serde(default, deserialize_with = "one_or_many")]
    background: Vec<String>,
    processes: Vec<ProcessNode>,
    #[serde(default)]
    expect: Vec<RawExpectation>,
    #[serde(default)]
    skip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    rule: String,
    #[serde(default)]
    fires_on: Option<Vec<String>>,
    #[serde(default)]
    fires: Option<bool>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    quiet: Option<bool>,
    #[serde(default)]
    note: Option<String>,
}

/// Reads and parses a scenario file; an unreadable file is an `SCN0000` diagnostic.
pub fn load(path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    let name = path.display().to_string();
    match crate::encoding::read_source(path, &name, "SCN0000", "scenario file") {
        Ok(text) => parse(&name, &text),
        Err(d) => Err(vec![*d]),
    }
}

/// Parses scenario text; `file_name` is only used in diagnostics and `Scenario::file`.
pub fn parse(file_name: &str, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    parse_with_profiles(file_name, text, crate::generate::profile::bundled_names())
}

/// Like [`parse`], with the set of background profile names that exist.
pub fn parse_with_profiles<'a>(
    file_name: &str,
    text: &str,
    profiles: impl IntoIterator<Item = &'a str>,
) -> Result<Scenario, Vec<Diagnostic>> {
    if text
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'))
    {
        return Err(vec![
            Diagnostic::error("SCN0001", "empty scenario file")
                .located(Location::resolve(file_name, text, Span::new(0, 0)))
                .with_help(
                    "a scenario starts with `format_version: 1`; see docs/scenario-format.md",
                ),
        ]);
    }
    let raw: RawScenario = match serde_yaml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => return Err(vec![serde_diagnostic(file_name, text, &error)]),
    };
    let profiles: Vec<&str> = profiles.into_iter().collect();
    let mut v = Validator {
        file: file_name,
        text,
        diagnostics: Vec::new(),
    };
    let scenario = v.validate(raw, &profiles);
    if v.diagnostics.iter().any(Diagnostic::is_error) {
        Err(v.diagnostics)
    } else {
        Ok(scenario)
    }
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    /// The location of the value (or key) at `path`, falling back to the file's first line.
    fn at(&self, path: &[Seg], key: bool) -> Location {
        let (line, column) = locate(self.text, path, key).unwrap_or((1, 1));
        let offset = offset_of(self.text, line, column);
        let width = scalar_width(self.text, offset);
        let mut location = Location::resolve(self.file, self.text, Span::new(offset, offset));
        location.width = width;
        location.span = Span::new(
            offset,
            offset
                + self.text[offset..]
                    .chars()
                    .take(width)
                    .map(char::len_utf8)
                    .sum::<usize>(),
        );
        location
    }

    fn error(&mut self, code: &str, message: String, path: &[Seg], key: bool) -> &mut Diagnostic {
        let location = self.at(path, key);
        self.diagnostics
            .push(Diagnostic::error(code, message).located(location));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn validate(&mut self, raw: RawScenario, profiles: &[&str]) -> Scenario {
        let key = |k: &str| vec![Seg::key(k)];
        if raw.format_version != FORMAT_VERSION {
            let d = self.error(
                "SCN0010",
                format!("unsupported format_version {}", raw.format_version),
                &key("format_version"),
                false,
            );
            set_help(d, "this build reads `format_version: 1`");
        }
        if raw.name.trim().is_empty() {
            self.error("SCN0009", "empty scenario name".into(), &key("name"), false);
        }
        let hosts = match (raw.host, raw.hosts) {
            (Some(host), None) => vec![host],
            (None, Some(hosts)) if !hosts.is_empty() => hosts,
            (None, Some(_)) => {
                self.error("SCN0009", "`hosts` is empty".into(), &key("hosts"), false);
                vec![placeholder_host()]
            }
            (Some(host), Some(_)) => {
                let d = self.error(
                    "SCN0020",
                    "both `host` and `hosts` are given".into(),
                    &key("hosts"),
                    true,
                );
                set_help(
                    d,
                    "use `host:` for one machine or `hosts:` for several, not both",
                );
                vec![host]
            }
            (None, None) => {
                self.diagnostics.push(
                    Diagnostic::error("SCN0009", "missing field `host`")
                        .located(self.at(&key("name"), true))
                        .with_help("add `host: { name: WEB01, domain: CORP }`"),
                );
                vec![placeholder_host()]
            }
        };
        let hosts_key = if hosts.len() > 1 { "hosts" } else { "host" };
        let mut seen_hosts: BTreeMap<String, usize> = BTreeMap::new();
        for (i, host) in hosts.iter().enumerate() {
            let mut path = key(hosts_key);
            if hosts_key == "hosts" {
                path.push(Seg::Index(i));
            }
            if let Some(first) = seen_hosts.insert(host.name.to_lowercase(), i) {
                path.push(Seg::key("name"));
                let line = self.line_of(&hosts_path(hosts_key, first));
                self.error(
                    "SCN0015",
                    format!("duplicate host `{}`", host.name),
                    &path,
                    false,
                )
                .location
                .as_mut()
                .expect("located")
                .label = Some(format!("first defined at line {line}"));
                continue;
            }
            let mut bg_path = path.clone();
            bg_path.push(Seg::key("background"));
            self.check_profiles(&host.background, &bg_path, profiles);
        }
        self.check_profiles(&raw.background, &key("background"), profiles);
        if raw.processes.is_empty() {
            self.error(
                "SCN0017",
                "the process tree is empty".into(),
                &key("processes"),
                true,
            );
        }
        let mut ids: BTreeMap<String, Vec<Seg>> = BTreeMap::new();
        for (i, root) in raw.processes.iter().enumerate() {
            let path = vec![Seg::key("processes"), Seg::Index(i)];
            if let Some(name) = &root.host
                && !hosts.iter().any(|h| h.name.eq_ignore_ascii_case(name))
            {
                let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                let mut p = path.clone();
                p.push(Seg::key("host"));
                let hint = did_you_mean(name, names.iter().copied());
                let d = self.error("SCN0015", format!("unknown host `{name}`"), &p, false);
                set_help(
                    d,
                    match hint {
                        Some(h) => format!("did you mean `{h}`?"),
                        None => format!("hosts in this scenario: {}", names.join(", ")),
                    },
                );
            }
            self.check_node(root, &path, true, &mut ids);
        }
        let node_ids: Vec<String> = ids.keys().cloned().collect();
        let mut expect = Vec::new();
        for (i, raw) in raw.expect.into_iter().enumerate() {
            let path = vec![Seg::key("expect"), Seg::Index(i)];
            if let Some(e) = self.check_expectation(raw, &path, &node_ids) {
                expect.push(e);
            }
        }
        Scenario {
            format_version: raw.format_version,
            name: raw.name,
            description: raw.description,
            attack: raw.attack,
            hosts,
            start: raw.start,
            duration: raw.duration,
            background: raw.background,
            processes: raw.processes,
            expect,
            skip: raw.skip,
            file: self.file.to_string(),
        }
    }

    fn line_of(&self, path: &[Seg]) -> usize {
        locate(self.text, path, false).map_or(1, |(line, _)| line)
    }

    fn check_profiles(&mut self, names: &[String], path: &[Seg], profiles: &[&str]) {
        for (i, name) in names.iter().enumerate() {
            if profiles.contains(&name.as_str()) {
                continue;
            }
            let mut p = path.to_vec();
            // A single name is written as a scalar, a list as a sequence.
            if locate(self.text, &p, false).is_some_and(|_| {
                locate(self.text, &[&p[..], &[Seg::Index(i)]].concat(), false).is_some()
            }) {
                p.push(Seg::Index(i));
            }
            let hint = profiles
                .iter()
                .copied()
                .find(|p| name.starts_with(p) || p.starts_with(name.as_str()))
                .or_else(|| did_you_mean(name, profiles.iter().copied()));
            let d = self.error(
                "SCN0008",
                format!("unknown background profile `{name}`"),
                &p,
                false,
            );
            set_help(
                d,
                match hint {
                    Some(h) => format!("did you mean `{h}`?"),
                    None => format!("known profiles: {}", profiles.join(", ")),
                },
            );
        }
    }

    fn check_node(
        &mut self,
        node: &ProcessNode,
        path: &[Seg],
        root: bool,
        ids: &mut BTreeMap<String, Vec<Seg>>,
    ) {
        let field = |name: &str| [path, &[Seg::key(name)]].concat();
        if node.id.is_empty()
            || !node
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            let d = self.error(
                "SCN0021",
                format!("invalid node id `{}`", node.id),
                &field("id"),
                false,
            );
            set_help(
                d,
                "node ids use letters, digits, `_`, `-` and `.` (`bg:` ids are reserved for background activity)",
            );
        }
        if let Some(first) = ids.get(&node.id).cloned() {
            let line = self.line_of(&[&first[..], &[Seg::key("id")]].concat());
            let d = self.error(
                "SCN0003",
                format!("duplicate node id `{}`", node.id),
                &field("id"),
                false,
            );
            d.location.as_mut().expect("located").label =
                Some(format!("first defined at line {line}"));
            set_help(d, "give every process node its own id");
        } else {
            ids.insert(node.id.clone(), path.to_vec());
        }
        if !is_absolute_windows_path(&node.image) {
            let help = match crate::generate::pe::known_path(file_name(&node.image)) {
                Some(full) => format!("write the full path, for example `{full}`"),
                None => "write the full Windows path, for example `C:\\Windows\\System32\\cmd.exe`"
                    .to_string(),
            };
            let d = self.error(
                "SCN0007",
                format!("relative image path `{}`", node.image),
                &field("image"),
                false,
            );
            set_help(d, help);
        }
        if let Some(hashes) = &node.hashes {
            for (name, value, len) in [
                ("md5", &hashes.md5, 32),
                ("sha1", &hashes.sha1, 40),
                ("sha256", &hashes.sha256, 64),
                ("imphash", &hashes.imphash, 32),
            ] {
                if let Some(value) = value
                    && (value.len() != len || !value.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    let path = [&field("hashes")[..], &[Seg::key(name)]].concat();
                    self.error(
                        "SCN0016",
                        format!("{name} must be {len} hex digits, found `{value}`"),
                        &path,
                        false,
                    );
                }
            }
        }
        if !root {
            if node.emit {
                let d = self.error(
                    "SCN0022",
                    "`emit` only applies to root processes".into(),
                    &field("emit"),
                    true,
                );
                set_help(
                    d,
                    "every child process already gets an event; remove `emit`",
                );
            }
            if node.host.is_some() {
                let d = self.error(
                    "SCN0022",
                    "`host` only applies to root processes".into(),
                    &field("host"),
                    true,
                );
                set_help(d, "children run on their parent's host; remove `host`");
            }
        }
        for (i, child) in node.children.iter().enumerate() {
            let child_path = [path, &[Seg::key("children"), Seg::Index(i)]].concat();
            self.check_node(child, &child_path, false, ids);
        }
    }

    fn check_expectation(
        &mut self,
        raw: RawExpectation,
        path: &[Seg],
        node_ids: &[String],
    ) -> Option<Expectation> {
        let field = |name: &str| [path, &[Seg::key(name)]].concat();
        let rule_location = self.at(&field("rule"), false);
        if raw.rule.trim().is_empty() {
            self.error("SCN0009", "empty rule name".into(), &field("rule"), false);
        }
        let given: Vec<&str> = [
            raw.fires_on.as_ref().map(|_| "fires_on"),
            raw.fires.map(|_| "fires"),
            raw.count.map(|_| "count"),
            raw.quiet.map(|_| "quiet"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() != 1 {
            let message = if given.is_empty() {
                format!("expectation for `{}` says nothing about the rule", raw.rule)
            } else {
                format!(
                    "expectation for `{}` has {}; pick one",
                    raw.rule,
                    given.join(" and ")
                )
            };
            let d = self.error("SCN0012", message, &field("rule"), false);
            set_help(
                d,
                "write exactly one of `fires_on: [node, ...]`, `fires: true`, `count: N`, `quiet: true`",
            );
            return None;
        }
        let check = match (raw.fires_on, raw.fires, raw.count, raw.quiet) {
            (Some(nodes), ..) => {
                if nodes.is_empty() {
                    let d = self.error(
                        "SCN0012",
                        "`fires_on` lists no nodes".into(),
                        &field("fires_on"),
                        false,
                    );
                    set_help(d, "use `quiet: true` for a rule that must not fire");
                    return None;
                }
                for (i, id) in nodes.iter().enumerate() {
                    if !node_ids.contains(id) {
                        let hint = did_you_mean(id, node_ids.iter().map(String::as_str));
                        let p = [&field("fires_on")[..], &[Seg::Index(i)]].concat();
                        let d = self.error(
                            "SCN0004",
                            format!("expectation names unknown node `{id}`"),
                            &p,
                            false,
                        );
                        set_help(
                            d,
                            match hint {
                                Some(h) => format!("did you mean `{h}`?"),
                                None => format!("nodes in this scenario: {}", node_ids.join(", ")),
                            },
                        );
                    }
                }
                Check::FiresOn(nodes)
            }
            (_, Some(true), ..) => Check::Fires,
            (_, Some(false), ..) => {
                let d = self.error(
                    "SCN0012",
                    "`fires: false` is ambiguous".into(),
                    &field("fires"),
                    false,
                );
                set_help(d, "write `quiet: true` for a rule that must not fire");
                return None;
            }
            (_, _, Some(n), _) => Check::Count(n),
            (_, _, _, Some(true)) => Check::Quiet,
            _ => {
                let d = self.error(
                    "SCN0012",
                    "`quiet: false` says nothing".into(),
                    &field("quiet"),
                    false,
                );
                set_help(d, "write `fires: true` for a rule that must fire");
                return None;
            }
        };
        Some(Expectation {
            rule: raw.rule,
            check,
            note: raw.note,
            location: Some(rule_location),
        })
    }
}

fn set_help(d: &mut Diagnostic, help: impl Into<String>) {
    d.help = Some(help.into());
}

fn hosts_path(hosts_key: &str, index: usize) -> Vec<Seg> {
    let mut path = vec![Seg::key(hosts_key)];
    if hosts_key == "hosts" {
        path.push(Seg::Index(index));
    }
    path.push(Seg::key("name"));
    path
}

fn placeholder_host() -> Host {
    Host {
        name: "HOST".into(),
        domain: None,
        fqdn: None,
        background: Vec::new(),
    }
}

/// `C:\…`, `\\server\share\…` or `\\?\C:\…`.
pub fn is_absolute_windows_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    (bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'\\')
        || path.starts_with("\\\\")
}

/// Turns a serde/YAML error into a located diagnostic with a stable code.
fn serde_diagnostic(file: &str, text: &str, error: &serde_yaml::Error) -> Diagnostic {
    let full = error.to_string();
    let context = unterminated_context(&full);
    let location = context.map(|(line, column)| {
        let mut location = Location::at_line_col(file, text, line, column);
        location.width = 1;
        location.label = Some("starts here and is never closed".into());
        location
    });
    let location = location.or_else(|| {
        error.location().map(|l| {
            let mut location = Location::at_line_col(file, text, l.line(), l.column());
            let offset = location.span.start;
            location.width = scalar_width(text, offset);
            location
        })
    });
    let message = strip_marks(&strip_path(&full));
    let diagnostic = classify(&message, text);
    let location = match (&location, message.strip_prefix("duplicate field `")) {
        (Some(mapping), Some(rest)) => {
            let key = rest.split('`').next().unwrap_or(rest);
            second_key(text, mapping.span.start, mapping.column, key)
                .map(|offset| {
                    let mut location =
                        Location::resolve(file, text, Span::new(offset, offset + key.len()));
                    location.label = Some("given again here".into());
                    location
                })
                .or(location)
        }
        _ => location,
    };
    match location {
        Some(location) => diagnostic.located(location),
        None => diagnostic.in_file(file),
    }
}

fn classify(message: &str, text: &str) -> Diagnostic {
    let coded = message
        .get(..9)
        .filter(|head| head.starts_with("[SCN") && head.ends_with(']'))
        .map(|head| (&head[1..8], message[9..].trim()));
    if let Some((code, rest)) = coded {
        let (rest, help) = match rest.split_once("; did you mean") {
            Some((head, tail)) => (head.to_string(), Some(format!("did you mean{tail}"))),
            None => (rest.to_string(), None),
        };
        let d = Diagnostic::error(code, rest);
        return match help {
            Some(help) => d.with_help(help),
            None => d,
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let mut d = Diagnostic::error("SCN0002", format!("unknown key `{field}`"));
        match did_you_mean(field, expected.iter().copied()) {
            Some(hint) => d = d.with_help(format!("did you mean `{hint}`?")),
            None if !expected.is_empty() => {
                d = d.with_help(format!("expected one of {}", expected.join(", ")))
            }
            None => {}
        }
        return d;
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::error("SCN0009", format!("missing field `{field}`"))
            .with_help(format!("add `{field}:` to this mapping"));
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::error("SCN0019", format!("key `{field}` given twice"));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            let kind = match found.split([' ', '`']).next().unwrap_or(found) {
                "string" => "a string",
                "map" => "a mapping",
                "sequence" => "a list",
                "integer" => "a number",
                "floating" => "a number",
                "boolean" => "true or false",
                "unit" | "null" => "nothing",
                other => other,
            };
            let expected = expected
                .replace("a sequence", "a list")
                .replace("struct ", "a mapping (")
                .replace("a mapping (Host", "a mapping (host")
                .replace("a mapping (ProcessNode", "a mapping (process node")
                .replace("a mapping (RawExpectation", "a mapping (expectation");
            let expected = if expected.contains("a mapping (") {
                expected + ")"
            } else {
                expected
            };
            return Diagnostic::error("SCN0011", format!("expected {expected}, found {kind}"));
        }
        return Diagnostic::error("SCN0011", message.to_string());
    }
    if message.starts_with("invalid value") {
        return Diagnostic::error("SCN0011", message.to_string());
    }
    if message.contains("EOF while parsing") && text.trim().is_empty() {
        return Diagnostic::error("SCN0001", "empty scenario file")
            .with_help("a scenario starts with `format_version: 1`");
    }
    Diagnostic::error("SCN0001", format!("invalid yaml: {message}"))
}

/// The offset of the second `key:` of the block mapping that starts at `start` (column `column`).
fn second_key(text: &str, start: usize, column: usize, key: &str) -> Option<usize> {
    let mut seen = 0;
    let mut offset = text[..start].rfind('\n').map_or(0, |i| i + 1);
    for line in text[offset..].split_inclusive('\n') {
        let indent = line.chars().take(column - 1).collect::<String>();
        let body = &line[indent.len()..];
        let at_column = indent.chars().all(|c| c == ' ' || c == '-');
        if at_column && body.starts_with(key) && body[key.len()..].trim_start().starts_with(':') {
            seen += 1;
            if seen == 2 {
                return Some(offset + indent.len());
            }
        }
        offset += line.len();
    }
    None
}

/// For "end of stream while scanning a quoted scalar" style errors, where the construct began.
fn unterminated_context(message: &str) -> Option<(usize, usize)> {
    if !message.contains("end of stream") {
        return None;
    }
    let re = regex::Regex::new(r"while (?:scanning|parsing) [^,]*? at line (\d+) column (\d+)")
        .expect("valid regex");
    let captures = re.captures(message)?;
    Some((captures[1].parse().ok()?, captures[2].parse().ok()?))
}

/// Drops the `path.to.value: ` prefix the YAML library puts before messages.
fn strip_path(message: &str) -> String {
    if let Some((head, tail)) = message.split_once(": ")
        && !head.is_empty()
        && !head.contains(char::is_whitespace)
        && !head.starts_with('[')
    {
        return tail.to_string();
    }
    message.to_string()
}

/// Drops ` at line N column M` (the location is carried separately).
fn strip_marks(message: &str) -> String {
    let re = regex::Regex::new(r" at line \d+ column \d+").expect("valid regex");
    re.replace_all(message, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_drive_or_unc_paths() {
        assert!(is_absolute_windows_path(r"C:\Windows\System32\cmd.exe"));
        assert!(is_absolute_windows_path(r"\\fs01\share\x.exe"));
        assert!(!is_absolute_windows_path("cmd.exe"));
        assert!(!is_absolute_windows_path(r"Windows\cmd.exe"));
    }

    #[test]
    fn library_prefixes_and_marks_are_stripped() {
        assert_eq!(
            strip_marks(&strip_path(
                "processes[0]: unknown field `x` at line 3 column 5"
            )),
            "unknown field `x`"
        );
        assert_eq!(strip_path("invalid type: string"), "invalid type: string");
    }
}
