//! Input files as text: UTF-8 with or without a byte-order mark, and UTF-16 with one (what
//! Windows editors and Windows PowerShell 5.1's `Out-File` and `>` write), decoded to UTF-8, as a
//! YAML 1.2 parser reads a stream; other bytes are an error at the first one that is not text.
//!
//! Rules, scenarios and configurations are read whole ([`read_source`], strict: a rule must
//! say exactly what its author wrote); recorded logs are streamed ([`Utf16Reader`], lenient: one
//! unpaired surrogate in a command line must not cost the rest of the file).

use crate::diag::{Diagnostic, Span};
use std::io::{self, Read};
use std::path::Path;

/// The encoding a file's first bytes announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with a byte-order mark or without one.
    Utf8,
    /// UTF-16, little-endian (byte-order mark `FF FE`).
    Utf16Le,
    /// UTF-16, big-endian (byte-order mark `FE FF`).
    Utf16Be,
}

impl Encoding {
    /// The encoding whose byte-order mark `bytes` start with, and the mark's length; UTF-8 and 0
    /// without one. (A UTF-32 mark starts like UTF-16's; no Windows tool writes UTF-32 text.)
    pub fn of(bytes: &[u8]) -> (Encoding, usize) {
        match bytes {
            [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8, 3),
            [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
            [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
            _ => (Encoding::Utf8, 0),
        }
    }

    fn unit(self, pair: [u8; 2]) -> u16 {
        match self {
            Encoding::Utf16Be => u16::from_be_bytes(pair),
            _ => u16::from_le_bytes(pair),
        }
    }
}

/// Bytes that are not text in the encoding their file announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotText {
    /// What is wrong, naming the byte offset.
    pub message: String,
    /// The text with the fault (and any later one) replaced by U+FFFD, to point into.
    pub lossy: String,
    /// The first replacement character in `lossy`.
    pub span: Span,
}

impl NotText {
    /// An error with `code`, `cannot read {what}: ...`, pointing at the fault in `file`.
    pub fn diagnostic(&self, code: &str, what: &str, file: &str) -> Diagnostic {
        Diagnostic::error(code, format!("cannot read {what}: {}", self.message))
            .at(file, &self.lossy, self.span)
            .with_label("not text")
            .with_help("save the file as UTF-8 (a byte-order mark is fine, as is UTF-16 with one)")
    }
}

/// Decodes a whole file's bytes: a UTF-8 byte-order mark is dropped, UTF-16 with a mark decoded,
/// anything else must be UTF-8.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, NotText> {
    let (encoding, mark) = Encoding::of(&bytes);
    if encoding != Encoding::Utf8 {
        return decode_utf16(&bytes[mark..], encoding, mark);
    }
    bytes.drain(..mark);
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let message = match e.utf8_error().error_len() {
            Some(_) => format!(
                "not UTF-8: byte 0x{:02X} at offset {} is not part of a character",
                bytes[at],
                at + mark
            ),
            None => format!(
                "not UTF-8: the file ends inside a character (offset {})",
                at + mark
            ),
        };
        let lossy = String::from_utf8_lossy(bytes).into_owned();
        NotText {
            message,
            lossy,
            span: Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8()),
        }
    })
}

/// Decodes UTF-16 `bytes` (after a mark of `mark` bytes), strictly.
fn decode_utf16(bytes: &[u8], encoding: Encoding, mark: usize) -> Result<String, NotText> {
    let pairs = bytes.chunks_exact(2);
    let odd = !pairs.remainder().is_empty();
    let units = pairs.map(|pair| encoding.unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len());
    // The first fault: where its replacement starts in `text`, and what it is.
    let mut fault: Option<(usize, String)> = None;
    let mut offset = mark;
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => {
                text.push(c);
                offset += 2 * c.len_utf16();
            }
            Err(e) => {
                fault.get_or_insert_with(|| {
                    let unit = e.unpaired_surrogate();
                    let what = format!("unpaired surrogate 0x{unit:04X} at offset {offset}");
                    (text.len(), what)
                });
                text.push(char::REPLACEMENT_CHARACTER);
                offset += 2;
            }
        }
    }
    if odd {
        let what = format!("the file ends inside a code unit (offset {offset})");
        fault.get_or_insert((text.len(), what));
        text.push(char::REPLACEMENT_CHARACTER);
    }
    match fault {
        None => Ok(text),
        Some((start, what)) => Err(NotText {
            message: format!("not UTF-16: {what}"),
            span: Span::new(start, start + char::REPLACEMENT_CHARACTER.len_utf8()),
            lossy: text,
        }),
    }
}

