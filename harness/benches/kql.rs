//! KQL throughput: both seed queries over one million generated rows, in rows per second.
//!
//! Run with `cargo bench --bench kql`. Renders a month of IIS and ArcGIS Server activity (with
//! web-shell commands) as Defender and ASIM rows, binds them (timed), repeats the bound rows to one
//! million (each keeping its own provenance), and times each seed query as written.
//!
//! Last measured (2026-11-26, release profile, a 2-core machine shared with other builds):
//! detect-suspicious-commands-initiated-by-web-server-processes over 1,000,000 `mde` rows in
//! 522 ms (1.9 million rows/s); suspicious-arcsoc-child-process over 1,000,000 `asim` rows in
//! 1,499 ms (0.67 million rows/s); each returns exactly the web-shell rows (179 events).
#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

use firedrill::event::LogSchema;
use firedrill::generate::{self, Options};
use firedrill::kql::{self, Database, EventRef, Row, Table};
use std::path::Path;
use std::time::Instant;

const ROWS: usize = 1_000_000;

const SCENARIO: &str = r#"
format_version: 1
name: a month of IIS and ArcGIS Server
host: { name: WEB01, domain: CORP }
start: 2025-11-01T00:00:00Z
duration: 30d
background: [iis, windows-server]
processes:
  - id: w3wp
    image: 'C:\Windows\System32\inetsrv\w3wp.exe'
    at: +29d
    children:
      - id: cmd
        image: 'C:\Windows\System32\cmd.exe'
        command_line: 'cmd.exe /c whoami'
  - id: soc
    image: 'C:\Program Files\ArcGIS\Server\framework\runtime\ArcGIS\bin\ArcSOC.exe'
    at: +29d
    children:
      - id: ps
        image: 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe'
        command_line: 'powershell.exe -nop -c "whoami"'
"#;

/// One million rows cycling through `table`'s rows, each its own event.
fn tile(table: &Table, name: &str) -> Table {
    let name: std::sync::Arc<str> = std::sync::Arc::from(name);
    let rows = table
        .rows
        .iter()
        .cycle()
        .take(ROWS)
        .enumerate()
        .map(|(index, row)| Row {
            values: row.values.clone(),
            sources: vec![EventRef {
                table: std::sync::Arc::clone(&name),
                index,
            }],
        })
        .collect();
    Table {
        columns: table.columns.clone(),
        rows,
        open: false,
        serialized: false,
    }
}

fn main() {
    let scenario = firedrill::scenario::parse("bench.yaml", SCENARIO).expect("valid scenario");
    let timeline = generate::timeline(&scenario, &Options::default());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = [
        (
            "detect-suspicious-commands-initiated-by-web-server-processes",
            "fixtures/rules/kql/detect-suspicious-commands-initiated-by-web-server-processes.yaml",
            LogSchema::Mde,
        ),
        (
            "suspicious-arcsoc-child-process",
            "fixtures/rules/kql/suspicious-arcsoc-child-process.kql",
            LogSchema::Asim,
        ),
    ];
    let end = timeline.end();
    for (name, file, schema) in seeds {
        let rendered = generate::render(&timeline, schema);
        let rule = kql::rule::load(root.join(file)).expect("seed rule loads");
        let (query, diags) = rule.parse();
        let query = query.unwrap_or_else(|| panic!("{diags:?}"));
        let mut db = Database::new(end);
        let started = Instant::now();
        let table_name = db
            .bind_rendering(schema, &rendered)
            .expect("a KQL table serves it");
        let bind = started.elapsed().as_secs_f64();
        let bound = db.table(table_name).expect("bound");
        let big = tile(&bound, table_name);
        drop(bound);
        db.bind_table(table_name, big);
        let started = Instant::now();
        let table = kql::evaluate(&query, &db).expect("seed query runs");
        let eval = started.elapsed().as_secs_f64();
        println!(
            "{name}: {ROWS} {schema} rows in {:.0} ms = {:.0} rows/s ({} result rows from {} events); binding {} rendered events: {:.0} events/s",
            eval * 1000.0,
            ROWS as f64 / eval,
            table.rows.len(),
            table.sources().len(),
            rendered.len(),
            rendered.len() as f64 / bind,
        );
    }
}
