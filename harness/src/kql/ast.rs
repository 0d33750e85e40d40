//! The KQL syntax tree: statements, tabular operators and scalar expressions, each with a span.
//!
//! Every node carries the byte [`Span`] of the text it was parsed from (into the query text
//! given to [`crate::kql::parse()`]); nodes the parser supplies itself (the default `string` type
//! of a `parse` column, the rows source of `mv-apply`) have an empty span. `Display` prints canonical KQL that parses back to the same
//! tree (spans aside): `parse(q.to_string()) == q`. Canonical form: one statement per line,
//! operators joined with ` | `, `filter` printed as `where`, `order` as `sort`, `limit` as
//! `take`, `mvexpand` as `mv-expand`, strings double-quoted with escapes.
//!
//! Shape (stable; additions are announced in commit messages and ARCHITECTURE.md):
//! `Query { statements }` → [`Statement`] (`Let`, `Tabular`, `Scalar`) → [`TabularExpr`]
//! `{ source, ops }` → [`Operator`] → [`Expr`] `{ kind: ExprKind, span }`.

use crate::diag::Span;
use serde::Serialize;
use std::fmt;

/// A whole query: statements separated by `;`. The last tabular statement is the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Query {
    /// The statements in source order.
    pub statements: Vec<Statement>,
    /// The whole query text.
    pub span: Span,
}

/// A name: a column, table, function, `let` binding or parameter. `$left`/`$right` keep the `$`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ident {
    /// The name as written, without brackets or quotes (`['a b']` is `a b`).
    pub name: String,
    /// Where it was written (including brackets).
    pub span: Span,
}

impl Ident {
    /// An identifier with `name` at `span`.
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        Ident {
            name: name.into(),
            span,
        }
    }
}

/// One `;`-separated statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Statement {
    /// What it is.
    pub kind: StatementKind,
    /// The statement text, without the `;`.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StatementKind {
    /// `let name = value`
    Let {
        /// The bound name.
        name: Ident,
        /// What it is bound to.
        value: LetValue,
    },
    /// A tabular expression: a top-level query or the result of a function body. A bare name or
    /// call with no operators (`T`, `f(1)`) is parsed as tabular at top level; resolution decides.
    Tabular(TabularExpr),
    /// A scalar expression that ends a function body: `let f = (x:string) { strcat(x, "a") };`.
    /// A bare name or call without `|` in a function body is parsed as `Scalar`; resolution decides.
    Scalar(Expr),
    /// `declare query_parameters(name: type [= default], ...)` (the query parameters
    /// declaration statement page).
    DeclareParameters(Vec<Param>),
    /// `set OptionName [= OptionValue]`: a request property (the set statement page).
    Set {
        /// The property's name.
        name: Ident,
        /// Its value, when one is given.
        value: Option<Expr>,
    },
}

/// The right-hand side of `let`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "a handful per query; plain variants keep matching simple"
)]
pub enum LetValue {
    /// `let x = 5;`, `let l = dynamic(["a"]);`, `let t = SomeTable;` (a bare name or call without
    /// `|` may be a table: resolution decides).
    Scalar(Expr),
    /// `let t = T | where ...;`, `let t = datatable(...)[...];`, `let t = materialize(T | ...);`
    /// is `Scalar(Call)` with a `Subquery` argument.
    Tabular(TabularExpr),
    /// `let f = (a:string, b:int = 5) { ... };`
    Function(FunctionDef),
}

/// A user-defined function: parameters and a body of statements, the last one its result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionDef {
    /// The declared parameters.
    pub params: Vec<Param>,
    /// The body statements; the last is `Tabular` or `Scalar` and gives the result.
    pub body: Vec<Statement>,
    /// From `(` to the closing `}`.
    pub span: Span,
}

/// A function parameter: `name: type [= default]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    /// The parameter name.
    pub name: Ident,
    /// Its declared type.
    pub ty: ParamType,
    /// A default value for optional scalar parameters.
    pub default: Option<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// A parameter's declared type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ParamType {
    /// A scalar type name such as `string`, `datetime`, `dynamic`.
    Scalar(Ident),
    /// A tabular parameter: `T:(*)` is an empty column list with `any: true`;
    /// `T:(a:string, *)` lists required columns.
    Tabular {
        /// Required columns and their types.
        columns: Vec<ColumnDecl>,
        /// True when `*` allows further columns.
        any: bool,
    },
}

/// A column declaration `name: type` (datatable, externaldata, tabular parameters, parse).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnDecl {
    /// The column name.
    pub name: Ident,
    /// The type name (`string`, `long`, `int`, `real`, `bool`, `datetime`, `timespan`,
    /// `dynamic`, `guid`, `decimal`).
    pub ty: Ident,
}

/// A tabular expression: a source followed by `|`-separated operators.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TabularExpr {
    /// Where the rows come from.
    pub source: Source,
    /// The operators applied in order.
    pub ops: Vec<Operator>,
    /// The whole expression.
    pub span: Span,
}

/// The start of a tabular expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    /// What it is.
    pub kind: SourceKind,
    /// Its text.
    pub span: Span,
}

