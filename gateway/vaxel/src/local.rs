//! Glue between the gateway's own services and the request path: the engagement index
//! answers `local://engagement-index` routes, serves the aggregator's source lookups,
//! and sends its notifications to subscribers through the routing table.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};

use crate::aggregate::{EngagementLookup, EngagementSource};
use crate::engagement::{EngagementIndex, FindQuery, NotificationTransport, ResidentId};
use crate::fault::Fault;
use crate::forward::{ForwardBody, Forwarder};
use crate::headers;
use crate::pipeline::LocalSoapService;
use crate::routing::RoutingTableHandle;

impl LocalSoapService for EngagementIndex {
    fn call<'a>(
        &'a self,
        contract: &'a str,
        envelope: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Fault>> + Send + 'a>> {
        Box::pin(async move { self.handle(contract, envelope).await.map_err(Fault::from) })
    }

    /// The notification queue: what has not reached each subscriber yet, and why
    /// (specs/engagement-index.md, "Notifications").
    fn status(&self) -> Pin<Box<dyn Future<Output = serde_json::Value> + Send + '_>> {
        Box::pin(async move {
            let store = self.store().clone();
            let backlog = match tokio::task::spawn_blocking(move || store.outbox_backlog()).await {
                Ok(Ok(backlog)) => backlog,
                Ok(Err(e)) => return serde_json::json!({"enabled": true, "error": e.to_string()}),
                Err(e) => return serde_json::json!({"enabled": true, "error": e.to_string()}),
            };
            let now = std::time::SystemTime::now();
            // Seconds from now to `t` (negative: in the past).
            let seconds_until = |t: std::time::SystemTime| match t.duration_since(now) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => -e.duration().as_secs_f64(),
            };
            let undelivered: Vec<serde_json::Value> = backlog
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "subscriber": b.subscriber,
                        "pending": b.pending,
                        "oldest_age_seconds": (-seconds_until(b.oldest)).max(0.0),
                        "head_attempts": b.head_attempts,
                        "next_attempt_in_seconds": seconds_until(b.next_attempt).max(0.0),
                        "last_error": b.last_error,
                    })
                })
                .collect();
            serde_json::json!({
                "enabled": true,
                "owner": self.config().owner,
                "notifications_pending": backlog.iter().map(|b| b.pending).sum::<u64>(),
                "undelivered": undelivered,
            })
        })
    }
}

/// The aggregator's view of the engagement index.
#[derive(Debug, Clone)]
pub struct IndexLookup(pub EngagementIndex);

impl EngagementLookup for IndexLookup {
    fn find<'a>(
        &'a self,
        patient_id: &'a str,
        service_domain: &'a str,
        categorization: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<EngagementSource>, String>> + Send + 'a>> {
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

/// Sends notifications the way a consumer's call would go: routed by the routing table
/// (ProcessNotification at the subscriber's logical address), over the gateway's
/// producer client (mutual TLS).
#[derive(Debug)]
pub struct RoutedNotifications {
    pub routing: Arc<RoutingTableHandle>,
    pub forwarder: Forwarder,
    pub instance_id: String,
}

impl NotificationTransport for RoutedNotifications {
    fn deliver(
        &self,
        logical_address: &str,
        envelope: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let la = logical_address.to_string();
        Box::pin(async move {
            let (url, timeout) = {
                let guard = self.routing.current_guard();
                let table = guard
                    .as_ref()
                    .ok_or_else(|| "no routing table is loaded".to_string())?;
                let route = table
                    .route(PROCESS_NOTIFICATION, &la, chrono::Local::now().date_naive())
                    .map_err(|e| e.to_string())?;
                if route.local_service().is_some() {
                    return Err(format!(
                        "the route for ProcessNotification at {la} leads to this gateway itself"
                    ));
                }
                (route.url().clone(), route.response_timeout())
            };
            let len = envelope.len() as u64;
            let mut req = Request::builder()
                .method(Method::POST)
                .uri(url.clone())
                .body(ForwardBody::new(
                    vec![Bytes::from(envelope)],
                    len,
                    None,
                    Some(len),
                    len.max(1),
                    Duration::from_secs(30),
                ))
                .map_err(|e| e.to_string())?;
            let h = req.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=UTF-8"),
            );
            if let Some(auth) = url.authority() {
                if let Ok(v) = HeaderValue::from_str(auth.as_str()) {
                    h.insert(header::HOST, v);
                }
            }
            if let Ok(v) = HeaderValue::from_str(&self.instance_id) {
                h.insert(headers::VP_INSTANCE_ID, v.clone());
                h.insert(headers::ROUTING_HISTORY, v);
            }
            let resp = self
                .forwarder
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
