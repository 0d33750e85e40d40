//! KQL rules in a scan: `.kql` files and Sentinel rule YAML, run over the tables the scanned
//! rows make up.
//!
//! Each scanned event that is a row of a table some query reads (a Defender advanced-hunting
//! export row, a Sentinel `SecurityEvent`, an ASIM row; [`recognize::table_of`]) is kept, in
//! file order; after reading, the rows of each table are bound into one
//! [`crate::kql::Database`] whose `now()` is `--now` or the latest time in the data,
//! and every query runs once with [`kql::evaluate_full`](crate::kql::evaluate_full). Each result
//! row is a hit; its provenance names the input events it came from.
//!
//! Unlike Sigma matching, this holds the rows of the tables the queries read in memory: a
//! query may join, summarise or sort the whole table.

use super::FieldFilter;
use super::recognize;
use crate::diag::Diagnostic;
use crate::event::Event;
use crate::event::LogSchema;
use crate::kql::ast::Query;
use crate::kql::bind::canonical;
use crate::kql::rule::KqlRule;
use crate::kql::{Catalog, Database, Table};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// The rows `event` adds to `tables` (the tables the queries read, by [canonical] name): the
/// index of the one it is itself a row of ([`recognize::table_of`]), and, when a recorded
/// process creation of another schema meets a query that reads `imProcessCreate`, its ASIM row
/// ([`super::asim`]).
pub fn rows_of(event: &Event, tables: &[String]) -> (Option<usize>, Option<(usize, Event)>) {
    if tables.is_empty() {
        return (None, None);
    }
    let own = recognize::table_of(event).and_then(|name| tables.iter().position(|t| t == name));
    let asim = (event.schema != LogSchema::Asim)
        .then(|| tables.iter().position(|t| t == "imProcessCreate"))
        .flatten()
        .and_then(|t| Some((t, super::asim::process_create_row(event)?)));
    (own, asim)
}

/// One loaded query.
#[derive(Debug)]
pub struct ScanQuery {
    /// The rule file as loaded.
    pub rule: KqlRule,
    /// The parsed query.
    pub query: Query,
    /// The tables it reads.
    pub tables: Vec<String>,
}

impl ScanQuery {
    /// The rule's key in reports: its id, or its name.
    pub fn key(&self) -> String {
        self.rule
            .id
            .clone()
            .unwrap_or_else(|| self.rule.name.clone())
    }
}

/// The KQL rules of a scan.
#[derive(Debug, Default)]
pub struct KqlRules {
    /// The usable queries.
    pub queries: Vec<ScanQuery>,
    /// Rule files that failed to load, parse or resolve.
    pub failed: usize,
}

/// What one query found.
#[derive(Debug)]
pub struct QueryResult {
    /// The query's index in [`KqlRules::queries`].
    pub query: usize,
    /// The result table (rows keep their provenance); `None` when the query failed.
    pub table: Option<Table>,
    /// Errors and warnings of the run.
    pub diagnostics: Vec<Diagnostic>,
}

impl KqlRules {
    /// Loads KQL rule files. A file that does not load, parse, or resolve against the catalog
    /// (unknown table, column or function) is counted in `failed` with its diagnostics.
    pub fn load(files: &[PathBuf]) -> (KqlRules, Vec<Diagnostic>) {
        let mut rules = KqlRules::default();
        let mut diagnostics = Vec::new();
        for path in files {
            let rule = match crate::kql::rule::load(path) {
                Ok(rule) => rule,
                Err(errors) => {
                    rules.failed += 1;
                    diagnostics.extend(errors);
                    continue;
                }
            };
            let (query, mut found) = rule.parse();
            if let Some(query) = &query
                && !found.iter().any(Diagnostic::is_error)
            {
                // Resolving over empty tables: unknown columns and functions are load errors.
                let run = crate::kql::evaluate_full(
                    query,
                    &Database::new(DateTime::UNIX_EPOCH),
                    Some((&rule.file(), &rule.query)),
                );
                found.extend(run.diagnostics.into_iter().map(|d| rule.relocate(d)));
            }
            let usable = !found.iter().any(Diagnostic::is_error);
            diagnostics.extend(found);
            match query.filter(|_| usable) {
                Some(query) => rules.queries.push(ScanQuery {
                    tables: query.tables_read(),
                    rule,
                    query,
                }),
                None => rules.failed += 1,
            }
        }
        (rules, diagnostics)
    }

