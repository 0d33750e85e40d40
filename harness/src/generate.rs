//! Turns a scenario's process tree into a timeline and renders it into each log schema.
//!
//! Two steps, both pure and deterministic:
//!
//! 1. [`timeline`]: `Scenario` + [`Options`] → [`Timeline`], the abstract, ordered list of process
//!    creations with every attribute resolved (pids, GUIDs, users, integrity, hashes, times),
//!    background activity from profiles mixed in.
//! 2. [`render`]: `Timeline` + [`LogSchema`] → `Vec<Event>`, one process-creation event per
//!    created process, in time order, each with its [`crate::event::Origin`].
//!
//! The same scenario, options and seed always give byte-identical events.

pub mod pe;
pub mod profile;
pub mod rng;
pub mod schema;
pub mod tree;

pub use profile::Profile;
pub use tree::{Account, Elevation, HostInfo, Process, Timeline};

use crate::event::{Event, LogSchema};
use crate::scenario::Scenario;

/// Which product an ASIM `imProcessCreate` row is emulated as coming from.
///
/// It matters for one thing: only Microsoft's Defender parser fills `ParentProcess*` (with the
/// grandparent, file name only); the Sysmon and Security-event parsers leave them empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AsimSource {
    /// `ASimProcessEventMicrosoft365D`: rows from Defender `DeviceProcessEvents`.
    #[default]
    Defender,
    /// `ASimProcessCreateMicrosoftSysmon`: rows from Sysmon event 1.
    Sysmon,
    /// `ASimProcessCreateMicrosoftSecurityEvents`: rows from Security event 4688.
    SecurityEvent,
}

impl AsimSource {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AsimSource::Defender => "defender",
            AsimSource::Sysmon => "sysmon",
            AsimSource::SecurityEvent => "security",
        }
    }
}

impl std::str::FromStr for AsimSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AsimSource::Defender,
            AsimSource::Sysmon,
            AsimSource::SecurityEvent,
        ]
        .into_iter()
        .find(|source| source.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown ASIM source `{s}`; expected defender, sysmon or security"))
    }
}

/// How to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seeds pids, GUIDs, logon ids and background timing.
    pub seed: u64,
    /// Mix in the scenario's background profiles.
    pub background: bool,
    /// The product ASIM rows are emulated from.
    pub asim_source: AsimSource,
    /// Profiles beyond the bundled ones (a user's own, loaded with [`profile::load_dir`]).
    pub extra_profiles: Vec<Profile>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            background: true,
            asim_source: AsimSource::default(),
            extra_profiles: Vec::new(),
        }
    }
}

/// Builds the timeline of `scenario`.
pub fn timeline(scenario: &Scenario, options: &Options) -> Timeline {
    tree::build(scenario, options)
}

/// Renders every process creation of `timeline` as `schema` events, in time order.
///
/// [`LogSchema::Other`] is not a generated schema and renders nothing.
pub fn render(timeline: &Timeline, schema: LogSchema) -> Vec<Event> {
    schema::render(timeline, schema)
}
