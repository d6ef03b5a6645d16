//! `vaxel top`: a live terminal view of a running gateway, drawn from the same
//! `GET /dashboard/data` the browser dashboard polls (so both always agree, and the
//! admin listener's protection — operator token, mutual TLS — applies to both).
//!
//! [`render`] turns one JSON answer into one screen of text and is pure, so the unit
//! tests below pin its lines; [`run`] fetches, redraws in place every interval until
//! Ctrl-C, or prints a single frame without terminal control codes (`--once`, for
//! scripts and the end-to-end test).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

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

// ---------------------------------------------------------------------------------
// Rendering

/// Width of the label column ("requests/s", "totals", ...).
const LABEL: usize = 14;
/// Points in the sparkline: the last minute at one point per second.
const SPARK_POINTS: usize = 60;
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One screen of text for one `/dashboard/data` answer, `width` columns wide, no
/// terminal control codes. Numbers are printed without digit grouping so scripts can
/// read them (`totals ... requests N`).
pub fn render(d: &Value, width: usize) -> String {
    let width = width.max(40);
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(&fit(s, width));
        out.push('\n');
    };

    // Header.
    let rt = &d["routing_table"];
    let routing = if rt["loaded"].as_bool() == Some(true) {
        format!(
            "routing table loaded {} ago: {} contracts, {} routes, {} authorizations",
            duration(int(&rt["age_seconds"])),
            int(&rt["contracts"]),
            int(&rt["routes"]),
            int(&rt["authorizations"])
        )
    } else {
        "routing table NOT LOADED (every request gets VP008)".to_string()
    };
    for l in wrap(
        "",
        &[
            format!(
                "{} (vaxel {})",
                d["instance_id"].as_str().unwrap_or("?"),
                d["version"].as_str().unwrap_or("?")
            ),
            format!("up {}", duration(int(&d["uptime_seconds"]))),
            routing,
        ],
        width,
        0,
    ) {
        line(&l);
    }
    line("");

    // Throughput and latency.
    let step = d["step_seconds"]
        .as_f64()
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    let empty = Vec::new();
    let series = d["series"].as_array().unwrap_or(&empty);
    let recent = &series[series.len().saturating_sub(SPARK_POINTS)..];
    let per_second: Vec<f64> = recent.iter().map(|p| num(&p["requests"]) / step).collect();
    let now = per_second.last().copied().unwrap_or(0.0);
    let max = per_second.iter().copied().fold(0.0, f64::max);
    let now_text = format!("{:>8}", rate(now));
    let tail = format!(
        "  max {} over {}",
        rate(max),
        duration(recent.len() as u64 * step as u64)
    );
    let room = width.saturating_sub(LABEL + now_text.len() + 2 + tail.chars().count());
    let spark = sparkline(&per_second[per_second.len().saturating_sub(room)..], max);
    line(&format!(
        "{:<LABEL$}{now_text}  {spark}{tail}",
        "requests/s"
    ));
    // The newest second that had requests: a quiet second has no latency.
    let latest = recent.iter().rev().find(|p| p["p50_ms"].is_number());
    let latency = match latest {
        Some(p) => format!(
            "p50 {} ms · p99 {} ms",
            ms(num(&p["p50_ms"])),
            ms(num(&p["p99_ms"]))
        ),
        None => "no requests in the last minute".to_string(),
    };
    line(&format!("{:<LABEL$}{latency}", "latency"));
    let t = &d["totals"];
    for l in wrap(
        "totals",
        &[
            format!("requests {}", int(&t["requests"])),
            format!("faults {}", int(&t["faults"])),
            format!("in flight {}", int(&t["requests_in_flight"])),
            format!("connections {}", int(&t["connections_open"])),
            format!("refused {}", int(&t["refused"])),
            format!(
                "TLS handshake failures {}",
                int(&t["tls_handshake_failures"])
            ),
        ],
        width,
        LABEL,
    ) {
        line(&l);
    }

    // Top tables.
    for (key, title, shorten) in [
        ("contracts", "top contracts", true),
        ("consumers", "top consumers", false),
        ("producers", "top producers", false),
    ] {
        line("");
        // Names wider than 64 columns only push the numbers away from them.
        let name_w = width.saturating_sub(2 + 9 + 11 + 8).clamp(10, 64);
        line(&format!(
            "{:<w$}{:>9}{:>11}{:>8}",
            title,
            "req/s",
            "requests",
            "faults",
            w = name_w + 2
        ));
        let rows = d["top"][key].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if rows.is_empty() {
            line("  (no traffic yet)");
        }
        for r in rows {
            let name = r["name"].as_str().unwrap_or("?");
            let shown = if shorten { short_contract(name) } else { name };
            line(&format!(
                "  {:<name_w$}{:>9}{:>11}{:>8}",
                fit(shown, name_w),
                rate(num(&r["per_second"])),
                int(&r["requests"]),
                int(&r["faults"])
            ));
        }
    }

    // Faults and the optional subsystems.
    line("");
    let faults: Vec<String> = d["faults_by_code"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|f| int(&f["count"]) > 0)
        .map(|f| format!("{} {}", f["code"].as_str().unwrap_or("?"), int(&f["count"])))
        .collect();
    if faults.is_empty() {
        line(&format!("{:<LABEL$}none since start", "faults"));
    } else {
        for l in wrap("faults", &faults, width, LABEL) {
            line(&l);
        }
    }
    let s = &d["sdk"];
    if s.is_object() {
        let o = &s["outgoing"];
        let a = &s["delivery_attempts"];
        let r = &s["receipts"];
        // Two lines whatever the width: the queues, then what happened on the wire.
        let queues = [
            format!(
                "outgoing queued {}, sending {}, delivered {}, rejected {}, failed {}",
                int(&o["queued"]),
                int(&o["sending"]),
                int(&o["delivered"]),
                int(&o["rejected"]),
                int(&o["failed"])
            ),
            format!("inbox pending {}", int(&s["inbox_pending"])),
        ];
        let wire = [
            format!(
                "delivery attempts delivered {}, rejected {}, failed {}",
                int(&a["delivered"]),
                int(&a["rejected"]),
                int(&a["failed"])
            ),
            format!(
                "receipts sent {}/{}, received {}/{} (accepted/rejected)",
                int(&r["sent_accepted"]),
                int(&r["sent_rejected"]),
                int(&r["received_accepted"]),
                int(&r["received_rejected"])
            ),
        ];
        for l in wrap("sdk", &queues, width, LABEL)
            .into_iter()
            .chain(wrap("", &wire, width, LABEL))
        {
            line(&l);
        }
    }
    let c = &d["consent"];
    if c.is_object() {
        let dec = &c["decisions"];
        let items = [
            format!("allowed {}", int(&dec["allowed"])),
            format!("emergency {}", int(&dec["emergency"])),
            format!("denied {}", int(&dec["denied"])),
            format!("withheld records {}", int(&c["withheld_records"])),
            format!("denials/s {}", rate(num(&c["denials_per_second"]))),
        ];
        for l in wrap("consent", &items, width, LABEL) {
            line(&l);
        }
    }
    let e = &d["engagement_index"];
    if e.is_object() {
        let items = [
            format!("notifications pending {}", int(&e["notifications_pending"])),
            format!("updates {}", int(&e["updates"])),
        ];
        for l in wrap("engagement", &items, width, LABEL) {
            line(&l);
        }
    }
    let a = &d["access_log"];
    if a.is_object() {
        let p99 = if a["commit_p99_ms"].is_number() {
            format!("{} ms", ms(num(&a["commit_p99_ms"])))
        } else {
            "-".to_string()
        };
        let items = [
            format!("queue depth {}", int(&a["queue_depth"])),
            format!("entries {}", int(&a["entries"])),
            format!("commit p99 {p99}"),
        ];
        for l in wrap("access log", &items, width, LABEL) {
            line(&l);
        }
    }
    out
}

