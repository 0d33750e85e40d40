//! The compiled engine: rules lowered per routing class, an Aho-Corasick prefilter per class,
//! streaming evaluation with correlations, and explanations.
//!
//! Compile once: each detection rule is lowered to [`Expr`] once per pipeline it needs, compiled
//! into [`Node`]s over one shared field table (regexes built once and shared), and its text
//! comparisons get needle atoms (`expr::atoms`). Per routing class a `prefilter::Prefilter` scans an
//! event's fields for every atom of the class's rules at once; only rules whose trigger needle
//! occurred (plus the rules without one) are evaluated, and their text comparisons answer from
//! the scan.

use super::correlation::{self, CorrDef, Occurrence};
use super::logsource::{Router, applies};
use super::lower::{Config, lower_detection};
use super::pipeline::Pipeline;
use super::prefilter::{Prefilter, ScanState, SharedVerdicts};
use super::rule::{Rule, RuleBody, RuleIndex, RuleSet};
use crate::diag::Diagnostic;
use crate::event::{Event, Value};
use crate::expr::{
    self, Atoms, Ctx, Expr, FieldTable, Node, RegexCache, Scratch, Trace, TraceKind,
};
use std::collections::HashMap;
use std::sync::Arc;

/// What the engine knows about a rule (everything a match carries, and more).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInfo {
    /// `id`.
    pub id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `author`: the Detection Rule License asks that it travels with every match.
    pub author: Option<String>,
    /// The file.
    pub path: String,
    /// `logsource`.
    pub logsource: super::rule::LogSource,
    /// True when the rule names fields in a taxonomy other than Sigma's (`taxonomy: ecs`): its
    /// fields are used as written, never mapped by a pipeline.
    pub native_fields: bool,
    /// Detection, correlation or filter.
    pub kind: RuleKind,
    /// False when the rule failed to compile (it then never matches; its diagnostics say why).
    pub usable: bool,
}

/// The kind of rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// A detection rule.
    Detection,
    /// A correlation rule.
    Correlation,
    /// A filter rule.
    Filter,
}

/// One match: a detection rule on one event, or a correlation over several.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// The rule's index in the [`RuleSet`].
    pub rule: RuleIndex,
    /// `id`.
    pub rule_id: Option<String>,
    /// `title`.
    pub rule_title: String,
    /// `level`.
    pub level: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `author`.
    pub author: Option<String>,
    /// Indices into the input events: one for a detection, the contributing ones for a
    /// correlation.
    pub events: Vec<usize>,
    /// For correlations: the group-by fields and their values.
    pub group: Option<Vec<(String, String)>>,
}

#[derive(Debug)]
struct Bucket {
    rules: Vec<(RuleIndex, Arc<Node>)>,
    prefilter: Prefilter,
}

/// A compiled rule set.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<RuleInfo>,
    fields: FieldTable,
    atoms: Atoms,
    router: Router,
    buckets: Vec<Option<Bucket>>,
    nodes: HashMap<(RuleIndex, String), Arc<Node>>,
    correlations: Vec<CorrDef>,
    /// Rule → correlations fed by it.
    feeds: Vec<Vec<usize>>,
    /// Rules whose own matches are not reported (referenced by a correlation without
    /// `generate: true`).
    suppressed: Vec<bool>,
    /// (rule, pipeline) → why the pipeline cannot convert the rule, which is sound otherwise.
    unconverted: HashMap<(RuleIndex, String), Diagnostic>,
    /// This engine among every engine the process compiled ([`Session::engine`]).
    id: u64,
    /// The verdicts its sessions remember together (`prefilter::SharedVerdicts`).
    shared: SharedVerdicts,
}

/// Engines compiled so far in this process: each takes the next number as its id.
static ENGINES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Reusable per-thread evaluation buffers.
#[derive(Debug, Default)]
pub struct Session {
    /// Rules evaluated after the prefilter, over the session's lifetime.
    pub evaluated: u64,
    scratch: Scratch,
    marks: Vec<u64>,
    hits: Vec<RuleIndex>,
    scan: ScanState,
    /// The routing class of the event last evaluated ([`Session::class`]).
    class: Option<usize>,
    /// The id of the engine whose tables `scan` holds (0: none yet). Tables are numbered
    /// engine-wide and verdicts are lists of the engine's rules, so a session that another
    /// engine uses starts afresh: `firedrill scan` keeps one session per worker thread for the
    /// life of the process, whatever engines that thread serves.
    engine: u64,
    /// True for a session that neither reads nor fills the engine's shared verdicts
    /// ([`Engine::solitary_session`]).
    solitary: bool,
}

