//! Sigma engine benchmark: corpus load and compile time and peak memory, and events per second
//! for the Windows process_creation rules over one million generated Sysmon events, pre-parsed
//! and from JSON lines, single thread and all cores. `cargo bench --bench sigma`.
//!
//! It also writes the event pool as JSON lines and firedrill's per-rule match counts under
//! `target/sigma-bench/`, so `rsigma engine eval` can be run on the same rules and events (see
//! ARCHITECTURE.md, sigma).
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use firedrill::event::{Event, LogSchema};
use firedrill::generate::{self, Options};
use firedrill::sigma::{Config, Engine, RuleBody, RuleSet};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

const EVENTS: usize = 1_000_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scenario_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// A pool of distinct generated Sysmon events: every bundled scenario, with background
/// activity, over successive seeds.
fn event_pool(size: usize) -> Vec<Event> {
    let mut files = Vec::new();
    scenario_files(&root().join("scenarios"), &mut files);
    let scenarios: Vec<_> = files
        .iter()
        .filter_map(|f| firedrill::scenario::load(f).ok())
        .collect();
    let mut pool = Vec::with_capacity(size);
    let mut seed = 1;
    while pool.len() < size && !scenarios.is_empty() {
        for scenario in &scenarios {
            let options = Options {
                seed,
                ..Options::default()
            };
            pool.extend(generate::render(
                &generate::timeline(scenario, &options),
                LogSchema::Sysmon,
            ));
        }
        seed += 1;
    }
    pool.truncate(size);
    pool
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:.0} events/s", n as f64 / secs)
}

fn main() {
    let corpus = root().join("../shared/corpora/sigma");
    if !corpus.exists() {
        println!("skipped: {} is absent", corpus.display());
        return;
    }
    let dirs: Vec<PathBuf> = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-placeholder",
    ]
    .iter()
    .map(|d| corpus.join(d))
    .collect();

    // 1. The whole corpus.
    let start = Instant::now();
    let (set, load_diags) = RuleSet::load_paths(&dirs);
    let load = start.elapsed();
    let start = Instant::now();
    let (engine, compile_diags) = Engine::compile(&set, &Config::default());
    let compile = start.elapsed();
    let unusable = engine.rules().iter().filter(|r| !r.usable).count();
    println!(
        "corpus: {} rules loaded, {} failed to load, {} failed to compile, {} diagnostics",
        set.rules.len(),
        set.failed.len(),
        unusable,
        load_diags.len() + compile_diags.len()
    );
    println!(
        "corpus: load {:.0} ms + compile {:.0} ms = {:.0} ms; peak RSS {:.0} MiB",
        load.as_secs_f64() * 1e3,
        compile.as_secs_f64() * 1e3,
        (load + compile).as_secs_f64() * 1e3,
        peak_rss_mib()
    );
    drop(engine);

    // 2. The Windows process_creation rules.
    let pc = RuleSet {
        rules: set
            .rules
            .iter()
            .filter(|r| {
                matches!(r.body, RuleBody::Detection(_))
                    && r.logsource.product.as_deref() == Some("windows")
                    && r.logsource.category.as_deref() == Some("process_creation")
            })
            .cloned()
            .collect(),
        failed: Vec::new(),
    };
    let (engine, _) = Engine::compile(&pc, &Config::default());
    println!("process_creation: {} windows rules", pc.rules.len());
    for (class, rules, needles, always, fields) in engine.prefilter_stats() {
        println!(
            "  prefilter [{class}]: {rules} rules, {needles} needles over {fields} fields, {always} rules without a needle"
        );
    }

    let pool_size = 50_000;
    let start = Instant::now();
    let pool = event_pool(pool_size);
    println!(
        "events: a pool of {} distinct generated sysmon events (built in {:.1} s), cycled to {EVENTS}",
        pool.len(),
        start.elapsed().as_secs_f64()
    );
    if pool.is_empty() {
        println!("skipped: no scenario generated events");
        return;
    }

    // 3. Pre-parsed, one thread.
    let mut session = engine.session();
    let mut hits = 0usize;
    let start = Instant::now();
    for i in 0..EVENTS {
        hits += engine
            .matches_with(&pool[i % pool.len()], &mut session)
            .len();
    }
    let one = start.elapsed().as_secs_f64();
    println!(
        "pre-parsed, 1 thread: {} ({hits} matches)",
        rate(EVENTS, one)
    );

    // 4. Pre-parsed, all cores.
    let threads = rayon::current_num_threads();
    let start = Instant::now();
    let hits_all: usize = (0..EVENTS)
        .into_par_iter()
        .fold(
            || (engine.session(), 0usize),
            |(mut s, n), i| {
                let k = engine.matches_with(&pool[i % pool.len()], &mut s).len();
                (s, n + k)
            },
        )
        .map(|(_, n)| n)
        .sum();
    let all = start.elapsed().as_secs_f64();
    println!(
        "pre-parsed, {threads} threads: {} ({hits_all} matches)",
        rate(EVENTS, all)
    );

    // 5. From JSON lines.
    let lines: Vec<Vec<u8>> = pool
        .iter()
        .map(|e| {
            let mut plain = e.clone();
            plain.origin = None;
            serde_json::to_vec(&plain.to_json()).unwrap_or_default()
        })
        .collect();
    let options = firedrill::logs::ReadOptions::default();
    let start = Instant::now();
    let mut hits = 0usize;
    for i in 0..EVENTS {
        if let Ok(event) = firedrill::logs::json::parse_document(&lines[i % lines.len()], &options)
        {
            hits += engine.matches_with(&event, &mut session).len();
        }
    }
    let one = start.elapsed().as_secs_f64();
    println!(
        "json lines, 1 thread: {} ({hits} matches)",
        rate(EVENTS, one)
    );
    let start = Instant::now();
    let hits_all: usize = (0..EVENTS)
        .into_par_iter()
        .fold(
            || (engine.session(), 0usize),
            |(mut s, n), i| {
                let k = firedrill::logs::json::parse_document(&lines[i % lines.len()], &options)
                    .map_or(0, |e| engine.matches_with(&e, &mut s).len());
                (s, n + k)
            },
        )
        .map(|(_, n)| n)
        .sum();
    let all = start.elapsed().as_secs_f64();
    println!(
        "json lines, {threads} threads: {} ({hits_all} matches)",
        rate(EVENTS, all)
    );

    // 6. Material for the rsigma comparison: the pool, the rule list, per-rule counts.
    let out = root().join("target/sigma-bench");
    if std::fs::create_dir_all(&out).is_ok() {
        let mut jsonl = Vec::new();
        for line in &lines {
            jsonl.extend_from_slice(line);
            jsonl.push(b'\n');
        }
        let _ = std::fs::write(out.join("events.jsonl"), jsonl);
        let rules: Vec<String> = pc.rules.iter().map(|r| r.path.clone()).collect();
        let _ = std::fs::write(out.join("rules.txt"), rules.join("\n"));
        let mut counts: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (i, event) in pool.iter().enumerate() {
            for &r in engine.matches_with(event, &mut session) {
                let key = engine.rules()[r].id.clone().unwrap_or_default();
                counts.entry(key).or_default().push(i);
            }
        }
        let _ = std::fs::write(
            out.join("firedrill-matches.json"),
            serde_json::to_vec(&counts).unwrap_or_default(),
        );
        println!("wrote {}", out.display());
    }
}
