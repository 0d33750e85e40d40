//! Reading an EVTX record straight from its template's substitution values, without rendering
//! it to JSON and parsing that back.
//!
//! Almost every record is one `TemplateInstance`: a reference to a template definition in the
//! chunk (the XML shape, with numbered substitution slots) and the slot values. A [`Plan`] is
//! made once per template (per file): which slot, or which literal, becomes `Provider_Name`,
//! `EventID`, `Channel`, `Computer`, `EventRecordID`, the `TimeCreated` timestamp and each
//! `EventData` `<Data Name=…>` field, keeping only the fields the [`FieldFilter`] wants. A
//! record is then a walk over its slot descriptors and a decode of the wanted values.
//!
//! The result is, by construction and by test, the event the rendering path
//! ([`json::parse_document`](super::super::json::parse_document) over the crate's JSON) makes:
//! the same names, the same values and types (numbers as numbers; GUIDs, SIDs, hex integers
//! and times as the crate spells them), the same timestamp. Anything this module does not
//! model (nested templates, `UserData`, unnamed or duplicate `Data`, arrays, empty or NULL
//! values whose rendering is subtle, odd sizes) makes [`Plans::event`] answer `None`, and
//! the caller renders that record the slow way.

use super::super::recognize::{self, Layout, Parts, SYSTEM_TIME_RANK};
use super::super::{FieldFilter, ReadOptions};
use crate::event::{Event, FieldHash, Fields, Name, Value};
use chrono::{DateTime, Utc};
use evtx::EvtxRecord;
use evtx::binxml::value_variant::BinXmlValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where a value comes from: a substitution slot or literal text in the template.
#[derive(Clone, Debug)]
enum Source {
    Slot(u16),
    Literal(String),
}

/// What becomes of one value.
#[derive(Clone, Debug)]
enum Target {
    Provider,
    TimeCreated,
    EventId,
    Channel,
    Computer,
    RecordId,
    /// Another `System` element's text, wanted by the filter.
    System(String),
    /// Another `System` element with attributes only (`Execution`, `Security`), wanted by
    /// the filter: rendered as `{"#attributes":{…}}`.
    SystemAttributes(String, Vec<(String, Source)>),
    /// A nested template instance (the `EventData` of most providers' records).
    Nested,
    /// An `EventData` field: kept, a timestamp candidate, or both.
    Data {
        name: String,
        keep: bool,
        time_rank: Option<u8>,
    },
}

/// One value to extract, and the slot whose NULL value leaves its element out.
#[derive(Clone, Debug)]
struct Step {
    dependency: Option<u16>,
    source: Option<Source>,
    target: Target,
}

/// The keys of a pair of plans (by address), `None` when two steps name the same key.
type Prototype = ((usize, usize), Option<Arc<Fields>>);

/// One substitution value: its type, offset in the chunk and size.
type SlotValue = (u8, usize, usize);

/// How a record's fields are filled: into a copy of the plans' keys (`prototype`, by position,
/// noting the keys whose element was left out) or one insert at a time.
#[derive(Debug, Default)]
struct Fill {
    prototype: bool,
    next: usize,
    missing: Vec<usize>,
}

impl Fill {
    fn put(&mut self, parts: &mut Parts, name: &str, value: Value) {
        if self.prototype {
            if let Some((_, slot)) = parts.data.get_index_mut(self.next) {
                *slot = value;
            }
            self.next += 1;
        } else {
            parts.insert_data(Name::new(name), value);
        }
    }

    fn skip(&mut self) {
        if self.prototype {
            self.missing.push(self.next);
            self.next += 1;
        }
    }
}

impl Step {
    /// The field this step writes, if it writes one.
    fn key(&self) -> Option<&str> {
        Some(match &self.target {
            Target::Provider => "Provider_Name",
            Target::EventId => "EventID",
            Target::Channel => "Channel",
            Target::Computer => "Computer",
            Target::RecordId => "EventRecordID",
            Target::System(name) | Target::SystemAttributes(name, _) => name,
            Target::Data {
                name, keep: true, ..
            } => name,
            Target::TimeCreated | Target::Nested | Target::Data { .. } => return None,
        })
    }
}

