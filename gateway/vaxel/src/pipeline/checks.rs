//! Phase 3, loop and header checks: the national platform's loop protection on
//! `x-rivta-routing-history` (VP014) and the rule that only allowed callers may name an
//! original consumer (VP013). The result is what every onward call of this request
//! carries.

use http::{HeaderMap, HeaderValue};
use vaxel_model::{headers, Cause, Fault};

use crate::config::IdentityConfig;

/// This hop, as onward calls carry it.
#[derive(Debug, Clone)]
pub struct Hop {
    /// `x-rivta-original-serviceconsumer-hsaid` onward: the caller's (when it may set
    /// one) or the sender.
    pub original_consumer: HeaderValue,
    /// `x-rivta-routing-history` onward: the caller's, then this gateway.
    pub routing_history: String,
}

/// Check the hop headers of a request from `sender`.
pub fn hop(
    request: &HeaderMap,
    sender: &str,
    identity: &IdentityConfig,
    instance_id: &str,
) -> Result<Hop, Fault> {
    let history = request
        .get(headers::ROUTING_HISTORY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if history
        .split(',')
        .any(|hop| hop.trim().eq_ignore_ascii_case(instance_id))
    {
        return Err(Fault::Loop(Cause::msg(format!(
            "the message has already passed this gateway ({instance_id}) : x-rivta-routing-history is \"{history}\"; check the routing tables of the platforms on the path"
        ))));
    }
    let routing_history = if history.trim().is_empty() {
        instance_id.to_string()
    } else {
        format!("{history},{instance_id}")
    };
    let original_consumer = match request.get(headers::ORIGINAL_CONSUMER) {
        Some(v) => {
            if !identity.may_set_original_consumer(sender) {
                return Err(Fault::OriginalConsumerNotAllowed(Cause::msg(format!(
                    "caller {sender} may not set x-rivta-original-serviceconsumer-hsaid: remove the header, or have the operator add {sender} to identity.original_consumer_allowed"
                ))));
            }
            v.clone()
        }
        None => HeaderValue::from_str(sender).map_err(|_| {
            Fault::CallerIdentity(Cause::msg(format!(
                "caller id {sender:?} is not a valid header value"
            )))
        })?,
    };
    Ok(Hop {
        original_consumer,
        routing_history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(allowed: &[&str]) -> IdentityConfig {
        IdentityConfig {
            trusted_header_addresses: vec![],
            original_consumer_allowed: allowed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn history_grows_by_this_gateway_and_a_loop_is_vp014() {
        let mut h = HeaderMap::new();
        let hop1 = hop(&h, "C", &identity(&[]), "gw").unwrap();
        assert_eq!(hop1.routing_history, "gw");
        assert_eq!(hop1.original_consumer, "C");
        h.insert(headers::ROUTING_HISTORY, HeaderValue::from_static("a, b"));
        assert_eq!(
            hop(&h, "C", &identity(&[]), "gw").unwrap().routing_history,
            "a, b,gw"
        );
        h.insert(headers::ROUTING_HISTORY, HeaderValue::from_static("a, GW"));
        assert_eq!(
            hop(&h, "C", &identity(&[]), "gw").unwrap_err().code(),
            "VP014"
        );
    }

    #[test]
    fn original_consumer_only_from_allowed_callers() {
        let mut h = HeaderMap::new();
        h.insert(headers::ORIGINAL_CONSUMER, HeaderValue::from_static("ORIG"));
        assert_eq!(
            hop(&h, "C", &identity(&[]), "gw").unwrap_err().code(),
            "VP013"
        );
        let ok = hop(&h, "c", &identity(&["C"]), "gw").unwrap();
        assert_eq!(ok.original_consumer, "ORIG");
        assert!(hop(&h, "anyone", &identity(&["*"]), "gw").is_ok());
    }
}
