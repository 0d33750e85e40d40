//! Benchmark of recorded-log scanning: events per second and peak memory for JSON lines and
//! EVTX, single thread and all cores, against serde_json-alone and evtx-alone baselines, and
//! `rsigma` 0.23 on the same files and rules when it is installed.
//!
//! `cargo bench --bench scan [-- --events N] [--rules DIR]`. Inputs are synthesised once into
//! `target/bench-data/`: an EVTX of Sysmon EID 1 records built from SigmaHQ's regression
//! samples (mostly benign process creations, one in a thousand the sample's own detection), and
//! the same events as flat JSON lines. Each measurement runs in a child process so that its
//! peak resident memory (`VmHWM`) is its own. Needs `../shared` (the samples and the rules).
//!
//! Baselines, stated in the output: `serde_json` parses each line into a `serde_json::Value`;
//! `evtx-json` is the `evtx` crate alone rendering every record to JSON text (`records_json`,
//! what `evtx_dump` does) and `evtx-value` the same parsed into a `serde_json::Value`
//! (`records_json_value`). `read` is firedrill's reader materialising every field, `fields`
//! the reader keeping what the rules read (as a scan does), `scan` the whole pipeline (rule
//! loading timed apart). Rates are per wall-clock second and per CPU-second of the process.
//!
//! Last measured (2026-11-28, 1,000,000 events, the 1,183 windows/process_creation rules, main
//! at 0afd109, on a 2-core AMD EPYC otherwise idle; both engines report the same 1,316 matches
//! on the JSON lines; the EVTX baseline's 1-thread figure is from two reruns of that
//! measurement alone, the full run's having been disturbed):
//!
//! | input | measurement | events/s, 1 thread | ratio | 2 threads | peak MiB |
//! |---|---|---:|---:|---:|---:|
//! | JSON lines | serde_json alone | 86,657 | | 153,822 | 8 |
//! | JSON lines | firedrill scan | 232,946 | **2.69** | 342,994 | 89 |
//! | JSON lines | rsigma 0.23 `engine eval`, less its start-up | 29,800 | scan/rsigma **7.8** | | 91 |
//! | EVTX | evtx alone, JSON text (`records_json`) | 249,223–270,029 | | 382,215 | 5 |
//! | EVTX | firedrill scan | 191,921–207,655 | **0.71–0.83** | 308,947 | 86 |
//! | EVTX | evtx alone, JSON value (`records_json_value`) | 58,853 | scan/this 3.5 | 68,041 | 5 |
//! | EVTX | rsigma 0.23 | n/a: the crates.io binary has no `evtx` feature | | | |
//!
//! What this day's work did, by alternating runs of the binaries before and after:
//!
//! - Field names held inline (`event::Name`, 8d19bc2): reading every field of the JSON lines
//!   1.1–1.2x as fast (115,000–127,000 to 136,000–141,000 events/s), the EVTX scan 1.05–1.1x.
//! - The batch's key memo (`logs::json::KeyMemo`, 8df26fb and 0afd109): the JSON lines scan
//!   1.25–1.3x as fast (175,000–177,000 to 221,000–233,000 events/s; 2 threads 261,000 to
//!   322,000), reading every field 1.3x (129,000–142,000 to 178,000–185,000); on the same events
//!   written as Winlogbeat documents, the scan 1.2–1.25x (140,000–153,000 to 177,000–188,000).
//!
//! Peak memory is the compiled rules plus bounded batches: 84–94 MiB at 1,000,000 events (the
//! reader alone, 5–12 MiB).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark prints its figures"
)]

#[path = "../support.rs"]
mod support;
mod synth;

