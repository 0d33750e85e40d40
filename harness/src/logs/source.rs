//! Opening a log file: gzip detection, text encoding (UTF-16 and byte-order marks), format
//! sniffing from the first bytes.

use crate::diag::Diagnostic;
use crate::encoding::{Encoding, Utf16Reader};
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

/// What kind of log a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A Windows event log file (`ElfFile` magic).
    Evtx,
    /// One JSON object per line.
    JsonLines,
    /// JSON objects spanning lines: pretty-printed, evtx_dump's `Record N` output, or one
    /// top-level array.
    JsonDocuments,
    /// Comma- (or tab-) separated rows with a header (Defender advanced hunting export).
    Csv,
}

impl Format {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::JsonLines => "json_lines",
            Format::JsonDocuments => "json_documents",
            Format::Csv => "csv",
        }
    }
}

/// An opened log: its format and a reader positioned at its first byte (decompressed).
pub struct Input {
    /// The file.
    pub path: PathBuf,
    /// The sniffed format.
    pub format: Format,
    /// Whether the file is gzip-compressed.
    pub compressed: bool,
    /// The (decompressed) bytes, from the start.
    pub reader: Box<dyn BufRead + Send>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("compressed", &self.compressed)
            .finish_non_exhaustive()
    }
}

/// How much of a file sniffing looks at.
const PREFIX: usize = 64 * 1024;

/// Opens `path`, undoes gzip, and recognises the format from the first bytes.
pub fn open(path: &Path) -> Result<Input, Diagnostic> {
    let file = File::open(path).map_err(|e| super::io_error(path, &e))?;
    let mut raw = BufReader::with_capacity(1 << 20, file);
    let magic = raw.fill_buf().map_err(|e| super::io_error(path, &e))?;
    let compressed = magic.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read + Send> = if compressed {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    let (mut prefix, rest) = read_prefix(reader).map_err(|e| super::io_error(path, &e))?;
    // Text in UTF-16 (Windows PowerShell 5.1 writes it) is read as UTF-8; a UTF-8 byte-order mark
    // is dropped, so the first record or header does not begin with it.
    let (prefix, rest) = match Encoding::of(&prefix) {
        (Encoding::Utf8, mark) => {
            prefix.drain(..mark);
            (prefix, rest)
        }
        (encoding, mark) => {
            let mut raw = Cursor::new(prefix);
            raw.set_position(mark as u64);
            read_prefix(Box::new(Utf16Reader::new(raw.chain(rest), encoding)))
                .map_err(|e| super::io_error(path, &e))?
        }
    };
    let format = sniff(path, &prefix).ok_or_else(|| {
        Diagnostic::error("LOG0005", "unrecognised log format")
            .in_file(path.display().to_string())
            .with_help("firedrill reads EVTX, JSON lines (flat, Winlogbeat, evtx_dump, Defender) and Defender CSV exports, optionally gzip-compressed")
    })?;
    let reader = Box::new(BufReader::with_capacity(
        1 << 20,
        Cursor::new(prefix).chain(rest),
    ));
    Ok(Input {
        path: path.to_path_buf(),
        format,
        compressed,
        reader,
    })
}

fn read_prefix(mut reader: Box<dyn Read + Send>) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut prefix = Vec::with_capacity(PREFIX);
    (&mut reader).take(PREFIX as u64).read_to_end(&mut prefix)?;
    Ok((prefix, reader))
}

/// The format of a file from its first bytes (and, for CSV, its name).
pub fn sniff(path: &Path, prefix: &[u8]) -> Option<Format> {
    if prefix.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &text[start..];
    match text[0] {
        b'{' => {
            let first_line = text.split(|b| *b == b'\n').next().unwrap_or(text);
            let complete = serde_json::from_slice::<serde::de::IgnoredAny>(first_line).is_ok();
            let no_newline = !text.contains(&b'\n');
            Some(if complete || no_newline {
                Format::JsonLines
            } else {
                Format::JsonDocuments
            })
        }
        b'[' => Some(Format::JsonDocuments),
        _ if text.starts_with(b"Record ") => Some(Format::JsonDocuments),
        _ => {
            let name = path.to_string_lossy().to_ascii_lowercase();
            let name = name.strip_suffix(".gz").unwrap_or(&name);
            let first_line = text.split(|b| *b == b'\n').next().unwrap_or(text);
            let looks_tabular = first_line.contains(&b',') || first_line.contains(&b'\t');
            (name.ends_with(".csv") || name.ends_with(".tsv") || looks_tabular)
                .then_some(Format::Csv)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_sniffed_from_the_first_bytes() {
        let p = Path::new("x.log");
        assert_eq!(sniff(p, b"ElfFile\0rest"), Some(Format::Evtx));
        assert_eq!(sniff(p, b"{\"a\":1}\n{\"a\":2}\n"), Some(Format::JsonLines));
        assert_eq!(
            sniff(p, b"{\n  \"Event\": {\n"),
            Some(Format::JsonDocuments)
        );
        assert_eq!(sniff(p, b"Record 1\n{\n"), Some(Format::JsonDocuments));
        assert_eq!(sniff(p, b"[{\"a\":1}]"), Some(Format::JsonDocuments));
        assert_eq!(sniff(p, b"Timestamp,DeviceName\n"), Some(Format::Csv));
        assert_eq!(sniff(p, b"hello world"), None);
        assert_eq!(sniff(p, b"   "), None);
    }
}