/// The kinds of tabular source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum SourceKind {
    /// A table or `let` name (`T`, `['My Table']`), a function call (`imProcessCreate(starttime=ago(1d))`,
    /// `materialize(T | ...)`, `table("T")`), a wildcard pattern in `union` (`Device*`), or a
    /// parenthesized subquery (`(T | where x)` as `Expr` `Paren(Subquery)`).
    Expr(Expr),
    /// `datatable(a:string, b:long) ["x", 1, "y", 2]`: values in row-major order.
    Datatable {
        /// The declared columns.
        columns: Vec<ColumnDecl>,
        /// The cells, row after row.
        values: Vec<Expr>,
    },
    /// `externaldata(a:string) ["https://..."] with (format="csv")`: parsed, not fetched.
    ExternalData {
        /// The declared columns.
        columns: Vec<ColumnDecl>,
        /// The storage URIs.
        uris: Vec<Expr>,
        /// The `with (...)` properties.
        props: Vec<OpParam>,
    },
    /// `union [params] T1, T2` at the start of a tabular expression.
    Union(Union),
    /// `range x from 1 to 10 step 1`
    Range {
        /// The generated column.
        column: Ident,
        /// First value.
        from: Expr,
        /// Last value (inclusive).
        to: Expr,
        /// The step.
        step: Expr,
    },
    /// `print x = 1, 2`
    Print(Vec<ColumnExpr>),
    /// `search [kind=case_sensitive] [in (T1, T2)] predicate` at the start.
    Search(Search),
    /// `find [withsource=C] [in (T1, T2)] where predicate [project-smart | project a, b:type, pack_all()]`.
    Find(Find),
}

/// `find` parameters, tables, predicate and output columns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Find {
    /// `withsource=Column`.
    pub params: Vec<OpParam>,
    /// `in (T1, T2)` tables, empty when absent (every table of the database).
    pub tables: Vec<TabularExpr>,
    /// The predicate: a string literal searches every column; `Col: "x"` is `Binary(Has)`.
    pub predicate: Expr,
    /// `project ...`; `None` for `project-smart`, written or not.
    pub project: Option<FindProject>,
}

/// The `project` clause of `find`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindProject {
    /// The columns, each with an optional type (`Col:string`).
    pub columns: Vec<FindColumn>,
    /// `pack_all()` was listed: the other columns go into the `pack_` property bag.
    pub pack_all: bool,
}

/// One `project` column of `find`: `Name` or `Name:type`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindColumn {
    /// The column name.
    pub name: Ident,
    /// The result type, when given.
    pub ty: Option<Ident>,
}

/// `union` operands and parameters (used both as a source and as an operator).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Union {
    /// `kind=inner|outer`, `withsource=Col`, `isfuzzy=true`, `hint.*`.
    pub params: Vec<OpParam>,
    /// The tables, each a name, wildcard, call or parenthesized subquery (`SourceKind::Expr`).
    pub tables: Vec<TabularExpr>,
}

/// `search` parameters and predicate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Search {
    /// `kind=case_sensitive|case_insensitive`.
    pub params: Vec<OpParam>,
    /// `in (T1, T2)` tables, empty when absent.
    pub tables: Vec<TabularExpr>,
    /// The predicate: a string literal searches every column; `Col: "x"` is `Binary(Has)`.
    pub predicate: Expr,
}

/// A named operator parameter: `kind=inner`, `hint.strategy=broadcast`, `withsource=Table`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpParam {
    /// The parameter name, dotted names included (`hint.strategy`).
    pub name: Ident,
    /// Its value: usually a `Name` (`inner`) or a literal (`true`, `"csv"`).
    pub value: Expr,
    /// The whole `name=value`.
    pub span: Span,
}

/// One `| operator ...` in a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operator {
    /// What it does.
    pub kind: OperatorKind,
    /// From the operator keyword to its last token (without the `|`).
    pub span: Span,
}

/// `[Name =] expr`, or `(A, B) = expr` for functions returning several columns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnExpr {
    /// The assigned names: empty when none was given (the engine derives one), one for
    /// `Name = expr`, several for `(A, B) = arg_max(...)`.
    pub names: Vec<Ident>,
    /// The value.
    pub expr: Expr,
    /// The whole item.
    pub span: Span,
}

/// One `top-nested` clause (the top-nested operator page).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopNestedClause {
    /// How many values this level keeps (`None`: all).
    pub count: Option<Expr>,
    /// The value this level partitions by, optionally named.
    pub of: ColumnExpr,
    /// `with others = C`: the value of the record that aggregates the rest.
    pub others: Option<Expr>,
    /// The aggregation that ranks the values, optionally named.
    pub by: ColumnExpr,
    /// `desc` (the default) keeps the largest.
    pub order: SortOrder,
    /// The clause, from its count (or `of`) to its order.
    pub span: Span,
}

/// A sort key: `expr [asc|desc] [nulls first|last]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SortKey {
    /// What to sort by.
    pub expr: Expr,
    /// Explicit direction; `None` means the operator's default (descending for sort and top).
    pub order: Option<SortOrder>,
    /// Explicit null placement; `None` means the default for the direction.
    pub nulls: Option<NullsPlacement>,
    /// The whole key.
    pub span: Span,
}

/// `asc` or `desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SortOrder {
    /// `asc`
    Asc,
    /// `desc`
    Desc,
}

/// `nulls first` or `nulls last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NullsPlacement {
    /// `nulls first`
    First,
    /// `nulls last`
    Last,
}

/// An item of `mv-expand`: `[Name =] expr [to typeof(type)]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MvExpandItem {
    /// The column or expression to expand.
    pub column: ColumnExpr,
    /// The `to typeof(...)` type name.
    pub to_type: Option<Ident>,
}

/// One element of a `parse` pattern.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ParsePart {
    /// A string literal to match.
    Literal(String),
    /// A column to extract, with an optional `: type`.
    Column(ColumnDecl),
    /// `*`: skip anything.
    Star,
}

