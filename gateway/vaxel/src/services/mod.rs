//! The gateway's own SOAP services (`local://<name>` routes; specs/routing-table.md §4):
//! the engagement index, the aggregating service, and every later one. A service is one
//! implementation of [`LocalService`] and one registration in the [`Registry`]; the
//! request pipeline needs no change for a new one (its dispatch phase looks the route's
//! `local://<name>` up here).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::Full;
use vaxel_adapter::Envelope;
use vaxel_model::Fault;

use crate::onward::{Onward, OnwardHeaders};

pub mod aggregating;
pub mod engagement_index;

/// The names of the services every gateway registers (`vaxel check-config` loads the
/// routing table against them, as `serve` does with its registry).
pub const BUILT_IN: [&str; 2] = [engagement_index::NAME, aggregating::NAME];

/// A boxed future, as the service trait returns them (dyn-compatible).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who is calling, for a local service (and for the calls it makes onward).
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    /// The calling system as identified by the pipeline (certificate or trusted header):
    /// every authorisation decision is made for this identity (specs/routing-table.md
    /// "Who is authorised").
    pub sender: &'a str,
    /// The consumer on whose behalf it calls (`x-rivta-original-serviceconsumer-hsaid`,
    /// or the sender): passed on, never an authorisation input.
    pub original_consumer: &'a str,
    pub correlation: &'a HeaderValue,
    /// Headers of the consumer's request (content type, SOAPAction, user context).
    pub request_headers: &'a HeaderMap,
    /// The headers calls onward carry for this caller.
    pub onward: &'a OnwardHeaders,
}

/// One request to a local service: the envelope facts the pipeline sniffed, the whole
/// request (read and bounded by the pipeline), the caller, and this core's onward
/// client.
#[derive(Debug)]
pub struct LocalRequest<'a> {
    pub envelope: &'a Envelope,
    pub body: Bytes,
    pub caller: Caller<'a>,
    pub onward: &'a Onward,
}

/// A SOAP service answered inside the gateway.
pub trait LocalService: Send + Sync + fmt::Debug {
    /// The name in `local://<name>` (lower-case letters, digits and `-`).
    fn name(&self) -> &'static str;

    /// Answer one request: a whole response (HTTP 200, SOAP) or a fault.
    fn call<'a>(
        &'a self,
        request: LocalRequest<'a>,
    ) -> BoxFuture<'a, Result<Response<Full<Bytes>>, Fault>>;

    /// The key under which `GET /status` shows [`LocalService::status`].
    fn status_key(&self) -> &'static str;

    /// What `GET /status` shows for the service.
    fn status(&self) -> BoxFuture<'_, serde_json::Value> {
        Box::pin(async { serde_json::json!({"enabled": true}) })
    }
}

/// The services this gateway answers itself, by name.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    services: Vec<Arc<dyn LocalService>>,
}

impl Registry {
    /// Add `service`; a later registration with the same name replaces the earlier.
    pub fn register(&mut self, service: Arc<dyn LocalService>) {
        self.services.retain(|s| s.name() != service.name());
        self.services.push(service);
    }

    /// The service behind `local://<name>`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn LocalService>> {
        self.services.iter().find(|s| s.name() == name)
    }

    /// Every registered name (the routing table is loaded against these).
    pub fn names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.name().to_string()).collect()
    }

    /// Every service.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn LocalService>> {
        self.services.iter()
    }
}

/// A SOAP answer (HTTP 200, `text/xml`) with the correlation id.
pub fn soap_response(body: Vec<u8>, correlation: &HeaderValue) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=UTF-8"),
    );
    r.headers_mut()
        .insert(vaxel_model::headers::CORRELATION_ID, correlation.clone());
    r
}
