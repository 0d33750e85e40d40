//! What a binary looks like from outside: PE version resources, canonical paths, stable hashes.
//!
//! Known Windows and server binaries get their real version-resource strings; anything else gets
//! its file name as original name and `-` elsewhere, as Sysmon writes for files without a version
//! resource. Hashes are synthetic but stable per binary (the same file has the same hash in every
//! scenario and for every seed), so hash-based rules see consistent values.

use super::rng::fnv1a;

/// PE version-resource strings of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeInfo {
    /// `OriginalFileName`.
    pub original_file_name: String,
    /// `Description` (FileDescription).
    pub description: String,
    /// `Product`.
    pub product: String,
    /// `Company`.
    pub company: String,
    /// `FileVersion`.
    pub file_version: String,
}

const MS: &str = "Microsoft Corporation";
const WIN: &str = "Microsoft® Windows® Operating System";
const WINVER: &str = "10.0.20348.1 (WinBuild.160101.0800)";
const NET: &str = "Microsoft® .NET Framework";
const NETVER: &str = "4.8.4161.0 built by: NET48REL1LAST_C";

/// (file name lower-case, canonical path, OriginalFileName, Description, Product, Company, FileVersion)
type Known = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const KNOWN: &[Known] = &[
    (
        "cmd.exe",
        r"C:\Windows\System32\cmd.exe",
        "Cmd.Exe",
        "Windows Command Processor",
        WIN,
        MS,
        WINVER,
    ),
    (
        "powershell.exe",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "PowerShell.EXE",
        "Windows PowerShell",
        WIN,
        MS,
        "10.0.20348.1 (WinBuild.160101.0800)",
    ),
    (
        "pwsh.exe",
        r"C:\Program Files\PowerShell\7\pwsh.exe",
        "pwsh.dll",
        "pwsh",
        "PowerShell",
        MS,
        "7.4.6.500",
    ),
    (
        "whoami.exe",
        r"C:\Windows\System32\whoami.exe",
        "whoami.exe",
        "whoami - displays logged on user information",
        WIN,
        MS,
        WINVER,
    ),
    (
        "ipconfig.exe",
        r"C:\Windows\System32\ipconfig.exe",
        "ipconfig.exe",
        "IP Configuration Utility",
        WIN,
        MS,
        WINVER,
    ),
    (
        "systeminfo.exe",
        r"C:\Windows\System32\systeminfo.exe",
        "sysinfo.exe",
        "Displays system information",
        WIN,
        MS,
        WINVER,
    ),
    (
        "ping.exe",
        r"C:\Windows\System32\PING.EXE",
        "ping.exe",
        "TCP/IP Ping Command",
        WIN,
        MS,
        WINVER,
    ),
    (
        "certutil.exe",
        r"C:\Windows\System32\certutil.exe",
        "CertUtil.exe",
        "CertUtil.exe",
        WIN,
        MS,
        WINVER,
    ),
    (
        "timeout.exe",
        r"C:\Windows\System32\timeout.exe",
        "timeout.exe",
        "timeout - pauses command processing",
        WIN,
        MS,
        WINVER,
    ),
    (
        "netstat.exe",
        r"C:\Windows\System32\NETSTAT.EXE",
        "netstat.exe",
        "TCP/IP Netstat Command",
        WIN,
        MS,
        WINVER,
    ),
    (
        "net.exe",
        r"C:\Windows\System32\net.exe",
        "net.exe",
        "Net Command",
        WIN,
        MS,
        WINVER,
    ),
    (
        "net1.exe",
        r"C:\Windows\System32\net1.exe",
        "net1.exe",
        "Net Command",
        WIN,
        MS,
        WINVER,
    ),
    (
        "nltest.exe",
        r"C:\Windows\System32\nltest.exe",
        "nltestrk.exe",
        "Microsoft® Logon Server Test Utility",
        WIN,
        MS,
        WINVER,
    ),
    (
        "tasklist.exe",
        r"C:\Windows\System32\tasklist.exe",
        "tasklist.exe",
        "Lists the current running tasks",
        WIN,
        MS,
        WINVER,
    ),
    (
        "hostname.exe",
        r"C:\Windows\System32\HOSTNAME.EXE",
        "hostname.exe",
        "Hostname APP",
        WIN,
        MS,
        WINVER,
    ),
    (
        "quser.exe",
        r"C:\Windows\System32\quser.exe",
        "quser.exe",
        "Query User Utility",
        WIN,
        MS,
        WINVER,
    ),
    (
        "sc.exe",
        r"C:\Windows\System32\sc.exe",
        "sc.exe",
        "Service Control Manager Configuration Tool",
        WIN,
        MS,
        WINVER,
    ),
    (
        "mshta.exe",
        r"C:\Windows\System32\mshta.exe",
        "MSHTA.EXE",
        "Microsoft (R) HTML Application host",
        "Internet Explorer",
        MS,
        "11.00.20348.1 (WinBuild.160101.0800)",
    ),
    (
        "rundll32.exe",
        r"C:\Windows\System32\rundll32.exe",
        "RUNDLL32.EXE",
        "Windows host process (Rundll32)",
        WIN,
        MS,
        WINVER,
    ),
    (
        "regsvr32.exe",
        r"C:\Windows\System32\regsvr32.exe",
        "REGSVR32.EXE",
        "Microsoft(C) Register Server",
        WIN,
        MS,
        WINVER,
    ),
    (
        "cscript.exe",
        r"C:\Windows\System32\cscript.exe",
        "cscript.exe",
        "Microsoft ® Console Based Script Host",
        "Microsoft ® Windows Script Host",
        MS,
        "5.812.10240.16384",
    ),
    (
        "wscript.exe",
        r"C:\Windows\System32\wscript.exe",
        "wscript.exe",
        "Microsoft ® Windows Based Script Host",
        "Microsoft ® Windows Script Host",
        MS,
        "5.812.10240.16384",
    ),
    (
        "wmic.exe",
        r"C:\Windows\System32\wbem\WMIC.exe",
        "wmic.exe",
        "WMI Commandline Utility",
        WIN,
        MS,
        WINVER,
    ),
    (
        "conhost.exe",
        r"C:\Windows\System32\conhost.exe",
        "CONHOST.EXE",
        "Console Window Host",
        WIN,
        MS,
        WINVER,
    ),
    (
        "werfault.exe",
        r"C:\Windows\System32\WerFault.exe",
        "WerFault.exe",
        "Windows Problem Reporting",
        WIN,
        MS,
        WINVER,
    ),
    (
        "csc.exe",
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe",
        "csc.exe",
        "Visual C# Command Line Compiler",
        NET,
        MS,
        NETVER,
    ),
    (
        "vbc.exe",
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\vbc.exe",
        "vbc.exe",
        "Visual Basic Command Line Compiler",
        NET,
        MS,
        NETVER,
    ),
    (
        "cvtres.exe",
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\cvtres.exe",
        "CVTRES.EXE",
        "Microsoft® Resource File To COFF Object Conversion Utility",
        NET,
        MS,
        "14.30.30704.0",
    ),
    (
        "w3wp.exe",
        r"C:\Windows\System32\inetsrv\w3wp.exe",
        "w3wp.exe",
        "IIS Worker Process",
        "Internet Information Services",
        MS,
        "10.0.20348.1 (WinBuild.160101.0800)",
    ),
    (
        "svchost.exe",
        r"C:\Windows\System32\svchost.exe",
        "svchost.exe",
        "Host Process for Windows Services",
        WIN,
        MS,
        WINVER,
    ),
    (
        "services.exe",
        r"C:\Windows\System32\services.exe",
        "services.exe",
        "Services and Controller app",
        WIN,
        MS,
        WINVER,
    ),
    (
        "wininit.exe",
        r"C:\Windows\System32\wininit.exe",
        "wininit.exe",
        "Windows Start-Up Application",
        WIN,
        MS,
        WINVER,
    ),
    (
        "explorer.exe",
        r"C:\Windows\explorer.exe",
        "EXPLORER.EXE",
        "Windows Explorer",
        WIN,
        MS,
        WINVER,
    ),
    (
        "taskhostw.exe",
        r"C:\Windows\System32\taskhostw.exe",
        "taskhostw.exe",
        "Host Process for Windows Tasks",
        WIN,
        MS,
        WINVER,
    ),
    (
        "wmiprvse.exe",
        r"C:\Windows\System32\wbem\WmiPrvSE.exe",
        "Wmiprvse.exe",
        "WMI Provider Host",
        WIN,
        MS,
        WINVER,
    ),
    (
        "tiworker.exe",
        r"C:\Windows\WinSxS\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.20348.2580_none_1b7e1fe4e0a1ba6c\TiWorker.exe",
        "TiWorker.exe",
        "Windows Modules Installer Worker",
        WIN,
        MS,
        WINVER,
    ),
    (
        "trustedinstaller.exe",
        r"C:\Windows\servicing\TrustedInstaller.exe",
        "TrustedInstaller.exe",
        "Windows Modules Installer",
        WIN,
        MS,
        WINVER,
    ),
    (
        "gpupdate.exe",
        r"C:\Windows\System32\gpupdate.exe",
        "GPUpdate.exe",
        "Microsoft® Windows GPUpdate",
        WIN,
        MS,
        WINVER,
    ),
    (
        "wuauclt.exe",
        r"C:\Windows\System32\wuauclt.exe",
        "wuauclt.exe",
        "Windows Update",
        WIN,
        MS,
        WINVER,
    ),
    (
        "mpcmdrun.exe",
        r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MpCmdRun.exe",
        "MpCmdRun.exe",
        "Microsoft Malware Protection Command Line Utility",
        WIN,
        MS,
        "4.18.24090.11 (WinBuild.160101.0800)",
    ),
    (
        "compattelrunner.exe",
        r"C:\Windows\System32\CompatTelRunner.exe",
        "CompatTelRunner.exe",
        "Microsoft Compatibility Telemetry",
        WIN,
        MS,
        WINVER,
    ),
    (
        "arcsoc.exe",
        r"C:\Program Files\ArcGIS\Server\framework\runtime\ArcGIS\bin\ArcSOC.exe",
        "ArcSOC.exe",
        "ArcSOC",
        "ArcGIS Server",
        "Environmental Systems Research Institute, Inc.",
        "11.3.0.51575",
    ),
    (
        "javaw.exe",
        r"C:\Program Files\ArcGIS\Server\framework\runtime\jre\bin\javaw.exe",
        "javaw.exe",
        "OpenJDK Platform binary",
        "OpenJDK Platform 17.0.9",
        "Eclipse Adoptium",
        "17.0.9.0",
    ),
    (
        "java.exe",
        r"C:\Program Files\Java\jre-17\bin\java.exe",
        "java.exe",
        "OpenJDK Platform binary",
        "OpenJDK Platform 17.0.9",
        "Eclipse Adoptium",
        "17.0.9.0",
    ),
    (
        "arcgisserver.exe",
        r"C:\Program Files\ArcGIS\Server\framework\etc\service\bin\ArcGISServer.exe",
        "ArcGISServer.exe",
        "ArcGIS Server service",
        "ArcGIS Server",
        "Environmental Systems Research Institute, Inc.",
        "11.3.0.51575",
    ),
    (
        "tomcat9.exe",
        r"C:\Program Files\Apache Software Foundation\Tomcat 9.0\bin\Tomcat9.exe",
        "prunsrv.exe",
        "Commons Daemon Service Runner",
        "Commons Daemon Service Runner",
        "Apache Software Foundation",
        "1.3.4.0",
    ),
    (
        "httpd.exe",
        r"C:\Apache24\bin\httpd.exe",
        "httpd.exe",
        "Apache HTTP Server",
        "Apache HTTP Server",
        "Apache Software Foundation",
        "2.4.62",
    ),
    (
        "php-cgi.exe",
        r"C:\php\php-cgi.exe",
        "php-cgi.exe",
        "CGI / FastCGI",
        "PHP",
        "The PHP Group",
        "8.3.13",
    ),
    (
        "rotatelogs.exe",
        r"C:\Apache24\bin\rotatelogs.exe",
        "rotatelogs.exe",
        "Apache HTTP Server Log Rotation Utility",
        "Apache HTTP Server",
        "Apache Software Foundation",
        "2.4.62",
    ),
    (
        "beasvc.exe",
        r"C:\Oracle\Middleware\wlserver\server\bin\beasvc.exe",
        "beasvc.exe",
        "-",
        "-",
        "-",
        "-",
    ),
    (
        "wget.exe",
        r"C:\ProgramData\wget.exe",
        "wget.exe",
        "GNU Wget",
        "GNU Wget",
        "-",
        "1.21.4",
    ),
    (
        "nbtscan.exe",
        r"C:\ProgramData\nbtscan.exe",
        "nbtscan.exe",
        "-",
        "-",
        "-",
        "-",
    ),
];

