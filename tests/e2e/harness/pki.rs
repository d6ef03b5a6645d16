//! The demo PKI of the test process: generated once with the real `vaxel certs`
//! command, and the caller ids its certificates carry.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::VAXEL;

/// Caller ids in the demo PKI (subject SERIALNUMBER, or CN for the CN-only certificate).
pub const CONSUMER_ID: &str = "SE0000000000-DEMOCONSUMER";
pub const OTHER_CONSUMER_ID: &str = "SE0000000000-OTHERCONSUMER";
pub const CN_CONSUMER_ID: &str = "SE0000000000-CNCONSUMER";
/// The gateway's client certificate towards producers.
pub const GATEWAY_CLIENT_ID: &str = "SE0000000000-VAXEL";

/// The demo PKI of this test process.
#[derive(Debug)]
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// `<stem>.pem`, e.g. `cert("consumer2")`.
    pub fn cert(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.pem"))
    }

    /// `<stem>.key`.
    pub fn key(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{stem}.key"))
    }

    pub fn ca(&self) -> PathBuf {
        self.cert("ca")
    }

    /// Certificate and key PEM concatenated (what `reqwest::Identity::from_pem` takes).
    pub fn identity_pem(&self, stem: &str) -> Vec<u8> {
        let mut pem = std::fs::read(self.cert(stem)).expect("certificate");
        pem.push(b'\n');
        pem.extend(std::fs::read(self.key(stem)).expect("key"));
        pem
    }
}

/// Generated once per test process with `vaxel certs --out <dir>` (the real command).
/// The folder is in cargo's per-target temporary folder, named after the process id;
/// folders of test processes that are gone are removed on the way.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).expect("CARGO_TARGET_TMPDIR");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("e2e-pki-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = base.join(format!("e2e-pki-{}", std::process::id()));
        let out = Command::new(VAXEL)
            .args(["certs", "--force", "--out"])
            .arg(&dir)
            .output()
            .expect("run vaxel certs");
        assert!(
            out.status.success(),
            "vaxel certs --out {} failed: {}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for stem in [
            "ca",
            "gateway",
            "gateway-client",
            "producer",
            "consumer",
            "consumer2",
            "consumer-cn-only",
            "consumer-noname",
            "consumer-expired",
            "rogue-ca",
            "rogue-consumer",
        ] {
            assert!(
                dir.join(format!("{stem}.pem")).is_file(),
                "{stem}.pem missing"
            );
            assert!(
                dir.join(format!("{stem}.key")).is_file(),
                "{stem}.key missing"
            );
        }
        Pki { dir }
    })
}
