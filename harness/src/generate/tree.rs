//! Process tree → [`Timeline`]: every attribute resolved, every creation placed in time.
//!
//! Roots are processes already running when the scenario starts (created hours earlier, no event)
//! unless they say `emit: true`. Each root also gets an implicit parent (the service host that
//! launched it: `svchost.exe` for `w3wp.exe`, `javaw.exe` for `ArcSOC.exe`, else `services.exe`)
//! so that a root's children have a real grandparent. Missing attributes get defaults: the user
//! and integrity come from the parent, pids, GUIDs and logon ids from the seed, hashes and
//! version resources from the binary.

use super::Options;
use super::pe::{self, ImageHashes, PeInfo};
use super::profile::{Profile, ProfileProcess};
use super::rng::{Rng, fnv1a};
use crate::scenario::{Integrity, ProcessNode, Scenario, file_name};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;

/// The abstract, ordered record of a scenario's process creations.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// The scenario's name (event origins carry it).
    pub scenario: String,
    /// The options it was built with (rendering reads `asim_source`).
    pub options: Options,
    /// The hosts.
    pub hosts: Vec<HostInfo>,
    /// Every process: created ones and the ones already running (roots and their parents).
    pub processes: Vec<Process>,
    /// Indices into `processes` of the processes whose creation is an event, in time order.
    pub creations: Vec<usize>,
    /// The scenario's start.
    pub start: DateTime<Utc>,
}

impl Timeline {
    /// The time of the last event (the scenario start when there is none). A KQL clock
    /// (`ago()`, `now()`) defaults to it.
    pub fn end(&self) -> DateTime<Utc> {
        self.creations
            .last()
            .map(|&i| self.processes[i].created)
            .unwrap_or(self.start)
    }

    /// The parent of process `index`, when known.
    pub fn parent(&self, index: usize) -> Option<&Process> {
        self.processes[index].parent.map(|p| &self.processes[p])
    }

    /// The grandparent of process `index`, when known.
    pub fn grandparent(&self, index: usize) -> Option<&Process> {
        self.processes[index]
            .parent
            .and_then(|p| self.processes[p].parent)
            .map(|g| &self.processes[g])
    }
}

/// A machine, with the identifiers schemas need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// NetBIOS name, upper case as written.
    pub name: String,
    /// NetBIOS domain, when joined.
    pub domain: Option<String>,
    /// DNS name.
    pub fqdn: String,
    /// Defender device id (40 hex digits).
    pub device_id: String,
    /// First GUID group Sysmon uses for this machine (8 hex digits).
    pub machine_guid: String,
    /// The machine's (or domain's) SID prefix, `S-1-5-21-a-b-c`.
    pub sid_prefix: String,
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// `NT AUTHORITY`, `IIS APPPOOL`, `CORP`, a host name.
    pub domain: String,
    /// `SYSTEM`, `DefaultAppPool`, `arcgis`.
    pub name: String,
    /// The SID.
    pub sid: String,
}

impl Account {
    /// `DOMAIN\name`.
    pub fn qualified(&self) -> String {
        format!("{}\\{}", self.domain, self.name)
    }

    /// True for the built-in service accounts (SYSTEM, LOCAL SERVICE, NETWORK SERVICE).
    pub fn is_builtin_service(&self) -> bool {
        matches!(self.sid.as_str(), "S-1-5-18" | "S-1-5-19" | "S-1-5-20")
    }
}

/// UAC token elevation type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elevation {
    /// Full token, no split (services, UAC off): `%%1936`.
    Default,
    /// Elevated split token: `%%1937`.
    Full,
    /// Filtered split token: `%%1938`.
    Limited,
}

impl Elevation {
    /// The 4688 `TokenElevationType` code.
    pub fn code(self) -> &'static str {
        match self {
            Elevation::Default => "%%1936",
            Elevation::Full => "%%1937",
            Elevation::Limited => "%%1938",
        }
    }

    /// The Defender `ProcessTokenElevation` word.
    pub fn word(self) -> &'static str {
        match self {
            Elevation::Default => "TokenElevationTypeDefault",
            Elevation::Full => "TokenElevationTypeFull",
            Elevation::Limited => "TokenElevationTypeLimited",
        }
    }
}

