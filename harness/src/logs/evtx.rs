//! EVTX files through the `evtx` crate: every record of every channel, on the crate's worker
//! pipeline. A record is read straight from its template's substitution values when its
//! template has the usual shape (`evtx::direct`); otherwise it is rendered to JSON and parsed by
//! the light parser (evtx_dump layout). Both make the same event.
//!
//! Chunk checksums are validated: a damaged chunk is skipped with a `LOG0003` warning naming
//! it and the records its header claims, and counted in [`FileStats::skipped_chunks`]; a record
//! that fails to render is a `LOG0004` warning counted in [`FileStats::bad_records`]. Record
//! indices are ordinals in record order; a skipped chunk's records take no index.

use super::source::Input;
use super::{FileStats, MapFn, ReadOptions, json};
use crate::diag::Diagnostic;
use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

mod direct;

/// What the per-record closure produces on the worker threads.
type Rendered<T> = Result<T, (u64, String)>;

/// Reads an EVTX input (decompressing a gzip-compressed one to a temporary file first).
pub(crate) fn read<T: Send + 'static>(
    input: Input,
    opts: &ReadOptions,
    map: &MapFn<T>,
    sink: &mut dyn FnMut(u64, T),
    stats: &mut FileStats,
) -> Result<(), Diagnostic> {
    let path = input.path.clone();
    let io = |e: std::io::Error| super::io_error(&path, &e);
    let mut file = if input.compressed {
        let mut temp = tempfile::tempfile().map_err(io)?;
        let mut reader = input.reader;
        std::io::copy(&mut reader, &mut temp).map_err(io)?;
        temp.seek(SeekFrom::Start(0)).map_err(io)?;
        temp
    } else {
        drop(input.reader);
        File::open(&path).map_err(io)?
    };
    let parser = EvtxParser::from_read_seek(file.try_clone().map_err(io)?).map_err(|e| {
        Diagnostic::error(
            "LOG0007",
            format!("not a readable EVTX file: {}", chain(&e)),
        )
        .in_file(path.display().to_string())
    })?;
    let threads = opts.worker_threads();
    let settings = ParserSettings::new()
        .num_threads(threads)
        .validate_checksums(true)
        .indent(false);
    let mut parser = parser.with_configuration(settings);
    let shared = Arc::new(opts.clone());
    let work = Arc::clone(map);
    let mut plans = direct::Plans::new(Arc::clone(&shared));
    let records = parser.serialized_records(move |record| {
        let record = record?;
        if let Some(event) = plans.event(&record) {
            return Ok(Ok(work(event)));
        }
        let rendered = record.into_json_bytes()?;
        Ok(match json::parse_document(&rendered.data, &shared) {
            Ok(event) => Ok(work(event)),
            Err(message) => Err((rendered.event_record_id, message)),
        })
    });
    let name = path.display().to_string();
    let mut index = 0u64;
    let mut pending = 0u64;
    for item in records {
        let item: Result<Rendered<T>, EvtxError> = item;
        match item {
            Ok(Ok(value)) => {
                sink(index, value);
                index += 1;
                stats.events += 1;
                pending += 1;
                if pending == 4096 {
                    opts.count(pending);
                    pending = 0;
                }
            }
            Ok(Err((record_id, message))) => {
                index += 1;
                stats.bad_records += 1;
                stats.warn(
                    Diagnostic::warning(
                        "LOG0004",
                        format!(
                            "record {record_id} skipped: rendered JSON did not parse: {message}"
                        ),
                    )
                    .in_file(name.clone()),
                );
            }
            Err(EvtxError::FailedToParseChunk { chunk_id, source }) => {
                stats.skipped_chunks += 1;
                let claimed = claimed_records(&mut file, chunk_id)
                    .map(|(first, last)| format!(" (its header claims records {first} to {last})"))
                    .unwrap_or_default();
                stats.warn(
                    Diagnostic::warning(
                        "LOG0003",
                        format!(
                            "damaged chunk {chunk_id} skipped{claimed}: {}",
                            super::lowercase_first(&source.to_string())
                        ),
                    )
                    .in_file(name.clone()),
                );
            }
            Err(error) => {
                index += 1;
                stats.bad_records += 1;
                stats.warn(
                    Diagnostic::warning("LOG0004", format!("record skipped: {}", chain(&error)))
                        .in_file(name.clone()),
                );
            }
        }
    }
    opts.count(pending);
    Ok(())
}

/// An error and its causes, as one lowercase fragment.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = super::lowercase_first(&error.to_string());
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&super::lowercase_first(&cause.to_string()));
        source = cause.source();
    }
    text
}

/// The first and last record ids a chunk's header names, when its header is readable.
fn claimed_records(file: &mut File, chunk: u64) -> Option<(u64, u64)> {
    let mut header = [0u8; 512];
    file.seek(SeekFrom::Start(4096 + chunk * 65536)).ok()?;
    file.read_exact(&mut header).ok()?;
    let header = evtx::EvtxChunkHeader::from_bytes(&header).ok()?;
    (header.first_event_record_id <= header.last_event_record_id)
        .then_some((header.first_event_record_id, header.last_event_record_id))
}
