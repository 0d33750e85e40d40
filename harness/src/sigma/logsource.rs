//! Log source applicability: which rules an event meets, and through which pipeline.
//!
//! Every event is routed to one [`Class`]: a product, a service and the categories it belongs to,
//! plus the pipeline its fields need. Generated events route by [`LogSchema`] (the sysmon,
//! security4688, ecs, mde and asim renderings are `windows / process_creation`, the last two
//! through the Defender XDR and Sentinel ASIM pipelines); recorded Windows events
//! route by their `Channel` and `EventID` through SigmaHQ's own table (`logsources.yaml`, copied
//! from `tests/thor.yml`). A rule applies to a class when every logsource attribute it names
//! agrees with the class ([`applies`]).

use super::pipeline::{Pipeline, PipelineId};
use super::rule::LogSource;
use crate::event::{Event, LogSchema, Value};
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One routing class: what an event is, for logsource purposes.
#[derive(Clone, Debug)]
pub struct Class {
    /// `windows`, or `None` for events the router cannot place.
    pub product: Option<String>,
    /// The service (`sysmon`, `security`, …).
    pub service: Option<String>,
    /// The categories (`process_creation`, `registry_set`, …).
    pub categories: Vec<String>,
    /// The pipeline rules are lowered through for these events.
    pub pipeline: Arc<Pipeline>,
    /// A key naming the pipeline (rules are compiled once per key).
    pub pipeline_key: String,
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "product: {}, service: {}, categories: [{}], pipeline: {}",
            self.product.as_deref().unwrap_or("-"),
            self.service.as_deref().unwrap_or("-"),
            self.categories.join(", "),
            self.pipeline_key
        )
    }
}

/// True when a rule with logsource `ls` applies to events of `class`.
pub fn applies(ls: &LogSource, class: &Class) -> bool {
    let eq = |a: &Option<String>, b: &str| a.as_deref().is_none_or(|a| a.eq_ignore_ascii_case(b));
    let product_ok = match (&ls.product, &class.product) {
        (None, _) => true,
        (Some(p), Some(cp)) => p.eq_ignore_ascii_case(cp),
        (Some(_), None) => false,
    };
    let service_ok = match (&ls.service, &class.service) {
        (None, _) => true,
        (Some(s), Some(cs)) => eq(&Some(s.clone()), cs),
        (Some(_), None) => false,
    };
    let category_ok = match &ls.category {
        None => true,
        Some(c) => class.categories.iter().any(|cc| cc.eq_ignore_ascii_case(c)),
    };
    product_ok && service_ok && category_ok
}

