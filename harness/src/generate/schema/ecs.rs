//! Elastic Common Schema, as Winlogbeat's Sysmon module writes event 1 after Elastic's ingest pipeline.
//!
//! C is `process.*`, P is `process.parent.*`; ECS has no grandparent. As in Elastic's golden
//! files: hashes move to lower-case `process.hash.*`, `User` splits into `user.domain` and
//! `user.name` (with `user.id` the Sysmon service's SID, a known pipeline quirk), GUIDs are
//! upper case, and integrity, logon and version fields stay as strings in `winlog.event_data`.

use super::{Creation, argv, fields, iso, map, strings};
use crate::event::{Fields, Value};
use crate::generate::tree::Process;

/// Renders one creation.
pub fn render(c: &Creation<'_>) -> Fields {
    let child = c.child;
    let mut process = fields! {
        "args" => strings(argv(&child.command_line)),
        "args_count" => argv(&child.command_line).len() as i64,
        "command_line" => child.command_line.as_str(),
        "entity_id" => format!("{{{}}}", child.guid.to_uppercase()),
        "executable" => child.image.as_str(),
        "hash" => map(fields! {
            "md5" => child.hashes.md5.as_str(),
            "sha1" => child.hashes.sha1.as_str(),
            "sha256" => child.hashes.sha256.as_str(),
        }),
        "name" => child.file_name.as_str(),
    };
    if let Some(p) = c.parent {
        process.insert("parent".into(), map(parent(p)));
    }
    process.extend(fields! {
        "pe" => map(fields! {
            "company" => child.pe.company.as_str(),
            "description" => child.pe.description.as_str(),
            "file_version" => child.pe.file_version.as_str(),
            "imphash" => child.hashes.imphash.as_str(),
            "original_file_name" => child.pe.original_file_name.as_str(),
            "product" => child.pe.product.as_str(),
        }),
        "pid" => child.pid,
        "working_directory" => child.current_directory.as_str(),
    });
    let mut event_data = fields! {
        "Company" => child.pe.company.as_str(),
        "Description" => child.pe.description.as_str(),
        "FileVersion" => child.pe.file_version.as_str(),
        "IntegrityLevel" => child.integrity.word(),
        "LogonGuid" => format!("{{{}}}", child.logon_guid.to_uppercase()),
        "LogonId" => super::hex(child.logon_id),
    };
    if let Some(p) = c.parent {
        event_data.insert("ParentUser".into(), Value::from(p.user.qualified()));
    }
    event_data.extend(fields! {
        "Product" => child.pe.product.as_str(),
        "RuleName" => "-",
        "TerminalSessionId" => child.session.to_string(),
    });
    fields! {
        "@timestamp" => iso(child.created),
        "event" => map(fields! {
            "action" => "Process creation",
            "category" => strings(["process"]),
            "code" => "1",
            "created" => iso(child.created),
            "kind" => "event",
            "module" => "sysmon",
            "provider" => "Microsoft-Windows-Sysmon",
            "type" => strings(["start"]),
        }),
        "host" => map(fields! { "name" => c.host.fqdn.as_str(), "os" => map(fields! { "type" => "windows" }) }),
        "log" => map(fields! { "level" => "information" }),
        "process" => map(process),
        "related" => map(fields! {
            "hash" => strings([
                child.hashes.sha1.as_str(),
                child.hashes.md5.as_str(),
                child.hashes.sha256.as_str(),
                child.hashes.imphash.as_str(),
            ]),
            "user" => strings([child.user.name.as_str()]),
        }),
        "user" => map(fields! {
            "domain" => child.user.domain.as_str(),
            "id" => "S-1-5-18",
            "name" => child.user.name.as_str(),
        }),
        "winlog" => map(fields! {
            "api" => "wineventlog",
            "channel" => "Microsoft-Windows-Sysmon/Operational",
            "computer_name" => c.host.fqdn.as_str(),
            "event_data" => map(event_data),
            "event_id" => "1",
            "opcode" => "Info",
            "provider_guid" => "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
            "provider_name" => "Microsoft-Windows-Sysmon",
            "record_id" => c.record.to_string(),
            "task" => "Process Create (rule: ProcessCreate)",
            "user" => map(fields! {
                "domain" => "NT AUTHORITY",
                "identifier" => "S-1-5-18",
                "name" => "SYSTEM",
                "type" => "User",
            }),
            "version" => 5i64,
        }),
    }
}

fn parent(p: &Process) -> Fields {
    fields! {
        "args" => strings(argv(&p.command_line)),
        "args_count" => argv(&p.command_line).len() as i64,
        "command_line" => p.command_line.as_str(),
        "entity_id" => format!("{{{}}}", p.guid.to_uppercase()),
        "executable" => p.image.as_str(),
        "name" => p.file_name.as_str(),
        "pid" => p.pid,
    }
}
