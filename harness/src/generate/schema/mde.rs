//! Microsoft Defender XDR `DeviceProcessEvents`, one `ProcessCreated` row.
//!
//! C is `FileName`, `FolderPath` (the full path, file name included, as Defender stores it and as
//! pySigma's `Image → FolderPath` mapping assumes) and `Process*`; P is `InitiatingProcess*`;
//! G appears only as `InitiatingProcessParentFileName`, `…ParentId` and `…ParentCreationTime`.
//! Account names and domains are lower case, as Defender stores them.

use super::{Creation, fields, iso};
use crate::event::{Fields, Value};
use crate::generate::tree::Process;

/// Renders one creation.
pub fn render(c: &Creation<'_>) -> Fields {
    let child = c.child;
    let mut fields = fields! {
        "Timestamp" => iso(child.created),
        "DeviceId" => c.host.device_id.as_str(),
        "DeviceName" => c.host.fqdn.to_lowercase(),
        "ActionType" => "ProcessCreated",
        "FileName" => child.file_name.as_str(),
        "FolderPath" => child.image.as_str(),
        "SHA1" => child.hashes.sha1.as_str(),
        "SHA256" => child.hashes.sha256.as_str(),
        "MD5" => child.hashes.md5.as_str(),
        "FileSize" => child.file_size,
        "ProcessVersionInfoCompanyName" => dash_to_empty(&child.pe.company),
        "ProcessVersionInfoProductName" => dash_to_empty(&child.pe.product),
        "ProcessVersionInfoProductVersion" => dash_to_empty(version(&child.pe.file_version)),
        "ProcessVersionInfoInternalFileName" => dash_to_empty(&child.pe.original_file_name),
        "ProcessVersionInfoOriginalFileName" => dash_to_empty(&child.pe.original_file_name),
        "ProcessVersionInfoFileDescription" => dash_to_empty(&child.pe.description),
        "ProcessId" => child.pid,
        "ProcessCommandLine" => child.command_line.as_str(),
        "ProcessIntegrityLevel" => child.integrity.word(),
        "ProcessTokenElevation" => child.elevation.word(),
        "ProcessCreationTime" => iso(child.created),
        "AccountDomain" => child.user.domain.to_lowercase(),
        "AccountName" => child.user.name.to_lowercase(),
        "AccountSid" => child.user.sid.as_str(),
        "AccountUpn" => "",
        "AccountObjectId" => "",
        "LogonId" => child.logon_id as i64,
    };
    if let Some(p) = c.parent {
        fields.extend(initiating(p))
    }
    fields.extend(fields! {
        "InitiatingProcessParentId" => c.grandparent.map_or(Value::Null, |g| Value::from(g.pid)),
        "InitiatingProcessParentFileName" => c.grandparent.map_or(Value::Null, |g| Value::from(g.file_name.as_str())),
        "InitiatingProcessParentCreationTime" => c.grandparent.map_or(Value::Null, |g| Value::from(iso(g.created))),
        "InitiatingProcessSignerType" => c.parent.map_or("", |p| signer(p)),
        "InitiatingProcessSignatureStatus" => "Valid",
        "ReportId" => c.record as i64,
        "AppGuardContainerId" => "",
        "AdditionalFields" => "",
        "InitiatingProcessSessionId" => c.parent.map_or(0, |p| p.session),
        "IsInitiatingProcessRemoteSession" => false,
        "InitiatingProcessRemoteSessionDeviceName" => "",
        "InitiatingProcessRemoteSessionIP" => "",
        "CreatedProcessSessionId" => child.session,
        "IsProcessRemoteSession" => false,
        "ProcessRemoteSessionDeviceName" => "",
        "ProcessRemoteSessionIP" => "",
    });
    fields
}

fn initiating(p: &Process) -> Fields {
    fields! {
        "InitiatingProcessAccountDomain" => p.user.domain.to_lowercase(),
        "InitiatingProcessAccountName" => p.user.name.to_lowercase(),
        "InitiatingProcessAccountSid" => p.user.sid.as_str(),
        "InitiatingProcessAccountUpn" => "",
        "InitiatingProcessAccountObjectId" => "",
        "InitiatingProcessLogonId" => p.logon_id as i64,
        "InitiatingProcessIntegrityLevel" => p.integrity.word(),
        "InitiatingProcessTokenElevation" => p.elevation.word(),
        "InitiatingProcessSHA1" => p.hashes.sha1.as_str(),
        "InitiatingProcessSHA256" => p.hashes.sha256.as_str(),
        "InitiatingProcessMD5" => p.hashes.md5.as_str(),
        "InitiatingProcessFileName" => p.file_name.as_str(),
        "InitiatingProcessFileSize" => p.file_size,
        "InitiatingProcessVersionInfoCompanyName" => dash_to_empty(&p.pe.company),
        "InitiatingProcessVersionInfoProductName" => dash_to_empty(&p.pe.product),
        "InitiatingProcessVersionInfoProductVersion" => dash_to_empty(version(&p.pe.file_version)),
        "InitiatingProcessVersionInfoInternalFileName" => dash_to_empty(&p.pe.original_file_name),
        "InitiatingProcessVersionInfoOriginalFileName" => dash_to_empty(&p.pe.original_file_name),
        "InitiatingProcessVersionInfoFileDescription" => dash_to_empty(&p.pe.description),
        "InitiatingProcessId" => p.pid,
        "InitiatingProcessCommandLine" => p.command_line.as_str(),
        "InitiatingProcessCreationTime" => iso(p.created),
        "InitiatingProcessFolderPath" => p.image.as_str(),
    }
}

/// Defender reports the product version without the build-branch suffix.
fn version(file_version: &str) -> &str {
    file_version.split(' ').next().unwrap_or(file_version)
}

fn dash_to_empty(text: &str) -> &str {
    if text == "-" { "" } else { text }
}

fn signer(p: &Process) -> &'static str {
    if p.pe.company == "Microsoft Corporation" {
        "OsVendor"
    } else {
        "ThirdParty"
    }
}
