//! What every configuration section's validation shares: the error type (naming file,
//! key and problem) and [`Section`], the context a crate validates its own section in.
//!
//! Each concern owns the type and validation of its section (routing, store, engagement
//! index, consent, access log, ...); the binary reads the file and assembles them
//! (specs/configuration.md, specs/architecture.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem, naming file, key and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "configuration file {path} is not valid TOML or has an unknown/mistyped key: {message}"
    )]
    Parse { path: PathBuf, message: String },
    #[error("configuration file {path}: key `{key}`: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// One section (or sub-table) of a configuration file being validated: keys are named
/// with the section's prefix, relative paths resolve against the file's folder.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    file: &'a Path,
    base: PathBuf,
    prefix: String,
}

impl<'a> Section<'a> {
    /// The top level of the configuration file at `file`.
    pub fn root(file: &'a Path) -> Section<'a> {
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Section {
            file,
            base,
            prefix: String::new(),
        }
    }

    /// The sub-table `name` of this section (`consent` → `consent.issuers[0]`).
    pub fn nested(&self, name: &str) -> Section<'a> {
        Section {
            file: self.file,
            base: self.base.clone(),
            prefix: self.key(name),
        }
    }

    /// The configuration file.
    pub fn file(&self) -> &Path {
        self.file
    }

    /// The full name of `key` in this section (`engagement_index.owner`).
    pub fn key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// An error for `key` of this section.
    pub fn invalid(&self, key: &str, problem: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.file.to_path_buf(),
            key: self.key(key),
            problem: problem.to_string(),
        }
    }

    /// `Err(invalid(key, problem))` unless `ok`.
    pub fn check(&self, key: &str, ok: bool, problem: &str) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(key, problem))
        }
    }

    /// A path as written in the file, resolved against the file's folder.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// A path that must name an existing file.
    pub fn existing_file(&self, key: &str, p: &str) -> Result<PathBuf, ConfigError> {
        let path = self.resolve(p);
        if path.is_file() {
            Ok(path)
        } else {
            Err(self.invalid(
                key,
                &format!(
                    "file {} does not exist or is not a file (relative paths are resolved against the configuration file's folder)",
                    path.display()
                ),
            ))
        }
    }

    /// `address:port`.
    pub fn socket_addr(&self, key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
        s.parse().map_err(|_| {
            self.invalid(
                key,
                &format!("`{s}` is not an address:port (e.g. \"0.0.0.0:8443\" or \"[::1]:8443\")"),
            )
        })
    }

    /// A count of 1 to 10,000,000 (`default` when absent).
    pub fn count(&self, key: &str, v: Option<usize>, default: usize) -> Result<usize, ConfigError> {
        let n = v.unwrap_or(default);
        if n == 0 || n > 10_000_000 {
            return Err(self.invalid(key, "must be between 1 and 10000000"));
        }
        Ok(n)
    }

    /// Milliseconds from 1 to one hour (`default` when absent).
    pub fn millis(&self, key: &str, v: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
        let ms = v.unwrap_or(default);
        if ms == 0 || ms > 3_600_000 {
            return Err(self.invalid(key, "must be between 1 and 3600000 milliseconds"));
        }
        Ok(Duration::from_millis(ms))
    }

    /// An HSA id (1–64 printable ASCII characters without spaces).
    pub fn hsa_id(&self, key: &str, s: &str, what: &str) -> Result<crate::HsaId, ConfigError> {
        crate::HsaId::parse(s).ok_or_else(|| {
            self.invalid(
                key,
                &format!("must be {what}: 1-64 printable ASCII characters without spaces"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_paths_and_errors_name_the_section() {
        let file = Path::new("/etc/vaxel/vaxel.toml");
        let root = Section::root(file);
        let s = root.nested("consent").nested("issuers[1]");
        assert_eq!(s.key("issuer"), "consent.issuers[1].issuer");
        assert_eq!(s.resolve("k.pem"), Path::new("/etc/vaxel/k.pem"));
        assert_eq!(s.resolve("/abs/k.pem"), Path::new("/abs/k.pem"));
        let e = s.invalid("issuer", "listed twice").to_string();
        assert_eq!(
            e,
            "configuration file /etc/vaxel/vaxel.toml: key `consent.issuers[1].issuer`: listed twice"
        );
        assert!(root.millis("x_ms", Some(0), 5).is_err());
        assert_eq!(
            root.millis("x_ms", None, 5).unwrap(),
            Duration::from_millis(5)
        );
        assert!(root.count("n", Some(10_000_001), 1).is_err());
        let missing = root.existing_file("f", "nope.pem").unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{missing}");
        assert!(root
            .hsa_id("owner", "has space", "the index's HSA id")
            .is_err());
    }
}
