//! The database a query runs against: tables bound to events, typed by the catalog, and a pinned clock.
//!
//! Generated renderings bind to the tables that serve them: `mde` → `DeviceProcessEvents`,
//! `asim` → `imProcessCreate` (and its aliases `_Im_ProcessCreate`, `_ASim_ProcessEvent*`,
//! `ASimProcessEventLogs`), `security4688` → `SecurityEvent` with Sentinel's columns. Every other
//! table the catalog knows exists and is empty. Values are converted to the column types; fields a
//! rendering adds beyond the published schema (parser-only columns such as `TargetProcessFilename`)
//! are appended with the type their values suggest.

use super::schema::{Catalog, Column, asim_parser_source, asim_process_function};
use super::table::{EventRef, Row, Table};
use super::value::{ScalarType, Value, parse_datetime, ticks_from_chrono};
use crate::event::{Event, LogSchema, Value as EventValue};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use std::sync::Arc;

/// Tables and a clock.
#[derive(Debug, Clone)]
pub struct Database {
    now: i64,
    tables: IndexMap<String, Arc<Table>>,
    parameters: IndexMap<String, Value>,
    watchlists: IndexMap<String, Arc<Table>>,
}

/// The table name that `schema`'s rendering is bound to, or `None` when no KQL table serves it.
pub fn table_for_rendering(schema: LogSchema) -> Option<&'static str> {
    match schema {
        LogSchema::Mde => Some("DeviceProcessEvents"),
        LogSchema::Asim => Some("imProcessCreate"),
        LogSchema::Security4688 => Some("SecurityEvent"),
        _ => None,
    }
}

/// The rendering a table name reads, when one serves it (the inverse of [`table_for_rendering`]).
pub fn rendering_for_table(name: &str) -> Option<LogSchema> {
    match name {
        "DeviceProcessEvents" => Some(LogSchema::Mde),
        "SecurityEvent" => Some(LogSchema::Security4688),
        n if asim_process_function(n) => Some(LogSchema::Asim),
        _ => None,
    }
}

impl Database {
    /// An empty database whose `now()` is `now`.
    pub fn new(now: DateTime<Utc>) -> Database {
        Database {
            now: ticks_from_chrono(now),
            tables: IndexMap::new(),
            parameters: IndexMap::new(),
            watchlists: IndexMap::new(),
        }
    }

    /// Declares a query parameter (Sentinel's parser parameters such as `disabled`), visible to
    /// queries as a scalar name.
    pub fn declare(&mut self, name: &str, value: Value) {
        self.parameters.insert(name.to_string(), value);
    }

    /// The declared query parameters.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.parameters.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `now()` in ticks.
    pub fn now_ticks(&self) -> i64 {
        self.now
    }