/// How to turn a record of one template into an event; `None` when the template has a shape
/// this module does not model.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Whether the template is a record's (`Event`) rather than a nested one (`EventData`).
    root: bool,
    steps: Vec<Step>,
}

/// Plans by template GUID and size (`None`: a template not modelled).
type SharedPlans = HashMap<([u8; 16], u32), Option<Arc<Plan>>>;

/// The plans of one file's templates, shared by the crate's worker threads, and keyed by the
/// template's GUID and size; plus, per chunk, a cache by definition offset.
#[derive(Clone)]
pub(crate) struct Plans {
    shared: Arc<Mutex<SharedPlans>>,
    local: Vec<(u32, Option<Arc<Plan>>)>,
    /// The chunk `local` belongs to: its buffer, first record id and header checksum.
    chunk: (usize, u64, u32),
    /// Slot tables to reuse (one per nesting level).
    buffers: Vec<Vec<SlotValue>>,
    /// Per pair of plans (by address: a record's and its nested one's), their keys in order.
    prototypes: Vec<Prototype>,
    opts: Arc<ReadOptions>,
}

impl Plans {
    /// No plans yet, for reading with `opts`.
    pub(crate) fn new(opts: Arc<ReadOptions>) -> Plans {
        Plans {
            shared: Arc::default(),
            local: Vec::new(),
            chunk: (0, 0, 0),
            buffers: Vec::new(),
            prototypes: Vec::new(),
            opts,
        }
    }

    /// The event of `record`, or `None` when it must be rendered instead.
    pub(crate) fn event(&mut self, record: &EvtxRecord<'_>) -> Option<Event> {
        // Definition offsets are per chunk: another chunk starts a new local cache.
        let header = record.chunk.header;
        let chunk = (
            record.chunk.data.as_ptr() as usize,
            header.first_event_record_id,
            header.header_chunk_checksum,
        );
        if chunk != self.chunk {
            self.chunk = chunk;
            self.local.clear();
        }
        let data = record.chunk.data;
        let start = usize::try_from(record.binxml_offset).ok()?;
        let end = start.checked_add(record.binxml_size as usize)?;
        let (root, root_values) = self.instance(data, start, end, true)?;
        // The nested instance (most providers' `EventData`), when there is one.
        let mut nested = None;
        for step in root
            .steps
            .iter()
            .filter(|s| matches!(s.target, Target::Nested))
        {
            let Some(Source::Slot(index)) = step.source else {
                return None;
            };
            match *root_values.get(index as usize)? {
                (0x00, _, _) => {}
                (0x21, at, size) if nested.is_none() => {
                    nested = Some(self.instance(data, at, at + size, false)?);
                }
                _ => return None,
            }
        }
        let mut parts = Parts::default();
        parts.layout = Layout::EvtxDump;
        // The fields start as a copy of the plans' keys, so no key is hashed per record.
        let mut fill = Fill::default();
        if let Some(keys) = self.prototype(&root, nested.as_ref().map(|n| &n.0)) {
            parts.data = (*keys).clone();
            fill.prototype = true;
        }
        let nested_ref = nested
            .as_ref()
            .map(|(plan, values)| (&**plan, values.as_slice()));
        self.apply(&root, data, &root_values, nested_ref, &mut parts, &mut fill)?;
        for index in fill.missing.iter().rev() {
            parts.data.shift_remove_index(*index);
        }
        self.buffers.push(root_values);
        if let Some((_, values)) = nested {
            self.buffers.push(values);
        }
        Some(recognize::assemble(parts))
    }

