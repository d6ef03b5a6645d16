//! A latency histogram with fixed buckets and one atomic per bucket.
//!
//! Why not `prometheus_client::metrics::histogram::Histogram`: it takes a mutex per
//! observation (fine elsewhere, a shared lock on the forwarding path of every core), and
//! its bucket counts cannot be read back, which the dashboard needs for p50/p99 per
//! second. This type is encoded through prometheus-client's own histogram encoder, so
//! the exposition format is still the library's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds (Prometheus `le`), from 0.25 ms to 60 s: a gateway's own part
/// is sub-millisecond, a slow producer may take the whole 29 s response timeout.
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0, 60.0,
];

const SLOTS: usize = LATENCY_BUCKETS.len() + 1;

/// Observations of durations, counted per bucket (the last slot is `+Inf`).
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    counts: [AtomicU64; SLOTS],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    /// Count one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = LATENCY_BUCKETS.partition_point(|upper| secs > *upper);
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts now (each bucket read once; a snapshot taken during observations may
    /// be off by those in flight, never by more).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts = [0u64; SLOTS];
        for (c, a) in counts.iter_mut().zip(self.counts.iter()) {
            *c = a.load(Ordering::Relaxed);
        }
        HistogramSnapshot {
            counts,
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

/// Bucket counts at one moment; snapshots can be added (several series) and subtracted
/// (what happened between two moments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramSnapshot {
    counts: [u64; SLOTS],
    sum_nanos: u64,
}

impl Default for HistogramSnapshot {
    fn default() -> Self {
        HistogramSnapshot {
            counts: [0; SLOTS],
            sum_nanos: 0,
        }
    }
}

impl HistogramSnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos as f64 / 1e9
    }

    /// Add another series' counts.
    pub fn add(&mut self, other: &HistogramSnapshot) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.sum_nanos += other.sum_nanos;
    }

    /// What was observed since `earlier` (a snapshot of the same histogram).
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let mut out = *self;
        for (a, b) in out.counts.iter_mut().zip(earlier.counts.iter()) {
            *a = a.saturating_sub(*b);
        }
        out.sum_nanos = out.sum_nanos.saturating_sub(earlier.sum_nanos);
        out
    }

    /// The `q` quantile (0..=1) in seconds, interpolated linearly inside its bucket as
    /// Prometheus' `histogram_quantile` does; `None` without observations. A quantile in
    /// the `+Inf` bucket is reported as the largest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 && (seen + n) as f64 >= rank {
                let Some(&upper) = LATENCY_BUCKETS.get(i) else {
                    return Some(LATENCY_BUCKETS[LATENCY_BUCKETS.len() - 1]);
                };
                let lower = if i == 0 { 0.0 } else { LATENCY_BUCKETS[i - 1] };
                let within = ((rank - seen as f64) / n as f64).clamp(0.0, 1.0);
                return Some(lower + (upper - lower) * within);
            }
            seen += n;
        }
        Some(LATENCY_BUCKETS[LATENCY_BUCKETS.len() - 1])
    }

    /// `(upper bound, count in that bucket)` pairs as prometheus-client's histogram
    /// encoder takes them (it makes them cumulative), `+Inf` last.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        LATENCY_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn observations_land_in_the_bucket_whose_bound_is_not_below_them() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(250)); // exactly on a bound: that bucket (le=0.00025)
        h.observe(ms(3)); // 0.0025 < x <= 0.005
        h.observe(Duration::from_secs(100)); // +Inf
        let s = h.snapshot();
        let b = s.buckets();
        assert_eq!(b[0], (0.000_25, 1));
        assert_eq!(b[4], (0.005, 1));
        assert_eq!(b[b.len() - 1].1, 1);
        assert!(b[b.len() - 1].0.is_infinite());
        assert_eq!(s.count(), 3);
        assert!((s.sum_seconds() - 100.00325).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let h = LatencyHistogram::default();
        for _ in 0..99 {
            h.observe(ms(2)); // 0.001 < x <= 0.0025
        }
        h.observe(ms(400)); // 0.25 < x <= 0.5
        let s = h.snapshot();
        let p50 = s.quantile(0.5).unwrap();
        assert!(p50 > 0.001 && p50 <= 0.0025, "{p50}");
        let p99 = s.quantile(0.99).unwrap();
        assert!(p99 <= 0.0025, "{p99}");
        let max = s.quantile(1.0).unwrap();
        assert!(max > 0.25 && max <= 0.5, "{max}");
        assert_eq!(HistogramSnapshot::default().quantile(0.5), None);
    }

    #[test]
    fn since_gives_what_happened_between_two_snapshots() {
        let h = LatencyHistogram::default();
        h.observe(ms(1));
        let first = h.snapshot();
        h.observe(ms(40));
        h.observe(ms(40));
        let delta = h.snapshot().since(&first);
        assert_eq!(delta.count(), 2);
        let p50 = delta.quantile(0.5).unwrap();
        assert!(p50 > 0.025 && p50 <= 0.05, "{p50}");
        let mut merged = first;
        merged.add(&delta);
        assert_eq!(merged, h.snapshot());
    }
}
