//! Tabular data with row provenance: the input and output of every KQL operator.
//!
//! Each [`Row`] carries the [`EventRef`]s of the input events that produced it: a scanned row
//! its own event, a summarized row every event of its group, a joined row both sides' events.
//! The harness uses them to check `fires_on: [node]` even for queries that summarize.

use super::schema::Column;
use super::value::Value;
use serde::Serialize;
use std::sync::Arc;

/// One input event: the table it was bound to and its 0-based position in the slice given to
/// [`crate::kql::Database::bind`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EventRef {
    /// The bound table's name.
    pub table: Arc<str>,
    /// The event's index in the bound slice.
    pub index: usize,
}

/// One row: values in column order and the events it came from (sorted, without duplicates).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The cells, one per column.
    pub values: Vec<Value>,
    /// The input events that produced this row.
    pub sources: Vec<EventRef>,
}

impl Row {
    /// A row with no provenance (literals: `datatable`, `print`, `range`).
    pub fn literal(values: Vec<Value>) -> Row {
        Row {
            values,
            sources: Vec::new(),
        }
    }
}

/// A table: typed columns and rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// The columns in order.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Row>,
    /// The schema depends on the data (`bag_unpack` without a declared schema, `pivot`,
    /// `_GetWatchlist`): as in Kusto, any column name resolves; one the data did not produce
    /// reads as null. Operators over an open table give an open table.
    pub open: bool,
    /// The rows are in an order window functions (`prev`, `row_number`, ...) may rely on: the
    /// output of `sort`, `top`, `range`, `getschema` or `serialize`, kept by the operators that
    /// keep row order ([`crate::kql`]'s evaluator sets it per operator).
    pub serialized: bool,
}

impl Table {
    /// An empty table with `columns`.
    pub fn empty(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            open: false,
            serialized: false,
        }
    }

    /// The index of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The distinct input events behind all rows, sorted.
    pub fn sources(&self) -> Vec<EventRef> {
        let mut all: Vec<EventRef> = self
            .rows
            .iter()
            .flat_map(|r| r.sources.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The table as `{"columns":[{"name","type"}...],"rows":[[...],...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "columns": self.columns,
            "rows": self.rows.iter().map(|r| r.values.iter().map(Value::to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        })
    }
}

/// Merges provenance lists, keeping them sorted and free of duplicates.
pub fn merge_sources(into: &mut Vec<EventRef>, more: &[EventRef]) {
    if more.is_empty() {
        return;
    }
    into.extend_from_slice(more);
    into.sort();
    into.dedup();
}