use firedrill::logs::scan::{self, ScanOptions};
use firedrill::logs::{self, FieldFilter, MapFn, ReadOptions};
use firedrill::sigma::{Config, Engine, RuleSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{cpu_time, peak_mib, root};

fn shared() -> PathBuf {
    root().join("../shared/corpora")
}

fn data_dir() -> PathBuf {
    root().join("target/bench-data")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    if let Some(mode) = flag("--measure") {
        let file = PathBuf::from(flag("--file").expect("--file"));
        let threads: usize = flag("--threads").map_or(1, |t| t.parse().unwrap_or(1));
        let rules = flag("--rules").map(PathBuf::from);
        measure(&mode, &file, threads, rules.as_deref());
        return;
    }
    if !shared().exists() {
        println!("skipped: {} is absent", shared().display());
        return;
    }
    let events: u64 = flag("--events").map_or(1_000_000, |n| n.parse().unwrap_or(1_000_000));
    let rules = flag("--rules").map_or_else(
        || shared().join("sigma/rules/windows/process_creation"),
        PathBuf::from,
    );
    std::fs::create_dir_all(data_dir()).expect("bench data directory");
    let evtx = data_dir().join(format!("sysmon-{events}.evtx"));
    let jsonl = data_dir().join(format!("sysmon-{events}.jsonl"));
    if !evtx.exists() {
        eprintln!("synthesising {}", evtx.display());
        synthesise_evtx(&evtx, events);
    }
    if !jsonl.exists() {
        eprintln!("writing {}", jsonl.display());
        write_jsonl(&evtx, &jsonl);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{events} Sysmon EID 1 events; rules: {}; {cores} cores\n",
        rules.display()
    );
    println!(
        "{:<44} {:>8} {:>12} {:>14} {:>10} {:>9}",
        "measurement", "threads", "events/s", "events/CPU-s", "seconds", "peak MiB"
    );
    let mut runs: Vec<(String, usize, Option<Run>)> = Vec::new();
    let json_modes: &[&str] = &["serde_json", "read", "fields", "scan"];
    let evtx_modes: &[&str] = &["evtx-json", "evtx-value", "read", "fields", "scan"];
    for (file, modes) in [(&jsonl, json_modes), (&evtx, evtx_modes)] {
        for &mode in modes {
            for threads in [1, cores] {
                let run = child(mode, file, threads, &rules);
                let label = format!("{mode} {}", file.file_name().unwrap().to_string_lossy());
                print_run(&label, threads, run.as_ref());
                runs.push((label, threads, run));
            }
        }
        // `rsigma engine eval` evaluates on one thread; it runs once.
        let run = rsigma(file, &rules, &jsonl);
        let label = format!("rsigma {}", file.file_name().unwrap().to_string_lossy());
        print_run(&label, 1, run.as_ref());
        runs.push((label, 1, run));
    }
    println!();
    let rate = |label: &str, threads: usize| {
        runs.iter()
            .find(|(l, t, _)| l.starts_with(label) && *t == threads)
            .and_then(|(_, _, r)| r.as_ref())
            .map(|r| (r.events as f64 / r.elapsed.as_secs_f64(), r.cpu_rate()))
    };
    println!("ratios of events per second (wall clock; in brackets per CPU-second, which other");
    println!("load on the machine disturbs less):");
    for threads in [1, cores] {
        for (ours, base, name) in [
            (
                "scan sysmon",
                "serde_json",
                "JSON lines: scan / serde_json alone",
            ),
            (
                "scan sysmon",
                "evtx-json",
                "EVTX: scan / evtx alone (JSON text)",
            ),
            (
                "scan sysmon",
                "evtx-value",
                "EVTX: scan / evtx alone (JSON value)",
            ),
            ("scan sysmon", "rsigma", "scan / rsigma"),
        ] {
            for ext in ["jsonl", "evtx"] {
                let ours_label = format!("{ours}-{events}.{ext}");
                let base_label = format!("{base} sysmon-{events}.{ext}");
                if let (Some(a), Some(b)) = (rate(&ours_label, threads), rate(&base_label, threads))
                {
                    println!(
                        "{name:<42} {ext:<6} {threads} thread(s): {:.2} ({:.2})",
                        a.0 / b.0,
                        a.1 / b.1
                    );
                }
            }
        }
    }
}

/// What one measurement found.
struct Run {
    events: u64,
    matches: u64,
    elapsed: Duration,
    /// User and system time of the measurement's process.
    cpu: Duration,
    peak_mib: f64,
}

impl Run {
    fn cpu_rate(&self) -> f64 {
        self.events as f64 / self.cpu.as_secs_f64()
    }
}

fn print_run(label: &str, threads: usize, run: Option<&Run>) {
    match run {
        Some(run) => println!(
            "{label:<44} {threads:>8} {:>12.0} {:>14.0} {:>10.2} {:>9.1}   matches: {}",
            run.events as f64 / run.elapsed.as_secs_f64(),
            run.cpu_rate(),
            run.elapsed.as_secs_f64(),
            run.peak_mib,
            run.matches
        ),
        None => println!("{label:<44} {threads:>8} {:>12}", "n/a"),
    }
}

/// Runs one measurement in a child process and parses its one-line result.
fn child(mode: &str, file: &Path, threads: usize, rules: &Path) -> Option<Run> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new(exe)
        .args(["--measure", mode, "--file"])
        .arg(file)
        .args(["--threads", &threads.to_string(), "--rules"])
        .arg(rules)
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("{mode} failed: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace();
    Some(Run {
        events: parts.next()?.parse().ok()?,
        matches: parts.next()?.parse().ok()?,
        elapsed: Duration::from_secs_f64(parts.next()?.parse().ok()?),
        cpu: Duration::from_secs_f64(parts.next()?.parse().ok()?),
        peak_mib: parts.next()?.parse().ok()?,
    })
}

/// The measurement itself, in the child: prints `events matches seconds cpu_seconds peak_mib`.
fn measure(mode: &str, file: &Path, threads: usize, rules: Option<&Path>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    drop(pool);
    let mut start = Instant::now();
    let mut cpu_start = cpu_time("self").unwrap_or_default();
    let (events, matches) = match mode {
        "serde_json" => serde_json_alone(file, threads),
        "evtx-json" => evtx_alone(file, threads, false),
        "evtx-value" => evtx_alone(file, threads, true),
        "read" => firedrill_read(file, threads, FieldFilter::All),
        "fields" | "scan" => {
            // Rule loading and compiling is a constant, not a rate: timed apart.
            let (set, _) = RuleSet::load_paths(&[rules.expect("--rules").to_path_buf()]);
            let (engine, _) = Engine::compile(&set, &Config::default());
            eprintln!(
                "rules loaded and compiled in {:.2}s",
                start.elapsed().as_secs_f64()
            );
            start = Instant::now();
            cpu_start = cpu_time("self").unwrap_or_default();
            if mode == "fields" {
                let filter = scan::field_filter(&engine, &Default::default());
                firedrill_read(file, threads, filter)
            } else {
                firedrill_scan(file, threads, engine)
            }
        }
        "check" => {
            let (events, stats) = logs::read_all(file, &ReadOptions::default()).unwrap();
            for d in &stats.diagnostics {
                eprintln!("{}", d.render());
            }
            if let Some((_, event)) = events.get(1) {
                eprintln!("{}", event.to_json());
            }
            (stats.events, stats.bad_records)
        }
        other => panic!("unknown measurement {other}"),
    };
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_time("self")
        .unwrap_or_default()
        .saturating_sub(cpu_start);
    println!(
        "{events} {matches} {elapsed} {} {}",
        cpu.as_secs_f64(),
        peak_mib()
    );
}

/// Baseline: `serde_json::Value` per line, lines in 1 MiB batches over the rayon pool.
fn serde_json_alone(file: &Path, threads: usize) -> (u64, u64) {
    use rayon::prelude::*;
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap());
    let mut count = 0u64;
    loop {
        let mut batches = Vec::new();
        for _ in 0..threads * 2 {
            let mut buf = Vec::with_capacity(1 << 20);
            while buf.len() < 1 << 20 && reader.read_until(b'\n', &mut buf).unwrap() > 0 {}
            if buf.is_empty() {
                break;
            }
            batches.push(buf);
        }
        if batches.is_empty() {
            break;
        }
        let parse = |buf: &Vec<u8>| {
            buf.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<serde_json::Value>(l).map_or(0, |_| 1))
                .sum::<u64>()
        };
        count += if threads == 1 {
            batches.iter().map(parse).sum::<u64>()
        } else {
            batches.par_iter().map(parse).sum::<u64>()
        };
    }
    (count, 0)
}

