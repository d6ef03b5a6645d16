//! Requests per route: counts, faults by code and latency histograms, per
//! `(contract, consumer, producer)`.
//!
//! Label values are chosen by the caller from the routing table (never from unbounded
//! request data, [`crate::labels`]), so the table's size is bounded by the routing
//! table's. A request finds its series under a read lock with borrowed strings (no
//! allocation); only the first request of a new combination takes the write lock.
//! Histograms are kept per `(contract, producer)`: per consumer too would multiply the
//! series by the number of consumers for little operational value.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use hashbrown::{Equivalent, HashMap};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::histogram::{HistogramSnapshot, LatencyHistogram};

/// The labels of one request series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteLabels {
    pub contract: Arc<str>,
    pub consumer: Arc<str>,
    pub producer: Arc<str>,
}

/// Borrowed form of [`RouteLabels`] for lookups; hashes exactly like it.
#[derive(Debug, Clone, Copy)]
pub struct RouteKey<'a> {
    pub contract: &'a str,
    pub consumer: &'a str,
    pub producer: &'a str,
}

impl Hash for RouteKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must match the derived Hash of RouteLabels: `Arc<str>` hashes as `str`.
        self.contract.hash(state);
        self.consumer.hash(state);
        self.producer.hash(state);
    }
}

impl Equivalent<RouteLabels> for RouteKey<'_> {
    fn equivalent(&self, key: &RouteLabels) -> bool {
        *key.contract == *self.contract
            && *key.consumer == *self.consumer
            && *key.producer == *self.producer
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LatencyLabels {
    contract: Arc<str>,
    producer: Arc<str>,
}

#[derive(Debug, Clone, Copy)]
struct LatencyKey<'a> {
    contract: &'a str,
    producer: &'a str,
}

impl Hash for LatencyKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.contract.hash(state);
        self.producer.hash(state);
    }
}

impl Equivalent<LatencyLabels> for LatencyKey<'_> {
    fn equivalent(&self, key: &LatencyLabels) -> bool {
        *key.contract == *self.contract && *key.producer == *self.producer
    }
}

/// Counts of one `(contract, consumer, producer)`.
#[derive(Debug, Default)]
pub struct RouteCounters {
    requests: AtomicU64,
    /// Faults by code (`VP007`, `EI002`, `SDK422`, ...): rare, so a short lock.
    faults: Mutex<Vec<(&'static str, u64)>>,
}

impl RouteCounters {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Faults by code, in code order.
    pub fn faults(&self) -> Vec<(&'static str, u64)> {
        let mut v = self.faults.lock().clone();
        v.sort_unstable();
        v
    }

    pub fn fault_total(&self) -> u64 {
        self.faults.lock().iter().map(|(_, n)| n).sum()
    }
}

/// The three latency histograms of one `(contract, producer)`.
#[derive(Debug, Default)]
pub struct RouteLatency {
    /// From the request's arrival to the answer's head ready to send.
    pub total: LatencyHistogram,
    /// `total` minus the producer's part: what the gateway itself spent.
    pub gateway: LatencyHistogram,
    /// From the onward request sent to the producer's answer head received.
    pub producer: LatencyHistogram,
}

/// One finished request, as the pipeline reports it.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub route: RouteKey<'a>,
    /// The fault code sent, if the request ended in a fault.
    pub fault: Option<&'static str>,
    /// Arrival to the answer's head.
    pub total: Duration,
    /// The producer's part (none for local answers and early faults).
    pub producer: Option<Duration>,
}

/// Every request series since start.
#[derive(Debug, Default)]
pub struct RequestTable {
    routes: RwLock<HashMap<RouteLabels, Arc<RouteCounters>>>,
    latency: RwLock<HashMap<LatencyLabels, Arc<RouteLatency>>>,
}