#[derive(Debug, Deserialize)]
struct Table {
    logsources: IndexMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    category: Option<String>,
    product: Option<String>,
    service: Option<String>,
    #[serde(default)]
    conditions: IndexMap<String, serde_yaml::Value>,
    rewrite: Option<Rewrite>,
    #[serde(default)]
    fieldmappings: IndexMap<String, String>,
    #[serde(default)]
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Rewrite {
    product: Option<String>,
    service: Option<String>,
}

/// A category that a service's events belong to when conditions hold.
#[derive(Debug)]
struct CategoryRule {
    category: String,
    conditions: Vec<(String, Vec<String>)>,
    fieldmappings: IndexMap<String, String>,
}

/// Routes events to classes.
#[derive(Debug)]
pub struct Router {
    classes: Vec<Class>,
    services: Vec<(String, Vec<CategoryRule>)>,
    channels: HashMap<String, usize>,
    by_key: HashMap<(usize, u64), usize>,
    sysmon: Option<usize>,
    security: Option<usize>,
    ecs: usize,
    xdr: usize,
    asim: usize,
    unrouted: usize,
}

fn yaml_texts(v: &serde_yaml::Value) -> Vec<String> {
    match v {
        serde_yaml::Value::Sequence(items) => items.iter().flat_map(yaml_texts).collect(),
        serde_yaml::Value::String(s) => vec![s.to_ascii_lowercase()],
        serde_yaml::Value::Number(n) => vec![n.to_string()],
        serde_yaml::Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_ascii_lowercase()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.fract() == 0.0 => Some((*f as i64).to_string()),
        other => other.to_text().map(|t| t.to_ascii_lowercase()),
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    /// Builds the router from the bundled table.
    pub fn new() -> Router {
        let table: Table = serde_yaml::from_str(include_str!("logsources.yaml")).unwrap_or(Table {
            logsources: IndexMap::new(),
        });
        let mut services: Vec<(String, Vec<CategoryRule>)> = Vec::new();
        let mut channels = HashMap::new();
        let service_index = |services: &mut Vec<(String, Vec<CategoryRule>)>, s: &str| {
            services
                .iter()
                .position(|(n, _)| n == s)
                .unwrap_or_else(|| {
                    services.push((s.to_string(), Vec::new()));
                    services.len() - 1
                })
        };
        for entry in table.logsources.values() {
            if entry.product.as_deref().is_some_and(|p| p != "windows") {
                continue;
            }
            if let Some(service) = &entry.service {
                for source in &entry.sources {
                    if let Some(channel) = source.strip_prefix("WinEventLog:") {
                        let idx = service_index(&mut services, service);
                        channels.insert(channel.to_ascii_lowercase(), idx);
                    }
                }
            }
            if let (Some(category), Some(rewrite)) = (&entry.category, &entry.rewrite) {
                if rewrite.product.as_deref().is_some_and(|p| p != "windows") {
                    continue;
                }
                let Some(service) = &rewrite.service else {
                    continue;
                };
                let idx = service_index(&mut services, service);
                services[idx].1.push(CategoryRule {
                    category: category.clone(),
                    conditions: entry
                        .conditions
                        .iter()
                        .map(|(k, v)| (k.clone(), yaml_texts(v)))
                        .collect(),
                    fieldmappings: entry.fieldmappings.clone(),
                });
            }
        }
        let mut router = Router {
            classes: Vec::new(),
            services,
            channels,
            by_key: HashMap::new(),
            sysmon: None,
            security: None,
            ecs: 0,
            xdr: 0,
            asim: 0,
            unrouted: 0,
        };
        // Enumerate every reachable category set: the condition fields' mentioned values, plus
        // a value none mentions, in every combination.
        for service in 0..router.services.len() {
            let mut fields: IndexMap<String, BTreeSet<String>> = IndexMap::new();
            for rule in &router.services[service].1 {
                for (field, values) in &rule.conditions {
                    fields
                        .entry(field.clone())
                        .or_default()
                        .extend(values.iter().cloned());
                }
            }
            let mut witnesses: Vec<Vec<(String, String)>> = vec![Vec::new()];
            for (field, values) in &fields {
                let mut options: Vec<String> = values.iter().cloned().collect();
                options.push("\u{0}other".to_string());
                witnesses = witnesses
                    .iter()
                    .flat_map(|w| {
                        options.iter().map(move |o| {
                            let mut w = w.clone();
                            w.push((field.clone(), o.clone()));
                            w
                        })
                    })
                    .collect();
            }
            for witness in witnesses {
                let mask = router.mask(service, |field| {
                    witness
                        .iter()
                        .find(|(f, _)| f == field)
                        .map(|(_, v)| v.clone())
                });
                router.class_for(service, mask);
            }
        }
        router.sysmon = router.find_class("sysmon", "process_creation");
        router.security = router.find_class("security", "process_creation");
        // Process creations in ECS documents; Defender `DeviceProcessEvents` rows and ASIM
        // `imProcessCreate` rows, through the pipelines Sigma's Kusto backend converts rules for
        // those tables with.
        router.ecs = router.process_creation(PipelineId::Ecs);
        router.xdr = router.process_creation(PipelineId::MicrosoftXdr);
        router.asim = router.process_creation(PipelineId::SentinelAsim);
        router.unrouted = router.classes.len();
        router.classes.push(Class {
            product: None,
            service: None,
            categories: Vec::new(),
            pipeline: Arc::new(PipelineId::Identity.pipeline().clone()),
            pipeline_key: PipelineId::Identity.pipeline().name.clone(),
        });
        router
    }

    /// Adds the class of Windows process creations read through `pipeline`; returns its index.
    fn process_creation(&mut self, pipeline: PipelineId) -> usize {
        self.classes.push(Class {
            product: Some("windows".into()),
            service: None,
            categories: vec!["process_creation".into()],
            pipeline: Arc::new(pipeline.pipeline().clone()),
            pipeline_key: pipeline.pipeline().name.clone(),
        });
        self.classes.len() - 1
    }

    fn find_class(&self, service: &str, category: &str) -> Option<usize> {
        let s = self.services.iter().position(|(n, _)| n == service)?;
        let c = self.services[s]
            .1
            .iter()
            .position(|r| r.category == category)?;
        self.by_key.get(&(s, 1u64 << c)).copied()
    }

    fn mask(&self, service: usize, get: impl Fn(&str) -> Option<String>) -> u64 {
        let mut mask = 0u64;
        for (i, rule) in self.services[service].1.iter().enumerate().take(64) {
            let holds = rule
                .conditions
                .iter()
                .all(|(field, values)| get(field).is_some_and(|v| values.contains(&v)));
            if holds {
                mask |= 1 << i;
            }
        }
        mask
    }

    fn class_for(&mut self, service: usize, mask: u64) -> usize {
        if let Some(&c) = self.by_key.get(&(service, mask)) {
            return c;
        }
        let (name, rules) = &self.services[service];
        let mut categories = Vec::new();
        let mut fieldmappings = IndexMap::new();
        for (i, rule) in rules.iter().enumerate().take(64) {
            if mask & (1 << i) != 0 {
                categories.push(rule.category.clone());
                fieldmappings.extend(rule.fieldmappings.clone());
            }
        }
        let (pipeline, key) =
            if name == "security" && categories.iter().any(|c| c == "process_creation") {
                let p = PipelineId::WindowsAudit.pipeline();
                (p.clone(), p.name.clone())
            } else if fieldmappings.is_empty() {
                let p = PipelineId::Identity.pipeline();
                (p.clone(), p.name.clone())
            } else {
                let mut p = PipelineId::Identity.pipeline().clone();
                p.name = format!("identity+{}", categories.join("+"));
                p.fields = fieldmappings;
                let key = p.name.clone();
                (p, key)
            };
        self.classes.push(Class {
            product: Some("windows".into()),
            service: Some(name.clone()),
            categories,
            pipeline: Arc::new(pipeline),
            pipeline_key: key,
        });
        let idx = self.classes.len() - 1;
        self.by_key.insert((service, mask), idx);
        idx
    }

    /// Every class.
    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    /// The class of `event`, or `None` when no Sigma rule can apply (MDE, ASIM and OCSF
    /// renderings: Sigma has no pipeline for them here).
    pub fn route(&self, event: &Event) -> Option<usize> {
        match event.schema {
            LogSchema::Sysmon => self.sysmon,
            LogSchema::Security4688 => self.security,
            LogSchema::Ecs => Some(self.ecs),
            LogSchema::Mde => Some(self.xdr),
            LogSchema::Asim => Some(self.asim),
            LogSchema::Ocsf => None,
            LogSchema::Other => {
                let Some(channel) = event.get("Channel").and_then(Value::as_str) else {
                    return Some(self.unrouted);
                };
                let Some(&service) = self.channels.get(&channel.trim().to_ascii_lowercase()) else {
                    return Some(self.unrouted);
                };
                let mask = self.mask(service, |field| text_of(event.get(field)));
                self.by_key.get(&(service, mask)).copied()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource {
            category: category.map(str::to_string),
            product: Some("windows".into()),
            service: service.map(str::to_string),
        }
    }

    #[test]
    fn generated_renderings_are_process_creation() {
        let router = Router::new();
        let pc = windows(Some("process_creation"), None);
        for schema in [LogSchema::Sysmon, LogSchema::Security4688, LogSchema::Ecs] {
            let class = &router.classes()[router.route(&Event::new(schema)).unwrap()];
            assert!(applies(&pc, class), "{schema}");
            assert!(!applies(&windows(Some("image_load"), None), class));
        }
        let audit = &router.classes()[router.route(&Event::new(LogSchema::Security4688)).unwrap()];
        assert_eq!(audit.pipeline_key, "windows-audit");
        let xdr = &router.classes()[router.route(&Event::new(LogSchema::Mde)).unwrap()];
        assert_eq!(xdr.pipeline_key, "microsoft-xdr");
        let asim = &router.classes()[router.route(&Event::new(LogSchema::Asim)).unwrap()];
        assert_eq!(asim.pipeline_key, "sentinel-asim");
        assert_eq!(router.route(&Event::new(LogSchema::Ocsf)), None);
    }

    #[test]
    fn recorded_events_route_by_channel_and_event_id() {
        let router = Router::new();
        let event = Event::new(LogSchema::Other)
            .with("Channel", "Microsoft-Windows-Sysmon/Operational")
            .with("EventID", 12i64)
            .with("EventType", "CreateKey");
        let class = &router.classes()[router.route(&event).unwrap()];
        assert!(applies(&windows(Some("registry_add"), None), class));
        assert!(applies(&windows(Some("registry_event"), None), class));
        assert!(applies(&windows(None, Some("sysmon")), class));
        assert!(!applies(&windows(Some("registry_delete"), None), class));
        let security = Event::new(LogSchema::Other)
            .with("Channel", "Security")
            .with("EventID", "4624");
        let class = &router.classes()[router.route(&security).unwrap()];
        assert!(applies(&windows(None, Some("security")), class));
        assert!(!applies(&windows(Some("process_creation"), None), class));
        let ps = Event::new(LogSchema::Other)
            .with("Channel", "Microsoft-Windows-PowerShell/Operational")
            .with("EventID", 4104i64);
        let class = &router.classes()[router.route(&ps).unwrap()];
        assert!(applies(&windows(Some("ps_script"), None), class));
    }
}
