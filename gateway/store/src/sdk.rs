//! The SDK message store (Säker digital kommunikation): messages between organisations'
//! gateways, behind their own [`SdkStore`] trait.
//!
//! - **Outgoing** (the sending gateway): each submitted message, already signed and
//!   encrypted (opaque bytes here), is kept until the receiving gateway answered it with
//!   a receipt, with a per-message status the sending system can query. Its life:
//!
//!   ```text
//!   submit ──► Queued ──claim──► Sending ──receipt (accepted)──► Delivered  (final)
//!                ▲                  │    ──receipt (rejected)──► Rejected   (final)
//!                └──── reschedule ──┤    ──fail (dead letter)──► Failed     (final)
//!                                   └── lease expired: claimable again (a node died)
//!   ```
//!
//! - **Incoming** (the receiving gateway): each received message, as received (still
//!   encrypted), is kept in an inbox until the receiving system fetched and acknowledged
//!   it. A message id is stored once: a second copy (the sender retried after a lost
//!   answer) gets the receipt answered to the first one.
//!
//! Why not the general [`crate::Outbox`]: it keeps each destination's order and has no
//! per-item status; SDK messages are delivered concurrently, each with its own status,
//! receipt and dead-letter state.
//!
//! Cluster rules every backend MUST keep (several gateway nodes share one database):
//!
//! 1. a claim is atomic and leased: while an item's lease holds, no other claim returns
//!    it; after the lease (its node died or hung) any node may claim it again;
//! 2. duplicate detection (outgoing and inbox) is a UNIQUE key on the message id, never a
//!    read followed by a write;
//! 3. a final state (Delivered, Rejected, Failed) never changes: a late answer from a
//!    delivery whose lease had expired does not undo it;
//! 4. a write that returned `Ok` is durable.
//!
//! Delivery is therefore at least once: a node whose lease expired mid-delivery and
//! another node that claimed the item again may both deliver it. The receiver's inbox
//! absorbs that (rule 2), so leases only need to be well above the delivery timeout.
//!
//! Times are kept to the millisecond (what a `SystemTime` reads back as).

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::Result;

/// Where an outgoing message is in its life (see the module head).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutgoingState {
    /// Waiting for its next delivery attempt (`next_attempt`).
    Queued,
    /// Claimed by a gateway node that is delivering it (until its lease ends).
    Sending,
    /// The receiving gateway answered with an accepting receipt (final).
    Delivered,
    /// The receiving gateway answered with a rejecting receipt (final).
    Rejected,
    /// Dead-lettered: not delivered within the configured time (final).
    Failed,
}

impl OutgoingState {
    /// Every state, in life order (status pages, counters).
    pub const ALL: [OutgoingState; 5] = [
        OutgoingState::Queued,
        OutgoingState::Sending,
        OutgoingState::Delivered,
        OutgoingState::Rejected,
        OutgoingState::Failed,
    ];

    /// The stored and displayed name: `queued`, `sending`, `delivered`, `rejected`,
    /// `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutgoingState::Queued => "queued",
            OutgoingState::Sending => "sending",
            OutgoingState::Delivered => "delivered",
            OutgoingState::Rejected => "rejected",
            OutgoingState::Failed => "failed",
        }
    }

    /// The state named by [`OutgoingState::as_str`].
    pub fn parse(s: &str) -> Option<OutgoingState> {
        OutgoingState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Delivered, Rejected and Failed never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OutgoingState::Delivered | OutgoingState::Rejected | OutgoingState::Failed
        )
    }
}

impl fmt::Display for OutgoingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints opaque bytes (envelopes, receipts) as their length: they can be megabytes of
/// ciphertext, which helps no log or test failure message.
struct ByteLen<'a>(&'a [u8]);

