//! Assertions on what a user of the gateway notices: faults, forwarded requests, a
//! gateway that keeps serving; and `eventually` for things that take a moment.

use std::time::{Duration, Instant};

use super::{consumer, fnv_hex, post, rivta21, Gateway, Reply, GATEWAY_CLIENT_ID, SCHEDULE};

/// A gateway fault: HTTP 500, SOAP 1.1 fault, `x-vp-fault-code: <code>`, faultstring
/// `<code> [<instance>] text` with every `needle` in the text, and no producer headers.
pub fn assert_fault(r: &Reply, gw: &Gateway, code: &str, needles: &[&str]) -> String {
    assert_eq!(
        r.status,
        500,
        "expected a {code} fault, got:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-vp-fault-code"),
        Some(code),
        "x-vp-fault-code, response:\n{}",
        r.describe()
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/xml")),
        "a SOAP 1.1 fault is text/xml:\n{}",
        r.describe()
    );
    let text = r.text();
    assert!(
        text.contains("http://schemas.xmlsoap.org/soap/envelope/") && text.contains(":Fault>"),
        "not a SOAP 1.1 fault:\n{}",
        r.describe()
    );
    let fs = r
        .faultstring()
        .unwrap_or_else(|| panic!("no faultstring:\n{}", r.describe()));
    let prefix = format!("{code} [{}] ", gw.instance_id);
    assert!(
        fs.starts_with(&prefix),
        "faultstring {fs:?} should start with {prefix:?}"
    );
    for needle in needles {
        assert!(
            fs.contains(needle),
            "faultstring {fs:?} should mention {needle:?}"
        );
    }
    assert!(
        r.header("x-demo-body-bytes").is_none(),
        "a gateway fault must not come from the producer:\n{}",
        r.describe()
    );
    assert!(
        r.header("x-skltp-correlation-id")
            .is_some_and(|c| !c.is_empty()),
        "faults carry the correlation id:\n{}",
        r.describe()
    );
    fs
}

/// The demo producer answered 200 and received exactly `sent` from the gateway's
/// client certificate.
pub fn assert_forwarded(r: &Reply, sent: &[u8]) {
    assert_eq!(
        r.status,
        200,
        "expected the producer's answer:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-demo-body-bytes"),
        Some(sent.len().to_string().as_str()),
        "body length at the producer:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-demo-body-fnv"),
        Some(fnv_hex(sent).as_str()),
        "the producer must receive the request byte for byte:\n{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-demo-client-cert"),
        Some(GATEWAY_CLIENT_ID),
        "the gateway calls producers with its own client certificate"
    );
    assert!(
        r.text()
            .contains("<ns:producer>vaxel-demo-producer</ns:producer>"),
        "the body is the producer's answer:\n{}",
        r.describe()
    );
}

/// A good request still goes through (the gateway kept serving after bad input).
pub async fn assert_still_serving(gw: &Gateway) {
    let body = rivta21(SCHEDULE, "RIVTA21REQUEST");
    let r = post(&consumer(), &gw.url(), body.clone(), &[]).await;
    assert_forwarded(&r, &body);
}

/// Polls `f` every 25 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
