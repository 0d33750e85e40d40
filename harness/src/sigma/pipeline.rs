//! Field-mapping pipelines as data: identity (Sysmon / Sigma taxonomy), Windows audit (4688), ECS,
//! Microsoft Defender XDR (`DeviceProcessEvents`), Microsoft Sentinel ASIM (`imProcessCreate`).
//!
//! Each pipeline is a YAML file under `sigma/pipelines/`, compiled into the binary: a field map
//! (Sigma name → event name, or several, any of which may hold the value), an optional prefix for
//! unmapped fields, value conversions keyed by the Sigma field name, and, for pipelines that stand
//! for a query backend's, what that backend's pipeline does beyond renaming: detection items it
//! drops, items it rewrites into others ([`ItemTransform`]), and the table whose columns are the
//! only fields a rule may name. A rule is lowered once per pipeline it needs.

use super::rule::RuleValue;
use indexmap::IndexMap;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::OnceLock;

/// The built-in pipelines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PipelineId {
    /// Sysmon / Sigma taxonomy: names unchanged.
    Identity,
    /// Security 4688: `Image` → `NewProcessName`, … with hex pids and integrity SIDs.
    WindowsAudit,
    /// Elastic Common Schema (Winlogbeat).
    Ecs,
    /// Microsoft Defender XDR `DeviceProcessEvents`, as pySigma-backend-kusto converts for it.
    MicrosoftXdr,
    /// Microsoft Sentinel ASIM `imProcessCreate`, as pySigma-backend-kusto converts for it.
    SentinelAsim,
}

impl PipelineId {
    /// Every built-in pipeline.
    pub const ALL: [PipelineId; 5] = [
        PipelineId::Identity,
        PipelineId::WindowsAudit,
        PipelineId::Ecs,
        PipelineId::MicrosoftXdr,
        PipelineId::SentinelAsim,
    ];

    /// The pipeline's data.
    pub fn pipeline(self) -> &'static Pipeline {
        static PIPELINES: OnceLock<Vec<Pipeline>> = OnceLock::new();
        let all = PIPELINES.get_or_init(|| {
            [
                include_str!("pipelines/identity.yaml"),
                include_str!("pipelines/windows_audit.yaml"),
                include_str!("pipelines/ecs_windows.yaml"),
                include_str!("pipelines/microsoft_xdr.yaml"),
                include_str!("pipelines/sentinel_asim.yaml"),
            ]
            .iter()
            .map(|text| {
                serde_yaml::from_str(text).unwrap_or_else(|e| Pipeline {
                    name: format!("broken pipeline: {e}"),
                    ..Pipeline::default()
                })
            })
            .collect()
        });
        &all[self as usize]
    }
}

/// A value conversion a pipeline applies to a field's rule values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversion {
    /// A decimal number becomes `0x` lowercase hexadecimal (4688 process ids).
    Hex,
    /// An integrity level word becomes its mandatory-label SID (`High` → `S-1-16-12288`).
    IntegritySid,
}

