//! vaxel's metrics (specs/metrics.md): every metric the gateway exports is named in
//! [`names`] and held by [`Metrics`], one per process ([`metrics`]), as the Prometheus
//! clients of other languages keep a default registry. Each concern counts its own
//! events through it (the pipeline, the access log writer, the SDK delivery loop, ...);
//! the binary serves [`Metrics::encode`] at `/metrics` on the admin listener.
//!
//! Label values come from the routing table and from fixed lists (fault codes, decision
//! reasons, information sets), never from unbounded request data: the binary maps a
//! contract, consumer or producer the routing table does not know to [`labels::OTHER`].
//!
//! The exposition format is written by `prometheus-client` (Prometheus text format
//! 0.0.4). Two things are kept here instead of in its types: the per-route request
//! table ([`requests`]), because the dashboard reads it back, and the latency
//! histograms ([`histogram`]), which count with one atomic per bucket instead of a
//! mutex per observation.

#![forbid(unsafe_code)]

pub mod histogram;
pub mod requests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub use histogram::{HistogramSnapshot, LatencyHistogram, LATENCY_BUCKETS};
/// The `Content-Type` of [`Metrics::encode`]'s output.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE as TEXT_CONTENT_TYPE;
pub use requests::{Finished, RequestTable, RouteKey, RouteLabels};

/// Every metric name (Prometheus conventions: `vaxel_` prefix, base units, counters
/// end in `_total` — prometheus-client appends it to the names registered without it).
pub mod names {
    /// Counter {contract, consumer, producer}: requests answered (faults included).
    pub const REQUESTS: &str = "vaxel_requests";
    /// Counter {code, contract, consumer, producer}: faults sent, by code.
    pub const FAULTS: &str = "vaxel_faults";
    /// Histogram {contract, producer}: arrival to the answer's head.
    pub const REQUEST_DURATION: &str = "vaxel_request_duration_seconds";
    /// Histogram {contract, producer}: the gateway's own part of it.
    pub const GATEWAY_DURATION: &str = "vaxel_gateway_duration_seconds";
    /// Histogram {contract, producer}: the producer's part (onward request to answer head).
    pub const PRODUCER_DURATION: &str = "vaxel_producer_duration_seconds";
    /// Gauge: requests being handled now.
    pub const REQUESTS_IN_FLIGHT: &str = "vaxel_requests_in_flight";
    /// Counter {limit}: requests or connections refused by a limit.
    pub const REFUSED: &str = "vaxel_refused";
    /// Counter: connections accepted on the service port.
    pub const CONNECTIONS: &str = "vaxel_connections";
    /// Gauge: connections open on the service port.
    pub const CONNECTIONS_OPEN: &str = "vaxel_connections_open";
    /// Counter {result}: TLS handshakes on the service port.
    pub const TLS_HANDSHAKES: &str = "vaxel_tls_handshakes";
    /// Counter {reason}: failed TLS handshakes by reason.
    pub const TLS_HANDSHAKE_FAILURES: &str = "vaxel_tls_handshake_failures";
    /// Gauge: 1 when a routing table is loaded.
    pub const ROUTING_TABLE_LOADED: &str = "vaxel_routing_table_loaded";
    /// Gauge: when the routing table in use was loaded (Unix seconds).
    pub const ROUTING_TABLE_LOADED_TIMESTAMP: &str = "vaxel_routing_table_loaded_timestamp_seconds";
    /// Gauge: seconds since the routing table in use was loaded.
    pub const ROUTING_TABLE_AGE: &str = "vaxel_routing_table_age_seconds";
    /// Gauge {kind}: contracts, routes and authorizations in the routing table.
    pub const ROUTING_TABLE_ENTRIES: &str = "vaxel_routing_table_entries";
    /// Counter {outcome}: routing table reloads (admin, SIGHUP, other nodes).
    pub const ROUTING_RELOADS: &str = "vaxel_routing_reloads";
    /// Counter {outcome}: engagement index Update calls.
    pub const ENGAGEMENT_UPDATES: &str = "vaxel_engagement_updates";
    /// Counter: engagement transactions applied by accepted Updates.
    pub const ENGAGEMENT_TRANSACTIONS: &str = "vaxel_engagement_transactions";
    /// Gauge: notifications to subscribers not delivered yet.
    pub const NOTIFICATIONS_PENDING: &str = "vaxel_engagement_notifications_pending";
    /// Counter {decision, reason}: consent decisions, one per record.
    pub const CONSENT_DECISIONS: &str = "vaxel_consent_decisions";
    /// Counter {information_set}: records withheld from answers.
    pub const CONSENT_WITHHELD: &str = "vaxel_consent_withheld_records";
    /// Gauge: access-log entries queued, not committed yet.
    pub const ACCESS_LOG_QUEUE: &str = "vaxel_access_log_queue_depth";
    /// Counter: access-log entries committed.
    pub const ACCESS_LOG_ENTRIES: &str = "vaxel_access_log_entries";
    /// Histogram: one group commit of the access log.
    pub const ACCESS_LOG_COMMIT: &str = "vaxel_access_log_commit_seconds";
    /// Gauge {status}: SDK messages sent by this gateway's systems, by status.
    pub const SDK_OUTGOING: &str = "vaxel_sdk_outgoing_messages";
    /// Gauge: SDK messages received and not acknowledged by the recipient system.
    pub const SDK_INBOX: &str = "vaxel_sdk_inbox_pending_messages";
    /// Counter {outcome}: SDK delivery attempts to partner gateways.
    pub const SDK_DELIVERY_ATTEMPTS: &str = "vaxel_sdk_delivery_attempts";
    /// Counter {direction, outcome}: SDK receipts sent and received.
    pub const SDK_RECEIPTS: &str = "vaxel_sdk_receipts";
    /// Info {version, instance_id}.
    pub const BUILD: &str = "vaxel_build";
}