fn known(name: &str) -> Option<&'static Known> {
    let lower = name.to_ascii_lowercase();
    KNOWN.iter().find(|k| k.0 == lower)
}

/// The canonical full path of a well-known binary, by file name (`cmd.exe`).
pub fn known_path(file_name: &str) -> Option<&'static str> {
    known(file_name).map(|k| k.1)
}

/// The version resource of an image: looked up by its original file name when one is given
/// (a renamed binary keeps the resource of what it really is), else by its file name.
pub fn pe_info(file_name: &str, original_file_name: Option<&str>) -> PeInfo {
    let by_original = original_file_name.and_then(|original| {
        KNOWN
            .iter()
            .find(|k| k.2.eq_ignore_ascii_case(original) || k.0.eq_ignore_ascii_case(original))
    });
    match by_original.or_else(|| {
        if original_file_name.is_none() {
            known(file_name)
        } else {
            None
        }
    }) {
        Some(k) => PeInfo {
            original_file_name: original_file_name.unwrap_or(k.2).to_string(),
            description: k.3.to_string(),
            product: k.4.to_string(),
            company: k.5.to_string(),
            file_version: k.6.to_string(),
        },
        None => PeInfo {
            original_file_name: original_file_name.unwrap_or(file_name).to_string(),
            description: "-".into(),
            product: "-".into(),
            company: "-".into(),
            file_version: "-".into(),
        },
    }
}

