//! The one place where a refusal becomes a SOAP 1.1 fault (HTTP 500) with a national
//! code. Every concern returns its own typed error; it becomes a [`Fault`] through a
//! `From` impl in that concern's crate, keeping the typed error as the fault's [`Cause`];
//! nothing else writes fault XML.
//!
//! faultstring format (national platform): `VPnnn [instance-id] text`.
//!
//! Why [`Cause`] is type-erased: this crate sits below routing, the engagement index and
//! PDL, so it cannot name their error types (`RouteError`, `EiError`, `JwtError`). The
//! cause keeps the original error value all the same: its text is the fault text, and
//! [`Cause::downcast_ref`] gives the typed error back (tests and logs use it).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::xml::xml_escape;

/// Every code the gateway answers with: the national VP codes, the engagement index's
/// EI codes (skltp/ei), and vaxel's own VX codes. `/status` counts faults by this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultCode {
    VP002,
    VP003,
    VP004,
    VP005,
    VP006,
    VP007,
    VP008,
    VP009,
    VP010,
    VP011,
    VP012,
    VP013,
    VP014,
    VP015,
    EI000,
    EI001,
    EI002,
    EI003,
    EI004,
    VX001,
}

impl FaultCode {
    /// Every code, in the order `/status` lists them.
    pub const ALL: [FaultCode; 20] = [
        FaultCode::VP002,
        FaultCode::VP003,
        FaultCode::VP004,
        FaultCode::VP005,
        FaultCode::VP006,
        FaultCode::VP007,
        FaultCode::VP008,
        FaultCode::VP009,
        FaultCode::VP010,
        FaultCode::VP011,
        FaultCode::VP012,
        FaultCode::VP013,
        FaultCode::VP014,
        FaultCode::VP015,
        FaultCode::EI000,
        FaultCode::EI001,
        FaultCode::EI002,
        FaultCode::EI003,
        FaultCode::EI004,
        FaultCode::VX001,
    ];

    /// The code as written in faultstrings and `x-vp-fault-code`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::VP002 => "VP002",
            FaultCode::VP003 => "VP003",
            FaultCode::VP004 => "VP004",
            FaultCode::VP005 => "VP005",
            FaultCode::VP006 => "VP006",
            FaultCode::VP007 => "VP007",
            FaultCode::VP008 => "VP008",
            FaultCode::VP009 => "VP009",
            FaultCode::VP010 => "VP010",
            FaultCode::VP011 => "VP011",
            FaultCode::VP012 => "VP012",
            FaultCode::VP013 => "VP013",
            FaultCode::VP014 => "VP014",
            FaultCode::VP015 => "VP015",
            FaultCode::EI000 => "EI000",
            FaultCode::EI001 => "EI001",
            FaultCode::EI002 => "EI002",
            FaultCode::EI003 => "EI003",
            FaultCode::EI004 => "EI004",
            FaultCode::VX001 => "VX001",
        }
    }

    /// Position in [`FaultCode::ALL`] (for counter arrays).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plain explanation, for refusals that have no error type of their own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Message(pub String);

/// Why a fault was raised: the typed error of the concern that refused (or a
/// [`Message`]). Its text is the fault's text.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// Keep `error` as the cause.
    pub fn new<E: std::error::Error + Send + Sync + 'static>(error: E) -> Cause {
        Cause(Arc::new(error))
    }

    /// A cause that is only a text.
    pub fn msg(text: impl Into<String>) -> Cause {
        Cause::new(Message(text.into()))
    }

    /// The typed error, if the cause is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }

    /// The error itself (for `source()` chains in logs).
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<String> for Cause {
    fn from(s: String) -> Cause {
        Cause::msg(s)
    }
}

impl From<&str> for Cause {
    fn from(s: &str) -> Cause {
        Cause::msg(s)
    }
}

