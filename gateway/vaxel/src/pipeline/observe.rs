//! What the pipeline learnt about one request, turned at its end into the request's
//! metrics (`vaxel_telemetry`, specs/metrics.md) and its one log line (target
//! `vaxel::request`, specs/metrics.md §3).
//!
//! Metric labels come from the routing table (its spelling of a contract or consumer it
//! knows, else `other`; `none` when the request ended before that was known) and from
//! the route decision (producer `host:port` or the local service's name): never from
//! request data a caller controls. The log line may carry the request's own contract
//! and logical address (that is what an operator searches for), never message content,
//! patient ids (personal identity numbers are masked wherever they appear) or tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode};
use vaxel_model::Fault;

use crate::logging::request_line::RequestLine;
use vaxel_telemetry::{labels, metrics, Finished, RouteKey};

/// The log target of request lines (`[log] requests = false` turns it off).
pub const REQUEST_LOG_TARGET: &str = "vaxel::request";

/// Where the request went.
#[derive(Debug, Default, Clone)]
pub enum Producer {
    /// Not decided (the request ended before the route).
    #[default]
    None,
    /// A producer, by its URL from the routing table.
    Url(http::Uri),
    /// One of the gateway's own services (or the SDK API).
    Local(&'static str),
}

/// Facts gathered by the phases.
#[derive(Debug, Default)]
pub struct Facts {
    /// The routing table's spelling of the contract, when it knows it.
    pub contract: Option<Arc<str>>,
    /// Whether the envelope was read far enough to name a contract.
    pub contract_seen: bool,
    /// The routing table's spelling of the consumer, when an authorization names it.
    pub consumer: Option<Arc<str>>,
    /// Whether the caller was identified.
    pub sender_seen: bool,
    pub producer: Producer,
    /// From the onward request to the producer's answer head.
    pub producer_time: Option<Duration>,
    /// Only filled when request lines are logged (three small copies otherwise saved).
    pub log: Option<LogFacts>,
}

/// The request's own values for its log line.
#[derive(Debug, Default)]
pub struct LogFacts {
    pub caller: String,
    pub contract: String,
    pub logical_address: String,
}

impl Facts {
    /// Facts of a new request; `log` says whether its line will be written.
    pub fn new(log: bool) -> Facts {
        Facts {
            log: log.then(LogFacts::default),
            ..Facts::default()
        }
    }

    fn contract_label(&self) -> &str {
        match (&self.contract, self.contract_seen) {
            (Some(c), _) => c,
            (None, true) => labels::OTHER,
            (None, false) => labels::NONE,
        }
    }

    fn consumer_label(&self) -> &str {
        match (&self.consumer, self.sender_seen) {
            (Some(c), _) => c,
            (None, true) => labels::OTHER,
            (None, false) => labels::NONE,
        }
    }
}

/// Whether request lines are written now (the level can change at run time).
pub fn request_log_enabled() -> bool {
    tracing::enabled!(target: REQUEST_LOG_TARGET, tracing::Level::INFO)
}

/// Counts the request as in flight while it lives.
#[derive(Debug)]
pub struct InFlight(bool);

impl InFlight {
    pub fn start() -> InFlight {
        let m = metrics();
        let on = m.enabled();
        if on {
            m.requests_in_flight.inc();
        }
        InFlight(on)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0 {
            metrics().requests_in_flight.dec();
        }
    }
}

/// How a request ended.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub status: StatusCode,
    /// The fault code sent (`VP007`, `SDK422`, ...), or `PRODUCER` for a producer's
    /// SOAP fault passed through.
    pub fault_code: Option<&'static str>,
    /// The fault's text (masked before it is logged).
    pub fault: Option<&'a Fault>,
}

/// Record the request's metrics and write its log line.
pub fn finish(facts: &Facts, started: Instant, outcome: &Outcome<'_>, correlation: &HeaderValue) {
    let total = started.elapsed();
    let producer = match &facts.producer {
        Producer::None => labels::NONE,
        Producer::Url(url) => url.authority().map_or(labels::OTHER, |a| a.as_str()),
        Producer::Local(name) => name,
    };
    metrics().request(&Finished {
        route: RouteKey {
            contract: facts.contract_label(),
            consumer: facts.consumer_label(),
            producer,
        },
        fault: outcome.fault_code,
        total,
        producer: facts.producer_time,
    });
    let Some(log) = &facts.log else {
        return;
    };
    let gateway = total.saturating_sub(facts.producer_time.unwrap_or_default());
    let reason = outcome
        .fault
        .map(|f| mask_personal_ids(&f.to_string()).into_owned());
    let contract = mask_personal_ids(&log.contract);
    let logical_address = mask_personal_ids(&log.logical_address);
    crate::logging::request_line::write(&RequestLine {
        correlation_id: correlation.to_str().unwrap_or(""),
        caller: &log.caller,
        contract: &contract,
        logical_address: &logical_address,
        producer,
        status: outcome.status.as_u16(),
        fault_code: outcome.fault_code,
        reason: reason.as_deref(),
        gateway_ms: millis(gateway),
        producer_ms: facts.producer_time.map(millis),
    });
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The fault code of an SDK API answer (`SDK<status>`), a fixed list.
pub fn sdk_fault_code(status: StatusCode) -> Option<&'static str> {
    http_fault_code(status, &SDK_CODES)
}