impl fmt::Debug for ByteLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// A message the sending system submitted, to store for delivery.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOutgoing {
    /// The message's id; unique over all outgoing messages (a second submit with the same
    /// id stores nothing: [`SubmitOutcome::Duplicate`]).
    pub message_id: String,
    pub conversation_id: String,
    /// The message this one answers, if any.
    pub ref_to_message_id: Option<String>,
    /// The sending organisation's id.
    pub sender: String,
    /// The receiving organisation's id.
    pub recipient: String,
    /// The id of the sending system that submitted it (whose status list it is in).
    pub submitted_by: String,
    /// The receiving gateway's URL.
    pub endpoint: String,
    /// What is delivered, signed and encrypted: opaque to the store.
    pub envelope: Vec<u8>,
    /// When it was submitted; also its first `next_attempt`.
    pub created: SystemTime,
}

impl fmt::Debug for NewOutgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOutgoing")
            .field("message_id", &self.message_id)
            .field("conversation_id", &self.conversation_id)
            .field("ref_to_message_id", &self.ref_to_message_id)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("submitted_by", &self.submitted_by)
            .field("endpoint", &self.endpoint)
            .field("envelope", &ByteLen(&self.envelope))
            .field("created", &self.created)
            .finish()
    }
}

/// A claimed outgoing message: what a delivery attempt needs.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingItem {
    pub message_id: String,
    pub sender: String,
    pub recipient: String,
    /// The receiving gateway's URL.
    pub endpoint: String,
    /// What is delivered (as submitted).
    pub envelope: Vec<u8>,
    /// Failed delivery attempts so far (as last given to [`SdkStore::sdk_reschedule`]).
    pub attempts: u32,
    /// When it was submitted (dead-letter deadlines count from here).
    pub created: SystemTime,
}

impl fmt::Debug for OutgoingItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingItem")
            .field("message_id", &self.message_id)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("endpoint", &self.endpoint)
            .field("envelope", &ByteLen(&self.envelope))
            .field("attempts", &self.attempts)
            .field("created", &self.created)
            .finish()
    }
}

/// An outgoing message's status, for the sending system (no envelope).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingStatus {
    pub message_id: String,
    pub conversation_id: String,
    pub ref_to_message_id: Option<String>,
    pub sender: String,
    pub recipient: String,
    pub submitted_by: String,
    pub state: OutgoingState,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// When it was submitted.
    pub created: SystemTime,
    /// The last change of state (or of attempts).
    pub updated: SystemTime,
    /// When it is tried next: only while [`OutgoingState::Queued`].
    pub next_attempt: Option<SystemTime>,
    /// Why the last failed attempt failed (kept after a later success, for the record).
    pub last_error: Option<String>,
    /// The receipt's code, once the receiving gateway answered.
    pub receipt_code: Option<String>,
    /// The receipt as received, once the receiving gateway answered.
    pub receipt: Option<Vec<u8>>,
}

impl fmt::Debug for OutgoingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingStatus")
            .field("message_id", &self.message_id)
            .field("conversation_id", &self.conversation_id)
            .field("ref_to_message_id", &self.ref_to_message_id)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("submitted_by", &self.submitted_by)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("created", &self.created)
            .field("updated", &self.updated)
            .field("next_attempt", &self.next_attempt)
            .field("last_error", &self.last_error)
            .field("receipt_code", &self.receipt_code)
            .field("receipt", &self.receipt.as_deref().map(ByteLen))
            .finish()
    }
}

/// What [`SdkStore::sdk_submit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
// Returned once per submit, never stored in bulk: boxing the status would only cost an
// allocation and make matching clumsier.
#[allow(clippy::large_enum_variant)]
pub enum SubmitOutcome {
    /// Stored, state Queued, due at once.
    Queued,
    /// A message with this id was submitted before: nothing new was stored; this is the
    /// stored one's status (the caller SHOULD check `submitted_by` before showing it).
    Duplicate(OutgoingStatus),
}