impl Session {
    /// The routing class of the event [`Engine::matches_with`] last evaluated, when Sigma rules
    /// can apply to it ([`Engine::applies_to_class`]).
    pub fn class(&self) -> Option<usize> {
        self.class
    }

    /// How often a field's text was found in the prefilter's memo, and how often scanned.
    pub fn memo_figures(&self) -> (u64, u64) {
        (self.scan.memo_hits, self.scan.memo_misses)
    }

    /// How often an event's verdict was known from an earlier event with the same field
    /// values read, or with fields in which the scans found the same needles; and how often one
    /// that could have been was evaluated.
    pub fn verdict_figures(&self) -> (u64, u64) {
        (self.scan.verdict_hits, self.scan.verdict_misses)
    }

    /// The slots of the session's largest memo table and of its largest verdict table: they
    /// start small and grow while they keep evicting what they hold.
    pub fn table_slots(&self) -> (usize, usize) {
        self.scan.table_slots()
    }

    /// How many of the verdicts known were known only by what the field scans found.
    pub fn found_verdicts(&self) -> u64 {
        self.scan.found_hits
    }
}

fn info(rule: &Rule) -> RuleInfo {
    RuleInfo {
        id: rule.id.clone(),
        name: rule.name.clone(),
        title: rule.title.clone(),
        level: rule.level.clone(),
        tags: rule.tags.clone(),
        author: rule.author.clone(),
        path: rule.path.clone(),
        logsource: rule.logsource.clone(),
        native_fields: rule
            .taxonomy
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("sigma")),
        kind: match rule.body {
            RuleBody::Detection(_) => RuleKind::Detection,
            RuleBody::Correlation(_) => RuleKind::Correlation,
            RuleBody::Filter(_) => RuleKind::Filter,
        },
        usable: true,
    }
}

/// The name of the group a rule's node is wrapped in (what explain's trace starts with).
fn rule_label(title: &str) -> String {
    format!("rule `{title}`")
}

/// The name of the group of a filter rule's exclusion within a rule's node.
fn filter_label(title: &str) -> String {
    format!("filter rule `{title}`")
}

/// The node a class evaluates for rule `rule`, from its compiled detection `node`: the same
/// shape the class loop compiles from lowered expressions, `rule and not filter` for each
/// filter in turn, in a group named after the rule. A filter without a compiled node adds
/// nothing (one that failed has disabled the rule already).
fn with_filters(
    rules: &[Rule],
    rule: RuleIndex,
    filters: &[RuleIndex],
    mut node: Node,
    compiled: &[Option<Node>],
) -> Node {
    for &fi in filters {
        if let Some(filter) = &compiled[fi] {
            let label = filter_label(&rules[fi].title);
            node = Node::And(vec![
                node,
                Node::Not(Box::new(Node::Group(
                    Arc::from(label.as_str()),
                    Box::new(filter.clone()),
                ))),
            ]);
        }
    }
    let label = rule_label(&rules[rule].title);
    Node::Group(Arc::from(label.as_str()), Box::new(node))
}

/// Lowers each of `items` with `lower` in parallel, each worker with a regex cache of its own
/// that starts as a copy of `built` (regexes are shared, not rebuilt): the results in `items`'
/// order, and the caches merged.
fn lower_in_parallel<T: Sync, R: Send>(
    items: &[T],
    built: &RegexCache,
    lower: impl Fn(&T, &mut RegexCache) -> R + Sync,
) -> (Vec<R>, RegexCache) {
    use rayon::prelude::*;
    items
        .par_iter()
        .fold(
            || (Vec::new(), built.clone()),
            |(mut out, mut cache), item| {
                out.push(lower(item, &mut cache));
                (out, cache)
            },
        )
        .reduce(
            || (Vec::new(), RegexCache::default()),
            |(mut out, mut cache), (more, other)| {
                out.extend(more);
                cache.merge(other);
                (out, cache)
            },
        )
}