/// The tabular operators.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum OperatorKind {
    /// `where predicate` (also `filter`).
    Where(Expr),
    /// `extend [Name =] expr, ...`
    Extend(Vec<ColumnExpr>),
    /// `project [Name =] expr, ...`
    Project(Vec<ColumnExpr>),
    /// `project-away A, B*`: names or wildcard patterns (`ExprKind::Name` or `Wildcard`).
    ProjectAway(Vec<Expr>),
    /// `project-keep A, B*`
    ProjectKeep(Vec<Expr>),
    /// `project-rename New = Old, ...`: pairs of (new, old).
    ProjectRename(Vec<(Ident, Ident)>),
    /// `project-reorder A, B* [asc|desc|granny-asc|granny-desc]`
    ProjectReorder(Vec<(Expr, Option<Ident>)>),
    /// `summarize [params] aggregates [by groups]`
    Summarize {
        /// `hint.shufflekey=...` and friends.
        params: Vec<OpParam>,
        /// The aggregate columns (calls such as `count()`, `arg_max(T, *)`).
        aggregates: Vec<ColumnExpr>,
        /// The group-by columns (`by A, bin(Timestamp, 1h)`); empty without `by`.
        by: Vec<ColumnExpr>,
    },
    /// `distinct A, B`, `distinct Lower = tolower(A)`, or `distinct *` (one item whose expression
    /// is `Wildcard("*")`).
    Distinct(Vec<ColumnExpr>),
    /// `top-nested [N] of [Name =] Expr [with others = C] by [Name =] Aggregation [asc|desc], ...`
    TopNested(Vec<TopNestedClause>),
    /// `top N by expr [asc|desc] [nulls first|last]`
    Top {
        /// How many rows.
        count: Expr,
        /// The sort key.
        by: SortKey,
    },
    /// `sort by ...` (also `order by ...`).
    Sort(Vec<SortKey>),
    /// `take N` (also `limit N`).
    Take(Expr),
    /// `count`
    Count,
    /// `union [params] T1, T2` appended to the piped input.
    Union(Union),
    /// `join [kind=...] [hints] (Right) on keys`
    Join {
        /// `kind=inner|innerunique|leftouter|rightouter|fullouter|leftanti|rightanti|leftsemi|rightsemi|anti|leftantisemi|...`, `hint.*`.
        params: Vec<OpParam>,
        /// The right side.
        right: TabularExpr,
        /// The keys: `Name` (same column both sides) or `$left.a == $right.b` (`Binary`),
        /// possibly combined with `and`.
        on: Vec<Expr>,
    },
    /// `lookup [kind=leftouter|inner] (Right) on keys`
    Lookup {
        /// `kind=...`
        params: Vec<OpParam>,
        /// The dimension table.
        right: TabularExpr,
        /// The keys, as for `join`.
        on: Vec<Expr>,
    },
    /// `mv-expand [params] items [limit N]` (also `mvexpand`).
    MvExpand {
        /// `bagexpansion=...`, `with_itemindex=Name`, `kind=...`
        params: Vec<OpParam>,
        /// The columns to expand.
        items: Vec<MvExpandItem>,
        /// `limit N`
        limit: Option<Expr>,
    },
    /// `parse [kind=regex|simple|relaxed [flags=...]] expr with pattern` (also `parse-where`).
    Parse {
        /// True for `parse-where` (rows that do not match are dropped).
        drop_unmatched: bool,
        /// `kind=...`, `flags=...`
        params: Vec<OpParam>,
        /// The string to parse.
        expr: Expr,
        /// The pattern.
        pattern: Vec<ParsePart>,
    },
    /// `evaluate [params] plugin(args) [: (Col:type, ...)]`
    Evaluate {
        /// `hint.*`
        params: Vec<OpParam>,
        /// The plugin call.
        call: Expr,
        /// The declared output schema (`evaluate bag_unpack(b) : (a:string, n:long)`), always
        /// `ParamType::Tabular` with `any: false` when present.
        output: Option<ParamType>,
    },
    /// `invoke function(args)`: the piped table is the function's first argument.
    Invoke(Expr),
    /// `as [params] Name`
    As {
        /// `hint.materialized=true`
        params: Vec<OpParam>,
        /// The name bound to the rows.
        name: Ident,
    },
    /// `serialize [Name = expr, ...]`
    Serialize(Vec<ColumnExpr>),
    /// `sample N`
    Sample(Expr),
    /// `getschema`
    Getschema,
    /// `render chart [with (...)]`: only affects display.
    Render {
        /// The visualization (`timechart`, `table`, ...).
        chart: Ident,
        /// `with (title="...")`
        props: Vec<OpParam>,
    },
    /// `search [params] predicate` applied to the piped input.
    Search(Search),
    /// `make-series [params] aggregates on Axis [from a] [to b] step s [by groups]`
    MakeSeries {
        /// `kind=nonempty`, `hint.*`
        params: Vec<OpParam>,
        /// `[Name =] agg(...) [default = value]`
        aggregates: Vec<(ColumnExpr, Option<Expr>)>,
        /// The axis column.
        on: Expr,
        /// `from start`
        from: Option<Expr>,
        /// `to end`
        to: Option<Expr>,
        /// `step size`
        step: Expr,
        /// Group-by columns.
        by: Vec<ColumnExpr>,
    },
    /// `mv-apply [params] items on (subquery)`
    MvApply {
        /// `with_itemindex=Name` and friends.
        params: Vec<OpParam>,
        /// The columns to apply over.
        items: Vec<MvExpandItem>,
        /// The subquery applied to each row's expansion (its source is `Expr(Name("$rows"))`).
        subquery: TabularExpr,
    },
}

/// A scalar expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its text.
    pub span: Span,
}

/// Drops a chain of binary operators (`a or b or ...`) one link at a time:
/// the derived drop would recurse once per operator, and a converted Sigma rule can chain
/// thousands.
impl Drop for Expr {
    fn drop(&mut self) {
        let mut links = Vec::new();
        if let ExprKind::Binary { lhs, rhs, .. } = &mut self.kind {
            links.push(std::mem::replace(&mut **lhs, Expr::placeholder()));
            links.push(std::mem::replace(&mut **rhs, Expr::placeholder()));
        }
        while let Some(mut link) = links.pop() {
            if let ExprKind::Binary { lhs, rhs, .. } = &mut link.kind {
                links.push(std::mem::replace(&mut **lhs, Expr::placeholder()));
                links.push(std::mem::replace(&mut **rhs, Expr::placeholder()));
            }
        }
    }
}

