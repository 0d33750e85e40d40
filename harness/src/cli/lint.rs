//! `firedrill lint`: load and compile every rule under the given paths (Sigma YAML, KQL files and
//! Sentinel rule YAML), reporting every problem; with `--target`, also whether each Sigma rule
//! converts for Defender or Sentinel ASIM tables as Sigma's Kusto backend converts it.

use super::Exit;
use crate::event::{Event, LogSchema};
use crate::sigma::{Config, Engine, RuleKind, RuleSet};
use std::path::PathBuf;

/// Arguments of `firedrill lint`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule files or directories (walked for `.yml`, `.yaml`, `.kql`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// A placeholder value for `|expand`, as `NAME=VALUE` (repeatable; values accumulate).
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    pub placeholders: Vec<String>,
    /// Also check that every Sigma rule for the target's events converts as
    /// pySigma-backend-kusto's pipeline for it converts (repeatable): a rule the pipeline refuses
    /// (a field the table has no column for) fails, with `SIG0070`.
    #[arg(long = "target", value_enum)]
    pub targets: Vec<Target>,
}

/// Tables Sigma rules are converted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Defender XDR `DeviceProcessEvents` (the `microsoft_xdr` pipeline).
    Defender,
    /// Microsoft Sentinel ASIM `imProcessCreate` (the `sentinel_asim` pipeline).
    Asim,
}

impl Target {
    /// The schema of the target's events.
    fn schema(self) -> LogSchema {
        match self {
            Target::Defender => LogSchema::Mde,
            Target::Asim => LogSchema::Asim,
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Diagnostics for people.
    Text,
    /// `{"format_version":1,"rules":N,"loaded":N,"failed":[{"path","error"}]}`.
    Json,
}

/// Builds the engine configuration from `NAME=VALUE` placeholder arguments.
pub fn config(placeholders: &[String]) -> Result<Config, String> {
    let mut config = Config::default();
    for p in placeholders {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| format!("placeholder `{p}` is not NAME=VALUE"))?;
        config
            .placeholders
            .entry(name.trim_matches('%').to_string())
            .or_default()
            .push(value.to_string());
    }
    Ok(config)
}

/// Runs `firedrill lint`.
pub fn run(args: Args) -> Exit {
    let config = match config(&args.placeholders) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return Exit::InputError;
        }
    };
    for path in &args.paths {
        if !path.exists() {
            errln!("error: `{}` does not exist", path.display());
            return Exit::InputError;
        }
    }
    // Sentinel rule YAML and `.kql` files are KQL; every other YAML file is Sigma.
    let (files, _) = crate::run::rules::rule_files(&args.paths);
    let (kql_files, sigma_files): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|path| {
            let text = crate::encoding::read_or_empty(path);
            crate::run::rules::language_of(path, &text) == Some(crate::report::Language::Kql)
        });
    let (set, mut diagnostics) = RuleSet::load_paths(&sigma_files);
    let (engine, compile_diags) = Engine::compile(&set, &config);
    diagnostics.extend(compile_diags);
    let mut failed: Vec<(String, String)> = set
        .failed
        .iter()
        .map(|(path, d)| (path.clone(), format!("{}: {}", d.code, d.message)))
        .collect();
    for (rule, info) in set.rules.iter().zip(engine.rules()) {
        if !info.usable {
            let error = diagnostics
                .iter()
                .find(|d| d.is_error() && d.file.as_deref() == Some(rule.path.as_str()))
                .map_or("the rule failed to compile".to_string(), |d| {
                    format!("{}: {}", d.code, d.message)
                });
            failed.push((rule.path.clone(), error));
        }
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let run_config = crate::run::config::Config::defaults(&cwd);
    for path in &kql_files {
        let rule = crate::run::engines::kql_rule(path, &path.display().to_string(), &run_config);
        if let Some(error) = rule.info.diagnostics.iter().find(|d| d.is_error()) {
            failed.push((
                rule.info.path.clone(),
                format!("{}: {}", error.code, error.message),
            ));
        }
        diagnostics.extend(rule.info.diagnostics);
    }
    // Rules refused for some target (counted once, however many refuse them).
    let failed_to_load = failed.len();
    let mut refused = std::collections::BTreeSet::new();
    for target in &args.targets {
        let Some(class) = engine.class_of(&Event::new(target.schema())) else {
            continue;
        };
        for (index, info) in engine.rules().iter().enumerate() {
            if !info.usable || info.kind != RuleKind::Detection {
                continue;
            }
            if let Some(refusal) = engine.unconverted(index, class) {
                refused.insert(index);
                failed.push((
                    info.path.clone(),
                    format!("{}: {}", refusal.code, refusal.message),
                ));
                diagnostics.push(refusal.clone());
            }
        }
    }
    let total = set.rules.len() + set.failed.len() + kql_files.len();
    let failed_rules = failed_to_load + refused.len();
    let loaded = total - failed_rules;
    match args.format {
        Format::Json => {
            let json = serde_json::json!({
                "format_version": 1,
                "rules": total,
                "loaded": loaded,
                "failed": failed
                    .iter()
                    .map(|(path, error)| serde_json::json!({"path": path, "error": error}))
                    .collect::<Vec<_>>(),
                "warnings": diagnostics.iter().filter(|d| !d.is_error()).count(),
            });
            outln!("{json}");
        }
        Format::Text => {
            super::print_diagnostics(&diagnostics);
            outln!(
                "{total} rules: {loaded} loaded and compiled, {failed_rules} failed, {} warnings",
                diagnostics.iter().filter(|d| !d.is_error()).count()
            );
        }
    }
    if failed.is_empty() {
        Exit::Success
    } else {
        Exit::CheckFailed
    }
}