/// Lowers detection rule `rule` through `pipeline`, with the filter rules that apply to it
/// (`filters`), for a class that does not read through the identity pipeline; `Err` with the
/// diagnostics when it does not lower: the identity pass reported what is wrong with the rule
/// itself, so these say what the pipeline could not convert.
fn lower_with_filters(
    rules: &[Rule],
    rule: RuleIndex,
    filters: &[RuleIndex],
    pipeline: &Pipeline,
    config: &Config,
    regexes: &mut RegexCache,
) -> Result<Expr, Vec<Diagnostic>> {
    let mut sink = Vec::new();
    let RuleBody::Detection(detection) = &rules[rule].body else {
        return Err(sink);
    };
    if let Some(refusal) = category_refusal(&rules[rule], pipeline) {
        return Err(vec![refusal]);
    }
    let Some(mut expr) = lower_detection(
        &rules[rule],
        detection,
        pipeline,
        config,
        regexes,
        &mut sink,
    ) else {
        return Err(sink);
    };
    for &fi in filters {
        let filter_rule = &rules[fi];
        let RuleBody::Filter(filter) = &filter_rule.body else {
            continue;
        };
        match lower_detection(
            filter_rule,
            &filter.detection,
            pipeline,
            config,
            regexes,
            &mut sink,
        ) {
            Some(fexpr) => {
                expr = Expr::And(vec![
                    expr,
                    Expr::Not(Box::new(Expr::Group(
                        filter_label(&filter_rule.title),
                        Box::new(fexpr),
                    ))),
                ]);
            }
            // Without its exclusion the rule would match more than it should.
            None if sink.iter().any(Diagnostic::is_error) => return Err(sink),
            None => {}
        }
    }
    Ok(Expr::Group(rule_label(&rules[rule].title), Box::new(expr)))
}

/// `SIG0070` when `pipeline` converts only some categories and the rule has none of them (a
/// query backend picks the table by the category).
fn category_refusal(rule: &Rule, pipeline: &Pipeline) -> Option<Diagnostic> {
    let category = rule.logsource.category.as_deref();
    if pipeline.converts_category(category) {
        return None;
    }
    let has = category.map_or("no category".to_string(), |c| format!("category `{c}`"));
    let reason =
        format!("the backend picks the table by the log source's category, and the rule has {has}");
    let span = super::rule::locate(&rule.source.text, rule.offset, "logsource", "");
    Some(super::lower::unconvertible(rule, pipeline, span, &reason))
}

fn logsource_fits(filter: &super::rule::LogSource, rule: &super::rule::LogSource) -> bool {
    let fits = |f: &Option<String>, r: &Option<String>| match (f, r) {
        (None, _) => true,
        (Some(f), Some(r)) => f.eq_ignore_ascii_case(r),
        (Some(_), None) => false,
    };
    fits(&filter.category, &rule.category)
        && fits(&filter.product, &rule.product)
        && fits(&filter.service, &rule.service)
}