impl Expr {
    /// What a link's operands are swapped for when a chain is dropped.
    fn placeholder() -> Expr {
        Expr {
            kind: ExprKind::Literal(Literal::Bool(false)),
            span: Span::default(),
        }
    }

    /// The operands of the chain of `op` this expression heads (`a or b or c`, however nested;
    /// parentheses end it), left to right, found without recursion: a converted Sigma rule can
    /// chain thousands.
    pub fn operands(&self, op: BinOp) -> Vec<&Expr> {
        let mut operands = Vec::new();
        let mut pending = vec![self];
        while let Some(x) = pending.pop() {
            match &x.kind {
                ExprKind::Binary { op: o, lhs, rhs } if *o == op => {
                    pending.push(rhs);
                    pending.push(lhs);
                }
                _ => operands.push(x),
            }
        }
        operands
    }

    /// The left-deep chain `a op b op c ...` of `operands` (the parser's shape), built without
    /// recursion; `None` when there are none.
    pub fn chain(op: BinOp, operands: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        operands.into_iter().reduce(|lhs, rhs| {
            let span = lhs.span.to(rhs.span);
            Expr::new(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            )
        })
    }

    /// How deeply the expression nests, found without recursion: one level per operator,
    /// call, parenthesis, member or index, except that a chain of `and` or `or`, which every
    /// stage walks without recursion whatever its length, is one level. Subqueries are not
    /// entered (their expressions are measured on their own).
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut pending = vec![(self, 1)];
        while let Some((x, depth)) = pending.pop() {
            deepest = deepest.max(depth);
            let below = depth + 1;
            match &x.kind {
                ExprKind::Binary {
                    op: op @ (BinOp::And | BinOp::Or),
                    ..
                } => pending.extend(x.operands(*op).into_iter().map(|o| (o, below))),
                ExprKind::Binary { lhs, rhs, .. } => {
                    pending.extend([(&**lhs, below), (&**rhs, below)]);
                }
                ExprKind::Unary { expr, .. }
                | ExprKind::Paren(expr)
                | ExprKind::Member { expr, .. } => pending.push((expr, below)),
                ExprKind::Index { expr, index } => {
                    pending.extend([(&**expr, below), (&**index, below)]);
                }
                ExprKind::List { lhs, items, .. } => {
                    pending.push((lhs, below));
                    pending.extend(items.iter().map(|i| (i, below)));
                }
                ExprKind::Between { lhs, low, high, .. } => {
                    pending.extend([(&**lhs, below), (&**low, below), (&**high, below)]);
                }
                ExprKind::Call { args, .. } => {
                    pending.extend(args.iter().map(|a| (&a.value, below)));
                }
                ExprKind::Literal(_)
                | ExprKind::Name(_)
                | ExprKind::Wildcard(_)
                | ExprKind::Subquery(_) => {}
            }
        }
        deepest
    }

    /// An expression of `kind` at `span`.
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// Appends every name the expression reads (columns, `let` names, parameters), in order
    /// and with repeats; names inside subqueries are not included.
    pub fn names_read(&self, out: &mut Vec<String>) {
        match &self.kind {
            ExprKind::Name(id) => out.push(id.name.clone()),
            ExprKind::Binary { op, .. } => {
                for operand in self.operands(*op) {
                    operand.names_read(out);
                }
            }
            ExprKind::Unary { expr, .. }
            | ExprKind::Paren(expr)
            | ExprKind::Member { expr, .. } => expr.names_read(out),
            ExprKind::Index { expr, index } => {
                expr.names_read(out);
                index.names_read(out);
            }
            ExprKind::List { lhs, items, .. } => {
                lhs.names_read(out);
                items.iter().for_each(|i| i.names_read(out));
            }
            ExprKind::Between { lhs, low, high, .. } => {
                for x in [lhs, low, high] {
                    x.names_read(out);
                }
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.value.names_read(out)),
            _ => {}
        }
    }
}

/// The kinds of scalar expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    /// A literal value.
    Literal(Literal),
    /// A column, `let` name, parameter, or `$left`/`$right`.
    Name(Ident),
    /// A name pattern with `*` (`Device*`, `*`) in project-away, project-keep, project-reorder,
    /// distinct, union tables, and as a function argument (`count(*)`, `arg_max(T, *)`).
    Wildcard(String),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `-x`, `+x`
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `lhs in (a, b)`, `has_any (...)`, ...: the list may hold one `Subquery` or `Name` that
    /// resolves to a table or dynamic array.
    List {
        /// The operator.
        op: ListOp,
        /// The tested value.
        lhs: Box<Expr>,
        /// The operands inside the parentheses.
        items: Vec<Expr>,
    },
    /// `lhs between (low .. high)` or `!between`
    Between {
        /// True for `!between`.
        negated: bool,
        /// The tested value.
        lhs: Box<Expr>,
        /// Lower bound (inclusive).
        low: Box<Expr>,
        /// Upper bound (inclusive).
        high: Box<Expr>,
    },
    /// `f(a, name = b)`; `not(x)` is a call too.
    Call {
        /// The function name.
        name: Ident,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `a.b`
    Member {
        /// The object.
        expr: Box<Expr>,
        /// The member name.
        name: Ident,
    },
    /// `a[index]`: `a['b']`, `a[0]`, `a[-1]`
    Index {
        /// The object.
        expr: Box<Expr>,
        /// The index.
        index: Box<Expr>,
    },
    /// `(expr)`: kept so printing preserves the author's grouping.
    Paren(Box<Expr>),
    /// A tabular expression in scalar position: `x in (T | project y)`, `toscalar(T | count)`,
    /// `materialize(T | ...)`, or a parenthesized pipeline used as a table.
    Subquery(Box<TabularExpr>),
}