    /// The plan and slot values (type, offset, size) of the template instance that is the
    /// whole stream `data[start..end]`: the record's own (`Event`, when `root`) or one nested
    /// in a slot (`EventData`).
    fn instance(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        root: bool,
    ) -> Option<(Arc<Plan>, Vec<SlotValue>)> {
        let body = match data.get(start..end)? {
            [0x0f, _, _, _, 0x0c, _, ..] => 5,
            [0x0c, ..] => 1,
            _ => return None,
        };
        let mut cursor = Cursor {
            data,
            pos: start + body,
        };
        cursor.skip(1)?;
        let _template_id = cursor.u32()?;
        let def_offset = cursor.u32()?;
        if cursor.pos == def_offset as usize {
            cursor.skip(20)?;
            let size = cursor.u32()?;
            cursor.skip(size as usize)?;
        }
        let plan = self.plan(data, def_offset)?;
        if plan.root != root {
            return None;
        }
        let count = cursor.u32()? as usize;
        let descriptors = cursor.take(count.checked_mul(4)?)?;
        let mut values = self.buffers.pop().unwrap_or_default();
        values.clear();
        let mut at = cursor.pos;
        for descriptor in descriptors.chunks_exact(4) {
            let size = u16::from_le_bytes([descriptor[0], descriptor[1]]) as usize;
            values.push((descriptor[2], at, size));
            at = at.checked_add(size)?;
        }
        // The instance must be the whole stream (the rest empty or an end-of-stream token).
        if !matches!(data.get(at..end)?, [] | [0x00, ..]) {
            return None;
        }
        Some((plan, values))
    }

    /// The keys a record of `root` (with `nested` in its slot) gets, in order, with null
    /// values; `None` when two steps name the same key (then fields are inserted one by one).
    fn prototype(&mut self, root: &Arc<Plan>, nested: Option<&Arc<Plan>>) -> Option<Arc<Fields>> {
        let key = (
            Arc::as_ptr(root) as usize,
            nested.map_or(0, |n| Arc::as_ptr(n) as usize),
        );
        if let Some((_, keys)) = self.prototypes.iter().find(|(k, _)| *k == key) {
            return keys.clone();
        }
        let mut names = Vec::new();
        for step in &root.steps {
            match (&step.target, nested) {
                (Target::Nested, Some(nested)) => {
                    names.extend(nested.steps.iter().filter_map(Step::key));
                }
                _ => names.extend(step.key()),
            }
        }
        let mut keys = Fields::with_capacity_and_hasher(names.len(), FieldHash::default());
        for name in &names {
            keys.insert(Name::new(name), Value::Null);
        }
        let keys = (keys.len() == names.len()).then(|| Arc::new(keys));
        self.prototypes.push((key, keys.clone()));
        keys
    }

