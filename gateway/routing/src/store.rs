//! Run-time holder of the routing table: lock-free reads, atomic reload, and a
//! last-known-good copy on disk (DESIGN.md "Request path": the table lives behind an
//! `ArcSwap`; reload swaps it atomically; a last-known-good copy keeps the gateway
//! routing when the source is unavailable).
//!
//! Reload and startup do blocking file I/O; call them from `spawn_blocking` (or
//! before the runtime starts), never on the request path.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwapOption, Guard};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::load::{load_file, RoutingTableError};
use super::model::TableFormat;
use super::table::{RoutingTable, TableCounts};

/// Where the table in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableOrigin {
    /// The configured source file.
    Source {
        /// The source file.
        path: PathBuf,
    },
    /// The last-known-good copy, because the source was unusable at startup.
    LastKnownGood {
        /// The copy.
        path: PathBuf,
        /// The copy's modification time, if the file system reports it.
        written_at: Option<DateTime<Utc>>,
    },
    /// Installed by code ([`RoutingTableHandle::install`]), e.g. the embedded demo table.
    Provided {
        /// What it is, for `/status`.
        description: String,
    },
}

impl fmt::Display for TableOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableOrigin::Source { path } => write!(f, "file {}", path.display()),
            TableOrigin::LastKnownGood { path, written_at } => write!(
                f,
                "last-known-good copy {} (written at {})",
                path.display(),
                format_time(*written_at)
            ),
            TableOrigin::Provided { description } => write!(f, "provided: {description}"),
        }
    }
}

fn format_time(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(
        || "an unknown time".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// A table in service, with when and where it was loaded.
#[derive(Debug)]
pub struct LoadedTable {
    table: RoutingTable,
    loaded_at: DateTime<Utc>,
    origin: TableOrigin,
}

// `table.route(..)` straight on the handle's snapshot.
impl std::ops::Deref for LoadedTable {
    type Target = RoutingTable;

    fn deref(&self) -> &RoutingTable {
        &self.table
    }
}

impl LoadedTable {
    fn new(table: RoutingTable, origin: TableOrigin) -> Self {
        LoadedTable {
            table,
            loaded_at: vaxel_model::clock::now_utc(),
            origin,
        }
    }

    /// The table, for `route` / `authorize`.
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// When it was swapped in.
    pub fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }

    /// Where it came from.
    pub fn origin(&self) -> &TableOrigin {
        &self.origin
    }

    /// Summary for `/status`.
    pub fn stats(&self) -> TableStats {
        let counts = self.table.counts();
        TableStats {
            contracts: counts.contracts,
            routes: counts.routes,
            authorizations: counts.authorizations,
            hsa_nodes: counts.hsa_nodes,
            warnings: self.table.warnings().len(),
            loaded_at: self.loaded_at,
            source: self.origin.to_string(),
            from_last_known_good: matches!(self.origin, TableOrigin::LastKnownGood { .. }),
        }
    }
}

/// What `/status` shows about the routing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableStats {
    /// Distinct service contracts.
    pub contracts: usize,
    /// Distinct routes.
    pub routes: usize,
    /// Distinct authorizations.
    pub authorizations: usize,
    /// Nodes in the HSA tree.
    pub hsa_nodes: usize,
    /// Load-time warnings.
    pub warnings: usize,
    /// When the table was swapped in.
    pub loaded_at: DateTime<Utc>,
    /// "file <path>", "last-known-good copy <path> (written at <time>)" or "provided: ...".
    pub source: String,
    /// The source was unusable at startup and the copy is in use.
    pub from_last_known_good: bool,
}

/// Outcome of writing the last-known-good copy.
#[derive(Debug)]
#[non_exhaustive]
pub enum LastKnownGoodWrite {
    /// The copy now holds the bytes of the table in use.
    Written {
        /// The copy.
        path: PathBuf,
    },
    /// No last-known-good path is configured.
    NotConfigured,
    /// The table in use came from the copy itself; it was left as it is.
    Unchanged,
    /// Writing failed; the new table is in use anyway and the old copy is intact.
    Failed {
        /// The copy.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
}

/// Result of [`RoutingTableHandle::check_source`]: the source is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceCheck {
    /// Sizes of the table.
    pub counts: TableCounts,
    /// Load-time warnings (each also logged).
    pub warnings: Vec<String>,
}

