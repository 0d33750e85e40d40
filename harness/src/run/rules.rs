//! Rule loading across Sigma and KQL, with per-file diagnostics, and resolving a scenario's
//! `rule:` reference by id, title, name or file stem.
//!
//! Files are found under the configured rule paths (recursively, sorted): `.yml`/`.yaml` files are
//! Sigma rules unless they are Sentinel rule YAML (a top-level `query:` key), `.kql` files are KQL
//! queries, anything else (licenses, READMEs) is skipped. A file that fails to load becomes a
//! rule with error diagnostics, so it shows up as its own failed check and the rest still run.

use super::check::Detector;
use crate::diag::{Diagnostic, did_you_mean};
use crate::event::LogSchema;
use crate::report::{Language, RuleInfo};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A rule as the harness holds it: what the report says about it, and its detector when it loaded.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The report's view of the rule (key, title, schemas, diagnostics).
    pub info: RuleInfo,
    /// The compiled rule; `None` when it failed to load.
    pub detector: Option<Arc<dyn Detector>>,
    /// Every rendering evaluation needs (a KQL query reading two tables needs both; it is
    /// checked once, on the first).
    pub needs: Vec<LogSchema>,
    /// Why no rendering serves the rule, when `info.schemas` is empty.
    pub not_applicable: String,
}

/// The rule language a file holds, judged from its name and, for YAML, its top-level keys.
pub fn language_of(path: &Path, text: &str) -> Option<Language> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "kql" | "kusto" | "csl" => Some(Language::Kql),
        "yml" | "yaml" => {
            let sentinel = text.lines().any(|line| line.starts_with("query:"))
                && !text.lines().any(|line| line.starts_with("detection:"));
            Some(if sentinel {
                Language::Kql
            } else {
                Language::Sigma
            })
        }
        _ => None,
    }
}

/// Every rule file under `paths` (files as given, directories recursively), sorted within each
/// path; a path that does not exist is a `CFG0003` diagnostic.
pub fn rule_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found);
            found.retain(|p| {
                matches!(
                    p.extension()
                        .and_then(|e| e.to_str())
                        .map(str::to_ascii_lowercase)
                        .as_deref(),
                    Some("yml" | "yaml" | "kql" | "kusto" | "csl")
                )
            });
            found.sort();
            files.extend(found);
        } else {
            diagnostics.push(
                Diagnostic::error("CFG0003", "no such file or directory")
                    .in_file(path.display().to_string())
                    .with_help("check `rules:` in firedrill.yaml or the --rules argument"),
            );
        }
    }
    files.dedup();
    (files, diagnostics)
}

/// Every file under `dir`, recursively, skipping hidden entries.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// ATT&CK technique ids from Sigma tags (`attack.t1059.001` → `T1059.001`) or Sentinel
/// `relevantTechniques` entries (`T1059`).
pub fn techniques<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = tags
        .into_iter()
        .filter_map(|tag| {
            let tag = tag.trim();
            let id = tag.strip_prefix("attack.").unwrap_or(tag);
            let upper = id.to_ascii_uppercase();
            let digits = upper.strip_prefix('T')?;
            let valid = digits
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
            valid.then_some(upper)
        })
        .collect();
    out.dedup();
    out
}

/// A rule that failed to load: its file, its diagnostics, no detector.
pub fn failed(path: &str, language: Language, diagnostics: Vec<Diagnostic>) -> Rule {
    let stem = stem(path);
    Rule {
        info: RuleInfo {
            key: path.to_string(),
            slug: stem.clone(),
            title: file_name(path),
            id: None,
            name: None,
            language,
            path: path.to_string(),
            author: None,
            level: None,
            techniques: Vec::new(),
            reads: String::new(),
            schemas: Vec::new(),
            diagnostics,
        },
        detector: None,
        needs: Vec::new(),
        not_applicable: "the rule did not load".to_string(),
    }
}

/// The file stem of a `/`-separated path.
pub fn stem(path: &str) -> String {
    let name = file_name(path);
    match name.rfind('.') {
        Some(dot) if dot > 0 => name[..dot].to_string(),
        _ => name,
    }
}

fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_string()
}

/// Gives every rule a key and a slug unique in the set: a rule id used twice, or a file holding
/// several rules, gets its position appended.
pub fn make_unique(rules: &mut [Rule]) {
    for field in [0, 1] {
        let values: Vec<String> = rules
            .iter()
            .map(|r| {
                if field == 0 {
                    r.info.key.clone()
                } else {
                    r.info.slug.clone()
                }
            })
            .collect();
        for (i, rule) in rules.iter_mut().enumerate() {
            let value = &values[i];
            let count = values.iter().filter(|v| *v == value).count();
            if count > 1 {
                let nth = values[..i].iter().filter(|v| *v == value).count() + 1;
                let unique = format!("{value}#{nth}");
                if field == 0 {
                    rule.info.key = unique;
                } else {
                    rule.info.slug = unique;
                }
            }
        }
    }
}