/// Fixed label values.
pub mod labels {
    /// A contract, consumer or producer the routing table does not know.
    pub const OTHER: &str = "other";
    /// Not known yet when the request ended (e.g. a fault before the envelope was read).
    pub const NONE: &str = "none";
    /// Every reason a TLS handshake on the service port is counted as failed for.
    pub const TLS_FAILURE_REASONS: [&str; 12] = [
        "timeout",
        "no_client_certificate",
        "certificate_expired",
        "unknown_ca",
        "certificate_revoked",
        "bad_certificate",
        "incompatible",
        "alert_from_client",
        "not_tls",
        "closed_by_client",
        "io_error",
        "other",
    ];
}

/// A label set of fixed names and values (`[("outcome", "ok")]`).
pub type Static1 = [(&'static str, &'static str); 1];
/// Two fixed labels.
pub type Static2 = [(&'static str, &'static str); 2];
/// Counters by one fixed label.
pub type CounterFamily = Family<Static1, Counter>;

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    enabled: AtomicBool,
    pub requests: RequestTable,
    pub requests_in_flight: Gauge,
    pub refused: Family<Static1, Counter>,
    pub connections: Counter,
    pub connections_open: Gauge,
    pub tls_handshakes: Family<Static1, Counter>,
    pub tls_handshake_failures: Family<Static1, Counter>,
    pub routing_table_loaded: Gauge,
    pub routing_table_loaded_timestamp: Gauge,
    pub routing_table_age: Gauge,
    pub routing_table_entries: Family<Static1, Gauge>,
    pub routing_reloads: Family<Static1, Counter>,
    pub engagement_updates: Family<Static1, Counter>,
    pub engagement_transactions: Counter,
    pub notifications_pending: Gauge,
    pub consent_decisions: Family<Static2, Counter>,
    pub consent_withheld: Family<Static1, Counter>,
    pub access_log_queue: Gauge,
    pub access_log_entries: Counter,
    pub access_log_commit: LatencyHistogram,
    pub sdk_outgoing: Family<Static1, Gauge>,
    pub sdk_inbox: Gauge,
    pub sdk_delivery_attempts: Family<Static1, Counter>,
    pub sdk_receipts: Family<Static2, Counter>,
    build: OnceLock<(String, String)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: AtomicBool::new(true),
            requests: RequestTable::default(),
            requests_in_flight: Gauge::default(),
            refused: Family::default(),
            connections: Counter::default(),
            connections_open: Gauge::default(),
            tls_handshakes: Family::default(),
            tls_handshake_failures: Family::default(),
            routing_table_loaded: Gauge::default(),
            routing_table_loaded_timestamp: Gauge::default(),
            routing_table_age: Gauge::default(),
            routing_table_entries: Family::default(),
            routing_reloads: Family::default(),
            engagement_updates: Family::default(),
            engagement_transactions: Counter::default(),
            notifications_pending: Gauge::default(),
            consent_decisions: Family::default(),
            consent_withheld: Family::default(),
            access_log_queue: Gauge::default(),
            access_log_entries: Counter::default(),
            access_log_commit: LatencyHistogram::default(),
            sdk_outgoing: Family::default(),
            sdk_inbox: Gauge::default(),
            sdk_delivery_attempts: Family::default(),
            sdk_receipts: Family::default(),
            build: OnceLock::new(),
        }
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = Metrics::default();
        m.zero_known_series();
        m
    })
}

