//! The seam to the engines: Sigma rule sets and KQL queries as [`Detector`]s, and which
//! renderings each rule meets.
//!
//! Sigma: every Sigma file goes into one `sigma::RuleSet` (correlations and filters refer across
//! files), compiled once into an `Engine`; a rule meets each configured schema its log source
//! applies to (`windows/process_creation`: `sysmon` as is, `security4688` through the Windows
//! audit pipeline, which the engine picks by the event's schema). KQL: a query meets the
//! renderings bound to the tables it reads (`DeviceProcessEvents` → `mde`, `imProcessCreate` and
//! its aliases → `asim`, `SecurityEvent` → `security4688`), all bound at once with the clock at
//! the end of the scenario; a rule reading none of them is not applicable.

use super::check::{Detector, EventRef, Hit, Renderings};
use super::config::Config;
use super::rules::{self, Rule};
use crate::diag::Diagnostic;
use crate::event::{Event, LogSchema};
use crate::report::{Language, RuleInfo};
use std::path::PathBuf;
use std::sync::Arc;

/// Loads every rule file: Sigma files as one set, KQL files one by one. Files are in `files`
/// order; a file that does not load is one failed rule.
pub fn load(files: &[PathBuf], config: &Config) -> Vec<Rule> {
    let mut sigma_files = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    for path in files {
        let display = config.display_path(path);
        let text = match crate::encoding::read_source(path, &display, "IO0001", "rule file") {
            Ok(text) => text,
            Err(d) => {
                let language = rules::language_of(path, "").unwrap_or(Language::Sigma);
                slots.push(Slot::Ready(vec![rules::failed(
                    &display,
                    language,
                    vec![*d],
                )]));
                continue;
            }
        };
        match rules::language_of(path, &text) {
            Some(Language::Sigma) => {
                slots.push(Slot::Sigma(sigma_files.len()));
                sigma_files.push((display, text));
            }
            Some(Language::Kql) => slots.push(Slot::Ready(vec![kql_rule(path, &display, config)])),
            None => {}
        }
    }
    let mut sigma = sigma_rules(&sigma_files, config);
    let mut out = Vec::new();
    for slot in slots {
        match slot {
            Slot::Ready(rules) => out.extend(rules),
            Slot::Sigma(i) => out.append(&mut sigma[i]),
        }
    }
    out
}

enum Slot {
    Ready(Vec<Rule>),
    Sigma(usize),
}

// ----------------------------------------------------------------------------------------------
// Sigma
// ----------------------------------------------------------------------------------------------

#[derive(Debug)]
struct SigmaDetector {
    engine: Arc<crate::sigma::Engine>,
    rule: crate::sigma::RuleIndex,
}

impl Detector for SigmaDetector {
    fn evaluate(
        &self,
        schema: LogSchema,
        renderings: &Renderings,
    ) -> Result<Vec<Hit>, Box<Diagnostic>> {
        let Some(events) = renderings.get(&schema) else {
            return Ok(Vec::new());
        };
        // One pass of the whole rule set per rendering, shared by every rule of the set.
        let identity = Arc::as_ptr(&self.engine) as usize;
        let matches = renderings.memo(identity, schema, || self.engine.evaluate(events));
        Ok(matches
            .iter()
            .filter(|m| m.rule == self.rule)
            .map(|m| Hit {
                events: m
                    .events
                    .iter()
                    .map(|&index| EventRef { schema, index })
                    .collect(),
            })
            .collect())
    }

    fn explain(&self, _schema: LogSchema, event: &Event, _: &Renderings) -> Option<String> {
        Some(self.engine.explain(self.rule, event).render())
    }
}

