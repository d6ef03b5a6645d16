//! The SDK services on the store (specs/sdk.md §3, §7): submit (an organisation's own
//! system hands a message to its gateway), receive (a partner gateway delivers one),
//! fetch and acknowledge (the receiving system takes its messages), and status.
//!
//! Transport-free: the binary maps HTTP requests onto these calls and the answers back
//! onto HTTP (specs/openapi-sdk.yaml). CPU-heavy steps (validation, signing,
//! encryption and their reverse) run on the blocking pool, never on a service core.
//!
//! Confidentiality: nothing here logs, stores in the clear, or puts into an error text
//! any part of a message's content; only ids, organisations and sizes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use vaxel_sdk_message::message::{Message, MAX_MESSAGE_BYTES};
use vaxel_sdk_message::receipt::{Receipt, ReceiptCode};
use vaxel_sdk_message::validate::{self, RejectionKind};
use vaxel_sdk_message::xhe;
use vaxel_store::sdk::{
    InboxInsert, NewIncoming, NewOutgoing, OutgoingState, OutgoingStatus, SdkStore, SubmitOutcome,
};

use crate::addressbook::{AddressBookHandle, ParticipantId};
use crate::config::SdkConfig;
use crate::delivery::receipt_outcome;
use crate::transport::Delivery;
use crate::xmlsec::{self, OrgCredentials, XmlSecError};

/// Largest delivery envelope a gateway takes: a 30 MiB message, encrypted and base64
/// encoded twice (payload inside the XHE, XHE inside the envelope), with headroom.
pub const MAX_DELIVERY_BYTES: usize = 64 * 1024 * 1024;
/// Largest submit request (the message as XML, or JSON around it).
pub const MAX_SUBMIT_BYTES: usize = MAX_MESSAGE_BYTES + 1024 * 1024;

/// Why an SDK call was refused; each maps to one HTTP status and a JSON body that says
/// what to fix. Texts never hold message content.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("the message is not valid ({}): {}", kind_name(.kind), .problems.join("; "))]
    Invalid {
        kind: RejectionKind,
        problems: Vec<String>,
    },
    #[error("{0}")]
    UnknownRecipient(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the gateway cannot take messages now: {0}")]
    Unavailable(String),
}

fn kind_name(k: &RejectionKind) -> &'static str {
    match k {
        RejectionKind::Schema => "schema",
        _ => "business rule",
    }
}

impl SdkError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            SdkError::BadRequest(_) => 400,
            SdkError::Forbidden(_) => 403,
            SdkError::NotFound(_) => 404,
            SdkError::TooLarge(_) => 413,
            SdkError::Conflict(_) => 409,
            SdkError::Invalid { .. } | SdkError::UnknownRecipient(_) => 422,
            SdkError::Unavailable(_) => 503,
        }
    }

    /// A short machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            SdkError::BadRequest(_) => "bad-request",
            SdkError::Forbidden(_) => "forbidden",
            SdkError::NotFound(_) => "not-found",
            SdkError::TooLarge(_) => "too-large",
            SdkError::Conflict(_) => "conflict",
            SdkError::Invalid {
                kind: RejectionKind::Schema,
                ..
            } => "schema-invalid",
            SdkError::Invalid { .. } => "business-rule-violation",
            SdkError::UnknownRecipient(_) => "unknown-recipient",
            SdkError::Unavailable(_) => "unavailable",
        }
    }

    /// The JSON body: `{"error": code, "message": text, "problems": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        if let SdkError::Invalid { problems, .. } = self {
            v["problems"] = serde_json::json!(problems);
        }
        v
    }
}

fn store_err(e: vaxel_store::StoreError) -> SdkError {
    tracing::error!(error = %e, "SDK store unavailable");
    SdkError::Unavailable("the message store is unavailable; try again".into())
}

/// The answer to a submit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    pub message_id: String,
    pub state: &'static str,
    /// The message id had been submitted before: nothing new was queued.
    pub duplicate: bool,
}