/// Baseline: the `evtx` crate alone, on its own worker pipeline: every record rendered to JSON
/// text (`records_json`, what `evtx_dump -o jsonl` does), or also parsed into a
/// `serde_json::Value` (`records_json_value`, the counterpart of the serde_json baseline).
fn evtx_alone(file: &Path, threads: usize, value: bool) -> (u64, u64) {
    let settings = evtx::ParserSettings::new()
        .num_threads(threads)
        .indent(false);
    let mut parser = evtx::EvtxParser::from_path(file)
        .unwrap()
        .with_configuration(settings);
    let count = if value {
        parser.records_json_value().filter(Result::is_ok).count()
    } else {
        parser.records_json().filter(Result::is_ok).count()
    };
    (count as u64, 0)
}

/// firedrill's readers alone: every field materialised (`read`), or only those the rules read
/// (`fields`, as a scan reads).
fn firedrill_read(file: &Path, threads: usize, fields: FieldFilter) -> (u64, u64) {
    let opts = ReadOptions {
        threads,
        fields,
        ..ReadOptions::default()
    };
    let map: MapFn<()> = Arc::new(|_| ());
    let mut count = 0u64;
    logs::read_file(file, &opts, &map, &mut |_, ()| count += 1).unwrap();
    (count, 0)
}

