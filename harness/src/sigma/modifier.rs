//! Value modifiers: the explicit allowlist [`SUPPORTED`], parsing, and the value transformations.
//!
//! Anything not in [`SUPPORTED`] is a `SIG0020` diagnostic naming the rule, the field and the
//! modifier; a rule is never silently "no match" because of a modifier the engine does not know.

/// One value modifier (Sigma modifiers appendix, v2.1.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// `contains`: `*` around the value.
    Contains,
    /// `startswith`: `*` after the value.
    StartsWith,
    /// `endswith`: `*` before the value.
    EndsWith,
    /// `all`: list values are AND-linked.
    All,
    /// `exists`: field presence.
    Exists,
    /// `cased`: case-sensitive matching.
    Cased,
    /// `neq`: the field differs from every value.
    Neq,
    /// `windash`: `-`, `/`, en dash, em dash and horizontal bar, interchangeably.
    Windash,
    /// `re`: a regular expression.
    Re,
    /// `re` flag `i`.
    ReIgnoreCase,
    /// `re` flag `m`.
    ReMultiLine,
    /// `re` flag `s`.
    ReDotAll,
    /// `base64`.
    Base64,
    /// `base64offset`: the three shifted encodings.
    Base64Offset,
    /// `utf16le` (alias `wide`).
    Utf16Le,
    /// `utf16be`.
    Utf16Be,
    /// `utf16`: byte order mark `FF FE`, then UTF-16LE.
    Utf16,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `minute` of a date.
    Minute,
    /// `hour` of a date.
    Hour,
    /// `day` of a date.
    Day,
    /// `week` of a date.
    Week,
    /// `month` of a date.
    Month,
    /// `year` of a date.
    Year,
    /// `cidr`: an IPv4 or IPv6 network.
    Cidr,
    /// `expand`: placeholders from the configuration.
    Expand,
    /// `fieldref`: the value names another field.
    FieldRef,
}

/// Every supported modifier spelling. The engine accepts exactly these.
pub const SUPPORTED: &[(&str, Modifier)] = &[
    ("contains", Modifier::Contains),
    ("startswith", Modifier::StartsWith),
    ("endswith", Modifier::EndsWith),
    ("all", Modifier::All),
    ("exists", Modifier::Exists),
    ("cased", Modifier::Cased),
    ("neq", Modifier::Neq),
    ("windash", Modifier::Windash),
    ("re", Modifier::Re),
    ("i", Modifier::ReIgnoreCase),
    ("ignorecase", Modifier::ReIgnoreCase),
    ("m", Modifier::ReMultiLine),
    ("multiline", Modifier::ReMultiLine),
    ("s", Modifier::ReDotAll),
    ("dotall", Modifier::ReDotAll),
    ("base64", Modifier::Base64),
    ("base64offset", Modifier::Base64Offset),
    ("utf16le", Modifier::Utf16Le),
    ("wide", Modifier::Utf16Le),
    ("utf16be", Modifier::Utf16Be),
    ("utf16", Modifier::Utf16),
    ("lt", Modifier::Lt),
    ("lte", Modifier::Lte),
    ("gt", Modifier::Gt),
    ("gte", Modifier::Gte),
    ("minute", Modifier::Minute),
    ("hour", Modifier::Hour),
    ("day", Modifier::Day),
    ("week", Modifier::Week),
    ("month", Modifier::Month),
    ("year", Modifier::Year),
    ("cidr", Modifier::Cidr),
    ("expand", Modifier::Expand),
    ("fieldref", Modifier::FieldRef),
];