/// A message received from another gateway, to keep in the inbox.
#[derive(Clone, PartialEq, Eq)]
pub struct NewIncoming {
    /// The message's id; unique over the inbox.
    pub message_id: String,
    pub conversation_id: String,
    /// The sending organisation's id.
    pub sender: String,
    /// The receiving organisation's id (whose system fetches it).
    pub recipient: String,
    /// The delivering gateway's id.
    pub delivered_by: String,
    /// The message as received, still encrypted.
    pub envelope: Vec<u8>,
    /// The receipt answered for it (answered again to every duplicate).
    pub receipt: Vec<u8>,
    /// When it was received.
    pub received: SystemTime,
}

impl fmt::Debug for NewIncoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewIncoming")
            .field("message_id", &self.message_id)
            .field("conversation_id", &self.conversation_id)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("delivered_by", &self.delivered_by)
            .field("envelope", &ByteLen(&self.envelope))
            .field("receipt", &ByteLen(&self.receipt))
            .field("received", &self.received)
            .finish()
    }
}

/// An inbox message's metadata (no content): what a pending list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub message_id: String,
    pub conversation_id: String,
    pub sender: String,
    pub recipient: String,
    pub received: SystemTime,
}

/// An inbox message with its content.
#[derive(Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub entry: InboxEntry,
    /// As received, still encrypted.
    pub envelope: Vec<u8>,
    /// The receipt answered for it.
    pub receipt: Vec<u8>,
    /// When the receiving system acknowledged it (the first time), if it did.
    pub acknowledged: Option<SystemTime>,
}

impl fmt::Debug for IncomingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("entry", &self.entry)
            .field("envelope", &ByteLen(&self.envelope))
            .field("receipt", &ByteLen(&self.receipt))
            .field("acknowledged", &self.acknowledged)
            .finish()
    }
}

/// What [`SdkStore::sdk_inbox_insert`] did.
#[derive(Clone, PartialEq, Eq)]
pub enum InboxInsert {
    /// Stored (durable).
    Inserted,
    /// A message with this id is already in the inbox: nothing was stored; answer the
    /// receipt stored with the first copy again.
    Duplicate { receipt: Vec<u8> },
}

impl fmt::Debug for InboxInsert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InboxInsert::Inserted => f.write_str("Inserted"),
            InboxInsert::Duplicate { receipt } => f
                .debug_struct("Duplicate")
                .field("receipt", &ByteLen(receipt))
                .finish(),
        }
    }
}

/// Outgoing messages per state (every message ever stored that is still kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutgoingCounts {
    pub queued: u64,
    pub sending: u64,
    pub delivered: u64,
    pub rejected: u64,
    pub failed: u64,
}

impl OutgoingCounts {
    /// The count of one state.
    pub fn of(&self, state: OutgoingState) -> u64 {
        match state {
            OutgoingState::Queued => self.queued,
            OutgoingState::Sending => self.sending,
            OutgoingState::Delivered => self.delivered,
            OutgoingState::Rejected => self.rejected,
            OutgoingState::Failed => self.failed,
        }
    }
}

/// The durable SDK message store: outgoing messages with their status, and the inbox.
/// See the module head for the rules every backend MUST keep.
#[async_trait]
pub trait SdkStore: Send + Sync + fmt::Debug {
    /// Store a submitted message: state Queued, `next_attempt = created`, no attempts.
    /// Durable when this returns `Ok`. A message id submitted before stores nothing and
    /// returns the stored one's status (UNIQUE key, rule 2).
    async fn sdk_submit(&self, m: NewOutgoing) -> Result<SubmitOutcome>;

    /// Claim up to `limit` due items: state Queued with `next_attempt <= now`, or state
    /// Sending whose lease ended (`<= now`: its node died or hung). They become Sending
    /// with a lease until `lease_until`, and come oldest due first (a new item is due
    /// when submitted, so new items come in submission order). An item is never claimed
    /// twice while its lease holds: the claim is one atomic transaction (rule 1).
    async fn sdk_claim_due(
        &self,
        now: SystemTime,
        lease_until: SystemTime,
        limit: usize,
    ) -> Result<Vec<OutgoingItem>>;

