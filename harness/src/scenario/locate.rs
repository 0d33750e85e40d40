//! Finds where a value sits in YAML text, so checks made after deserialization point at a line.
//!
//! The YAML parser knows every node's position but only reports it on errors. A probe is a
//! `DeserializeSeed` that walks one path (`processes[0].children[1].id`) and fails on purpose at
//! its end; the parser stamps that failure with the node's line and column. Probing re-parses the
//! text, which is cheap for scenario-sized files and happens only when a location is wanted.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One step of a path into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl Seg {
    pub(crate) fn key(name: &str) -> Seg {
        Seg::Key(name.to_string())
    }
}

const MARK: &str = "firedrill-probe-hit";

/// The 1-based line and column of the value at `path` (or of its key, with `key`).
pub(crate) fn locate(text: &str, path: &[Seg], key: bool) -> Option<(usize, usize)> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let error = Probe { path, key }.deserialize(deserializer).err()?;
    if !error.to_string().contains(MARK) {
        return None;
    }
    let location = error.location()?;
    Some((location.line(), location.column()))
}

/// The width in characters of the scalar starting at byte `offset`: a quoted string to its
/// closing quote, a plain scalar to the end of the line, a comment, or (inside a flow
/// collection) the next `,`, `]` or `}`.
pub(crate) fn scalar_width(text: &str, offset: usize) -> usize {
    let rest = &text[offset.min(text.len())..];
    let line = rest.lines().next().unwrap_or("");
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let before = &text[line_start..offset.min(text.len())];
    let in_flow = before.matches(['[', '{']).count() > before.matches([']', '}']).count();
    let mut chars = line.char_indices();
    let width = match chars.next() {
        Some((_, quote @ ('\'' | '"'))) => {
            let mut end = line.len();
            let mut escaped = false;
            for (i, c) in chars {
                if quote == '"' && c == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if c == quote && !escaped {
                    end = i + 1;
                    break;
                }
                escaped = false;
            }
            line[..end].chars().count()
        }
        _ => {
            let mut end = line.find(" #").unwrap_or(line.len());
            if in_flow {
                end = end.min(line.find([',', ']', '}']).unwrap_or(line.len()));
            }
            line[..end].trim_end().chars().count()
        }
    };
    width.max(1)
}

struct Probe<'a> {
    path: &'a [Seg],
    key: bool,
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Probe<'_> {
    fn leaf<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(E::custom(MARK))
        } else {
            Err(E::custom("probe path not found"))
        }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(target), rest)) = self.path.split_first() else {
            return self.leaf();
        };
        let fail_on_key = self.key && rest.is_empty();
        while let Some(hit) = map.next_key_seed(KeyProbe {
            target,
            fail: fail_on_key,
        })? {
            if hit {
                return map.next_value_seed(Probe {
                    path: rest,
                    key: self.key,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("probe path not found"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(target), rest)) = self.path.split_first() else {
            return self.leaf();
        };
        let mut index = 0;
        loop {
            if index == *target {
                return match seq.next_element_seed(Probe {
                    path: rest,
                    key: self.key,
                })? {
                    Some(()) => Err(de::Error::custom("probe path not found")),
                    None => Err(de::Error::custom("probe path not found")),
                };
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("probe path not found"));
            }
            index += 1;
        }
    }
}

struct KeyProbe<'a> {
    target: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for KeyProbe<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key == self.target && self.fail {
            Err(E::custom(MARK))
        } else {
            Ok(key == self.target)
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: x\nprocesses:\n  - id: a\n    children:\n      - { id: b, image: 'C:\\b.exe' }\nexpect:\n  - rule: r\n    fires_on: [a, zz]\n";

    #[test]
    fn probes_find_block_and_flow_values() {
        assert_eq!(locate(TEXT, &[Seg::key("name")], false), Some((1, 7)));
        assert_eq!(locate(TEXT, &[Seg::key("name")], true), Some((1, 1)));
        let b = [
            Seg::key("processes"),
            Seg::Index(0),
            Seg::key("children"),
            Seg::Index(0),
            Seg::key("id"),
        ];
        assert_eq!(locate(TEXT, &b, false), Some((5, 15)));
        let zz = [
            Seg::key("expect"),
            Seg::Index(0),
            Seg::key("fires_on"),
            Seg::Index(1),
        ];
        assert_eq!(locate(TEXT, &zz, false), Some((8, 19)));
        assert_eq!(locate(TEXT, &[Seg::key("nope")], false), None);
    }

    #[test]
    fn widths_stop_at_quotes_flow_punctuation_and_comments() {
        let text = "a: 'C:\\x y.exe' # c\nb: [one, two]\nc: plain words # note\n";
        assert_eq!(scalar_width(text, 3), 12);
        let two = text.find("two").unwrap();
        assert_eq!(scalar_width(text, two), 3);
        let plain = text.find("plain").unwrap();
        assert_eq!(scalar_width(text, plain), 11);
    }
}