impl Modifier {
    /// Looks a modifier up by its spelling (exact, lowercase, as the spec writes them).
    pub fn parse(name: &str) -> Option<Modifier> {
        SUPPORTED
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, m)| *m)
    }

    /// The canonical spelling.
    pub fn name(self) -> &'static str {
        SUPPORTED
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(s, _)| s)
    }

    /// Date-part modifiers.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Modifier::Minute
                | Modifier::Hour
                | Modifier::Day
                | Modifier::Week
                | Modifier::Month
                | Modifier::Year
        )
    }

    /// Numeric comparison modifiers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Modifier::Lt | Modifier::Lte | Modifier::Gt | Modifier::Gte
        )
    }

    /// Regex flags.
    pub fn is_re_flag(self) -> bool {
        matches!(
            self,
            Modifier::ReIgnoreCase | Modifier::ReMultiLine | Modifier::ReDotAll
        )
    }

    /// Encodings, which need a wildcard-free value.
    pub fn is_encoding(self) -> bool {
        matches!(
            self,
            Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Utf16Le
                | Modifier::Utf16Be
                | Modifier::Utf16
        )
    }
}

/// The dash characters `windash` treats as interchangeable (modifiers appendix: `-`, `/`,
/// en dash, em dash, horizontal bar).
pub const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// A Sigma string: literal runs and wildcards, after unescaping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes (UTF-8 text, or UTF-16 bytes after an encoding).
    Lit(Vec<u8>),
    /// `*`.
    Star,
    /// `?`.
    One,
}

/// Parses a rule value into parts: `*` and `?` are wildcards; a backslash escapes `*`, `?`
/// and itself; any other backslash is literal (rules specification, "Escape Character").
pub fn parse_sigma_string(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ ('*' | '?' | '\\')) => {
                    lit.push(next);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit).into_bytes()));
                }
                parts.push(if c == '*' { Part::Star } else { Part::One });
            }
            other => lit.push(other),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit.into_bytes()));
    }
    parts
}

/// Merges adjacent literals and collapses runs of stars.
pub fn normalize(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts {
        match (out.last_mut(), part) {
            (Some(Part::Lit(prev)), Part::Lit(next)) => prev.extend(next),
            (Some(Part::Star), Part::Star) => {}
            (_, Part::Lit(l)) if l.is_empty() => {}
            (_, part) => out.push(part),
        }
    }
    out
}

/// The literal bytes of a wildcard-free value.
pub fn literal(parts: &[Part]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Lit(l) => out.extend_from_slice(l),
            _ => return None,
        }
    }
    Some(out)
}

