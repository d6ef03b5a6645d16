//! The one place where an error becomes a SOAP 1.1 fault (HTTP 500) with a national
//! VP code. Every other module returns a typed [`Fault`]; nothing else writes fault XML.
//!
//! faultstring format (national platform): `VPnnn [instance-id] text`.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// A request the gateway refuses, with the national fault code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// VP002: the caller could not be identified from its certificate.
    #[error("{0}")]
    CallerIdentity(String),
    /// VP003: no RIV-TA logical address header in the message.
    #[error("no logical address in the message: add a LogicalAddress header (RIV-TA 2.1, namespace urn:riv:itintegration:registry:1) or wsa:To (RIV-TA 2.0)")]
    NoLogicalAddress,
    /// VP004: no route (unknown contract or no valid vägval rule).
    #[error("{0}")]
    NoRoute(String),
    /// VP005: the RIV-TA profile of the route is unknown or does not match the request.
    #[error("{0}")]
    RivVersion(String),
    /// VP006: more than one route matches.
    #[error("{0}")]
    AmbiguousRoute(String),
    /// VP007: the caller may not call this contract for this logical address.
    #[error("{0}")]
    NotAuthorized(String),
    /// VP008: no routing table is loaded.
    #[error("no routing table is loaded: the routing table source and its last-known-good copy could not be read; see the gateway log and reload")]
    NoRoutingTable,
    /// VP009: the producer failed, could not be reached or timed out.
    #[error("{0}")]
    Producer(String),
    /// VP010: the logical address header is present but empty.
    #[error("the logical address header is empty: put the receiving organisation's HSA id in it")]
    EmptyLogicalAddress,
    /// VP011: trusted sender headers came from an address that is not whitelisted.
    #[error("{0}")]
    NotWhitelisted(String),
    /// VP012: a header transformation failed.
    #[error("{0}")]
    Transform(String),
    /// VP013: the caller may not set the original service consumer header.
    #[error("{0}")]
    OriginalConsumerNotAllowed(String),
    /// VP014: the message has already passed this gateway (routing loop).
    #[error("{0}")]
    Loop(String),
    /// VP015: the message is not a routable SOAP 1.1 envelope (or too large).
    #[error("{0}")]
    Malformed(String),
    /// EI000–EI004: the local engagement index refused the request (validation or
    /// storage); `code` is the skltp/ei code, `message` never contains SQL text.
    #[error("{message}")]
    EngagementIndex { code: &'static str, message: String },
    /// VX001 (vaxel's own code, specs/user-context.md): consent checking is enabled and
    /// the end user's context (JWT) is missing or fails a check; the text names the
    /// check ([`crate::consent::jwt::JwtError`]) and never contains the token.
    #[error("{0}")]
    UserContext(String),
}

impl Fault {
    /// The national fault code.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::CallerIdentity(_) => "VP002",
            Fault::NoLogicalAddress => "VP003",
            Fault::NoRoute(_) => "VP004",
            Fault::RivVersion(_) => "VP005",
            Fault::AmbiguousRoute(_) => "VP006",
            Fault::NotAuthorized(_) => "VP007",
            Fault::NoRoutingTable => "VP008",
            Fault::Producer(_) => "VP009",
            Fault::EmptyLogicalAddress => "VP010",
            Fault::NotWhitelisted(_) => "VP011",
            Fault::Transform(_) => "VP012",
            Fault::OriginalConsumerNotAllowed(_) => "VP013",
            Fault::Loop(_) => "VP014",
            Fault::Malformed(_) => "VP015",
            Fault::EngagementIndex { code, .. } => code,
            Fault::UserContext(_) => "VX001",
        }
    }

    /// `VPnnn [instance] text`, as the national platform writes it (`EInnn [instance]
    /// text` for the engagement index).
    pub fn fault_string(&self, instance_id: &str) -> String {
        format!("{} [{}] {}", self.code(), instance_id, self)
    }

    /// The SOAP 1.1 fault document.
    pub fn to_soap(&self, instance_id: &str) -> String {
        let text = xml_escape(&self.fault_string(instance_id));
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header/><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>\
<faultstring>{text}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
        )
    }

    /// HTTP 500 with the SOAP fault, `text/xml` (SOAP 1.1 §6.2: faults use status 500).
    pub fn into_response(
        self,
        instance_id: &str,
        correlation_id: Option<&HeaderValue>,
    ) -> Response<Full<Bytes>> {
        let body = Full::new(Bytes::from(self.to_soap(instance_id)));
        let mut resp = Response::new(body);
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=UTF-8"),
        );
        h.insert(
            crate::headers::VP_FAULT_CODE,
            HeaderValue::from_static(self.code()),
        );
        if let Some(c) = correlation_id {
            h.insert(crate::headers::CORRELATION_ID, c.clone());
        }
        resp
    }
}

/// Escape text for XML character data.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_string_has_code_instance_and_text() {
        let f = Fault::NotAuthorized("consumer A may not call B".into());
        assert_eq!(
            f.fault_string("vp-1"),
            "VP007 [vp-1] consumer A may not call B"
        );
    }

    #[test]
    fn soap_fault_escapes_text() {
        let f = Fault::Malformed("bad <x> & 'y'".into());
        let xml = f.to_soap("i");
        assert!(
            xml.contains("<faultstring>VP015 [i] bad &lt;x&gt; &amp; &apos;y&apos;</faultstring>")
        );
        assert!(xml.contains("<faultcode>soap:Server</faultcode>"));
    }

    #[test]
    fn engagement_index_fault_keeps_its_code() {
        let f = Fault::EngagementIndex {
            code: "EI002",
            message: "EngagementTransaction #1 and #2 have the same key".into(),
        };
        assert_eq!(f.code(), "EI002");
        assert_eq!(
            f.fault_string("vp-1"),
            "EI002 [vp-1] EngagementTransaction #1 and #2 have the same key"
        );
    }

    #[test]
    fn every_code_is_distinct() {
        let all = [
            Fault::CallerIdentity(String::new()),
            Fault::NoLogicalAddress,
            Fault::NoRoute(String::new()),
            Fault::RivVersion(String::new()),
            Fault::AmbiguousRoute(String::new()),
            Fault::NotAuthorized(String::new()),
            Fault::NoRoutingTable,
            Fault::Producer(String::new()),
            Fault::EmptyLogicalAddress,
            Fault::NotWhitelisted(String::new()),
            Fault::Transform(String::new()),
            Fault::OriginalConsumerNotAllowed(String::new()),
            Fault::Loop(String::new()),
            Fault::Malformed(String::new()),
            Fault::EngagementIndex {
                code: "EI004",
                message: String::new(),
            },
            Fault::UserContext(String::new()),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(Fault::code).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(codes.first(), Some(&"EI004"));
        assert_eq!(codes.iter().nth(1), Some(&"VP002"));
        assert_eq!(codes.iter().nth_back(1), Some(&"VP015"));
        assert_eq!(codes.last(), Some(&"VX001"));
    }
}
