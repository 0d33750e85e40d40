//! A hand-built report for the writers' golden tests: every status, a load error, a portability gap.

use super::*;
use serde_json::json;

fn rule(key: &str, slug: &str, title: &str, language: Language, schemas: &[LogSchema]) -> RuleInfo {
    RuleInfo {
        key: key.into(),
        slug: slug.into(),
        title: title.into(),
        id: Some(key.into()),
        name: None,
        language,
        path: format!(
            "fixtures/rules/{}/{slug}.{}",
            language,
            match language {
                Language::Sigma => "yml",
                Language::Kql => "kql",
            }
        ),
        author: Some("Micah Babinski".into()),
        level: Some("high".into()),
        techniques: vec!["T1059".into()],
        reads: match language {
            Language::Sigma => "windows/process_creation".into(),
            Language::Kql => "imProcessCreate".into(),
        },
        schemas: schemas.to_vec(),
        diagnostics: Vec::new(),
    }
}

fn event(
    schema: LogSchema,
    index: usize,
    node: &str,
    image: &str,
    command_line: &str,
) -> EventRecord {
    EventRecord {
        schema,
        index,
        node: node.into(),
        benign: false,
        fields: json!({
            "Image": image,
            "CommandLine": command_line,
            "ParentImage": "C:\\Program Files\\ArcGIS\\Server\\framework\\runtime\\ArcSOC.exe",
        }),
    }
}

fn rendering(
    schema: LogSchema,
    status: Status,
    fired_on: &[&str],
    events: &[usize],
) -> RenderingReport {
    RenderingReport {
        schema,
        status,
        matches: events.len(),
        fired_on: fired_on.iter().map(|s| s.to_string()).collect(),
        events: events.to_vec(),
        reason: None,
        explain: Vec::new(),
    }
}

