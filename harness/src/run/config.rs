//! `firedrill.yaml`: where rules and scenarios live, the seed, placeholders, schemas, strictness.
//!
//! The file is optional. [`Config::discover`] walks up from a directory to the first one holding
//! `firedrill.yaml`, stopping at a project root (a directory with `.git` or `Cargo.toml`); with no
//! file, rules come from `rules/` and scenarios from `scenarios/` under that root. Relative paths
//! in the file are relative to the file. Unknown keys are errors with a "did you mean".
//!
//! ```yaml
//! rules: [fixtures/rules]          # files or directories, searched recursively
//! scenarios: [scenarios]
//! seed: 42
//! background: true                 # mix in the scenarios' benign background profiles
//! placeholders:                    # values for Sigma's `|expand` modifier
//!   admin_users: ['CORP\admin']
//! schemas:                         # which renderings each rule language is checked on
//!   sigma: [sysmon, security4688]
//!   kql: [mde, asim, security4688]
//! unexpected: warn                 # a rule fires where nothing is expected: fail | warn | ignore
//! portability: warn                # holds on one rendering, not another: fail | warn | ignore
//! coverage:
//!   require_positive_and_negative: false
//! report: reports                  # where `firedrill run` writes its reports
//! ```

use crate::diag::{Diagnostic, Location, did_you_mean};
use crate::event::LogSchema;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The configuration file's name.
pub const FILE_NAME: &str = "firedrill.yaml";

/// What to do about a finding that is not an expectation failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// It fails the check.
    Fail,
    /// It is reported as a warning; the check passes.
    #[default]
    Warn,
    /// It is not reported.
    Ignore,
}

/// The renderings each rule language is checked on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schemas {
    /// Sigma process_creation rules: `sysmon` as is, `security4688` through the audit pipeline.
    #[serde(default = "default_sigma_schemas")]
    pub sigma: Vec<LogSchema>,
    /// KQL rules meet the rendering of the tables they read, when it is listed here.
    #[serde(default = "default_kql_schemas")]
    pub kql: Vec<LogSchema>,
}

fn default_sigma_schemas() -> Vec<LogSchema> {
    vec![LogSchema::Sysmon, LogSchema::Security4688]
}

fn default_kql_schemas() -> Vec<LogSchema> {
    vec![LogSchema::Mde, LogSchema::Asim, LogSchema::Security4688]
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas {
            sigma: default_sigma_schemas(),
            kql: default_kql_schemas(),
        }
    }
}

/// The coverage requirement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageConfig {
    /// Every rule needs at least one positive and one negative expectation.
    #[serde(default)]
    pub require_positive_and_negative: bool,
}

/// The file as written (every key optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rules: Option<Vec<PathBuf>>,
    #[serde(default)]
    scenarios: Option<Vec<PathBuf>>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    background: Option<bool>,
    #[serde(default)]
    placeholders: IndexMap<String, Vec<String>>,
    #[serde(default)]
    schemas: Option<Schemas>,
    #[serde(default)]
    unexpected: Option<Policy>,
    #[serde(default)]
    portability: Option<Policy>,
    #[serde(default)]
    coverage: Option<CoverageConfig>,
    #[serde(default)]
    report: Option<PathBuf>,
    #[serde(default)]
    watchlists: IndexMap<String, Watchlist>,
}

/// A Microsoft Sentinel watchlist KQL rules read with `_GetWatchlist('alias')`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watchlist {
    /// The items, JSON lines (relative to the configuration file's directory).
    pub file: PathBuf,
    /// The item field `SearchKey` copies.
    #[serde(default)]
    pub search_key: Option<String>,
}

const KEYS: [&str; 11] = [
    "rules",
    "scenarios",
    "seed",
    "background",
    "placeholders",
    "schemas",
    "unexpected",
    "portability",
    "coverage",
    "report",
    "watchlists",
];

/// The default generator seed.
pub const DEFAULT_SEED: u64 = 42;

