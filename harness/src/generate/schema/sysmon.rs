//! Sysmon Event ID 1 (ProcessCreate), flattened with the Sigma taxonomy's field names.
//!
//! C is `Image`/`CommandLine`/`ProcessId`, P is `Parent*`; there is no grandparent. Values are
//! formatted as Sysmon writes them: `UtcTime` with milliseconds, braced GUIDs, `LogonId` in
//! hex, `IntegrityLevel` as a word, one `Hashes` string with upper-case digests.

use super::{Creation, fields, sysmon_time};
use crate::event::Fields;

/// Renders one creation.
pub fn render(c: &Creation<'_>) -> Fields {
    let child = c.child;
    let h = &child.hashes;
    let mut fields = fields! {
        "EventID" => 1i64,
        "Provider_Name" => "Microsoft-Windows-Sysmon",
        "Channel" => "Microsoft-Windows-Sysmon/Operational",
        "Computer" => c.host.fqdn.as_str(),
        "EventRecordID" => c.record as i64,
        "RuleName" => "-",
        "UtcTime" => sysmon_time(child.created),
        "ProcessGuid" => format!("{{{}}}", child.guid),
        "ProcessId" => child.pid,
        "Image" => child.image.as_str(),
        "FileVersion" => child.pe.file_version.as_str(),
        "Description" => child.pe.description.as_str(),
        "Product" => child.pe.product.as_str(),
        "Company" => child.pe.company.as_str(),
        "OriginalFileName" => child.pe.original_file_name.as_str(),
        "CommandLine" => child.command_line.as_str(),
        "CurrentDirectory" => child.current_directory.as_str(),
        "User" => child.user.qualified(),
        "LogonGuid" => format!("{{{}}}", child.logon_guid),
        "LogonId" => super::hex(child.logon_id),
        "TerminalSessionId" => child.session,
        "IntegrityLevel" => child.integrity.word(),
        "Hashes" => format!(
            "SHA1={},MD5={},SHA256={},IMPHASH={}",
            h.sha1.to_uppercase(),
            h.md5.to_uppercase(),
            h.sha256.to_uppercase(),
            h.imphash.to_uppercase()
        ),
    };
    match c.parent {
        Some(p) => fields.extend(fields! {
            "ParentProcessGuid" => format!("{{{}}}", p.guid),
            "ParentProcessId" => p.pid,
            "ParentImage" => p.image.as_str(),
            "ParentCommandLine" => p.command_line.as_str(),
            "ParentUser" => p.user.qualified(),
        }),
        None => fields.extend(fields! {
            "ParentProcessGuid" => "{00000000-0000-0000-0000-000000000000}",
            "ParentProcessId" => 0i64,
            "ParentImage" => "-",
            "ParentCommandLine" => "-",
            "ParentUser" => "-",
        }),
    }
    fields
}