/// A message's status as the sender sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub message_id: String,
    pub conversation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_to_message_id: Option<String>,
    pub sender: String,
    pub recipient: String,
    pub submitted_by: String,
    pub state: &'static str,
    pub attempts: u32,
    pub created: String,
    pub updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    pub accepted: bool,
    pub code: String,
}

/// An inbox entry (metadata only).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxView {
    pub message_id: String,
    pub conversation_id: String,
    pub sender: String,
    pub recipient: String,
    pub received: String,
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl StatusView {
    fn from(s: OutgoingStatus) -> StatusView {
        let receipt = s.receipt_code.clone().map(|code| ReceiptView {
            accepted: s.state == OutgoingState::Delivered,
            code,
        });
        StatusView {
            message_id: s.message_id,
            conversation_id: s.conversation_id,
            ref_to_message_id: s.ref_to_message_id,
            sender: s.sender,
            recipient: s.recipient,
            submitted_by: s.submitted_by,
            state: s.state.as_str(),
            attempts: s.attempts,
            created: rfc3339(s.created),
            updated: rfc3339(s.updated),
            next_attempt: match s.state {
                OutgoingState::Queued => s.next_attempt.map(rfc3339),
                _ => None,
            },
            last_error: s.last_error,
            receipt,
        }
    }
}

/// SDK messaging for one organisation.
#[derive(Debug)]
pub struct Sdk {
    pub config: SdkConfig,
    pub book: Arc<AddressBookHandle>,
    me: Arc<OrgCredentials>,
    pub store: Arc<dyn SdkStore>,
    /// Notified when a message was queued (the delivery loop looks at once).
    pub wake: Arc<Notify>,
    /// CPU-heavy steps in progress at once: one per core. More would not go faster, and
    /// each extra thread of the blocking pool keeps its own allocator heap (a burst
    /// without this bound grew a gateway to 800 MiB).
    cpu_slots: Arc<Semaphore>,
}

impl Sdk {
    /// Load the organisation's credentials and the address book.
    pub fn new(config: SdkConfig, store: Arc<dyn SdkStore>) -> Result<Sdk, String> {
        let cert = std::fs::read(&config.certificate).map_err(|e| {
            format!(
                "cannot read sdk.certificate {}: {e}",
                config.certificate.display()
            )
        })?;
        let key = std::fs::read(&config.private_key).map_err(|e| {
            format!(
                "cannot read sdk.private_key {}: {e}",
                config.private_key.display()
            )
        })?;
        let me = OrgCredentials::from_pem(&cert, &key)
            .map_err(|e| format!("sdk.certificate / sdk.private_key: {e}"))?;
        let book =
            AddressBookHandle::open(&config.address_book, config.organisation_ca.as_deref())?;
        Ok(Sdk {
            config,
            book: Arc::new(book),
            me: Arc::new(me),
            store,
            wake: Arc::new(Notify::new()),
            cpu_slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
        })
    }

