//! A Sigma engine: rule model, condition parser, modifiers, pipelines and correlations.
//!
//! Rules flow `text → RuleSet (rule::Rule) → lower::lower_detection (per pipeline) → expr::Expr
//! → Engine (compiled nodes + prefilter per routing class) → Match`. Loading and compiling
//! collect diagnostics per rule; one bad rule never stops the others.
//!
//! ```
//! use firedrill::sigma::{Config, Engine, RuleSet};
//! use firedrill::{Event, LogSchema};
//!
//! let mut set = RuleSet::new();
//! let diagnostics = set.add_source("whoami.yml", "title: Whoami\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  selection:\n    Image|endswith: '\\whoami.exe'\n  condition: selection\n");
//! assert!(diagnostics.is_empty());
//! let (engine, _) = Engine::compile(&set, &Config::default());
//! let event = Event::new(LogSchema::Sysmon).with("Image", "C:\\Windows\\System32\\whoami.exe");
//! assert_eq!(engine.evaluate(&[event]).len(), 1);
//! ```

/// The rule folders of a SigmaHQ repository checkout, the corpus every rule of which loads.
pub const SIGMAHQ_RULE_DIRS: [&str; 5] = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-compliance",
    "rules-placeholder",
];

mod cache;
pub mod condition;
pub mod correlation;
pub mod engine;
pub mod logsource;
pub mod lower;
pub mod modifier;
mod needles;
pub mod pipeline;
mod prefilter;
pub mod rule;

pub use engine::{Engine, Match, RuleInfo, RuleKind, Session, Stream};
pub use logsource::{Class, Router};
pub use lower::Config;
pub use modifier::{Modifier, SUPPORTED};
pub use pipeline::{Pipeline, PipelineId};
pub use rule::{LogSource, Rule, RuleBody, RuleIndex, RuleSet};