/// A request the gateway refuses, with the code it maps to and its cause.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// VP002: the caller could not be identified from its certificate.
    #[error("{0}")]
    CallerIdentity(Cause),
    /// VP003: no RIV-TA logical address header in the message.
    #[error("no logical address in the message: add a LogicalAddress header (RIV-TA 2.1, namespace urn:riv:itintegration:registry:1) or wsa:To (RIV-TA 2.0)")]
    NoLogicalAddress,
    /// VP004: no route (unknown contract, no valid vägval rule, or a local service that
    /// is not enabled).
    #[error("{0}")]
    NoRoute(Cause),
    /// VP005: the RIV-TA profile of the route is unknown or does not match the request.
    #[error("{0}")]
    RivVersion(Cause),
    /// VP006: more than one route matches.
    #[error("{0}")]
    AmbiguousRoute(Cause),
    /// VP007: the caller may not call this contract for this logical address.
    #[error("{0}")]
    NotAuthorized(Cause),
    /// VP008: no routing table is loaded.
    #[error("no routing table is loaded: the routing table source and its last-known-good copy could not be read; see the gateway log and reload")]
    NoRoutingTable,
    /// VP009: the producer failed, could not be reached or timed out.
    #[error("{0}")]
    Producer(Cause),
    /// VP010: the logical address header is present but empty.
    #[error("the logical address header is empty: put the receiving organisation's HSA id in it")]
    EmptyLogicalAddress,
    /// VP011: trusted sender headers came from an address that is not whitelisted.
    #[error("{0}")]
    NotWhitelisted(Cause),
    /// VP012: a header transformation failed.
    #[error("{0}")]
    Transform(Cause),
    /// VP013: the caller may not set the original service consumer header.
    #[error("{0}")]
    OriginalConsumerNotAllowed(Cause),
    /// VP014: the message has already passed this gateway (routing loop).
    #[error("{0}")]
    Loop(Cause),
    /// VP015: the message is not a routable SOAP 1.1 envelope (or too large, too slow).
    #[error("{0}")]
    Malformed(Cause),
    /// EI000–EI004: the local engagement index refused the request (validation or
    /// storage); the cause never contains SQL text.
    #[error("{cause}")]
    EngagementIndex { code: EiCode, cause: Cause },
    /// VX001 (vaxel's own code, specs/user-context.md): consent checking is enabled and
    /// the end user's context (JWT) is missing or fails a check; `check` is the stable
    /// name of the failed check and the text never contains the token.
    #[error("user context refused ({check}): {cause}")]
    UserContext { check: &'static str, cause: Cause },
}

/// The skltp/ei error codes the engagement index answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EiCode {
    /// Outside the service's limits, or a storage failure.
    EI000,
    /// Not schema-valid.
    EI001,
    /// Two transactions with the same key (Update-R1).
    EI002,
    /// Update sent to another logical address than the index's (Update-R7).
    EI003,
    /// A field value is missing or invalid.
    EI004,
}

impl EiCode {
    /// The code as written in faultstrings.
    pub fn as_str(self) -> &'static str {
        match self {
            EiCode::EI000 => "EI000",
            EiCode::EI001 => "EI001",
            EiCode::EI002 => "EI002",
            EiCode::EI003 => "EI003",
            EiCode::EI004 => "EI004",
        }
    }
}

