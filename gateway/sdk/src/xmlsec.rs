//! Organisation-to-organisation XML security for XHE envelopes (specs/sdk.md).
//!
//! An SDK message travels between gateways as an XHE 1.0 envelope whose payload is
//! encrypted for the recipient organisation and whose whole envelope is then signed
//! by the sender organisation (encrypt-then-sign, the shape of the published
//! `XHE-tm-base-ext-sigenc.xml`):
//!
//! ```text
//! x:XHE
//!   ├─ … Header …
//!   ├─ xha:Payloads/xha:Payload/xha:PayloadContent
//!   │     └─ xenc:EncryptedData  Type=#Element, aes256-cbc
//!   │          └─ ds:KeyInfo/xenc:EncryptedKey  rsa-oaep-mgf1p (SHA-1 default digest)
//!   │               └─ ds:KeyInfo/ds:X509Data  the RECIPIENT's certificate
//!   └─ ds:Signature (last child)  rsa-sha256, one Reference URI="" with the
//!        enveloped-signature transform + inclusive C14N 1.0, sha256 digest,
//!        SignedInfo in inclusive C14N 1.0, the SENDER's certificate in KeyInfo
//! ```
//!
//! # Security reasoning (read this before changing anything)
//!
//! - **Trust comes from the address book, never from the message.** [`verify`] is
//!   given the one certificate the receiving gateway trusts for the sending
//!   organisation. The signature is checked only against that key (bergshamra's
//!   `DsigContext::new`, `trusted_keys_only`); the certificate in the message's
//!   `KeyInfo` must additionally be exactly that certificate, so a message signed by
//!   anybody else is [`XmlSecError::UntrustedSigner`] even before any cryptography.
//! - **The signature must cover the whole envelope.** Exactly one enveloped
//!   `ds:Signature`, as the last child of the XHE root, with exactly one `Reference`
//!   whose `URI=""`, and no transforms but enveloped-signature and one C14N. Anything
//!   else (a signature over a fragment, XPath/XSLT transforms, extra references) is
//!   rejected, which removes the usual signature-wrapping (XSW) room. The enveloped
//!   transform leaves the `Signature` element itself unsigned, so its children are
//!   restricted to `SignedInfo`, `SignatureValue` and a `KeyInfo` holding only
//!   certificate data: nothing can be smuggled in there (a `ds:Object` is refused).
//! - **Exactly one payload.** Both [`encrypt_payload`] and [`decrypt_payload`] insist
//!   on exactly one `PayloadContent` in the whole document, at its schema position
//!   (`XHE/Payloads/Payload/PayloadContent`), so the payload that is decrypted is
//!   the payload that was signed.
//! - **Verify before decrypt.** Decryption replaces signed content; CBC ciphertext
//!   that is not authenticated first is a padding oracle. [`open`] does both in the
//!   right order; callers using the two steps must keep that order.
//! - **No content in errors.** Error messages name elements, algorithms,
//!   certificates and positions, never text from the payload.
//!
//! # What the library does and what we do
//!
//! XML-DSig, C14N and the cryptographic primitives come from `bergshamra` (pure Rust,
//! tested against xmlsec's interop suite; see specs/ for the choice). We write by
//! hand only the XHE profile: which element is encrypted, where the signature goes,
//! and the policy checks above. Two deliberate deviations from bergshamra's
//! whole-document helpers:
//!
//! - *Signing* inserts the signature template into the original bytes and fills in
//!   `DigestValue`/`SignatureValue` from bergshamra's in-DOM signer
//!   (`sign_document_node`) instead of re-serialising the document: the bytes we send
//!   are exactly the bytes we signed, and an earlier `ds:Signature` inside a payload
//!   can never be picked by mistake.
//! - *Decryption* uses bergshamra's key-transport and cipher primitives on the one
//!   `EncryptedData` we located, instead of `decrypt_to_bytes`, which decrypts the
//!   first `EncryptedData` anywhere with the first RSA key and re-normalises the
//!   surrounding document text. We also pick the `EncryptedKey` addressed to our
//!   certificate, so a message for another organisation gets a clear error.
//!
//! The plaintext that is encrypted is the payload element made self-contained: the
//! namespace declarations it inherits from the envelope are copied onto it, so that
//! any tool can decrypt it on its own (xmlsec1 `--decrypt` does). On decryption the
//! same is done for plaintext produced by tools that do not (xmlsec1 `--encrypt`
//! serialises the node without inherited declarations).

mod credentials;
mod doc;
mod encryption;
mod signature;

pub use credentials::{OrgCredentials, PeerCertificate};
pub use encryption::{decrypt_payload, encrypt_payload};
pub use signature::{sign, verify};

/// Why securing or opening an XHE envelope failed.
///
/// Messages say what was wrong and where; they never contain payload content (the
/// confidentiality flag of SDK messages means content never reaches logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlSecError {
    /// The input is not a well-formed XHE envelope of the expected shape.
    #[error("malformed XHE envelope: {0}")]
    Malformed(String),
    /// The XHE root carries no enveloped `ds:Signature`.
    #[error("the XHE envelope is not signed (no ds:Signature as a child of the XHE root)")]
    NoSignature,
    /// The signature is present but does not verify, or does not follow the profile
    /// (whole-document reference, allowed algorithms and transforms).
    #[error("XHE signature rejected: {0}")]
    SignatureInvalid(String),
    /// The signature was made (or claims to be made) with another certificate than
    /// the one trusted for the sending organisation, or that certificate is not
    /// valid now.
    #[error("XHE signer not trusted: {0}")]
    UntrustedSigner(String),
    /// The payload's content key is addressed to another organisation's certificate.
    #[error("the XHE payload is encrypted for another organisation (no EncryptedKey for our certificate)")]
    EncryptedForAnotherOrganisation,
    /// The payload could not be decrypted with our key.
    #[error("XHE payload could not be decrypted: {0}")]
    Decrypt(String),
    /// A key or certificate could not be read or used.
    #[error("key or certificate problem: {0}")]
    Key(String),
}

/// Encrypt the payload for `recipient`, then sign the envelope as `sender`: what a
/// sending gateway does before putting a message in its outbox.
pub fn seal(
    xhe: &[u8],
    recipient: &PeerCertificate,
    sender: &OrgCredentials,
) -> Result<Vec<u8>, XmlSecError> {
    let encrypted = encrypt_payload(xhe, recipient)?;
    sign(&encrypted, sender)
}

/// Verify the envelope's signature against the trusted certificate of the sending
/// organisation, then decrypt the payload with our key: what a receiving gateway
/// does. Returns the plain payload element (see [`decrypt_payload`]).
pub fn open(
    xhe: &[u8],
    sender: &PeerCertificate,
    me: &OrgCredentials,
) -> Result<Vec<u8>, XmlSecError> {
    verify(xhe, sender)?;
    decrypt_payload(xhe, me)
}