/// Reads `path` as text ([`decode`]). An unreadable file is an error with `code` saying
/// `cannot read {what}` in `file` (the name diagnostics show); bytes that are not text one that
/// points at the first of them.
pub fn read_source(
    path: &Path,
    file: &str,
    code: &str,
    what: &str,
) -> Result<String, Box<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(code, format!("cannot read {what}: {e}")).in_file(file.to_string())
    })?;
    decode(bytes).map_err(|fault| Box::new(fault.diagnostic(code, what, file)))
}

/// [`read_source`] for callers that only need the text, or nothing: a file that cannot be read
/// as text reads as empty (its loader reports why).
pub fn read_or_empty(path: &Path) -> String {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| decode(bytes).ok())
        .unwrap_or_default()
}

/// A stream of UTF-16 text (its byte-order mark already read) as UTF-8, for log readers. An
/// unpaired surrogate becomes U+FFFD, as Windows' own conversions do; a stream that ends inside a
/// code unit is an `InvalidData` error.
#[derive(Debug)]
pub struct Utf16Reader<R> {
    inner: R,
    encoding: Encoding,
    /// Raw bytes read and not yet decoded, `raw[..raw_len]`: carried over between reads, at most
    /// one byte of a unit, or a high surrogate's two.
    raw: Box<[u8]>,
    raw_len: usize,
    /// Decoded UTF-8 not yet handed out, from `out_at`.
    out: Vec<u8>,
    out_at: usize,
}

/// Raw bytes a [`Utf16Reader`] reads at a time.
const UTF16_CHUNK: usize = 64 * 1024;

impl<R: Read> Utf16Reader<R> {
    /// Decodes `inner`, which is UTF-16 in `encoding` (not [`Encoding::Utf8`]).
    pub fn new(inner: R, encoding: Encoding) -> Self {
        Utf16Reader {
            inner,
            encoding,
            raw: vec![0; UTF16_CHUNK].into_boxed_slice(),
            raw_len: 0,
            out: Vec::new(),
            out_at: 0,
        }
    }