/// The Sigma rules of every file, per file (in `files` order).
fn sigma_rules(files: &[(String, String)], config: &Config) -> Vec<Vec<Rule>> {
    let mut set = crate::sigma::RuleSet::new();
    let mut ranges = Vec::new();
    let mut file_diagnostics = Vec::new();
    for (display, text) in files {
        let before = set.rules.len();
        file_diagnostics.push(set.add_source(display, text));
        ranges.push(before..set.rules.len());
    }
    let sigma_config = crate::sigma::Config {
        placeholders: config.placeholders.clone(),
    };
    let (engine, compile_diagnostics) = crate::sigma::Engine::compile(&set, &sigma_config);
    let engine = Arc::new(engine);
    let infos = engine.rules();
    files
        .iter()
        .zip(ranges)
        .zip(file_diagnostics)
        .map(|(((display, _), range), diagnostics)| {
            let compile: Vec<Diagnostic> = compile_diagnostics
                .iter()
                .filter(|d| d.file.as_deref() == Some(display.as_str()))
                .cloned()
                .collect();
            let mut out = Vec::new();
            let loaded = range.len();
            for index in range {
                let info = &infos[index];
                if info.kind == crate::sigma::RuleKind::Filter {
                    continue;
                }
                let mut own: Vec<Diagnostic> = diagnostics
                    .iter()
                    .filter(|d| !d.is_error())
                    .cloned()
                    .collect();
                if !info.usable {
                    own.extend(compile.iter().cloned());
                    if !own.iter().any(Diagnostic::is_error) {
                        own.push(
                            Diagnostic::error("RUN0003", "the rule failed to compile")
                                .in_file(display.clone()),
                        );
                    }
                } else {
                    own.extend(compile.iter().filter(|d| !d.is_error()).cloned());
                }
                out.push(sigma_rule(display, info, index, &engine, own, config));
            }
            let errors: Vec<Diagnostic> = diagnostics
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect();
            if !errors.is_empty() {
                // Documents of this file that did not load at all.
                let mut failed = rules::failed(display, Language::Sigma, errors);
                if loaded > 0 {
                    failed.info.slug = format!("{}#invalid", failed.info.slug);
                    failed.info.key = format!("{}#invalid", failed.info.key);
                }
                out.push(failed);
            }
            out
        })
        .collect()
}

fn sigma_rule(
    display: &str,
    info: &crate::sigma::RuleInfo,
    index: crate::sigma::RuleIndex,
    engine: &Arc<crate::sigma::Engine>,
    diagnostics: Vec<Diagnostic>,
    config: &Config,
) -> Rule {
    let schemas: Vec<LogSchema> = config
        .schemas
        .sigma
        .iter()
        .copied()
        .filter(|schema| engine.applies(index, &Event::new(*schema)))
        .collect();
    let logsource = info.logsource.to_string();
    let usable = info.usable && !diagnostics.iter().any(Diagnostic::is_error);
    Rule {
        info: RuleInfo {
            key: info.id.clone().unwrap_or_else(|| display.to_string()),
            slug: rules::stem(display),
            title: info.title.clone(),
            id: info.id.clone(),
            name: info.name.clone(),
            language: Language::Sigma,
            path: display.to_string(),
            author: info.author.clone(),
            level: info.level.clone(),
            techniques: rules::techniques(info.tags.iter().map(String::as_str)),
            reads: logsource.clone(),
            schemas: if usable { schemas.clone() } else { Vec::new() },
            diagnostics,
        },
        detector: usable.then(|| {
            Arc::new(SigmaDetector {
                engine: Arc::clone(engine),
                rule: index,
            }) as Arc<dyn Detector>
        }),
        needs: schemas,
        not_applicable: format!(
            "no configured rendering ({}) serves log source {logsource}",
            names(&config.schemas.sigma)
        ),
    }
}