impl Metrics {
    /// Whether the request pipeline records (`[metrics] enabled`, default on). Counters
    /// outside the per-request path are always kept: they cost nothing measurable.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Create the series whose label values are known in advance, at zero, so that
    /// `rate()` and alerts see them before the first event.
    pub fn zero_known_series(&self) {
        for result in ["ok", "failed"] {
            self.tls_handshakes
                .get_or_create_owned(&[("result", result)]);
            self.routing_reloads
                .get_or_create_owned(&[("outcome", result)]);
        }
        for reason in labels::TLS_FAILURE_REASONS {
            self.tls_handshake_failures
                .get_or_create_owned(&[("reason", reason)]);
        }
        for limit in ["connections", "requests"] {
            self.refused.get_or_create_owned(&[("limit", limit)]);
        }
        for outcome in ["ok", "fault"] {
            self.engagement_updates
                .get_or_create_owned(&[("outcome", outcome)]);
        }
    }

    /// Name the build and instance (`vaxel_build_info`); the first call wins.
    pub fn set_build(&self, version: &str, instance_id: &str) {
        let _ = self
            .build
            .set((version.to_string(), instance_id.to_string()));
    }

    /// Count one request the pipeline finished (when enabled).
    pub fn request(&self, finished: &Finished<'_>) {
        if self.enabled() {
            self.requests.record(finished);
        }
    }

    /// Count one consent decision (`decision`, `reason` from the access log's fixed lists).
    pub fn consent_decision(&self, decision: &'static str, reason: &'static str) {
        self.consent_decisions
            .get_or_create(&[("decision", decision), ("reason", reason)])
            .inc();
    }