impl fmt::Display for SourceCheck {
    /// "10 contracts, 12 routes, 10 authorizations, 2 HSA nodes, 0 warnings".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{} contracts, {} routes, {} authorizations, {} HSA nodes, {} warnings",
            c.contracts,
            c.routes,
            c.authorizations,
            c.hsa_nodes,
            self.warnings.len()
        )?;
        for warning in &self.warnings {
            write!(f, "\nwarning: {warning}")?;
        }
        Ok(())
    }
}

/// Result of a successful [`RoutingTableHandle::reload`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ReloadReport {
    /// The new table.
    pub stats: TableStats,
    /// Whether the last-known-good copy was refreshed.
    pub last_known_good: LastKnownGoodWrite,
}

/// Result of a successful [`RoutingTableHandle::load_initial`].
#[derive(Debug)]
#[non_exhaustive]
pub struct StartupReport {
    /// The table in use.
    pub stats: TableStats,
    /// Why the source was unusable, when the last-known-good copy is in use instead.
    pub source_error: Option<RoutingTableError>,
    /// Whether the last-known-good copy was refreshed.
    pub last_known_good: LastKnownGoodWrite,
}

/// Neither the source nor the last-known-good copy gave a table; the handle is empty
/// (the gateway answers VP008 and `/ready` is false until a reload succeeds).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// Both sources failed (or no copy is configured).
    #[error("no routing table: {source_error}; {}", match .last_known_good_error {
        Some(e) => format!("the last-known-good copy is unusable too: {e}"),
        None => "no last-known-good copy is configured".to_owned(),
    })]
    NoUsableTable {
        /// Why the source failed.
        source_error: Box<RoutingTableError>,
        /// Why the copy failed; `None` when no copy is configured.
        last_known_good_error: Option<Box<RoutingTableError>>,
    },
}

/// Shared, swappable routing table. Cheap to read from any number of tasks.
#[derive(Debug)]
pub struct RoutingTableHandle {
    current: ArcSwapOption<LoadedTable>,
    source: PathBuf,
    last_known_good: Option<PathBuf>,
    placeholders: Vec<(String, String)>,
    /// The gateway's own services (`local://<name>`); `None`: any well-formed name.
    local_services: Mutex<Option<Vec<String>>>,
    // Serialises reloads (admin endpoint and SIGHUP may race) so that the table in
    // use and the last-known-good copy always come from the same load.
    reload_lock: Mutex<()>,
}

impl RoutingTableHandle {
    /// An empty handle for a source file, a last-known-good path (`PathBuf` or
    /// `Option<PathBuf>`) and values for `${NAME}` placeholders (applied on every
    /// load, source and copy alike). Call [`RoutingTableHandle::load_initial`] next.
    pub fn new(
        source: impl Into<PathBuf>,
        last_known_good: impl Into<Option<PathBuf>>,
        placeholders: Vec<(String, String)>,
    ) -> Self {
        RoutingTableHandle {
            current: ArcSwapOption::empty(),
            source: source.into(),
            last_known_good: last_known_good.into(),
            placeholders,
            local_services: Mutex::new(None),
            reload_lock: Mutex::new(()),
        }
    }

    /// Check every later load against the gateway's own services: a route to
    /// `local://<name>` for a name not in `names` makes the table invalid (the error
    /// lists the services there are). Call it before [`RoutingTableHandle::load_initial`].
    pub fn set_local_services(&self, names: Vec<String>) {
        *self
            .local_services
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(names);
    }

