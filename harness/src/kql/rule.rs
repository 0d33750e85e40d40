//! KQL rule files: `.kql` query files and Sentinel analytic / hunting rule YAML.
//!
//! A `.kql` file is one query; its name is the file stem. A `.yaml`/`.yml` file is a Sentinel
//! rule (id, name, description, tactics, relevantTechniques, query, queryPeriod, ...). The rule
//! remembers where its query sits in the file, so [`KqlRule::parse`] reports query problems at
//! the right line and column of the YAML, not of the extracted text.

use crate::diag::{Diagnostic, Location, Span};
use crate::kql::ast::Query;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A loaded KQL rule.
#[derive(Clone, Debug, PartialEq)]
pub struct KqlRule {
    /// The rule id (Sentinel YAML `id`); `None` for `.kql` files.
    pub id: Option<String>,
    /// The rule name: YAML `name`, or the file stem of a `.kql` file.
    pub name: String,
    /// YAML `description`.
    pub description: Option<String>,
    /// YAML `tactics`.
    pub tactics: Vec<String>,
    /// YAML `relevantTechniques` (for example `T1059.001`).
    pub techniques: Vec<String>,
    /// YAML `severity`.
    pub severity: Option<String>,
    /// YAML `kind` (`Scheduled`, `NRT`, ...); `None` for hunting queries and `.kql` files.
    pub kind: Option<String>,
    /// YAML `queryPeriod` (for example `14d`), as written.
    pub query_period: Option<String>,
    /// YAML `queryFrequency`, as written.
    pub query_frequency: Option<String>,
    /// The query text, as YAML decodes it.
    pub query: String,
    /// Byte offset in the file where the query text starts.
    pub query_offset: usize,
    /// For each byte offset of `query` (and one past its end), the byte offset in the file.
    offsets: Vec<usize>,
    /// The file the rule came from.
    pub path: PathBuf,
    /// The whole file text (diagnostics quote lines from it).
    pub source: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentinelYaml {
    id: Option<serde_yaml::Value>,
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tactics: Option<Vec<String>>,
    #[serde(default)]
    relevant_techniques: Option<Vec<String>>,
    severity: Option<String>,
    kind: Option<String>,
    query: Option<String>,
    query_period: Option<serde_yaml::Value>,
    query_frequency: Option<serde_yaml::Value>,
}

/// Reads and loads a rule file (`.kql`, `.yaml`, `.yml`).
pub fn load(path: impl AsRef<Path>) -> Result<KqlRule, Vec<Diagnostic>> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text =
        crate::encoding::read_source(path, &file, "KQL0100", "rule file").map_err(|d| vec![*d])?;
    from_str(path, &text)
}

/// Reads a Microsoft Sentinel watchlist's items for `_GetWatchlist` (see
/// [`crate::kql::Database::bind_watchlist`]): JSON lines, one object per item.
pub fn load_watchlist(path: impl AsRef<Path>) -> Result<Vec<crate::event::Event>, Vec<Diagnostic>> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = crate::encoding::read_source(path, &file, "KQL0106", "watchlist file")
        .map_err(|d| vec![*d])?;
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(object)) => items.push(crate::event::Event::from_json(
                crate::event::LogSchema::Other,
                &object,
            )),
            _ => errors.push(
                Diagnostic::error("KQL0107", "a watchlist line must be one JSON object")
                    .located(Location::at_line_col(&file, &text, n + 1, 1)),
            ),
        }
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(errors)
    }
}

/// Loads a rule from `text`, the contents of `path` (no I/O).
pub fn from_str(path: &Path, text: &str) -> Result<KqlRule, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "kql" | "kusto" | "csl" => Ok(KqlRule {
            id: None,
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            description: None,
            tactics: Vec::new(),
            techniques: Vec::new(),
            severity: None,
            kind: None,
            query_period: None,
            query_frequency: None,
            query: text.to_string(),
            query_offset: 0,
            offsets: (0..=text.len()).collect(),
            path: path.to_path_buf(),
            source: text.to_string(),
        }),
        "yaml" | "yml" => from_yaml(path, &file, text),
        _ => Err(vec![
            Diagnostic::error(
                "KQL0105",
                format!("unsupported rule file extension `.{ext}`"),
            )
            .in_file(file)
            .with_help("KQL rules are `.kql` files or Sentinel rule `.yaml` files"),
        ]),
    }
}