    /// Everything in the Prometheus text format, version 0.0.4
    /// ([`prometheus_client::encoding::prometheus_text::CONTENT_TYPE`]).
    pub fn encode(&'static self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }

    fn register(&'static self, r: &mut Registry) {
        use names as n;
        r.register_collector(Box::new(RequestCollector(self)));
        r.register(
            n::REQUESTS_IN_FLIGHT,
            "Requests being handled now",
            self.requests_in_flight.clone(),
        );
        r.register(
            n::REFUSED,
            "Connections (limit=connections) and requests (limit=requests) refused by the service port's limits",
            self.refused.clone(),
        );
        r.register(
            n::CONNECTIONS,
            "Connections accepted on the service port",
            self.connections.clone(),
        );
        r.register(
            n::CONNECTIONS_OPEN,
            "Connections open on the service port",
            self.connections_open.clone(),
        );
        r.register(
            n::TLS_HANDSHAKES,
            "TLS handshakes on the service port by result (ok, failed)",
            self.tls_handshakes.clone(),
        );
        r.register(
            n::TLS_HANDSHAKE_FAILURES,
            "Failed TLS handshakes on the service port by reason",
            self.tls_handshake_failures.clone(),
        );
        r.register(
            n::ROUTING_TABLE_LOADED,
            "1 when a routing table is loaded, 0 when none is (every request gets VP008)",
            self.routing_table_loaded.clone(),
        );
        r.register(
            n::ROUTING_TABLE_LOADED_TIMESTAMP,
            "When the routing table in use was loaded, Unix seconds",
            self.routing_table_loaded_timestamp.clone(),
        );
        r.register(
            n::ROUTING_TABLE_AGE,
            "Seconds since the routing table in use was loaded",
            self.routing_table_age.clone(),
        );
        r.register(
            n::ROUTING_TABLE_ENTRIES,
            "Entries of the routing table in use, by kind (contracts, routes, authorizations)",
            self.routing_table_entries.clone(),
        );
        r.register(
            n::ROUTING_RELOADS,
            "Routing table reloads by outcome (ok, failed)",
            self.routing_reloads.clone(),
        );
        r.register(
            n::ENGAGEMENT_UPDATES,
            "Engagement index Update calls by outcome (ok, fault)",
            self.engagement_updates.clone(),
        );
        r.register(
            n::ENGAGEMENT_TRANSACTIONS,
            "Engagement transactions in accepted Update calls",
            self.engagement_transactions.clone(),
        );
        r.register(
            n::NOTIFICATIONS_PENDING,
            "Engagement notifications not yet delivered to their subscribers",
            self.notifications_pending.clone(),
        );
        r.register(
            n::CONSENT_DECISIONS,
            "Consent decisions, one per record, by decision (allowed, emergency, denied) and reason",
            self.consent_decisions.clone(),
        );
        r.register(
            n::CONSENT_WITHHELD,
            "Records withheld from answers by the consent rules, by information set",
            self.consent_withheld.clone(),
        );
        r.register(
            n::ACCESS_LOG_QUEUE,
            "Access-log entries queued and not yet committed",
            self.access_log_queue.clone(),
        );
        r.register(
            n::ACCESS_LOG_ENTRIES,
            "Access-log entries committed",
            self.access_log_entries.clone(),
        );
        r.register(
            n::SDK_OUTGOING,
            "SDK messages submitted by this gateway's systems, by status",
            self.sdk_outgoing.clone(),
        );
        r.register(
            n::SDK_INBOX,
            "SDK messages received and not yet acknowledged by the recipient system",
            self.sdk_inbox.clone(),
        );
        r.register(
            n::SDK_DELIVERY_ATTEMPTS,
            "SDK delivery attempts to partner gateways by outcome",
            self.sdk_delivery_attempts.clone(),
        );
        r.register(
            n::SDK_RECEIPTS,
            "SDK receipts by direction (sent, received) and outcome (accepted, rejected)",
            self.sdk_receipts.clone(),
        );
        if let Some((version, instance)) = self.build.get() {
            r.register(
                n::BUILD,
                "The running build",
                Info::new([
                    ("version", version.clone()),
                    ("instance_id", instance.clone()),
                ]),
            );
        }
    }
}

/// Encodes the request table, the latency histograms and the access log's commit
/// histogram at each scrape.
#[derive(Debug)]
struct RequestCollector(&'static Metrics);

fn encode_histogram(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(&[(&str, &str)], HistogramSnapshot)],
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, snap) in series {
        let labels: Vec<(&str, &str)> = labels.to_vec();
        let metric = family.encode_family(&labels)?;
        let mut metric = metric;
        metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            snap.sum_seconds(),
            snap.count(),
            &snap.buckets(),
            None,
        )?;
    }
    Ok(())
}