    fn local_service_names(&self) -> Option<Vec<String>> {
        self.local_services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The configured source file.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The configured last-known-good path.
    pub fn last_known_good(&self) -> Option<&Path> {
        self.last_known_good.as_deref()
    }

    /// The table in use, for the request path: lock-free (one atomic reference-count
    /// increment). The `Arc` may be kept across `.await` points; a reload never
    /// changes a table that a request already holds.
    pub fn current(&self) -> Option<Arc<LoadedTable>> {
        self.current.load_full()
    }

    /// The table in use without touching the reference count, for short synchronous
    /// reads. Do not hold the guard across `.await` (arc-swap guards are meant to be
    /// short-lived); use [`RoutingTableHandle::current`] there.
    pub fn current_guard(&self) -> Guard<Option<Arc<LoadedTable>>> {
        self.current.load()
    }

    /// Whether a table is in use (`/ready`).
    pub fn is_loaded(&self) -> bool {
        self.current.load().is_some()
    }

    /// Summary for `/status`; `None` while no table is loaded.
    pub fn stats(&self) -> Option<TableStats> {
        self.current.load().as_deref().map(LoadedTable::stats)
    }

    /// Puts a table built by code in service (tests, the embedded demo table). The
    /// last-known-good copy is not touched.
    pub fn install(&self, table: RoutingTable, origin: TableOrigin) -> TableStats {
        let loaded = Arc::new(LoadedTable::new(table, origin));
        let stats = loaded.stats();
        self.current.store(Some(loaded));
        stats
    }

    /// Loads and validates the source file without putting it in service
    /// (`vaxel check-config`).
    pub fn check_source(&self) -> Result<SourceCheck, RoutingTableError> {
        let (table, _bytes) = self.load_source()?;
        Ok(SourceCheck {
            counts: table.counts(),
            warnings: table.warnings().to_vec(),
        })
    }

    /// Loads the source file again. On success the new table replaces the old one
    /// atomically and the last-known-good copy is rewritten; on failure the table in
    /// use stays and the error is returned (and logged).
    pub fn reload(&self) -> Result<ReloadReport, RoutingTableError> {
        let _serialised = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match self.load_source() {
            Ok((table, bytes)) => {
                let (stats, last_known_good) =
                    self.install_from_source(table, &bytes, "routing table reloaded");
                crate::count_reload("ok");
                Ok(ReloadReport {
                    stats,
                    last_known_good,
                })
            }
            Err(error) => {
                crate::count_reload("failed");
                match self.current.load().as_deref() {
                    Some(in_use) => tracing::error!(
                        "routing table reload failed; keeping the table loaded at {} from {}: {error}",
                        format_time(Some(in_use.loaded_at)),
                        in_use.origin
                    ),
                    None => tracing::error!(
                        "routing table reload failed and no table is loaded (the gateway answers VP008): {error}"
                    ),
                }
                Err(error)
            }
        }
    }

    /// Swap in a table read from the source, copy the source to the last-known-good
    /// file and log `what`.
    fn install_from_source(
        &self,
        table: RoutingTable,
        bytes: &[u8],
        what: &str,
    ) -> (TableStats, LastKnownGoodWrite) {
        let stats = self.install(
            table,
            TableOrigin::Source {
                path: self.source.clone(),
            },
        );
        let last_known_good = self.write_last_known_good(bytes);
        tracing::info!(
            source = %self.source.display(),
            contracts = stats.contracts,
            routes = stats.routes,
            authorizations = stats.authorizations,
            "{what}"
        );
        (stats, last_known_good)
    }

    /// Startup: loads the source; if it is unusable, loads the last-known-good copy
    /// and logs an error naming both; if both fail, the handle stays empty and the
    /// error is returned (and logged).
    pub fn load_initial(&self) -> Result<StartupReport, StartupError> {
        let _serialised = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let source_error = match self.load_source() {
            Ok((table, bytes)) => {
                let (stats, last_known_good) =
                    self.install_from_source(table, &bytes, "routing table loaded");
                return Ok(StartupReport {
                    stats,
                    source_error: None,
                    last_known_good,
                });
            }
            Err(error) => error,
        };

        let Some(copy) = self.last_known_good.as_deref() else {
            tracing::error!(
                "routing table source is unusable and no last-known-good copy is configured; the gateway answers VP008 and /ready is false until a reload succeeds: {source_error}"
            );
            return Err(StartupError::NoUsableTable {
                source_error: Box::new(source_error),
                last_known_good_error: None,
            });
        };
        let written_at = fs::metadata(copy)
            .and_then(|m| m.modified())
            .ok()
            .map(DateTime::<Utc>::from);
        // The copy is a byte copy of a source that loaded, so it is read in the
        // source's format whatever the copy's own file name says.
        let format = TableFormat::from_path(&self.source);
        let names = self.local_service_names();
        let names: Option<Vec<&str>> = names
            .as_ref()
            .map(|n| n.iter().map(String::as_str).collect());
        match load_file(copy, format, &self.placeholder_pairs(), names.as_deref()) {
            Ok((table, _bytes)) => {
                tracing::error!(
                    "routing table source is unusable: {source_error}; using the last-known-good copy at {} (written at {}); fix the source and reload",
                    copy.display(),
                    format_time(written_at)
                );
                let stats = self.install(
                    table,
                    TableOrigin::LastKnownGood {
                        path: copy.to_owned(),
                        written_at,
                    },
                );
                Ok(StartupReport {
                    stats,
                    source_error: Some(source_error),
                    last_known_good: LastKnownGoodWrite::Unchanged,
                })
            }
            Err(copy_error) => {
                tracing::error!(
                    "no routing table: the source is unusable ({source_error}) and so is the last-known-good copy ({copy_error}); the gateway answers VP008 and /ready is false until a reload succeeds"
                );
                Err(StartupError::NoUsableTable {
                    source_error: Box::new(source_error),
                    last_known_good_error: Some(Box::new(copy_error)),
                })
            }
        }
    }

    fn placeholder_pairs(&self) -> Vec<(&str, &str)> {
        self.placeholders
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn load_source(&self) -> Result<(RoutingTable, Vec<u8>), RoutingTableError> {
        let names = self.local_service_names();
        let names: Option<Vec<&str>> = names
            .as_ref()
            .map(|n| n.iter().map(String::as_str).collect());
        load_file(
            &self.source,
            None,
            &self.placeholder_pairs(),
            names.as_deref(),
        )
    }

    fn write_last_known_good(&self, bytes: &[u8]) -> LastKnownGoodWrite {
        let Some(path) = self.last_known_good.as_deref() else {
            return LastKnownGoodWrite::NotConfigured;
        };
        match write_atomically(path, bytes) {
            Ok(()) => LastKnownGoodWrite::Written {
                path: path.to_owned(),
            },
            Err(error) => {
                tracing::warn!(
                    "cannot write the last-known-good routing table copy {}: {error}; the new table is in use, the previous copy is unchanged; check the directory's permissions and free space",
                    path.display()
                );
                LastKnownGoodWrite::Failed {
                    path: path.to_owned(),
                    error,
                }
            }
        }
    }
}

/// Replaces `path` with `bytes` so that a reader (or a crash) sees either the old or
/// the new file, never a mix: write a temporary file in the same directory, flush it
/// to disk, then rename it over the target (rename is atomic within a file system).
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the last-known-good path has no file name",
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = dir.join(format!(
        ".{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    // Persist the rename itself; best effort, as not every platform can sync a
    // directory and the copy is already in place.
    #[cfg(unix)]
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const PING: &str = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1";

    fn table_text(url: &str) -> String {
        format!(
            "[[contracts]]\nnamespace = \"{PING}\"\n\n\
             [[routes]]\ncontract = \"{PING}\"\nlogical_address = \"A\"\nrivta_profile = \"RIVTABP20\"\nurl = \"{url}\"\n\n\
             [[authorizations]]\ncontract = \"{PING}\"\nconsumer = \"C\"\nlogical_address = \"*\"\n"
        )
    }

    const BROKEN: &str = "[[contracts]]\nnamespace = \n";

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
    }

    fn routed_url(handle: &RoutingTableHandle) -> String {
        let loaded = handle.current().unwrap();
        loaded.route(PING, "A", day()).unwrap().url().to_string()
    }

    struct Setup {
        dir: tempfile::TempDir,
        source: PathBuf,
        copy: PathBuf,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("tak.toml");
        let copy = dir.path().join("lkg").join("tak.lkg.toml");
        fs::create_dir(dir.path().join("lkg")).unwrap();
        Setup { dir, source, copy }
    }

    #[test]
    fn startup_loads_the_source_and_writes_the_copy() {
        let s = setup();
        fs::write(&s.source, table_text("https://one.example/")).unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());
        assert!(!handle.is_loaded());
        assert_eq!(handle.stats(), None);

        let report = handle.load_initial().unwrap();
        assert!(report.source_error.is_none());
        assert!(
            matches!(&report.last_known_good, LastKnownGoodWrite::Written { path } if *path == s.copy)
        );
        assert_eq!(report.stats.source, format!("file {}", s.source.display()));
        assert!(!report.stats.from_last_known_good);
        let counts = (
            report.stats.contracts,
            report.stats.routes,
            report.stats.authorizations,
        );
        assert_eq!(counts, (1, 1, 1));
        assert_eq!(report.stats.hsa_nodes, 0);
        assert!(handle.is_loaded());
        assert_eq!(handle.stats(), Some(report.stats));
        assert_eq!(routed_url(&handle), "https://one.example/");
        assert_eq!(
            fs::read_to_string(&s.copy).unwrap(),
            table_text("https://one.example/")
        );
    }

    #[test]
    fn reload_swaps_in_a_good_source_and_refreshes_the_copy() {
        let s = setup();
        fs::write(&s.source, table_text("https://one.example/")).unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());
        handle.load_initial().unwrap();
        let before = handle.current().unwrap();

        fs::write(&s.source, table_text("https://two.example/")).unwrap();
        let report = handle.reload().unwrap();
        assert!(matches!(
            report.last_known_good,
            LastKnownGoodWrite::Written { .. }
        ));
        assert_eq!(routed_url(&handle), "https://two.example/");
        assert_eq!(
            fs::read_to_string(&s.copy).unwrap(),
            table_text("https://two.example/")
        );
        // A reader holding the old snapshot keeps a consistent old table.
        assert_eq!(
            before.table().route(PING, "A", day()).unwrap().url(),
            "https://one.example/"
        );
    }

