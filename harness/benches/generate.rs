//! Generation throughput: a month of IIS and Windows background, timed per stage and schema.
//!
//! Run with `cargo bench --bench generate`. Prints events per second for building the timeline
//! and for rendering it into each schema.
#![allow(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

use firedrill::event::LogSchema;
use firedrill::generate::{self, Options};
use std::time::Instant;

const SCENARIO: &str = r#"
format_version: 1
name: a month of IIS
host: { name: WEB01, domain: CORP }
start: 2025-11-01T00:00:00Z
duration: 30d
background: [iis, windows-server]
processes:
  - id: w3wp
    image: 'C:\Windows\System32\inetsrv\w3wp.exe'
    children:
      - id: cmd
        image: 'C:\Windows\System32\cmd.exe'
        command_line: 'cmd.exe /c whoami'
"#;

fn main() {
    let scenario = firedrill::scenario::parse("bench.yaml", SCENARIO).expect("valid scenario");
    let options = Options::default();
    let started = Instant::now();
    let timeline = generate::timeline(&scenario, &options);
    let elapsed = started.elapsed().as_secs_f64();
    let events = timeline.creations.len();
    println!(
        "timeline: {events} creations in {:.1} ms ({:.0} events/s)",
        elapsed * 1000.0,
        events as f64 / elapsed
    );
    for schema in LogSchema::GENERATED {
        let started = Instant::now();
        let rendered = generate::render(&timeline, schema);
        let render = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let bytes: usize = rendered
            .iter()
            .map(|e| e.to_json().to_string().len() + 1)
            .sum();
        let json = started.elapsed().as_secs_f64();
        println!(
            "{schema:>12}: {} events rendered in {:.1} ms ({:.0} events/s); JSON lines in {:.1} ms ({:.0} bytes/event)",
            rendered.len(),
            render * 1000.0,
            rendered.len() as f64 / render,
            json * 1000.0,
            bytes as f64 / rendered.len().max(1) as f64
        );
    }
}
