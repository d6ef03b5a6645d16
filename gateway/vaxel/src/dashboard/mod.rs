//! The live dashboard on the admin listener (specs/metrics.md §4): `GET /dashboard` is
//! one page with its style sheet and script beside it (`/dashboard/dashboard.css`,
//! `/dashboard/dashboard.js`, from the same listener: nothing from the internet, no
//! build step), `GET /dashboard/data` the JSON it polls every second (`vaxel top` reads
//! the same).
//!
//! A sampler on the control runtime reads the metrics once a second and keeps the last
//! 15 minutes as one point per second (requests, faults, p50 and p99 from the latency
//! histograms' difference over that second), so a page opened now shows history at
//! once. The same tick refreshes the gauges read from elsewhere (routing table age and
//! size) and, every few seconds, those that need a store query (notification backlog,
//! SDK queues).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;
use vaxel_telemetry::{metrics, HistogramSnapshot};

use crate::pipeline::Shared;

/// The page, served as is (`GET /dashboard`).
pub const PAGE: &str = include_str!("page.html");
/// The page's style sheet, served as is (`GET /dashboard/dashboard.css`).
pub const STYLE: &str = include_str!("dashboard.css");
/// The page's script, served as is (`GET /dashboard/dashboard.js`).
pub const SCRIPT: &str = include_str!("dashboard.js");

/// Points kept: 15 minutes at one per second.
const HISTORY: usize = 900;
/// The window of the top lists' rates.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Store-backed gauges are refreshed this often.
const STORE_EVERY: u32 = 5;
/// Rows per top list.
const TOP: usize = 8;

/// One second of traffic.
#[derive(Debug, Clone, Copy)]
struct Point {
    t_ms: i64,
    requests: u64,
    faults: u64,
    p50: Option<f64>,
    p99: Option<f64>,
}

/// Requests and faults per label value at one moment (for rates over the window).
type Counts = HashMap<(Kind, Arc<str>), (u64, u64)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Contract,
    Consumer,
    Producer,
}

/// What the sampler keeps.
#[derive(Debug, Default)]
pub struct History {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    points: VecDeque<Point>,
    last: Option<(u64, u64, HistogramSnapshot)>,
    /// Snapshots of `Counts` and of the denied consent decisions, oldest first,
    /// covering at least [`RATE_WINDOW`].
    windows: VecDeque<(Instant, Counts, u64)>,
    sdk: Option<Value>,
    notifications_pending: Option<u64>,
}

fn counts_now() -> Counts {
    let mut out: Counts = HashMap::new();
    for (labels, c) in metrics().requests.routes() {
        let (r, f) = (c.requests(), c.fault_total());
        for (kind, name) in [
            (Kind::Contract, labels.contract),
            (Kind::Consumer, labels.consumer),
            (Kind::Producer, labels.producer),
        ] {
            let e = out.entry((kind, name)).or_default();
            e.0 += r;
            e.1 += f;
        }
    }
    out
}

impl History {
    /// Take one sample (once a second).
    fn sample(&self, now_ms: i64) {
        let m = metrics();
        let (requests, faults) = m.requests.totals();
        let latency = m.requests.total_latency();
        let counts = counts_now();
        let denied = consent_decisions().get("denied").copied().unwrap_or(0);
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some((r0, f0, l0)) = inner.last {
            let delta = latency.since(&l0);
            let ms = |s: Option<f64>| s.map(|v| (v * 1e6).round() / 1e3);
            inner.points.push_back(Point {
                t_ms: now_ms,
                requests: requests.saturating_sub(r0),
                faults: faults.saturating_sub(f0),
                p50: ms(delta.quantile(0.5)),
                p99: ms(delta.quantile(0.99)),
            });
            while inner.points.len() > HISTORY {
                inner.points.pop_front();
            }
        }
        inner.last = Some((requests, faults, latency));
        let now = Instant::now();
        inner.windows.push_back((now, counts, denied));
        // Keep the newest snapshot at least RATE_WINDOW old as the base of the rates.
        while inner.windows.len() > 2
            && inner
                .windows
                .get(1)
                .is_some_and(|(t, _, _)| now.duration_since(*t) >= RATE_WINDOW)
        {
            inner.windows.pop_front();
        }
    }
}