    #[test]
    fn reload_with_a_broken_source_keeps_the_table_and_the_copy() {
        let s = setup();
        fs::write(&s.source, table_text("https://one.example/")).unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());
        handle.load_initial().unwrap();
        let stats_before = handle.stats().unwrap();

        fs::write(&s.source, BROKEN).unwrap();
        let err = handle.reload().unwrap_err();
        assert!(matches!(err, RoutingTableError::Syntax { .. }), "{err}");
        assert_eq!(handle.stats(), Some(stats_before));
        assert_eq!(routed_url(&handle), "https://one.example/");
        assert_eq!(
            fs::read_to_string(&s.copy).unwrap(),
            table_text("https://one.example/")
        );

        fs::remove_file(&s.source).unwrap();
        assert!(matches!(
            handle.reload(),
            Err(RoutingTableError::Read { .. })
        ));
        assert_eq!(routed_url(&handle), "https://one.example/");
    }

    #[test]
    fn startup_with_a_broken_source_uses_the_copy() {
        let s = setup();
        fs::write(&s.copy, table_text("https://saved.example/")).unwrap();
        fs::write(&s.source, BROKEN).unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());

        let report = handle.load_initial().unwrap();
        assert!(matches!(
            report.source_error,
            Some(RoutingTableError::Syntax { .. })
        ));
        assert!(matches!(
            report.last_known_good,
            LastKnownGoodWrite::Unchanged
        ));
        assert!(report.stats.from_last_known_good);
        assert!(
            report.stats.source.starts_with(&format!(
                "last-known-good copy {} (written at 20",
                s.copy.display()
            )),
            "{}",
            report.stats.source
        );
        assert_eq!(routed_url(&handle), "https://saved.example/");
        // The copy is not overwritten by a table that came from it.
        assert_eq!(
            fs::read_to_string(&s.copy).unwrap(),
            table_text("https://saved.example/")
        );

        // Once the source is fixed, a reload takes over from the copy.
        fs::write(&s.source, table_text("https://fixed.example/")).unwrap();
        let report = handle.reload().unwrap();
        assert!(!report.stats.from_last_known_good);
        assert_eq!(routed_url(&handle), "https://fixed.example/");
        assert_eq!(
            fs::read_to_string(&s.copy).unwrap(),
            table_text("https://fixed.example/")
        );
    }

    #[test]
    fn startup_with_both_broken_leaves_the_handle_empty() {
        let s = setup();
        fs::write(&s.source, BROKEN).unwrap();
        fs::write(&s.copy, "{").unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());
        let err = handle.load_initial().unwrap_err();
        let StartupError::NoUsableTable {
            source_error,
            last_known_good_error,
        } = &err;
        assert!(matches!(**source_error, RoutingTableError::Syntax { .. }));
        assert!(matches!(
            last_known_good_error.as_deref(),
            Some(RoutingTableError::Syntax { .. })
        ));
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "no routing table: routing table {} is not a valid TOML",
                s.source.display()
            )),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "; the last-known-good copy is unusable too: routing table {}",
                s.copy.display()
            )),
            "{message}"
        );
        assert!(!handle.is_loaded());
        assert!(handle.current().is_none());
        assert!(handle.current_guard().is_none());
        assert_eq!(handle.stats(), None);

        // Missing files and no copy configured.
        let handle = RoutingTableHandle::new(s.dir.path().join("missing.toml"), None, Vec::new());
        let err = handle.load_initial().unwrap_err();
        assert!(
            err.to_string()
                .ends_with("; no last-known-good copy is configured"),
            "{err}"
        );
        assert!(!handle.is_loaded());
    }

    #[test]
    fn copy_is_replaced_atomically() {
        use std::io::Read;

        let s = setup();
        fs::write(&s.copy, "old contents").unwrap();
        fs::write(&s.source, table_text("https://one.example/")).unwrap();
        // A reader that has the old copy open while the gateway rewrites it.
        let mut reader = fs::File::open(&s.copy).unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());
        handle.load_initial().unwrap();
        assert_eq!(fs::read(&s.copy).unwrap(), fs::read(&s.source).unwrap());
        // The copy was replaced by rename (a new file), not truncated and rewritten in
        // place: the reader still sees the complete old contents.
        let mut seen = String::new();
        reader.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, "old contents");

        fs::write(&s.source, table_text("https://two.example/")).unwrap();
        handle.reload().unwrap();
        assert_eq!(
            fs::read_to_string(&s.copy).unwrap(),
            table_text("https://two.example/")
        );
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(s.copy.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["tak.lkg.toml"]);
    }

    #[test]
    fn check_source_validates_without_swapping() {
        let s = setup();
        fs::write(&s.source, table_text("https://one.example/")).unwrap();
        let handle = RoutingTableHandle::new(&s.source, s.copy.clone(), Vec::new());
        let check = handle.check_source().unwrap();
        assert_eq!(
            check.to_string(),
            "1 contracts, 1 routes, 1 authorizations, 0 HSA nodes, 0 warnings"
        );
        assert!(!handle.is_loaded());
        assert!(!s.copy.exists());
        fs::write(&s.source, BROKEN).unwrap();
        assert!(matches!(
            handle.check_source(),
            Err(RoutingTableError::Syntax { .. })
        ));
    }

    #[test]
    fn failing_to_write_the_copy_does_not_block_the_reload() {
        let s = setup();
        fs::write(&s.source, table_text("https://one.example/")).unwrap();
        let copy = s.dir.path().join("no-such-dir").join("tak.toml");
        let handle = RoutingTableHandle::new(&s.source, copy.clone(), Vec::new());
        let report = handle.load_initial().unwrap();
        assert!(
            matches!(&report.last_known_good, LastKnownGoodWrite::Failed { path, .. } if *path == copy)
        );
        assert_eq!(routed_url(&handle), "https://one.example/");
        assert!(!copy.exists());

        let handle = RoutingTableHandle::new(&s.source, None, Vec::new());
        assert!(matches!(
            handle.reload().unwrap().last_known_good,
            LastKnownGoodWrite::NotConfigured
        ));
    }

    #[test]
    fn placeholders_apply_to_source_and_copy_and_the_copy_keeps_them_raw() {
        let s = setup();
        let raw = table_text("${PRODUCER}/ping");
        fs::write(&s.source, &raw).unwrap();
        let handle = RoutingTableHandle::new(
            &s.source,
            s.copy.clone(),
            vec![("PRODUCER".to_owned(), "https://127.0.0.1:20443".to_owned())],
        );
        handle.load_initial().unwrap();
        assert_eq!(routed_url(&handle), "https://127.0.0.1:20443/ping");
        assert_eq!(fs::read_to_string(&s.copy).unwrap(), raw);

        fs::write(&s.source, BROKEN).unwrap();
        let handle = RoutingTableHandle::new(
            &s.source,
            s.copy.clone(),
            vec![("PRODUCER".to_owned(), "https://127.0.0.1:30443".to_owned())],
        );
        handle.load_initial().unwrap();
        assert_eq!(routed_url(&handle), "https://127.0.0.1:30443/ping");
    }

    #[test]
    fn installed_tables_and_stats_serialise_for_status() {
        let handle = RoutingTableHandle::new("unused.toml", None, Vec::new());
        let table = RoutingTable::from_str(
            &table_text("https://x.example/"),
            TableFormat::Toml,
            "inline",
        )
        .unwrap();
        handle.install(
            table,
            TableOrigin::Provided {
                description: "demo".to_owned(),
            },
        );
        let json = serde_json::to_value(handle.stats().unwrap()).unwrap();
        assert_eq!(json["contracts"], 1);
        assert_eq!(json["routes"], 1);
        assert_eq!(json["authorizations"], 1);
        assert_eq!(json["hsa_nodes"], 0);
        assert_eq!(json["warnings"], 0);
        assert_eq!(json["source"], "provided: demo");
        assert_eq!(json["from_last_known_good"], false);
        assert!(json["loaded_at"].as_str().unwrap().starts_with("20"));
    }
}
