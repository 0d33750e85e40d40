//! Windows Security event 4688 (version 2), as the Security channel records it.
//!
//! C is `NewProcessName`/`NewProcessId`/`CommandLine`; P is `ParentProcessName` and `ProcessId`,
//! and its account is the `Subject*` creator (SYSTEM shows as the machine account). No parent
//! command line, no hashes, no grandparent. Pids are `0x` hex strings, integrity a mandatory
//! label SID, elevation a `%%193x` code. `Target*` are filled only when C runs as another user.

use super::{Creation, fields, hex, subject_name};
use crate::event::Fields;

/// Renders one creation.
pub fn render(c: &Creation<'_>) -> Fields {
    let child = c.child;
    let mut fields = fields! {
        "EventID" => 4688i64,
        "Provider_Name" => "Microsoft-Windows-Security-Auditing",
        "Channel" => "Security",
        "Computer" => c.host.fqdn.as_str(),
        "EventRecordID" => c.record as i64,
    };
    let (subject_sid, subject_name, subject_domain, subject_logon) = match c.parent {
        Some(p) => {
            let (name, domain) = subject_name(p, c.host);
            (p.user.sid.clone(), name, domain, p.logon_id)
        }
        None => (
            "S-1-5-18".to_string(),
            format!("{}$", c.host.name),
            "-".to_string(),
            0x3e7,
        ),
    };
    fields.extend(fields! {
        "SubjectUserSid" => subject_sid,
        "SubjectUserName" => subject_name,
        "SubjectDomainName" => subject_domain,
        "SubjectLogonId" => hex(subject_logon),
        "NewProcessId" => hex(u64::from(child.pid)),
        "NewProcessName" => child.image.as_str(),
        "TokenElevationType" => child.elevation.code(),
        "ProcessId" => hex(u64::from(c.parent.map_or(0, |p| p.pid))),
        "CommandLine" => child.command_line.as_str(),
    });
    let same_user = c.parent.is_some_and(|p| p.user == child.user);
    if same_user {
        fields.extend(fields! {
            "TargetUserSid" => "S-1-0-0",
            "TargetUserName" => "-",
            "TargetDomainName" => "-",
            "TargetLogonId" => "0x0",
        });
    } else {
        fields.extend(fields! {
            "TargetUserSid" => child.user.sid.as_str(),
            "TargetUserName" => child.user.name.as_str(),
            "TargetDomainName" => child.user.domain.as_str(),
            "TargetLogonId" => hex(child.logon_id),
        });
    }
    fields.extend(fields! {
        "ParentProcessName" => c.parent.map_or("", |p| p.image.as_str()),
        "MandatoryLabel" => child.integrity.sid(),
    });
    fields
}
