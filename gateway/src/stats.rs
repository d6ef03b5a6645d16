//! Process-wide counters for /status (relaxed atomics: cheap on the hot path).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

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