impl RequestTable {
    /// Count one finished request.
    pub fn record(&self, r: &Finished<'_>) {
        // Counted under the read lock (no reference count touched: on the common path
        // the only shared writes are the counters themselves).
        let count = |c: &RouteCounters| {
            c.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(code) = r.fault {
                let mut faults = c.faults.lock();
                match faults.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => faults.push((code, 1)),
                }
            }
        };
        // The read guard must end before `counters` takes the write lock.
        let counted = self.routes.read().get(&r.route).map(|c| count(c)).is_some();
        if !counted {
            count(&self.counters(r.route));
        }
        let observe = |l: &RouteLatency| {
            l.total.observe(r.total);
            match r.producer {
                Some(p) => {
                    l.producer.observe(p);
                    l.gateway.observe(r.total.saturating_sub(p));
                }
                None => l.gateway.observe(r.total),
            }
        };
        let key = LatencyKey {
            contract: r.route.contract,
            producer: r.route.producer,
        };
        let observed = self.latency.read().get(&key).map(|l| observe(l)).is_some();
        if !observed {
            observe(&self.latency(key));
        }
    }

    fn counters(&self, key: RouteKey<'_>) -> Arc<RouteCounters> {
        if let Some(c) = self.routes.read().get(&key) {
            return c.clone();
        }
        let mut routes = self.routes.write();
        if let Some(c) = routes.get(&key) {
            return c.clone();
        }
        let c = Arc::<RouteCounters>::default();
        routes.insert(
            RouteLabels {
                contract: key.contract.into(),
                consumer: key.consumer.into(),
                producer: key.producer.into(),
            },
            c.clone(),
        );
        c
    }

    fn latency(&self, key: LatencyKey<'_>) -> Arc<RouteLatency> {
        if let Some(l) = self.latency.read().get(&key) {
            return l.clone();
        }
        let mut latency = self.latency.write();
        if let Some(l) = latency.get(&key) {
            return l.clone();
        }
        let l = Arc::<RouteLatency>::default();
        latency.insert(
            LatencyLabels {
                contract: key.contract.into(),
                producer: key.producer.into(),
            },
            l.clone(),
        );
        l
    }

    /// Every request series, sorted by labels.
    pub fn routes(&self) -> Vec<(RouteLabels, Arc<RouteCounters>)> {
        let mut v: Vec<_> = self
            .routes
            .read()
            .iter()
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Every latency series as `(contract, producer, histograms)`, sorted.
    pub fn latencies(&self) -> Vec<(Arc<str>, Arc<str>, Arc<RouteLatency>)> {
        let mut v: Vec<_> = self
            .latency
            .read()
            .iter()
            .map(|(k, l)| (k.contract.clone(), k.producer.clone(), l.clone()))
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    /// All requests' whole durations merged (the dashboard's p50/p99).
    pub fn total_latency(&self) -> HistogramSnapshot {
        let mut all = HistogramSnapshot::default();
        for l in self.latency.read().values() {
            all.add(&l.total.snapshot());
        }
        all
    }

    /// Requests and faults since start, over every series.
    pub fn totals(&self) -> (u64, u64) {
        self.routes
            .read()
            .values()
            .fold((0, 0), |(r, f), c| (r + c.requests(), f + c.fault_total()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(contract: &'a str, consumer: &'a str, producer: &'a str) -> RouteKey<'a> {
        RouteKey {
            contract,
            consumer,
            producer,
        }
    }

    #[test]
    fn requests_and_faults_are_counted_per_series() {
        let t = RequestTable::default();
        let ms = Duration::from_millis;
        for _ in 0..3 {
            t.record(&Finished {
                route: key("urn:a", "C1", "p:443"),
                fault: None,
                total: ms(5),
                producer: Some(ms(4)),
            });
        }
        t.record(&Finished {
            route: key("urn:a", "C2", "p:443"),
            fault: Some("VP007"),
            total: ms(1),
            producer: None,
        });
        t.record(&Finished {
            route: key("urn:a", "C2", "p:443"),
            fault: Some("VP007"),
            total: ms(1),
            producer: None,
        });
        let routes = t.routes();
        assert_eq!(routes.len(), 2);
        assert_eq!(&*routes[0].0.consumer, "C1");
        assert_eq!(routes[0].1.requests(), 3);
        assert_eq!(routes[1].1.faults(), vec![("VP007", 2)]);
        assert_eq!(t.totals(), (5, 2));
        // One latency series (contract, producer) for both consumers.
        let l = t.latencies();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].2.total.snapshot().count(), 5);
        assert_eq!(l[0].2.producer.snapshot().count(), 3);
        assert_eq!(l[0].2.gateway.snapshot().count(), 5);
        assert_eq!(t.total_latency().count(), 5);
    }
}
