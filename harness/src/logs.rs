//! Readers for recorded logs: EVTX and JSON lines, streamed, with schema detection.
//!
//! Every reader turns a file into a stream of [`Event`]s in constant memory, each paired with
//! its 0-based index in the file (the EVTX record ordinal, the JSON line number, the CSV row
//! number), and hands them to a caller-supplied `map` that runs on worker threads; the results
//! come back to a `sink` in file order. What it reads:
//!
//! - EVTX through the `evtx` crate, every channel; a damaged chunk (bad checksum, bad header)
//!   is skipped with a `LOG0003` warning and counted in [`FileStats::skipped_chunks`], a record
//!   that fails to render with a `LOG0004` warning in [`FileStats::bad_records`];
//! - JSON lines (flat, Winlogbeat raw, Winlogbeat after Elastic's ingest pipeline, evtx_dump,
//!   Defender advanced hunting rows and its streaming-API wrapper), and multi-line JSON
//!   documents (evtx_dump's default output, pretty-printed files, one top-level array);
//! - Defender advanced hunting CSV exports;
//! - any of these gzip-compressed; directories walked recursively ([`discover`]).
//!
//! Only the fields a [`FieldFilter`] asks for are materialised, plus the ones recognition
//! needs (`recognize`). Bad input never panics: unreadable files are `LOG0001`/`LOG0005`
//! errors, bad records warnings.
#![allow(
    clippy::result_large_err,
    reason = "a diagnostic is returned once per unreadable file; boxing it would burden every caller"
)]

use crate::diag::Diagnostic;
use crate::event::Event;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

pub use crate::hash::FxHasher;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub mod asim;
pub mod delimited;
pub mod evtx;
pub mod json;
pub mod kql;
pub mod recognize;
pub mod review;
pub mod scan;
pub mod source;
pub mod text;

pub use recognize::parse_time;
pub use source::Format;

/// Which fields to materialise. Anything else is skipped while parsing.
#[derive(Clone, Debug, Default)]
pub enum FieldFilter {
    /// Every field (keyword searches read every value).
    #[default]
    All,
    /// Only the named fields (plus what recognition and routing need).
    Only(Wanted),
}

/// The field names a set of rules reads, indexed for the parser's three questions.
///
/// The parser asks about every key of every document, so each question is one lookup with a
/// multiply-rotate hash ([`FxHasher`]) rather than SipHash: the keys are field names from the
/// rules, not input an attacker chooses.
#[derive(Clone, Debug, Default)]
pub struct Wanted {
    /// Per name: `NAME` when wanted as a top-level or event-data field (`Image`;
    /// `IntegrityLevel` from `winlog.event_data.IntegrityLevel`), `TOP` when the first
    /// component of a dotted name (`process` for `process.parent.executable`).
    keys: HashMap<String, u8, BuildHasherDefault<FxHasher>>,
    /// Second components of `winlog.*` names (`user` for `winlog.user.name`).
    winlog: HashSet<String, BuildHasherDefault<FxHasher>>,
}

const NAME: u8 = 1;
const TOP: u8 = 2;

impl Wanted {
    fn add(&mut self, key: &str, flag: u8) {
        *self.keys.entry(key.to_string()).or_default() |= flag;
    }

    fn has(&self, key: &str, flags: u8) -> bool {
        self.keys.get(key).is_some_and(|f| f & flags != 0)
    }
}

impl FieldFilter {
    /// A filter keeping exactly `names` (dotted names keep their whole top-level object).
    pub fn only<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> FieldFilter {
        let mut wanted = Wanted::default();
        for name in names {
            let name = name.as_ref();
            wanted.add(name, NAME);
            if let Some((top, rest)) = name.split_once('.') {
                wanted.add(top, TOP);
                if top == "winlog" {
                    let second = rest.split('.').next().unwrap_or(rest);
                    wanted.winlog.insert(second.to_string());
                    if let Some(field) = rest.strip_prefix("event_data.") {
                        wanted.add(field, NAME);
                    }
                }
            }
        }
        FieldFilter::Only(wanted)
    }

    /// The union of two filters.
    pub fn union(self, other: FieldFilter) -> FieldFilter {
        match (self, other) {
            (FieldFilter::Only(mut a), FieldFilter::Only(b)) => {
                for (key, flags) in b.keys {
                    a.add(&key, flags);
                }
                a.winlog.extend(b.winlog);
                FieldFilter::Only(a)
            }
            _ => FieldFilter::All,
        }
    }

    /// Whether a top-level key is wanted (itself, or as the root of a dotted name).
    pub fn wants_top(&self, key: &str) -> bool {
        match self {
            FieldFilter::All => true,
            FieldFilter::Only(w) => w.has(key, NAME | TOP),
        }
    }

    /// Whether an event-data (or System) field is wanted.
    pub fn wants_data(&self, key: &str) -> bool {
        match self {
            FieldFilter::All => true,
            FieldFilter::Only(w) => w.has(key, NAME),
        }
    }