/// The resolved configuration: absolute paths, defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The repository root: the directory of the configuration file, or where discovery stopped.
    pub root: PathBuf,
    /// The configuration file, when there is one.
    pub file: Option<PathBuf>,
    /// Rule files and directories.
    pub rules: Vec<PathBuf>,
    /// Scenario files and directories.
    pub scenarios: Vec<PathBuf>,
    /// The generator seed.
    pub seed: u64,
    /// Whether scenarios' background profiles are mixed in.
    pub background: bool,
    /// Values for Sigma's `|expand` placeholders.
    pub placeholders: IndexMap<String, Vec<String>>,
    /// Renderings per rule language.
    pub schemas: Schemas,
    /// What a fire without an expectation does.
    pub unexpected: Policy,
    /// What a portability gap does.
    pub portability: Policy,
    /// The coverage requirement.
    pub coverage: CoverageConfig,
    /// Where reports go.
    pub report: PathBuf,
    /// Watchlists for `_GetWatchlist('alias')`, by alias (files resolved against the root).
    pub watchlists: IndexMap<String, Watchlist>,
}

impl Config {
    /// The configuration with no file, rooted at `root`.
    pub fn defaults(root: &Path) -> Config {
        Config {
            root: root.to_path_buf(),
            file: None,
            rules: vec![root.join("rules")],
            scenarios: vec![root.join("scenarios")],
            seed: DEFAULT_SEED,
            background: true,
            placeholders: IndexMap::new(),
            schemas: Schemas::default(),
            unexpected: Policy::Warn,
            portability: Policy::Warn,
            coverage: CoverageConfig::default(),
            report: root.join("reports"),
            watchlists: IndexMap::new(),
        }
    }

    /// Finds the configuration for `start`: the first `firedrill.yaml` walking up, stopping at a
    /// project root (`.git` or `Cargo.toml`); defaults rooted there when there is none.
    pub fn discover(start: &Path) -> Result<Config, Vec<Diagnostic>> {
        let mut dir = Some(start);
        while let Some(current) = dir {
            let candidate = current.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load(&candidate);
            }
            if current.join(".git").exists() || current.join("Cargo.toml").is_file() {
                return Ok(Config::defaults(current));
            }
            dir = current.parent();
        }
        Ok(Config::defaults(start))
    }

    /// Reads and resolves one configuration file.
    pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let text = crate::encoding::read_source(path, &file, "CFG0001", "the configuration")
            .map_err(|d| vec![*d])?;
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        Config::parse(&text, &path.display().to_string(), &root)
    }

    /// Parses configuration text; `file` names it in diagnostics, `root` anchors relative paths.
    pub fn parse(text: &str, file: &str, root: &Path) -> Result<Config, Vec<Diagnostic>> {
        let parsed: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| vec![yaml_diagnostic(&e, text, file)])?
        };
        let mut config = Config::defaults(root);
        config.file = Some(PathBuf::from(file));
        let resolve = |paths: Vec<PathBuf>| paths.into_iter().map(|p| root.join(p)).collect();
        if let Some(rules) = parsed.rules {
            config.rules = resolve(rules);
        }
        if let Some(scenarios) = parsed.scenarios {
            config.scenarios = resolve(scenarios);
        }
        if let Some(report) = parsed.report {
            config.report = root.join(report);
        }
        config.seed = parsed.seed.unwrap_or(DEFAULT_SEED);
        config.background = parsed.background.unwrap_or(true);
        config.placeholders = parsed.placeholders;
        config.schemas = parsed.schemas.unwrap_or_default();
        config.unexpected = parsed.unexpected.unwrap_or_default();
        config.portability = parsed.portability.unwrap_or_default();
        config.coverage = parsed.coverage.unwrap_or_default();
        config.watchlists = parsed
            .watchlists
            .into_iter()
            .map(|(alias, w)| {
                let file = root.join(&w.file);
                (alias, Watchlist { file, ..w })
            })
            .collect();
        Ok(config)
    }

    /// A path for people: relative to the root when it is under it.
    pub fn display_path(&self, path: &Path) -> String {
        relative(path, &self.root)
            .display()
            .to_string()
            .replace('\\', "/")
    }
}

