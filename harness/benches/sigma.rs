//! Sigma engine benchmark: corpus load and compile time and peak memory, and events per second
//! for the Windows process_creation rules over one million generated Sysmon events, pre-parsed
//! and from JSON lines, single thread and all cores. `cargo bench --bench sigma`.
//!
//! It also writes the event pool as JSON lines and firedrill's per-rule match counts under
//! `target/sigma-bench/`, so `rsigma engine eval` can be run on the same rules and events (see
//! ARCHITECTURE.md, sigma).
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

#[path = "support.rs"]
mod support;

use firedrill::event::{Event, LogSchema};
use firedrill::generate::{self, Options};
use firedrill::logs::ReadOptions;
use firedrill::logs::json::KeyMemo;
use firedrill::sigma::{Config, Engine, RuleBody, RuleSet, Session};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;
use support::root;

/// Events a reader hands over at a time, in the hot pre-parsed measurement: 64 events (about
/// 200 KB) stay in a core's cache; 1,024 (3 MB) did not, here, and measured no faster than the
/// cycled pool.
const BATCH: usize = 64;

/// Distinct events in the second hot measurement (a tenth of the default pool).
const SMALL_POOL: usize = 5_000;

/// A positive count from environment variable `name`, or `default` when it is unset or not one.
fn count_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Distinct events in the pool that is cycled (`SIGMA_BENCH_POOL` overrides: a small pool makes
/// nearly every event a remembered verdict, which measures that path alone).
fn pool_size() -> usize {
    count_from_env("SIGMA_BENCH_POOL", 50_000)
}

/// Events per measurement (`SIGMA_BENCH_EVENTS` overrides, for quick runs;
/// `SIGMA_BENCH_PHASES=pre-parsed` stops after the pre-parsed figures,
/// `SIGMA_BENCH_PHASES=cycled` after the first of them (one thread over the cycled pool), and
/// `SIGMA_BENCH_PHASES=corpus` after the corpus load and compile, for profiling; see also
/// `SIGMA_BENCH_POOL`).
fn events() -> usize {
    count_from_env("SIGMA_BENCH_EVENTS", 1_000_000)
}

/// Times the corpus is loaded and compiled (`SIGMA_BENCH_CORPUS_RUNS` overrides): on a shared
/// machine one run can take half as long again as the next, so the best and the median are
/// reported.
fn corpus_runs() -> usize {
    count_from_env("SIGMA_BENCH_CORPUS_RUNS", 5)
}

/// CPU seconds this thread (or, with `process`, the whole process) has used: on a shared machine
/// wall-clock rates understate the engine, so the bench reports both.
fn cpu_seconds(process: bool) -> f64 {
    let task = if process { "self" } else { "thread-self" };
    support::cpu_time(task).map_or(0.0, |t| t.as_secs_f64())
}

/// Times `f` in wall-clock and CPU seconds.
fn timed<T>(process: bool, f: impl FnOnce() -> T) -> (T, f64, f64) {
    let cpu = cpu_seconds(process);
    let start = Instant::now();
    let out = f();
    (
        out,
        start.elapsed().as_secs_f64(),
        cpu_seconds(process) - cpu,
    )
}

/// True when `SIGMA_BENCH_PHASES` says to stop after `phase`.
fn phases_end(phase: &str) -> bool {
    std::env::var("SIGMA_BENCH_PHASES").is_ok_and(|p| p == phase)
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

/// A session of `engine` for a measurement: one sharing verdicts with the engine's other
/// sessions, or with `SIGMA_BENCH_SOLITARY=1` one keeping them to itself, for comparison.
fn new_session(engine: &Engine) -> Session {
    if std::env::var("SIGMA_BENCH_SOLITARY").is_ok_and(|v| v == "1") {
        engine.solitary_session()
    } else {
        engine.session()
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

fn rate(n: usize, wall: f64, cpu: f64) -> String {
    format!(
        "{:.0} events/s wall-clock, {:.0} events per CPU-second",
        n as f64 / wall,
        n as f64 / cpu.max(1e-9)
    )
}

fn main() {
    let corpus = root().join("../shared/corpora/sigma");
    if !corpus.exists() {
        println!("skipped: {} is absent", corpus.display());
        return;
    }
    let dirs: Vec<PathBuf> = firedrill::sigma::SIGMAHQ_RULE_DIRS
        .iter()
        .map(|d| corpus.join(d))
        .collect();

    // 1. The whole corpus, loaded and compiled a few times; the peak memory is the first run's
    // (each run's rules and engine are dropped before the next loads; the last run's rules stay).
    // Both use every core: CPU time is the whole process's.
    let runs = corpus_runs();
    let mut times = Vec::with_capacity(runs);
    let mut peak = None;
    let mut kept = None;
    for _ in 0..runs {
        drop(kept.take());
        let ((set, load_diags), load, load_cpu) = timed(true, || RuleSet::load_paths(&dirs));
        let ((engine, compile_diags), compile, compile_cpu) =
            timed(true, || Engine::compile(&set, &Config::default()));
        if peak.is_none() {
            let unusable = engine.rules().iter().filter(|r| !r.usable).count();
            println!(
                "corpus: {} rules loaded, {} failed to load, {} failed to compile, {} diagnostics",
                set.rules.len(),
                set.failed.len(),
                unusable,
                load_diags.len() + compile_diags.len()
            );
            peak = Some(support::peak_mib());
        }
        times.push((load + compile, load, compile, load_cpu + compile_cpu));
        drop(engine);
        kept = Some(set);
    }
    let Some(set) = kept else { return };
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (_, load, compile, cpu) = times[0];
    println!(
        "corpus: load {:.0} ms + compile {:.0} ms = {:.0} ms wall-clock on {} threads ({:.0} ms CPU), best of {runs} runs (median {:.0} ms); peak RSS {:.0} MiB",
        load * 1e3,
        compile * 1e3,
        (load + compile) * 1e3,
        rayon::current_num_threads(),
        cpu * 1e3,
        times[runs / 2].0 * 1e3,
        peak.unwrap_or(0.0)
    );
    if phases_end("corpus") {
        return;
    }

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
    // Each measurement below takes an engine of its own: the verdicts an engine's sessions
    // remember are shared, so a second pass over the pool would start from what the first left.
    let compile = || Engine::compile(&pc, &Config::default()).0;
    let engine = compile();
    println!("process_creation: {} windows rules", pc.rules.len());
    for (class, rules, needles, always, fields) in engine.prefilter_stats() {
        println!(
            "  prefilter [{class}]: {rules} rules, {needles} needles over {fields} fields, {always} rules without a needle"
        );
    }

    let (generated, built, _) = timed(false, || event_pool(pool_size()));
    // The pool is a store of pre-parsed events, copied afresh in one go (see `Event`): each
    // event's map and texts one after another, rather than in the holes its render left.
    let pool = generated.to_vec();
    println!(
        "events: a pool of {} distinct generated sysmon events (built in {built:.1} s), copied afresh and cycled to {}",
        pool.len(),
        events()
    );
    if pool.is_empty() {
        println!("skipped: no scenario generated events");
        return;
    }

    let n = events();
    let threads = rayon::current_num_threads();
    // Thread `t`'s batches when every thread takes BATCH events in turn, as a scan's workers
    // take what the reader hands over: batches t, t + T, t + 2T, ... of T threads.
    let batch_starts = |t: usize| (t * BATCH..n).step_by(threads * BATCH);
    let one_thread = |f: &(dyn Fn(&Engine, usize, &mut Session) -> usize + Sync)| {
        let engine = compile();
        let mut session = new_session(&engine);
        let out = timed(false, || {
            (0..n).map(|i| f(&engine, i, &mut session)).sum::<usize>()
        });
        let (hits, misses) = session.memo_figures();
        let (known, unknown) = session.verdict_figures();
        let (memo_slots, verdict_slots) = session.table_slots();
        println!(
            "  prefilter memo: {:.1}% of field texts scanned found memoised ({hits} of {}); {:.1}% of verdicts known from an earlier event ({known} of {}); the largest memo and verdict tables grew to {memo_slots} and {verdict_slots} slots",
            100.0 * hits as f64 / (hits + misses).max(1) as f64,
            hits + misses,
            100.0 * known as f64 / (known + unknown).max(1) as f64,
            known + unknown
        );
        out
    };
    // One session per thread, as `firedrill scan` keeps one per worker (rayon's `fold` would
    // start a fresh session for every piece it splits off, each with cold tables of its own),
    // taking batches in turn (`batch_starts`).
    let all_cores = |f: &(dyn Fn(&Engine, usize, &mut Session) -> usize + Sync)| {
        let engine = compile();
        timed(true, || {
            (0..threads)
                .into_par_iter()
                .map(|t| {
                    let mut session = new_session(&engine);
                    batch_starts(t)
                        .flat_map(|from| from..n.min(from + BATCH))
                        .map(|i| f(&engine, i, &mut session))
                        .sum::<usize>()
                })
                .sum::<usize>()
        })
    };

    // 3. Pre-parsed. First one pass over the distinct events with a fresh session, so the scan
    // memo starts cold and no event repeats; then the cycled measurements.
    let mut cold = new_session(&engine);
    let (hits, wall, cpu) = timed(false, || {
        pool.iter()
            .map(|e| engine.matches_with(e, &mut cold).len())
            .sum::<usize>()
    });
    let (memo_hits, memo_misses) = cold.memo_figures();
    let (known, unknown) = cold.verdict_figures();
    println!(
        "pre-parsed, 1 thread, one pass over the {} distinct events (cold memo, {:.1}% of texts scanned found memoised, {:.1}% of verdicts known, {:.1}% by what the scans found): {} ({hits} matches)",
        pool.len(),
        100.0 * memo_hits as f64 / (memo_hits + memo_misses).max(1) as f64,
        100.0 * known as f64 / (known + unknown).max(1) as f64,
        100.0 * cold.found_verdicts() as f64 / (known + unknown).max(1) as f64,
        rate(pool.len(), wall, cpu)
    );
    // A figure the machine's noise does not touch, for comparing prefilters.
    println!(
        "  prefilter: {:.2} rules evaluated per event in that pass (of {})",
        cold.evaluated as f64 / pool.len() as f64,
        pc.rules.len()
    );
    let pre_parsed = |engine: &Engine, i: usize, s: &mut Session| {
        engine.matches_with(&pool[i % pool.len()], s).len()
    };
    let (hits, wall, cpu) = one_thread(&pre_parsed);
    println!(
        "pre-parsed, 1 thread: {} ({hits} matches)",
        rate(n, wall, cpu)
    );
    // The same events where the generator left them: their texts among its temporaries.
    let engine = compile();
    let mut session = new_session(&engine);
    let (hits, wall, cpu) = timed(false, || {
        (0..n)
            .map(|i| {
                engine
                    .matches_with(&generated[i % generated.len()], &mut session)
                    .len()
            })
            .sum::<usize>()
    });
    println!(
        "pre-parsed, 1 thread, the pool as generated (not copied afresh): {} ({hits} matches)",
        rate(n, wall, cpu)
    );
    drop(generated);
    if phases_end("cycled") {
        return;
    }
    let (hits, wall, cpu) = all_cores(&pre_parsed);
    println!(
        "pre-parsed, {threads} threads: {} ({hits} matches)",
        rate(n, wall, cpu)
    );

    // Pre-parsed and hot, as a reader hands events over: each batch is cloned from the pool
    // (untimed) just before it is evaluated, so the engine reads events in cache, where the
    // cycled pool above (about 3.5 KB an event of 28 fields, 175 MB in all) comes from main memory.
    // The batches of the cycled `pool` starting at `starts` (below `n`), on this thread:
    // (matches, seconds evaluating, CPU-seconds evaluating).
    let hot_share = |engine: &Engine, pool: &[Event], starts: &mut dyn Iterator<Item = usize>| {
        let mut session = new_session(engine);
        let (mut hits, mut wall, mut cpu_ns) = (0, 0.0, 0);
        let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
        for at in starts {
            batch.clear();
            batch.extend((at..n.min(at + BATCH)).map(|i| pool[i % pool.len()].clone()));
            let cpu_before = support::thread_cpu_ns().unwrap_or(0);
            let start = Instant::now();
            hits += batch
                .iter()
                .map(|e| engine.matches_with(e, &mut session).len())
                .sum::<usize>();
            wall += start.elapsed().as_secs_f64();
            cpu_ns += support::thread_cpu_ns().unwrap_or(0) - cpu_before;
        }
        (hits, wall, cpu_ns as f64 / 1e9)
    };
    let hot = |pool: &[Event]| hot_share(&compile(), pool, &mut (0..n).step_by(BATCH));
    let (hits, wall, cpu) = hot(&pool);
    println!(
        "pre-parsed, 1 thread, events handed over hot in batches of {BATCH}: {} ({hits} matches)",
        rate(n, wall, cpu)
    );
    // The same on every core, one session per thread taking batches in turn: the wall-clock
    // figure is the slowest thread's time evaluating (each clones its batches untimed while the
    // others may be evaluating, so the figure includes their contention for memory).
    let engine = compile();
    let shares: Vec<(usize, f64, f64)> = (0..threads)
        .into_par_iter()
        .map(|t| hot_share(&engine, &pool, &mut batch_starts(t)))
        .collect();
    let hits: usize = shares.iter().map(|s| s.0).sum();
    let wall = shares.iter().map(|s| s.1).fold(0.0, f64::max);
    let cpu: f64 = shares.iter().map(|s| s.2).sum();
    println!(
        "pre-parsed, {threads} threads, events handed over hot in batches of {BATCH}: {} ({hits} matches)",
        rate(n, wall, cpu)
    );
    // The same over fewer distinct events: how fast a remembered verdict is depends on how many
    // there are (more of them, more memory the lookups reach), so a host whose activity recurs
    // more runs faster.
    if pool.len() > SMALL_POOL {
        let (hits, wall, cpu) = hot(&pool[..SMALL_POOL]);
        println!(
            "pre-parsed, 1 thread, hot, the first {SMALL_POOL} distinct events only: {} ({hits} matches)",
            rate(n, wall, cpu)
        );
    }

    if phases_end("pre-parsed") {
        return;
    }

    // 4. From JSON lines (parsed by the logs reader, every field materialised: a keyword rule
    // among these searches every value, so `firedrill scan` materialises them all too).
    let lines: Vec<Vec<u8>> = pool
        .iter()
        .map(|e| {
            let mut plain = e.clone();
            plain.origin = None;
            serde_json::to_vec(&plain.to_json()).unwrap_or_default()
        })
        .collect();
    // One key memo per thread, as the reader keeps one per batch on each worker.
    static OPTIONS: std::sync::LazyLock<ReadOptions> = std::sync::LazyLock::new(Default::default);
    thread_local! {
        static MEMO: std::cell::RefCell<KeyMemo<'static>> =
            std::cell::RefCell::new(KeyMemo::new(&OPTIONS));
    }
    let from_json = |engine: &Engine, i: usize, s: &mut Session| {
        MEMO.with_borrow_mut(|memo| {
            firedrill::logs::json::parse_document_with(&lines[i % lines.len()], memo)
        })
        .map_or(0, |e| engine.matches_with(&e, s).len())
    };
    let (hits, wall, cpu) = one_thread(&from_json);
    println!(
        "json lines, 1 thread: {} ({hits} matches)",
        rate(n, wall, cpu)
    );
    let (hits, wall, cpu) = all_cores(&from_json);
    println!(
        "json lines, {threads} threads: {} ({hits} matches)",
        rate(n, wall, cpu)
    );
    let engine = compile();
    let mut session = new_session(&engine);

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
        println!(
            "prefilter: {:.1} rules evaluated per event (of {})",
            session.evaluated as f64 / pool.len() as f64,
            pc.rules.len()
        );
        let _ = std::fs::write(
            out.join("firedrill-matches.json"),
            serde_json::to_vec(&counts).unwrap_or_default(),
        );
        println!("wrote {}", out.display());
    }
}
