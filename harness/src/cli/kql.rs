//! `firedrill kql`: run one KQL query over tables given as JSON lines.

use super::Exit;
use crate::event::{Event, LogSchema};
use crate::kql::{self, Database};
use std::path::PathBuf;

/// Arguments of `firedrill kql`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = crate::kql::SUBSET_REFERENCE)]
pub struct Args {
    /// The query file: `.kql` (one query, or a script of queries separated by blank lines, each
    /// run on its own), or a Sentinel rule YAML with a `query:` field (one query).
    #[arg(long, value_name = "FILE")]
    pub query: PathBuf,
    /// A table: `NAME=FILE.jsonl`, one JSON object per line (repeatable). Tables the catalog
    /// knows (DeviceProcessEvents, SecurityEvent, imProcessCreate, ...) get their published
    /// column types; others are typed from their values. Known tables not given are empty.
    /// Recorded Sysmon 1, Security 4688 and Defender process events given as imProcessCreate
    /// are normalised as Sentinel's ASIM parsers do.
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
                errln!("error: --now `{text}` is not an RFC 3339 time: {e}");
                return Exit::InputError;
            }
        },
        None => chrono::Utc::now(),
    };
    let mut db = Database::new(now);
    for spec in &args.tables {
        let Some((name, path)) = spec.split_once('=') else {
            errln!("error: --table `{spec}` must be NAME=FILE.jsonl");
            return Exit::InputError;
        };
        match read_json_lines(path, kql::schema::asim_process_function(name)) {
            Ok(events) => db.bind(name, &events),
            Err(message) => {
                errln!("error: {message}");
                return Exit::InputError;
            }
        }
    }
    for spec in &args.watchlists {
        let Some((name, path)) = spec.split_once('=') else {
            errln!("error: --watchlist `{spec}` must be ALIAS[:SEARCHKEY]=FILE.jsonl");
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
    let runs = match run_file(&args.query, &db) {
        Ok(runs) => runs,
        Err(diagnostics) => {
            super::print_diagnostics(&diagnostics);
            return Exit::InputError;
        }
    };
    let ran_all = runs.iter().all(|r| r.evaluation.table.is_some());
    match (args.format, runs.as_slice()) {
        (Format::Json, [one]) if one.lines.is_none() => {
            super::print_diagnostics(&one.evaluation.diagnostics);
            if let Some(table) = &one.evaluation.table {
                outln!("{}", table.to_json());
            }
        }
        (Format::Json, _) => {
            let blocks: Vec<serde_json::Value> = runs.iter().map(BlockRun::to_json).collect();
            outln!("{}", serde_json::json!({ "blocks": blocks }));
        }
        (Format::Table, _) => {
            for (i, run) in runs.iter().enumerate() {
                if let Some((first, last)) = run.lines {
                    outln!(
                        "{}query {} of {} (lines {first}-{last})",
                        if i == 0 { "" } else { "\n" },
                        i + 1,
                        runs.len()
                    );
                }
                super::print_diagnostics(&run.evaluation.diagnostics);
                if let Some(table) = &run.evaluation.table {
                    out!("{}", render_table(table));
                }
            }
        }
    }
    if ran_all {
        Exit::Success
    } else {
        Exit::InputError
    }
}

/// One query's outcome; `lines` (first, last) when it is a block of a script.
struct BlockRun {
    lines: Option<(usize, usize)>,
    evaluation: kql::Evaluation,
}

impl BlockRun {
    /// `{"lines":[first,last],"columns":...,"rows":...}`, or with `"diagnostics"` when it failed.
    fn to_json(&self) -> serde_json::Value {
        let mut out = match &self.evaluation.table {
            Some(table) => table.to_json(),
            None => serde_json::json!({}),
        };
        if let Some((first, last)) = self.lines {
            out["lines"] = serde_json::json!([first, last]);
        }
        if !self.evaluation.diagnostics.is_empty() {
            out["diagnostics"] = serde_json::json!(self.evaluation.diagnostics);
        }
        out
    }
}

/// Parses and runs the query file. A Sentinel rule YAML is one query (a script there is
/// `KQL0108`); a `.kql` file may be a script of queries separated by blank lines, as query
/// editors run them ([`kql::script`]): every block runs on its own. `Err` when nothing parses.
fn run_file(
    path: &std::path::Path,
    db: &Database,
) -> Result<Vec<BlockRun>, Vec<crate::Diagnostic>> {
    let is_yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if is_yaml {
        let rule = kql::rule::load(path)?;
        let (query, mut diagnostics) = rule.parse();
        let Some(query) = query else {
            return Err(diagnostics);
        };
        let mut evaluation = kql::evaluate_full(&query, db, Some(("<query>", &rule.query)));
        diagnostics.extend(evaluation.diagnostics.drain(..).map(|d| rule.relocate(d)));
        evaluation.diagnostics = diagnostics;
        return Ok(vec![BlockRun {
            lines: None,
            evaluation,
        }]);
    }
    let file = path.display().to_string();
    let text =
        crate::encoding::read_source(path, &file, "IO0001", "the query").map_err(|d| vec![*d])?;
    let run = |query: &kql::ast::Query, mut diagnostics: Vec<crate::Diagnostic>| {
        let mut evaluation = kql::evaluate_full(query, db, Some((&file, &text)));
        diagnostics.append(&mut evaluation.diagnostics);
        evaluation.diagnostics = diagnostics;
        evaluation
    };
    match kql::parse_text(&file, &text) {
        (kql::Parsed::Query(query), diagnostics) => Ok(vec![BlockRun {
            lines: None,
            evaluation: run(&query, diagnostics),
        }]),
        (kql::Parsed::Script(script), _) => Ok(script
            .blocks
            .into_iter()
            .map(|block| BlockRun {
                lines: Some(block.lines),
                evaluation: match &block.query {
                    Some(query) => run(query, block.diagnostics),
                    None => kql::Evaluation {
                        table: None,
                        diagnostics: block.diagnostics,
                    },
                },
            })
            .collect()),
        (kql::Parsed::Invalid, diagnostics) => Err(diagnostics),
    }
}

/// Reads a table's rows. For `imProcessCreate` (`asim`), a recorded Sysmon event 1, Security
/// event 4688 or Defender `DeviceProcessEvents` row becomes its ASIM row, as in `firedrill scan`
/// ([`crate::logs::asim`]); other rows are taken as they are.
fn read_json_lines(path: &str, asim: bool) -> Result<Vec<Event>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let text = crate::encoding::decode(text)
        .map_err(|fault| format!("cannot read `{path}`: {}", fault.message))?;
    let mut events = Vec::new();
    let options = crate::logs::ReadOptions::default();
    let mut memo = crate::logs::json::KeyMemo::new(&options);
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A recorded process creation becomes its ASIM row; the line is parsed once either way.
        let recorded = asim
            .then(|| crate::logs::json::parse_document_with(line.as_bytes(), &mut memo).ok())
            .flatten()
            .and_then(|event| crate::logs::asim::process_create_row(&event));
        if let Some(row) = recorded {
            events.push(row);
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