/// Refresh routing-table gauges (every tick: cheap).
fn refresh_routing(shared: &Shared) {
    let m = metrics();
    match shared.routing.stats() {
        None => {
            m.routing_table_loaded.set(0);
        }
        Some(s) => {
            m.routing_table_loaded.set(1);
            m.routing_table_loaded_timestamp
                .set(s.loaded_at.timestamp());
            let age = (vaxel_model::clock::now_utc() - s.loaded_at)
                .num_seconds()
                .max(0);
            m.routing_table_age.set(age);
            for (kind, n) in [
                ("contracts", s.contracts),
                ("routes", s.routes),
                ("authorizations", s.authorizations),
            ] {
                m.routing_table_entries
                    .get_or_create(&[("kind", kind)])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }
}

/// Refresh the gauges that need a store query.
async fn refresh_store(shared: &Shared) {
    let m = metrics();
    let mut pending = None;
    for service in shared.services.iter() {
        if service.status_key() == "engagement_index" {
            let status = service.status().await;
            if let Some(n) = status.get("notifications_pending").and_then(Value::as_u64) {
                m.notifications_pending
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
                pending = Some(n);
            }
        }
    }
    let mut sdk_view = None;
    if let Some(sdk) = &shared.sdk {
        let counts = sdk.counts().await;
        if let Some(out) = counts.get("outgoing").and_then(Value::as_object) {
            for status in ["queued", "sending", "delivered", "rejected", "failed"] {
                let n = out.get(status).and_then(Value::as_i64).unwrap_or(0);
                m.sdk_outgoing.get_or_create(&[("status", status)]).set(n);
            }
        }
        if let Some(n) = counts.pointer("/inbox/pending").and_then(Value::as_i64) {
            m.sdk_inbox.set(n);
        }
        sdk_view = Some(counts);
    }
    if let Ok(mut inner) = shared.dashboard.inner.lock() {
        inner.notifications_pending = pending;
        inner.sdk = sdk_view;
    }
}

/// Sample until shutdown.
pub fn spawn_sampler(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u32 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            refresh_routing(&shared);
            if n.is_multiple_of(STORE_EVERY) {
                refresh_store(&shared).await;
            }
            n = n.wrapping_add(1);
            shared
                .dashboard
                .sample(vaxel_model::clock::now_utc().timestamp_millis());
        }
    });
}

fn top(
    kind: Kind,
    now: &Counts,
    base: Option<&(Instant, Counts, u64)>,
    elapsed: f64,
) -> Vec<Value> {
    let mut rows: Vec<(f64, u64, u64, &str)> = now
        .iter()
        .filter(|((k, _), _)| *k == kind)
        .map(|((_, name), (r, f))| {
            let before = base
                .and_then(|(_, b, _)| b.get(&(kind, name.clone())))
                .map_or(0, |x| x.0);
            let rate = if elapsed > 0.0 {
                r.saturating_sub(before) as f64 / elapsed
            } else {
                0.0
            };
            (rate, *r, *f, &**name)
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.3.cmp(b.3)));
    rows.into_iter()
        .take(TOP)
        .map(|(rate, r, f, name)| {
            json!({"name": name, "requests": r, "faults": f, "per_second": (rate * 100.0).round() / 100.0})
        })
        .collect()
}

fn counter_value(
    family: &vaxel_telemetry::CounterFamily,
    label: (&'static str, &'static str),
) -> u64 {
    family.get_or_create(&[label]).get()
}

