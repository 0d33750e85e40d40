//! `firedrill kql`: run one KQL query over tables given as JSON lines.

use super::Exit;
use crate::event::{Event, LogSchema};
use crate::kql::{self, Database};
use std::path::PathBuf;

/// Arguments of `firedrill kql`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = crate::kql::SUBSET_REFERENCE)]
pub struct Args {
    /// The query file (`.kql`, or a Sentinel rule YAML with a `query:` field).
    #[arg(long, value_name = "FILE")]
    pub query: PathBuf,
    /// A table: `NAME=FILE.jsonl`, one JSON object per line (repeatable). Tables the catalog
    /// knows (DeviceProcessEvents, SecurityEvent, imProcessCreate, ...) get their published
    /// column types; others are typed from their values. Known tables not given are empty.
    #[arg(long = "table", value_name = "NAME=FILE")]
    pub tables: Vec<String>,
    /// A Microsoft Sentinel watchlist for `_GetWatchlist('ALIAS')`: `ALIAS[:SEARCHKEY]=FILE.jsonl`,
    /// one JSON object per item (repeatable); SEARCHKEY names the field copied into `SearchKey`.
    /// Watchlists not given read as empty, with a warning.
    #[arg(long = "watchlist", value_name = "ALIAS[:KEY]=FILE")]
    pub watchlists: Vec<String>,
    /// The clock `now()` and `ago()` read, RFC 3339 (default: the current time).
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Output formats of `firedrill kql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for a person.
    Table,
    /// `{"columns":[{"name","type"}...],"rows":[[...],...]}`.
    Json,
}

/// Runs `firedrill kql`.
pub fn run(args: Args) -> Exit {
    let now = match &args.now {
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(e) => {
                eprintln!("error: --now `{text}` is not an RFC 3339 time: {e}");
                return Exit::InputError;
            }
        },
        None => chrono::Utc::now(),
    };
    let mut db = Database::new(now);
    for spec in &args.tables {
        let Some((name, path)) = spec.split_once('=') else {
            eprintln!("error: --table `{spec}` must be NAME=FILE.jsonl");
            return Exit::InputError;
        };
        match read_json_lines(path) {
            Ok(events) => db.bind(name, &events),
            Err(message) => {
                eprintln!("error: {message}");
                return Exit::InputError;
            }
        }
    }
    for spec in &args.watchlists {
        let Some((name, path)) = spec.split_once('=') else {
            eprintln!("error: --watchlist `{spec}` must be ALIAS[:SEARCHKEY]=FILE.jsonl");
            return Exit::InputError;
        };
        let (alias, key) = match name.split_once(':') {
            Some((alias, key)) => (alias, Some(key)),
            None => (name, None),
        };
        match kql::rule::load_watchlist(path) {
            Ok(items) => db.bind_watchlist(alias, key, &items),
            Err(diagnostics) => {
                super::print_diagnostics(&diagnostics);
                return Exit::InputError;
            }
        }
    }
    let (file, text) = match load_query(&args.query) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            super::print_diagnostics(&diagnostics);
            return Exit::InputError;
        }
    };
    let run = kql::run_text(&file, &text, &db);
    super::print_diagnostics(&run.diagnostics);
    let Some(table) = run.table else {
        return Exit::InputError;
    };
    match args.format {
        Format::Json => println!("{}", table.to_json()),
        Format::Table => print!("{}", render_table(&table)),
    }
    Exit::Success
}

/// The query text and the name diagnostics use: a `.kql` file as is, a rule YAML's `query:`.
fn load_query(path: &std::path::Path) -> Result<(String, String), Vec<crate::Diagnostic>> {
    let is_yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if is_yaml {
        let rule = kql::rule::load(path)?;
        return Ok((path.display().to_string(), rule.query.clone()));
    }
    std::fs::read_to_string(path)
        .map(|text| (path.display().to_string(), text))
        .map_err(|e| {
            vec![
                crate::Diagnostic::error("IO0001", format!("cannot read the query: {e}"))
                    .in_file(path.display().to_string()),
            ]
        })
}

fn read_json_lines(path: &str) -> Result<Vec<Event>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("{path}:{}: not a JSON object: {e}", n + 1))?;
        let Some(object) = value.as_object() else {
            return Err(format!("{path}:{}: not a JSON object", n + 1));
        };
        events.push(Event::from_json(LogSchema::Other, object));
    }
    Ok(events)
}

fn render_table(table: &kql::Table) -> String {
    let header: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| r.values.iter().map(|v| v.to_kql_string()).collect())
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let line = |values: &[String]| -> String {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| {
                let v: String = v.chars().take(*w).collect();
                format!("{v:<w$}")
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = line(&header);
    out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in &cells {
        out += &line(row);
    }
    out += &format!("({} rows)\n", table.rows.len());
    out
}