    /// Whether a `winlog.<key>` object is wanted (ECS documents keep it).
    pub fn wants_winlog(&self, key: &str) -> bool {
        match self {
            FieldFilter::All => true,
            FieldFilter::Only(w) => w.winlog.contains(key),
        }
    }
}

/// How to read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Which fields to materialise.
    pub fields: FieldFilter,
    /// A field to take the timestamp from before the recognised ones (`UtcTime`,
    /// `@timestamp`, `timestamp`, `Timestamp`, `TimeGenerated`).
    pub time_field: Option<String>,
    /// Worker threads within one file: 1 reads inline; 0 means all cores.
    pub threads: usize,
    /// Incremented by the number of events read, for a progress display.
    pub progress: Option<Arc<AtomicU64>>,
}

impl ReadOptions {
    /// The number of worker threads this asks for.
    pub fn worker_threads(&self) -> usize {
        match self.threads {
            0 => rayon::current_num_threads().max(1),
            n => n,
        }
    }

    fn count(&self, events: u64) {
        if let Some(progress) = &self.progress {
            progress.fetch_add(events, Ordering::Relaxed);
        }
    }
}

/// What reading one file found.
#[derive(Clone, Debug, Default)]
pub struct FileStats {
    /// The file.
    pub path: PathBuf,
    /// Its format, as sniffed.
    pub format: Option<Format>,
    /// Whether it was gzip-compressed.
    pub compressed: bool,
    /// Events read and handed to `map`.
    pub events: u64,
    /// Records (lines, rows, EVTX records) that could not be parsed and were skipped.
    pub bad_records: u64,
    /// EVTX chunks that were damaged and skipped.
    pub skipped_chunks: u64,
    /// Warnings, at most [`MAX_WARNINGS`] of them plus one saying how many more there were.
    pub diagnostics: Vec<Diagnostic>,
    suppressed: u64,
}

/// How many warnings one file keeps before it only counts them.
pub const MAX_WARNINGS: usize = 20;

impl FileStats {
    fn new(path: &Path) -> FileStats {
        FileStats {
            path: path.to_path_buf(),
            ..FileStats::default()
        }
    }

    fn warn(&mut self, diagnostic: Diagnostic) {
        if self.diagnostics.len() < MAX_WARNINGS {
            self.diagnostics.push(diagnostic);
        } else {
            self.suppressed += 1;
        }
    }

    fn finish(mut self) -> FileStats {
        if self.suppressed > 0 {
            self.diagnostics.push(
                Diagnostic::new(
                    crate::diag::Severity::Note,
                    "LOG0008",
                    format!("{} more warnings not shown", self.suppressed),
                )
                .in_file(self.path.display().to_string()),
            );
        }
        self
    }
}

/// The per-event work a reader runs on its worker threads.
pub type MapFn<T> = Arc<dyn Fn(Event) -> T + Send + Sync>;

/// Reads one file: every event goes through `map` (on worker threads), and every result, with
/// the event's 0-based index in the file, reaches `sink` in file order.
///
/// An unreadable or unrecognisable file is an error; bad records and damaged chunks are
/// warnings in the returned [`FileStats`].
pub fn read_file<T: Send + 'static>(
    path: &Path,
    opts: &ReadOptions,
    map: &MapFn<T>,
    sink: &mut dyn FnMut(u64, T),
) -> Result<FileStats, Diagnostic> {
    let mut stats = FileStats::new(path);
    let input = source::open(path)?;
    stats.format = Some(input.format);
    stats.compressed = input.compressed;
    match input.format {
        Format::Evtx => evtx::read(input, opts, map, sink, &mut stats)?,
        Format::JsonLines | Format::JsonDocuments => {
            text::read(input, opts, map, sink, &mut stats)?;
        }
        Format::Csv => delimited::read(input, opts, map, sink, &mut stats)?,
    }
    Ok(stats.finish())
}

/// Reads every event of one file into memory, in file order, with its index. For tests and
/// small files; scanning uses [`read_file`].
pub fn read_all(
    path: &Path,
    opts: &ReadOptions,
) -> Result<(Vec<(u64, Event)>, FileStats), Diagnostic> {
    let map: MapFn<Event> = Arc::new(|event| event);
    let mut events = Vec::new();
    let stats = read_file(path, opts, &map, &mut |index, event| {
        events.push((index, event))
    })?;
    Ok((events, stats))
}

/// The outcome of reading one file: its stats and the sink's state, or why it could not be read.
pub type FileResult<S> = Result<(FileStats, S), Diagnostic>;

/// Reads many files at once (up to one per core), each with [`read_file`]; `new_state` makes
/// the per-file sink's state, and the results come back in the order of `paths`.
pub fn read_files<T, S>(
    paths: &[PathBuf],
    opts: &ReadOptions,
    map: &MapFn<T>,
    new_state: impl Fn() -> S + Sync,
    sink: impl Fn(&mut S, u64, T) + Sync,
) -> Vec<(PathBuf, FileResult<S>)>
where
    T: Send + 'static,
    S: Send,
{
    let mut results = Vec::with_capacity(paths.len());
    read_files_in_order(paths, opts, map, new_state, sink, |_, path, result| {
        results.push((path, result));
    });
    results
}