fn scalar_text(v: Option<serde_yaml::Value>) -> Option<String> {
    match v? {
        serde_yaml::Value::String(s) => Some(s),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn from_yaml(path: &Path, file: &str, text: &str) -> Result<KqlRule, Vec<Diagnostic>> {
    let doc: SentinelYaml = serde_yaml::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        let d = Diagnostic::error("KQL0101", format!("invalid rule YAML: {message}"));
        vec![match e.location() {
            Some(loc) => d.located(Location::at_line_col(file, text, loc.line(), loc.column())),
            None => d.in_file(file),
        }]
    })?;
    let mut diags = Vec::new();
    let top_key = |key: &str| find_top_key(text, key);
    let Some(query) = doc.query.filter(|q| !q.trim().is_empty()) else {
        let d = Diagnostic::error("KQL0102", "rule has no `query`")
            .in_file(file)
            .with_help("a Sentinel rule needs a `query:` with the KQL text, usually a `|` block");
        return Err(vec![d]);
    };
    let name = match doc.name.filter(|n| !n.trim().is_empty()) {
        Some(n) => n,
        None => {
            diags.push(
                Diagnostic::error("KQL0103", "rule has no `name`")
                    .in_file(file)
                    .with_help("add `name:` with a short title for the rule"),
            );
            String::new()
        }
    };
    if !diags.is_empty() {
        return Err(diags);
    }
    let query_offset = locate_query(text, top_key("query"));
    let offsets = align(&query, text, query_offset);
    Ok(KqlRule {
        id: scalar_text(doc.id),
        name,
        description: doc.description,
        tactics: doc.tactics.unwrap_or_default(),
        techniques: doc.relevant_techniques.unwrap_or_default(),
        severity: doc.severity,
        kind: doc.kind,
        query_period: scalar_text(doc.query_period),
        query_frequency: scalar_text(doc.query_frequency),
        query,
        query_offset,
        offsets,
        path: path.to_path_buf(),
        source: text.to_string(),
    })
}