    /// True when there are no usable queries.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// The tables the queries read, by [canonical] name (every name of `imProcessCreate` is
    /// that one), in first-use order.
    pub fn tables(&self) -> Vec<String> {
        let mut tables: Vec<String> = Vec::new();
        for name in self.queries.iter().flat_map(|q| &q.tables) {
            let name = canonical(name);
            if !tables.iter().any(|t| t == name) {
                tables.push(name.to_string());
            }
        }
        tables
    }

    /// The fields reading must keep for the queries: every catalog column of the tables they
    /// read, and what recognising a row's table needs; everything when a query reads a table
    /// the catalog does not know.
    pub fn field_filter(&self) -> FieldFilter {
        let mut names: Vec<String> = recognize::TABLE_HINTS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for table in self.tables() {
            if table == "imProcessCreate" {
                names.extend(super::asim::SOURCE_FIELDS.iter().map(|s| s.to_string()));
            }
            match Catalog::builtin().get(&table) {
                Some(schema) => names.extend(schema.columns.iter().map(|c| c.name.clone())),
                None => return FieldFilter::All,
            }
        }
        FieldFilter::only(names)
    }

    /// A `LOG0012` warning for each table some query reads that no scanned event was a row of:
    /// those queries ran over an empty table, so their silence says nothing about the logs. One
    /// warning per table (a hunting repository may hold hundreds of queries over one table),
    /// naming the rule file when one query reads it, else listing the files in notes.
    pub fn unfed(&self, tables: &[(String, Vec<Event>)]) -> Vec<Diagnostic> {
        /// Rule files listed per warning; the rest are counted.
        const LISTED: usize = 10;
        let mut warnings = Vec::new();
        for (table, rows) in tables {
            if !rows.is_empty() {
                continue;
            }
            let files: Vec<String> = self
                .queries
                .iter()
                .filter(|q| q.tables.iter().any(|t| canonical(t) == table))
                .map(|q| q.rule.file())
                .collect();
            let (message, file) = match files.as_slice() {
                [] => continue,
                [one] => (
                    format!(
                        "the query reads `{table}`, and no scanned event is a row of it: it ran over an empty table"
                    ),
                    Some(one.clone()),
                ),
                many => (
                    format!(
                        "{} queries read `{table}`, and no scanned event is a row of it: they ran over an empty table",
                        many.len()
                    ),
                    None,
                ),
            };
            let mut warning = Diagnostic::warning("LOG0012", message).with_help(
                "scan logs that hold the table: Defender advanced-hunting exports for `Device*` tables; Sysmon event 1, Security event 4688 or Defender `DeviceProcessEvents` rows for `imProcessCreate` (normalised as Sentinel's ASIM parsers do); Security event 4688 for `SecurityEvent`",
            );
            match file {
                Some(file) => warning = warning.in_file(file),
                None => {
                    for file in files.iter().take(LISTED) {
                        warning = warning.with_note(format!("read by {file}"));
                    }
                    if files.len() > LISTED {
                        warning = warning.with_note(format!("and {} more", files.len() - LISTED));
                    }
                }
            }
            warnings.push(warning);
        }
        warnings
    }

    /// Runs every query over `tables` (table name → its rows, in scan order) with `now()` at
    /// `now`.
    pub fn run(&self, tables: &[(String, Vec<Event>)], now: DateTime<Utc>) -> Vec<QueryResult> {
        let mut db = Database::new(now);
        for (name, events) in tables {
            db.bind(name, events);
        }
        self.queries
            .iter()
            .enumerate()
            .map(|(index, query)| {
                let file = query.rule.file();
                let run =
                    crate::kql::evaluate_full(&query.query, &db, Some((&file, &query.rule.query)));
                QueryResult {
                    query: index,
                    table: run.table,
                    diagnostics: run
                        .diagnostics
                        .into_iter()
                        .map(|d| query.rule.relocate(d))
                        .collect(),
                }
            })
            .collect()
    }
}