/// A function argument: positional or `name = value`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    /// The parameter name for named arguments (`starttime = ago(1d)`).
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
}

/// The string operators that take a flag for negation (`!`) and case sensitivity (`_cs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StrOp {
    /// `has`: whole terms.
    Has,
    /// `hasprefix`: a term starting with.
    HasPrefix,
    /// `hassuffix`: a term ending with.
    HasSuffix,
    /// `contains`: substring.
    Contains,
    /// `startswith`
    StartsWith,
    /// `endswith`
    EndsWith,
}

impl StrOp {
    /// The keyword without `!` or `_cs`.
    pub fn keyword(self) -> &'static str {
        match self {
            StrOp::Has => "has",
            StrOp::HasPrefix => "hasprefix",
            StrOp::HasSuffix => "hassuffix",
            StrOp::Contains => "contains",
            StrOp::StartsWith => "startswith",
            StrOp::EndsWith => "endswith",
        }
    }

    /// All string operators.
    pub const ALL: [StrOp; 6] = [
        StrOp::Has,
        StrOp::HasPrefix,
        StrOp::HasSuffix,
        StrOp::Contains,
        StrOp::StartsWith,
        StrOp::EndsWith,
    ];
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=` (also `<>`)
    Ne,
    /// `=~` (case-insensitive equality)
    EqCi,
    /// `!~`
    NeCi,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// A string operator: `has`, `!contains_cs`, ...
    Str {
        /// Which operator.
        op: StrOp,
        /// True for the `!` form.
        negated: bool,
        /// True for the `_cs` form.
        case_sensitive: bool,
    },
    /// `matches regex`
    MatchesRegex,
}

impl BinOp {
    /// Binding power: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq
            | BinOp::Ne
            | BinOp::EqCi
            | BinOp::NeCi
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Str { .. }
            | BinOp::MatchesRegex => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
        }
    }

    /// The operator as written in canonical KQL.
    pub fn symbol(self) -> String {
        match self {
            BinOp::Or => "or".into(),
            BinOp::And => "and".into(),
            BinOp::Eq => "==".into(),
            BinOp::Ne => "!=".into(),
            BinOp::EqCi => "=~".into(),
            BinOp::NeCi => "!~".into(),
            BinOp::Lt => "<".into(),
            BinOp::Le => "<=".into(),
            BinOp::Gt => ">".into(),
            BinOp::Ge => ">=".into(),
            BinOp::Add => "+".into(),
            BinOp::Sub => "-".into(),
            BinOp::Mul => "*".into(),
            BinOp::Div => "/".into(),
            BinOp::Mod => "%".into(),
            BinOp::Str {
                op,
                negated,
                case_sensitive,
            } => format!(
                "{}{}{}",
                if negated { "!" } else { "" },
                op.keyword(),
                if case_sensitive { "_cs" } else { "" }
            ),
            BinOp::MatchesRegex => "matches regex".into(),
        }
    }
}

/// Operators that take a parenthesized list on the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ListOp {
    /// `in` (case-sensitive)
    In,
    /// `!in`
    NotIn,
    /// `in~` (case-insensitive)
    InCi,
    /// `!in~`
    NotInCi,
    /// `has_any`
    HasAny,
    /// `has_all`
    HasAll,
}

impl ListOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            ListOp::In => "in",
            ListOp::NotIn => "!in",
            ListOp::InCi => "in~",
            ListOp::NotInCi => "!in~",
            ListOp::HasAny => "has_any",
            ListOp::HasAll => "has_all",
        }
    }
}

/// Literal values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Literal {
    /// `true`, `false`, `bool(true)`
    Bool(bool),
    /// `42`, `long(42)`, `0x2A`
    Long(i64),
    /// `int(42)`
    Int(i32),
    /// `1.5`, `1e3`, `real(1.5)`, `double(1.5)`
    Real(f64),
    /// `decimal(1.5)`, as written
    Decimal(String),
    /// A string in any of its forms (`'..'`, `".."`, `@'..'`, `h'..'`, ` ```..``` `), decoded;
    /// adjacent literals are concatenated.
    String(String),
    /// `datetime(2024-01-01 10:00)`: the text between the parentheses, trimmed (the engine
    /// parses it).
    Datetime(String),
    /// `7d`, `1.5h`, `timespan(1.02:03:04)`, `time(00:10:00)`: in ticks of 100 ns.
    Timespan(i64),
    /// `guid(...)`: the text between the parentheses, trimmed.
    Guid(String),
    /// A typed null: `int(null)`, `datetime(null)`, `dynamic(null)` (type name kept).
    Null(String),
    /// `dynamic([...])`, `dynamic({...})`, `dynamic(5)`
    Dynamic(Dynamic),
}

/// The value inside `dynamic(...)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Dynamic {
    /// `null`
    Null,
    /// A scalar literal (never `Dynamic` or `Null`).
    Scalar(Box<Literal>),
    /// `[a, b]`
    Array(Vec<Dynamic>),
    /// `{"k": v}`; keys in source order.
    Object(Vec<(String, Dynamic)>),
}

// ---------------------------------------------------------------------------------------------
// Printing: canonical KQL.

/// Ticks (100 ns) per unit, largest first, with the canonical suffix.
pub const TIMESPAN_UNITS: [(&str, i64); 7] = [
    ("d", 864_000_000_000),
    ("h", 36_000_000_000),
    ("m", 600_000_000),
    ("s", 10_000_000),
    ("ms", 10_000),
    ("microsecond", 10),
    ("tick", 1),
];

