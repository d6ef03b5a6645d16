//! The request line (target `vaxel::request`, specs/metrics.md §3), written once per
//! request.
//!
//! In the text format it is an ordinary `tracing` event. In the JSON format it is
//! written here, straight into the log buffer, with the same fields, names and order as
//! `tracing-subscriber`'s JSON formatter gives every other line: that formatter builds
//! a serde map per event and formats an RFC 3339 timestamp from the clock each time,
//! which perf showed as the largest remaining part of the request line's cost at
//! 10 000+ requests/s (the issue 14 benchmark, BENCHMARKS.md). Here the timestamp's
//! date and time of day are formatted once a second per thread, strings are escaped by
//! `serde_json`, and the line is built in a buffer each thread reuses.
//!
//! The level filter still decides: the pipeline only gathers a request's log facts
//! when `tracing` says the target is enabled at info.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::pipeline::observe::REQUEST_LOG_TARGET;

/// One request's line.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    pub correlation_id: &'a str,
    pub caller: &'a str,
    pub contract: &'a str,
    pub logical_address: &'a str,
    pub producer: &'a str,
    pub status: u16,
    pub fault_code: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub gateway_ms: f64,
    pub producer_ms: Option<f64>,
}

/// Write the line in the format in force.
pub fn write(line: &RequestLine<'_>) {
    if let Some(logging) = super::get().filter(|l| l.json()) {
        BUFFER.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            json(line, SystemTime::now(), &mut b);
            // A log output that fails cannot be reported through the log.
            let _ = logging.writer.append(&b);
        });
        return;
    }
    tracing::info!(
        target: REQUEST_LOG_TARGET,
        correlation_id = line.correlation_id,
        caller = line.caller,
        contract = line.contract,
        logical_address = line.logical_address,
        producer = line.producer,
        status = line.status,
        fault_code = line.fault_code,
        reason = line.reason,
        gateway_ms = line.gateway_ms,
        producer_ms = line.producer_ms,
        "request"
    );
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    /// The second last formatted and its `YYYY-MM-DDTHH:MM:SS.`.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// The line as `tracing-subscriber`'s flattened JSON format writes an event:
/// timestamp, level, message, the fields in order (absent ones left out), target.
fn json(line: &RequestLine<'_>, now: SystemTime, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(now, out);
    out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\"");
    string(out, "correlation_id", line.correlation_id);
    string(out, "caller", line.caller);
    string(out, "contract", line.contract);
    string(out, "logical_address", line.logical_address);
    string(out, "producer", line.producer);
    out.extend_from_slice(b",\"status\":");
    out.extend_from_slice(itoa::Buffer::new().format(line.status).as_bytes());
    if let Some(code) = line.fault_code {
        string(out, "fault_code", code);
    }
    if let Some(reason) = line.reason {
        string(out, "reason", reason);
    }
    number(out, "gateway_ms", line.gateway_ms);
    if let Some(ms) = line.producer_ms {
        number(out, "producer_ms", ms);
    }
    out.extend_from_slice(b",\"target\":\"");
    out.extend_from_slice(REQUEST_LOG_TARGET.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

fn string(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b',');
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn number(out: &mut Vec<u8>, name: &str, value: f64) {
    out.push(b',');
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    if value.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `2026-12-06T13:58:10.123456Z` (UTC, microseconds, as `tracing-subscriber` writes it).
fn timestamp(now: SystemTime, out: &mut Vec<u8>) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|s| {
        let mut s = s.borrow_mut();
        if s.0 != secs {
            let formatted = i64::try_from(secs)
                .ok()
                .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S.").to_string())
                .unwrap_or_else(|| "1970-01-01T00:00:00.".to_string());
            *s = (secs, formatted);
        }
        out.extend_from_slice(s.1.as_bytes());
    });
    let micros = since.subsec_micros();
    let digits = itoa::Buffer::new().format(micros).len();
    out.extend(std::iter::repeat_n(b'0', 6 - digits));
    out.extend_from_slice(itoa::Buffer::new().format(micros).as_bytes());
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line() -> RequestLine<'static> {
        RequestLine {
            correlation_id: "c-1",
            caller: "SE165565594230-1000",
            contract:
                "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2",
            logical_address: "SE2321000016-7P35",
            producer: "127.0.0.1:8443",
            status: 200,
            fault_code: None,
            reason: None,
            gateway_ms: 0.125,
            producer_ms: Some(3.5),
        }
    }

    fn parse(l: &RequestLine<'_>, at: SystemTime) -> (String, serde_json::Value) {
        let mut out = Vec::new();
        json(l, at, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("}\n") && text.matches('\n').count() == 1,
            "{text}"
        );
        let v = serde_json::from_str(text.trim_end()).unwrap();
        (text, v)
    }

    #[test]
    fn a_line_carries_the_fields_in_tracing_json_order() {
        let at = UNIX_EPOCH + Duration::from_micros(1_796_565_490_000_042);
        let (text, v) = parse(&line(), at);
        assert_eq!(v["timestamp"], "2026-12-06T13:58:10.000042Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "request");
        assert_eq!(v["target"], "vaxel::request");
        assert_eq!(v["status"], 200);
        assert_eq!(v["gateway_ms"], 0.125);
        assert_eq!(v["producer_ms"], 3.5);
        assert_eq!(v["logical_address"], "SE2321000016-7P35");
        assert!(v.get("fault_code").is_none() && v.get("reason").is_none());
        let keys: Vec<&str> = [
            "timestamp",
            "level",
            "message",
            "correlation_id",
            "caller",
            "contract",
            "logical_address",
            "producer",
            "status",
            "gateway_ms",
            "producer_ms",
            "target",
        ]
        .to_vec();
        let mut last = 0;
        for k in keys {
            let at = text.find(&format!("\"{k}\":")).unwrap();
            assert!(at >= last, "{k} out of order in {text}");
            last = at;
        }
    }

    #[test]
    fn strings_are_escaped_and_absent_values_left_out() {
        let mut l = line();
        l.correlation_id = "a\"b\\c\nd\u{1}";
        l.fault_code = Some("VP007");
        l.reason = Some("not authorized: \"x\"");
        l.producer_ms = None;
        l.gateway_ms = f64::NAN;
        let (_, v) = parse(&l, SystemTime::now());
        assert_eq!(v["correlation_id"], "a\"b\\c\nd\u{1}");
        assert_eq!(v["fault_code"], "VP007");
        assert_eq!(v["reason"], "not authorized: \"x\"");
        assert!(v.get("producer_ms").is_none());
        assert!(v["gateway_ms"].is_null());
    }

    #[test]
    fn the_timestamp_follows_the_clock_across_seconds() {
        let base = UNIX_EPOCH + Duration::from_secs(1_796_565_490);
        let (_, a) = parse(&line(), base + Duration::from_micros(999_999));
        let (_, b) = parse(&line(), base + Duration::from_micros(1_000_000));
        assert_eq!(a["timestamp"], "2026-12-06T13:58:10.999999Z");
        assert_eq!(b["timestamp"], "2026-12-06T13:58:11.000000Z");
    }
}