/// One process with every attribute resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    /// The scenario node id; `bg:<profile>:<n>` for background; `~<root>:parent` for implicit parents.
    pub node: String,
    /// Benign activity.
    pub benign: bool,
    /// Whether its creation is an event.
    pub emitted: bool,
    /// Index into `Timeline::hosts`.
    pub host: usize,
    /// Full image path.
    pub image: String,
    /// File name of the image.
    pub file_name: String,
    /// Command line.
    pub command_line: String,
    /// Process id.
    pub pid: u32,
    /// Sysmon-style process GUID, lower case, without braces.
    pub guid: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Index of the parent in `Timeline::processes`.
    pub parent: Option<usize>,
    /// Its user.
    pub user: Account,
    /// Logon id of its session.
    pub logon_id: u64,
    /// Sysmon-style logon GUID, lower case, without braces.
    pub logon_guid: String,
    /// Terminal session id.
    pub session: u32,
    /// Integrity level.
    pub integrity: Integrity,
    /// Token elevation.
    pub elevation: Elevation,
    /// Working directory, with a trailing backslash.
    pub current_directory: String,
    /// Version resource.
    pub pe: PeInfo,
    /// Image hashes, lower-case hex.
    pub hashes: ImageHashes,
    /// Image file size in bytes.
    pub file_size: i64,
}

/// Well-known launchers of long-running server processes: (root file name, parent image,
/// parent command line, parent user).
const LAUNCHERS: &[(&str, &str, &str, &str)] = &[
    (
        "w3wp.exe",
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k iissvcs",
        r"NT AUTHORITY\SYSTEM",
    ),
    (
        "arcsoc.exe",
        r"C:\Program Files\ArcGIS\Server\framework\runtime\jre\bin\javaw.exe",
        r#""C:\Program Files\ArcGIS\Server\framework\runtime\jre\bin\javaw.exe" -Dcom.esri.arcgis.server.home="C:\Program Files\ArcGIS\Server" -classpath "C:\Program Files\ArcGIS\Server\framework\lib\server\arcgis-server.jar" com.esri.arcgis.discovery.nodeagent.impl.NodeAgent"#,
        "{user}",
    ),
    (
        "httpd.exe",
        r"C:\Apache24\bin\httpd.exe",
        r"C:\Apache24\bin\httpd.exe -k runservice",
        r"NT AUTHORITY\SYSTEM",
    ),
    (
        "explorer.exe",
        r"C:\Windows\System32\userinit.exe",
        r"C:\Windows\system32\userinit.exe",
        "{user}",
    ),
];

/// Default users of well-known root images.
const ROOT_USERS: &[(&str, &str)] = &[
    ("w3wp.exe", r"IIS APPPOOL\DefaultAppPool"),
    ("arcsoc.exe", r"{host}\arcgis"),
    ("javaw.exe", r"{host}\arcgis"),
    ("tomcat9.exe", r"NT AUTHORITY\LOCAL SERVICE"),
    ("sqlservr.exe", r"NT SERVICE\MSSQLSERVER"),
];

/// Default command lines of well-known long-running roots.
const ROOT_COMMAND_LINES: &[(&str, &str)] = &[
    (
        "w3wp.exe",
        r#"c:\windows\system32\inetsrv\w3wp.exe -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll" -a \\.\pipe\iisipm45a13fae-8ca5-408b-a9e4-631fc0631086 -h "C:\inetpub\temp\apppools\DefaultAppPool\DefaultAppPool.config" -w "" -m 0 -t 20 -ta 0"#,
    ),
    (
        "tomcat9.exe",
        r#""C:\Program Files\Apache Software Foundation\Tomcat 9.0\bin\Tomcat9.exe" //RS//Tomcat9"#,
    ),
    (
        "httpd.exe",
        r"C:\Apache24\bin\httpd.exe -d C:/Apache24 -f C:\Apache24\conf\httpd.conf -k runservice",
    ),
    (
        "beasvc.exe",
        r"C:\Oracle\Middleware\wlserver\server\bin\beasvc.exe -svcname:wlsvc_base_domain_AdminServer",
    ),
];

struct Builder<'a> {
    options: &'a Options,
    hosts: Vec<HostInfo>,
    processes: Vec<Process>,
    pids: Vec<BTreeSet<u32>>,
}

