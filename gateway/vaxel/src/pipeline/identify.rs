//! Phase 2, identify: who is calling. From the client certificate (SERIALNUMBER, else
//! CN), or from the trusted `x-vp-sender-id` header when a whitelisted load balancer
//! sits in front (VP002, VP011).

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::IdentityConfig;
use vaxel_model::{headers, Cause, Fault};

/// Facts about one client connection, computed once at handshake time.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: IpAddr,
    /// Caller id from the client certificate, or why there is none.
    pub certificate_id: Result<String, String>,
}

/// Resolve the caller (service consumer) of one request.
///
/// National platform rule: `x-vp-sender-id` is honoured only from whitelisted addresses
/// (VP011 otherwise), and only when `x-vp-instance-id` names this gateway; otherwise the
/// certificate decides.
pub fn resolve_sender(
    conn: &ConnectionInfo,
    headers: &HeaderMap,
    cfg: &IdentityConfig,
    instance_id: &str,
) -> Result<String, Fault> {
    if let Some(sender) = headers.get(headers::VP_SENDER_ID) {
        let peer = canonical(conn.peer);
        if !cfg
            .trusted_header_addresses
            .iter()
            .any(|a| canonical(*a) == peer)
        {
            return Err(Fault::NotWhitelisted(Cause::msg(format!(
                "the caller at {peer} sent x-vp-sender-id but is not a whitelisted address: remove the header, or add {peer} to identity.trusted_header_addresses"
            ))));
        }
        let same_instance = headers
            .get(headers::VP_INSTANCE_ID)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == instance_id);
        if same_instance {
            let id = sender.to_str().map(str::trim).unwrap_or("");
            if id.is_empty() {
                return Err(Fault::CallerIdentity(Cause::msg(
                    "x-vp-sender-id is empty or not ASCII: it must carry the caller's HSA id",
                )));
            }
            return Ok(id.to_string());
        }
    }
    conn.certificate_id
        .clone()
        .map_err(|e| Fault::CallerIdentity(Cause::msg(e)))
}

/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn conn(peer: &str) -> ConnectionInfo {
        ConnectionInfo {
            peer: peer.parse().unwrap(),
            certificate_id: Ok("CERT-ID".into()),
        }
    }

    fn cfg() -> IdentityConfig {
        IdentityConfig {
            trusted_header_addresses: vec!["10.0.0.5".parse().unwrap()],
            original_consumer_allowed: vec![],
        }
    }

    #[test]
    fn certificate_identity_without_headers() {
        let id = resolve_sender(&conn("10.0.0.9"), &HeaderMap::new(), &cfg(), "vp").unwrap();
        assert_eq!(id, "CERT-ID");
    }

    #[test]
    fn sender_header_from_untrusted_address_is_vp011() {
        let mut h = HeaderMap::new();
        h.insert(headers::VP_SENDER_ID, HeaderValue::from_static("SPOOF"));
        let f = resolve_sender(&conn("10.0.0.9"), &h, &cfg(), "vp").unwrap_err();
        assert_eq!(f.code(), "VP011");
        assert!(f.to_string().contains("10.0.0.9"));
    }

    #[test]
    fn sender_header_from_trusted_address_with_our_instance_is_used() {
        let mut h = HeaderMap::new();
        h.insert(headers::VP_SENDER_ID, HeaderValue::from_static("LB-ID"));
        h.insert(headers::VP_INSTANCE_ID, HeaderValue::from_static("vp"));
        let id = resolve_sender(&conn("::ffff:10.0.0.5"), &h, &cfg(), "vp").unwrap();
        assert_eq!(id, "LB-ID");
    }

    #[test]
    fn sender_header_for_other_instance_falls_back_to_certificate() {
        let mut h = HeaderMap::new();
        h.insert(headers::VP_SENDER_ID, HeaderValue::from_static("LB-ID"));
        h.insert(headers::VP_INSTANCE_ID, HeaderValue::from_static("other"));
        let id = resolve_sender(&conn("10.0.0.5"), &h, &cfg(), "vp").unwrap();
        assert_eq!(id, "CERT-ID");
    }

    #[test]
    fn certificate_without_name_is_vp002() {
        let c = ConnectionInfo {
            peer: "127.0.0.1".parse().unwrap(),
            certificate_id: Err("no name".into()),
        };
        assert_eq!(
            resolve_sender(&c, &HeaderMap::new(), &cfg(), "vp")
                .unwrap_err()
                .code(),
            "VP002"
        );
    }
}