    /// Run a CPU-heavy step (validation, XML security, envelope parsing) on the blocking
    /// pool, at most one per core at a time.
    fn cpu<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, tokio::task::JoinError>> + Send + 'static {
        let slots = self.cpu_slots.clone();
        async move {
            let _slot = slots.acquire_owned().await;
            tokio::task::spawn_blocking(f).await
        }
    }

    fn organisations_of(&self, system: &str) -> Result<Vec<ParticipantId>, SdkError> {
        let orgs = self.config.organisations_of(system);
        if orgs.is_empty() {
            return Err(SdkError::Forbidden(format!(
                "system `{system}` is not an SDK system of this gateway (sdk.systems): it may not send or fetch messages"
            )));
        }
        Ok(orgs)
    }

    /// Submit: validate, look the recipient up, wrap in XHE, encrypt for the recipient,
    /// sign as our organisation, and queue durably. `body` is the message as XML, or
    /// JSON `{"message": "<xml>"}`.
    pub async fn submit(&self, system: &str, body: &[u8]) -> Result<Submitted, SdkError> {
        self.organisations_of(system)?;
        if body.len() > MAX_SUBMIT_BYTES {
            return Err(SdkError::TooLarge(format!(
                "the request is {} bytes; an SDK message is at most {MAX_MESSAGE_BYTES} bytes",
                body.len()
            )));
        }
        let xml = message_from_body(body)?;
        if xml.len() > MAX_MESSAGE_BYTES {
            return Err(SdkError::TooLarge(format!(
                "the message is {} bytes; an SDK message is at most {MAX_MESSAGE_BYTES} bytes (30 MiB)",
                xml.len()
            )));
        }
        let xml = Arc::new(xml);
        let msg = {
            let xml = xml.clone();
            self.cpu(move || validate::validate(&xml))
                .await
                .map_err(|e| SdkError::Unavailable(e.to_string()))?
                .map_err(|r| SdkError::Invalid {
                    kind: r.kind,
                    problems: r.problems,
                })?
        };
        let sender =
            ParticipantId::from_ii(&msg.header.sender.id.root, &msg.header.sender.id.extension);
        let recipient = ParticipantId::from_ii(
            &msg.header.recipient.id.root,
            &msg.header.recipient.id.extension,
        );
        if !self.config.system_may_act_for(system, &sender) {
            return Err(SdkError::Forbidden(format!(
                "system `{system}` may not send for organisation {sender} (sdk.systems)"
            )));
        }
        if sender != self.config.organisation {
            return Err(SdkError::Forbidden(format!(
                "this gateway sends for organisation {} only, not for {sender}",
                self.config.organisation
            )));
        }
        let book = self.book.current();
        let Some(participant) = book.get(&recipient).cloned() else {
            return Err(SdkError::UnknownRecipient(format!(
                "recipient {recipient} is not in this gateway's address book ({}); ask the operator to add it",
                book.source.display()
            )));
        };
        let functional_address = msg.functional_address().map(str::to_string);
        if !participant.receives_at(functional_address.as_deref()) {
            return Err(SdkError::UnknownRecipient(format!(
                "recipient {recipient} has no functional address `{}` in the address book",
                functional_address.unwrap_or_default()
            )));
        }
        if !participant.certificate_valid_at(SystemTime::now()) {
            return Err(SdkError::UnknownRecipient(format!(
                "the organisation certificate of {recipient} in the address book is not valid now (expired or not yet valid); ask the operator to renew it"
            )));
        }
        // Idempotent: the same message id again is not wrapped, signed or queued again.
        if let Some(existing) = self
            .store
            .sdk_status(&msg.header.message_id)
            .await
            .map_err(store_err)?
        {
            if existing.sender != sender.to_string() {
                return Err(SdkError::Conflict(format!(
                    "message id {} is already used by another sender: give the message a new messageId (a UUID)",
                    existing.message_id
                )));
            }
            return Ok(Submitted {
                message_id: existing.message_id,
                state: existing.state.as_str(),
                duplicate: true,
            });
        }
        let header = xhe::XheHeader::for_message(&msg, &self.config.federation, true);
        let envelope = {
            let me = self.me.clone();
            let cert = participant.certificate.clone();
            let xml = xml.clone();
            self.cpu(move || -> Result<Vec<u8>, XmlSecError> {
                let plain = xhe::build(&header, strip_declaration(&xml));
                let encrypted = xmlsec::encrypt_payload(&plain, &cert)?;
                xmlsec::sign(&encrypted, &me)
            })
            .await
            .map_err(|e| SdkError::Unavailable(e.to_string()))?
            .map_err(|e| {
                tracing::error!(error = %e, "SDK: cannot sign or encrypt");
                SdkError::Unavailable(format!("cannot sign or encrypt the message: {e}"))
            })?
        };
        let delivery = Delivery {
            message_id: msg.header.message_id.clone(),
            timestamp: rfc3339(SystemTime::now()),
            from_gateway: self.config.gateway_id.clone(),
            to_gateway: participant.gateway_id.clone(),
            original_sender: sender.clone(),
            final_recipient: recipient.clone(),
            xhe: envelope,
        };
        let outcome = self
            .store
            .sdk_submit(NewOutgoing {
                message_id: msg.header.message_id.clone(),
                conversation_id: msg.header.conversation_id.clone(),
                ref_to_message_id: msg.header.ref_to_message_id.clone(),
                sender: sender.to_string(),
                recipient: recipient.to_string(),
                submitted_by: system.to_string(),
                endpoint: participant.endpoint.clone(),
                envelope: delivery.to_xml(),
                created: SystemTime::now(),
            })
            .await
            .map_err(store_err)?;
        self.wake.notify_one();
        let (state, duplicate) = match outcome {
            SubmitOutcome::Queued => ("queued", false),
            SubmitOutcome::Duplicate(s) => (s.state.as_str(), true),
        };
        tracing::info!(
            message_id = %msg.header.message_id,
            sender = %sender,
            recipient = %recipient,
            system,
            bytes = xml.len(),
            duplicate,
            "SDK message submitted"
        );
        Ok(Submitted {
            message_id: msg.header.message_id,
            state,
            duplicate,
        })
    }

    /// A message this gateway sent for an organisation `system` acts for.
    async fn own_outgoing(
        &self,
        system: &str,
        message_id: &str,
    ) -> Result<OutgoingStatus, SdkError> {
        let orgs = self.organisations_of(system)?;
        self.store
            .sdk_status(message_id)
            .await
            .map_err(store_err)?
            .filter(|s| orgs.iter().any(|o| o.to_string() == s.sender))
            .ok_or_else(|| {
                SdkError::NotFound(format!(
                    "no message {message_id} sent by an organisation system `{system}` acts for"
                ))
            })
    }

    /// A message's status, for a system that may act for its sender.
    pub async fn status(&self, system: &str, message_id: &str) -> Result<StatusView, SdkError> {
        Ok(StatusView::from(
            self.own_outgoing(system, message_id).await?,
        ))
    }

    /// The receipt a message got, as received (UBL ApplicationResponse).
    pub async fn receipt(&self, system: &str, message_id: &str) -> Result<Vec<u8>, SdkError> {
        let s = self.own_outgoing(system, message_id).await?;
        s.receipt.ok_or_else(|| {
            SdkError::NotFound(format!(
                "message {message_id} has no receipt yet (state {})",
                s.state.as_str()
            ))
        })
    }

    /// The newest statuses of messages the system submitted.
    pub async fn list(&self, system: &str, limit: usize) -> Result<Vec<StatusView>, SdkError> {
        self.organisations_of(system)?;
        let list = self
            .store
            .sdk_list(Some(system), limit.clamp(1, 1000))
            .await
            .map_err(store_err)?;
        Ok(list.into_iter().map(StatusView::from).collect())
    }

    /// A delivery from the partner gateway `gateway` (its TLS client identity). Answers
    /// the receipt (accepted or rejected); an `Err` is a transport-level refusal (not a
    /// gateway in the address book, not for this organisation, unreadable envelope).
    pub async fn receive(&self, gateway: &str, body: Vec<u8>) -> Result<Vec<u8>, SdkError> {
        let (receipt, accepted) = self.answer_delivery(gateway, body).await?;
        // Counted once here, whichever path made the receipt. A refusal (`Err`) is not a
        // receipt: the partner gets an HTTP error and retries.
        vaxel_telemetry::metrics()
            .sdk_receipts
            .get_or_create(&[
                ("direction", "sent"),
                ("outcome", receipt_outcome(accepted)),
            ])
            .inc();
        Ok(receipt)
    }

    /// [`Sdk::receive`]: the receipt and whether it accepts the message.
    async fn answer_delivery(
        &self,
        gateway: &str,
        body: Vec<u8>,
    ) -> Result<(Vec<u8>, bool), SdkError> {
        if body.len() > MAX_DELIVERY_BYTES {
            return Err(SdkError::TooLarge(format!(
                "a delivery is at most {MAX_DELIVERY_BYTES} bytes"
            )));
        }
        let book = self.book.current();
        if book.by_gateway(gateway).next().is_none() {
            return Err(SdkError::Forbidden(format!(
                "gateway `{gateway}` is not in this gateway's address book: only partner gateways may deliver"
            )));
        }
        let delivery = self
            .cpu(move || Delivery::parse(&body))
            .await
            .map_err(|e| SdkError::Unavailable(e.to_string()))?
            .map_err(SdkError::BadRequest)?;
        let Some(sender) = book.get(&delivery.original_sender).cloned() else {
            return Err(SdkError::Forbidden(format!(
                "sender organisation {} is not in this gateway's address book",
                delivery.original_sender
            )));
        };
        if sender.gateway_id != gateway {
            return Err(SdkError::Forbidden(format!(
                "gateway `{gateway}` may not deliver for {} (its gateway is `{}` in the address book)",
                delivery.original_sender, sender.gateway_id
            )));
        }
        if delivery.final_recipient != self.config.organisation {
            return Err(SdkError::NotFound(format!(
                "this gateway receives for {} only, not for {}",
                self.config.organisation, delivery.final_recipient
            )));
        }
        let issuer = self.config.organisation.value.clone();
        let to = delivery.original_sender.value.clone();
        let message_id = delivery.message_id.clone();
        // Delivered before: answer the same receipt again (the sender retried after a
        // lost answer); the receiving system gets it once.
        if let Some(existing) = self
            .store
            .sdk_inbox_get(&message_id)
            .await
            .map_err(store_err)?
        {
            if existing.entry.sender == delivery.original_sender.to_string() {
                tracing::info!(%message_id, sender = %delivery.original_sender, "SDK duplicate delivery: answered the first receipt again");
                // Only accepted messages are stored in the inbox: their receipt accepts.
                return Ok((existing.receipt, true));
            }
        }
        let me = self.me.clone();
        let now = SystemTime::now();
        let expected = self.config.organisation.clone();
        let delivery = Arc::new(delivery);
        let checked = {
            let delivery = delivery.clone();
            self.cpu(move || check_incoming(&delivery, &sender, &me, &expected, now))
                .await
                .map_err(|e| SdkError::Unavailable(e.to_string()))?
        };
        let (receipt, conversation_id) = match checked {
            Ok(conversation_id) => (
                Receipt::accepted(&issuer, &to, &message_id),
                Some(conversation_id),
            ),
            Err((code, reason)) => {
                tracing::warn!(%message_id, sender = %delivery.original_sender, code = ?code, %reason, "SDK delivery rejected");
                (
                    Receipt::rejected(&issuer, &to, &message_id, code, &reason),
                    None,
                )
            }
        };
        let receipt_xml = receipt.to_xml();
        let Some(conversation_id) = conversation_id else {
            return Ok((receipt_xml, false));
        };
        let delivery = Arc::try_unwrap(delivery).unwrap_or_else(|d| (*d).clone());
        let inserted = self
            .store
            .sdk_inbox_insert(NewIncoming {
                message_id: message_id.clone(),
                conversation_id,
                sender: delivery.original_sender.to_string(),
                recipient: delivery.final_recipient.to_string(),
                delivered_by: gateway.to_string(),
                envelope: delivery.xhe,
                receipt: receipt_xml.clone(),
                received: now,
            })
            .await
            .map_err(store_err)?;
        match inserted {
            InboxInsert::Inserted => {
                tracing::info!(%message_id, sender = %delivery.original_sender, gateway, "SDK message received and stored");
                Ok((receipt_xml, true))
            }
            InboxInsert::Duplicate { receipt } => {
                // The id is taken: the first copy's receipt, but only to its own sender.
                let first = self
                    .store
                    .sdk_inbox_get(&message_id)
                    .await
                    .map_err(store_err)?;
                if first.is_some_and(|m| m.entry.sender == delivery.original_sender.to_string()) {
                    // The stored first copy was accepted (see above).
                    Ok((receipt, true))
                } else {
                    Ok((
                        Receipt::rejected(
                            &issuer,
                            &to,
                            &message_id,
                            ReceiptCode::OtherError,
                            "the message id is already used by another sender",
                        )
                        .to_xml(),
                        false,
                    ))
                }
            }
        }
    }

    /// Unacknowledged messages for the organisations `system` fetches for.
    pub async fn inbox(&self, system: &str, limit: usize) -> Result<Vec<InboxView>, SdkError> {
        let orgs = self.organisations_of(system)?;
        let mut out = Vec::new();
        for org in orgs {
            let entries = self
                .store
                .sdk_inbox_pending(&org.to_string(), limit.clamp(1, 1000))
                .await
                .map_err(store_err)?;
            out.extend(entries.into_iter().map(|e| InboxView {
                message_id: e.message_id,
                conversation_id: e.conversation_id,
                sender: e.sender,
                recipient: e.recipient,
                received: rfc3339(e.received),
            }));
        }
        out.sort_by(|a, b| a.received.cmp(&b.received));
        out.truncate(limit.clamp(1, 1000));
        Ok(out)
    }

    /// One received message, decrypted (the `messagePayload` element as XML).
    pub async fn fetch(&self, system: &str, message_id: &str) -> Result<Vec<u8>, SdkError> {
        let orgs = self.organisations_of(system)?;
        let m = self
            .store
            .sdk_inbox_get(message_id)
            .await
            .map_err(store_err)?
            .filter(|m| orgs.iter().any(|o| o.to_string() == m.entry.recipient))
            .ok_or_else(|| {
                SdkError::NotFound(format!(
                    "no received message {message_id} for an organisation system `{system}` fetches for"
                ))
            })?;
        let me = self.me.clone();
        let plain = self.cpu(move || xmlsec::decrypt_payload(&m.envelope, &me))
            .await
            .map_err(|e| SdkError::Unavailable(e.to_string()))?
            .map_err(|e| {
                tracing::error!(%message_id, error = %e, "SDK: a stored message cannot be decrypted");
                SdkError::Unavailable(format!("the stored message cannot be decrypted: {e}"))
            })?;
        let mut out = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_vec();
        out.extend_from_slice(&plain);
        Ok(out)
    }

    /// The receiving system has the message: it leaves the inbox list.
    pub async fn ack(&self, system: &str, message_id: &str) -> Result<(), SdkError> {
        let orgs = self.organisations_of(system)?;
        let m = self
            .store
            .sdk_inbox_get(message_id)
            .await
            .map_err(store_err)?
            .filter(|m| orgs.iter().any(|o| o.to_string() == m.entry.recipient));
        if m.is_none() {
            return Err(SdkError::NotFound(format!(
                "no received message {message_id} for an organisation system `{system}` fetches for"
            )));
        }
        self.store
            .sdk_inbox_ack(message_id, SystemTime::now())
            .await
            .map_err(store_err)?;
        Ok(())
    }

    /// Counts for `/status`.
    pub async fn counts(&self) -> serde_json::Value {
        let out = self.store.sdk_counts().await;
        let inbox = self.store.sdk_inbox_counts().await;
        match (out, inbox) {
            (Ok(o), Ok((pending, acked))) => serde_json::json!({
                "organisation": self.config.organisation.to_string(),
                "address_book_participants": self.book.current().len(),
                "outgoing": { "queued": o.queued, "sending": o.sending, "delivered": o.delivered, "rejected": o.rejected, "failed": o.failed },
                "inbox": { "pending": pending, "acknowledged": acked },
            }),
            _ => serde_json::json!({ "error": "store unavailable" }),
        }
    }
}

