//! The table catalog: column names and types of the Defender XDR, ASIM and Azure Monitor tables.
//!
//! The data is bundled from `harness/data/kql/tables.json` (see `SOURCE.md` beside it for where it
//! comes from). ASIM parser functions (`imProcessCreate`, `_Im_ProcessCreate`,
//! `_ASim_ProcessEvent_Create`, `ASimProcessEventLogs`, ...) resolve to the ASIM schema they return.

use super::value::ScalarType;
use indexmap::IndexMap;
use serde::Serialize;
use std::sync::OnceLock;

/// A column: its name and type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// Its KQL type.
    #[serde(rename = "type", serialize_with = "type_name")]
    pub ty: ScalarType,
}

fn type_name<S: serde::Serializer>(ty: &ScalarType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(ty.name())
}

impl Column {
    /// A column named `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: ScalarType) -> Self {
        Column {
            name: name.into(),
            ty,
        }
    }
}

/// One table's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSchema {
    /// The table name.
    pub name: String,
    /// Which reference it comes from: `defender-xdr`, `sentinel-asim` or `azure-monitor`.
    pub source: String,
    /// The columns in order.
    pub columns: Vec<Column>,
}

impl TableSchema {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column time filters use: `Timestamp` for Defender tables, `TimeGenerated` otherwise.
    pub fn time_column(&self) -> Option<&str> {
        ["Timestamp", "TimeGenerated"]
            .into_iter()
            .find(|name| self.column(name).is_some())
    }
}

/// The known tables.
#[derive(Debug)]
pub struct Catalog {
    tables: IndexMap<String, TableSchema>,
}

/// ASIM process-event parser names that return the `imProcessCreate` schema.
pub const ASIM_PROCESS_FUNCTIONS: &[&str] = &[
    "imProcessCreate",
    "_Im_ProcessCreate",
    "_Im_ProcessEvent",
    "imProcess",
    "imProcessEvents",
    "_ASim_ProcessEvent_Create",
    "_ASim_ProcessEvent",
    "ASimProcessEventLogs",
    "ASimProcessCreate",
    "ASimProcessEvent",
    "imProcessCreation",
];

/// Retired ASIM parser names and the parser that replaced them. They run as a stand-in for the
/// current parser (same table, same filtering parameters), with a `KQL0208` warning: the retired
/// parser's output columns are not reproduced, so a query reading a column the current schema
/// renamed still reports it as unknown.
pub const RETIRED_ASIM_FUNCTIONS: &[(&str, &str)] = &[("imProcessCreation", "imProcessCreate")];

/// Retired Defender advanced-hunting tables kept as documented stand-ins: (name, the table that
/// replaced it, when it stopped logging). Their columns in `tables.json` (source
/// `defender-xdr-retired`) are those of the table's archived reference page; they are empty
/// unless bound, and reading one is a `KQL0208` warning.
pub const RETIRED_TABLES: &[(&str, &str, &str)] =
    &[("AppFileEvents", "CloudAppEvents", "March 7, 2021")];

/// `(replacement, retired since)` when `name` is a retired table of [`RETIRED_TABLES`].
pub fn retired_table(name: &str) -> Option<(&'static str, &'static str)> {
    RETIRED_TABLES
        .iter()
        .find(|(old, _, _)| *old == name)
        .map(|(_, new, since)| (*new, *since))
}

/// The current ASIM parser that replaced the retired parser `name`, if `name` is one.
pub fn retired_asim_function(name: &str) -> Option<&'static str> {
    RETIRED_ASIM_FUNCTIONS
        .iter()
        .find(|(old, _)| *old == name)
        .map(|(_, new)| *new)
}