    /// Moves the clock.
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = ticks_from_chrono(now);
    }

    /// Binds `events` as table `name`. Known tables get their catalog columns (plus any extra
    /// fields the events carry); unknown ones get columns inferred from the events.
    pub fn bind(&mut self, name: &str, events: &[Event]) {
        let table = build_table(name, events);
        self.tables
            .insert(canonical(name).to_string(), Arc::new(table));
    }

    /// Binds a generator rendering to the table that serves it; returns that table's name, or
    /// `None` when no KQL table reads this schema (the events are then not bound).
    pub fn bind_rendering(&mut self, schema: LogSchema, events: &[Event]) -> Option<&'static str> {
        let name = table_for_rendering(schema)?;
        self.bind(name, events);
        Some(name)
    }

    /// Binds Microsoft Sentinel watchlist `alias`, what `_GetWatchlist('alias')` returns: one row
    /// per item, with the columns Sentinel adds (`_DTItemId`, `LastUpdatedTimeUTC` = the clock,
    /// `SearchKey` = the item's `search_key` field, `WatchlistItem` = the item as a bag), then
    /// the items' fields as columns ordered by name and typed from their values. Watchlist rows
    /// carry no provenance: they are reference data, not events.
    pub fn bind_watchlist(&mut self, alias: &str, search_key: Option<&str>, items: &[Event]) {
        let fields = build_table("", items);
        let mut order: Vec<usize> = (0..fields.columns.len()).collect();
        order.sort_by(|a, b| fields.columns[*a].name.cmp(&fields.columns[*b].name));
        let key = search_key.and_then(|k| fields.column_index(k));
        let mut columns = watchlist_columns();
        columns.extend(order.iter().map(|&i| fields.columns[i].clone()));
        let rows = fields
            .rows
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let bag: IndexMap<String, Value> = order
                    .iter()
                    .filter(|&&i| !r.values[i].is_null())
                    .map(|&i| (fields.columns[i].name.clone(), r.values[i].clone()))
                    .collect();
                let mut values = vec![
                    Value::str(format!("00000000-0000-0000-0000-{:012x}", n + 1)),
                    Value::DateTime(self.now),
                    key.map_or(Value::empty_string(), |k| {
                        Value::str(r.values[k].to_kql_string())
                    }),
                    Value::bag(bag),
                ];
                values.extend(order.iter().map(|&i| r.values[i].clone()));
                Row::literal(values)
            })
            .collect();
        let table = Table {
            columns,
            rows,
            open: true,
            serialized: false,
        };
        self.watchlists.insert(alias.to_string(), Arc::new(table));
    }

    /// The watchlist `_GetWatchlist(alias)` reads, when one was bound.
    pub fn watchlist(&self, alias: &str) -> Option<Arc<Table>> {
        self.watchlists.get(alias).map(Arc::clone)
    }

    /// Binds a ready table (rows keep their provenance).
    pub fn bind_table(&mut self, name: &str, table: Table) {
        self.tables
            .insert(canonical(name).to_string(), Arc::new(table));
    }

    /// The table called `name`: a bound one, or an empty one of the catalog's schema.
    pub fn table(&self, name: &str) -> Option<Arc<Table>> {
        if let Some(t) = self.tables.get(canonical(name)) {
            // A source-specific ASIM parser returns its source's rows only.
            if let Some(product) = asim_parser_source(name) {
                let mut rows = Table::empty(t.columns.clone());
                if let (Some(product), Some(at)) = (product, t.column_index("EventProduct")) {
                    rows.rows = t
                        .rows
                        .iter()
                        .filter(|row| row.values[at].as_str() == Some(product))
                        .cloned()
                        .collect();
                }
                return Some(Arc::new(rows));
            }
            return Some(Arc::clone(t));
        }
        let schema = Catalog::builtin().get(name)?;
        Some(Arc::new(Table::empty(schema.columns.clone())))
    }

    /// True when `name` was bound to events (not just known to the catalog).
    pub fn is_bound(&self, name: &str) -> bool {
        self.tables.contains_key(canonical(name))
    }

    /// Every table name a query may read: bound ones and the catalog's.
    pub fn table_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tables.keys().map(String::as_str).collect();
        names.extend(Catalog::builtin().names());
        names
    }
}

/// The columns Sentinel's `_GetWatchlist()` returns before the item's own fields.
pub fn watchlist_columns() -> Vec<Column> {
    vec![
        Column::new("_DTItemId", ScalarType::String),
        Column::new("LastUpdatedTimeUTC", ScalarType::DateTime),
        Column::new("SearchKey", ScalarType::String),
        Column::new("WatchlistItem", ScalarType::Dynamic),
    ]
}

/// The name a table binds under: the ASIM process aliases (`_Im_ProcessCreate`,
/// `ASimProcessCreate…`) all bind to `imProcessCreate`.
pub fn canonical(name: &str) -> &str {
    if asim_process_function(name) {
        "imProcessCreate"
    } else {
        name
    }
}

fn build_table(name: &str, events: &[Event]) -> Table {
    let table_ref: Arc<str> = Arc::from(canonical(name));
    let flat: Vec<IndexMap<String, EventValue>> = events
        .iter()
        .map(|e| {
            let mut fields = flatten(e);
            derive_columns(canonical(name), e, &mut fields);
            fields
        })
        .collect();
    let mut columns: Vec<Column> = match Catalog::builtin().get(name) {
        Some(schema) => schema.columns.clone(),
        None => Vec::new(),
    };
    // Extra fields, typed by their first non-null value.
    let mut extra: IndexMap<String, ScalarType> = IndexMap::new();
    let known: std::collections::HashSet<String> = columns.iter().map(|c| c.name.clone()).collect();
    for fields in &flat {
        for (key, value) in fields {
            if value.is_null() || known.contains(key) || extra.contains_key(key) {
                continue;
            }
            extra
                .entry(key.clone())
                .or_insert_with(|| infer_type(value));
        }
    }
    columns.extend(extra.into_iter().map(|(n, t)| Column::new(n, t)));
    let time_column = ["Timestamp", "TimeGenerated"].into_iter().find_map(|n| {
        columns
            .iter()
            .position(|c| c.name == n && c.ty == ScalarType::DateTime)
    });
    let rows = flat
        .iter()
        .zip(events)
        .enumerate()
        .map(|(index, (fields, event))| {
            let mut values: Vec<Value> = columns
                .iter()
                .map(|c| match fields.get(&c.name) {
                    Some(v) => Value::from_event(v, c.ty),
                    None => c.ty.null(),
                })
                .collect();
            if let (Some(i), Some(ts)) = (time_column, event.timestamp)
                && values[i].is_null()
            {
                values[i] = Value::DateTime(ticks_from_chrono(ts));
            }
            Row {
                values,
                sources: vec![EventRef {
                    table: Arc::clone(&table_ref),
                    index,
                }],
            }
        })
        .collect();
    Table {
        columns,
        rows,
        open: false,
        serialized: false,
    }
}

