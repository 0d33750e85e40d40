//! What the HTML and Markdown writers share: escaping, the page shell and its stylesheet, and
//! table rendering. `firedrill run`'s report (`report::html`, `report::markdown`) and
//! `firedrill scan`'s review (`logs::review`) are built from these, so both pages look and
//! escape alike.

use std::fmt::Write as _;

/// The stylesheet of every firedrill page.
pub const STYLE: &str = r#"
:root { --pass:#2e7d32; --fail:#c62828; --warn:#ef6c00; --na:#9e9e9e; --silent:#e0e0e0; --error:#6a1b9a; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 2rem 3rem; color:#1b1b1b; }
h1 { margin: 1.2rem 0 .3rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.verdict { display:inline-block; padding:.15rem .6rem; border-radius:4px; color:#fff; font-weight:600; }
.verdict.passed { background: var(--pass); } .verdict.failed { background: var(--fail); }
.counts span { margin-right: 1.2rem; }
table { border-collapse: collapse; }
table.matrix th.rule { writing-mode: vertical-rl; transform: rotate(180deg); text-align:left; max-height: 16rem;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-weight: 500; padding: .3rem .1rem; }
table.matrix td, table.matrix th { border: 1px solid #fff; }
table.matrix th.scenario { text-align: right; font-weight: 500; padding-right: .5rem; white-space: nowrap; }
td.cell { width: 1.6rem; height: 1.6rem; text-align: center; font-weight: 700; color: #fff; }
td.cell a { color: inherit; text-decoration: none; display:block; }
.pass { background: var(--pass); } .fail { background: var(--fail); } .warn { background: var(--warn); }
.not-applicable { background: var(--na); } .silent { background: var(--silent); color:#777 !important; }
.error { background: var(--error); }
.badge { padding: 0 .4rem; border-radius: 3px; color:#fff; font-size: 12px; }
.legend span.badge { margin-right: .6rem; }
details.check { border: 1px solid #ddd; border-radius: 4px; margin: .4rem 0; padding: .3rem .6rem; }
details.check > summary { cursor: pointer; }
details.check:target { outline: 3px solid #1565c0; }
pre { background: #f6f8fa; padding: .5rem .7rem; overflow-x: auto; font-size: 12.5px; }
table.data td, table.data th { border: 1px solid #ddd; padding: .2rem .45rem; vertical-align: top; text-align:left; }
table.fields td:first-child { color:#555; white-space: nowrap; }
code { font-size: 12.5px; }
.muted { color: #666; }
"#;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown table cell: `|` escaped, line breaks as spaces.
pub fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The start of a page, up to and including `<body>`: the [`STYLE`] sheet (plus `style`, the
/// page's own rules) and `script` inline, nothing loaded from elsewhere. `title` is text.
pub fn head(title: &str, style: &str, script: Option<&str>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}{style}</style>\n",
        esc(title)
    );
    if let Some(script) = script {
        let _ = writeln!(out, "<script>{script}</script>");
    }
    out.push_str("</head>\n<body>\n");
    out
}

/// The end of a page.
pub const FOOT: &str = "</body>\n</html>\n";

/// An HTML table of class `class`: a header row of `headers` (text), then `rows` of cells that
/// are HTML already (escape text with [`esc`]). A header or cell starting with `#` is numeric
/// (right-aligned); the `#` is not shown.
pub fn html_table<R, C>(class: &str, headers: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = String>,
{
    let numeric: Vec<bool> = headers.iter().map(|h| h.starts_with('#')).collect();
    let mut out = format!("<table class=\"{class}\"><tr>");
    for header in headers {
        let _ = write!(out, "<th>{}</th>", esc(header.trim_start_matches('#')));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.into_iter().enumerate() {
            if numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(out, "<td class=\"n\">{cell}</td>");
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A Markdown table: a header of `headers` (a name starting with `#` is a right-aligned,
/// numeric column; the `#` is not shown), then `rows` of cells that are Markdown already
/// (escape text with [`md_cell`]).
pub fn md_table<R, C>(headers: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = String>,
{
    let mut out = String::from("|");
    for header in headers {
        let _ = write!(out, " {} |", header.trim_start_matches('#'));
    }
    out.push_str("\n|");
    for header in headers {
        out.push_str(if header.starts_with('#') {
            "---:|"
        } else {
            "---|"
        });
    }
    out.push('\n');
    for row in rows {
        out.push('|');
        for cell in row {
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_nothing_twice_and_align_numbers() {
        let html = html_table(
            "data",
            &["name", "#hits"],
            [vec![esc("a<b"), "3".to_string()]],
        );
        assert_eq!(
            html,
            "<table class=\"data\"><tr><th>name</th><th>hits</th></tr>\n<tr><td>a&lt;b</td><td class=\"n\">3</td></tr>\n</table>\n"
        );
        let md = md_table(
            &["name", "#hits"],
            [vec![md_cell("a|b\nc"), "3".to_string()]],
        );
        assert_eq!(md, "| name | hits |\n|---|---:|\n| a\\|b c | 3 |\n");
    }

    #[test]
    fn pages_are_self_contained() {
        let page = head("a & b", "p{}", None) + FOOT;
        assert!(page.contains("<title>a &amp; b</title>"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("<link"));
    }
}
