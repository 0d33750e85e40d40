//! Synthesises a large Sysmon EID 1 EVTX file from SigmaHQ's one-record regression samples.
//!
//! Each sample is one chunk holding one record whose BinXML defines two templates inline (the
//! System part and the EventData part). A chunk's templates can be instantiated by any later
//! record of the same chunk, so a full chunk is built from one sample: its first record as
//! written (with the definitions), then records that refer back to those definitions and carry
//! new substitution values (record id, time, image, command line, parent). Chunk and file
//! headers get their counters and CRC32s, so the `evtx` crate reads the result like a real log.

use std::path::Path;

const CHUNK: usize = 65536;
const CHUNK_HEADER: usize = 512;

/// The EventData fields of Sysmon EID 1, in substitution order.
const SYSMON_1_FIELDS: [&str; 23] = [
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "OriginalFileName",
    "CommandLine",
    "CurrentDirectory",
    "User",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "IntegrityLevel",
    "Hashes",
    "ParentProcessGuid",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
    "ParentUser",
];

/// One substitution: its value type and bytes.
#[derive(Clone)]
struct Sub {
    kind: u8,
    bytes: Vec<u8>,
}

/// A template instance: the bytes before the definition, the definition, the substitutions.
#[derive(Clone)]
struct Instance {
    head: Vec<u8>,
    definition: Vec<u8>,
    subs: Vec<Sub>,
    tail: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Parses `0f 01 01 00 | 0c ?? id(4) def_offset(4) | next(4) guid(16) size(4) def | n(4) descs values`.
fn parse_instance(b: &[u8]) -> Instance {
    assert_eq!(
        &b[..5],
        &[0x0f, 0x01, 0x01, 0x00, 0x0c],
        "a template instance"
    );
    let def_start = 14;
    let def_size = u32_at(b, def_start + 20);
    let subs_start = def_start + 24 + def_size;
    let count = u32_at(b, subs_start);
    let mut at = subs_start + 4 + 4 * count;
    let mut subs = Vec::with_capacity(count);
    for i in 0..count {
        let desc = subs_start + 4 + 4 * i;
        let size = u16_at(b, desc);
        subs.push(Sub {
            kind: b[desc + 2],
            bytes: b[at..at + size].to_vec(),
        });
        at += size;
    }
    Instance {
        head: b[..def_start].to_vec(),
        definition: b[def_start..subs_start].to_vec(),
        subs,
        tail: b[at..].to_vec(),
    }
}

fn write_instance(instance: &Instance, with_definition: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(&instance.head);
    if with_definition {
        out.extend_from_slice(&instance.definition);
    }
    out.extend_from_slice(&(instance.subs.len() as u32).to_le_bytes());
    for sub in &instance.subs {
        out.extend_from_slice(&(sub.bytes.len() as u16).to_le_bytes());
        out.push(sub.kind);
        out.push(0);
    }
    for sub in &instance.subs {
        out.extend_from_slice(&sub.bytes);
    }
    out.extend_from_slice(&instance.tail);
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// One sample, ready to be instantiated many times.
pub struct Sample {
    header: Vec<u8>,
    chunk_header: Vec<u8>,
    outer: Instance,
    inner: Instance,
    /// The outer substitution holding the EventData instance.
    inner_slot: usize,
    record_id_slot: usize,
    time_slot: usize,
    /// EventData slots by field name.
    slots: Vec<(String, usize)>,
}

/// The values a synthesised record carries.
pub struct Values<'a> {
    pub image: &'a str,
    pub command_line: &'a str,
    pub parent_image: &'a str,
    pub parent_command_line: &'a str,
    pub original_file_name: &'a str,
    pub user: &'a str,
    pub description: &'a str,
    pub company: &'a str,
}

impl Sample {
    /// Reads a one-record sample EVTX and locates the fields to vary.
    pub fn load(path: &Path) -> Option<Sample> {
        let file = std::fs::read(path).ok()?;
        if file.len() < 4096 + CHUNK {
            return None;
        }
        let chunk = &file[4096..4096 + CHUNK];
        let record = CHUNK_HEADER;
        let size = u32_at(chunk, record + 4);
        let binxml = &chunk[record + 24..record + size - 4];
        let outer = parse_instance(binxml);
        let inner_slot = outer.subs.iter().position(|s| s.kind == 0x21)?;
        let inner = parse_instance(&outer.subs[inner_slot].bytes);
        let record_id_slot = outer.subs.iter().position(|s| s.kind == 0x0a)?;
        let time_slot = outer.subs.iter().position(|s| s.kind == 0x11)?;
        // Sysmon's EID 1 template (schema 4.x, event version 5) substitutes its 23 EventData
        // values in this order.
        if inner.subs.len() != SYSMON_1_FIELDS.len() {
            return None;
        }
        let slots = [
            "UtcTime",
            "Image",
            "CommandLine",
            "ParentImage",
            "ParentCommandLine",
            "OriginalFileName",
            "User",
            "Description",
            "Company",
            "Product",
            "FileVersion",
            "Hashes",
            "CurrentDirectory",
        ]
        .iter()
        .filter_map(|name| {
            let slot = SYSMON_1_FIELDS.iter().position(|f| f == name)?;
            (inner.subs[slot].kind == 1).then(|| (name.to_string(), slot))
        })
        .collect();
        Some(Sample {
            header: file[..4096].to_vec(),
            chunk_header: chunk[..CHUNK_HEADER].to_vec(),
            outer,
            inner,
            inner_slot,
            record_id_slot,
            time_slot,
            slots,
        })
    }