/// One pipeline.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Its name.
    pub name: String,
    /// What it maps.
    #[serde(default)]
    pub description: String,
    /// Sigma field → event field.
    #[serde(default)]
    pub fields: IndexMap<String, String>,
    /// Sigma field → several event fields: an item on it holds when it holds on any of them
    /// (pySigma's mapping to a list). [`Pipeline::field`] names the first.
    #[serde(default)]
    pub any_of: IndexMap<String, Vec<String>>,
    /// Prefix for fields the map does not name (ECS: `winlog.event_data.`).
    #[serde(default)]
    pub unmapped_prefix: Option<String>,
    /// Sigma field → value conversion.
    #[serde(default)]
    pub values: IndexMap<String, Conversion>,
    /// Sigma fields whose detection items the pipeline drops: they hold whatever the event says.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Event field (after mapping) → the detection items its items become.
    #[serde(default)]
    pub items: IndexMap<String, ItemTransform>,
    /// The table (in the KQL catalog) whose columns are the only fields a rule may name through
    /// this pipeline, besides the Sigma names it maps and those `items` rewrite: a rule naming
    /// another cannot be converted.
    #[serde(default)]
    pub columns_of: Option<String>,
    /// The log source categories whose rules it converts, when it converts only some: a query
    /// backend picks the table by the rule's category, so it cannot convert a rule with another
    /// or with none (empty: any).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Modifiers the query backend cannot write (as named in rules): a rule using one cannot be
    /// converted.
    #[serde(default)]
    pub unsupported_modifiers: Vec<String>,
    /// True when the query backend writes keyword searches into a query Kusto rejects (a bare
    /// string, `where "whoami"`): a rule searching keywords cannot run.
    #[serde(default)]
    pub refuses_keywords: bool,
    /// `exists: true` means present and not empty (`exists: false`: absent, null or empty), as a
    /// query backend writes it for a table whose every row has every column (Kusto's
    /// `isnotempty`).
    #[serde(default)]
    pub exists_as_not_empty: bool,
    /// Values whose wildcards make them more than a prefix, suffix or substring are compared as
    /// pySigma-backend-kusto writes them (see `lower::kusto_glob`), not as globs.
    #[serde(default)]
    pub kusto_wildcards: bool,
    /// On a string column of the `columns_of` table, an absent or null value reads as the empty
    /// string, as Kusto reads it (see [`Pipeline::text_column`]).
    #[serde(default)]
    pub absent_text_is_empty: bool,
}

/// How a pipeline rewrites the detection items of a Sigma field, after pySigma-backend-kusto's
/// transformations of the same names.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItemTransform {
    /// A value `DOMAIN\user` (as pySigma writes the value with its modifiers' wildcards: split
    /// at its one backslash) becomes `field = user and domain = DOMAIN`, without the modifiers;
    /// other values keep theirs, a value with several backslashes split into parts compared one
    /// by one (`SplitDomainUserTransformation`).
    SplitDomainUser {
        /// The column of the account's domain.
        domain: String,
    },
    /// A value `ALGO=digest` (or `ALGO|digest`, or a bare digest whose length tells the
    /// algorithm) becomes `ALGO = digest` on the column named after the algorithm, without the
    /// modifiers; values of other algorithms are dropped, and a rule with none of `algorithms`
    /// cannot be converted (`BaseHashesValuesTransformation`).
    Hashes {
        /// The algorithms with a column.
        algorithms: Vec<String>,
        /// What the column's name puts before the algorithm's (`TargetProcess` in ASIM).
        #[serde(default)]
        prefix: String,
    },
}

impl Pipeline {
    /// True when the pipeline converts rules of log source `category` (see
    /// [`Pipeline::categories`]).
    pub fn converts_category(&self, category: Option<&str>) -> bool {
        self.categories.is_empty()
            || category.is_some_and(|c| self.categories.iter().any(|k| k.eq_ignore_ascii_case(c)))
    }