impl Collector for RequestCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.0;
        let routes = m.requests.routes();
        {
            let mut family = encoder.encode_descriptor(
                names::REQUESTS,
                "Requests answered, faults included, by service contract, consumer and producer.",
                None,
                MetricType::Counter,
            )?;
            for (l, c) in &routes {
                let labels = [
                    ("contract", &*l.contract),
                    ("consumer", &*l.consumer),
                    ("producer", &*l.producer),
                ];
                let counter = prometheus_client::metrics::counter::ConstCounter::new(c.requests());
                counter.encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                names::FAULTS,
                "Faults by code (VP, EI, VX; SDK<status> for the SDK API; PRODUCER for a producer's SOAP fault passed through), service contract, consumer and producer.",
                None,
                MetricType::Counter,
            )?;
            for (l, c) in &routes {
                for (code, n) in c.faults() {
                    let labels = [
                        ("code", code),
                        ("contract", &*l.contract),
                        ("consumer", &*l.consumer),
                        ("producer", &*l.producer),
                    ];
                    let counter = prometheus_client::metrics::counter::ConstCounter::new(n);
                    counter.encode(family.encode_family(&labels)?)?;
                }
            }
        }
        let latencies = m.requests.latencies();
        type Pick = fn(&requests::RouteLatency) -> HistogramSnapshot;
        let kinds: [(&str, &str, Pick); 3] = [
            (
                names::REQUEST_DURATION,
                "Time from a request's arrival to its answer's head, by service contract and producer.",
                |l| l.total.snapshot(),
            ),
            (
                names::GATEWAY_DURATION,
                "The gateway's own part of a request's time (the whole minus the producer's part).",
                |l| l.gateway.snapshot(),
            ),
            (
                names::PRODUCER_DURATION,
                "Time from the onward request to the producer's answer head.",
                |l| l.producer.snapshot(),
            ),
        ];
        for (name, help, pick) in kinds {
            let series: Vec<(Vec<(&str, &str)>, HistogramSnapshot)> = latencies
                .iter()
                .map(|(contract, producer, l)| {
                    (
                        vec![("contract", &**contract), ("producer", &**producer)],
                        pick(l),
                    )
                })
                // The producer histogram only has series that reached a producer.
                .filter(|(_, s)| name != names::PRODUCER_DURATION || s.count() > 0)
                .collect();
            let borrowed: Vec<(&[(&str, &str)], HistogramSnapshot)> =
                series.iter().map(|(l, s)| (l.as_slice(), *s)).collect();
            encode_histogram(&mut encoder, name, help, &borrowed)?;
        }
        encode_histogram(
            &mut encoder,
            names::ACCESS_LOG_COMMIT,
            "Duration of one access-log group commit.",
            &[(&[], m.access_log_commit.snapshot())],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_text_format_has_every_family_with_its_labels() {
        // A private instance: the process-wide one is shared by every test.
        let m: &'static Metrics = Box::leak(Box::default());
        m.set_build("1.2.3", "gw-1");
        m.request(&Finished {
            route: RouteKey {
                contract: "urn:riv:x:1",
                consumer: "SE1",
                producer: "p.example:443",
            },
            fault: Some("VP009"),
            total: Duration::from_millis(3),
            producer: Some(Duration::from_millis(2)),
        });
        m.refused.get_or_create(&[("limit", "requests")]).inc();
        m.consent_decision("denied", "no-consent");
        let text = m.encode();
        if std::env::var_os("SHOW_METRICS").is_some() {
            println!("{text}");
        }
        for line in [
            "vaxel_requests_total{contract=\"urn:riv:x:1\",consumer=\"SE1\",producer=\"p.example:443\"} 1",
            "vaxel_faults_total{code=\"VP009\",contract=\"urn:riv:x:1\",consumer=\"SE1\",producer=\"p.example:443\"} 1",
            "vaxel_request_duration_seconds_bucket{contract=\"urn:riv:x:1\",producer=\"p.example:443\",le=\"0.005\"} 1",
            "vaxel_producer_duration_seconds_count{contract=\"urn:riv:x:1\",producer=\"p.example:443\"} 1",
            "vaxel_refused_total{limit=\"requests\"} 1",
            "vaxel_consent_decisions_total{decision=\"denied\",reason=\"no-consent\"} 1",
            "vaxel_build_info{version=\"1.2.3\",instance_id=\"gw-1\"} 1",
            "vaxel_access_log_commit_seconds_count 0",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(
            text.contains("# TYPE vaxel_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE vaxel_request_duration_seconds histogram"),
            "{text}"
        );
    }

    #[test]
    fn disabled_metrics_do_not_count_requests() {
        let m: &'static Metrics = Box::leak(Box::default());
        m.set_enabled(false);
        m.request(&Finished {
            route: RouteKey {
                contract: "c",
                consumer: "k",
                producer: "p",
            },
            fault: None,
            total: Duration::from_millis(1),
            producer: None,
        });
        assert_eq!(m.requests.totals(), (0, 0));
    }
}