/// Builds the timeline (see [`super::timeline`]).
pub fn build(scenario: &Scenario, options: &Options) -> Timeline {
    let hosts: Vec<HostInfo> = scenario
        .hosts
        .iter()
        .map(|h| host_info(h, options.seed))
        .collect();
    let mut b = Builder {
        options,
        pids: vec![BTreeSet::new(); hosts.len()],
        hosts,
        processes: Vec::new(),
    };
    // Reserve explicit pids first so derived ones never collide with them.
    for root in &scenario.processes {
        let host = host_index(scenario, root);
        reserve_pids(root, &mut b.pids[host]);
    }
    let mut roots = Vec::new();
    for root in &scenario.processes {
        let host = host_index(scenario, root);
        let index = b.root(root, host, scenario.start);
        roots.push((host, index));
    }
    let tree_end = b
        .processes
        .iter()
        .filter(|p| p.emitted)
        .map(|p| p.created)
        .max()
        .unwrap_or(scenario.start);
    if options.background {
        let window_end =
            (scenario.start + scenario.duration.unwrap_or(TimeDelta::hours(1))).max(tree_end);
        for (host_idx, host) in scenario.hosts.iter().enumerate() {
            let mut names: Vec<&str> = Vec::new();
            if host_idx == 0 {
                names.extend(scenario.background.iter().map(String::as_str));
            }
            names.extend(host.background.iter().map(String::as_str));
            for name in names {
                let profile = options
                    .extra_profiles
                    .iter()
                    .chain(super::profile::bundled())
                    .find(|p| p.name == name);
                if let Some(profile) = profile {
                    b.background(profile, host_idx, &roots, scenario.start, window_end);
                }
            }
        }
    }
    let mut creations: Vec<usize> = (0..b.processes.len())
        .filter(|&i| b.processes[i].emitted)
        .collect();
    creations.sort_by_key(|&i| (b.processes[i].created, i));
    Timeline {
        scenario: scenario.name.clone(),
        options: options.clone(),
        hosts: b.hosts,
        processes: b.processes,
        creations,
        start: scenario.start,
    }
}

fn host_index(scenario: &Scenario, root: &ProcessNode) -> usize {
    root.host
        .as_deref()
        .and_then(|name| {
            scenario
                .hosts
                .iter()
                .position(|h| h.name.eq_ignore_ascii_case(name))
        })
        .unwrap_or(0)
}

fn reserve_pids(node: &ProcessNode, pids: &mut BTreeSet<u32>) {
    if let Some(pid) = node.pid {
        pids.insert(pid);
    }
    for child in &node.children {
        reserve_pids(child, pids);
    }
}

fn host_info(host: &crate::scenario::Host, seed: u64) -> HostInfo {
    let key = host.name.to_lowercase();
    let mut rng = Rng::keyed(seed, &format!("host:{key}"));
    let device_id = rng.hex(40);
    let machine_guid = rng.hex(8);
    // Domain SIDs depend on the domain, machine SIDs on the machine; both are stable per seed.
    let sid_key = host.domain.as_deref().unwrap_or(&host.name).to_lowercase();
    let mut sid_rng = Rng::keyed(seed, &format!("sid:{sid_key}"));
    let sid_prefix = format!(
        "S-1-5-21-{}-{}-{}",
        1_000_000_000 + sid_rng.below(3_000_000_000),
        1_000_000_000 + sid_rng.below(3_000_000_000),
        1_000_000_000 + sid_rng.below(3_000_000_000)
    );
    HostInfo {
        name: host.name.clone(),
        domain: host.domain.clone(),
        fqdn: host.fqdn(),
        device_id,
        machine_guid,
        sid_prefix,
    }
}

/// What a new process inherits or is told.
struct Spec<'a> {
    node: String,
    benign: bool,
    emitted: bool,
    host: usize,
    image: &'a str,
    command_line: Option<String>,
    user: Option<&'a str>,
    integrity: Option<Integrity>,
    pid: Option<u32>,
    current_directory: Option<&'a str>,
    original_file_name: Option<&'a str>,
    hashes: Option<&'a crate::scenario::Hashes>,
    created: DateTime<Utc>,
    parent: Option<usize>,
}