/// firedrill scanning: read (only the fields the rules read), route, evaluate, review.
fn firedrill_scan(file: &Path, threads: usize, engine: Engine) -> (u64, u64) {
    let opts = ScanOptions {
        read: ReadOptions {
            threads,
            ..ReadOptions::default()
        },
        // As a review page lists them; the JSON report's every match would measure the list.
        max_matches_per_rule: scan::REVIEW_MAX_MATCHES_PER_RULE,
        ..ScanOptions::default()
    };
    let report = scan::scan(&[file.to_path_buf()], &Arc::new(engine), &opts);
    (report.summary.events, report.summary.matches as u64)
}

/// `rsigma engine eval` on the same file and rules, timed from outside, less its start-up
/// (loading the rules: the same run over the first event of `lines`); peak memory read from
/// `/proc/<pid>/status` while it runs. `None` when rsigma is not installed or cannot read the
/// file (the crates.io binary is built without its `evtx` feature and reads an EVTX file as
/// lines of text).
fn rsigma(file: &Path, rules: &Path, lines: &Path) -> Option<Run> {
    let exe = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/rsigma"))?;
    if !exe.exists() {
        return None;
    }
    // The crates.io binary reads EVTX only when built with its `evtx` feature: ask it about a
    // one-record file before handing it a large one.
    if file.extension().is_some_and(|e| e == "evtx") {
        let probe = root().join("fixtures/logs/evtx/sysmon-1-curl.evtx");
        rsigma_run(&exe, &probe, rules)?;
    }
    let one = data_dir().join("one-event.jsonl");
    let first = BufReader::new(std::fs::File::open(lines).ok()?)
        .lines()
        .next()?
        .ok()?;
    std::fs::write(&one, first + "\n").ok()?;
    let startup = rsigma_run(&exe, &one, rules)?;
    let mut run = rsigma_run(&exe, file, rules)?;
    eprintln!(
        "rsigma start-up (rules): {:.2}s",
        startup.elapsed.as_secs_f64()
    );
    run.elapsed = run.elapsed.saturating_sub(startup.elapsed);
    run.cpu = run.cpu.saturating_sub(startup.cpu);
    Some(run)
}