/// `GET /dashboard/data`.
pub fn data(shared: &Shared) -> Value {
    let m = metrics();
    let (requests, faults) = m.requests.totals();
    let now_counts = counts_now();
    let inner = shared.dashboard.inner.lock();
    let (series, base, sdk_counts, pending) = match &inner {
        Ok(i) => (
            i.points
                .iter()
                .map(|p| json!({"t_ms": p.t_ms, "requests": p.requests, "faults": p.faults, "p50_ms": p.p50, "p99_ms": p.p99}))
                .collect::<Vec<_>>(),
            i.windows.front().map(|(t, c, d)| (*t, c.clone(), *d)),
            i.sdk.clone(),
            i.notifications_pending,
        ),
        Err(_) => (Vec::new(), None, None, None),
    };
    drop(inner);
    let elapsed = base
        .as_ref()
        .map_or(0.0, |(t, _, _)| t.elapsed().as_secs_f64());
    let mut by_code: HashMap<&'static str, u64> = HashMap::new();
    for (_, c) in m.requests.routes() {
        for (code, n) in c.faults() {
            *by_code.entry(code).or_default() += n;
        }
    }
    let mut faults_by_code: Vec<(&str, u64)> = by_code.into_iter().collect();
    faults_by_code.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

    let routing = match shared.routing.stats() {
        None => json!({"loaded": false}),
        Some(s) => json!({
            "loaded": true,
            "age_seconds": (vaxel_model::clock::now_utc() - s.loaded_at).num_seconds().max(0),
            "contracts": s.contracts,
            "routes": s.routes,
            "authorizations": s.authorizations,
        }),
    };
    let sdk = shared.sdk.as_ref().map(|_| {
        let out = sdk_counts
            .as_ref()
            .and_then(|c| c.get("outgoing").cloned())
            .unwrap_or_else(|| json!({}));
        let inbox = sdk_counts
            .as_ref()
            .and_then(|c| c.pointer("/inbox/pending").cloned())
            .unwrap_or(json!(0));
        let attempts = |o| counter_value(&m.sdk_delivery_attempts, ("outcome", o));
        let receipts = |d, o| {
            m.sdk_receipts
                .get_or_create(&[("direction", d), ("outcome", o)])
                .get()
        };
        json!({
            "outgoing": out,
            "inbox_pending": inbox,
            "delivery_attempts": {"delivered": attempts("delivered"), "rejected": attempts("rejected"), "failed": attempts("failed")},
            "receipts": {
                "sent_accepted": receipts("sent", "accepted"),
                "sent_rejected": receipts("sent", "rejected"),
                "received_accepted": receipts("received", "accepted"),
                "received_rejected": receipts("received", "rejected"),
            },
        })
    });
    let consent = shared.consent.as_ref().map(|_| {
        let by_decision = consent_decisions();
        let denied = by_decision.get("denied").copied().unwrap_or(0);
        let denials_per_second = match &base {
            Some((_, _, before)) if elapsed > 0.5 => {
                let rate = denied.saturating_sub(*before) as f64 / elapsed;
                (rate * 100.0).round() / 100.0
            }
            _ => 0.0,
        };
        let withheld: u64 = vaxel_adapters::all()
            .iter()
            .map(|set| {
                m.consent_withheld
                    .get(&[("information_set", set.descriptor().name)])
                    .map_or(0, |c| c.get())
            })
            .sum();
        json!({
            "decisions": by_decision,
            "withheld_records": withheld,
            "denials_per_second": denials_per_second,
        })
    });
    let engagement_index = shared
        .services
        .iter()
        .any(|s| s.status_key() == "engagement_index")
        .then(|| {
            json!({
                "notifications_pending": pending.unwrap_or(0),
                "updates": counter_value(&m.engagement_updates, ("outcome", "ok"))
                    + counter_value(&m.engagement_updates, ("outcome", "fault")),
            })
        });
    let access_log = shared.access_log.as_ref().map(|_| {
        let commits = m.access_log_commit.snapshot();
        json!({
            "queue_depth": m.access_log_queue.get(),
            "entries": m.access_log_entries.get(),
            "commit_p99_ms": commits.quantile(0.99).map(|s| (s * 1e6).round() / 1e3),
        })
    });
    json!({
        "instance_id": shared.config.instance_id,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": shared.started.elapsed().as_secs(),
        "now_ms": vaxel_model::clock::now_utc().timestamp_millis(),
        "step_seconds": 1,
        "series": series,
        "totals": {
            "requests": requests,
            "faults": faults,
            "requests_in_flight": m.requests_in_flight.get(),
            "connections_open": m.connections_open.get(),
            "refused": counter_value(&m.refused, ("limit", "connections")) + counter_value(&m.refused, ("limit", "requests")),
            "tls_handshake_failures": counter_value(&m.tls_handshakes, ("result", "failed")),
        },
        "top": {
            "contracts": top(Kind::Contract, &now_counts, base.as_ref(), elapsed),
            "consumers": top(Kind::Consumer, &now_counts, base.as_ref(), elapsed),
            "producers": top(Kind::Producer, &now_counts, base.as_ref(), elapsed),
        },
        "faults_by_code": faults_by_code.iter().map(|(c, n)| json!({"code": c, "count": n})).collect::<Vec<_>>(),
        "routing_table": routing,
        "sdk": sdk,
        "consent": consent,
        "engagement_index": engagement_index,
        "access_log": access_log,
    })
}

/// Consent decisions since start by decision (allowed, emergency, denied), over every
/// reason the access log can record (its fixed lists).
fn consent_decisions() -> HashMap<&'static str, u64> {
    use vaxel_store::access_log::{Decision, DecisionReason};
    let m = metrics();
    let mut out = HashMap::new();
    for d in Decision::ALL {
        let total = DecisionReason::ALL
            .iter()
            .map(|r| {
                m.consent_decisions
                    .get(&[("decision", d.as_str()), ("reason", r.as_str())])
                    .map_or(0, |c| c.get())
            })
            .sum();
        out.insert(d.as_str(), total);
    }
    out
}
