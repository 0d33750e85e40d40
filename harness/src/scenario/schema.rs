//! A JSON Schema (draft 2020-12) of the scenario format, for editors that validate YAML.

use serde_json::{Value, json};

/// The JSON Schema of scenario files, as printed by `firedrill schema scenario`.
pub fn json_schema() -> Value {
    let offset = json!({
        "type": "string",
        "pattern": "^\\+?([0-9]+(ms|s|m|h|d))+$",
        "description": "an offset such as +2s, +1m30s, +500ms, +1h, +8d"
    });
    let names = json!({
        "oneOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } }
        ]
    });
    let hex = |n: usize| json!({ "type": "string", "pattern": format!("^[0-9A-Fa-f]{{{n}}}$") });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/firedrill-dev/firedrill/docs/scenario-format.md",
        "title": "firedrill scenario",
        "description": "A synthetic attack (or benign day) as process trees on hosts, with per-rule expectations.",
        "type": "object",
        "additionalProperties": false,
        "required": ["format_version", "name", "start", "processes"],
        "oneOf": [ { "required": ["host"] }, { "required": ["hosts"] } ],
        "properties": {
            "format_version": { "const": 1 },
            "name": { "type": "string", "minLength": 1 },
            "description": { "type": "string" },
            "attack": {
                "type": "array",
                "items": { "type": "string", "pattern": "^T[0-9]{4}(\\.[0-9]{3})?$" }
            },
            "host": { "$ref": "#/$defs/host" },
            "hosts": { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/host" } },
            "start": { "type": "string", "description": "RFC 3339, such as 2025-11-20T09:00:00Z" },
            "duration": offset,
            "background": names,
            "processes": { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/process" } },
            "expect": { "type": "array", "items": { "$ref": "#/$defs/expectation" } },
            "skip": { "type": "string" }
        },
        "$defs": {
            "host": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name"],
                "properties": {
                    "name": { "type": "string" },
                    "domain": { "type": "string" },
                    "fqdn": { "type": "string" },
                    "background": names
                }
            },
            "process": {
                "type": "object",
                "additionalProperties": false,
                "required": ["id", "image"],
                "properties": {
                    "id": { "type": "string", "pattern": "^[A-Za-z0-9_.-]+$" },
                    "image": {
                        "type": "string",
                        "pattern": "^([A-Za-z]:\\\\|\\\\\\\\)",
                        "description": "full Windows path of the image"
                    },
                    "command_line": { "type": "string" },
                    "user": { "type": "string", "description": "DOMAIN\\name" },
                    "integrity": {
                        "enum": ["untrusted", "low", "medium", "high", "system", "protected",
                                 "Untrusted", "Low", "Medium", "High", "System", "Protected"]
                    },
                    "pid": { "type": "integer", "minimum": 0, "maximum": 4294967295u64 },
                    "current_directory": { "type": "string" },
                    "original_file_name": { "type": "string" },
                    "hashes": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "md5": hex(32), "sha1": hex(40), "sha256": hex(64), "imphash": hex(32)
                        }
                    },
                    "at": offset,
                    "benign": { "type": "boolean" },
                    "emit": { "type": "boolean" },
                    "host": { "type": "string" },
                    "children": { "type": "array", "items": { "$ref": "#/$defs/process" } }
                }
            },
            "expectation": {
                "type": "object",
                "additionalProperties": false,
                "required": ["rule"],
                "properties": {
                    "rule": { "type": "string", "description": "rule id, title or name" },
                    "fires_on": { "type": "array", "minItems": 1, "items": { "type": "string" } },
                    "fires": { "const": true },
                    "count": { "type": "integer", "minimum": 0 },
                    "quiet": { "const": true },
                    "note": { "type": "string" }
                },
                "oneOf": [
                    { "required": ["fires_on"] },
                    { "required": ["fires"] },
                    { "required": ["count"] },
                    { "required": ["quiet"] }
                ]
            }
        }
    })
}