/// Words that must be bracketed (`['and']`) when used as names, so printing round-trips.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "by",
    "on",
    "with",
    "in",
    "between",
    "has",
    "contains",
    "startswith",
    "endswith",
    "hasprefix",
    "hassuffix",
    "matches",
    "has_cs",
    "contains_cs",
    "startswith_cs",
    "endswith_cs",
    "hasprefix_cs",
    "hassuffix_cs",
    "has_any",
    "has_all",
    "true",
    "false",
    "asc",
    "desc",
    "nulls",
    "to",
    "from",
    "step",
    "let",
    "of",
    "limit",
    "typeof",
    "default",
    "datatable",
    "externaldata",
    "dynamic",
    "datetime",
    "timespan",
    "time",
    "guid",
    "int",
    "long",
    "real",
    "double",
    "bool",
    "decimal",
    "range",
    "print",
    "union",
    "search",
];

/// True when `name` can be printed without brackets.
pub fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = match chars.next() {
        Some(c) => c.is_ascii_alphabetic() || c == '_' || c == '$',
        None => false,
    };
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !RESERVED.contains(&name)
}

/// Writes `s` as a double-quoted KQL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats ticks as a canonical timespan literal (`7d`, `90m`, `-1s`, `15tick`).
pub fn format_timespan(ticks: i64) -> String {
    if ticks == 0 {
        return "0s".into();
    }
    for (suffix, per) in TIMESPAN_UNITS {
        if ticks % per == 0 {
            return format!("{}{suffix}", ticks / per);
        }
    }
    format!("{ticks}tick")
}

fn comma<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// ` with (a=b, ...)` when there are properties.
fn with_props(f: &mut fmt::Formatter<'_>, props: &[OpParam]) -> fmt::Result {
    if props.is_empty() {
        return Ok(());
    }
    f.write_str(" with (")?;
    comma(f, props)?;
    f.write_str(")")
}

fn params(f: &mut fmt::Formatter<'_>, params: &[OpParam]) -> fmt::Result {
    for p in params {
        write!(f, " {p}")?;
    }
    Ok(())
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_str(";\n")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_plain_name(&self.name) {
            f.write_str(&self.name)
        } else {
            write!(f, "[{}]", quote(&self.name))
        }
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StatementKind::Let { name, value } => write!(f, "let {name} = {value}"),
            StatementKind::Tabular(t) => write!(f, "{t}"),
            StatementKind::Scalar(e) => write!(f, "{e}"),
            StatementKind::DeclareParameters(params) => {
                let list: Vec<String> = params.iter().map(ToString::to_string).collect();
                write!(f, "declare query_parameters({})", list.join(", "))
            }
            StatementKind::Set { name, value: None } => write!(f, "set {name}"),
            StatementKind::Set {
                name,
                value: Some(v),
            } => write!(f, "set {name} = {v}"),
        }
    }
}

impl fmt::Display for LetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LetValue::Scalar(e) => write!(f, "{e}"),
            LetValue::Tabular(t) => write!(f, "{t}"),
            LetValue::Function(def) => write!(f, "{def}"),
        }
    }
}

impl fmt::Display for FunctionDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        comma(f, &self.params)?;
        f.write_str(") { ")?;
        for (i, s) in self.body.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{s}")?;
        }
        f.write_str(" }")
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.ty)?;
        if let Some(d) = &self.default {
            write!(f, " = {d}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Scalar(t) => f.write_str(&t.name),
            ParamType::Tabular { columns, any } => {
                f.write_str("(")?;
                comma(f, columns)?;
                if *any {
                    if !columns.is_empty() {
                        f.write_str(", ")?;
                    }
                    f.write_str("*")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for ColumnDecl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.ty.name)
    }
}

impl fmt::Display for TabularExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        for op in &self.ops {
            write!(f, " | {op}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SourceKind::Expr(e) => write!(f, "{e}"),
            SourceKind::Datatable { columns, values } => {
                f.write_str("datatable(")?;
                comma(f, columns)?;
                f.write_str(") [")?;
                comma(f, values)?;
                f.write_str("]")
            }
            SourceKind::ExternalData {
                columns,
                uris,
                props,
            } => {
                f.write_str("externaldata(")?;
                comma(f, columns)?;
                f.write_str(") [")?;
                comma(f, uris)?;
                f.write_str("]")?;
                with_props(f, props)
            }
            SourceKind::Union(u) => write!(f, "{u}"),
            SourceKind::Range {
                column,
                from,
                to,
                step,
            } => write!(f, "range {column} from {from} to {to} step {step}"),
            SourceKind::Print(items) => {
                f.write_str("print ")?;
                comma(f, items)
            }
            SourceKind::Search(s) => write!(f, "{s}"),
            SourceKind::Find(x) => write!(f, "{x}"),
        }
    }
}

impl fmt::Display for Union {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("union")?;
        params(f, &self.params)?;
        f.write_str(" ")?;
        comma(f, &self.tables)
    }
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("search")?;
        params(f, &self.params)?;
        if !self.tables.is_empty() {
            f.write_str(" in (")?;
            comma(f, &self.tables)?;
            f.write_str(")")?;
        }
        write!(f, " {}", self.predicate)
    }
}

impl fmt::Display for Find {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("find")?;
        params(f, &self.params)?;
        if !self.tables.is_empty() {
            f.write_str(" in (")?;
            comma(f, &self.tables)?;
            f.write_str(")")?;
        }
        write!(f, " where {}", self.predicate)?;
        if let Some(p) = &self.project {
            f.write_str(" project ")?;
            let mut items: Vec<String> = p
                .columns
                .iter()
                .map(|c| match &c.ty {
                    Some(ty) => format!("{}:{}", c.name, ty.name),
                    None => c.name.to_string(),
                })
                .collect();
            if p.pack_all {
                items.push("pack_all()".into());
            }
            f.write_str(&items.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for OpParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Dotted parameter names (`hint.strategy`) print as written.
        write!(f, "{}={}", self.name.name, self.value)
    }
}

impl fmt::Display for ColumnExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.names.as_slice() {
            [] => {}
            [one] => write!(f, "{one} = ")?,
            many => {
                f.write_str("(")?;
                comma(f, many)?;
                f.write_str(") = ")?;
            }
        }
        write!(f, "{}", self.expr)
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        match self.order {
            Some(SortOrder::Asc) => f.write_str(" asc")?,
            Some(SortOrder::Desc) => f.write_str(" desc")?,
            None => {}
        }
        match self.nulls {
            Some(NullsPlacement::First) => f.write_str(" nulls first"),
            Some(NullsPlacement::Last) => f.write_str(" nulls last"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for MvExpandItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.column)?;
        if let Some(t) = &self.to_type {
            write!(f, " to typeof({})", t.name)?;
        }
        Ok(())
    }
}

