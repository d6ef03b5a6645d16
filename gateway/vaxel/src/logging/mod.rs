//! Log output (specs/metrics.md §3): `tracing` with a filter that can change at run
//! time (`PUT /admin/log-level`) and a format chosen in `[log]` (text for a terminal,
//! JSON lines for a collector). Lines are collected in a buffer that a background
//! thread writes out every 50 ms ([`batch`]): a request's line costs the formatting and
//! a copy, not a system call on the service core; nothing is dropped.

mod batch;
pub mod request_line;

pub use batch::BatchWriter;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::{LogConfig, LogFormat};
use crate::pipeline::observe::REQUEST_LOG_TARGET;

type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type FormatLayer = Box<dyn Layer<Filtered> + Send + Sync>;

/// The process's log output.
pub struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
    format: reload::Handle<FormatLayer, Filtered>,
    writer: BatchWriter,
    stderr: bool,
    /// Whether lines are JSON (request lines are then written by [`request_line`]).
    json: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The directives in force, as given (without the request-line switch).
    level: String,
    requests: bool,
}

impl std::fmt::Debug for Logging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logging")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

static LOGGING: OnceLock<Logging> = OnceLock::new();

/// Start logging at `info` (or `RUST_LOG`) in text; `stderr` for subcommands whose
/// standard output is data. [`Logging::configure`] applies `[log]` once it is read.
pub fn init(stderr: bool) -> &'static Logging {
    LOGGING.get_or_init(|| {
        let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
        let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
        let (filter, filter_handle) = reload::Layer::new(filter);
        let writer = if stderr {
            BatchWriter::start(Box::new(std::io::stderr()))
        } else {
            BatchWriter::start(Box::new(std::io::stdout()))
        };
        let (format, format_handle) =
            reload::Layer::new(format_layer(LogFormat::Text, writer.clone(), stderr));
        // A second init (tests) keeps the first subscriber.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(format)
            .try_init();
        Logging {
            filter: filter_handle,
            format: format_handle,
            writer,
            stderr,
            json: AtomicBool::new(false),
            state: Mutex::new(State {
                level,
                requests: true,
            }),
        }
    })
}

/// The process's logging, if [`init`] ran.
pub fn get() -> Option<&'static Logging> {
    LOGGING.get()
}

/// Write out what is buffered (before the process exits); later lines go straight out.
pub fn flush() {
    if let Some(l) = LOGGING.get() {
        l.writer.flush_now();
    }
}

fn format_layer(format: LogFormat, writer: BatchWriter, stderr: bool) -> FormatLayer {
    use std::io::IsTerminal;
    // Colours only for a terminal: a file or a collector gets plain text.
    let ansi = if stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(ansi)
                .with_writer(writer),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_writer(writer),
        ),
    }
}

impl Logging {
    /// Apply `[log]`: format, level (unless `RUST_LOG` is set) and request lines.
    pub fn configure(&self, cfg: &LogConfig) -> Result<(), String> {
        self.format
            .reload(format_layer(cfg.format, self.writer.clone(), self.stderr))
            .map_err(|e| e.to_string())?;
        self.json
            .store(cfg.format == LogFormat::Json, Ordering::Relaxed);
        let level = std::env::var("RUST_LOG").unwrap_or_else(|_| cfg.level.clone());
        {
            let mut st = self.state.lock().map_err(|e| e.to_string())?;
            st.requests = cfg.requests;
        }
        self.set_level(&level)
    }

    /// Whether lines are written as JSON.
    pub fn json(&self) -> bool {
        self.json.load(Ordering::Relaxed)
    }

    /// Change the filter at run time (`info`, `debug`, `info,vaxel_pdl=debug`, ...).
    pub fn set_level(&self, directives: &str) -> Result<(), String> {
        let mut st = self.state.lock().map_err(|e| e.to_string())?;
        let mut full = directives.trim().to_string();
        if !st.requests {
            full.push_str(&format!(",{REQUEST_LOG_TARGET}=off"));
        }
        let filter = EnvFilter::builder()
            .parse(&full)
            .map_err(|e| format!("\"{directives}\" is not a log filter: {e}"))?;
        self.filter.reload(filter).map_err(|e| e.to_string())?;
        st.level = directives.trim().to_string();
        Ok(())
    }

    /// The directives in force and whether request lines are on.
    pub fn level(&self) -> (String, bool) {
        match self.state.lock() {
            Ok(st) => (st.level.clone(), st.requests),
            Err(_) => ("unknown".into(), false),
        }
    }
}
