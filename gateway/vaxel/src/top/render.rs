//! The screen of `vaxel top`: [`render()`] turns one `/dashboard/data` answer into one
//! screen of text, with its helpers (tables, sparkline, number and duration formats).
//! Pure, so the unit tests pin its lines.

use std::fmt::Write as _;

use serde_json::Value;

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
pub(super) fn fit(s: &str, width: usize) -> String {
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
pub(super) fn sparkline(values: &[f64], max: f64) -> String {
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
pub(super) fn duration(secs: u64) -> String {
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
