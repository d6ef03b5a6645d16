//! `vaxel top`: a live terminal view of a running gateway, drawn from the same
//! `GET /dashboard/data` the browser dashboard polls (so both always agree, and the
//! admin listener's protection — operator token, mutual TLS — applies to both).
//!
//! [`render()`] (in `render.rs`) turns one JSON answer into one screen of text and is
//! pure, so the unit tests (`tests.rs`) pin its lines; [`run`] (here, with the fetching
//! and the terminal handling) fetches, redraws in place every interval until Ctrl-C, or
//! prints a single frame without terminal control codes (`--once`, for scripts and the
//! end-to-end test).

mod render;
#[cfg(test)]
mod tests;

pub use render::{render, short_contract};

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use render::fit;

/// The demo's admin listener (`vaxel serve --demo`, README): where a developer's
/// gateway answers when no `--admin` is given. Production gateways have no default
/// admin address (`[admin] listen` is optional), so they always need `--admin`.
pub const DEFAULT_ADMIN: &str = "http://127.0.0.1:8080";

/// `vaxel top` options.
#[derive(Debug, Clone, clap::Args)]
pub struct TopArgs {
    /// The gateway's admin listener (`[admin] listen`); https:// for one behind TLS.
    #[arg(long, default_value = DEFAULT_ADMIN, value_name = "URL")]
    pub admin: String,
    /// Time between refreshes.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub interval_ms: u64,
    /// Print one frame without terminal control codes and exit (for scripts).
    #[arg(long)]
    pub once: bool,
    /// Operator JWT, sent as `Authorization: Bearer` (the environment variable keeps it
    /// out of the process list).
    #[arg(
        long,
        env = "VAXEL_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "JWT"
    )]
    pub token: Option<String>,
    /// Client certificate for an admin listener with mutual TLS.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// CA that issued the admin listener's certificate (needed for https://).
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
}

/// Runs `vaxel top` until Ctrl-C (or once). An admin listener that cannot be reached
/// at the start, or that refuses the token at any time, is an error (exit code 1).
pub fn run(args: &TopArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: &TopArgs) -> anyhow::Result<()> {
    let client = client(args)?;
    let url = data_url(&args.admin);
    let token = args.token.as_deref();
    let first = fetch(&client, &url, token).await?;
    if args.once {
        let mut out = std::io::stdout().lock();
        out.write_all(render(&first, terminal_size(false).1).as_bytes())?;
        out.flush()?;
        return Ok(());
    }

    let interval = Duration::from_millis(args.interval_ms.max(100));
    // Handlers in place before the screen changes: Ctrl-C (and a plain `kill`) must
    // always leave through Screen's drop, which gives the terminal back.
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let _screen = Screen::enter()?;
    let mut data = first;
    let mut updated = chrono::Local::now();
    let mut problem: Option<String> = None;
    loop {
        let (rows, cols) = terminal_size(true);
        let frame = render(&data, cols);
        let status = match &problem {
            None => format!(
                "updated {} · every {} ms · {} · Ctrl-C to quit",
                updated.format("%H:%M:%S"),
                interval.as_millis(),
                args.admin
            ),
            // A failed poll keeps the last frame on screen, marked as old: one lost
            // poll (a restart, a busy gateway) should not end the session.
            Some(e) => format!(
                "STALE: showing data from {} · {e}",
                updated.format("%H:%M:%S")
            ),
        };
        draw(&frame, &fit(&status, cols), rows)?;
        let next = async {
            tokio::time::sleep(interval).await;
            fetch(&client, &url, token).await
        };
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            polled = next => match polled {
                Ok(d) => {
                    data = d;
                    updated = chrono::Local::now();
                    problem = None;
                }
                Err(e @ FetchError::Refused { .. }) => return Err(e.into()),
                Err(e) => problem = Some(e.to_string()),
            },
        }
    }
}

/// `<admin>/dashboard/data`, whether or not the URL ends in a slash.
fn data_url(admin: &str) -> String {
    format!("{}/dashboard/data", admin.trim_end_matches('/'))
}