impl fmt::Display for ParsePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParsePart::Literal(s) => f.write_str(&quote(s)),
            ParsePart::Column(c) => write!(f, "{c}"),
            ParsePart::Star => f.write_str("*"),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            OperatorKind::Where(e) => write!(f, "where {e}"),
            OperatorKind::Extend(items) => {
                f.write_str("extend ")?;
                comma(f, items)
            }
            OperatorKind::Project(items) => {
                f.write_str("project ")?;
                comma(f, items)
            }
            OperatorKind::ProjectAway(items) => {
                f.write_str("project-away ")?;
                comma(f, items)
            }
            OperatorKind::ProjectKeep(items) => {
                f.write_str("project-keep ")?;
                comma(f, items)
            }
            OperatorKind::ProjectRename(pairs) => {
                f.write_str("project-rename ")?;
                for (i, (new, old)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{new} = {old}")?;
                }
                Ok(())
            }
            OperatorKind::ProjectReorder(items) => {
                f.write_str("project-reorder ")?;
                for (i, (e, order)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                    if let Some(o) = order {
                        write!(f, " {}", o.name)?;
                    }
                }
                Ok(())
            }
            OperatorKind::Summarize {
                params: ps,
                aggregates,
                by,
            } => {
                f.write_str("summarize")?;
                params(f, ps)?;
                if !aggregates.is_empty() {
                    f.write_str(" ")?;
                    comma(f, aggregates)?;
                }
                if !by.is_empty() {
                    f.write_str(" by ")?;
                    comma(f, by)?;
                }
                Ok(())
            }
            OperatorKind::Distinct(items) => {
                f.write_str("distinct ")?;
                comma(f, items)
            }
            OperatorKind::TopNested(clauses) => {
                for (i, c) in clauses.iter().enumerate() {
                    f.write_str(if i == 0 {
                        "top-nested "
                    } else {
                        ", top-nested "
                    })?;
                    if let Some(n) = &c.count {
                        write!(f, "{n} ")?;
                    }
                    write!(f, "of {}", c.of)?;
                    if let Some(o) = &c.others {
                        write!(f, " with others = {o}")?;
                    }
                    let order = match c.order {
                        SortOrder::Asc => "asc",
                        SortOrder::Desc => "desc",
                    };
                    write!(f, " by {} {order}", c.by)?;
                }
                Ok(())
            }
            OperatorKind::Top { count, by } => write!(f, "top {count} by {by}"),
            OperatorKind::Sort(keys) => {
                f.write_str("sort by ")?;
                comma(f, keys)
            }
            OperatorKind::Take(n) => write!(f, "take {n}"),
            OperatorKind::Count => f.write_str("count"),
            OperatorKind::Union(u) => write!(f, "{u}"),
            OperatorKind::Join {
                params: ps,
                right,
                on,
            } => {
                f.write_str("join")?;
                params(f, ps)?;
                write!(f, " ({right}) on ")?;
                comma(f, on)
            }
            OperatorKind::Lookup {
                params: ps,
                right,
                on,
            } => {
                f.write_str("lookup")?;
                params(f, ps)?;
                write!(f, " ({right}) on ")?;
                comma(f, on)
            }
            OperatorKind::MvExpand {
                params: ps,
                items,
                limit,
            } => {
                f.write_str("mv-expand")?;
                params(f, ps)?;
                f.write_str(" ")?;
                comma(f, items)?;
                if let Some(l) = limit {
                    write!(f, " limit {l}")?;
                }
                Ok(())
            }
            OperatorKind::Parse {
                drop_unmatched,
                params: ps,
                expr,
                pattern,
            } => {
                f.write_str(if *drop_unmatched {
                    "parse-where"
                } else {
                    "parse"
                })?;
                params(f, ps)?;
                write!(f, " {expr} with")?;
                for part in pattern {
                    write!(f, " {part}")?;
                }
                Ok(())
            }
            OperatorKind::Evaluate {
                params: ps,
                call,
                output,
            } => {
                f.write_str("evaluate")?;
                params(f, ps)?;
                write!(f, " {call}")?;
                if let Some(schema) = output {
                    write!(f, " : {schema}")?;
                }
                Ok(())
            }
            OperatorKind::Invoke(call) => write!(f, "invoke {call}"),
            OperatorKind::As { params: ps, name } => {
                f.write_str("as")?;
                params(f, ps)?;
                write!(f, " {name}")
            }
            OperatorKind::Serialize(items) => {
                f.write_str("serialize")?;
                if !items.is_empty() {
                    f.write_str(" ")?;
                    comma(f, items)?;
                }
                Ok(())
            }
            OperatorKind::Sample(n) => write!(f, "sample {n}"),
            OperatorKind::Getschema => f.write_str("getschema"),
            OperatorKind::Render { chart, props } => {
                write!(f, "render {}", chart.name)?;
                with_props(f, props)
            }
            OperatorKind::Search(s) => write!(f, "{s}"),
            OperatorKind::MakeSeries {
                params: ps,
                aggregates,
                on,
                from,
                to,
                step,
                by,
            } => {
                f.write_str("make-series")?;
                params(f, ps)?;
                for (i, (agg, default)) in aggregates.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { " " })?;
                    write!(f, "{agg}")?;
                    if let Some(d) = default {
                        write!(f, " default = {d}")?;
                    }
                }
                write!(f, " on {on}")?;
                if let Some(x) = from {
                    write!(f, " from {x}")?;
                }
                if let Some(x) = to {
                    write!(f, " to {x}")?;
                }
                write!(f, " step {step}")?;
                if !by.is_empty() {
                    f.write_str(" by ")?;
                    comma(f, by)?;
                }
                Ok(())
            }
            OperatorKind::MvApply {
                params: ps,
                items,
                subquery,
            } => {
                f.write_str("mv-apply")?;
                params(f, ps)?;
                f.write_str(" ")?;
                comma(f, items)?;
                // The subquery's source is the implicit `$rows`; print only its operators.
                f.write_str(" on (")?;
                for (i, op) in subquery.ops.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{op}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "{n} = ")?;
        }
        write!(f, "{}", self.value)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Name(n) => write!(f, "{n}"),
            ExprKind::Wildcard(p) => f.write_str(p),
            ExprKind::Binary { op, .. } => {
                // Operands print with parentheses when needed to keep the tree's shape:
                // binary operators are left-associative. The left spine of operators as loose
                // as this one (`a or b or ...`, however long) prints in a loop, not recursively.
                let prec = op.precedence();
                let mut spine = Vec::new();
                let mut head = self;
                while let ExprKind::Binary { op, lhs, rhs } = &head.kind
                    && op.precedence() == prec
                {
                    spine.push((op, rhs));
                    head = lhs;
                }
                write_operand(f, head, prec, false)?;
                for (op, rhs) in spine.into_iter().rev() {
                    write!(f, " {} ", op.symbol())?;
                    write_operand(f, rhs, prec, true)?;
                }
                Ok(())
            }
            ExprKind::Unary { op, expr } => {
                f.write_str(match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                })?;
                match expr.kind {
                    ExprKind::Binary { .. } | ExprKind::List { .. } | ExprKind::Between { .. } => {
                        write!(f, "({expr})")
                    }
                    // `- -x`: a space keeps the signs two tokens.
                    ExprKind::Unary { .. } => write!(f, " {expr}"),
                    // A negative literal folds the sign into itself: `-(-1)` must stay a negation.
                    ExprKind::Literal(
                        Literal::Long(_) | Literal::Real(_) | Literal::Timespan(_),
                    ) if *op == UnaryOp::Neg => {
                        write!(f, "({expr})")
                    }
                    _ => write!(f, "{expr}"),
                }
            }
            ExprKind::List { op, lhs, items } => {
                write_operand(f, lhs, 3, false)?;
                write!(f, " {} (", op.symbol())?;
                comma(f, items)?;
                f.write_str(")")
            }
            ExprKind::Between {
                negated,
                lhs,
                low,
                high,
            } => {
                write_operand(f, lhs, 3, false)?;
                write!(
                    f,
                    " {} ({low} .. {high})",
                    if *negated { "!between" } else { "between" }
                )
            }
            ExprKind::Call { name, args } => {
                // Function names print as written: `range(...)`, `int(...)` are calls.
                write!(f, "{}(", name.name)?;
                comma(f, args)?;
                f.write_str(")")
            }
            ExprKind::Member { expr, name } => {
                write_postfix_base(f, expr)?;
                write!(f, ".{name}")
            }
            ExprKind::Index { expr, index } => {
                write_postfix_base(f, expr)?;
                write!(f, "[{index}]")
            }
            ExprKind::Paren(e) => write!(f, "({e})"),
            ExprKind::Subquery(t) => write!(f, "({t})"),
        }
    }
}