    /// Applies `plan` to one instance's slot values, and `nested` at its nested slot.
    fn apply(
        &mut self,
        plan: &Plan,
        data: &[u8],
        values: &[SlotValue],
        nested: Option<(&Plan, &[SlotValue])>,
        parts: &mut Parts,
        fill: &mut Fill,
    ) -> Option<()> {
        let slot = |index: u16| values.get(index as usize).copied();
        if !fill.prototype {
            // Room for every field at once: growing the map would hash every key again.
            parts.data.reserve(plan.steps.len());
        }
        for step in &plan.steps {
            if let Some(dependency) = step.dependency
                && slot(dependency)?.0 == 0x00
            {
                if step.key().is_some() {
                    fill.skip();
                }
                continue;
            }
            let value = |source: &Source| -> Option<Value> {
                match source {
                    Source::Literal(text) => Some(Value::String(text.clone())),
                    Source::Slot(index) => {
                        let (ty, at, size) = slot(*index)?;
                        decode(ty, data.get(at..at + size)?)
                    }
                }
            };
            let source = step.source.as_ref();
            match &step.target {
                Target::Provider => {
                    let provider = value(source?)?;
                    parts.system.provider = Some(provider.clone());
                    fill.put(parts, "Provider_Name", provider);
                }
                Target::TimeCreated => {
                    let time = match source? {
                        Source::Slot(index) => match slot(*index)? {
                            (0x11, at, 8) => {
                                filetime(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
                            }
                            _ => value(source?)?.as_str().and_then(recognize::parse_time),
                        },
                        literal => value(literal)?.as_str().and_then(recognize::parse_time),
                    };
                    if let Some(time) = time {
                        parts.offer_parsed_time(SYSTEM_TIME_RANK, time);
                    }
                }
                Target::EventId => {
                    let id = recognize::normalise_number(value(source?)?);
                    parts.system.event_id = Some(id.clone());
                    fill.put(parts, "EventID", id);
                }
                Target::Channel => {
                    let channel = value(source?)?;
                    parts.system.channel = Some(channel.clone());
                    fill.put(parts, "Channel", channel);
                }
                Target::Computer => {
                    fill.put(parts, "Computer", value(source?)?);
                }
                Target::RecordId => {
                    let id = recognize::normalise_number(value(source?)?);
                    fill.put(parts, "EventRecordID", id);
                }
                Target::System(name) => {
                    fill.put(parts, name, value(source?)?);
                }
                Target::SystemAttributes(name, attributes) => {
                    // NULL attributes are left out, and an element with none left is null.
                    let mut attrs =
                        Fields::with_capacity_and_hasher(attributes.len(), FieldHash::default());
                    for (attr, source) in attributes {
                        if let Source::Slot(index) = source
                            && slot(*index)?.0 == 0x00
                        {
                            continue;
                        }
                        attrs.insert(Name::new(attr), value(source)?);
                    }
                    let element = if attrs.is_empty() {
                        Value::Null
                    } else {
                        let mut element = Fields::with_capacity_and_hasher(1, FieldHash::default());
                        element.insert("#attributes".into(), Value::Map(Box::new(attrs)));
                        Value::Map(Box::new(element))
                    };
                    fill.put(parts, name, element);
                }
                Target::Data {
                    name,
                    keep,
                    time_rank,
                } => {
                    // A `Data` element without a value renders as empty text.
                    let value = match source? {
                        Source::Slot(index) => match slot(*index)? {
                            (0x00, _, _) | (0x01 | 0x0e, _, 0) => Value::String(String::new()),
                            (0x01, at, 2..) if data.get(at..at + 2)? == [0, 0] => {
                                Value::String(String::new())
                            }
                            _ => value(source?)?,
                        },
                        literal => value(literal)?,
                    };
                    if let Some(rank) = time_rank {
                        parts.offer_time(*rank, &value);
                    }
                    if *keep {
                        fill.put(parts, name, value);
                    }
                }
                Target::Nested => {
                    if let Some((plan, values)) = nested {
                        self.apply(plan, data, values, None, parts, fill)?;
                    }
                }
            }
        }
        Some(())
    }

    /// The plan of the template defined at `def_offset` of the chunk `data`.
    fn plan(&mut self, data: &[u8], def_offset: u32) -> Option<Arc<Plan>> {
        if let Some((_, plan)) = self.local.iter().find(|(at, _)| *at == def_offset) {
            return plan.clone();
        }
        let header = data.get(def_offset as usize + 4..def_offset as usize + 24)?;
        let guid: [u8; 16] = header.get(..16)?.try_into().ok()?;
        let size = u32::from_le_bytes(header.get(16..20)?.try_into().ok()?);
        let key = (guid, size);
        let known = self
            .shared
            .lock()
            .ok()
            .and_then(|plans| plans.get(&key).cloned());
        let plan = match known {
            Some(plan) => plan,
            None => {
                let plan = definition(data, def_offset as usize)
                    .and_then(|root| plan_for(&root, &self.opts))
                    .map(Arc::new);
                if let Ok(mut plans) = self.shared.lock() {
                    plans.insert(key, plan.clone());
                }
                plan
            }
        };
        self.local.push((def_offset, plan.clone()));
        plan
    }
}

/// A FILETIME as the rendering path reads it back (100 ns precision; years 1601 to 9999).
fn filetime(ticks: u64) -> Option<DateTime<Utc>> {
    const UNIX_EPOCH: i64 = 11_644_473_600;
    let ticks = i64::try_from(ticks).ok()?;
    let time = DateTime::from_timestamp(
        ticks / 10_000_000 - UNIX_EPOCH,
        (ticks % 10_000_000) as u32 * 100,
    )?;
    (chrono::Datelike::year(&time) < 10_000).then_some(time)
}

/// One substitution value as the rendering path would read it back; `None` for what it
/// renders in ways not modelled here (NULL, empty text, arrays, nested BinXML, bad sizes).
fn decode(ty: u8, bytes: &[u8]) -> Option<Value> {
    let fixed = |n: usize| (bytes.len() == n).then_some(bytes);
    let int = |v: i64| Some(Value::Int(v));
    Some(match ty {
        0x01 => Value::String(utf16(bytes).filter(|text| !text.is_empty())?),
        0x03 => return int(i64::from(fixed(1)?[0] as i8)),
        0x04 => return int(i64::from(fixed(1)?[0])),
        0x05 => return int(i64::from(i16::from_le_bytes(fixed(2)?.try_into().ok()?))),
        0x06 => return int(i64::from(u16::from_le_bytes(fixed(2)?.try_into().ok()?))),
        0x07 => return int(i64::from(i32::from_le_bytes(fixed(4)?.try_into().ok()?))),
        0x08 => return int(i64::from(u32::from_le_bytes(fixed(4)?.try_into().ok()?))),
        0x09 => return int(i64::from_le_bytes(fixed(8)?.try_into().ok()?)),
        0x0a => {
            let v = u64::from_le_bytes(fixed(8)?.try_into().ok()?);
            i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
        }
        0x0d => match i32::from_le_bytes(fixed(4)?.try_into().ok()?) {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            raw => Value::Int(i64::from(raw)),
        },
        0x0e if !bytes.is_empty() => Value::String(BinXmlValue::BinaryType(bytes).to_string()),
        0x0f => Value::String(BinXmlValue::GuidType(fixed(16)?.try_into().ok()?).to_string()),
        0x10 if bytes.len() == 4 => Value::String(
            BinXmlValue::HexInt32Type(u32::from_le_bytes(bytes.try_into().ok()?)).to_string(),
        ),
        0x10 | 0x15 => Value::String(
            BinXmlValue::HexInt64Type(u64::from_le_bytes(fixed(8)?.try_into().ok()?)).to_string(),
        ),
        0x14 => Value::String(
            BinXmlValue::HexInt32Type(u32::from_le_bytes(fixed(4)?.try_into().ok()?)).to_string(),
        ),
        0x11 => Value::String(
            BinXmlValue::FileTimeType(evtx::binxml::value_variant::FileTime(u64::from_le_bytes(
                fixed(8)?.try_into().ok()?,
            )))
            .to_string(),
        ),
        0x13 => Value::String(sid(bytes)?),
        _ => return None,
    })
}

/// UTF-16LE text up to the first NUL; `None` when it is not valid UTF-16. ASCII, the common
/// case, goes four code units at a time.
fn utf16(bytes: &[u8]) -> Option<String> {
    const HIGH: u64 = 0xff80_ff80_ff80_ff80;
    const ONES: u64 = 0x0001_0001_0001_0001;
    const SIGNS: u64 = 0x8000_8000_8000_8000;
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let mut ascii = Vec::with_capacity(bytes.len() / 2);
    let mut at = 0;
    for word in bytes.chunks_exact(8) {
        let w = u64::from_le_bytes(word.try_into().ok()?);
        // Stop at a unit that is not ASCII or is NUL (a zero 16-bit lane).
        if w & HIGH != 0 || w.wrapping_sub(ONES) & !w & SIGNS != 0 {
            break;
        }
        ascii.extend_from_slice(&[w as u8, (w >> 16) as u8, (w >> 32) as u8, (w >> 48) as u8]);
        at += 8;
    }
    let mut units = bytes[at..]
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]))
        .take_while(|&u| u != 0)
        .peekable();
    while let Some(&unit) = units.peek()
        && unit < 0x80
    {
        ascii.push(unit as u8);
        units.next();
    }
    let mut text = String::from_utf8(ascii).ok()?;
    for c in char::decode_utf16(units) {
        text.push(c.ok()?);
    }
    Some(text)
}