/// `label` padded to `indent`, then the items joined with " · ", wrapped at item
/// boundaries (continuation lines indented), each line at most `width` characters.
fn wrap(label: &str, items: &[String], width: usize, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = format!("{label:<indent$}");
    let mut has_item = false;
    for item in items {
        let add = if has_item {
            format!(" · {item}")
        } else {
            item.clone()
        };
        if has_item && cur.chars().count() + add.chars().count() > width {
            lines.push(cur);
            cur = format!("{:indent$}{item}", "");
        } else {
            cur.push_str(&add);
        }
        has_item = true;
    }
    lines.push(cur);
    lines
}

/// `s` cut to `width` characters, with an ellipsis when cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Contract namespaces are long: the last two `:` parts name the contract and its
/// version (`urn:riv:...:GetCareDocumentationResponder:2` → `GetCareDocumentationResponder:2`).
pub fn short_contract(name: &str) -> &str {
    match name.rmatch_indices(':').nth(1) {
        Some((i, _)) => &name[i + 1..],
        None => name,
    }
}

/// One block per value, scaled to `max`; an idle second is the lowest block and any
/// traffic at least the second lowest, so "a little" never looks like "none".
fn sparkline(values: &[f64], max: f64) -> String {
    values
        .iter()
        .map(|&v| {
            if v <= 0.0 || max <= 0.0 {
                BLOCKS[0]
            } else {
                let level = 1 + ((v / max) * 6.0).round() as usize;
                BLOCKS[level.min(BLOCKS.len() - 1)]
            }
        })
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn int(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_f64().map(|f| f.max(0.0).round() as u64))
        .unwrap_or(0)
}