    /// The receiving gateway answered with a receipt: state Delivered (`accepted`) or
    /// Rejected, with the receipt's `code` and bytes; the lease ends. No effect on an
    /// unknown message or one already in a final state (the first answer stays, rule 3).
    async fn sdk_record_receipt(
        &self,
        message_id: &str,
        accepted: bool,
        code: &str,
        receipt: Vec<u8>,
        now: SystemTime,
    ) -> Result<()>;

    /// A delivery attempt failed (transport, no receipt): back to Queued with the
    /// attempts so far, the next attempt's time and the error; the lease ends. No effect
    /// on an unknown message or one in a final state (rule 3).
    async fn sdk_reschedule(
        &self,
        message_id: &str,
        attempts: u32,
        next_attempt: SystemTime,
        error: &str,
        now: SystemTime,
    ) -> Result<()>;

    /// Dead letter: state Failed with the error (final); the lease ends. No effect on an
    /// unknown message or one already in a final state (rule 3).
    async fn sdk_fail(&self, message_id: &str, error: &str, now: SystemTime) -> Result<()>;

    /// One message's status, if it was submitted.
    async fn sdk_status(&self, message_id: &str) -> Result<Option<OutgoingStatus>>;

    /// Statuses of messages submitted by `submitted_by` (all when `None`), newest
    /// (`created`) first, at most `limit`.
    async fn sdk_list(
        &self,
        submitted_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutgoingStatus>>;

    /// When something is next due: the earliest `next_attempt` of Queued items or lease
    /// end of Sending items; `None` when nothing is waiting (the delivery loop's sleep).
    async fn sdk_next_due(&self) -> Result<Option<SystemTime>>;

    /// Outgoing messages per state.
    async fn sdk_counts(&self) -> Result<OutgoingCounts>;

    /// Store a received message. A message id already in the inbox stores nothing and
    /// returns the first copy's receipt; decided by a UNIQUE key in one atomic statement,
    /// never by a read followed by a write (rule 2). Durable when this returns `Ok`.
    async fn sdk_inbox_insert(&self, m: NewIncoming) -> Result<InboxInsert>;

    /// Unacknowledged messages for `recipient`, oldest (`received`) first, at most
    /// `limit`.
    async fn sdk_inbox_pending(&self, recipient: &str, limit: usize) -> Result<Vec<InboxEntry>>;

    /// One inbox message with its content, acknowledged or not.
    async fn sdk_inbox_get(&self, message_id: &str) -> Result<Option<IncomingMessage>>;

    /// The receiving system has the message: mark it acknowledged at `now`. Idempotent
    /// (a second acknowledgement keeps the first time); `false` when no such message.
    async fn sdk_inbox_ack(&self, message_id: &str, now: SystemTime) -> Result<bool>;

    /// Inbox messages as `(pending, acknowledged)`.
    async fn sdk_inbox_counts(&self) -> Result<(u64, u64)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_and_final_states_are_the_last_three() {
        for s in OutgoingState::ALL {
            assert_eq!(OutgoingState::parse(s.as_str()), Some(s));
        }
        let names: Vec<&str> = OutgoingState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["queued", "sending", "delivered", "rejected", "failed"]
        );
        let finals: Vec<bool> = OutgoingState::ALL.iter().map(|s| s.is_final()).collect();
        assert_eq!(finals, [false, false, true, true, true]);
        assert_eq!(OutgoingState::parse("Queued"), None);
    }

    #[test]
    fn debug_shows_the_length_of_opaque_bytes_not_the_bytes() {
        let m = InboxInsert::Duplicate {
            receipt: vec![7; 3000],
        };
        assert_eq!(format!("{m:?}"), "Duplicate { receipt: <3000 bytes> }");
    }
}
