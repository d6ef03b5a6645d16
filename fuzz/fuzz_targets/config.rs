//! Fuzz target for the gateway configuration parser (`vaxel::config::Config::from_toml`,
//! keys: specs/configuration.md).
//!
//! Properties checked besides "never panics":
//! * Every error names the configuration file (specs/configuration.md: "a problem
//!   stops the start with a message naming the file, the key ... and what is wrong").
//! * A configuration that loads holds only validated values ("parse, don't validate"):
//!   every limit and timeout is inside its documented range, the TLS files exist.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vaxel::config::Config;

/// Files the seeds name (`c.pem`, `k.pem`, `ca.pem`, as in config.rs's tests), so that
/// inputs get past the "file exists" checks into the rest of the validation. The
/// folder is created once per process; its contents are never read, only `is_file`.
fn config_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join("vaxel-fuzz-config");
        std::fs::create_dir_all(&dir).expect("create the fuzz fixture folder");
        for name in ["c.pem", "k.pem", "ca.pem", "tak.toml"] {
            std::fs::write(dir.join(name), "fixture").expect("write a fuzz fixture file");
        }
        dir.join("vaxel.toml")
    })
}

fuzz_target!(|data: &[u8]| {
    // `Config::load` reads the file with `read_to_string`, so non-UTF-8 never gets here.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = config_path();
    match Config::from_toml(text, path) {
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains(&path.display().to_string()),
                "error does not name the file: {message}"
            );
        }
        Ok(config) => check_validated(&config, path),
    }
});

/// The ranges specs/configuration.md and config.rs promise for a loaded `Config`.
fn check_validated(config: &Config, path: &Path) {
    const HOUR: Duration = Duration::from_secs(3600);
    assert_eq!(config.origin, path);
    let id = &config.instance_id;
    assert!(!id.is_empty() && !id.contains(',') && id.chars().all(|c| c.is_ascii_graphic()));

    let s = &config.service;
    assert!((1..=1024).contains(&s.threads), "threads {}", s.threads);
    assert!(s.max_body_bytes >= 1024);
    assert!((512..=16 * 1024 * 1024).contains(&s.max_envelope_head_bytes));
    for timeout in [
        s.envelope_head_timeout,
        s.tls_handshake_timeout,
        s.body_idle_timeout,
        config.producers.connect_timeout,
        config.producers.default_response_timeout,
        config.producers.pool_idle_timeout,
    ] {
        assert!(
            timeout >= Duration::from_millis(1) && timeout <= HOUR,
            "{timeout:?}"
        );
    }
    for count in [s.max_connections, s.max_concurrent_requests] {
        assert!((1..=10_000_000).contains(&count), "{count}");
    }
    for file in [
        &s.certificate,
        &s.private_key,
        &s.client_ca,
        &config.producers.certificate,
        &config.producers.private_key,
        &config.producers.ca,
    ] {
        assert!(file.is_file(), "{}", file.display());
    }
    assert!(!config.routing.source.as_os_str().is_empty());
}
