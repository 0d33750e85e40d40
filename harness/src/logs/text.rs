//! JSON lines and multi-line JSON documents, read in batches of about a mebibyte and parsed
//! on worker threads.

use super::source::{Format, Input};
use super::{FileStats, MapFn, ReadOptions, json, pipeline};
use crate::diag::Diagnostic;
use std::io::BufRead;
use std::ops::Range;

/// How many bytes of input one batch holds (at least; a batch ends at a record boundary).
const BATCH_BYTES: usize = 1 << 20;

/// The largest JSON document accepted in multi-line mode.
const MAX_DOCUMENT: usize = 64 << 20;

/// Records of one batch: their bytes and, per record, its index in the file and its range.
struct Batch {
    buf: Vec<u8>,
    records: Vec<(u64, Range<usize>)>,
}

/// What the workers made of one batch.
struct Done<T> {
    items: Vec<(u64, T)>,
    bad: Vec<(u64, String)>,
}

/// Reads a JSON lines or JSON documents input.
pub(crate) fn read<T: Send + 'static>(
    input: Input,
    opts: &ReadOptions,
    map: &MapFn<T>,
    sink: &mut dyn FnMut(u64, T),
    stats: &mut FileStats,
) -> Result<(), Diagnostic> {
    let path = input.path.display().to_string();
    let lines = input.format == Format::JsonLines;
    let mut reader = input.reader;
    let mut next_index = 0u64;
    let mut splitter = Splitter::default();
    let next_batch = || {
        if lines {
            next_lines(&mut reader, &mut next_index)
        } else {
            splitter.next(&mut reader)
        }
        .map_err(|e| super::io_error(&input.path, &e))
    };
    let work = |batch: Batch| {
        let mut done = Done {
            items: Vec::with_capacity(batch.records.len()),
            bad: Vec::new(),
        };
        let mut memo = json::KeyMemo::new(opts);
        for (index, range) in batch.records {
            match json::parse_document_with(&batch.buf[range], &mut memo) {
                Ok(event) => done.items.push((index, map(event))),
                Err(message) => done.bad.push((index, message)),
            }
        }
        done
    };
    let unit = if lines { "line" } else { "document" };
    let consume = |done: Done<T>| {
        opts.count(done.items.len() as u64);
        stats.events += done.items.len() as u64;
        for (index, item) in done.items {
            sink(index, item);
        }
        for (index, message) in done.bad {
            stats.bad_records += 1;
            stats.warn(
                Diagnostic::warning(
                    "LOG0002",
                    format!(
                        "{unit} {}: skipped, not a JSON object: {message}",
                        index + 1
                    ),
                )
                .in_file(path.clone()),
            );
        }
    };
    pipeline(opts.worker_threads(), next_batch, work, consume)
}