impl Engine {
    /// Compiles every rule of `set`. Rules that fail get diagnostics and never match; the
    /// others are unaffected.
    pub fn compile(set: &RuleSet, config: &Config) -> (Engine, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let mut rules: Vec<RuleInfo> = set.rules.iter().map(info).collect();
        let router = Router::new();
        let mut fields = FieldTable::default();
        let mut regexes = RegexCache::default();

        // Ids and names are references: a duplicate makes them ambiguous.
        let mut seen: HashMap<&str, RuleIndex> = HashMap::new();
        for (i, rule) in set.rules.iter().enumerate() {
            for (what, key) in [("id", &rule.id), ("name", &rule.name)] {
                let Some(key) = key.as_deref() else { continue };
                if let Some(&first) = seen.get(key) {
                    let span = super::rule::locate(&rule.source.text, rule.offset, what, key);
                    diags.push(
                        rule.diag(
                            Diagnostic::warning(
                                "SIG0050",
                                format!("duplicate rule {what} `{key}`"),
                            ),
                            span,
                        )
                        .with_note(format!(
                            "first used by {} in {}",
                            set.rules[first].label(),
                            set.rules[first].path
                        )),
                    );
                } else {
                    seen.insert(key, i);
                }
            }
        }

        // Filters: which filter rules apply to which rules.
        let mut filters_of: Vec<Vec<RuleIndex>> = vec![Vec::new(); set.rules.len()];
        for (fi, rule) in set.rules.iter().enumerate() {
            let RuleBody::Filter(filter) = &rule.body else {
                continue;
            };
            for reference in &filter.rules {
                let span = super::rule::locate(&rule.source.text, rule.offset, reference, "");
                match set.find(reference) {
                    Some(target) if matches!(set.rules[target].body, RuleBody::Detection(_)) => {
                        if logsource_fits(&rule.logsource, &set.rules[target].logsource) {
                            filters_of[target].push(fi);
                        } else {
                            diags.push(rule.diag(
                                Diagnostic::warning(
                                    "SIG0041",
                                    format!(
                                        "filter's logsource ({}) does not fit rule {} ({}); not applied",
                                        rule.logsource,
                                        set.rules[target].label(),
                                        set.rules[target].logsource
                                    ),
                                ),
                                span,
                            ));
                        }
                    }
                    Some(_) => diags.push(rule.diag(
                        Diagnostic::warning(
                            "SIG0040",
                            format!("filter names `{reference}`, which is not a detection rule"),
                        ),
                        span,
                    )),
                    None => diags.push(rule.diag(
                        Diagnostic::warning(
                            "SIG0040",
                            format!("filter names `{reference}`, which is not loaded"),
                        ),
                        span,
                    )),
                }
            }
        }

        // Validate every detection and filter once through the identity pipeline, so rules no
        // routing class reaches (Linux, cloud) are still checked; the classes that read through
        // the identity pipeline take these nodes rather than lowering the rules again.
        // Lowering (which builds the rules' regexes) runs in parallel, each worker with a regex
        // cache of its own, merged after; compiling interns fields, so it runs in rule order.
        let identity = super::pipeline::PipelineId::Identity.pipeline();
        let (lowered, built) = lower_in_parallel(&set.rules, &regexes, |rule, cache| {
            let mut sink = Vec::new();
            let detection = match &rule.body {
                RuleBody::Detection(d) => Some(d),
                RuleBody::Filter(f) => Some(&f.detection),
                RuleBody::Correlation(_) => None,
            };
            let expr = detection.and_then(|detection| {
                lower_detection(rule, detection, identity, config, cache, &mut sink)
            });
            (expr, sink)
        });
        regexes.merge(built);
        let mut identity_nodes: Vec<Option<Node>> = vec![None; set.rules.len()];
        for (i, (rule, (lowered, lowering_diags))) in set.rules.iter().zip(lowered).enumerate() {
            if matches!(rule.body, RuleBody::Correlation(_)) {
                continue;
            }
            let before = diags.len();
            diags.extend(lowering_diags);
            let compiled = lowered.map(|e| expr::compile_node(e, &mut fields, &mut regexes));
            match compiled {
                Some(Ok(node)) => identity_nodes[i] = Some(node),
                Some(Err(e)) => {
                    diags.push(rule.diag(Diagnostic::error("SIG0022", e), Default::default()))
                }
                None => {}
            }
            if diags[before..].iter().any(Diagnostic::is_error) {
                rules[i].usable = false;
            }
        }
        // A filter that fails disables nothing but itself; a rule whose filter failed would
        // match more than intended, so it is disabled too.
        for (i, filters) in filters_of.iter().enumerate() {
            if filters.iter().any(|f| !rules[*f].usable) && rules[i].usable {
                rules[i].usable = false;
                diags.push(set.rules[i].diag(
                    Diagnostic::error(
                        "SIG0042",
                        format!(
                            "rule {} is disabled because a filter that applies to it failed",
                            set.rules[i].label()
                        ),
                    ),
                    Default::default(),
                ));
            }
        }

        // Lower per routing class, sharing nodes per rule and pipeline: first which node each
        // class's rules take, then the lowering of those the identity pass did not give, in
        // parallel, then compiling in class and rule order.
        enum Source {
            Identity(RuleIndex),
            Lowered(usize),
        }
        let mut ids: HashMap<(RuleIndex, &str), usize> = HashMap::new();
        let mut sources: Vec<Source> = Vec::new();
        let mut jobs: Vec<(RuleIndex, &Pipeline)> = Vec::new();
        let mut class_nodes: Vec<Vec<(RuleIndex, usize)>> = Vec::new();
        for class in router.classes() {
            let mut taken = Vec::new();
            for (i, rule) in set.rules.iter().enumerate() {
                if !matches!(rule.body, RuleBody::Detection(_))
                    || !rules[i].usable
                    || !applies(&rule.logsource, class)
                {
                    continue;
                }
                let (pipeline, name) = if rules[i].native_fields {
                    (identity, identity.name.as_str())
                } else {
                    (class.pipeline.as_ref(), class.pipeline_key.as_str())
                };
                let id = *ids.entry((i, name)).or_insert_with(|| {
                    sources.push(if name == identity.name && identity_nodes[i].is_some() {
                        Source::Identity(i)
                    } else {
                        jobs.push((i, pipeline));
                        Source::Lowered(jobs.len() - 1)
                    });
                    sources.len() - 1
                });
                taken.push((i, id));
            }
            class_nodes.push(taken);
        }
        let (lowered, built) = lower_in_parallel(&jobs, &regexes, |&(i, pipeline), cache| {
            lower_with_filters(&set.rules, i, &filters_of[i], pipeline, config, cache)
        });
        regexes.merge(built);
        // What each pipeline could not convert, for explain and the scans (`Engine::unconverted`).
        let mut unconverted = HashMap::new();
        let mut lowered: Vec<Option<Expr>> = lowered
            .into_iter()
            .zip(&jobs)
            .map(|(result, &(i, pipeline))| {
                result
                    .map_err(|diags| {
                        if let Some(first) = diags.into_iter().find(Diagnostic::is_error) {
                            unconverted.insert((i, pipeline.name.clone()), first);
                        }
                    })
                    .ok()
            })
            .collect();
        // Per source, its node once compiled (`Some(None)` when it failed to).
        let mut compiled: Vec<Option<Option<Arc<Node>>>> = vec![None; sources.len()];
        let mut buckets = Vec::new();
        let mut class_rules = Vec::new();
        let mut atoms = Atoms::default();
        let (mut memos, mut verdicts) = (0, 0);
        for taken in class_nodes {
            let mut bucket_rules = Vec::new();
            for (i, id) in taken {
                let node = compiled[id].get_or_insert_with(|| {
                    let node = match sources[id] {
                        Source::Identity(i) => identity_nodes[i].take().map(|node| {
                            with_filters(&set.rules, i, &filters_of[i], node, &identity_nodes)
                        }),
                        Source::Lowered(job) => lowered[job].take().and_then(|expr| {
                            expr::compile_node(expr, &mut fields, &mut regexes).ok()
                        }),
                    };
                    node.map(|mut node| {
                        expr::assign_atoms(&mut node, &mut atoms);
                        Arc::new(node)
                    })
                });
                if let Some(node) = node {
                    bucket_rules.push((i, node.clone()));
                }
            }
            class_rules.push(bucket_rules);
        }
        // For explain: each rule's node by pipeline.
        let nodes: HashMap<(RuleIndex, String), Arc<Node>> = ids
            .into_iter()
            .filter_map(|((i, name), id)| {
                let node = compiled[id].clone().flatten()?;
                Some(((i, name.to_string()), node))
            })
            .collect();
        let planned = super::prefilter::plan_classes(&class_rules, &atoms);
        for (bucket_rules, planned) in class_rules.into_iter().zip(planned) {
            buckets.push(planned.map(|planned| {
                let prefilter =
                    Prefilter::build(&bucket_rules, planned, &atoms, &mut memos, &mut verdicts);
                Bucket {
                    rules: bucket_rules,
                    prefilter,
                }
            }));
        }

        // Correlations.
        let mut correlations = Vec::new();
        let mut feeds = vec![Vec::new(); set.rules.len()];
        let mut referenced = vec![false; set.rules.len()];
        let mut generated = vec![false; set.rules.len()];
        for (ci, rule) in set.rules.iter().enumerate() {
            let RuleBody::Correlation(spec) = &rule.body else {
                continue;
            };
            let mut inputs = Vec::new();
            let mut ok = true;
            for reference in &spec.rules {
                match set.find(reference) {
                    Some(target)
                        if target != ci
                            && !matches!(set.rules[target].body, RuleBody::Filter(_)) =>
                    {
                        inputs.push(target)
                    }
                    _ => {
                        let span =
                            super::rule::locate(&rule.source.text, rule.offset, reference, "");
                        let d = rule.diag(
                            Diagnostic::error(
                                "SIG0031",
                                format!("correlation refers to `{reference}`, which is not a loaded detection or correlation rule"),
                            ),
                            span,
                        );
                        let d = match crate::diag::did_you_mean(
                            reference,
                            set.rules.iter().filter_map(|r| r.name.as_deref()),
                        ) {
                            Some(best) => d.with_help(format!("did you mean `{best}`?")),
                            None => d,
                        };
                        diags.push(d);
                        ok = false;
                    }
                }
            }
            if !ok {
                rules[ci].usable = false;
                continue;
            }
            let alias_fields = inputs
                .iter()
                .map(|&input| {
                    let target = &set.rules[input];
                    spec.aliases
                        .iter()
                        .filter_map(|(alias, per_rule)| {
                            let field =
                                target.name.as_ref().and_then(|n| per_rule.get(n)).or_else(
                                    || target.id.as_ref().and_then(|id| per_rule.get(id)),
                                )?;
                            Some((alias.clone(), field.clone()))
                        })
                        .collect()
                })
                .collect();
            let index = correlations.len();
            for &input in &inputs {
                feeds[input].push(index);
                referenced[input] = true;
                generated[input] |= spec.generate;
            }
            correlations.push(CorrDef {
                rule: ci,
                spec: spec.clone(),
                inputs,
                alias_fields,
            });
        }
        // Cycles among correlations would loop forever: reject them.
        for index in 0..correlations.len() {
            if reaches(&correlations, &feeds, correlations[index].rule, index, 0) {
                let rule = &set.rules[correlations[index].rule];
                rules[correlations[index].rule].usable = false;
                diags.push(rule.diag(
                    Diagnostic::error("SIG0033", "correlation refers to itself through a cycle"),
                    Default::default(),
                ));
            }
        }

        let suppressed = referenced
            .iter()
            .zip(&generated)
            .map(|(r, g)| *r && !*g)
            .collect();
        let engine = Engine {
            rules,
            fields,
            atoms,
            router,
            buckets,
            nodes,
            correlations,
            feeds,
            suppressed,
            unconverted,
            id: ENGINES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            shared: SharedVerdicts::new(verdicts),
        };
        (engine, diags)
    }

