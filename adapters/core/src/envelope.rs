//! Streaming envelope sniffer (API contract; implementation in progress).
use std::ops::Range;

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// RIV-TA 2.1 logical address header namespace.
pub const RIVTA21_ADDRESS_NS: &str = "urn:riv:itintegration:registry:1";
/// RIV-TA 2.0 WS-Addressing namespace (`wsa:To`).
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

/// The RIV-TA basic profile a message is written in, told by its address header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RivProfile {
    /// RIV-TA BP 2.0: `wsa:To` header.
    Rivta20,
    /// RIV-TA BP 2.1: `LogicalAddress` header.
    Rivta21,
}

/// The address header as found in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressHeader {
    pub profile: RivProfile,
    /// Trimmed, unescaped text content. May be empty (the gateway answers VP010).
    pub value: String,
    /// Byte range of the whole header element (start of `<` .. end of `>` of the end tag)
    /// in the sniffed input, so a header rewrite can splice without re-serialising.
    pub span: Range<usize>,
}

/// What the sniffer learnt about an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `None` when the header has no RIV-TA address element (VP003).
    pub address: Option<AddressHeader>,
    /// Namespace URI of the first child of `Body`: the service contract.
    pub contract_namespace: String,
    /// Local name of the first child of `Body` (e.g. `GetCareDocumentation`).
    pub body_element: String,
    /// Number of input bytes consumed up to and including the first Body child's start tag.
    pub consumed: usize,
}

/// Limits the sniffer enforces while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SniffLimits {
    /// Maximum element nesting depth before the first Body child.
    pub max_depth: usize,
    /// Maximum bytes read before a routing decision (the envelope header must fit).
    pub max_prefix_bytes: usize,
}

impl Default for SniffLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_prefix_bytes: 256 * 1024,
        }
    }
}

/// Result of sniffing a (possibly incomplete) prefix of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SniffOutcome {
    /// The routing facts are known; the rest of the body need not be read.
    Complete(Envelope),
    /// The prefix ends before the first Body child: feed more bytes.
    NeedMore,
}

/// Why a message cannot be routed. Each variant maps to VP015 in the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SniffError {
    #[error("message is not well-formed XML at byte {position}: {reason}")]
    Malformed { position: usize, reason: String },
    #[error("document type declarations (DTD) are not allowed in SOAP messages (XXE protection)")]
    DtdNotAllowed,
    #[error("root element is {found}, expected a SOAP 1.1 Envelope ({SOAP11_NS})")]
    NotSoapEnvelope { found: String },
    #[error("SOAP Envelope has no Body element")]
    NoBody,
    #[error("SOAP Body is empty: the first Body child names the service contract")]
    EmptyBody,
    #[error("first Body child <{element}> has no namespace: the service contract is its namespace")]
    BodyChildWithoutNamespace { element: String },
    #[error("element nesting deeper than {limit} before the SOAP Body")]
    TooDeep { limit: usize },
    #[error("no routing decision within the first {limit} bytes: the SOAP header is too large")]
    HeaderTooLarge { limit: usize },
    #[error("message ended before the first SOAP Body child")]
    Truncated,
}

/// Sniff `input`, a prefix of a message. `is_final` says whether `input` is the whole
/// message (no more bytes will come).
pub fn sniff(input: &[u8], is_final: bool, limits: &SniffLimits) -> Result<SniffOutcome, SniffError> {
    let _ = (input, is_final, limits);
    Err(SniffError::Truncated)
}