fn rsigma_run(exe: &Path, file: &Path, rules: &Path) -> Option<Run> {
    let mut input = std::ffi::OsString::from("@");
    input.push(file);
    let errors = data_dir().join("rsigma.stderr");
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(["engine", "eval", "--no-stats", "-r"])
        .arg(rules)
        .arg("-e")
        .arg(input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&errors).ok()?)
        .spawn()
        .ok()?;
    let pid = child.id();
    let stdout = child.stdout.take()?;
    let counter = std::thread::spawn(move || BufReader::new(stdout).lines().count() as u64);
    let mut peak = 0f64;
    let mut cpu = Duration::ZERO;
    loop {
        cpu = cpu_time(&pid.to_string()).unwrap_or(cpu);
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        {
            peak = peak.max(kib / 1024.0);
        }
        if child.try_wait().ok()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let matches = counter.join().ok()?;
    let elapsed = start.elapsed();
    if std::fs::read_to_string(&errors).is_ok_and(|e| e.contains("Error reading line")) {
        eprintln!("rsigma cannot read {}", file.display());
        return None;
    }
    let events = count_lines_or_records(file);
    Some(Run {
        events,
        matches,
        elapsed,
        cpu,
        peak_mib: peak,
    })
}

fn count_lines_or_records(file: &Path) -> u64 {
    let opts = ReadOptions {
        threads: 0,
        fields: FieldFilter::only(["EventID"]),
        ..ReadOptions::default()
    };
    let map: MapFn<()> = Arc::new(|_| ());
    let mut count = 0;
    let _ = logs::read_file(file, &opts, &map, &mut |_, ()| count += 1);
    count
}

/// Builds the EVTX: chunks from every EID 1 sample in turn, one record in a thousand with the
/// sample's own (malicious) values, the rest benign.
fn synthesise_evtx(path: &Path, events: u64) {
    let samples_root = shared().join("sigma-regression-sample/regression_data");
    let (files, _) = logs::discover(&[samples_root]);
    let samples: Vec<synth::Sample> = files
        .iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "evtx")
                && p.to_string_lossy().contains("process_creation")
        })
        .filter_map(|p| synth::Sample::load(p))
        .collect();
    assert!(!samples.is_empty(), "no Sysmon EID 1 samples");
    let temp = path.with_extension("partial");
    let mut out = BufWriter::new(std::fs::File::create(&temp).unwrap());
    out.write_all(&vec![0u8; 4096]).unwrap();
    let mut next_id = 1u64;
    let mut chunks = 0u64;
    // 2025-11-01T00:00:00Z as a FILETIME.
    let mut time = (1_761_955_200u64 + 11_644_473_600) * 10_000_000;
    while next_id <= events {
        let sample = &samples[chunks as usize % samples.len()];
        let values = |id: u64| {
            (!id.is_multiple_of(1000)).then(|| clone_values(&synth::BENIGN[(id % 10) as usize]))
        };
        let (chunk, written) = sample.chunk(next_id, time, values, events + 1 - next_id);
        out.write_all(&chunk).unwrap();
        next_id += written;
        time += written * 10_000;
        chunks += 1;
    }
    let header = samples[0].file_header(chunks, next_id);
    let mut file = out.into_inner().unwrap();
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    file.write_all(&header).unwrap();
    drop(file);
    std::fs::rename(temp, path).unwrap();
}

fn clone_values(v: &synth::Values<'static>) -> synth::Values<'static> {
    synth::Values {
        image: v.image,
        command_line: v.command_line,
        parent_image: v.parent_image,
        parent_command_line: v.parent_command_line,
        original_file_name: v.original_file_name,
        user: v.user,
        description: v.description,
        company: v.company,
    }
}

/// The same events as flat JSON lines (System and EventData fields at the top level).
fn write_jsonl(evtx: &Path, path: &Path) {
    let temp = path.with_extension("partial");
    let mut out = BufWriter::new(std::fs::File::create(&temp).unwrap());
    let opts = ReadOptions {
        threads: 0,
        ..ReadOptions::default()
    };
    let map: MapFn<Vec<u8>> = Arc::new(|event| serde_json::to_vec(&event.to_json()).unwrap());
    logs::read_file(evtx, &opts, &map, &mut |_, line| {
        out.write_all(&line).unwrap();
        out.write_all(b"\n").unwrap();
    })
    .unwrap();
    out.flush().unwrap();
    drop(out);
    std::fs::rename(temp, path).unwrap();
}