/// The HTTP client: plain for http://; for https://, rustls trusting `--ca`, with the
/// client certificate when one is given (the same configuration the gateway uses
/// towards producers, crate::tls).
fn client(args: &TopArgs) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10));
    let https = args.admin.starts_with("https://");
    if !https && !args.admin.starts_with("http://") {
        anyhow::bail!(
            "--admin {}: give an http:// or https:// URL, e.g. {DEFAULT_ADMIN}",
            args.admin
        );
    }
    let tls = match (https, &args.cert, &args.key, &args.ca) {
        (false, None, None, None) => None,
        (false, ..) => anyhow::bail!(
            "--cert, --key and --ca are for an https:// admin listener; --admin is {}",
            args.admin
        ),
        (true, Some(cert), Some(key), Some(ca)) => Some(
            (*crate::tls::producer_client_config(cert, key, ca)?).clone(),
        ),
        (true, None, None, Some(ca)) => Some(server_auth_only(ca)?),
        (true, _, _, None) => anyhow::bail!(
            "an https:// admin listener needs --ca (the CA of its certificate), and --cert and --key when it requires a client certificate"
        ),
        // clap makes --cert and --key require each other.
        (true, ..) => anyhow::bail!("--cert and --key go together"),
    };
    let builder = match tls {
        Some(cfg) => builder.use_preconfigured_tls(cfg),
        None => builder,
    };
    Ok(builder.build()?)
}

/// TLS that verifies the admin listener against `ca` and sends no client certificate.
fn server_auth_only(ca: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in crate::tls::load_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("CA file {}: {e}", ca.display()))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Why a poll of `/dashboard/data` failed.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("cannot reach the admin listener at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {hint}")]
    Refused {
        url: String,
        status: u16,
        hint: &'static str,
    },
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} did not answer dashboard JSON: {reason}")]
    NotJson { url: String, reason: String },
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Value, FetchError> {
    let mut req = client.get(url).header("accept", "application/json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let unreachable = |e: reqwest::Error| FetchError::Unreachable {
        url: url.to_string(),
        reason: crate::onward::error_chain(&e),
    };
    let resp = req.send().await.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(unreachable)?;
    match status {
        200 => {}
        401 => {
            return Err(FetchError::Refused {
                url: url.to_string(),
                status,
                hint: if token.is_some() {
                    "the operator token was not accepted (expired, or signed by another key?)"
                } else {
                    "an operator token is needed: pass it with --token or VAXEL_ADMIN_TOKEN"
                },
            })
        }
        403 => {
            return Err(FetchError::Refused {
                url: url.to_string(),
                status,
                hint: "this token may not read the dashboard: an operator token is needed",
            })
        }
        _ => {
            let text = String::from_utf8_lossy(&body);
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
                body: text
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .trim()
                    .to_string(),
            });
        }
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| FetchError::NotJson {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    if !v.is_object() || v.get("totals").is_none() {
        return Err(FetchError::NotJson {
            url: url.to_string(),
            reason: "no `totals` object".into(),
        });
    }
    Ok(v)
}

/// The alternate screen with a hidden cursor, restored when dropped (also when `run`
/// returns an error, so the message lands on the normal screen).
#[derive(Debug)]
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        let mut out = std::io::stdout().lock();
        out.write_all(b"\x1b[?1049h\x1b[?25l\x1b[2J\x1b[H")?;
        out.flush()?;
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
    }
}

/// Redraws in place: home, each line followed by clear-to-end-of-line, then clear the
/// rest of the screen (no full clear per frame, which flickers). The status line is
/// always the last; frame lines beyond the terminal's height are dropped so the screen
/// never scrolls.
fn draw(frame: &str, status: &str, rows: usize) -> std::io::Result<()> {
    let mut buf = String::from("\x1b[H");
    for line in frame.lines().take(rows.saturating_sub(2)) {
        buf.push_str(line);
        buf.push_str("\x1b[K\n");
    }
    buf.push_str("\x1b[K\n");
    buf.push_str(status);
    buf.push_str("\x1b[K\x1b[J");
    let mut out = std::io::stdout().lock();
    out.write_all(buf.as_bytes())?;
    out.flush()
}

/// (rows, columns) of the terminal: `COLUMNS`/`LINES` when set, else `stty size` on the
/// controlling terminal (no ioctl: the crate forbids unsafe code), else 40×100. A
/// frame for a pipe (`--once` into a file) is 100 columns wide unless `COLUMNS` says
/// otherwise, so scripts get the same layout everywhere.
fn terminal_size(live: bool) -> (usize, usize) {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    let (mut rows, mut cols) = (env("LINES"), env("COLUMNS"));
    if (rows.is_none() || cols.is_none()) && (live || std::io::stdout().is_terminal()) {
        if let Some((r, c)) = stty_size() {
            rows = rows.or(Some(r));
            cols = cols.or(Some(c));
        }
    }
    (
        rows.unwrap_or(40).max(5),
        cols.unwrap_or(100).clamp(40, 400),
    )
}

fn stty_size() -> Option<(usize, usize)> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let out = std::process::Command::new("stty")
        .arg("size")
        .stdin(tty)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<usize>().ok());
    Some((it.next()??, it.next()??))
}