    /// Every event field some compiled rule reads (after pipeline mapping), for readers that
    /// materialise only what rules need; see also [`Engine::reads_every_field`].
    pub fn field_names(&self) -> Vec<&str> {
        (0..self.fields.len())
            .map(|s| self.fields.name(s))
            .collect()
    }

    /// True when some rule searches keywords, which read every value of an event.
    pub fn reads_every_field(&self) -> bool {
        self.nodes.values().any(|n| expr::reads_any(n))
    }

    /// Prefilter figures per routing class with rules: (class, rules, needles, rules evaluated
    /// on every event for want of a needle, fields scanned).
    pub fn prefilter_stats(&self) -> Vec<(String, usize, usize, usize, usize)> {
        self.buckets
            .iter()
            .zip(self.router.classes())
            .filter_map(|(b, class)| {
                let b = b.as_ref()?;
                let stats = b.prefilter.stats();
                Some((
                    class.to_string(),
                    b.rules.len(),
                    stats.needles,
                    stats.always,
                    stats.fields,
                ))
            })
            .collect()
    }

    /// Every rule, by index.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// A fresh evaluation session (reusable buffers). It remembers verdicts in tables of its
    /// own and in the engine's, which every session of the engine shares (on any thread): a
    /// verdict is a function of the values its rules read, so what one session learns serves
    /// them all.
    pub fn session(&self) -> Session {
        Session::default()
    }

