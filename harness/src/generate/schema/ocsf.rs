//! OCSF Process Activity (class 1007), activity Launch (type 100701).
//!
//! C is `process`, P is `actor.process` (with `actor.user`) and `process.parent_process`; the
//! ancestry list `process.ancestry` holds P then G. Times are milliseconds since the epoch;
//! the full path is in `process.file.path` and `process.path`, the bare name in `process.name`.

use super::{Creation, epoch_ms, fields, map};
use crate::event::{Fields, Value};
use crate::generate::tree::Process;

/// Renders one creation.
pub fn render(c: &Creation<'_>) -> Fields {
    let child = c.child;
    let mut process = entity(child);
    process.extend(fields! {
        "file" => map(file(child)),
        "integrity" => child.integrity.word(),
        "integrity_id" => child.integrity.ocsf_id(),
        "session" => map(fields! { "uid" => child.logon_id.to_string() }),
        "working_directory" => child.current_directory.as_str(),
    });
    if let Some(p) = c.parent {
        process.insert("parent_process".into(), map(entity(p)));
    }
    let ancestry: Vec<Value> = [c.parent, c.grandparent]
        .into_iter()
        .flatten()
        .map(|a| map(entity(a)))
        .collect();
    process.insert("ancestry".into(), Value::List(ancestry));
    let mut actor = Fields::default();
    if let Some(p) = c.parent {
        let mut acting = entity(p);
        acting.insert("file".into(), map(file(p)));
        if let Some(g) = c.grandparent {
            acting.insert("parent_process".into(), map(entity(g)));
        }
        actor.insert("process".into(), map(acting));
        actor.insert("user".into(), map(user(p)));
    }
    fields! {
        "activity_id" => 1i64,
        "activity_name" => "Launch",
        "category_uid" => 1i64,
        "category_name" => "System Activity",
        "class_uid" => 1007i64,
        "class_name" => "Process Activity",
        "type_uid" => 100701i64,
        "type_name" => "Process Activity: Launch",
        "severity_id" => 1i64,
        "severity" => "Informational",
        "time" => epoch_ms(child.created),
        "metadata" => map(fields! {
            "product" => map(fields! { "name" => "Sysmon", "vendor_name" => "Microsoft" }),
            "version" => "1.4.0",
            "uid" => c.record.to_string(),
        }),
        "device" => map(fields! {
            "hostname" => c.host.fqdn.as_str(),
            "name" => c.host.name.as_str(),
            "uid" => c.host.device_id.as_str(),
            "type_id" => 1i64,
            "type" => "Server",
            "os" => map(fields! { "name" => "Windows", "type_id" => 100i64, "type" => "Windows" }),
        }),
        "actor" => map(actor),
        "process" => map(process),
        "launch_type_id" => 1i64,
        "launch_type" => "Spawn",
    }
}

fn entity(p: &Process) -> Fields {
    fields! {
        "pid" => p.pid,
        "uid" => format!("{{{}}}", p.guid),
        "name" => p.file_name.as_str(),
        "path" => p.image.as_str(),
        "cmd_line" => p.command_line.as_str(),
        "created_time" => epoch_ms(p.created),
        "user" => map(user(p)),
    }
}

fn user(p: &Process) -> Fields {
    fields! {
        "name" => p.user.name.as_str(),
        "domain" => p.user.domain.as_str(),
        "uid" => p.user.sid.as_str(),
        "type_id" => if p.user.is_builtin_service() { 3i64 } else { 1i64 },
    }
}

fn file(p: &Process) -> Fields {
    fields! {
        "name" => p.file_name.as_str(),
        "path" => p.image.as_str(),
        "type_id" => 8i64,
        "internal_name" => p.pe.original_file_name.as_str(),
        "company_name" => p.pe.company.as_str(),
        "version" => p.pe.file_version.as_str(),
        "hashes" => Value::List(vec![
            map(fields! { "algorithm_id" => 1i64, "algorithm" => "MD5", "value" => p.hashes.md5.as_str() }),
            map(fields! { "algorithm_id" => 2i64, "algorithm" => "SHA-1", "value" => p.hashes.sha1.as_str() }),
            map(fields! { "algorithm_id" => 3i64, "algorithm" => "SHA-256", "value" => p.hashes.sha256.as_str() }),
            map(fields! { "algorithm_id" => 18i64, "algorithm" => "Imphash", "value" => p.hashes.imphash.as_str() }),
        ]),
    }
}