    fn record(&self, id: u64, filetime: u64, values: Option<&Values<'_>>, first: bool) -> Vec<u8> {
        let mut inner = self.inner.clone();
        let seconds = (filetime / 10_000_000) as i64 - 11_644_473_600;
        let millis = (filetime / 10_000 % 1000) as u32;
        let utc = chrono::DateTime::from_timestamp(seconds, millis * 1_000_000)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string();
        for (name, slot) in &self.slots {
            let text = match (name.as_str(), values) {
                ("UtcTime", _) => Some(utc.as_str()),
                ("Image", Some(v)) => Some(v.image),
                ("CommandLine", Some(v)) => Some(v.command_line),
                ("ParentImage", Some(v)) => Some(v.parent_image),
                ("ParentCommandLine", Some(v)) => Some(v.parent_command_line),
                ("OriginalFileName", Some(v)) => Some(v.original_file_name),
                ("User", Some(v)) => Some(v.user),
                ("Description", Some(v)) => Some(v.description),
                ("Company", Some(v)) => Some(v.company),
                ("Product", Some(v)) => Some(if v.company.starts_with("Microsoft") {
                    "Microsoft® Windows® Operating System"
                } else {
                    v.description
                }),
                ("FileVersion", Some(_)) => Some("10.0.22621.3527 (WinBuild.160101.0800)"),
                ("Hashes", Some(_)) => Some(
                    "SHA1=3F64C98F22DA277A07CAB248C44C56EEDB796A81,MD5=CB9E43EE8FF8C6FA6D3F6AA4A1F06E3D,SHA256=4D89FC34D5F0F9BABD022271C585A9477BF41E834E46B991DEAA0530FDB25E22,IMPHASH=AD5CE2F2B6E3E1FA7BC11A5E0B4FE04C",
                ),
                ("CurrentDirectory", Some(_)) => Some(r"C:\Windows\system32\"),
                _ => None,
            };
            if let Some(text) = text {
                inner.subs[*slot].bytes = utf16(text);
            }
        }
        let mut outer = self.outer.clone();
        let mut inner_bytes = Vec::new();
        write_instance(&inner, first, &mut inner_bytes);
        outer.subs[self.inner_slot].bytes = inner_bytes;
        outer.subs[self.record_id_slot].bytes = id.to_le_bytes().to_vec();
        outer.subs[self.time_slot].bytes = filetime.to_le_bytes().to_vec();
        let mut binxml = Vec::new();
        write_instance(&outer, first, &mut binxml);
        let size = 24 + binxml.len() + 4;
        let mut record = Vec::with_capacity(size);
        record.extend_from_slice(&[0x2a, 0x2a, 0, 0]);
        record.extend_from_slice(&(size as u32).to_le_bytes());
        record.extend_from_slice(&id.to_le_bytes());
        record.extend_from_slice(&filetime.to_le_bytes());
        record.extend_from_slice(&binxml);
        record.extend_from_slice(&(size as u32).to_le_bytes());
        record
    }

    /// Fills one chunk with records `first_id..`; `values(i)` gives the i-th record's values
    /// (`None` keeps the sample's own). Returns the chunk and how many records it holds.
    pub fn chunk(
        &self,
        first_id: u64,
        first_time: u64,
        mut values: impl FnMut(u64) -> Option<Values<'static>>,
        limit: u64,
    ) -> (Vec<u8>, u64) {
        let mut chunk = self.chunk_header.clone();
        let mut id = first_id;
        let mut last_offset = CHUNK_HEADER;
        while id - first_id < limit {
            let v = values(id);
            let record = self.record(
                id,
                first_time + (id - first_id) * 10_000,
                v.as_ref(),
                id == first_id,
            );
            if chunk.len() + record.len() > CHUNK {
                break;
            }
            last_offset = chunk.len();
            chunk.extend_from_slice(&record);
            id += 1;
        }
        let free = chunk.len();
        chunk.resize(CHUNK, 0);
        let last = id - 1;
        chunk[8..16].copy_from_slice(&first_id.to_le_bytes());
        chunk[16..24].copy_from_slice(&last.to_le_bytes());
        chunk[24..32].copy_from_slice(&first_id.to_le_bytes());
        chunk[32..40].copy_from_slice(&last.to_le_bytes());
        chunk[44..48].copy_from_slice(&(last_offset as u32).to_le_bytes());
        chunk[48..52].copy_from_slice(&(free as u32).to_le_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&chunk[CHUNK_HEADER..free]);
        chunk[52..56].copy_from_slice(&crc.sum().to_le_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&chunk[..120]);
        crc.update(&chunk[128..CHUNK_HEADER]);
        chunk[124..128].copy_from_slice(&crc.sum().to_le_bytes());
        (chunk, id - first_id)
    }

    /// The file header for `chunks` chunks and `next_id` as the next record id.
    pub fn file_header(&self, chunks: u64, next_id: u64) -> Vec<u8> {
        let mut header = self.header.clone();
        header[8..16].copy_from_slice(&0u64.to_le_bytes());
        header[16..24].copy_from_slice(&chunks.saturating_sub(1).to_le_bytes());
        header[24..32].copy_from_slice(&next_id.to_le_bytes());
        header[42..44].copy_from_slice(&(chunks.min(u16::MAX as u64) as u16).to_le_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&header[..120]);
        header[124..128].copy_from_slice(&crc.sum().to_le_bytes());
        header
    }
}

/// Benign process creations a workstation logs all day.
pub const BENIGN: [Values<'static>; 10] = [
    Values {
        image: r"C:\Windows\System32\svchost.exe",
        command_line: r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        parent_image: r"C:\Windows\System32\services.exe",
        parent_command_line: r"C:\Windows\system32\services.exe",
        original_file_name: "svchost.exe",
        user: r"NT AUTHORITY\SYSTEM",
        description: "Host Process for Windows Services",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        command_line: r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US --renderer-client-id=7 --time-ticks-at-unix-epoch=-1700000000000000 --field-trial-handle=1900,i,8803149271,5125590388,262144 /prefetch:1"#,
        parent_image: r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        parent_command_line: r#""C:\Program Files\Google\Chrome\Application\chrome.exe""#,
        original_file_name: "chrome.exe",
        user: r"CORP\alice",
        description: "Google Chrome",
        company: "Google LLC",
    },
    Values {
        image: r"C:\Windows\System32\conhost.exe",
        command_line: r"\??\C:\Windows\system32\conhost.exe 0xffffffff",
        parent_image: r"C:\Windows\System32\cmd.exe",
        parent_command_line: r#""C:\Windows\system32\cmd.exe" /c "C:\ProgramData\backup\nightly.cmd""#,
        original_file_name: "CONHOST.EXE",
        user: r"CORP\svc-backup",
        description: "Console Window Host",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Windows\System32\RuntimeBroker.exe",
        command_line: r"C:\Windows\System32\RuntimeBroker.exe -Embedding",
        parent_image: r"C:\Windows\System32\svchost.exe",
        parent_command_line: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        original_file_name: "RuntimeBroker.exe",
        user: r"CORP\alice",
        description: "Runtime Broker",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Windows\System32\wbem\WmiPrvSE.exe",
        command_line: r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
        parent_image: r"C:\Windows\System32\svchost.exe",
        parent_command_line: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        original_file_name: "Wmiprvse.exe",
        user: r"NT AUTHORITY\NETWORK SERVICE",
        description: "WMI Provider Host",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Program Files\Git\cmd\git.exe",
        command_line: r#""C:\Program Files\Git\cmd\git.exe" status --porcelain=v2 --branch --untracked-files=all"#,
        parent_image: r"C:\Users\alice\AppData\Local\Programs\Microsoft VS Code\Code.exe",
        parent_command_line: r#""C:\Users\alice\AppData\Local\Programs\Microsoft VS Code\Code.exe" --type=utility"#,
        original_file_name: "git.exe",
        user: r"CORP\alice",
        description: "Git for Windows",
        company: "The Git Development Community",
    },
    Values {
        image: r"C:\Windows\System32\taskhostw.exe",
        command_line: r"taskhostw.exe Install $(Arg0)",
        parent_image: r"C:\Windows\System32\svchost.exe",
        parent_command_line: r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        original_file_name: "taskhostw.exe",
        user: r"CORP\alice",
        description: "Host Process for Windows Tasks",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
        command_line: r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE" /recycle"#,
        parent_image: r"C:\Windows\explorer.exe",
        parent_command_line: r"C:\Windows\Explorer.EXE",
        original_file_name: "Outlook.exe",
        user: r"CORP\alice",
        description: "Microsoft Outlook",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Windows\System32\SearchProtocolHost.exe",
        command_line: r#""C:\Windows\system32\SearchProtocolHost.exe" Global\UsGthrFltPipeMssGthrPipe5_ Global\UsGthrCtrlFltPipeMssGthrPipe5 1 -2147483646 "Software\Microsoft\Windows Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" "C:\ProgramData\Microsoft\Search\Data\Temp\usgthrsvc" "DownLevelDaemon""#,
        parent_image: r"C:\Windows\System32\SearchIndexer.exe",
        parent_command_line: r"C:\Windows\system32\SearchIndexer.exe /Embedding",
        original_file_name: "SearchProtocolHost.exe",
        user: r"NT AUTHORITY\SYSTEM",
        description: "Microsoft Windows Search Protocol Host",
        company: "Microsoft Corporation",
    },
    Values {
        image: r"C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\MSBuild.exe",
        command_line: r#""C:\Program Files\Microsoft Visual Studio\2022\Community\MSBuild\Current\Bin\MSBuild.exe" /nologo /nodemode:1 /nodeReuse:true /low:false"#,
        parent_image: r"C:\Program Files\Microsoft Visual Studio\2022\Community\Common7\IDE\devenv.exe",
        parent_command_line: r#""C:\Program Files\Microsoft Visual Studio\2022\Community\Common7\IDE\devenv.exe""#,
        original_file_name: "MSBuild.exe",
        user: r"CORP\bob",
        description: "MSBuild.exe",
        company: "Microsoft Corporation",
    },
];