/// A SID as `S-R-A-S1-…-Sn`.
fn sid(bytes: &[u8]) -> Option<String> {
    let (&[revision, count, a0, a1, a2, a3, a4, a5], subs) = bytes.split_first_chunk::<8>()?;
    let count = count as usize;
    if subs.len() != count * 4 {
        return None;
    }
    let authority = u64::from_be_bytes([0, 0, a0, a1, a2, a3, a4, a5]);
    let mut text = format!("S-{revision}-{authority}");
    for sub in subs.chunks_exact(4) {
        let sub = u32::from_le_bytes(sub.try_into().ok()?);
        text.push('-');
        text.push_str(&sub.to_string());
    }
    Some(text)
}

/// A piece of element content or attribute value in a template definition.
#[derive(Debug)]
enum Piece {
    Text(String),
    Slot(u16),
}

/// An element of a template definition.
#[derive(Debug, Default)]
struct Element {
    name: String,
    dependency: Option<u16>,
    attributes: Vec<(String, Vec<Piece>)>,
    children: Vec<Element>,
    content: Vec<Piece>,
}

/// Bounds-checked little-endian reads over a chunk.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    /// UTF-16 text of `units` code units.
    fn utf16(&mut self, units: usize) -> Option<String> {
        utf16(self.take(units.checked_mul(2)?)?)
    }
    /// A name reference: an offset into the chunk, the name stored there when it is the
    /// current position.
    fn name(&mut self) -> Option<String> {
        let offset = self.u32()? as usize;
        let mut at = Cursor {
            data: self.data,
            pos: offset.checked_add(6)?,
        };
        let units = at.u16()? as usize;
        let name = at.utf16(units)?;
        if offset == self.pos {
            self.pos = at.pos + 2;
        }
        Some(name)
    }
}