/// The fault code of a citizen API answer (`CIT<status>`), a fixed list.
pub fn citizen_fault_code(status: StatusCode) -> Option<&'static str> {
    http_fault_code(status, &CITIZEN_CODES)
}

/// Codes for 400, 401, 403, 404, 405, 408, 409, 413, 422, 503, other 4xx, other 5xx.
type HttpCodes = [&'static str; 12];
const SDK_CODES: HttpCodes = [
    "SDK400", "SDK401", "SDK403", "SDK404", "SDK405", "SDK408", "SDK409", "SDK413", "SDK422",
    "SDK503", "SDK4xx", "SDK5xx",
];
const CITIZEN_CODES: HttpCodes = [
    "CIT400", "CIT401", "CIT403", "CIT404", "CIT405", "CIT408", "CIT409", "CIT413", "CIT422",
    "CIT503", "CIT4xx", "CIT5xx",
];

fn http_fault_code(status: StatusCode, codes: &HttpCodes) -> Option<&'static str> {
    Some(match status.as_u16() {
        0..=399 => return None,
        400 => codes[0],
        401 => codes[1],
        403 => codes[2],
        404 => codes[3],
        405 => codes[4],
        408 => codes[5],
        409 => codes[6],
        413 => codes[7],
        422 => codes[8],
        503 => codes[9],
        other if other < 500 => codes[10],
        _ => codes[11],
    })
}

/// `text` with every run of digits that could be a Swedish personal identity,
/// coordination or reserve number (12 digits; 8 + separator + 4; 6 + separator + 4;
/// 8 digits + p/t/f + 3 digits; PDL: never in logs) replaced by `<personal id>`.
/// Ten digits without a separator are left alone: HSA ids are made of such runs
/// (`SE2321000016`). Borrowed when there is none (the common case).
pub fn mask_personal_ids(text: &str) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        // 8 digits, '-' or '+', 4 digits; 10 with a separator after 6 (the short form).
        let separated = |digits: usize| {
            run == digits
                && matches!(b.get(i + digits), Some(b'-' | b'+'))
                && b[(i + digits + 1).min(b.len())..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count()
                    == 4
        };
        // A reserve number (reservnummer): 8 digits, one of p/t/f, 3 digits (the
        // engagement index's personal id pattern).
        let reserve = run == 8
            && matches!(b.get(i + 8), Some(b'p' | b'P' | b't' | b'T' | b'f' | b'F'))
            && b[(i + 9).min(b.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
                == 3;
        let len = if run == 12 || reserve {
            12
        } else if separated(8) {
            13
        } else if separated(6) {
            11
        } else {
            i += run;
            continue;
        };
        let s = out.get_or_insert_with(String::new);
        s.push_str(&text[copied..i]);
        s.push_str("<personal id>");
        i += len;
        copied = i;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut s) => {
            s.push_str(&text[copied..]);
            std::borrow::Cow::Owned(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_ids_are_masked_in_every_spelling() {
        assert_eq!(
            mask_personal_ids("patient 191212121212 not found"),
            "patient <personal id> not found"
        );
        assert_eq!(
            mask_personal_ids("19121212-1212 and 121212-1212."),
            "<personal id> and <personal id>."
        );
        assert_eq!(
            mask_personal_ids("reserve 19121212T123!"),
            "reserve <personal id>!"
        );
        // HSA ids, counts, timestamps with other lengths stay.
        let plain = "SE2321000016-7P35 took 20240101120000 ms, 1234567890123 bytes";
        assert_eq!(mask_personal_ids(plain), plain);
        assert!(matches!(
            mask_personal_ids(plain),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn sdk_statuses_map_to_a_fixed_list_of_codes() {
        assert_eq!(sdk_fault_code(StatusCode::ACCEPTED), None);
        assert_eq!(
            sdk_fault_code(StatusCode::UNPROCESSABLE_ENTITY),
            Some("SDK422")
        );
        assert_eq!(sdk_fault_code(StatusCode::IM_A_TEAPOT), Some("SDK4xx"));
        assert_eq!(
            sdk_fault_code(StatusCode::INTERNAL_SERVER_ERROR),
            Some("SDK5xx")
        );
    }
}
