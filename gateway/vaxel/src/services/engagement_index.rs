//! `local://engagement-index`: the engagement index crate behind the local service trait,
//! its lookup for the aggregating service, and the transport that delivers its
//! notifications onward, routed by the routing table like any consumer's call.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use vaxel_engagement_index::{EngagementIndex, FindQuery, ResidentId};
use vaxel_model::{clock, Fault};
use vaxel_routing::RoutingTableHandle;
use vaxel_store::outbox::OutboxTransport;

use super::aggregating::{EngagementLookup, EngagementSource};
use super::{soap_response, BoxFuture, LocalRequest, LocalService};
use crate::onward::{ForwardBody, Onward, OnwardHeaders};

/// The engagement index as a local service.
#[derive(Debug, Clone)]
pub struct EngagementIndexService(pub EngagementIndex);

/// The service's name: `local://engagement-index`.
pub const NAME: &str = "engagement-index";

impl LocalService for EngagementIndexService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn call<'a>(
        &'a self,
        request: LocalRequest<'a>,
    ) -> BoxFuture<'a, Result<Response<Full<Bytes>>, Fault>> {
        Box::pin(async move {
            let out = self
                .0
                .handle(&request.envelope.contract_namespace, request.body)
                .await
                .map_err(Fault::from)?;
            Ok(soap_response(out, request.caller.correlation))
        })
    }

    fn status_key(&self) -> &'static str {
        "engagement_index"
    }

    /// The notification queue: what has not reached each subscriber yet, and why
    /// (specs/engagement-index.md, "Notifications").
    fn status(&self) -> BoxFuture<'_, serde_json::Value> {
        Box::pin(vaxel_engagement_index::notifications::status(&self.0))
    }
}

impl EngagementLookup for EngagementIndexService {
    fn find<'a>(
        &'a self,
        patient_id: &'a str,
        service_domain: &'a str,
        categorization: &'a str,
    ) -> BoxFuture<'a, Result<Vec<EngagementSource>, String>> {
        Box::pin(async move {
            // An id the index cannot hold has no engagements (the adapters read the
            // patient id as written; the index only stores schema-valid ids).
            let Some(resident) = ResidentId::parse(patient_id) else {
                return Ok(Vec::new());
            };
            let mut query = FindQuery::new(resident, service_domain);
            query.categorization = Some(categorization.to_string());
            let found = self
                .0
                .find_content(query)
                .await
                .map_err(|e| e.to_string())?;
            Ok(found
                .into_iter()
                .map(|e| EngagementSource {
                    logical_address: e.logical_address,
                    source_system: e.source_system,
                    most_recent_content: e.most_recent_content.map(|t| t.to_string()),
                })
                .collect())
        })
    }
}

/// ProcessNotification contract (the subscribers' service).
const PROCESS_NOTIFICATION: &str =
    "urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1";

/// Largest subscriber answer read.
const MAX_ANSWER: usize = 1024 * 1024;

/// How long a notification's body may wait between chunks (it is in memory: never).
const NOTIFICATION_BODY_IDLE: Duration = Duration::from_secs(30);

/// Sends notifications the way a consumer's call would go: routed by the routing table
/// (ProcessNotification at the subscriber's logical address), over the gateway's onward
/// client (mutual TLS), with the gateway's own onward headers.
#[derive(Debug)]
pub struct RoutedNotifications {
    pub routing: Arc<RoutingTableHandle>,
    pub onward: Onward,
    pub instance_id: String,
}

impl OutboxTransport for RoutedNotifications {
    fn deliver(
        &self,
        logical_address: &str,
        envelope: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), String>> {
        let la = logical_address.to_string();
        Box::pin(async move {
            let (url, timeout) = {
                let guard = self.routing.current_guard();
                let table = guard
                    .as_ref()
                    .ok_or_else(|| "no routing table is loaded".to_string())?;
                let route = table
                    .route(PROCESS_NOTIFICATION, &la, clock::today())
                    .map_err(|e| e.to_string())?;
                if route.local_service().is_some() {
                    return Err(format!(
                        "the route for ProcessNotification at {la} leads to this gateway itself"
                    ));
                }
                (route.url().clone(), route.response_timeout())
            };
            let len = envelope.len() as u64;
            let body = ForwardBody::new(
                vec![Bytes::from(envelope)],
                len,
                None,
                Some(len),
                len.max(1),
                NOTIFICATION_BODY_IDLE,
            );
            let onward = OnwardHeaders::own(&self.instance_id);
            let req = Onward::request(&url, body, std::iter::empty(), &[], &onward)
                .map_err(|e| e.to_string())?;
            let resp = self
                .onward
                .send(req, timeout)
                .await
                .map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("reading the subscriber's answer failed: {e}"))?
                .to_bytes();
            if status != StatusCode::OK {
                return Err(format!("the subscriber at {url} answered HTTP {status}"));
            }
            match result_code(&body).as_deref() {
                Some("OK") => Ok(()),
                Some(other) => Err(format!(
                    "the subscriber at {url} answered ResultCode {other}"
                )),
                None => Err(format!(
                    "the subscriber at {url} answered without a ResultCode"
                )),
            }
        })
    }
}

/// The text of the first `ResultCode` element (ProcessNotificationResponse carries OK,
/// ERROR or INFO).
fn result_code(body: &[u8]) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == b"ResultCode" => inside = true,
            Event::Text(t) if inside => {
                return Some(String::from_utf8_lossy(t.as_ref()).trim().to_string())
            }
            Event::End(_) if inside => return Some(String::new()),
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::result_code;

    #[test]
    fn result_code_is_read_by_local_name() {
        let ok = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><p:ProcessNotificationResponse xmlns:p="urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1"><p:ResultCode>OK</p:ResultCode></p:ProcessNotificationResponse></s:Body></s:Envelope>"#;
        assert_eq!(result_code(ok).as_deref(), Some("OK"));
        let err = br#"<a><ResultCode> ERROR </ResultCode><comment>OK</comment></a>"#;
        assert_eq!(result_code(err).as_deref(), Some("ERROR"));
        assert_eq!(result_code(b"<a><comment>OK</comment></a>"), None);
    }
}