impl Builder<'_> {
    fn root(&mut self, root: &ProcessNode, host: usize, start: DateTime<Utc>) -> usize {
        let at = root.at.unwrap_or_default();
        let scheduled = start + at;
        let mut rng = Rng::keyed(self.options.seed, &format!("root:{}", root.id));
        let launcher = self.launcher(
            root.file_name(),
            root.user.as_deref(),
            host,
            &root.id,
            start,
        );
        let created = if root.emit {
            scheduled + jitter(&mut rng)
        } else {
            start - TimeDelta::hours(2) - TimeDelta::seconds(rng.below(6 * 3600) as i64)
        };
        let lower = root.file_name().to_ascii_lowercase();
        let command_line = root.command_line.clone().or_else(|| {
            ROOT_COMMAND_LINES
                .iter()
                .find(|(name, _)| *name == lower)
                .map(|(_, line)| line.to_string())
        });
        let index = self.add(Spec {
            node: root.id.clone(),
            benign: root.benign.unwrap_or(false),
            emitted: root.emit,
            host,
            image: &root.image,
            command_line,
            user: root.user.as_deref(),
            integrity: root.integrity,
            pid: root.pid,
            current_directory: root.current_directory.as_deref(),
            original_file_name: root.original_file_name.as_deref(),
            hashes: root.hashes.as_ref(),
            created,
            parent: Some(launcher),
        });
        let base = if root.emit { created } else { scheduled };
        self.children(&root.children, index, base, root.benign.unwrap_or(false));
        index
    }

    /// The implicit parent (and its parent) of a root.
    fn launcher(
        &mut self,
        root_file: &str,
        root_user: Option<&str>,
        host: usize,
        root_id: &str,
        start: DateTime<Utc>,
    ) -> usize {
        let lower = root_file.to_ascii_lowercase();
        let (image, command_line, user) = LAUNCHERS
            .iter()
            .find(|l| l.0 == lower)
            .map(|l| (l.1, l.2.to_string(), l.3))
            .unwrap_or((
                r"C:\Windows\System32\services.exe",
                r"C:\Windows\system32\services.exe".to_string(),
                r"NT AUTHORITY\SYSTEM",
            ));
        let user = if user == "{user}" {
            root_user
        } else {
            Some(user)
        };
        let boot = start
            - TimeDelta::days(3)
            - TimeDelta::seconds((fnv1a(self.hosts[host].name.as_bytes()) % 86_400) as i64);
        let grand = if image.ends_with(r"\services.exe") {
            r"C:\Windows\System32\wininit.exe"
        } else {
            r"C:\Windows\System32\services.exe"
        };
        let grand_index = self.add(Spec {
            node: format!("~{root_id}:grandparent"),
            benign: true,
            emitted: false,
            host,
            image: grand,
            command_line: Some(grand.to_string()),
            user: Some(r"NT AUTHORITY\SYSTEM"),
            integrity: Some(Integrity::System),
            pid: None,
            current_directory: None,
            original_file_name: None,
            hashes: None,
            created: boot,
            parent: None,
        });
        self.add(Spec {
            node: format!("~{root_id}:parent"),
            benign: true,
            emitted: false,
            host,
            image,
            command_line: Some(command_line),
            user,
            integrity: None,
            pid: None,
            current_directory: None,
            original_file_name: None,
            hashes: None,
            created: boot + TimeDelta::seconds(20),
            parent: Some(grand_index),
        })
    }

    fn children(
        &mut self,
        children: &[ProcessNode],
        parent: usize,
        base: DateTime<Utc>,
        benign: bool,
    ) {
        let mut previous = TimeDelta::zero();
        for child in children {
            let offset = child.at.unwrap_or(previous + TimeDelta::seconds(1));
            previous = offset;
            let mut rng = Rng::keyed(self.options.seed, &format!("node:{}", child.id));
            let created = base + offset + jitter(&mut rng);
            let own_benign = child.benign.unwrap_or(benign);
            let host = self.processes[parent].host;
            let index = self.add(Spec {
                node: child.id.clone(),
                benign: own_benign,
                emitted: true,
                host,
                image: &child.image,
                command_line: child.command_line.clone(),
                user: child.user.as_deref(),
                integrity: child.integrity,
                pid: child.pid,
                current_directory: child.current_directory.as_deref(),
                original_file_name: child.original_file_name.as_deref(),
                hashes: child.hashes.as_ref(),
                created,
                parent: Some(parent),
            });
            self.children(&child.children, index, created, own_benign);
        }
    }

    fn background(
        &mut self,
        profile: &Profile,
        host: usize,
        scenario_roots: &[(usize, usize)],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) {
        let host_name = self.hosts[host].name.clone();
        let mut root_index = Vec::new();
        for root in &profile.roots {
            // Reuse a scenario root running the same program on this host.
            let reuse = scenario_roots.iter().find(|(h, i)| {
                *h == host
                    && self.processes[*i]
                        .file_name
                        .eq_ignore_ascii_case(file_name(&root.image))
            });
            let index = match reuse {
                Some(&(_, i)) => i,
                None => {
                    let id = format!("bg:{}:{}", profile.name, root.id);
                    let user = root.user.as_ref().map(|u| u.replace("{host}", &host_name));
                    let launcher =
                        self.launcher(file_name(&root.image), user.as_deref(), host, &id, start);
                    let mut rng = Rng::keyed(self.options.seed, &format!("{id}:start"));
                    let created = start
                        - TimeDelta::hours(2)
                        - TimeDelta::seconds(rng.below(6 * 3600) as i64);
                    let command_line = root.command_line.as_ref().map(|c| fill(c, &mut rng, 0));
                    self.add(Spec {
                        node: id,
                        benign: true,
                        emitted: false,
                        host,
                        image: &root.image,
                        command_line,
                        user: user.as_deref(),
                        integrity: root.integrity,
                        pid: None,
                        current_directory: None,
                        original_file_name: None,
                        hashes: None,
                        created,
                        parent: Some(launcher),
                    })
                }
            };
            root_index.push((root.id.as_str(), index));
        }
        let mut counter = 0usize;
        let mut occurrences = Vec::new();
        for (a, activity) in profile.activities.iter().enumerate() {
            let Some(every) = activity.every.filter(|e| *e > TimeDelta::zero()) else {
                continue;
            };
            let Some(&(_, root)) = root_index.iter().find(|(id, _)| *id == activity.root) else {
                continue;
            };
            let mut rng = Rng::keyed(
                self.options.seed,
                &format!("bg:{}:{host_name}:{a}", profile.name),
            );
            let every_ms = every.num_milliseconds().max(1) as u64;
            let mut t = start + TimeDelta::milliseconds(rng.below(every_ms) as i64);
            while t <= end {
                occurrences.push((t, a, root));
                let spread = every_ms / 5;
                t += TimeDelta::milliseconds(
                    (every_ms - spread / 2 + rng.below(spread.max(1))) as i64,
                );
            }
        }
        occurrences.sort_by_key(|(t, a, _)| (*t, *a));
        for (t, a, root) in occurrences {
            let activity = &profile.activities[a];
            let mut rng = Rng::keyed(
                self.options.seed,
                &format!("bg:{}:{host_name}:{a}:{t}", profile.name),
            );
            self.background_processes(
                &activity.processes,
                root,
                t,
                profile,
                &mut counter,
                &mut rng,
            );
        }
    }

    fn background_processes(
        &mut self,
        processes: &[ProfileProcess],
        parent: usize,
        base: DateTime<Utc>,
        profile: &Profile,
        counter: &mut usize,
        rng: &mut Rng,
    ) {
        let mut previous = TimeDelta::zero();
        for process in processes {
            let offset = process.at.unwrap_or(previous + TimeDelta::seconds(1));
            previous = offset;
            let created = base + offset + jitter(rng);
            let node = format!("bg:{}:{}", profile.name, *counter);
            *counter += 1;
            let parent_pid = self.processes[parent].pid;
            let command_line = process
                .command_line
                .as_ref()
                .map(|c| fill(c, rng, parent_pid));
            let host = self.processes[parent].host;
            let host_name = self.hosts[host].name.clone();
            let user = process
                .user
                .as_ref()
                .map(|u| u.replace("{host}", &host_name));
            let index = self.add(Spec {
                node,
                benign: true,
                emitted: true,
                host,
                image: &process.image,
                command_line,
                user: user.as_deref(),
                integrity: process.integrity,
                pid: None,
                current_directory: None,
                original_file_name: None,
                hashes: None,
                created,
                parent: Some(parent),
            });
            self.background_processes(&process.children, index, created, profile, counter, rng);
        }
    }

    fn add(&mut self, spec: Spec<'_>) -> usize {
        let seed = self.options.seed;
        let host = &self.hosts[spec.host];
        let parent = spec.parent.map(|p| self.processes[p].clone());
        let file = file_name(spec.image).to_string();
        let lower = file.to_ascii_lowercase();
        let user_text = spec.user.map(str::to_string).or_else(|| {
            if parent
                .as_ref()
                .is_some_and(|p| p.emitted || !p.node.starts_with('~'))
            {
                None
            } else {
                ROOT_USERS
                    .iter()
                    .find(|u| u.0 == lower)
                    .map(|u| u.1.to_string())
            }
        });
        let user = match (&user_text, &parent) {
            (Some(text), _) => account(&text.replace("{host}", &host.name), host),
            (None, Some(p)) => p.user.clone(),
            (None, None) => account(r"NT AUTHORITY\SYSTEM", host),
        };
        let same_user = parent.as_ref().is_some_and(|p| p.user == user);
        let session = match &parent {
            _ if lower == "explorer.exe" => 1,
            Some(p) if same_user => p.session,
            _ => 0,
        };
        let integrity = spec.integrity.unwrap_or_else(|| match &parent {
            Some(p) if same_user => p.integrity,
            _ if user.is_builtin_service() => Integrity::System,
            _ if session > 0 => Integrity::Medium,
            _ => Integrity::High,
        });
        let elevation = match integrity {
            Integrity::System | Integrity::Protected => Elevation::Default,
            Integrity::High if session == 0 => Elevation::Default,
            Integrity::High => Elevation::Full,
            _ if session == 0 => Elevation::Default,
            _ => Elevation::Limited,
        };
        let logon_id = match (&parent, user.sid.as_str()) {
            (_, "S-1-5-18") => 0x3e7,
            (_, "S-1-5-20") => 0x3e4,
            (_, "S-1-5-19") => 0x3e5,
            (Some(p), _) if same_user => p.logon_id,
            _ => {
                let mut rng =
                    Rng::keyed(seed, &format!("logon:{}:{}", host.name, user.qualified()));
                0x10_0000 + rng.below(0xF0_0000)
            }
        };
        let logon_seed = fnv1a(format!("{}:{logon_id}", host.name).as_bytes()) ^ seed;
        let logon_guid = format!(
            "{}-{:04x}-{:04x}-{}",
            host.machine_guid,
            logon_seed & 0xffff,
            (logon_seed >> 16) & 0xffff,
            logon_guid_tail(logon_id)
        );
        let pid = spec.pid.unwrap_or_else(|| {
            let mut rng = Rng::keyed(seed, &format!("pid:{}:{}", host.name, spec.node));
            let mut pid = 4 * (256 + rng.below(4800) as u32);
            while self.pids[spec.host].contains(&pid) {
                pid += 4;
            }
            pid
        });
        // Background occurrences exit quickly and Windows reuses their pids; only processes
        // that stay (scenario nodes, roots, launchers) reserve theirs.
        let transient = spec.emitted && spec.node.starts_with("bg:");
        if !transient {
            self.pids[spec.host].insert(pid);
        }
        let secs = spec.created.timestamp() as u32;
        let mut grng = Rng::keyed(seed, &format!("guid:{}:{}", host.name, spec.node));
        let guid = format!(
            "{}-{:04x}-{:04x}-{}-{:012x}",
            host.machine_guid,
            secs & 0xffff,
            secs >> 16,
            grng.hex(4),
            0x4000 | (grng.below(0x1000) << 16) | 0x2
        );
        let command_line = spec.command_line.unwrap_or_else(|| {
            if spec.image.contains(' ') {
                format!("\"{}\"", spec.image)
            } else {
                spec.image.to_string()
            }
        });
        let current_directory = spec
            .current_directory
            .map(|d| {
                if d.ends_with('\\') {
                    d.to_string()
                } else {
                    format!("{d}\\")
                }
            })
            .or_else(|| parent.as_ref().map(|p| p.current_directory.clone()))
            .unwrap_or_else(|| r"C:\Windows\system32\".to_string());
        let pe = pe::pe_info(&file, spec.original_file_name);
        let identity = if spec.original_file_name.is_some() || pe::known_path(&file).is_some() {
            pe.original_file_name.clone()
        } else {
            spec.image.to_string()
        };
        let hashes = pe::hashes(&identity, spec.hashes);
        let file_size = pe::file_size(&identity);
        self.processes.push(Process {
            node: spec.node,
            benign: spec.benign,
            emitted: spec.emitted,
            host: spec.host,
            image: spec.image.to_string(),
            file_name: file,
            command_line,
            pid,
            guid,
            created: spec.created,
            parent: spec.parent,
            user,
            logon_id,
            logon_guid,
            session,
            integrity,
            elevation,
            current_directory,
            pe,
            hashes,
            file_size,
        });
        self.processes.len() - 1
    }
}

