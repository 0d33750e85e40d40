//! The JSON model: `report.json`, the one format every other report is derived from.

use super::{FORMAT_VERSION, RunReport};
use crate::diag::Diagnostic;

/// The report as pretty-printed JSON with a trailing newline.
pub fn render(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; keep the file well-formed if it ever does.
        serde_json::json!({ "format_version": FORMAT_VERSION, "error": e.to_string() }).to_string()
    });
    text.push('\n');
    text
}

/// Parses a `report.json`, refusing other format versions.
pub fn parse(text: &str) -> Result<RunReport, Box<Diagnostic>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Box::new(Diagnostic::error(
            "RPT0001",
            format!("not a JSON report: {e}"),
        ))
    })?;
    match value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(Box::new(Diagnostic::error(
                "RPT0002",
                format!("report format version {v} is not supported (this firedrill reads {FORMAT_VERSION})"),
            )
            .with_help("rerun the baseline with this version of firedrill")));
        }
        None => {
            return Err(Box::new(
                Diagnostic::error("RPT0002", "no `format_version` in the report")
                    .with_help("pass a `report.json` written by `firedrill run`"),
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| {
        Box::new(Diagnostic::error(
            "RPT0001",
            format!("malformed report: {e}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_round_trips_through_json() {
        let report = crate::report::sample::report();
        let text = render(&report);
        assert_eq!(parse(&text).unwrap(), report);
        insta::assert_snapshot!("report_json", text);
    }

    #[test]
    fn other_format_versions_are_refused() {
        let error = parse(r#"{"format_version": 2}"#).unwrap_err();
        assert_eq!(error.code, "RPT0002");
        assert!(error.message.contains("version 2"));
        assert_eq!(parse("[").unwrap_err().code, "RPT0001");
    }
}