    /// A session that remembers verdicts in its own tables only, neither reading nor filling
    /// the engine's shared ones: what it gives an event it has not seen is worked out afresh,
    /// which is what checks of remembered verdicts compare with.
    pub fn solitary_session(&self) -> Session {
        Session {
            solitary: true,
            ..Session::default()
        }
    }

    /// The detection rules that match `event` (correlations are not fed), in rule order.
    pub fn matches(&self, event: &Event) -> impl Iterator<Item = RuleIndex> + use<> {
        let mut session = self.session();
        self.matches_with(event, &mut session).to_vec().into_iter()
    }

    /// The detection rules that match `event`, using `session`'s buffers.
    pub fn matches_with<'s>(&self, event: &Event, session: &'s mut Session) -> &'s [RuleIndex] {
        session.hits.clear();
        session.class = self.router.route(event);
        let Some(class) = session.class else {
            return &session.hits;
        };
        let Some(bucket) = &self.buckets[class] else {
            return &session.hits;
        };
        if session.engine != self.id {
            session.scan = ScanState::default();
            session.engine = self.id;
        }
        let Session {
            evaluated,
            scratch,
            marks,
            hits,
            scan,
            class: _,
            engine: _,
            solitary,
        } = session;
        let shared = (!*solitary).then_some(&self.shared);
        scratch.atoms.reserve(self.atoms.len());
        let mut ctx = Ctx::new(event, &self.fields, scratch);
        if let Some(known) = bucket.prefilter.scan(&mut ctx, scan, shared, marks) {
            hits.extend_from_slice(known);
            return hits;
        }
        for (w, &word) in marks.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (rule, node) = &bucket.rules[w * 64 + b];
                *evaluated += 1;
                if expr::eval(node, &mut ctx) {
                    hits.push(*rule);
                }
            }
        }
        hits.sort_unstable();
        bucket.prefilter.settle(scan, shared, hits);
        hits
    }

    /// Evaluates `events` (in time order) and returns every match, correlations included.
    pub fn evaluate(&self, events: &[Event]) -> Vec<Match> {
        let mut stream = self.stream();
        let mut out = Vec::new();
        for (i, event) in events.iter().enumerate() {
            out.extend(stream.push(i, event));
        }
        out.extend(stream.finish());
        out
    }

    /// A streaming evaluator for the log scanner: push events in time order, then finish.
    pub fn stream(&self) -> Stream<'_> {
        Stream {
            engine: self,
            session: self.session(),
            state: correlation::State::default(),
            last_time: 0,
        }
    }

    fn make_match(
        &self,
        rule: RuleIndex,
        events: Vec<usize>,
        group: Option<Vec<(String, String)>>,
    ) -> Match {
        let info = &self.rules[rule];
        Match {
            rule,
            rule_id: info.id.clone(),
            rule_title: info.title.clone(),
            level: info.level.clone(),
            tags: info.tags.clone(),
            author: info.author.clone(),
            events,
            group,
        }
    }

    /// True when matches of rule `rule` feed a correlation (so a scan must keep the events).
    pub fn feeds_correlation(&self, rule: RuleIndex) -> bool {
        self.feeds.get(rule).is_some_and(|f| !f.is_empty())
    }

    /// The number of routing classes ([`Session::class`] is below it).
    pub fn class_count(&self) -> usize {
        self.router.classes().len()
    }

    /// True when rule `rule` applies to the events of routing class `class` by log source.
    pub fn applies_to_class(&self, rule: RuleIndex, class: usize) -> bool {
        self.router
            .classes()
            .get(class)
            .is_some_and(|c| applies(&self.rules[rule].logsource, c))
    }

    /// Why rule `rule`, which applies to the events of routing class `class`, cannot run on
    /// them: the class's pipeline cannot convert it (`SIG0070`), though the rule is sound.
    pub fn unconverted(&self, rule: RuleIndex, class: usize) -> Option<&Diagnostic> {
        let class = self.router.classes().get(class)?;
        if self.rules[rule].native_fields || !applies(&self.rules[rule].logsource, class) {
            return None;
        }
        self.unconverted.get(&(rule, class.pipeline_key.clone()))
    }

    /// The routing class of `event`, when Sigma rules can apply to it.
    pub fn class_of(&self, event: &Event) -> Option<usize> {
        self.router.route(event)
    }

    /// A routing class, described (product, service, categories, pipeline).
    pub fn class_name(&self, class: usize) -> String {
        self.router
            .classes()
            .get(class)
            .map_or_else(String::new, ToString::to_string)
    }

    /// True when rule `rule` applies to `event` by log source.
    pub fn applies(&self, rule: RuleIndex, event: &Event) -> bool {
        self.router
            .route(event)
            .is_some_and(|class| self.applies_to_class(rule, class))
    }

    /// Explains rule `rule` on `event`: every condition node, selection and comparison, with
    /// its result and reason. Inapplicable or unusable rules get a one-node trace saying so.
    pub fn explain(&self, rule: RuleIndex, event: &Event) -> Trace {
        let info = &self.rules[rule];
        let not = |reason: String| {
            Trace::leaf(
                TraceKind::Group,
                rule_label(&info.title),
                false,
                Some(reason),
            )
        };
        if !info.usable {
            return not("the rule failed to compile (see its diagnostics)".into());
        }
        match info.kind {
            RuleKind::Correlation => {
                return not("a correlation rule matches sequences of events; explain the rules it refers to".into());
            }
            RuleKind::Filter => {
                return not("a filter rule only adds exclusions to the rules it names".into());
            }
            RuleKind::Detection => {}
        }
        let Some(class) = self.router.route(event) else {
            return not(format!(
                "no Sigma pipeline serves `{}` events",
                event.schema
            ));
        };
        let class = &self.router.classes()[class];
        if !applies(&info.logsource, class) {
            return not(format!(
                "log source ({}) does not apply to this event ({class})",
                info.logsource
            ));
        }
        let key = if info.native_fields {
            super::pipeline::PipelineId::Identity
                .pipeline()
                .name
                .clone()
        } else {
            class.pipeline_key.clone()
        };
        let Some(node) = self.nodes.get(&(rule, key.clone())) else {
            return not(match self.unconverted.get(&(rule, key.clone())) {
                Some(why) => why.message.clone(),
                None => "the rule has no compiled form for this event's pipeline".into(),
            });
        };
        let mut scratch = Scratch::default();
        let mut ctx = Ctx::new(event, &self.fields, &mut scratch);
        let mut trace = expr::explain(node, &mut ctx);
        trace.reason = Some(format!("pipeline {key}"));
        trace
    }

    /// The rule with id or name `reference`.
    pub fn find(&self, reference: &str) -> Option<RuleIndex> {
        self.rules
            .iter()
            .position(|r| r.id.as_deref() == Some(reference))
            .or_else(|| {
                self.rules
                    .iter()
                    .position(|r| r.name.as_deref() == Some(reference))
            })
    }

    /// Whether matches of `rule` are reported (false for a rule only a correlation without
    /// `generate: true` refers to). For callers of [`Engine::matches_with`], which does not
    /// filter them.
    pub fn reports(&self, rule: RuleIndex) -> bool {
        !self.suppressed.get(rule).copied().unwrap_or(false)
    }

    /// The event fields the compiled rules read (after field mapping), so a log reader can
    /// skip the others; `None` when it must keep them all: some rule searches every value
    /// (keywords), or correlations group by fields the detections may not name.
    pub fn fields_read(&self) -> Option<Vec<String>> {
        fn searches_every_value(node: &Node) -> bool {
            match node {
                Node::Const(_) => false,
                Node::And(items) | Node::Or(items) => items.iter().any(searches_every_value),
                Node::Not(inner) | Node::Group(_, inner) => searches_every_value(inner),
                Node::Cmp { cmp, .. } => cmp.slot.is_none(),
            }
        }
        if !self.correlations.is_empty() || self.nodes.values().any(|n| searches_every_value(n)) {
            return None;
        }
        Some(
            (0..self.fields.len())
                .map(|slot| self.fields.name(slot).to_string())
                .collect(),
        )
    }
}

