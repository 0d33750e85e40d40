//! Background profiles: benign activity of a kind of server, as data (`fixtures/profiles/*.yaml`).
//!
//! A profile names long-running root processes (an IIS worker, ArcSOC.exe) and activities that
//! recur under them (`every: 45m`): small process trees such as an ASP.NET compilation
//! (`csc.exe` → `conhost.exe`, `cvtres.exe`). The bundled profiles are compiled in; others can be
//! loaded from a directory with [`load_dir`]. Command lines may use placeholders filled per
//! occurrence: `{parent_pid}`, `{n}` (1–999), `{hex8}`, `{hex16}`, `{guid}`.

use crate::diag::{Diagnostic, Location};
use crate::scenario::{Integrity, model};
use chrono::TimeDelta;
use serde::Deserialize;
use std::path::Path;
use std::sync::OnceLock;

/// One background profile.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Always 1.
    pub format_version: u32,
    /// The name scenarios use (`iis`).
    pub name: String,
    /// What the activity is and where it comes from.
    #[serde(default)]
    pub description: String,
    /// The long-running processes activities hang off.
    pub roots: Vec<ProfileRoot>,
    /// The recurring activities.
    pub activities: Vec<Activity>,
}

/// A long-running process of a profile (never an event itself).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRoot {
    /// Referred to by activities.
    pub id: String,
    /// Full path.
    pub image: String,
    /// Command line.
    #[serde(default)]
    pub command_line: Option<String>,
    /// `DOMAIN\name`; `{host}` stands for the host's name.
    #[serde(default)]
    pub user: Option<String>,
    /// Integrity level.
    #[serde(default)]
    pub integrity: Option<Integrity>,
}

/// Something that happens again and again under a root.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// A short name, for humans.
    pub name: String,
    /// The root id it runs under.
    pub root: String,
    /// The mean interval between occurrences (`45m`).
    #[serde(with = "model::offset_serde")]
    pub every: Option<TimeDelta>,
    /// The processes each occurrence creates under the root.
    pub processes: Vec<ProfileProcess>,
}

/// A process of an activity.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileProcess {
    /// Full path.
    pub image: String,
    /// Command line, with placeholders.
    #[serde(default)]
    pub command_line: Option<String>,
    /// `DOMAIN\name`; inherited when absent.
    #[serde(default)]
    pub user: Option<String>,
    /// Integrity; inherited when absent.
    #[serde(default)]
    pub integrity: Option<Integrity>,
    /// Offset from the parent's start (default `+1s` after the previous sibling).
    #[serde(default, with = "model::offset_serde")]
    pub at: Option<TimeDelta>,
    /// Processes it creates.
    #[serde(default)]
    pub children: Vec<ProfileProcess>,
}

const BUNDLED_TEXT: &[(&str, &str)] = &[
    (
        "iis.yaml",
        include_str!("../../../fixtures/profiles/iis.yaml"),
    ),
    (
        "arcgis-server.yaml",
        include_str!("../../../fixtures/profiles/arcgis-server.yaml"),
    ),
    (
        "tomcat.yaml",
        include_str!("../../../fixtures/profiles/tomcat.yaml"),
    ),
    (
        "apache-httpd.yaml",
        include_str!("../../../fixtures/profiles/apache-httpd.yaml"),
    ),
    (
        "weblogic.yaml",
        include_str!("../../../fixtures/profiles/weblogic.yaml"),
    ),
    (
        "windows-server.yaml",
        include_str!("../../../fixtures/profiles/windows-server.yaml"),
    ),
];

/// The bundled profiles (parsed once). A bundled profile that fails to parse is left out; the
/// test suite parses every one of them.
pub fn bundled() -> &'static [Profile] {
    static BUNDLED: OnceLock<Vec<Profile>> = OnceLock::new();
    BUNDLED.get_or_init(|| {
        BUNDLED_TEXT
            .iter()
            .filter_map(|(file, text)| parse(&format!("fixtures/profiles/{file}"), text).ok())
            .collect()
    })
}

/// The names of the bundled profiles.
pub fn bundled_names() -> impl Iterator<Item = &'static str> {
    bundled().iter().map(|p| p.name.as_str())
}

/// The source text of each bundled profile, by file name.
pub fn bundled_sources() -> &'static [(&'static str, &'static str)] {
    BUNDLED_TEXT
}

/// Parses one profile file.
pub fn parse(file_name: &str, text: &str) -> Result<Profile, Vec<Diagnostic>> {
    let profile: Profile = serde_yaml::from_str(text).map_err(|error| {
        let mut d = Diagnostic::error("SCN0030", format!("invalid background profile: {error}"));
        d = match error.location() {
            Some(l) => d.located(Location::at_line_col(file_name, text, l.line(), l.column())),
            None => d.in_file(file_name),
        };
        vec![d]
    })?;
    let mut problems = Vec::new();
    let check = |message: String| Diagnostic::error("SCN0031", message).in_file(file_name);
    if profile.format_version != 1 {
        problems.push(check(format!(
            "unsupported format_version {}",
            profile.format_version
        )));
    }
    for activity in &profile.activities {
        if !profile.roots.iter().any(|r| r.id == activity.root) {
            problems.push(check(format!(
                "activity `{}` runs under unknown root `{}`",
                activity.name, activity.root
            )));
        }
        if activity
            .every
            .is_none_or(|every| every <= TimeDelta::zero())
        {
            problems.push(check(format!(
                "activity `{}` needs a positive `every`",
                activity.name
            )));
        }
        fn images(p: &[ProfileProcess], out: &mut Vec<String>) {
            for process in p {
                out.push(process.image.clone());
                images(&process.children, out);
            }
        }
        let mut all = Vec::new();
        images(&activity.processes, &mut all);
        for image in all.iter().chain(profile.roots.iter().map(|r| &r.image)) {
            if !crate::scenario::is_absolute_windows_path(image) {
                problems.push(check(format!("relative image path `{image}`")));
            }
        }
    }
    if problems.is_empty() {
        Ok(profile)
    } else {
        Err(problems)
    }
}

/// Loads every `*.yaml` profile in `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<Profile>, Vec<Diagnostic>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            vec![
                Diagnostic::error("SCN0000", format!("cannot read profile directory: {e}"))
                    .in_file(dir.display().to_string()),
            ]
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    let mut profiles = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        match crate::encoding::read_source(&path, &name, "SCN0000", "profile") {
            Ok(text) => match parse(&name, &text) {
                Ok(profile) => profiles.push(profile),
                Err(mut d) => problems.append(&mut d),
            },
            Err(d) => problems.push(*d),
        }
    }
    if problems.is_empty() {
        Ok(profiles)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_profile_parses() {
        for (file, text) in BUNDLED_TEXT {
            if let Err(problems) = parse(file, text) {
                panic!(
                    "{file}: {}",
                    problems.iter().map(Diagnostic::render).collect::<String>()
                );
            }
        }
        let names: Vec<_> = bundled_names().collect();
        assert_eq!(
            names,
            [
                "iis",
                "arcgis-server",
                "tomcat",
                "apache-httpd",
                "weblogic",
                "windows-server"
            ]
        );
    }
}