impl Catalog {
    /// The bundled catalog.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::from_json(include_str!("../../data/kql/tables.json")).unwrap_or_else(|_| {
                Catalog {
                    tables: IndexMap::new(),
                }
            })
        })
    }

    /// Parses the bundled format: `{"Table": {"source": "...", "columns": [["Name", "type"], ...]}}`.
    pub fn from_json(text: &str) -> Result<Catalog, String> {
        #[derive(serde::Deserialize)]
        struct Entry {
            source: String,
            columns: Vec<(String, String)>,
        }
        let raw: IndexMap<String, Entry> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut tables = IndexMap::new();
        for (name, entry) in raw {
            let columns = entry
                .columns
                .into_iter()
                .map(|(c, t)| {
                    ScalarType::from_name(&t)
                        .map(|ty| Column::new(c, ty))
                        .ok_or_else(|| format!("table {name}: unknown type `{t}`"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            tables.insert(
                name.clone(),
                TableSchema {
                    name,
                    source: entry.source,
                    columns,
                },
            );
        }
        Ok(Catalog { tables })
    }

    /// The schema of `name`: a table, or an ASIM parser function's result.
    pub fn get(&self, name: &str) -> Option<&TableSchema> {
        self.tables
            .get(name)
            .or_else(|| asim_process_function(name).then(|| self.tables.get("imProcessCreate"))?)
    }

    /// Every table name, for suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables
            .keys()
            .map(String::as_str)
            .chain(ASIM_PROCESS_FUNCTIONS.iter().copied())
    }
}

/// The generic names a source-specific ASIM process parser's name extends
/// (`ASimProcessCreateMicrosoftSysmon`), longest first.
const ASIM_SOURCE_PREFIXES: [&str; 6] = [
    "_ASim_ProcessEvent_Create",
    "_ASim_ProcessEvent_",
    "_Im_ProcessCreate_",
    "ASimProcessCreate",
    "vimProcessCreate",
    "imProcessCreate",
];

/// The rows ASIM process parser `name` returns: `None` for every row (the source-agnostic
/// parsers); for a source-specific parser, `Some` of the `EventProduct` of its source's rows, or
/// `Some(None)` for a source firedrill makes no rows of. Recorded and generated rows come from
/// Sysmon through the `Event` table (`...MicrosoftSysmon`), Security 4688 through `SecurityEvent`
/// (`...MicrosoftSecurityEvents`) and Defender (`...Microsoft365D`); the parsers of the same events
/// collected through the `WindowsEvent` table, and of every other product, return none.
pub fn asim_parser_source(name: &str) -> Option<Option<&'static str>> {
    if ASIM_PROCESS_FUNCTIONS.contains(&name) || !asim_process_function(name) {
        return None;
    }
    let source = ASIM_SOURCE_PREFIXES
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))?;
    if source.is_empty() {
        return None;
    }
    Some(match source {
        "MicrosoftSysmon" => Some("Sysmon"),
        "MicrosoftSecurityEvents" => Some("Security Events"),
        "Microsoft365D" => Some("M365 Defender for Endpoint"),
        _ => None,
    })
}

/// True for the ASIM process parsers, including source-specific ones (`vimProcessCreateMicrosoftSysmon`, ...).
pub fn asim_process_function(name: &str) -> bool {
    ASIM_PROCESS_FUNCTIONS.contains(&name)
        || [
            "imProcessCreate",
            "vimProcessCreate",
            "ASimProcessCreate",
            "_Im_ProcessCreate_",
            "_ASim_ProcessEvent_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalog_has_the_process_tables_with_typed_columns() {
        let catalog = Catalog::builtin();
        let mde = catalog.get("DeviceProcessEvents").unwrap();
        assert_eq!(mde.column("Timestamp").unwrap().ty, ScalarType::DateTime);
        assert_eq!(mde.column("ProcessId").unwrap().ty, ScalarType::Long);
        let asim = catalog.get("_Im_ProcessCreate").unwrap();
        assert_eq!(
            asim.columns[0],
            Column::new("TimeGenerated", ScalarType::DateTime)
        );
        assert_eq!(
            asim.column("TargetProcessId").unwrap().ty,
            ScalarType::String
        );
        let retired = catalog.get("AppFileEvents").unwrap();
        assert_eq!(retired.source, "defender-xdr-retired");
        assert_eq!(retired.column("Isp").unwrap().ty, ScalarType::String);
        assert!(retired_table("AppFileEvents").is_some());
        let security = catalog.get("SecurityEvent").unwrap();
        assert_eq!(security.column("EventID").unwrap().ty, ScalarType::Int);
        assert!(catalog.get("DeviceNetworkEvents").is_some());
        assert!(catalog.get("NoSuchTable").is_none());
    }
}
