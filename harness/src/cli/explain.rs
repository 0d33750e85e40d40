//! `firedrill explain`: why a Sigma rule did or did not match one event, condition by condition, field by field.

use super::Exit;
use crate::event::{Event, LogSchema};
use crate::sigma::{Engine, RuleKind, RuleSet};
use std::path::PathBuf;

/// Arguments of `firedrill explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rule file (every detection rule in it is explained, unless `--id` picks one).
    #[arg(long)]
    pub rule: PathBuf,
    /// The event: a JSON object, or a file holding one (a JSON lines file: its first line).
    #[arg(long)]
    pub event: String,
    /// The event's schema; recognised from its fields when omitted.
    #[arg(long)]
    pub schema: Option<LogSchema>,
    /// Explain only the rule with this id or name.
    #[arg(long)]
    pub id: Option<String>,
    /// A placeholder value for `|expand`, as `NAME=VALUE`.
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    pub placeholders: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::lint::Format,
}

/// Reads the event argument: inline JSON or a file.
fn read_event(arg: &str, schema: Option<LogSchema>) -> Result<Event, String> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else {
        let text = std::fs::read(arg).map_err(|e| format!("cannot read `{arg}`: {e}"))?;
        let text = crate::encoding::decode(text)
            .map_err(|fault| format!("cannot read `{arg}`: {}", fault.message))?;
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(_) => text,
            Err(_) => text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string(),
        }
    };
    let mut event = crate::logs::json::parse_document(text.as_bytes(), &Default::default())
        .map_err(|e| format!("the event is not a JSON object: {e}"))?;
    if let Some(schema) = schema {
        event.schema = schema;
    }
    Ok(event)
}

/// Runs `firedrill explain`.
pub fn run(args: Args) -> Exit {
    let config = match super::lint::config(&args.placeholders) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return Exit::InputError;
        }
    };
    let event = match read_event(&args.event, args.schema) {
        Ok(e) => e,
        Err(e) => {
            errln!("error: {e}");
            return Exit::InputError;
        }
    };
    let (set, mut diagnostics) = RuleSet::load_paths(std::slice::from_ref(&args.rule));
    let (engine, more) = Engine::compile(&set, &config);
    diagnostics.extend(more);
    super::print_diagnostics(&diagnostics);
    let chosen: Vec<usize> = (0..set.rules.len())
        .filter(|&i| {
            let info = &engine.rules()[i];
            match &args.id {
                Some(id) => info.id.as_deref() == Some(id) || info.name.as_deref() == Some(id),
                None => info.kind == RuleKind::Detection,
            }
        })
        .collect();
    if chosen.is_empty() {
        errln!(
            "error: no matching detection rule loaded from `{}`",
            args.rule.display()
        );
        return Exit::InputError;
    }
    let mut json = Vec::new();
    for i in chosen {
        let info = &engine.rules()[i];
        let trace = engine.explain(i, &event);
        match args.format {
            super::lint::Format::Text => {
                outln!(
                    "{}: {} on this {} event",
                    info.title,
                    if trace.result { "MATCH" } else { "no match" },
                    event.schema
                );
                out!("{}", trace.render());
            }
            super::lint::Format::Json => json.push(serde_json::json!({
                "rule_id": info.id,
                "rule_title": info.title,
                "matched": trace.result,
                "trace": trace,
            })),
        }
    }
    if args.format == super::lint::Format::Json {
        outln!(
            "{}",
            serde_json::json!({"format_version": 1, "explanations": json})
        );
    }
    Exit::Success
}
