//! Process-wide counters for /status (relaxed atomics: cheap on the hot path).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Fault codes counted separately, in the order of [`crate::fault::Fault::code`].
const CODES: [&str; 14] = [
    "VP002", "VP003", "VP004", "VP005", "VP006", "VP007", "VP008", "VP009", "VP010", "VP011",
    "VP012", "VP013", "VP014", "VP015",
];

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub forwarded: AtomicU64,
    pub producer_faults_passed: AtomicU64,
    pub connections: AtomicU64,
    pub connections_rejected: AtomicU64,
    pub requests_rejected_busy: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    /// Requests answered by the gateway's own services (engagement index, aggregation).
    pub local_answers: AtomicU64,
    /// How long aggregated queries take, and how much of it is the gateway's own.
    pub aggregation: AggregationTimings,
    faults: [AtomicU64; 14],
}

impl Stats {
    pub fn fault(&self, code: &str) {
        if let Some(i) = CODES.iter().position(|c| *c == code) {
            self.faults[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn faults(&self) -> BTreeMap<&'static str, u64> {
        CODES
            .iter()
            .zip(self.faults.iter())
            .map(|(c, n)| (*c, n.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Latency distributions of aggregated queries (specs/aggregation.md, "Timings"), in
/// microseconds, since start. One short lock per aggregated query, never per record.
#[derive(Debug)]
pub struct AggregationTimings {
    inner: Mutex<AggregationHistograms>,
}

#[derive(Debug)]
struct AggregationHistograms {
    /// Whole query, from the request read to the merged answer built.
    total: Histogram<u64>,
    /// The slowest source's round trip (request sent to answer read) in that query.
    slowest_source: Histogram<u64>,
    /// `total` minus `slowest_source`: what the gateway added over its slowest source.
    overhead: Histogram<u64>,
}

/// One hour in microseconds: the largest value recorded (larger ones are clamped).
const MAX_MICROS: u64 = 3_600_000_000;

fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("static bounds are valid")
}

impl Default for AggregationTimings {
    fn default() -> Self {
        AggregationTimings {
            inner: Mutex::new(AggregationHistograms {
                total: micros_histogram(),
                slowest_source: micros_histogram(),
                overhead: micros_histogram(),
            }),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

impl AggregationTimings {
    /// Records one aggregated query: its whole duration and its slowest source's round
    /// trip (zero when no source was asked).
    pub fn record(&self, total: Duration, slowest_source: Duration) {
        let overhead = total.saturating_sub(slowest_source);
        // A poisoned lock only means another thread panicked while recording: the
        // histograms are still consistent enough to report.
        let mut h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.total.saturating_record(micros(total));
        h.slowest_source.saturating_record(micros(slowest_source));
        h.overhead.saturating_record(micros(overhead));
    }

    /// `{"queries": n, "total_us": {..}, "slowest_source_us": {..}, "overhead_us": {..}}`
    /// with p50, p90, p99 and max of each.
    pub fn to_json(&self) -> serde_json::Value {
        let h = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let summary = |h: &Histogram<u64>| {
            serde_json::json!({
                "p50": h.value_at_quantile(0.50),
                "p90": h.value_at_quantile(0.90),
                "p99": h.value_at_quantile(0.99),
                "max": h.max(),
            })
        };
        serde_json::json!({
            "queries": h.total.len(),
            "total_us": summary(&h.total),
            "slowest_source_us": summary(&h.slowest_source),
            "overhead_us": summary(&h.overhead),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_overhead_is_total_minus_slowest_source() {
        let t = AggregationTimings::default();
        for i in 0..100u64 {
            t.record(
                Duration::from_micros(20_000 + 1_000 + i),
                Duration::from_micros(20_000),
            );
        }
        let j = t.to_json();
        assert_eq!(j["queries"], 100);
        let p50 = j["overhead_us"]["p50"].as_u64().unwrap();
        assert!((1_040..=1_060).contains(&p50), "{j}");
        let max = j["overhead_us"]["max"].as_u64().unwrap();
        assert!((1_098..=1_100).contains(&max), "{j}");
        // Three significant digits: within 0.1 %.
        let slowest = j["slowest_source_us"]["p99"].as_u64().unwrap();
        assert!((19_980..=20_020).contains(&slowest), "{j}");
        // No source asked: all of it is the gateway's.
        t.record(Duration::from_micros(500), Duration::ZERO);
        assert_eq!(t.to_json()["queries"], 101);
    }
}