    /// The event field a Sigma field reads.
    pub fn field<'a>(&self, sigma: &'a str) -> Cow<'a, str> {
        if let Some(mapped) = self.fields.get(sigma) {
            return Cow::Owned(mapped.clone());
        }
        if let Some(first) = self.any_of.get(sigma).and_then(|all| all.first()) {
            return Cow::Owned(first.clone());
        }
        match &self.unmapped_prefix {
            Some(prefix) if !sigma.contains('.') => Cow::Owned(format!("{prefix}{sigma}")),
            _ => Cow::Borrowed(sigma),
        }
    }

    /// True when a rule may read event field `field` (a name after mapping) through this
    /// pipeline: any field when the pipeline names no table; otherwise a column of the table, or
    /// a name the pipeline itself maps or rewrites (as pySigma-backend-kusto checks, after its
    /// mappings, against the table's columns and its mapping's keys).
    pub fn accepts(&self, field: &str) -> bool {
        let Some(table) = &self.columns_of else {
            return true;
        };
        self.fields.contains_key(field)
            || self.any_of.contains_key(field)
            || self.items.contains_key(field)
            || crate::kql::schema::Catalog::builtin()
                .get(table)
                .is_some_and(|schema| schema.column(field).is_some())
    }

    /// True when event field `field` (a name after mapping) is a string column whose absent or
    /// null value reads as the empty string (`absent_text_is_empty`): Kusto has no null string,
    /// and every row has every column of its table.
    pub fn text_column(&self, field: &str) -> bool {
        self.absent_text_is_empty
            && self
                .columns_of
                .as_deref()
                .and_then(|table| crate::kql::schema::Catalog::builtin().get(table))
                .and_then(|schema| schema.column(field))
                .is_some_and(|column| column.ty == crate::kql::ScalarType::String)
    }

    /// Converts a rule value written for Sigma field `sigma` into the event's representation.
    pub fn value(&self, sigma: &str, value: &RuleValue) -> RuleValue {
        match self.values.get(sigma) {
            Some(Conversion::Hex) => match value {
                RuleValue::Int(i) => RuleValue::Str(format!("0x{i:x}")),
                RuleValue::Str(s) => match s.trim().parse::<i64>() {
                    Ok(i) => RuleValue::Str(format!("0x{i:x}")),
                    Err(_) => value.clone(),
                },
                other => other.clone(),
            },
            Some(Conversion::IntegritySid) => match value {
                RuleValue::Str(s) => RuleValue::Str(integrity_sid(s).unwrap_or(s).to_string()),
                other => other.clone(),
            },
            None => value.clone(),
        }
    }
}

/// The mandatory-label SID of an integrity level word.
pub fn integrity_sid(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "untrusted" => "S-1-16-0",
        "low" => "S-1-16-4096",
        "medium" => "S-1-16-8192",
        "mediumplus" | "medium plus" => "S-1-16-8448",
        "high" => "S-1-16-12288",
        "system" => "S-1-16-16384",
        "protected" => "S-1-16-20480",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pipelines_parse() {
        for id in PipelineId::ALL {
            assert!(!id.pipeline().name.starts_with("broken"), "{id:?}");
        }
        let audit = PipelineId::WindowsAudit.pipeline();
        assert_eq!(audit.field("Image"), "NewProcessName");
        assert_eq!(audit.field("CommandLine"), "CommandLine");
        assert_eq!(
            audit.value("ProcessId", &RuleValue::Int(1234)),
            RuleValue::Str("0x4d2".into())
        );
        assert_eq!(
            audit.value("IntegrityLevel", &RuleValue::Str("High".into())),
            RuleValue::Str("S-1-16-12288".into())
        );
        // A table the catalog lacked would refuse every rule.
        for id in [PipelineId::MicrosoftXdr, PipelineId::SentinelAsim] {
            let table = id.pipeline().columns_of.as_deref().expect("a table");
            assert!(
                crate::kql::Catalog::builtin().get(table).is_some(),
                "{table}"
            );
            // A misspelt modifier would refuse nothing.
            for name in &id.pipeline().unsupported_modifiers {
                assert!(
                    crate::sigma::modifier::Modifier::parse(name).is_some(),
                    "{name}"
                );
            }
        }
        let xdr = PipelineId::MicrosoftXdr.pipeline();
        assert!(xdr.accepts("FolderPath") && xdr.accepts("Hashes"));
        assert!(!xdr.accepts("CurrentDirectory"));
        let asim = PipelineId::SentinelAsim.pipeline();
        assert_eq!(asim.field("ParentImage"), "ActingProcessName");
        assert!(!asim.accepts("TargetUserSessionGuid"));
        assert!(PipelineId::Identity.pipeline().accepts("CurrentDirectory"));
        let ecs = PipelineId::Ecs.pipeline();
        assert_eq!(ecs.field("ParentImage"), "process.parent.executable");
        assert_eq!(
            ecs.field("IntegrityLevel"),
            "winlog.event_data.IntegrityLevel"
        );
    }
}
