//! Microsoft Sentinel ASIM `imProcessCreate` (Process Event schema 0.1.4), one `ProcessCreated` row.
//!
//! C is `TargetProcess*` (and the target user), P is `ActingProcess*` (and the actor), G is
//! `ParentProcess*`, filled only when the emulated source is Defender, whose parser copies
//! `InitiatingProcessParentFileName` (a bare file name) into `ParentProcessName`. The Sysmon and
//! Security-event parsers leave `ParentProcess*` out. Emulated from Security events, the actor is
//! 4688's creator, a SYSTEM one named by the machine account. Ids are strings, as ASIM types
//! them.

use super::{Creation, fields, iso, subject_name};
use crate::event::Fields;
use crate::generate::AsimSource;

/// Renders one creation.
pub fn render(c: &Creation<'_>) -> Fields {
    let child = c.child;
    let source = c.timeline.options.asim_source;
    let (product, original_type) = match source {
        AsimSource::Defender => ("M365 Defender for Endpoint", "ProcessCreated"),
        AsimSource::Sysmon => ("Sysmon", "1"),
        AsimSource::SecurityEvent => ("Security Events", "4688"),
    };
    let time = iso(child.created);
    let short = c.host.name.as_str();
    let mut fields = fields! {
        "TimeGenerated" => time.as_str(),
        "EventCount" => 1i64,
        "EventStartTime" => time.as_str(),
        "EventEndTime" => time.as_str(),
        "EventType" => "ProcessCreated",
        "EventResult" => "Success",
        "EventProduct" => product,
        "EventVendor" => "Microsoft",
        "EventSchema" => "ProcessEvent",
        "EventSchemaVersion" => "0.1.4",
        "EventOriginalType" => original_type,
        "Dvc" => short,
        "DvcHostname" => short,
        "DvcDomain" => c.host.domain.clone().unwrap_or_default(),
        "DvcDomainType" => if c.host.domain.is_some() { "Windows" } else { "" },
        "DvcFQDN" => c.host.fqdn.as_str(),
        "DvcOs" => "Windows",
    };
    if source == AsimSource::Defender {
        fields.extend(fields! {
            "DvcId" => c.host.device_id.as_str(),
            "DvcIdType" => "MDEid",
        });
    }
    // The Security-event parser reads the actor from 4688's `Subject*`, which names a SYSTEM
    // creator by the machine account (`CORP\GIS01$`); the target is the actor unless the new
    // process runs as another user.
    let actor = c.parent.map(|p| match source {
        AsimSource::SecurityEvent => {
            let (name, domain) = subject_name(p, c.host);
            format!("{domain}\\{name}")
        }
        _ => p.user.qualified(),
    });
    let target = match (&actor, c.parent) {
        (Some(actor), Some(p)) if source == AsimSource::SecurityEvent && p.user == child.user => {
            actor.clone()
        }
        _ => child.user.qualified(),
    };
    if let (Some(p), Some(actor)) = (c.parent, &actor) {
        fields.extend(fields! {
            "ActorUsername" => actor.as_str(),
            "ActorUsernameType" => "Windows",
            "ActorUserId" => p.user.sid.as_str(),
            "ActorUserIdType" => "SID",
            "ActorSessionId" => p.logon_id.to_string(),
            "ActingProcessName" => p.image.as_str(),
            "ActingProcessCommandLine" => if source == AsimSource::SecurityEvent { "" } else { p.command_line.as_str() },
            "ActingProcessId" => p.pid.to_string(),
        });
        match source {
            AsimSource::Defender => fields.extend(fields! {
                "ActingProcessFilename" => p.file_name.as_str(),
                "ActingProcessCreationTime" => iso(p.created),
                "ActingProcessIntegrityLevel" => p.integrity.word(),
                "ActingProcessTokenElevation" => p.elevation.word(),
                "ActingProcessMD5" => p.hashes.md5.as_str(),
                "ActingProcessSHA1" => p.hashes.sha1.as_str(),
                "ActingProcessSHA256" => p.hashes.sha256.as_str(),
            }),
            AsimSource::Sysmon => fields.extend(fields! {
                "ActingProcessGuid" => p.guid.to_uppercase(),
            }),
            AsimSource::SecurityEvent => {}
        }
    }
    if source == AsimSource::Defender
        && let Some(g) = c.grandparent
    {
        fields.extend(fields! {
            "ParentProcessName" => g.file_name.as_str(),
            "ParentProcessId" => g.pid.to_string(),
            "ParentProcessCreationTime" => iso(g.created),
        });
    }
    let target_filename = match source {
        AsimSource::Sysmon => child.pe.original_file_name.as_str(),
        _ => child.file_name.as_str(),
    };
    fields.extend(fields! {
        "TargetUsername" => target.as_str(),
        "TargetUsernameType" => "Windows",
        "TargetUserId" => child.user.sid.as_str(),
        "TargetUserIdType" => "SID",
        "TargetUserSessionId" => child.logon_id.to_string(),
        "TargetProcessName" => child.image.as_str(),
        "TargetProcessFilename" => target_filename,
        "TargetProcessCommandLine" => child.command_line.as_str(),
        "TargetProcessId" => child.pid.to_string(),
        "TargetProcessCreationTime" => time.as_str(),
        "TargetProcessIntegrityLevel" => match source {
            AsimSource::SecurityEvent => format!("{} integrity", child.integrity.word()),
            _ => child.integrity.word().to_string(),
        },
        "TargetProcessTokenElevation" => child.elevation.word(),
    });
    match source {
        AsimSource::Defender => fields.extend(fields! {
            "TargetProcessMD5" => child.hashes.md5.as_str(),
            "TargetProcessSHA1" => child.hashes.sha1.as_str(),
            "TargetProcessSHA256" => child.hashes.sha256.as_str(),
            "TargetProcessFileCompany" => child.pe.company.as_str(),
            "TargetProcessFileDescription" => child.pe.description.as_str(),
            "TargetProcessFileProduct" => child.pe.product.as_str(),
            "TargetProcessFileVersion" => child.pe.file_version.as_str(),
            "TargetProcessFileOriginalName" => child.pe.original_file_name.as_str(),
            "Hash" => child.hashes.sha256.as_str(),
            "HashType" => "SHA256",
        }),
        AsimSource::Sysmon => fields.extend(fields! {
            "TargetProcessGuid" => child.guid.to_uppercase(),
            "TargetProcessCurrentDirectory" => child.current_directory.as_str(),
            "TargetProcessMD5" => child.hashes.md5.to_uppercase(),
            "TargetProcessSHA1" => child.hashes.sha1.to_uppercase(),
            "TargetProcessSHA256" => child.hashes.sha256.to_uppercase(),
            "TargetProcessIMPHASH" => child.hashes.imphash.to_uppercase(),
            "TargetProcessFileCompany" => child.pe.company.as_str(),
            "TargetProcessFileDescription" => child.pe.description.as_str(),
            "TargetProcessFileProduct" => child.pe.product.as_str(),
            "TargetProcessFileVersion" => child.pe.file_version.as_str(),
            "TargetProcessFileOriginalName" => child.pe.original_file_name.as_str(),
            "Hash" => child.hashes.sha256.to_uppercase(),
            "HashType" => "SHA256",
        }),
        AsimSource::SecurityEvent => {}
    }
    fields.extend(fields! {
        "User" => target.as_str(),
        "Process" => child.image.as_str(),
        "CommandLine" => child.command_line.as_str(),
    });
    fields
}