/// Parses the template definition at `offset`: its header, then the element tree.
fn definition(data: &[u8], offset: usize) -> Option<Element> {
    let mut cursor = Cursor { data, pos: offset };
    cursor.skip(20)?;
    let size = cursor.u32()? as usize;
    let end = cursor.pos.checked_add(size)?;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    // Whether the element on top of the stack is still in its start tag (attributes).
    let mut in_start = false;
    while cursor.pos < end {
        let token = cursor.u8()?;
        match token {
            0x00 => break,
            0x0f => cursor.skip(3)?,
            0x01 | 0x41 => {
                let dependency = cursor.u16()?;
                cursor.skip(4)?;
                let name = cursor.name()?;
                if token & 0x40 != 0 {
                    cursor.skip(4)?;
                }
                stack.push(Element {
                    name,
                    dependency: (dependency != 0xffff).then_some(dependency),
                    ..Element::default()
                });
                in_start = true;
            }
            0x06 | 0x46 => {
                let name = cursor.name()?;
                stack.last_mut()?.attributes.push((name, Vec::new()));
            }
            0x02 => in_start = false,
            0x03 | 0x04 => {
                let element = stack.pop()?;
                in_start = false;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            0x05 | 0x45 | 0x0d | 0x0e => {
                let piece = if token & 0x0f == 0x05 {
                    if cursor.u8()? != 0x01 {
                        return None;
                    }
                    let units = cursor.u16()? as usize;
                    Piece::Text(cursor.utf16(units)?)
                } else {
                    let slot = cursor.u16()?;
                    cursor.skip(1)?;
                    Piece::Slot(slot)
                };
                let element = stack.last_mut()?;
                if in_start {
                    element.attributes.last_mut()?.1.push(piece);
                } else {
                    element.content.push(piece);
                }
            }
            _ => return None,
        }
    }
    root
}

/// The one value of `pieces`, when it is exactly one slot or literal.
fn single(pieces: &[Piece]) -> Option<Source> {
    match pieces {
        [Piece::Slot(slot)] => Some(Source::Slot(*slot)),
        [Piece::Text(text)] => Some(Source::Literal(text.clone())),
        _ => None,
    }
}

/// The plan for a template whose root element is `root`, reading with `opts`: a record's
/// `Event`, or an `EventData` nested in one of its slots.
fn plan_for(root: &Element, opts: &ReadOptions) -> Option<Plan> {
    let mut steps = Vec::new();
    match root.name.as_str() {
        "Event" => {
            for part in &root.children {
                match part.name.as_str() {
                    "System" => system_steps(part, &opts.fields, &mut steps)?,
                    "EventData" => data_steps(part, opts, &mut steps)?,
                    "UserData" => return None,
                    _ => {}
                }
            }
            for piece in &root.content {
                let Piece::Slot(slot) = piece else {
                    return None;
                };
                steps.push(Step {
                    dependency: None,
                    source: Some(Source::Slot(*slot)),
                    target: Target::Nested,
                });
            }
            Some(Plan { root: true, steps })
        }
        "EventData" => {
            data_steps(root, opts, &mut steps)?;
            Some(Plan { root: false, steps })
        }
        _ => None,
    }
}

fn system_steps(system: &Element, filter: &FieldFilter, steps: &mut Vec<Step>) -> Option<()> {
    if system.dependency.is_some() || !system.content.is_empty() {
        return None;
    }
    for element in &system.children {
        if !element.children.is_empty() {
            return None;
        }
        let attribute = |name: &str| {
            element
                .attributes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, pieces)| single(pieces))
        };
        let text = single(&element.content);
        let (target, source) = match element.name.as_str() {
            "Provider" => (Target::Provider, attribute("Name")??),
            "TimeCreated" => (Target::TimeCreated, attribute("SystemTime")??),
            "EventID" => (Target::EventId, text?),
            "Channel" if element.attributes.is_empty() => (Target::Channel, text?),
            "Computer" if element.attributes.is_empty() => (Target::Computer, text?),
            "EventRecordID" => (Target::RecordId, text?),
            "Channel" | "Computer" => return None,
            name if !filter.wants_data(name) => continue,
            name if element.content.is_empty() && !element.attributes.is_empty() => {
                let attributes = element
                    .attributes
                    .iter()
                    .map(|(n, pieces)| Some((n.clone(), single(pieces)?)))
                    .collect::<Option<Vec<_>>>()?;
                steps.push(Step {
                    dependency: element.dependency,
                    source: None,
                    target: Target::SystemAttributes(name.to_string(), attributes),
                });
                continue;
            }
            name => (Target::System(name.to_string()), text?),
        };
        steps.push(Step {
            dependency: element.dependency,
            source: Some(source),
            target,
        });
    }
    Some(())
}