/// Like [`read_files`], but each file's outcome goes to `merge` as soon as it and every file
/// before it in `paths` are done, in the order of `paths` (with its position there), so the
/// caller can fold the per-file states into one as the scan goes: only the files read out of
/// turn wait, not every file until the end.
pub fn read_files_in_order<T, S>(
    paths: &[PathBuf],
    opts: &ReadOptions,
    map: &MapFn<T>,
    new_state: impl Fn() -> S + Sync,
    sink: impl Fn(&mut S, u64, T) + Sync,
    merge: impl FnMut(usize, PathBuf, FileResult<S>) + Send,
) where
    T: Send + 'static,
    S: Send,
{
    /// Files done but not yet merged (an earlier one is still being read), the next position
    /// to merge, and the merge itself.
    struct Merger<S, F> {
        next: usize,
        waiting: std::collections::BTreeMap<usize, FileResult<S>>,
        merge: F,
    }
    let next_file = AtomicUsize::new(0);
    let workers = opts.worker_threads().min(paths.len()).max(1);
    let merger = std::sync::Mutex::new(Merger {
        next: 0,
        waiting: std::collections::BTreeMap::new(),
        merge,
    });
    // Plain threads, not rayon workers: a file's reader blocks while its own work runs on the
    // rayon pool, which would deadlock a pool whose threads all wait.
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next_file.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let mut state = new_state();
                    let result = read_file(path, opts, map, &mut |index, item| {
                        sink(&mut state, index, item)
                    })
                    .map(|stats| (stats, state));
                    // A poisoned lock means another file's merge panicked; that panic is
                    // re-raised when the scope ends.
                    let Ok(mut merger) = merger.lock() else { break };
                    merger.waiting.insert(i, result);
                    loop {
                        let next = merger.next;
                        let Some(result) = merger.waiting.remove(&next) else {
                            break;
                        };
                        (merger.merge)(next, paths[next].clone(), result);
                        merger.next += 1;
                    }
                }
            });
        }
    });
}

/// File names a directory walk picks up: `.evtx`, `.json`, `.jsonl`, `.ndjson`, `.csv`, and
/// the same with `.gz`.
pub fn is_log_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".evtx", ".json", ".jsonl", ".ndjson", ".csv"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Expands the command line's paths: files as given, directories walked recursively (log
/// files only, sorted). A path that does not exist is a `LOG0001` error.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            if let Err(e) = walk(path, &mut files) {
                errors.push(io_error(path, &e));
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(
                Diagnostic::error("LOG0001", "no such file or directory")
                    .in_file(path.display().to_string()),
            );
        }
    }
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files)?;
        } else if is_log_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// A `LOG0001` error for a file that cannot be read.
pub(crate) fn io_error(path: &Path, error: &io::Error) -> Diagnostic {
    Diagnostic::error(
        "LOG0001",
        format!("cannot read: {}", lowercase_first(&error.to_string())),
    )
    .in_file(path.display().to_string())
}

/// Library error texts start with a capital; diagnostics are lowercase fragments.
pub(crate) fn lowercase_first(text: &str) -> String {
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !chars.clone().next().is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// Runs `work` over batches, up to `2 × threads` at a time on the rayon pool (inline when
/// `threads` is 1), handing each result to `consume` in batch order. Memory stays bounded by
/// the batches in flight.
pub(crate) fn pipeline<B: Send, R: Send>(
    threads: usize,
    mut next_batch: impl FnMut() -> Result<Option<B>, Diagnostic>,
    work: impl Fn(B) -> R + Sync,
    mut consume: impl FnMut(R),
) -> Result<(), Diagnostic> {
    use rayon::prelude::*;
    if threads <= 1 {
        while let Some(batch) = next_batch()? {
            consume(work(batch));
        }
        return Ok(());
    }
    let wave = threads * 2;
    loop {
        let mut batches = Vec::with_capacity(wave);
        while batches.len() < wave {
            match next_batch()? {
                Some(batch) => batches.push(batch),
                None => break,
            }
        }
        if batches.is_empty() {
            return Ok(());
        }
        let done = batches.len() < wave;
        let results: Vec<R> = batches.into_par_iter().map(&work).collect();
        results.into_iter().for_each(&mut consume);
        if done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_answer_for_dotted_and_winlog_names() {
        let filter = FieldFilter::only([
            "Image",
            "process.parent.executable",
            "winlog.event_data.IntegrityLevel",
        ]);
        assert!(filter.wants_top("Image"));
        assert!(filter.wants_top("process"));
        assert!(!filter.wants_top("host"));
        assert!(filter.wants_data("IntegrityLevel"));
        assert!(filter.wants_winlog("event_data"));
        assert!(!filter.wants_winlog("user"));
        assert!(FieldFilter::All.wants_data("anything"));
    }

    #[test]
    fn library_errors_become_lowercase_fragments() {
        assert_eq!(lowercase_first("No such file."), "no such file");
        assert_eq!(lowercase_first("EOF reached"), "EOF reached");
    }
}