/// `path` relative to `base` (with `..` where needed), or `path` itself when they share no
/// prefix (different drives) or `path` is relative while `base` is absolute.
pub fn relative(path: &Path, base: &Path) -> PathBuf {
    use std::path::Component;
    if let Ok(inside) = path.strip_prefix(base) {
        return inside.to_path_buf();
    }
    fn normal(p: &Path) -> Vec<Component<'_>> {
        p.components().filter(|c| *c != Component::CurDir).collect()
    }
    let (p, b) = (normal(path), normal(base));
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Turns a YAML error into a located `CFG0002` diagnostic, with "did you mean" for unknown keys.
fn yaml_diagnostic(error: &serde_yaml::Error, text: &str, file: &str) -> Diagnostic {
    let message = error.to_string();
    // yaml_serde appends " at line L column C"; the location carries that already.
    let short = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    let mut diagnostic = Diagnostic::error("CFG0002", short.clone());
    if let Some(location) = error.location() {
        diagnostic = diagnostic.located(Location::at_line_col(
            file,
            text,
            location.line(),
            location.column(),
        ));
    } else {
        diagnostic = diagnostic.in_file(file);
    }
    if let Some(unknown) = short
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        match did_you_mean(unknown, KEYS) {
            Some(key) => diagnostic = diagnostic.with_help(format!("did you mean `{key}`?")),
            None => diagnostic = diagnostic.with_help(format!("known keys: {}", KEYS.join(", "))),
        }
    }
    diagnostic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_means_the_defaults() {
        let config = Config::parse("", "firedrill.yaml", Path::new("/repo")).unwrap();
        assert_eq!(config.rules, [PathBuf::from("/repo/rules")]);
        assert_eq!(config.scenarios, [PathBuf::from("/repo/scenarios")]);
        assert_eq!(config.unexpected, Policy::Warn);
        assert_eq!(
            config.schemas.sigma,
            [LogSchema::Sysmon, LogSchema::Security4688]
        );
    }

    #[test]
    fn paths_are_relative_to_the_file_and_policies_parse() {
        let text = "rules: [fixtures/rules, extra]\nscenarios: [scenarios]\nseed: 7\nunexpected: fail\nportability: ignore\nschemas: { sigma: [sysmon] }\ncoverage: { require_positive_and_negative: true }\nplaceholders: { admins: ['CORP\\admin'] }\n";
        let config = Config::parse(text, "firedrill.yaml", Path::new("/r")).unwrap();
        assert_eq!(
            config.rules,
            [
                PathBuf::from("/r/fixtures/rules"),
                PathBuf::from("/r/extra")
            ]
        );
        assert_eq!((config.seed, config.unexpected), (7, Policy::Fail));
        assert_eq!(config.portability, Policy::Ignore);
        assert_eq!(config.schemas.sigma, [LogSchema::Sysmon]);
        assert_eq!(config.schemas.kql.len(), 3);
        assert!(config.coverage.require_positive_and_negative);
        assert_eq!(config.placeholders["admins"], ["CORP\\admin"]);
    }

    #[test]
    fn watchlists_resolve_against_the_file() {
        let text = "watchlists:\n  hosts: { file: data/hosts.jsonl, search_key: Host }\n";
        let config = Config::parse(text, "firedrill.yaml", Path::new("/r")).unwrap();
        let w = &config.watchlists["hosts"];
        assert_eq!(w.file, PathBuf::from("/r/data/hosts.jsonl"));
        assert_eq!(w.search_key.as_deref(), Some("Host"));
    }

    #[test]
    fn unknown_keys_are_located_with_a_suggestion() {
        let errors = Config::parse("seed: 1\nscenaros: [s]\n", "firedrill.yaml", Path::new("."))
            .unwrap_err();
        let d = &errors[0];
        assert_eq!(d.code, "CFG0002");
        assert!(
            d.message.starts_with("unknown field `scenaros`"),
            "{}",
            d.message
        );
        assert_eq!(d.location.as_ref().map(|l| l.line), Some(2));
        assert_eq!(d.help.as_deref(), Some("did you mean `scenarios`?"));
    }

    #[test]
    fn bad_values_are_diagnostics() {
        let errors =
            Config::parse("unexpected: sometimes\n", "f.yaml", Path::new(".")).unwrap_err();
        assert_eq!(errors[0].code, "CFG0002");
        assert!(
            errors[0].message.contains("sometimes"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn discovery_stops_at_the_project_root() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("rules/sub")).unwrap();
        std::fs::write(repo.join("Cargo.toml"), "").unwrap();
        let config = Config::discover(&repo.join("rules/sub")).unwrap();
        assert_eq!(config.root, repo);
        assert_eq!(config.file, None);
        std::fs::write(repo.join(FILE_NAME), "scenarios: [drills]\n").unwrap();
        let config = Config::discover(&repo.join("rules/sub")).unwrap();
        assert_eq!(config.scenarios, [repo.join("drills")]);
        assert_eq!(
            config.display_path(&repo.join("drills/a.yaml")),
            "drills/a.yaml"
        );
    }
}