fn data_steps(event_data: &Element, opts: &ReadOptions, steps: &mut Vec<Step>) -> Option<()> {
    if event_data.dependency.is_some()
        || !event_data.content.is_empty()
        || !event_data.attributes.is_empty()
    {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    for data in &event_data.children {
        let [(attr, name)] = data.attributes.as_slice() else {
            return None;
        };
        let Some(Source::Literal(name)) = (attr == "Name").then(|| single(name)).flatten() else {
            return None;
        };
        if data.name != "Data" || !data.children.is_empty() || !seen.insert(name.clone()) {
            return None;
        }
        let keep = opts.fields.wants_data(&name);
        let time_rank = recognize::time_rank(opts, &name);
        if !keep && time_rank.is_none() {
            continue;
        }
        steps.push(Step {
            dependency: data.dependency,
            source: Some(single(&data.content)?),
            target: Target::Data {
                name,
                keep,
                time_rank,
            },
        });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::json;
    use std::path::{Path, PathBuf};

    /// Every record of `path` both ways: (records read directly, records, differences).
    fn compare(path: &Path, opts: ReadOptions) -> (usize, usize, Vec<String>) {
        let settings = evtx::ParserSettings::new()
            .num_threads(1)
            .validate_checksums(true)
            .indent(false);
        let Ok(parser) = evtx::EvtxParser::from_path(path) else {
            return (0, 0, Vec::new());
        };
        let mut parser = parser.with_configuration(settings);
        let opts = Arc::new(opts);
        let mut plans = Plans::new(Arc::clone(&opts));
        let results: Vec<(bool, Option<String>)> = parser
            .serialized_records(move |record| {
                let record = record?;
                let direct = plans.event(&record);
                let id = record.event_record_id;
                let rendered = record.into_json_bytes()?;
                let slow = json::parse_document(&rendered.data, &opts);
                Ok(match (direct, slow) {
                    (None, _) => (false, None),
                    // Equal, and in the same field order (`==` on maps ignores order).
                    (Some(fast), Ok(slow))
                        if fast == slow && fast.fields.keys().eq(slow.fields.keys()) =>
                    {
                        (true, None)
                    }
                    (Some(fast), slow) => (
                        true,
                        Some(format!(
                            "record {id}: direct {:?}\nrendered {:?}\njson {}",
                            fast,
                            slow,
                            String::from_utf8_lossy(&rendered.data)
                        )),
                    ),
                })
            })
            .filter_map(Result::ok)
            .collect();
        let direct = results.iter().filter(|r| r.0).count();
        let differences = results.iter().filter_map(|r| r.1.clone()).collect();
        (direct, results.len(), differences)
    }

    fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                evtx_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "evtx") {
                out.push(path);
            }
        }
    }

    #[test]
    fn utf16_text_stops_at_nul_and_rejects_lone_surrogates() {
        let encode =
            |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        assert_eq!(
            utf16(&encode("C:\\a.exe\0junk")).as_deref(),
            Some("C:\\a.exe")
        );
        assert_eq!(utf16(&encode("naïve 🦀")).as_deref(), Some("naïve 🦀"));
        assert_eq!(utf16(&[0x00, 0xd8, 0x41, 0x00]), None);
        assert_eq!(utf16(&[0x41]), None);
        assert_eq!(utf16(&encode("abcdefgh")).as_deref(), Some("abcdefgh"));
        assert_eq!(utf16(&encode("abcé\0fgh")).as_deref(), Some("abcé"));
        assert_eq!(utf16(&encode("abcdefg\0")).as_deref(), Some("abcdefg"));
        assert_eq!(utf16(&encode("")).as_deref(), Some(""));
    }

    #[test]
    #[allow(
        clippy::print_stdout,
        reason = "coverage and the skip notice are the test's output"
    )]
    fn direct_reading_makes_the_event_rendering_makes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        evtx_files(&root.join("fixtures/logs"), &mut files);
        let shared = root.join("../shared/corpora/sigma-regression-sample");
        if shared.exists() {
            evtx_files(&shared, &mut files);
        } else {
            println!(
                "note: {} is absent; bundled fixtures only",
                shared.display()
            );
        }
        if let Some(extra) = std::env::var_os("FIREDRILL_EVTX_DIR") {
            evtx_files(Path::new(&extra), &mut files);
        }
        files.sort();
        let filters = [
            ReadOptions::default(),
            ReadOptions {
                fields: FieldFilter::only(["CommandLine", "Image", "ParentImage", "User"]),
                time_field: Some("UtcTime".into()),
                ..ReadOptions::default()
            },
        ];
        let (mut direct, mut total) = (0, 0);
        for path in &files {
            for opts in &filters {
                let (d, t, differences) = compare(path, opts.clone());
                assert!(
                    differences.is_empty(),
                    "{}: {}",
                    path.display(),
                    differences.join("\n\n")
                );
                println!("{}: {d} of {t} read directly", path.display());
                direct += d;
                total += t;
            }
        }
        assert!(total > 0);
        assert!(
            direct * 10 >= total * 9,
            "only {direct} of {total} read directly"
        );
    }
}