/// Sub-second jitter (0–49 ms) so creations look recorded, not scheduled.
fn jitter(rng: &mut Rng) -> TimeDelta {
    TimeDelta::milliseconds(rng.below(50) as i64)
}

/// The last two groups of a logon GUID: the logon id's bytes, little-endian.
fn logon_guid_tail(logon_id: u64) -> String {
    let bytes = logon_id.to_le_bytes();
    format!(
        "{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]
    )
}

/// Resolves `DOMAIN\name` to an account with a plausible SID.
pub fn account(text: &str, host: &HostInfo) -> Account {
    let (domain, name) = match text.split_once('\\') {
        Some((d, n)) => (d.to_string(), n.to_string()),
        None => (host.name.clone(), text.to_string()),
    };
    let upper_domain = domain.to_uppercase();
    let upper_name = name.to_uppercase();
    let sid = match (upper_domain.as_str(), upper_name.as_str()) {
        ("NT AUTHORITY", "SYSTEM") => "S-1-5-18".to_string(),
        ("NT AUTHORITY", "LOCAL SERVICE" | "LOCALSERVICE") => "S-1-5-19".to_string(),
        ("NT AUTHORITY", "NETWORK SERVICE" | "NETWORKSERVICE") => "S-1-5-20".to_string(),
        ("IIS APPPOOL" | "NT SERVICE", _) => {
            let mut rng = Rng::keyed(0, &format!("sid:{upper_domain}\\{upper_name}"));
            let prefix = if upper_domain == "NT SERVICE" {
                "S-1-5-80"
            } else {
                "S-1-5-82"
            };
            format!(
                "{prefix}-{}-{}-{}-{}-{}",
                rng.below(4_294_967_295),
                rng.below(4_294_967_295),
                rng.below(4_294_967_295),
                rng.below(4_294_967_295),
                rng.below(4_294_967_295)
            )
        }
        _ => {
            let rid_base = if upper_domain == host.name.to_uppercase() {
                1000
            } else {
                1100
            };
            let rid = rid_base + fnv1a(upper_name.as_bytes()) % 3000;
            format!("{}-{rid}", host.sid_prefix)
        }
    };
    Account { domain, name, sid }
}

