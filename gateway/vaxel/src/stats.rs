//! Process-wide counters for `/status` (relaxed atomics: cheap on the hot path). Faults
//! are counted by [`FaultCode`], the list the `Fault` type itself defines, so every code
//! the gateway can send (VP, EI and VX) is counted and none is listed twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use vaxel_model::{Fault, FaultCode};

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
    faults: [AtomicU64; FaultCode::ALL.len()],
}

impl Stats {
    /// Count one fault sent.
    pub fn fault(&self, fault: &Fault) {
        self.faults[fault.fault_code().index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Faults sent since start, by code (every code, zeros included).
    pub fn faults(&self) -> BTreeMap<&'static str, u64> {
        FaultCode::ALL
            .iter()
            .zip(self.faults.iter())
            .map(|(c, n)| (c.as_str(), n.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_model::fault::EiCode;

    #[test]
    fn every_code_the_fault_type_has_is_counted() {
        let s = Stats::default();
        s.fault(&Fault::NotAuthorized("x".into()));
        s.fault(&Fault::EngagementIndex {
            code: EiCode::EI002,
            cause: "dup".into(),
        });
        s.fault(&Fault::UserContext {
            check: "expired",
            cause: "exp".into(),
        });
        s.fault(&Fault::UserContext {
            check: "missing",
            cause: "none".into(),
        });
        let f = s.faults();
        assert_eq!(f.len(), FaultCode::ALL.len());
        assert_eq!(f["VP007"], 1);
        assert_eq!(f["EI002"], 1);
        assert_eq!(f["VX001"], 2);
        assert_eq!(f["VP004"], 0);
    }
}