/// The next batch of whole lines; blank lines are skipped but keep their numbers.
fn next_lines(reader: &mut dyn BufRead, next_index: &mut u64) -> std::io::Result<Option<Batch>> {
    let mut batch = Batch {
        buf: Vec::with_capacity(BATCH_BYTES + 8192),
        records: Vec::new(),
    };
    while batch.buf.len() < BATCH_BYTES {
        let start = batch.buf.len();
        if reader.read_until(b'\n', &mut batch.buf)? == 0 {
            break;
        }
        let index = *next_index;
        *next_index += 1;
        let line = &batch.buf[start..];
        if line.iter().all(u8::is_ascii_whitespace) {
            batch.buf.truncate(start);
            continue;
        }
        let mut end = batch.buf.len();
        while end > start && batch.buf[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        batch.records.push((index, start..end));
    }
    Ok((!batch.records.is_empty()).then_some(batch))
}

/// Splits a stream of JSON objects that span lines (pretty-printed, evtx_dump's
/// `Record N` headers between them, or the elements of one top-level array) into documents,
/// by counting brackets outside strings.
#[derive(Default)]
struct Splitter {
    next_index: u64,
    depth: usize,
    in_string: bool,
    escape: bool,
    /// The current document's bytes when it spans a batch boundary.
    partial: Vec<u8>,
}

impl Splitter {
    fn next(&mut self, reader: &mut dyn BufRead) -> std::io::Result<Option<Batch>> {
        let mut batch = Batch {
            buf: std::mem::take(&mut self.partial),
            records: Vec::new(),
        };
        let mut doc_start = 0;
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let len = chunk.len();
            let mut consumed = len;
            for (i, &byte) in chunk.iter().enumerate() {
                if self.depth == 0 {
                    if byte == b'{' {
                        doc_start = batch.buf.len();
                        batch.buf.push(byte);
                        self.depth = 1;
                    }
                    continue;
                }
                batch.buf.push(byte);
                if self.in_string {
                    if self.escape {
                        self.escape = false;
                    } else if byte == b'\\' {
                        self.escape = true;
                    } else if byte == b'"' {
                        self.in_string = false;
                    }
                    continue;
                }
                match byte {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            batch
                                .records
                                .push((self.next_index, doc_start..batch.buf.len()));
                            self.next_index += 1;
                            if batch.buf.len() >= BATCH_BYTES {
                                consumed = i + 1;
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            reader.consume(consumed);
            if self.depth == 0 && batch.buf.len() >= BATCH_BYTES {
                break;
            }
            if self.depth > 0 && batch.buf.len() - doc_start > MAX_DOCUMENT {
                return Err(std::io::Error::other(format!(
                    "a JSON document is larger than {} MiB",
                    MAX_DOCUMENT >> 20
                )));
            }
        }
        if self.depth > 0 {
            // Keep the unfinished document for the next batch (or report it at the end).
            self.partial = batch.buf.split_off(doc_start);
            if batch.records.is_empty() {
                if self.partial.is_empty() {
                    return Ok(None);
                }
                // End of input inside a document: hand it over so it is reported, not lost.
                let unfinished = std::mem::take(&mut self.partial);
                self.depth = 0;
                let index = self.next_index;
                self.next_index += 1;
                return Ok(Some(Batch {
                    records: vec![(index, 0..unfinished.len())],
                    buf: unfinished,
                }));
            }
        }
        Ok((!batch.records.is_empty()).then_some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        let mut splitter = Splitter::default();
        let mut docs = Vec::new();
        while let Some(batch) = splitter.next(&mut reader).unwrap() {
            for (_, range) in batch.records {
                docs.push(String::from_utf8_lossy(&batch.buf[range]).into_owned());
            }
        }
        docs
    }

    #[test]
    fn documents_split_on_balanced_brackets_outside_strings() {
        let docs = split(
            "Record 1\n{\n \"a\": \"}{\\\"\",\n \"b\": [1, {\"c\": 2}]\n}\nRecord 2\n{\"d\": 1}\n",
        );
        assert_eq!(
            docs,
            vec![
                "{\n \"a\": \"}{\\\"\",\n \"b\": [1, {\"c\": 2}]\n}",
                "{\"d\": 1}"
            ]
        );
        assert_eq!(
            split("[{\"a\":1},\n {\"a\":2}]"),
            vec!["{\"a\":1}", "{\"a\":2}"]
        );
    }

    #[test]
    fn an_unfinished_document_is_handed_over_to_be_reported() {
        assert_eq!(split("{\"a\":1}\n{\"b\":"), vec!["{\"a\":1}", "{\"b\":"]);
    }

    #[test]
    fn lines_keep_their_numbers_across_blank_lines() {
        let mut reader = std::io::Cursor::new(b"{\"a\":1}\n\n{\"a\":2}\r\n".to_vec());
        let mut next = 0;
        let batch = next_lines(&mut reader, &mut next).unwrap().unwrap();
        let indices: Vec<u64> = batch.records.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, vec![0, 2]);
        assert_eq!(&batch.buf[batch.records[1].1.clone()], b"{\"a\":2}");
    }
}