fn reaches(
    defs: &[CorrDef],
    feeds: &[Vec<usize>],
    rule: RuleIndex,
    start: usize,
    depth: usize,
) -> bool {
    feeds[rule].iter().any(|&c| {
        c == start || (depth < defs.len() && reaches(defs, feeds, defs[c].rule, start, depth + 1))
    })
}

/// Streaming evaluation with correlation state; see [`Engine::stream`].
#[derive(Debug)]
pub struct Stream<'e> {
    engine: &'e Engine,
    session: Session,
    state: correlation::State,
    last_time: i64,
}

impl Stream<'_> {
    /// Evaluates event `index` and returns the matches it completes (its own detections, and
    /// correlations it fires).
    pub fn push(&mut self, index: usize, event: &Event) -> Vec<Match> {
        let engine = self.engine;
        let time = event
            .timestamp
            .map_or(self.last_time, |t| t.timestamp_millis());
        self.last_time = time;
        let hits = engine.matches_with(event, &mut self.session).to_vec();
        let mut out = Vec::new();
        let pipeline = if hits.iter().any(|r| !engine.feeds[*r].is_empty()) {
            engine
                .router
                .route(event)
                .map(|c| engine.router.classes()[c].pipeline.clone())
        } else {
            None
        };
        for rule in hits {
            if !engine.suppressed[rule] {
                out.push(engine.make_match(rule, vec![index], None));
            }
            let lookup = |field: &str| -> Option<String> {
                let name = match &pipeline {
                    Some(p) => p.field(field).into_owned(),
                    None => field.to_string(),
                };
                event.get(&name).and_then(scalar_text)
            };
            self.feed(rule, time, vec![index], &lookup, &mut out, 0);
        }
        out
    }

    fn feed(
        &mut self,
        rule: RuleIndex,
        time: i64,
        events: Vec<usize>,
        lookup: &dyn Fn(&str) -> Option<String>,
        out: &mut Vec<Match>,
        depth: usize,
    ) {
        let engine = self.engine;
        if depth > engine.correlations.len() {
            return;
        }
        for &ci in &engine.feeds[rule] {
            let def = &engine.correlations[ci];
            if !engine.rules[def.rule].usable {
                continue;
            }
            for (input, _) in def.inputs.iter().enumerate().filter(|(_, r)| **r == rule) {
                let mut group = Vec::new();
                let mut complete = true;
                for g in &def.spec.group_by {
                    match lookup(def.group_field(input, g)) {
                        Some(v) => group.push((g.clone(), v)),
                        None => complete = false,
                    }
                }
                if !complete {
                    continue;
                }
                let value = def
                    .spec
                    .condition
                    .as_ref()
                    .and_then(|c| c.field.as_deref())
                    .and_then(|f| lookup(def.group_field(input, f)));
                let occurrence = Occurrence {
                    time,
                    input,
                    events: events.clone(),
                    value,
                };
                for fired in self.state.push(ci, def, group, occurrence) {
                    self.emit(fired, out, depth);
                }
            }
        }
    }

    fn emit(&mut self, fired: correlation::Fired, out: &mut Vec<Match>, depth: usize) {
        let engine = self.engine;
        if !engine.suppressed[fired.rule] {
            out.push(engine.make_match(
                fired.rule,
                fired.events.clone(),
                Some(fired.group.clone()),
            ));
        }
        let group = fired.group.clone();
        let lookup = move |field: &str| -> Option<String> {
            group
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, v)| v.clone())
        };
        self.feed(
            fired.rule,
            fired.time,
            fired.events,
            &lookup,
            out,
            depth + 1,
        );
    }

    /// Ends the input: closes open correlation windows and returns what they fire.
    pub fn finish(mut self) -> Vec<Match> {
        let mut out = Vec::new();
        let fired = self.state.finish(&self.engine.correlations);
        for f in fired {
            self.emit(f, &mut out, 0);
        }
        // Windows opened by the emissions above close too.
        let more = self.state.finish(&self.engine.correlations);
        for f in more {
            self.emit(f, &mut out, 0);
        }
        out
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::List(_) | Value::Map(_) => None,
        other => other.to_text().map(|t| t.into_owned()),
    }
}