/// Finds the rule a scenario's `rule:` names: by id, then title, name, file stem or path
/// (exactly, then ignoring case). Unknown or ambiguous references are `RUN0001`/`RUN0002`.
pub fn resolve(rules: &[Rule], reference: &str) -> Result<usize, Box<Diagnostic>> {
    let reference = reference.trim();
    let fields = |r: &Rule| -> Vec<String> {
        let info = &r.info;
        let mut v = vec![
            info.key.clone(),
            info.title.clone(),
            info.slug.clone(),
            info.path.clone(),
            stem(&info.path),
        ];
        v.extend(info.id.clone());
        v.extend(info.name.clone());
        v
    };
    for exact in [true, false] {
        let hits: Vec<usize> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                fields(r).iter().any(|f| {
                    if exact {
                        f == reference
                    } else {
                        f.eq_ignore_ascii_case(reference)
                    }
                })
            })
            .map(|(i, _)| i)
            .collect();
        match hits.len() {
            0 => continue,
            1 => return Ok(hits[0]),
            _ => {
                let names: Vec<String> = hits
                    .iter()
                    .map(|i| format!("{} ({})", rules[*i].info.title, rules[*i].info.path))
                    .collect();
                return Err(Box::new(
                    Diagnostic::error(
                        "RUN0002",
                        format!("rule reference `{reference}` is ambiguous"),
                    )
                    .with_note(format!("it names {}", names.join(", ")))
                    .with_help("name the rule by its id"),
                ));
            }
        }
    }
    let candidates: Vec<String> = rules.iter().flat_map(fields).collect();
    let mut diagnostic = Diagnostic::error(
        "RUN0001",
        format!("no rule `{reference}` among the loaded rules"),
    );
    diagnostic = match did_you_mean(reference, candidates.iter().map(String::as_str)) {
        Some(near) => diagnostic.with_help(format!("did you mean `{near}`?")),
        None => diagnostic.with_help(
            "name a rule by its id, title, name or file stem; check `rules:` in firedrill.yaml",
        ),
    };
    Err(Box::new(diagnostic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, id: Option<&str>, title: &str) -> Rule {
        let mut r = failed(path, Language::Sigma, Vec::new());
        r.info.id = id.map(String::from);
        r.info.title = title.into();
        if let Some(id) = id {
            r.info.key = id.into();
        }
        r
    }

    #[test]
    fn yaml_with_a_query_key_is_sentinel_kql() {
        assert_eq!(
            language_of(Path::new("a.yaml"), "id: x\nquery: |\n  T\n"),
            Some(Language::Kql)
        );
        assert_eq!(
            language_of(Path::new("a.yml"), "title: x\ndetection:\n  s: {}\n"),
            Some(Language::Sigma)
        );
        assert_eq!(
            language_of(Path::new("q.kql"), "T | take 1"),
            Some(Language::Kql)
        );
        assert_eq!(language_of(Path::new("NOTICE.md"), ""), None);
    }

    #[test]
    fn techniques_come_from_attack_tags() {
        assert_eq!(
            techniques([
                "attack.execution",
                "attack.t1059.001",
                "attack.T1203",
                "T1190",
                "attack.g0001"
            ]),
            ["T1059.001", "T1203", "T1190"]
        );
    }

    #[test]
    fn references_resolve_by_id_title_name_or_stem() {
        let rules = vec![
            rule(
                "rules/a/arcsoc.yml",
                Some("8e95e73e"),
                "Suspicious ArcSOC.exe Child Process",
            ),
            rule("rules/b/web.kql", None, "web"),
        ];
        assert_eq!(resolve(&rules, "8e95e73e").unwrap(), 0);
        assert_eq!(
            resolve(&rules, "suspicious arcsoc.exe child process").unwrap(),
            0
        );
        assert_eq!(resolve(&rules, "arcsoc").unwrap(), 0);
        assert_eq!(resolve(&rules, "web").unwrap(), 1);
        let unknown = resolve(&rules, "arcsok").unwrap_err();
        assert_eq!(unknown.code, "RUN0001");
        assert_eq!(unknown.help.as_deref(), Some("did you mean `arcsoc`?"));
    }

    #[test]
    fn duplicate_ids_and_slugs_are_made_unique() {
        let mut rules = vec![
            rule("x/a.yml", Some("same"), "A"),
            rule("y/a.yml", Some("same"), "B"),
        ];
        make_unique(&mut rules);
        assert_eq!(rules[0].info.key, "same#1");
        assert_eq!(rules[1].info.slug, "a#2");
        assert_eq!(resolve(&rules, "same").unwrap_err().code, "RUN0002");
    }
}