fn names(schemas: &[LogSchema]) -> String {
    schemas
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

// ----------------------------------------------------------------------------------------------
// KQL
// ----------------------------------------------------------------------------------------------

#[derive(Debug)]
struct KqlDetector {
    query: crate::kql::ast::Query,
    /// The renderings bound, in check order.
    bound: Vec<LogSchema>,
    /// The rule file's name, for diagnostics.
    file: String,
    /// The query text (spans point into it).
    text: String,
    /// Watchlists for `_GetWatchlist`: alias, search key field, items.
    watchlists: Vec<(String, Option<String>, Vec<Event>)>,
}

impl KqlDetector {
    fn database(
        &self,
        renderings: &Renderings,
        only: Option<(LogSchema, &Event)>,
    ) -> crate::kql::Database {
        let clock = renderings.clock.unwrap_or_else(chrono::Utc::now);
        let mut db = crate::kql::Database::new(clock);
        for (alias, key, items) in &self.watchlists {
            db.bind_watchlist(alias, key.as_deref(), items);
        }
        for schema in &self.bound {
            match only {
                Some((s, event)) if s == *schema => {
                    db.bind_rendering(*schema, std::slice::from_ref(event));
                }
                Some(_) => {
                    db.bind_rendering(*schema, &[]);
                }
                None => {
                    let events = renderings.get(schema).map_or(&[][..], Vec::as_slice);
                    db.bind_rendering(*schema, events);
                }
            }
        }
        db
    }
}

impl Detector for KqlDetector {
    fn evaluate(
        &self,
        _schema: LogSchema,
        renderings: &Renderings,
    ) -> Result<Vec<Hit>, Box<Diagnostic>> {
        let db = self.database(renderings, None);
        let table = crate::kql::evaluate(&self.query, &db).map_err(|diagnostics| {
            let first = diagnostics
                .into_iter()
                .find(Diagnostic::is_error)
                .unwrap_or_else(|| Diagnostic::error("KQL0207", "the query failed"));
            Box::new(first.in_file(self.file.clone()))
        })?;
        Ok(table
            .rows
            .iter()
            .map(|row| Hit {
                events: row
                    .sources
                    .iter()
                    .filter_map(|source| {
                        crate::kql::bind::rendering_for_table(&source.table).map(|schema| {
                            EventRef {
                                schema,
                                index: source.index,
                            }
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    fn explain(&self, schema: LogSchema, event: &Event, renderings: &Renderings) -> Option<String> {
        // The same clock as the evaluation: `ago(7d)` must mean the same instant.
        let context = Renderings::new(Default::default(), renderings.clock);
        let db = self.database(&context, Some((schema, event)));
        Some(crate::kql::explain::explain(&self.query, &db, &self.text).render())
    }
}

pub(crate) fn kql_rule(path: &std::path::Path, display: &str, config: &Config) -> Rule {
    let rule = match crate::kql::rule::load(path) {
        Ok(rule) => rule,
        Err(diagnostics) => {
            return rules::failed(display, Language::Kql, relabel(diagnostics, path, display));
        }
    };
    let (query, mut diagnostics) = rule.parse();
    diagnostics = relabel(diagnostics, path, display);
    // The renderings bound to the tables the query reads (`let`-bound names excluded).
    let tables = query.as_ref().map(|q| q.tables_read()).unwrap_or_default();
    let mut served: Vec<LogSchema> = Vec::new();
    for schema in tables
        .iter()
        .filter_map(|t| crate::kql::bind::rendering_for_table(t))
    {
        if config.schemas.kql.contains(&schema) && !served.contains(&schema) {
            served.push(schema);
        }
    }
    // The configured watchlists, for a query that reads any.
    let mut watchlists = Vec::new();
    if rule.query.contains("_GetWatchlist") {
        for (alias, w) in &config.watchlists {
            match crate::kql::rule::load_watchlist(&w.file) {
                Ok(items) => watchlists.push((alias.clone(), w.search_key.clone(), items)),
                Err(errors) => diagnostics.extend(errors),
            }
        }
    }
    let detector = query
        .filter(|_| !diagnostics.iter().any(Diagnostic::is_error))
        .map(|query| KqlDetector {
            query,
            bound: served.clone(),
            file: display.to_string(),
            text: rule.query.clone(),
            watchlists,
        });
    // Resolve the query once over empty tables: unknown columns and functions are load errors.
    if let Some(detector) = &detector {
        let db = detector.database(&Renderings::default(), None);
        let run = crate::kql::eval::evaluate_full(
            &detector.query,
            &db,
            Some((display, rule.query.as_str())),
        );
        diagnostics.extend(
            run.diagnostics
                .into_iter()
                .map(|d| rule.relocate(d))
                .map(|d| relabel_one(d, path, display)),
        );
    }
    let usable = detector.is_some() && !diagnostics.iter().any(Diagnostic::is_error);
    let primary: Vec<LogSchema> = served.first().copied().into_iter().collect();
    Rule {
        info: RuleInfo {
            key: rule.id.clone().unwrap_or_else(|| rule.name.clone()),
            slug: rules::stem(display),
            title: rule.name.clone(),
            id: rule.id.clone(),
            name: Some(rule.name.clone()),
            language: Language::Kql,
            path: display.to_string(),
            author: None,
            level: rule.severity.clone(),
            techniques: rules::techniques(rule.techniques.iter().map(String::as_str)),
            reads: tables.join(", "),
            schemas: if usable { primary } else { Vec::new() },
            diagnostics,
        },
        detector: if usable {
            detector.map(|d| Arc::new(d) as Arc<dyn Detector>)
        } else {
            None
        },
        needs: served,
        not_applicable: format!(
            "the query reads no table a configured rendering ({}) serves",
            names(&config.schemas.kql)
        ),
    }
}

fn relabel(diagnostics: Vec<Diagnostic>, path: &std::path::Path, display: &str) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|d| relabel_one(d, path, display))
        .collect()
}

/// Names the file as the report does (relative to the repository root).
fn relabel_one(mut d: Diagnostic, path: &std::path::Path, display: &str) -> Diagnostic {
    let full = path.display().to_string();
    if d.file.as_deref() == Some(full.as_str()) {
        d.file = Some(display.to_string());
    }
    if let Some(location) = &mut d.location
        && location.file == full
    {
        location.file = display.to_string();
    }
    d
}
