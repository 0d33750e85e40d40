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
    /// How the query text maps back into the file.
    pub query_map: QueryMap,
    /// The file the rule came from.
    pub path: PathBuf,
    /// The whole file text (diagnostics quote lines from it).
    pub source: String,
}

/// How offsets in [`KqlRule::query`] map to offsets in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryMap {
    /// The query is a verbatim slice of the file starting at `query_offset` (`.kql` files,
    /// plain YAML scalars).
    Verbatim,
    /// A YAML block scalar (`query: |`): query line `i` is file line `first_line + i` with
    /// `indent` leading spaces removed.
    Block {
        /// 0-based file line of the query's first line.
        first_line: usize,
        /// Spaces of indentation removed from each line.
        indent: usize,
    },
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
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![
            Diagnostic::error("KQL0100", format!("cannot read rule file: {e}"))
                .in_file(path.display().to_string()),
        ]
    })?;
    from_str(path, &text)
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
            query_map: QueryMap::Verbatim,
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
    let (query_offset, query_map) = locate_query(text, top_key("query"));
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
        query_map,
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

/// Where the query value starts and how its lines map into the file.
fn locate_query(text: &str, key_line: Option<usize>) -> (usize, QueryMap) {
    let Some(line_start) = key_line else {
        return (0, QueryMap::Verbatim);
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
        // Block scalar: content starts at the next non-blank line.
        let first_line = text[..line_end].matches('\n').count() + 1;
        let mut offset = (line_end + 1).min(text.len());
        for (i, l) in text[offset..].split_inclusive('\n').enumerate() {
            if !l.trim().is_empty() {
                let indent = l.len() - l.trim_start_matches(' ').len();
                return (
                    offset + indent,
                    QueryMap::Block {
                        first_line: first_line + i,
                        indent,
                    },
                );
            }
            offset += l.len();
        }
        return (text.len(), QueryMap::Verbatim);
    }
    // Quoted or plain scalar on the key's line.
    let skip = usize::from(after.starts_with('"') || after.starts_with('\''));
    (value_start + skip, QueryMap::Verbatim)
}

impl KqlRule {
    /// The file name used in diagnostics.
    pub fn file(&self) -> String {
        self.path.display().to_string()
    }

    /// Maps a byte offset in [`KqlRule::query`] to a byte offset in the file.
    pub fn file_offset(&self, query_offset: usize) -> usize {
        match self.query_map {
            QueryMap::Verbatim => self.query_offset + query_offset,
            QueryMap::Block { first_line, indent } => {
                let q = &self.query[..query_offset.min(self.query.len())];
                let line = q.matches('\n').count();
                let col = q.len() - q.rfind('\n').map_or(0, |i| i + 1);
                let mut offset = 0;
                for (i, l) in self.source.split_inclusive('\n').enumerate() {
                    if i == first_line + line {
                        let content = l.trim_end_matches(['\n', '\r']);
                        let lead =
                            (content.len() - content.trim_start_matches(' ').len()).min(indent);
                        return (offset + lead + col).min(self.source.len());
                    }
                    offset += l.len();
                }
                self.source.len()
            }
        }
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
    pub fn parse(&self) -> (Option<Query>, Vec<Diagnostic>) {
        let (q, diags) = crate::kql::parse(&self.query);
        (q, diags.into_iter().map(|d| self.relocate(d)).collect())
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