fn write_postfix_base(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    match e.kind {
        ExprKind::Binary { .. }
        | ExprKind::Unary { .. }
        | ExprKind::List { .. }
        | ExprKind::Between { .. } => write!(f, "({e})"),
        _ => write!(f, "{e}"),
    }
}

/// Binding power of an expression when it is an operand; `u8::MAX` for atoms.
fn expr_precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::List { .. } | ExprKind::Between { .. } => 3,
        _ => u8::MAX,
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, parent: u8, right: bool) -> fmt::Result {
    let p = expr_precedence(e);
    // Binary operators are left-associative, so only a looser operand, or an equally loose one on
    // the right, needs parentheses. Parsed trees keep the author's parentheses as `Paren`, so
    // this adds none to them and printing round-trips.
    let needs = p < parent || (p == parent && right);
    if needs {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Long(n) => write!(f, "{n}"),
            Literal::Int(n) => write!(f, "int({n})"),
            Literal::Real(x) => {
                if x.is_finite() {
                    let s = format!("{x:?}");
                    f.write_str(&s)
                } else if x.is_nan() {
                    f.write_str("real(nan)")
                } else if *x > 0.0 {
                    f.write_str("real(+inf)")
                } else {
                    f.write_str("real(-inf)")
                }
            }
            Literal::Decimal(s) => write!(f, "decimal({s})"),
            Literal::String(s) => f.write_str(&quote(s)),
            Literal::Datetime(s) => write!(f, "datetime({s})"),
            Literal::Timespan(t) => f.write_str(&format_timespan(*t)),
            Literal::Guid(s) => write!(f, "guid({s})"),
            Literal::Null(ty) => write!(f, "{ty}(null)"),
            Literal::Dynamic(d) => write!(f, "dynamic({d})"),
        }
    }
}

impl fmt::Display for Dynamic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dynamic::Null => f.write_str("null"),
            Dynamic::Scalar(l) => write!(f, "{l}"),
            Dynamic::Array(items) => {
                f.write_str("[")?;
                comma(f, items)?;
                f.write_str("]")
            }
            Dynamic::Object(pairs) => {
                f.write_str("{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {v}", quote(k))?;
                }
                f.write_str("}")
            }
        }
    }
}