/// Replaces `{parent_pid}`, `{n}`, `{hex8}`, `{hex16}` and `{guid}` in a profile command line.
fn fill(template: &str, rng: &mut Rng, parent_pid: u32) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out += &rest[..open];
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            out += after;
            return out;
        };
        let value = match &after[1..close] {
            "parent_pid" => Some(parent_pid.to_string()),
            "n" => Some((1 + rng.below(999)).to_string()),
            "hex8" => Some(rng.hex(8)),
            "hex16" => Some(rng.hex(16)),
            "guid" => {
                let h = rng.hex(32);
                Some(format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                ))
            }
            _ => None,
        };
        match value {
            Some(v) => out += &v,
            None => out += &after[..=close],
        }
        rest = &after[close + 1..];
    }
    out + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknown_ones_stay() {
        let mut rng = Rng::keyed(1, "t");
        let s = fill("-p {parent_pid} -s {n} {x} %Y", &mut rng, 744);
        assert!(s.starts_with("-p 744 -s "), "{s}");
        assert!(s.ends_with(" {x} %Y"), "{s}");
    }

    #[test]
    fn well_known_accounts_get_well_known_sids() {
        let host = HostInfo {
            name: "WEB01".into(),
            domain: Some("CORP".into()),
            fqdn: "web01.corp.local".into(),
            device_id: "0".repeat(40),
            machine_guid: "5aa13a44".into(),
            sid_prefix: "S-1-5-21-1-2-3".into(),
        };
        assert_eq!(account(r"NT AUTHORITY\SYSTEM", &host).sid, "S-1-5-18");
        assert!(
            account(r"IIS APPPOOL\DefaultAppPool", &host)
                .sid
                .starts_with("S-1-5-82-")
        );
        assert!(
            account(r"CORP\arcgis", &host)
                .sid
                .starts_with("S-1-5-21-1-2-3-")
        );
        assert_eq!(logon_guid_tail(0x529ae3), "e39a-520000000000");
    }
}