/// The event's fields with an `EventData` map (Windows XML renderings) lifted to the top level.
fn flatten(event: &Event) -> IndexMap<String, EventValue> {
    let mut out = IndexMap::new();
    for (key, value) in &event.fields {
        match (key.as_str(), value) {
            ("EventData" | "System", EventValue::Map(inner)) => {
                for (k, v) in inner.iter() {
                    out.entry(k.to_string()).or_insert_with(|| v.clone());
                }
            }
            _ => {
                out.insert(key.to_string(), value.clone());
            }
        }
    }
    out
}

/// Columns Sentinel computes for a table that the raw rendering does not carry.
fn derive_columns(table: &str, event: &Event, fields: &mut IndexMap<String, EventValue>) {
    let text = |fields: &IndexMap<String, EventValue>, name: &str| {
        fields
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match table {
        "SecurityEvent" => {
            let mut set = |k: &str, v: EventValue| {
                if fields.get(k).is_none_or(EventValue::is_null) {
                    fields.insert(k.to_string(), v);
                }
            };
            set("EventID", EventValue::Int(4688));
            set("Channel", "Security".into());
            set(
                "EventSourceName",
                "Microsoft-Windows-Security-Auditing".into(),
            );
            set("Activity", "4688 - A new process has been created.".into());
            set("Type", "SecurityEvent".into());
            set("Task", EventValue::Int(13312));
            set("Level", "8".into());
            let subject = match (
                text(fields, "SubjectDomainName"),
                text(fields, "SubjectUserName"),
            ) {
                (Some(d), Some(u)) if !d.is_empty() && d != "-" => Some(format!("{d}\\{u}")),
                (_, Some(u)) => Some(u),
                _ => None,
            };
            let target = match (
                text(fields, "TargetDomainName"),
                text(fields, "TargetUserName"),
            ) {
                (Some(d), Some(u)) if !d.is_empty() && d != "-" && u != "-" => {
                    Some(format!("{d}\\{u}"))
                }
                (_, Some(u)) if u != "-" => Some(u),
                _ => None,
            };
            let process = text(fields, "NewProcessName")
                .map(|p| p.rsplit(['\\', '/']).next().unwrap_or(&p).to_string());
            let machine = text(fields, "SubjectUserName").is_some_and(|u| u.ends_with('$'));
            if let Some(s) = subject.clone() {
                set_if_missing(fields, "SubjectAccount", s.clone().into());
                set_if_missing(fields, "Account", s.into());
            }
            if let Some(t) = target {
                set_if_missing(fields, "TargetAccount", t.into());
            }
            if let Some(p) = process {
                set_if_missing(fields, "Process", p.into());
            }
            set_if_missing(
                fields,
                "AccountType",
                if machine { "Machine" } else { "User" }.into(),
            );
        }
        "imProcessCreate" => {
            set_if_missing(fields, "EventType", "ProcessCreated".into());
            set_if_missing(fields, "EventSchema", "ProcessEvent".into());
        }
        _ => {}
    }
    let _ = event;
}

fn set_if_missing(fields: &mut IndexMap<String, EventValue>, key: &str, value: EventValue) {
    if fields.get(key).is_none_or(EventValue::is_null) {
        fields.insert(key.to_string(), value);
    }
}

fn infer_type(value: &EventValue) -> ScalarType {
    match value {
        EventValue::Null => ScalarType::String,
        EventValue::Bool(_) => ScalarType::Bool,
        EventValue::Int(_) => ScalarType::Long,
        EventValue::Float(_) => ScalarType::Real,
        EventValue::String(s) => {
            if s.len() >= 19
                && s.as_bytes().get(4) == Some(&b'-')
                && s.contains('T')
                && parse_datetime(s).is_some()
            {
                ScalarType::DateTime
            } else {
                ScalarType::String
            }
        }
        EventValue::List(_) | EventValue::Map(_) => ScalarType::Dynamic,
    }
}

type RowFilter = Box<dyn Fn(&Row) -> bool>;

/// The filtering parameters of the ASIM process parsers, in their declared (positional) order,
/// per Microsoft's "ASIM process event normalization schema" page, section "Filtering parser parameters".
pub const ASIM_PROCESS_PARAMETERS: &[&str] = &[
    "starttime",
    "endtime",
    "commandline_has_any",
    "commandline_has_all",
    "commandline_has_any_ip_prefix",
    "actingprocess_has_any",
    "targetprocess_has_any",
    "parentprocess_has_any",
    "targetusername_has",
    "dvcipaddr_has_any_prefix",
    "dvchostname_has_any",
    "eventtype",
    "actorusername_has",
    "dvcname_has_any",
    "disabled",
];

/// Applies ASIM filtering parameters (`name = value` pairs, already evaluated) to a bound
/// `imProcessCreate` table. An unknown parameter is an `Err` naming it.
pub fn asim_filter(table: &Table, params: &[(String, Value)]) -> Result<Table, String> {
    let col = |name: &str| table.column_index(name);
    let mut filters: Vec<RowFilter> = Vec::new();
    for (name, value) in params {
        let list = || -> Vec<String> {
            match value {
                Value::Array(items) => items.iter().map(Value::to_kql_string).collect(),
                Value::Null => Vec::new(),
                other => vec![other.to_kql_string()],
            }
        };
        let text_of = |i: Option<usize>| {
            move |row: &Row| i.map_or(String::new(), |i| row.values[i].to_kql_string())
        };
        match name.as_str() {
            "starttime" | "endtime" => {
                let Some(bound) = value.to_datetime() else {
                    continue;
                };
                let i = col("TimeGenerated");
                let after = name == "starttime";
                filters.push(Box::new(move |row| {
                    match i.and_then(|i| row.values[i].to_datetime()) {
                        Some(t) => {
                            if after {
                                t >= bound
                            } else {
                                t <= bound
                            }
                        }
                        None => false,
                    }
                }));
            }
            "commandline_has_any"
            | "actingprocess_has_any"
            | "targetprocess_has_any"
            | "parentprocess_has_any"
            | "dvchostname_has_any"
            | "dvcname_has_any"
            | "commandline_has_all" => {
                let terms = list();
                if terms.is_empty() {
                    continue;
                }
                let column = match name.as_str() {
                    "commandline_has_any" | "commandline_has_all" => "TargetProcessCommandLine",
                    "actingprocess_has_any" => "ActingProcessName",
                    "targetprocess_has_any" => "TargetProcessName",
                    "parentprocess_has_any" => "ParentProcessName",
                    _ => "DvcHostname",
                };
                let get = text_of(col(column));
                let all = name == "commandline_has_all";
                filters.push(Box::new(move |row| {
                    let text = get(row);
                    if all {
                        terms.iter().all(|t| super::func::has(&text, t, false))
                    } else {
                        terms.iter().any(|t| super::func::has(&text, t, false))
                    }
                }));
            }
            "commandline_has_any_ip_prefix" | "dvcipaddr_has_any_prefix" => {
                let prefixes = list();
                if prefixes.is_empty() {
                    continue;
                }
                let get = text_of(col(if name == "dvcipaddr_has_any_prefix" {
                    "DvcIpAddr"
                } else {
                    "TargetProcessCommandLine"
                }));
                filters.push(Box::new(move |row| {
                    let text = get(row);
                    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .any(|token| prefixes.iter().any(|p| token.starts_with(p.as_str())))
                }));
            }
            "targetusername_has" | "actorusername_has" => {
                let term = value.to_kql_string();
                if term.is_empty() || term == "*" {
                    continue;
                }
                let get = text_of(col(if name == "targetusername_has" {
                    "TargetUsername"
                } else {
                    "ActorUsername"
                }));
                filters.push(Box::new(move |row| {
                    super::func::has(&get(row), &term, false)
                }));
            }
            "eventtype" => {
                let wanted = value.to_kql_string();
                if wanted.is_empty() {
                    continue;
                }
                let get = text_of(col("EventType"));
                filters.push(Box::new(move |row| get(row) == wanted));
            }
            "disabled" => {
                if value.to_bool() == Some(true) {
                    filters.push(Box::new(|_| false));
                }
            }
            other => {
                let suggestion =
                    crate::diag::did_you_mean(other, ASIM_PROCESS_PARAMETERS.iter().copied())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                return Err(format!(
                    "unknown ASIM parser parameter `{other}`{suggestion}"
                ));
            }
        }
    }
    Ok(Table {
        columns: table.columns.clone(),
        rows: table
            .rows
            .iter()
            .filter(|row| filters.iter().all(|f| f(row)))
            .cloned()
            .collect(),
        open: false,
        serialized: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mde_event(pid: i64, file: &str) -> Event {
        Event::new(LogSchema::Mde)
            .with("Timestamp", "2024-05-01T10:00:00Z")
            .with("FileName", file)
            .with("ProcessId", pid)
            .with("DeviceId", "abc")
    }

    #[test]
    fn renderings_bind_with_catalog_types_and_provenance() {
        let mut db = Database::new(Utc::now());
        let name = db.bind_rendering(
            LogSchema::Mde,
            &[mde_event(4, "cmd.exe"), mde_event(5, "x.exe")],
        );
        assert_eq!(name, Some("DeviceProcessEvents"));
        let table = db.table("DeviceProcessEvents").unwrap();
        let ts = table.column_index("Timestamp").unwrap();
        assert!(matches!(table.rows[0].values[ts], Value::DateTime(_)));
        let pid = table.column_index("ProcessId").unwrap();
        assert_eq!(table.rows[1].values[pid], Value::Long(5));
        assert_eq!(table.rows[1].sources[0].index, 1);
        // A string column the event lacks is empty, never null.
        let cmd = table.column_index("ProcessCommandLine").unwrap();
        assert_eq!(table.rows[0].values[cmd], Value::str(""));
        assert!(db.table("DeviceNetworkEvents").unwrap().rows.is_empty());
        assert!(db.table("NoSuchTable").is_none());
    }

    #[test]
    fn security_events_get_sentinel_columns() {
        let mut db = Database::new(Utc::now());
        let event = Event::new(LogSchema::Security4688)
            .with("NewProcessName", "C:\\Windows\\System32\\cmd.exe")
            .with("SubjectUserName", "WEB01$")
            .with("SubjectDomainName", "CONTOSO");
        db.bind_rendering(LogSchema::Security4688, &[event]);
        let t = db.table("SecurityEvent").unwrap();
        let get = |c: &str| t.rows[0].values[t.column_index(c).unwrap()].clone();
        assert_eq!(get("EventID"), Value::Long(4688));
        assert_eq!(get("Process"), Value::str("cmd.exe"));
        assert_eq!(get("Account"), Value::str("CONTOSO\\WEB01$"));
        assert_eq!(get("AccountType"), Value::str("Machine"));
    }

    #[test]
    fn asim_parameters_filter_and_unknown_ones_are_errors() {
        let mut db = Database::new(Utc::now());
        let e = |cmd: &str| {
            Event::new(LogSchema::Asim)
                .with("TargetProcessCommandLine", cmd)
                .with("TimeGenerated", "2024-05-01T10:00:00Z")
        };
        db.bind_rendering(LogSchema::Asim, &[e("cmd /c whoami"), e("notepad.exe")]);
        let t = db.table("_Im_ProcessCreate").unwrap();
        let list = Value::array(vec![Value::str("whoami")]);
        let out = asim_filter(&t, &[("commandline_has_any".into(), list)]).unwrap();
        assert_eq!(out.rows.len(), 1);
        let early = asim_filter(
            &t,
            &[(
                "starttime".into(),
                Value::DateTime(parse_datetime("2024-06-01").unwrap()),
            )],
        )
        .unwrap();
        assert!(early.rows.is_empty());
        let err = asim_filter(&t, &[("comandline_has_any".into(), Value::Null)]).unwrap_err();
        assert!(err.contains("did you mean `commandline_has_any`"), "{err}");
    }
}
