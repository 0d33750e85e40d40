//! A KQL lexer, parser and interpreter for the part of the language hunting queries use.
//!
//! Front end: [`lex`] turns text into tokens with spans, [`parse()`] builds an [`ast::Query`]
//! (every node spanned, `Display` round-trips), [`rule`] loads `.kql` files and Sentinel rule
//! YAML. `docs/kql-subset.md` is the reference for the supported language. Front-end
//! diagnostic codes are `KQL0001`–`KQL0099` (query text) and `KQL0100`–`KQL0149` (rule files).

pub mod ast;
pub mod bind;
pub mod eval;
pub mod explain;
pub mod func;
pub mod lex;
pub mod parse;
pub mod read;
pub mod rule;
pub mod schema;
pub mod script;
pub mod table;
pub mod value;

pub use bind::Database;
pub use eval::{Evaluation, evaluate, evaluate_full, run_text};
pub use schema::{Catalog, Column, TableSchema};
pub use script::{Parsed, Script, parse_text};
pub use table::{EventRef, Row, Table};
pub use value::{ScalarType, Value};

use crate::diag::Diagnostic;

/// Parses a query; diagnostics are located in the pseudo-file `<query>`.
///
/// The query is `Some` exactly when no diagnostic is an error.
pub fn parse(text: &str) -> (Option<ast::Query>, Vec<Diagnostic>) {
    parse::parse_named("<query>", text)
}

/// Parses a query whose diagnostics name `file`.
pub fn parse_named(file: &str, text: &str) -> (Option<ast::Query>, Vec<Diagnostic>) {
    parse::parse_named(file, text)
}

/// `docs/kql-subset.md`, the reference for the supported language (for `firedrill help kql`).
pub const SUBSET_REFERENCE: &str = include_str!("../../docs/kql-subset.md");