/// Rates: two decimals below 1, one below 10, whole numbers above.
fn rate(x: f64) -> String {
    if x <= 0.0 {
        "0".to_string()
    } else if x < 1.0 {
        format!("{x:.2}")
    } else if x < 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// `42 s`, `12 min 3 s`, `3 h 12 min`, `2 d 4 h`.
fn duration(secs: u64) -> String {
    let mut s = String::new();
    let (m, h) = (secs / 60, secs / 3600);
    // Whole units print alone: "1 min", not "1 min 0 s".
    let _ = match (secs, secs % 60, m % 60, h % 24) {
        (0..=59, ..) => write!(s, "{secs} s"),
        (_, 0, ..) if m < 60 => write!(s, "{m} min"),
        _ if m < 60 => write!(s, "{m} min {} s", secs % 60),
        (.., 0, _) if h < 48 => write!(s, "{h} h"),
        _ if h < 48 => write!(s, "{h} h {} min", m % 60),
        (.., 0) => write!(s, "{} d", h / 24),
        _ => write!(s, "{} d {} h", h / 24, h % 24),
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The contract's example (specs: the dashboard data), with a short series.
    fn sample() -> Value {
        json!({
            "instance_id": "vaxel-demo", "version": "0.1.0", "uptime_seconds": 3725,
            "now_ms": 1765000003000u64, "step_seconds": 1,
            "series": [
                {"t_ms": 1765000000000u64, "requests": 0, "faults": 0, "p50_ms": null, "p99_ms": null},
                {"t_ms": 1765000001000u64, "requests": 8, "faults": 0, "p50_ms": 0.8, "p99_ms": 2.5},
                {"t_ms": 1765000002000u64, "requests": 12, "faults": 1, "p50_ms": 1.2, "p99_ms": 4.8}
            ],
            "totals": {"requests": 1234, "faults": 12, "requests_in_flight": 2, "connections_open": 3,
                       "refused": 1, "tls_handshake_failures": 4},
            "top": {
                "contracts": [
                    {"name": "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2",
                     "requests": 100, "faults": 1, "per_second": 3.2},
                    {"name": "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1",
                     "requests": 20, "faults": 0, "per_second": 0.5}
                ],
                "consumers": [{"name": "SE0000000000-DEMOCONSUMER", "requests": 120, "faults": 1, "per_second": 3.7}],
                "producers": []
            },
            "faults_by_code": [{"code": "VP007", "count": 3}, {"code": "VP004", "count": 1}],
            "routing_table": {"loaded": true, "age_seconds": 30, "contracts": 10, "routes": 20, "authorizations": 30},
            "sdk": {"outgoing": {"queued": 1, "sending": 0, "delivered": 5, "rejected": 0, "failed": 2},
                    "inbox_pending": 3,
                    "delivery_attempts": {"delivered": 5, "rejected": 0, "failed": 1},
                    "receipts": {"sent_accepted": 4, "sent_rejected": 0, "received_accepted": 5, "received_rejected": 1}},
            "consent": {"decisions": {"allowed": 10, "emergency": 1, "denied": 3}, "withheld_records": 3,
                        "denials_per_second": 0.1},
            "engagement_index": {"notifications_pending": 0, "updates": 4},
            "access_log": {"queue_depth": 0, "entries": 14, "commit_p99_ms": 2.1}
        })
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn totals_line_is_exact_and_parseable() {
        let text = render(&sample(), 160);
        assert!(
            lines(&text).contains(
                &"totals        requests 1234 · faults 12 · in flight 2 · connections 3 · refused 1 · TLS handshake failures 4"
            ),
            "{text}"
        );
    }

    #[test]
    fn totals_wrap_at_item_boundaries_on_a_narrow_terminal() {
        let text = render(&sample(), 80);
        let l = lines(&text);
        let i = l
            .iter()
            .position(|l| l.starts_with("totals"))
            .expect("totals line");
        assert_eq!(
            l[i],
            "totals        requests 1234 · faults 12 · in flight 2 · connections 3"
        );
        assert_eq!(
            l[i + 1],
            "              refused 1 · TLS handshake failures 4"
        );
        for line in &l {
            assert!(line.chars().count() <= 80, "{line:?} is wider than 80");
        }
    }

    #[test]
    fn header_rate_latency_and_sparkline() {
        let text = render(&sample(), 120);
        let l = lines(&text);
        assert_eq!(
            l[0],
            "vaxel-demo (vaxel 0.1.0) · up 1 h 2 min · routing table loaded 30 s ago: 10 contracts, 20 routes, 30 authorizations"
        );
        assert_eq!(l[2], "requests/s          12  ▁▆█  max 12 over 3 s");
        assert_eq!(l[3], "latency       p50 1.2 ms · p99 4.8 ms");
    }

    #[test]
    fn tables_shorten_contracts_and_align_numbers() {
        let text = render(&sample(), 80);
        let l = lines(&text);
        let expected = [
            "top contracts                                           req/s   requests  faults",
            "  GetCareDocumentationResponder:2                         3.2        100       1",
            "  GetSubjectOfCareScheduleResponder:1                    0.50         20       0",
        ];
        let at = l
            .iter()
            .position(|l| l.starts_with("top contracts"))
            .expect("contracts");
        assert_eq!(l[at..at + 3], expected, "{text}");
        assert!(
            l.contains(
                &"  SE0000000000-DEMOCONSUMER                               3.7        120       1"
            ),
            "{text}"
        );
        assert!(l.iter().all(|l| l.chars().count() <= 80), "{text}");
        let producers = l
            .iter()
            .position(|l| l.starts_with("top producers"))
            .expect("producers");
        assert_eq!(l[producers + 1], "  (no traffic yet)");
    }

    #[test]
    fn faults_and_optional_sections() {
        let text = render(&sample(), 120);
        let l = lines(&text);
        assert!(l.contains(&"faults        VP007 3 · VP004 1"), "{text}");
        let sdk = l.iter().position(|l| l.starts_with("sdk")).expect("sdk");
        assert_eq!(
            l[sdk],
            "sdk           outgoing queued 1, sending 0, delivered 5, rejected 0, failed 2 · inbox pending 3"
        );
        assert_eq!(
            l[sdk + 1],
            "              delivery attempts delivered 5, rejected 0, failed 1 · receipts sent 4/0, received 5/1 (accepted/rejected)"
        );
        assert!(l.contains(&"consent       allowed 10 · emergency 1 · denied 3 · withheld records 3 · denials/s 0.10"), "{text}");
        assert!(
            l.contains(&"engagement    notifications pending 0 · updates 4"),
            "{text}"
        );
        assert!(
            l.contains(&"access log    queue depth 0 · entries 14 · commit p99 2.1 ms"),
            "{text}"
        );
    }

    #[test]
    fn absent_subsystems_and_an_idle_gateway() {
        let mut d = sample();
        for k in ["sdk", "consent", "engagement_index", "access_log"] {
            d[k] = Value::Null;
        }
        d["series"] = json!([]);
        d["faults_by_code"] = json!([]);
        d["routing_table"]["loaded"] = json!(false);
        let text = render(&d, 100);
        for word in ["sdk", "consent", "engagement", "access log"] {
            assert!(
                !text.lines().any(|l| l.starts_with(word)),
                "{word} shown: {text}"
            );
        }
        assert!(text.contains("routing table NOT LOADED"), "{text}");
        assert!(text.contains("faults        none since start"), "{text}");
        assert!(
            text.contains("latency       no requests in the last minute"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("requests/s           0  ")),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no terminal control codes");
    }

    #[test]
    fn short_contract_keeps_the_last_two_parts() {
        assert_eq!(
            short_contract(
                "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2"
            ),
            "GetCareDocumentationResponder:2"
        );
        assert_eq!(short_contract("Ping:1"), "Ping:1");
        assert_eq!(short_contract("plain"), "plain");
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(sparkline(&[0.0, 1.0, 50.0, 100.0], 100.0), "▁▂▅█");
        assert_eq!(sparkline(&[0.0, 0.0], 0.0), "▁▁");
    }

    #[test]
    fn durations_read_naturally() {
        let cases = [
            (0, "0 s"),
            (59, "59 s"),
            (60, "1 min"),
            (61, "1 min 1 s"),
            (3600, "1 h"),
            (3725, "1 h 2 min"),
            (48 * 3600, "2 d"),
            (50 * 3600 + 60, "2 d 2 h"),
        ];
        for (secs, text) in cases {
            assert_eq!(duration(secs), text, "{secs} s");
        }
    }

    #[test]
    fn data_url_joins_with_one_slash() {
        assert_eq!(
            data_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/dashboard/data"
        );
        assert_eq!(
            data_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/dashboard/data"
        );
    }

    #[test]
    fn https_needs_a_ca_and_http_takes_no_tls_files() {
        let args = |admin: &str, ca: Option<&str>| TopArgs {
            admin: admin.into(),
            interval_ms: 1000,
            once: true,
            token: None,
            cert: None,
            key: None,
            ca: ca.map(PathBuf::from),
        };
        let e = client(&args("https://127.0.0.1:8080", None)).unwrap_err();
        assert!(e.to_string().contains("--ca"), "{e}");
        let e = client(&args("http://127.0.0.1:8080", Some("/ca.pem"))).unwrap_err();
        assert!(e.to_string().contains("https://"), "{e}");
        let e = client(&args("127.0.0.1:8080", None)).unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
        assert!(client(&args("http://127.0.0.1:8080", None)).is_ok());
    }
}