/// The byte offset of the line holding the top-level `key:` (no indentation).
fn find_top_key(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(key)
            && rest.trim_start().starts_with(':')
        {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// Where the query value's text starts in the file.
fn locate_query(text: &str, key_line: Option<usize>) -> usize {
    let Some(line_start) = key_line else {
        return 0;
    };
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let colon = line.find(':').map_or(0, |i| i + 1);
    let after = line[colon..].trim_start();
    let value_start = line_end - after.len();
    let indicator = after.split('#').next().unwrap_or("").trim();
    if indicator.starts_with('|') || indicator.starts_with('>') {
        // Block scalar: content starts at the first non-blank character after the key line.
        let rest = &text[(line_end + 1).min(text.len())..];
        let skip = rest.len() - rest.trim_start().len();
        return (line_end + 1 + skip).min(text.len());
    }
    // Quoted or plain scalar on the key's line.
    value_start + usize::from(after.starts_with('"') || after.starts_with('\''))
}

/// Maps every byte of `query` (as YAML decoded it) to a byte of `source`, starting at `start`.
///
/// Walks both texts together: equal characters pair up; where they differ, the file side skips
/// what decoding removed (indentation, line-folding whitespace, `\r`, escape backslashes,
/// doubled quotes). Exact for `|` block scalars and plain scalars, close for the rest, never
/// out of range.
fn align(query: &str, source: &str, start: usize) -> Vec<usize> {
    let file: Vec<(usize, char)> = source[start.min(source.len())..]
        .char_indices()
        .map(|(i, c)| (start + i, c))
        .collect();
    let mut offsets = vec![source.len(); query.len() + 1];
    let mut j = 0;
    for (i, c) in query.char_indices() {
        let mut k = j;
        while k < file.len() && file[k].1 != c && k - j < 64 {
            let skippable = file[k].1.is_whitespace() || matches!(file[k].1, '\\' | '\'' | '"');
            if !skippable {
                break;
            }
            k += 1;
        }
        // Without a match (an escape such as `\n` decoded), both sides advance by one.
        if k < file.len() && file[k].1 == c {
            j = k;
        }
        let here = file.get(j).map_or(source.len(), |(o, _)| *o);
        for b in 0..c.len_utf8() {
            offsets[i + b] = here;
        }
        j = (j + 1).min(file.len());
    }
    offsets[query.len()] = file.get(j).map_or(source.len(), |(o, _)| *o);
    offsets
}

impl KqlRule {
    /// The file name used in diagnostics.
    pub fn file(&self) -> String {
        self.path.display().to_string()
    }

    /// Maps a byte offset in [`KqlRule::query`] to a byte offset in the file.
    pub fn file_offset(&self, query_offset: usize) -> usize {
        self.offsets
            .get(query_offset)
            .or(self.offsets.last())
            .copied()
            .unwrap_or(0)
    }

    /// Re-points a diagnostic located in the query text at the same place in the rule file.
    pub fn relocate(&self, mut d: Diagnostic) -> Diagnostic {
        let file = self.file();
        match d.location.take() {
            Some(loc) => {
                let span = Span::new(
                    self.file_offset(loc.span.start),
                    self.file_offset(loc.span.end),
                );
                let mut new = Location::resolve(file, &self.source, span);
                new.label = loc.label;
                d.located(new)
            }
            None => d.in_file(file),
        }
    }

    /// Parses the rule's query; diagnostics point into the rule file.
    ///
    /// A rule runs its whole query text as one query, so a text that only parses as a script
    /// (queries separated by blank lines, [`crate::kql::script`]) is an error, `KQL0108`,
    /// naming the blocks; the blocks' own errors follow it.
    pub fn parse(&self) -> (Option<Query>, Vec<Diagnostic>) {
        let (q, diags) = crate::kql::parse(&self.query);
        if q.is_none()
            && let Some(script) = crate::kql::script::split("<query>", &self.query, &diags)
        {
            let mut out = vec![self.script_error(&script)];
            out.extend(script.diagnostics().into_iter().map(|d| self.relocate(d)));
            return (None, out);
        }
        (q, diags.into_iter().map(|d| self.relocate(d)).collect())
    }

    /// `KQL0108`: the query text is a script of several queries.
    fn script_error(&self, script: &crate::kql::Script) -> Diagnostic {
        let line_in_file = |offset: usize| {
            let at = self.file_offset(offset).min(self.source.len());
            self.source[..at].matches('\n').count() + 1
        };
        let blocks: Vec<String> = script
            .blocks
            .iter()
            .map(|b| {
                let (first, last) = (line_in_file(b.span.start), line_in_file(b.span.end));
                if first == last {
                    format!("{first}")
                } else {
                    format!("{first}-{last}")
                }
            })
            .collect();
        let second = script.blocks.get(1).map_or(0, |b| b.code_start);
        // Underline the new query's first word.
        let word = self.query[second..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.query.len() - second)
            .max(1);
        let d = Diagnostic::error(
            "KQL0108",
            format!(
                "a rule must be one query, but this query text is {} queries separated by blank lines",
                script.blocks.len()
            ),
        )
        .at("<query>", &self.query, Span::new(second, second + word))
        .with_label("a new query starts here, after a blank line")
        .with_note(format!("the queries are at lines {}", blocks.join(", ")))
        .with_help(
            "a rule runs its whole text as one query: keep one query per rule file, or, if the blocks are one query, end each `let` with `;` and start continued pipeline lines with `|`",
        );
        self.relocate(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kql_file_name_is_the_stem() {
        let r = from_str(Path::new("rules/x-y.kql"), "T | take 1").expect("loads");
        assert_eq!(r.name, "x-y");
        assert_eq!(r.query, "T | take 1");
        assert_eq!(r.file_offset(4), 4);
    }

    #[test]
    fn block_query_diagnostics_point_into_the_yaml() {
        let text = "id: a\nname: n\nquery: |\n  T\n  | where x ==\n";
        let r = from_str(Path::new("r.yaml"), text).expect("loads");
        assert_eq!(r.query, "T\n| where x ==\n");
        let (q, diags) = r.parse();
        assert!(q.is_none());
        let loc = diags[0].location.as_ref().expect("located");
        assert_eq!(loc.file, "r.yaml");
        assert_eq!(loc.line, 5);
        assert_eq!(loc.source_line, "  | where x ==");
    }

    #[test]
    fn folded_and_quoted_queries_map_back_into_the_file() {
        let folded = "name: n\nquery: >\n  T\n  | where x == 1\n  | take 2\n";
        let r = from_str(Path::new("r.yaml"), folded).expect("loads");
        assert_eq!(r.query, "T | where x == 1 | take 2\n");
        let at = r.query.find("take").expect("take");
        assert_eq!(&folded[r.file_offset(at)..r.file_offset(at) + 4], "take");
        let quoted = "name: n\nquery: \"T | where x == \\\"a\\\" | take 1\"\n";
        let r = from_str(Path::new("r.yaml"), quoted).expect("loads");
        assert_eq!(r.query, "T | where x == \"a\" | take 1");
        let at = r.query.find("take").expect("take");
        assert_eq!(&quoted[r.file_offset(at)..r.file_offset(at) + 4], "take");
    }

    #[test]
    fn every_token_of_the_seed_rule_maps_to_the_same_text_in_the_yaml() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/rules/kql/detect-suspicious-commands-initiated-by-web-server-processes.yaml"
        );
        let text = std::fs::read_to_string(path).expect("the seed rule");
        let r = from_str(Path::new(path), &text).expect("loads");
        let (tokens, _) = crate::kql::lex::lex("<query>", &r.query);
        for t in tokens {
            let want = &r.query[t.span.start..t.span.end];
            let (a, b) = (r.file_offset(t.span.start), r.file_offset(t.span.end));
            assert_eq!(&text[a..a + want.len()], want, "token at {}", t.span.start);
            assert!(b >= a);
        }
    }

    #[test]
    fn crlf_block_queries_map_back_into_the_file() {
        let text = "name: n\r\nquery: |\r\n  T\r\n\r\n  | take 1\r\n";
        let r = from_str(Path::new("r.yaml"), text).expect("loads");
        let at = r.query.find("take").expect("take");
        assert_eq!(&text[r.file_offset(at)..r.file_offset(at) + 4], "take");
    }

    #[test]
    fn missing_query_is_a_diagnostic() {
        let err = from_str(Path::new("r.yaml"), "name: n\n").expect_err("no query");
        assert_eq!(err[0].code, "KQL0102");
    }

    #[test]
    fn invalid_yaml_is_located() {
        let err = from_str(Path::new("r.yaml"), "name: [\nquery: x\n").expect_err("bad yaml");
        assert_eq!(err[0].code, "KQL0101");
        assert!(err[0].location.is_some());
    }
}