    /// Reads and decodes the next stretch into `out`; false at the end of the stream.
    fn refill(&mut self) -> io::Result<bool> {
        let n = loop {
            match self.inner.read(&mut self.raw[self.raw_len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        let end = n == 0;
        self.raw_len += n;
        if end && self.raw_len % 2 == 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the UTF-16 text ends inside a code unit",
            ));
        }
        let mut whole = self.raw_len & !1;
        // A high surrogate last waits for the low one the next read brings.
        if !end
            && whole >= 2
            && (0xD800..=0xDBFF).contains(
                &self
                    .encoding
                    .unit([self.raw[whole - 2], self.raw[whole - 1]]),
            )
        {
            whole -= 2;
        }
        let encoding = self.encoding;
        let units = self.raw[..whole]
            .chunks_exact(2)
            .map(|pair| encoding.unit([pair[0], pair[1]]));
        self.out.clear();
        self.out_at = 0;
        let mut buffer = [0u8; 4];
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            self.out
                .extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
        }
        self.raw.copy_within(whole..self.raw_len, 0);
        self.raw_len -= whole;
        Ok(!(end && self.out.is_empty()))
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, encoding: Encoding) -> Vec<u8> {
        let mut bytes = match encoding {
            Encoding::Utf16Le => vec![0xFF, 0xFE],
            _ => vec![0xFE, 0xFF],
        };
        for unit in text.encode_utf16() {
            bytes.extend(match encoding {
                Encoding::Utf16Le => unit.to_le_bytes(),
                _ => unit.to_be_bytes(),
            });
        }
        bytes
    }

    const TEXT: &str = "title: Ѕuspicious 𝒳\r\nImage|endswith: '\\cmd.exe'\n";

    #[test]
    fn a_utf8_byte_order_mark_is_dropped_and_utf16_with_one_is_decoded() {
        assert_eq!(decode(TEXT.into()).unwrap(), TEXT);
        assert_eq!(
            decode([b"\xEF\xBB\xBF", TEXT.as_bytes()].concat()).unwrap(),
            TEXT
        );
        for encoding in [Encoding::Utf16Le, Encoding::Utf16Be] {
            assert_eq!(decode(utf16(TEXT, encoding)).unwrap(), TEXT, "{encoding:?}");
        }
        assert_eq!(decode(Vec::new()).unwrap(), "");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_located_at_the_first_of_them() {
        let fault = decode(b"title: x\nImage: a\xFFb.exe\n".to_vec()).unwrap_err();
        assert_eq!(
            fault.message,
            "not UTF-8: byte 0xFF at offset 17 is not part of a character"
        );
        let d = fault.diagnostic("IO0001", "rule file", "r.yml");
        let location = d.location.expect("located");
        assert_eq!((location.line, location.column), (2, 9));
        // After a byte-order mark, offsets still count the file's bytes.
        let fault = decode(b"\xEF\xBB\xBFab\xC3".to_vec()).unwrap_err();
        assert_eq!(
            fault.message,
            "not UTF-8: the file ends inside a character (offset 5)"
        );
    }

    #[test]
    fn broken_utf16_is_located_at_the_first_fault() {
        let mut bytes = utf16("ab\ncd", Encoding::Utf16Le);
        bytes.extend(0xDC00u16.to_le_bytes());
        let fault = decode(bytes).unwrap_err();
        assert_eq!(
            fault.message,
            "not UTF-16: unpaired surrogate 0xDC00 at offset 12"
        );
        let d = fault.diagnostic("SCN0000", "scenario file", "s.yaml");
        let location = d.location.expect("located");
        assert_eq!((location.line, location.column), (2, 3));
        let mut odd = utf16("ab", Encoding::Utf16Be);
        odd.push(0);
        assert_eq!(
            decode(odd).unwrap_err().message,
            "not UTF-16: the file ends inside a code unit (offset 6)"
        );
    }

    /// Reads everything through `Utf16Reader`, `step` bytes at a time.
    fn stream(bytes: &[u8], encoding: Encoding, step: usize) -> io::Result<String> {
        /// A reader that hands out at most `step` bytes a call.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = String::new();
        Utf16Reader::new(Trickle(bytes, step), encoding).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_utf16_stream_decodes_whatever_the_read_sizes() {
        let text = format!("{TEXT}{}", "{\"CommandLine\":\"𝒳 whoami\"}\n".repeat(3000));
        for encoding in [Encoding::Utf16Le, Encoding::Utf16Be] {
            let bytes = utf16(&text, encoding);
            for step in [1, 2, 3, 7, 64 * 1024 + 1, usize::MAX] {
                assert_eq!(stream(&bytes[2..], encoding, step).unwrap(), text, "{step}");
            }
        }
    }

    #[test]
    fn a_utf16_stream_replaces_unpaired_surrogates_and_rejects_a_split_unit() {
        let mut bytes = utf16("a", Encoding::Utf16Le);
        bytes.extend(0xD800u16.to_le_bytes());
        bytes.extend(utf16("b", Encoding::Utf16Le)[2..].iter());
        bytes.extend(0xD800u16.to_le_bytes());
        assert_eq!(
            stream(&bytes[2..], Encoding::Utf16Le, 3).unwrap(),
            "a\u{FFFD}b\u{FFFD}"
        );
        let error = stream(&bytes[2..bytes.len() - 1], Encoding::Utf16Le, 5).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
