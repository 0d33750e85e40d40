//! Defender advanced hunting CSV exports (and any CSV or TSV with a header row): one event
//! per row, cells named by the header, empty cells absent.

use super::source::Input;
use super::{FileStats, MapFn, ReadOptions, pipeline, recognize};
use crate::diag::Diagnostic;

/// Rows per batch handed to the workers.
const BATCH_ROWS: usize = 4096;

/// Reads a CSV input; the index of an event is its row number, 0 for the first row after
/// the header.
pub(crate) fn read<T: Send + 'static>(
    input: Input,
    opts: &ReadOptions,
    map: &MapFn<T>,
    sink: &mut dyn FnMut(u64, T),
    stats: &mut FileStats,
) -> Result<(), Diagnostic> {
    let name = input.path.display().to_string();
    let tabs = name
        .to_ascii_lowercase()
        .trim_end_matches(".gz")
        .ends_with(".tsv");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tabs { b'\t' } else { b',' })
        .flexible(true)
        .from_reader(input.reader);
    let header = reader
        .headers()
        .map_err(|e| {
            Diagnostic::error("LOG0006", format!("unreadable CSV header: {e}"))
                .in_file(name.clone())
        })?
        .clone();
    let mut rows = reader.into_records();
    let mut next_index = 0u64;
    let mut bad: Vec<(u64, String)> = Vec::new();
    let next_batch = || {
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        for row in rows.by_ref() {
            let index = next_index;
            next_index += 1;
            match row {
                Ok(row) => batch.push((index, row)),
                Err(e) => bad.push((index, e.to_string())),
            }
            if batch.len() == BATCH_ROWS {
                break;
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    };
    let work = |batch: Vec<(u64, csv::StringRecord)>| {
        batch
            .into_iter()
            .map(|(index, row)| {
                let cells = header.iter().zip(row.iter());
                (index, map(recognize::from_row(cells, opts)))
            })
            .collect::<Vec<_>>()
    };
    let consume = |done: Vec<(u64, T)>| {
        opts.count(done.len() as u64);
        stats.events += done.len() as u64;
        for (index, item) in done {
            sink(index, item);
        }
    };
    pipeline(opts.worker_threads(), next_batch, work, consume)?;
    for (index, message) in bad {
        stats.bad_records += 1;
        stats.warn(
            Diagnostic::warning("LOG0006", format!("row {}: skipped: {message}", index + 1))
                .in_file(name.clone()),
        );
    }
    Ok(())
}