/// The message as XML from a submit body (raw XML, or JSON `{"message": "..."}`).
fn message_from_body(body: &[u8]) -> Result<Vec<u8>, SdkError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') => {
            #[derive(serde::Deserialize)]
            struct J {
                message: String,
            }
            let j: J = serde_json::from_slice(body).map_err(|e| {
                SdkError::BadRequest(format!(
                    "the JSON body must be {{\"message\": \"<the MessageWithAttachments:3 XML>\"}}: {e}"
                ))
            })?;
            Ok(j.message.into_bytes())
        }
        Some(b'<') | Some(0xEF) => Ok(body.to_vec()),
        _ => Err(SdkError::BadRequest(
            "the body must be the message as XML (Content-Type application/xml) or JSON {\"message\": \"...\"}".into(),
        )),
    }
}

/// The XML without its declaration (and BOM), to place it inside the XHE.
fn strip_declaration(xml: &[u8]) -> &[u8] {
    let mut s = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let trim = |s: &[u8]| -> usize { s.iter().take_while(|b| b.is_ascii_whitespace()).count() };
    s = &s[trim(s)..];
    if s.starts_with(b"<?xml") {
        if let Some(end) = s.windows(2).position(|w| w == b"?>") {
            s = &s[end + 2..];
        }
    }
    &s[trim(s)..]
}

