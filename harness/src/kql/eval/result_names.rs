//! The names Kusto gives the columns of unnamed function calls (`project tostring(Account)` is
//! `Account`, `extend strlen(s)` is `strlen_s`, `extend tolower(s)` is `Column1`): each
//! function's result-name rule, as Kusto.Language (the parser and binder behind Kusto's editors)
//! declares it.
//!
//! The table is Kusto.Language's `ResultNameKind` of every scalar function whose kind is not
//! `None`, read from `@kusto/language-service-next` 12.4.1 (`Kusto.Language.Functions.All`;
//! the `tools/kusto-oracle` package). A function not listed gives its column no name (the
//! operator numbers it `Column1`, ...).

use crate::kql::ast::{Arg, Expr, ExprKind, Literal};

/// How an unnamed call's column is named, from its function and arguments.
#[derive(Clone, Copy, Debug)]
enum ResultName {
    /// The first argument's name (`bin(Timestamp, 1h)` is `Timestamp`).
    FirstArgument,
    /// The only argument's name, when there is one argument.
    OnlyArgument,
    /// The function's name, `_`, and the first argument's name (`strlen_s`; `strlen_` when the
    /// argument has no name).
    NameAndFirstArgument,
    /// A prefix, `_`, and the first argument's name (`gettype(x)` is `type_x`).
    PrefixAndFirstArgument(&'static str),
    /// A fixed name.
    PrefixOnly(&'static str),
    /// The first argument's value, when it is a literal string (`column_ifexists("x", 0)` is
    /// `x`).
    FirstArgumentValueIfColumn,
}

/// Function name → rule (see the module documentation), sorted by name.
static RESULT_NAMES: &[(&str, ResultName)] = &[
    ("__hll_normalize", ResultName::FirstArgument),
    ("abs", ResultName::FirstArgument),
    ("acos", ResultName::FirstArgument),
    ("asin", ResultName::FirstArgument),
    ("atan", ResultName::FirstArgument),
    ("atan2", ResultName::FirstArgument),
    ("bin", ResultName::FirstArgument),
    ("bin_at", ResultName::FirstArgument),
    ("bin_auto", ResultName::FirstArgument),
    ("binary_and", ResultName::FirstArgument),
    ("binary_not", ResultName::FirstArgument),
    ("binary_or", ResultName::FirstArgument),
    ("binary_shift_left", ResultName::FirstArgument),
    ("binary_shift_right", ResultName::FirstArgument),
    ("binary_xor", ResultName::FirstArgument),
    ("bitset_count_ones", ResultName::FirstArgument),
    ("ceiling", ResultName::FirstArgument),
    ("column_ifexists", ResultName::FirstArgumentValueIfColumn),
    ("columnifexists", ResultName::FirstArgumentValueIfColumn),
    ("cos", ResultName::FirstArgument),
    ("dcount_hll", ResultName::NameAndFirstArgument),
    ("erf", ResultName::FirstArgument),
    ("erfc", ResultName::FirstArgument),
    ("exp", ResultName::FirstArgument),
    ("exp10", ResultName::FirstArgument),
    ("exp2", ResultName::FirstArgument),
    ("floor", ResultName::FirstArgument),
    ("format_bytes", ResultName::FirstArgument),
    ("format_datetime", ResultName::FirstArgument),
    ("format_timespan", ResultName::FirstArgument),
    ("gamma", ResultName::FirstArgument),
    ("gettype", ResultName::PrefixAndFirstArgument("type")),
    ("hll_merge", ResultName::PrefixOnly("hll_merged_result")),
    ("ingestion_time", ResultName::PrefixOnly("$IngestionTime")),
    ("log", ResultName::FirstArgument),
    ("log10", ResultName::FirstArgument),
    ("log2", ResultName::FirstArgument),
    ("loggamma", ResultName::FirstArgument),
    ("make_datetime", ResultName::OnlyArgument),
    ("make_timespan", ResultName::OnlyArgument),
    (
        "merge_tdigest",
        ResultName::PrefixOnly("tdigests_merge_result"),
    ),
    ("parse_csv", ResultName::FirstArgument),
    ("parse_json", ResultName::FirstArgument),
    ("parse_xml", ResultName::FirstArgument),
    ("parsejson", ResultName::FirstArgument),
    ("percentile_tdigest", ResultName::NameAndFirstArgument),
    (
        "percentiles_array_tdigest",
        ResultName::PrefixAndFirstArgument("percentile_tdigest"),
    ),
    ("pow", ResultName::FirstArgument),
    ("rand", ResultName::FirstArgument),
    ("repeat", ResultName::PrefixAndFirstArgument("repeat")),
    ("round", ResultName::FirstArgument),
    ("series_fill_backward", ResultName::FirstArgument),
    ("series_fill_const", ResultName::FirstArgument),
    ("series_fill_forward", ResultName::FirstArgument),
    ("series_fill_linear", ResultName::FirstArgument),
    ("series_fir", ResultName::FirstArgument),
    ("series_iir", ResultName::FirstArgument),
    ("series_outliers", ResultName::FirstArgument),
    ("sin", ResultName::FirstArgument),
    ("split", ResultName::FirstArgument),
    ("sqrt", ResultName::FirstArgument),
    ("startofday", ResultName::FirstArgument),
    ("string_size", ResultName::NameAndFirstArgument),
    ("strlen", ResultName::NameAndFirstArgument),
    ("tan", ResultName::FirstArgument),
    (
        "tdigest_merge",
        ResultName::PrefixOnly("tdigests_merge_result"),
    ),
    ("tobool", ResultName::FirstArgument),
    ("toboolean", ResultName::FirstArgument),
    ("todatetime", ResultName::FirstArgument),
    ("todecimal", ResultName::FirstArgument),
    ("todouble", ResultName::FirstArgument),
    ("todynamic", ResultName::FirstArgument),
    ("toguid", ResultName::FirstArgument),
    ("tohex", ResultName::FirstArgument),
    ("toint", ResultName::FirstArgument),
    ("tolong", ResultName::FirstArgument),
    ("toobject", ResultName::FirstArgument),
    ("toreal", ResultName::FirstArgument),
    ("tostring", ResultName::FirstArgument),
    ("totime", ResultName::FirstArgument),
    ("totimespan", ResultName::FirstArgument),
    ("treepath", ResultName::PrefixAndFirstArgument("tree")),
];

/// The column name of an unnamed call of `function` on `args`, where `name_of` names an
/// argument expression; `None` when Kusto numbers the column instead.
pub(super) fn call_name(
    function: &str,
    args: &[Arg],
    name_of: impl Fn(&Expr) -> Option<String>,
) -> Option<String> {
    let at = RESULT_NAMES
        .binary_search_by_key(&function, |(name, _)| name)
        .ok()?;
    let first = || args.first().and_then(|a| name_of(&a.value));
    match RESULT_NAMES[at].1 {
        ResultName::FirstArgument => first(),
        ResultName::OnlyArgument => (args.len() == 1).then(first).flatten(),
        ResultName::NameAndFirstArgument => {
            Some(format!("{function}_{}", first().unwrap_or_default()))
        }
        ResultName::PrefixAndFirstArgument(prefix) => {
            Some(format!("{prefix}_{}", first().unwrap_or_default()))
        }
        ResultName::PrefixOnly(prefix) => Some(prefix.to_string()),
        ResultName::FirstArgumentValueIfColumn => match &args.first()?.value.kind {
            ExprKind::Literal(Literal::String(name)) => Some(name.clone()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::RESULT_NAMES;

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(RESULT_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
