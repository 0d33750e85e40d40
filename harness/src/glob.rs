//! `*` patterns over names: Sigma's quantifier patterns (`1 of filter_*`) and KQL's wildcard
//! column and table names (`project-away Foo*`, `union Device*`).

/// True when `name` matches `pattern`: `*` matches any run of characters (none included);
/// everything else matches literally and case-sensitively.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(found) = rest.find(part) {
            rest = &rest[found + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_any_run_and_the_rest_is_literal() {
        assert!(matches("filter_*", "filter_main"));
        assert!(matches("*_main*", "filter_main_x"));
        assert!(matches("Device*Events", "DeviceProcessEvents"));
        assert!(matches("*", ""));
        assert!(!matches("filter_*", "selection"));
        assert!(!matches("ab*ba", "aba"));
        assert!(!matches("Sel", "sel"));
        assert!(matches("sel", "sel"));
    }
}