/// Verify, decrypt and validate an incoming XHE: the conversation id, or the receipt
/// code and reason. Signature first (specs/sdk.md §3.2): nothing is decrypted unless the
/// sender's organisation signed it.
fn check_incoming(
    delivery: &Delivery,
    sender: &crate::addressbook::Participant,
    me: &OrgCredentials,
    expected_recipient: &ParticipantId,
    now: SystemTime,
) -> Result<String, (ReceiptCode, String)> {
    let x = xhe::parse(&delivery.xhe).map_err(|e| {
        (
            ReceiptCode::SchemaError,
            format!("the XHE envelope cannot be read: {e}"),
        )
    })?;
    if x.header.id != delivery.message_id {
        return Err((
            ReceiptCode::OtherError,
            "the XHE header ID differs from the delivery's message id".into(),
        ));
    }
    if !sender.certificate_valid_at(now) {
        return Err((
            ReceiptCode::SignatureError,
            format!(
                "the sender organisation's certificate ({}) is not valid now",
                sender.certificate_subject
            ),
        ));
    }
    xmlsec::verify(&delivery.xhe, &sender.certificate).map_err(|e| {
        (
            ReceiptCode::SignatureError,
            format!(
                "the signature does not verify with {}'s certificate: {e}",
                sender.id
            ),
        )
    })?;
    if !x.payload_is_encrypted_data {
        return Err((
            ReceiptCode::OtherError,
            "the payload is not encrypted (xenc:EncryptedData expected)".into(),
        ));
    }
    let plain = xmlsec::decrypt_payload(&delivery.xhe, me).map_err(|e| match e {
        XmlSecError::EncryptedForAnotherOrganisation => (
            ReceiptCode::OtherError,
            format!(
                "the payload is encrypted for another organisation, not for {expected_recipient}"
            ),
        ),
        other => (
            ReceiptCode::OtherError,
            format!("the payload cannot be decrypted: {other}"),
        ),
    })?;
    if plain.len() > MAX_MESSAGE_BYTES {
        return Err((
            ReceiptCode::OtherError,
            format!("the message is over {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let msg: Message = validate::validate(&plain).map_err(|r| {
        let code = match r.kind {
            RejectionKind::Schema => ReceiptCode::SchemaError,
            _ => ReceiptCode::BusinessRuleError,
        };
        (code, r.problems.join("; "))
    })?;
    xhe::check_business(&x, &msg).map_err(|p| (ReceiptCode::BusinessRuleError, p.join("; ")))?;
    let msg_sender =
        ParticipantId::from_ii(&msg.header.sender.id.root, &msg.header.sender.id.extension);
    let msg_recipient = ParticipantId::from_ii(
        &msg.header.recipient.id.root,
        &msg.header.recipient.id.extension,
    );
    if msg_sender != delivery.original_sender {
        return Err((
            ReceiptCode::BusinessRuleError,
            format!(
                "the message's sender {msg_sender} is not the organisation that signed it ({})",
                delivery.original_sender
            ),
        ));
    }
    if &msg_recipient != expected_recipient {
        return Err((
            ReceiptCode::BusinessRuleError,
            format!("the message's recipient {msg_recipient} is not this organisation"),
        ));
    }
    if msg.header.message_id != delivery.message_id {
        return Err((
            ReceiptCode::BusinessRuleError,
            "the message id differs from the envelope's".into(),
        ));
    }
    Ok(msg.header.conversation_id)
}

/// Retry delay after `attempts` failed attempts.
pub fn backoff(initial: Duration, max: Duration, attempts: u32) -> Duration {
    vaxel_store::outbox::backoff(initial, max, attempts)
}