/// A report with two scenarios, four rules (one broken) and one check of every status.
pub(crate) fn report() -> RunReport {
    let arcsoc = "8e95e73e-ba02-4a87-b4d7-0929b8053038";
    let arcsoc_kql = "suspicious-arcsoc-child-process";
    let webshell = "7fdc5f4a-700d-4713-abfc-181f02968726";
    let mut broken = rule(
        "fixtures/rules/sigma/broken.yml",
        "broken",
        "broken.yml",
        Language::Sigma,
        &[],
    );
    broken.id = None;
    broken.author = None;
    broken.level = None;
    broken.techniques.clear();
    broken.diagnostics.push(
        Diagnostic::error("SIG0007", "unknown modifier `endwith`")
            .at(
                "fixtures/rules/sigma/broken.yml",
                "detection:\n  sel:\n    Image|endwith: x\n",
                crate::diag::Span::new(27, 34),
            )
            .with_help("did you mean `endswith`?"),
    );
    let mut defender = rule(
        webshell,
        "detect-suspicious-commands-initiated-by-web-server-processes",
        "detect-suspicious-commands-initiated-by-web-server-processes",
        Language::Kql,
        &[LogSchema::Mde],
    );
    defender.author = None;
    defender.level = None;
    defender.reads = "DeviceProcessEvents".into();
    defender.techniques = vec!["T1505.003".into()];

    let mut sysmon_ok = rendering(LogSchema::Sysmon, Status::Pass, &["ps"], &[0]);
    sysmon_ok.explain.push(Explanation {
        event: Some(0),
        node: "ps".into(),
        matched: true,
        trace: "selection: true\n  ParentImage|endswith '\\ArcSOC.exe': true\n  Image|endswith '\\powershell.exe': true\nnot 1 of filter_main_*: true".into(),
    });
    let mut audit_gap = rendering(LogSchema::Security4688, Status::Fail, &[], &[]);
    audit_gap.reason = Some("expected fires on [ps], fired on nothing".into());
    audit_gap.explain.push(Explanation {
        event: Some(2),
        node: "ps".into(),
        matched: false,
        trace: "selection: false\n  ParentImage|endswith '\\ArcSOC.exe': false (field absent)"
            .into(),
    });
    let mut too_much = rendering(LogSchema::Asim, Status::Fail, &["ps", "who"], &[3, 4]);
    too_much.reason = Some("expected fires on [ps], also fired on [who]".into());
    too_much.explain.push(Explanation {
        event: Some(4),
        node: "who".into(),
        matched: true,
        trace: "where ActingProcessName endswith \"\\\\ArcSOC.exe\": true".into(),
    });

    let arcsoc_scenario = ScenarioReport {
        file: "scenarios/arcgis/arcsoc_powershell.yaml".into(),
        slug: "arcgis/arcsoc_powershell".into(),
        name: "ArcGIS Server SOE web shell launches PowerShell".into(),
        description: "A malicious Server Object Extension makes ArcSOC.exe run commands.".into(),
        skipped: None,
        techniques: vec!["T1190".into(), "T1059.001".into()],
        diagnostics: Vec::new(),
        events: vec![
            event(
                LogSchema::Sysmon,
                3,
                "ps",
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "powershell.exe -nop -w hidden -enc SQBFAFgA",
            ),
            event(
                LogSchema::Sysmon,
                4,
                "who",
                "C:\\Windows\\System32\\whoami.exe",
                "whoami /all",
            ),
            event(
                LogSchema::Security4688,
                3,
                "ps",
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "powershell.exe -nop -w hidden -enc SQBFAFgA",
            ),
            event(
                LogSchema::Asim,
                3,
                "ps",
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "powershell.exe -nop -w hidden -enc SQBFAFgA",
            ),
            event(
                LogSchema::Asim,
                4,
                "who",
                "C:\\Windows\\System32\\whoami.exe",
                "whoami /all",
            ),
        ],
        checks: vec![
            CheckReport {
                note: None,
                rule: arcsoc.into(),
                diagnostics: Vec::new(),
                expected: Some(Expected::FiresOn {
                    nodes: vec!["ps".into()],
                }),
                status: Status::Warn,
                message: "holds on sysmon but not on security4688".into(),
                renderings: vec![sysmon_ok, audit_gap],
            },
            CheckReport {
                note: None,
                rule: arcsoc_kql.into(),
                diagnostics: Vec::new(),
                expected: Some(Expected::FiresOn {
                    nodes: vec!["ps".into()],
                }),
                status: Status::Fail,
                message: "expected fires on [ps], also fired on [who]".into(),
                renderings: vec![too_much],
            },
            CheckReport {
                note: None,
                rule: webshell.into(),
                diagnostics: Vec::new(),
                expected: Some(Expected::Quiet),
                status: Status::Pass,
                message: "quiet as expected".into(),
                renderings: vec![rendering(LogSchema::Mde, Status::Pass, &[], &[])],
            },
            CheckReport {
                note: None,
                rule: "fixtures/rules/sigma/broken.yml".into(),
                diagnostics: Vec::new(),
                expected: None,
                status: Status::NotApplicable,
                message: "the rule did not load".into(),
                renderings: Vec::new(),
            },
        ],
    };
    let iis_scenario = ScenarioReport {
        file: "scenarios/iis/webshell_whoami.yaml".into(),
        slug: "iis/webshell_whoami".into(),
        name: "IIS web shell runs whoami".into(),
        description: String::new(),
        skipped: None,
        techniques: vec!["T1505.003".into(), "T1033".into()],
        diagnostics: Vec::new(),
        events: vec![event(
            LogSchema::Mde,
            2,
            "who",
            "C:\\Windows\\System32\\whoami.exe",
            "cmd.exe /c whoami",
        )],
        checks: vec![
            CheckReport {
                note: None,
                rule: arcsoc.into(),
                diagnostics: Vec::new(),
                expected: None,
                status: Status::Silent,
                message: "did not fire".into(),
                renderings: vec![
                    rendering(LogSchema::Sysmon, Status::Silent, &[], &[]),
                    rendering(LogSchema::Security4688, Status::Silent, &[], &[]),
                ],
            },
            CheckReport {
                note: None,
                rule: webshell.into(),
                diagnostics: Vec::new(),
                expected: Some(Expected::Fires),
                status: Status::Pass,
                message: "fired on [who]".into(),
                renderings: vec![rendering(LogSchema::Mde, Status::Pass, &["who"], &[0])],
            },
            CheckReport {
                note: None,
                rule: arcsoc_kql.into(),
                diagnostics: Vec::new(),
                expected: None,
                status: Status::Warn,
                message: "fired without an expectation on [who]".into(),
                renderings: vec![RenderingReport {
                    matches: 1,
                    ..rendering(LogSchema::Asim, Status::Warn, &["who"], &[])
                }],
            },
        ],
    };
    let broken_scenario = ScenarioReport {
        file: "scenarios/broken.yaml".into(),
        slug: "broken".into(),
        name: "broken".into(),
        description: String::new(),
        skipped: None,
        techniques: Vec::new(),
        diagnostics: vec![
            Diagnostic::error("SCN0001", "unknown key `procesess`")
                .at(
                    "scenarios/broken.yaml",
                    "format_version: 1\nprocesess: []\n",
                    crate::diag::Span::new(18, 27),
                )
                .with_help("did you mean `processes`?"),
        ],
        events: Vec::new(),
        checks: Vec::new(),
    };
    let mut report = RunReport {
        format_version: FORMAT_VERSION,
        tool: "firedrill 0.1.0".into(),
        generated_at: None,
        seed: 42,
        summary: Summary::default(),
        rules: vec![
            rule(
                arcsoc,
                "proc_creation_win_arcsoc_susp_child_process",
                "Suspicious ArcSOC.exe Child Process",
                Language::Sigma,
                &[LogSchema::Sysmon, LogSchema::Security4688],
            ),
            rule(
                arcsoc_kql,
                arcsoc_kql,
                arcsoc_kql,
                Language::Kql,
                &[LogSchema::Asim],
            ),
            defender,
            broken,
        ],
        scenarios: vec![arcsoc_scenario, iis_scenario, broken_scenario],
        coverage: Coverage {
            required: false,
            untested: vec!["fixtures/rules/sigma/broken.yml".into()],
            only_positive: vec![arcsoc.into(), arcsoc_kql.into()],
            only_negative: Vec::new(),
        },
        diagnostics: Vec::new(),
        baseline: None,
    };
    report.summarize();
    report
}