/// `windash` variants of a value (pySigma's scope: a dash or slash that starts a word, that
/// is, one not preceded by a word character and followed by one).
pub fn windash(parts: &[Part]) -> Vec<Vec<Part>> {
    let mut variants: Vec<Vec<Part>> = vec![Vec::new()];
    for part in parts {
        match part {
            Part::Lit(bytes) => {
                let text = String::from_utf8_lossy(bytes).into_owned();
                let chars: Vec<char> = text.chars().collect();
                let mut pieces: Vec<Vec<String>> = vec![vec![String::new()]];
                for (i, c) in chars.iter().enumerate() {
                    let word_before = i > 0 && is_word(chars[i - 1]);
                    let word_after = chars.get(i + 1).is_some_and(|c| is_word(*c));
                    if WINDASH.contains(c) && !word_before && word_after {
                        pieces.push(WINDASH.iter().map(char::to_string).collect());
                        pieces.push(vec![String::new()]);
                    } else if let Some(last) = pieces.last_mut() {
                        last[0].push(*c);
                    }
                }
                let mut expanded = vec![String::new()];
                for options in pieces {
                    expanded = expanded
                        .iter()
                        .flat_map(|prefix| options.iter().map(move |o| format!("{prefix}{o}")))
                        .collect();
                }
                variants = variants
                    .iter()
                    .flat_map(|v| {
                        expanded.iter().map(move |e| {
                            let mut v = v.clone();
                            v.push(Part::Lit(e.clone().into_bytes()));
                            v
                        })
                    })
                    .collect();
            }
            other => variants.iter_mut().for_each(|v| v.push(other.clone())),
        }
    }
    let mut out: Vec<Vec<Part>> = Vec::new();
    for v in variants.into_iter().map(normalize) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three `base64offset` variants: the value shifted by zero, one and two bytes, with the
/// characters that depend on the unknown neighbours cut off (pySigma's offsets).
pub fn base64offset(bytes: &[u8]) -> Vec<String> {
    let start = [0usize, 2, 3];
    let end_cut = [0usize, 3, 2];
    (0..3)
        .map(|i| {
            let mut shifted = vec![b' '; i];
            shifted.extend_from_slice(bytes);
            let encoded = base64(&shifted);
            let cut = end_cut[(bytes.len() + i) % 3];
            let end = encoded.len().saturating_sub(cut);
            encoded.get(start[i]..end).unwrap_or("").to_string()
        })
        .collect()
}

/// UTF-16 encodings: little-endian, big-endian, or with the byte order mark `FF FE`
/// followed by little-endian (the spec's `utf16`; pySigma writes the mark differently).
pub fn utf16(bytes: &[u8], modifier: Modifier) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::with_capacity(bytes.len() * 2 + 2);
    if modifier == Modifier::Utf16 {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in text.encode_utf16() {
        match modifier {
            Modifier::Utf16Be => out.extend_from_slice(&unit.to_be_bytes()),
            _ => out.extend_from_slice(&unit.to_le_bytes()),
        }
    }
    out
}

/// Bytes as text: UTF-8 when valid, otherwise one character per byte (Latin-1), so encoded
/// values compare with the way log readers render raw bytes.
pub fn bytes_to_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_spelling_round_trips() {
        for (name, modifier) in SUPPORTED {
            assert_eq!(Modifier::parse(name), Some(*modifier));
        }
        assert_eq!(Modifier::parse("containz"), None);
    }

    #[test]
    fn escapes_follow_the_spec_table() {
        let lit = |s: &str| Part::Lit(s.as_bytes().to_vec());
        assert_eq!(parse_sigma_string(r"a\*b"), vec![lit("a*b")]);
        assert_eq!(parse_sigma_string(r"a\\*"), vec![lit(r"a\"), Part::Star]);
        assert_eq!(parse_sigma_string(r"a\\\*"), vec![lit(r"a\*")]);
        assert_eq!(parse_sigma_string(r"C:\Windows"), vec![lit(r"C:\Windows")]);
        assert_eq!(parse_sigma_string(r"\\\\"), vec![lit(r"\\")]);
        assert_eq!(parse_sigma_string(r"\\\x"), vec![lit(r"\\x")]);
        assert_eq!(
            parse_sigma_string("a?b"),
            vec![lit("a"), Part::One, lit("b")]
        );
    }

    #[test]
    fn base64offset_matches_the_reference_vectors() {
        // pySigma's documented example for `base64offset|contains: 'sigma rules!'`.
        assert_eq!(
            base64offset(b"sigma rules!"),
            vec!["c2lnbWEgcnVsZXMh", "NpZ21hIHJ1bGVzI", "zaWdtYSBydWxlcy"]
        );
        assert_eq!(base64(b"cmd"), "Y21k");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn windash_only_touches_dashes_that_start_a_word() {
        let variants = windash(&parse_sigma_string(" -enc x-y"));
        assert_eq!(variants.len(), 5);
        let texts: Vec<String> = variants
            .iter()
            .map(|v| bytes_to_text(&literal(v).unwrap()))
            .collect();
        assert!(texts.contains(&" /enc x-y".to_string()));
        assert!(texts.contains(&" \u{2015}enc x-y".to_string()));
    }

    #[test]
    fn utf16_writes_the_little_endian_byte_order_mark() {
        assert_eq!(utf16(b"cmd", Modifier::Utf16), b"\xFF\xFEc\0m\0d\0");
        assert_eq!(utf16(b"cmd", Modifier::Utf16Be), b"\0c\0m\0d");
    }
}