/// Image hashes as lower-case hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageHashes {
    /// 32 hex digits.
    pub md5: String,
    /// 40 hex digits.
    pub sha1: String,
    /// 64 hex digits.
    pub sha256: String,
    /// 32 hex digits.
    pub imphash: String,
}

/// Stable synthetic hashes for a binary: the same identity (original name, or path when the
/// binary is unknown) always gives the same digests. Explicit hashes override each one.
pub fn hashes(identity: &str, given: Option<&crate::scenario::Hashes>) -> ImageHashes {
    let seed = fnv1a(identity.to_ascii_lowercase().as_bytes());
    let hex = |salt: u64, len: usize| {
        let mut out = String::with_capacity(len);
        let mut state = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        while out.len() < len {
            state = super::rng::splitmix(state);
            out += &format!("{state:016x}");
        }
        out.truncate(len);
        out
    };
    let pick = |given: Option<&String>, salt, len| {
        given.map_or_else(|| hex(salt, len), |g| g.to_ascii_lowercase())
    };
    ImageHashes {
        md5: pick(given.and_then(|h| h.md5.as_ref()), 1, 32),
        sha1: pick(given.and_then(|h| h.sha1.as_ref()), 2, 40),
        sha256: pick(given.and_then(|h| h.sha256.as_ref()), 3, 64),
        imphash: pick(given.and_then(|h| h.imphash.as_ref()), 4, 32),
    }
}

/// A plausible file size for an image, stable per identity.
pub fn file_size(identity: &str) -> i64 {
    let seed = fnv1a(identity.to_ascii_lowercase().as_bytes());
    40_960 + (seed % 900) as i64 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_binary_keeps_its_original_resource() {
        let renamed = pe_info("svc.exe", Some("PowerShell.EXE"));
        assert_eq!(renamed.original_file_name, "PowerShell.EXE");
        assert_eq!(renamed.description, "Windows PowerShell");
        assert_eq!(pe_info("cmd.exe", None).original_file_name, "Cmd.Exe");
        assert_eq!(pe_info("tool.exe", None).description, "-");
    }

    #[test]
    fn hashes_are_stable_hex_of_the_right_length() {
        let a = hashes("cmd.exe", None);
        assert_eq!(a, hashes("CMD.EXE", None));
        assert_eq!((a.md5.len(), a.sha1.len(), a.sha256.len()), (32, 40, 64));
        assert!(a.sha256.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.md5, hashes("whoami.exe", None).md5);
    }
}
