//! Explanation traces: every node of an evaluated expression with its result and reason.

use super::{Case, Cmp, Op, RefMode, Target};
use serde::Serialize;

/// What kind of node a trace line describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    /// A constant.
    Const,
    /// A conjunction.
    And,
    /// A disjunction.
    Or,
    /// A negation.
    Not,
    /// A named node: a selection, `1 of x*`, a filter rule, a rule.
    Group,
    /// A field comparison.
    Cmp,
}

/// One evaluated node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    /// The kind of node.
    pub kind: TraceKind,
    /// What the node is (`selection filter_main_cmd`, `Image|endswith '\cmd.exe'`).
    pub label: String,
    /// Whether it held.
    pub result: bool,
    /// Why, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The operands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Trace>,
}

impl Trace {
    /// A node without children.
    pub fn leaf(kind: TraceKind, label: String, result: bool, reason: Option<String>) -> Trace {
        Trace::node(kind, label, result, reason, Vec::new())
    }

    /// A node with children.
    pub fn node(
        kind: TraceKind,
        label: String,
        result: bool,
        reason: Option<String>,
        children: Vec<Trace>,
    ) -> Trace {
        Trace {
            kind,
            label,
            result,
            reason,
            children,
        }
    }

    /// Renders the trace as an indented tree, one node a line:
    ///
    /// ```text
    /// ✗ rule `Suspicious ArcSOC.exe Child Process`
    ///   ✗ and: 1 of 2 operands false
    ///     ✓ selection `selection`
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0);
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(if self.result { "✓ " } else { "✗ " });
        out.push_str(&self.label);
        if let Some(reason) = &self.reason {
            out.push_str(": ");
            out.push_str(reason);
        }
        out.push('\n');
        for child in &self.children {
            child.render_into(out, depth + 1);
        }
    }

    /// The first node (depth first) whose label equals `label`.
    pub fn find(&self, label: &str) -> Option<&Trace> {
        if self.label == label {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label))
    }
}

/// A comparison in a Sigma-like notation: `Image|endswith '\cmd.exe'`.
pub fn describe(cmp: &Cmp) -> String {
    let field = match &cmp.target {
        Target::Field(name) => name.clone(),
        Target::Any => "<keyword>".to_string(),
    };
    let cased = if cmp.case == Case::Sensitive && text_op(&cmp.op) {
        "|cased"
    } else {
        ""
    };
    let (op, value) = match &cmp.op {
        Op::Equals(s) => ("", format!("'{s}'")),
        Op::Contains(s) => ("|contains", format!("'{s}'")),
        Op::StartsWith(s) => ("|startswith", format!("'{s}'")),
        Op::EndsWith(s) => ("|endswith", format!("'{s}'")),
        Op::TermHas(s) => ("|has", format!("'{s}'")),
        Op::Glob(g) => ("", format!("'{}'", g.to_pattern())),
        Op::Regex(r) => ("|re", format!("'{r}'")),
        Op::Cidr(net) => ("|cidr", net.to_string()),
        Op::Num(op, n) => ("", format!("{} {n}", op.symbol())),
        Op::Exists(b) => ("|exists", b.to_string()),
        Op::Null => ("", "null".to_string()),
        Op::FieldRef(other, mode) => (
            match mode {
                RefMode::Equals => "|fieldref",
                RefMode::Contains => "|contains|fieldref",
                RefMode::StartsWith => "|startswith|fieldref",
                RefMode::EndsWith => "|endswith|fieldref",
            },
            other.clone(),
        ),
        Op::Time(part, op, n) => ("", format!("{part:?} {} {n}", op.symbol())),
        Op::Never(_) => ("", "<never>".to_string()),
    };
    format!("{field}{op}{cased} {value}")
}

fn text_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Equals(_) | Op::Contains(_) | Op::StartsWith(_) | Op::EndsWith(_) | Op::Glob(_)
    )
}