impl Fault {
    /// The fault code.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            Fault::CallerIdentity(_) => FaultCode::VP002,
            Fault::NoLogicalAddress => FaultCode::VP003,
            Fault::NoRoute(_) => FaultCode::VP004,
            Fault::RivVersion(_) => FaultCode::VP005,
            Fault::AmbiguousRoute(_) => FaultCode::VP006,
            Fault::NotAuthorized(_) => FaultCode::VP007,
            Fault::NoRoutingTable => FaultCode::VP008,
            Fault::Producer(_) => FaultCode::VP009,
            Fault::EmptyLogicalAddress => FaultCode::VP010,
            Fault::NotWhitelisted(_) => FaultCode::VP011,
            Fault::Transform(_) => FaultCode::VP012,
            Fault::OriginalConsumerNotAllowed(_) => FaultCode::VP013,
            Fault::Loop(_) => FaultCode::VP014,
            Fault::Malformed(_) => FaultCode::VP015,
            Fault::EngagementIndex { code, .. } => match code {
                EiCode::EI000 => FaultCode::EI000,
                EiCode::EI001 => FaultCode::EI001,
                EiCode::EI002 => FaultCode::EI002,
                EiCode::EI003 => FaultCode::EI003,
                EiCode::EI004 => FaultCode::EI004,
            },
            Fault::UserContext { .. } => FaultCode::VX001,
        }
    }

    /// The fault code as text (`VP007`).
    pub fn code(&self) -> &'static str {
        self.fault_code().as_str()
    }

    /// The cause, for faults that have one.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Fault::NoLogicalAddress | Fault::NoRoutingTable | Fault::EmptyLogicalAddress => None,
            Fault::CallerIdentity(c)
            | Fault::NoRoute(c)
            | Fault::RivVersion(c)
            | Fault::AmbiguousRoute(c)
            | Fault::NotAuthorized(c)
            | Fault::Producer(c)
            | Fault::NotWhitelisted(c)
            | Fault::Transform(c)
            | Fault::OriginalConsumerNotAllowed(c)
            | Fault::Loop(c)
            | Fault::Malformed(c)
            | Fault::EngagementIndex { cause: c, .. }
            | Fault::UserContext { cause: c, .. } => Some(c),
        }
    }

    /// The typed cause, if it is an `E`.
    pub fn cause_as<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.cause().and_then(Cause::downcast_ref)
    }

    /// `VPnnn [instance] text`, as the national platform writes it (`EInnn [instance]
    /// text` for the engagement index, `VX001 [instance] user context refused (check):
    /// text` for the user context).
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
            code: EiCode::EI002,
            cause: "EngagementTransaction #1 and #2 have the same key".into(),
        };
        assert_eq!(f.code(), "EI002");
        assert_eq!(
            f.fault_string("vp-1"),
            "EI002 [vp-1] EngagementTransaction #1 and #2 have the same key"
        );
    }

    #[test]
    fn user_context_fault_names_the_check() {
        let f = Fault::UserContext {
            check: "expired",
            cause: "the user context has expired (exp)".into(),
        };
        assert_eq!(
            f.fault_string("gw"),
            "VX001 [gw] user context refused (expired): the user context has expired (exp)"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("typed {0}")]
    struct Typed(u32);

    #[test]
    fn the_typed_cause_is_kept() {
        let f = Fault::NoRoute(Cause::new(Typed(7)));
        assert_eq!(f.to_string(), "typed 7");
        assert_eq!(f.cause_as::<Typed>().map(|t| t.0), Some(7));
        assert!(f.cause_as::<Message>().is_none());
        assert!(Fault::NoRoutingTable.cause().is_none());
    }

    #[test]
    fn every_variant_has_a_distinct_code_in_the_list() {
        let all = [
            Fault::CallerIdentity("".into()),
            Fault::NoLogicalAddress,
            Fault::NoRoute("".into()),
            Fault::RivVersion("".into()),
            Fault::AmbiguousRoute("".into()),
            Fault::NotAuthorized("".into()),
            Fault::NoRoutingTable,
            Fault::Producer("".into()),
            Fault::EmptyLogicalAddress,
            Fault::NotWhitelisted("".into()),
            Fault::Transform("".into()),
            Fault::OriginalConsumerNotAllowed("".into()),
            Fault::Loop("".into()),
            Fault::Malformed("".into()),
            Fault::EngagementIndex {
                code: EiCode::EI000,
                cause: "".into(),
            },
            Fault::EngagementIndex {
                code: EiCode::EI001,
                cause: "".into(),
            },
            Fault::EngagementIndex {
                code: EiCode::EI002,
                cause: "".into(),
            },
            Fault::EngagementIndex {
                code: EiCode::EI003,
                cause: "".into(),
            },
            Fault::EngagementIndex {
                code: EiCode::EI004,
                cause: "".into(),
            },
            Fault::UserContext {
                check: "missing",
                cause: "".into(),
            },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(Fault::fault_code).collect();
        assert_eq!(codes.len(), all.len());
        // Every code a fault can have is listed, in ALL's order, and indexes it.
        assert_eq!(
            codes.into_iter().collect::<Vec<_>>(),
            FaultCode::ALL.to_vec()
        );
        for (i, c) in FaultCode::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
