//! XML Encryption of the XHE payload (XMLEnc 1.0 `Type=#Element`): aes256-cbc for
//! the content, the content key in an `EncryptedKey` (rsa-oaep-mgf1p) for the
//! recipient organisation's certificate, which is named in the `EncryptedKey`'s
//! `KeyInfo` so a receiver can tell whom a message is for.

use super::doc::{self, DSIG_NS, XENC11_NS, XENC_NS, XHB_NS};
use super::{OrgCredentials, PeerCertificate, XmlSecError};
use base64::Engine as _;
use bergshamra::core::algorithm;
use bergshamra::xml::uppsala::{Document, NodeId};
use bergshamra::{EncContext, KeysManager};

const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";

/// Content ciphers we decrypt. We encrypt with aes256-cbc (the published profile);
/// GCM is accepted because other implementations may move to it.
const CONTENT_CIPHERS: [&str; 6] = [
    algorithm::AES256_CBC,
    algorithm::AES192_CBC,
    algorithm::AES128_CBC,
    algorithm::AES256_GCM,
    algorithm::AES192_GCM,
    algorithm::AES128_GCM,
];

/// Digests allowed inside RSA-OAEP (SHA-1 is the rsa-oaep-mgf1p default and is not
/// a weakness there).
const OAEP_DIGESTS: [&str; 4] = [
    algorithm::SHA1,
    algorithm::SHA256,
    algorithm::SHA384,
    algorithm::SHA512,
];

/// Replace the element inside `PayloadContent` with an `xenc:EncryptedData` that
/// only `recipient` can open. Input: a whole XHE document with a plain payload.
///
/// `InstanceEncryptionIndicator` of the payload, when present and `false`, is set
/// to `true`. Everything else in the document is kept byte-for-byte (a leading
/// byte-order mark is dropped).
pub fn encrypt_payload(xhe: &[u8], recipient: &PeerCertificate) -> Result<Vec<u8>, XmlSecError> {
    let text = doc::as_text(xhe)?;
    let document = doc::parse(text)?;
    let root = doc::xhe_root(&document)?;
    let content = doc::payload_content(&document, root)?;
    let payload = doc::single_element_child(&document, content, "xha:PayloadContent")?;
    if doc::is_element(&document, payload, XENC_NS, "EncryptedData") {
        return Err(XmlSecError::Malformed(
            "the payload is already encrypted".into(),
        ));
    }

    let payload_range = doc::range(&document, payload)?;
    let plaintext = doc::self_contained(
        &text[payload_range.clone()],
        &doc::own_namespaces(&document, payload),
        &doc::in_scope_namespaces(&document, content),
    );

    let mut keys = KeysManager::new();
    keys.add_key(recipient.bergshamra_key()?);
    let context = EncContext::new(keys);
    let encrypted = bergshamra::encrypt(
        &context,
        &encrypted_data_template(recipient),
        plaintext.as_bytes(),
    )
    .map_err(|e| {
        XmlSecError::Key(format!(
            "could not encrypt for certificate {}: {e}",
            recipient.subject()
        ))
    })?;

    let mut edits = vec![(payload_range, encrypted)];
    if let Some(indicator) = encryption_indicator_text(&document, content) {
        edits.push((doc::range(&document, indicator)?, "true".into()));
    }
    Ok(doc::splice(text, edits).into_bytes())
}

/// The text node of `Payload/InstanceEncryptionIndicator` when it says `false`.
fn encryption_indicator_text(document: &Document<'_>, content: NodeId) -> Option<NodeId> {
    let payload = document.parent(content)?;
    let indicator = doc::child_named(document, payload, XHB_NS, "InstanceEncryptionIndicator")?;
    let [text] = document.children(indicator)[..] else {
        return None;
    };
    (document.text_content(text)?.trim() == "false").then_some(text)
}

fn encrypted_data_template(recipient: &PeerCertificate) -> String {
    let certificate = base64::engine::general_purpose::STANDARD.encode(recipient.certificate_der());
    // As in XHE-tm-base-ext-sigenc.xml: no DigestMethod under the key transport
    // method, i.e. the SHA-1 default of rsa-oaep-mgf1p.
    format!(
        "<xenc:EncryptedData xmlns:xenc=\"{XENC_NS}\" Type=\"{TYPE_ELEMENT}\">\
<xenc:EncryptionMethod Algorithm=\"{aes}\"/>\
<ds:KeyInfo xmlns:ds=\"{DSIG_NS}\">\
<xenc:EncryptedKey>\
<xenc:EncryptionMethod Algorithm=\"{oaep}\"/>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
<xenc:CipherData><xenc:CipherValue></xenc:CipherValue></xenc:CipherData>\
</xenc:EncryptedKey>\
</ds:KeyInfo>\
<xenc:CipherData><xenc:CipherValue></xenc:CipherValue></xenc:CipherData>\
</xenc:EncryptedData>",
        aes = algorithm::AES256_CBC,
        oaep = algorithm::RSA_OAEP,
    )
}

/// Decrypt the payload with our key and return the plain payload element (e.g.
/// `messagePayload`), self-contained: the namespace declarations it inherits from
/// the envelope are declared on it.
///
/// Run [`verify`](super::verify) first: decryption does not authenticate anything.
/// A content key addressed to another certificate gives
/// [`XmlSecError::EncryptedForAnotherOrganisation`].
pub fn decrypt_payload(xhe: &[u8], me: &OrgCredentials) -> Result<Vec<u8>, XmlSecError> {
    let text = doc::as_text(xhe)?;
    let document = doc::parse(text)?;
    let root = doc::xhe_root(&document)?;
    let content = doc::payload_content(&document, root)?;
    let encrypted = doc::single_element_child(&document, content, "xha:PayloadContent")?;
    if !doc::is_element(&document, encrypted, XENC_NS, "EncryptedData") {
        return Err(XmlSecError::Malformed(format!(
            "the payload is not encrypted (PayloadContent holds {}, not xenc:EncryptedData)",
            doc::element_name(&document, encrypted)
        )));
    }
    match document.get_attribute(encrypted, "Type") {
        Some(TYPE_ELEMENT) => {}
        other => {
            return Err(XmlSecError::Malformed(format!(
                "EncryptedData Type is {:?}, expected {TYPE_ELEMENT}",
                other.unwrap_or("(none)")
            )))
        }
    }
    let cipher_uri = algorithm_of(&document, encrypted)
        .ok_or_else(|| XmlSecError::Malformed("EncryptedData has no EncryptionMethod".into()))?;
    if !CONTENT_CIPHERS.contains(&cipher_uri.as_str()) {
        return Err(XmlSecError::Decrypt(format!(
            "unsupported content encryption algorithm {cipher_uri}"
        )));
    }
    let cipher = bergshamra::crypto::cipher::from_uri(&cipher_uri)
        .map_err(|e| XmlSecError::Decrypt(format!("{cipher_uri}: {e}")))?;

    let content_key = unwrap_content_key(&document, encrypted, me)?;
    if content_key.len() < cipher.key_size() {
        return Err(XmlSecError::Decrypt(format!(
            "content key is {} bytes, {cipher_uri} needs {}",
            content_key.len(),
            cipher.key_size()
        )));
    }
    // xmlsec1 may transport a longer session key than the cipher uses (its
    // --session-key names the generated key, not the cipher); use the prefix like
    // xmlsec1 and bergshamra do.
    let content_key = &content_key[..cipher.key_size()];

    let ciphertext = cipher_value(&document, encrypted, "EncryptedData")?;
    let plaintext = cipher.decrypt(content_key, &ciphertext).map_err(|_| {
        XmlSecError::Decrypt("the payload ciphertext does not decrypt with the content key".into())
    })?;
    let plaintext = String::from_utf8(plaintext)
        .map_err(|_| XmlSecError::Decrypt("the decrypted payload is not UTF-8".into()))?;
    plain_payload_element(&plaintext, &doc::in_scope_namespaces(&document, content))
}

/// Find the `EncryptedKey` for our certificate and unwrap the content key.
fn unwrap_content_key(
    document: &Document<'_>,
    encrypted: NodeId,
    me: &OrgCredentials,
) -> Result<Vec<u8>, XmlSecError> {
    let key_info = doc::child_named(document, encrypted, DSIG_NS, "KeyInfo")
        .ok_or_else(|| XmlSecError::Malformed("EncryptedData has no ds:KeyInfo".into()))?;
    let encrypted_keys = doc::children_named(document, key_info, XENC_NS, "EncryptedKey");
    if encrypted_keys.is_empty() {
        return Err(XmlSecError::Malformed(
            "EncryptedData/KeyInfo holds no xenc:EncryptedKey".into(),
        ));
    }

    // An EncryptedKey names its recipient with the certificate in its KeyInfo.
    // Prefer the ones naming us; if none names anybody, try them all.
    let recipients: Vec<Vec<Vec<u8>>> = encrypted_keys
        .iter()
        .map(|&ek| recipient_certificates(document, ek))
        .collect();
    let for_me: Vec<NodeId> = encrypted_keys
        .iter()
        .zip(&recipients)
        .filter(|(_, certs)| certs.iter().any(|c| c == me.certificate_der()))
        .map(|(&ek, _)| ek)
        .collect();
    let candidates = if !for_me.is_empty() {
        for_me
    } else {
        let unnamed: Vec<NodeId> = encrypted_keys
            .iter()
            .zip(&recipients)
            .filter(|(_, certs)| certs.is_empty())
            .map(|(&ek, _)| ek)
            .collect();
        if unnamed.is_empty() {
            return Err(XmlSecError::EncryptedForAnotherOrganisation);
        }
        unnamed
    };
    let named_me = candidates
        .iter()
        .any(|&ek| !recipient_certificates(document, ek).is_empty());

    let private_key = me
        .private_key()
        .software_key()
        .ok()
        .flatten()
        .ok_or_else(|| XmlSecError::Key("our private key cannot be used for RSA-OAEP".into()))?;
    let mut last_error = None;
    for ek in candidates {
        match unwrap_one(document, ek, &private_key, me) {
            Ok(key) => return Ok(key),
            Err(e) => last_error = Some(e),
        }
    }
    match last_error {
        Some(XmlSecError::Decrypt(_)) if !named_me => Err(XmlSecError::Decrypt(
            "the content key does not unwrap with our private key (the EncryptedKey does not \
             name its recipient; it is probably for another organisation)"
                .into(),
        )),
        Some(e) => Err(e),
        None => Err(XmlSecError::EncryptedForAnotherOrganisation),
    }
}

fn unwrap_one(
    document: &Document<'_>,
    encrypted_key: NodeId,
    private_key: &bergshamra::SoftwareKey,
    me: &OrgCredentials,
) -> Result<Vec<u8>, XmlSecError> {
    let method = doc::child_named(document, encrypted_key, XENC_NS, "EncryptionMethod")
        .ok_or_else(|| XmlSecError::Malformed("EncryptedKey has no EncryptionMethod".into()))?;
    let transport_uri = document.get_attribute(method, "Algorithm").unwrap_or("");
    if transport_uri != algorithm::RSA_OAEP && transport_uri != algorithm::RSA_OAEP_ENC11 {
        return Err(XmlSecError::Decrypt(format!(
            "unsupported key transport {transport_uri:?} (expected RSA-OAEP)"
        )));
    }
    let mut params = bergshamra::crypto::keytransport::OaepParams::default();
    for child in doc::child_elements(document, method) {
        let algorithm = document
            .get_attribute(child, "Algorithm")
            .map(str::to_owned);
        if doc::is_element(document, child, DSIG_NS, "DigestMethod") {
            let digest = algorithm.unwrap_or_default();
            if !OAEP_DIGESTS.contains(&digest.as_str()) {
                return Err(XmlSecError::Decrypt(format!(
                    "unsupported RSA-OAEP digest {digest:?}"
                )));
            }
            params.digest_uri = Some(digest);
        } else if doc::is_element(document, child, XENC11_NS, "MGF") {
            params.mgf_uri = algorithm;
        } else if doc::is_element(document, child, XENC_NS, "OAEPparams") {
            let label = base64::engine::general_purpose::STANDARD
                .decode(doc::compact_text(document, child))
                .map_err(|_| XmlSecError::Malformed("OAEPparams is not base64".into()))?;
            params.oaep_params = Some(label);
        }
    }
    let wrapped = cipher_value(document, encrypted_key, "EncryptedKey")?;
    // The common cases (SHA-1 or SHA-256 for both the OAEP digest and MGF1, no label)
    // with our key parsed once: the library's provider imports the key from PKCS#8 on
    // every call, which costs about as much as the RSA operation itself.
    if params.oaep_params.as_deref().is_none_or(<[u8]>::is_empty) {
        let digest = params.digest_uri.as_deref().unwrap_or(algorithm::SHA1);
        let mgf = params.mgf_uri.as_deref().unwrap_or(algorithm::MGF1_SHA1);
        let oaep = match (digest, mgf) {
            (algorithm::SHA1, algorithm::MGF1_SHA1) => Some(&aws_lc_rs::rsa::OAEP_SHA1_MGF1SHA1),
            (algorithm::SHA256, algorithm::MGF1_SHA256) => {
                Some(&aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256)
            }
            _ => None,
        };
        if let Some(oaep) = oaep {
            return me.oaep_decrypt(oaep, &wrapped);
        }
    }
    let transport = bergshamra::crypto::keytransport::from_uri_with_params(transport_uri, params)
        .map_err(|e| XmlSecError::Decrypt(format!("key transport: {e}")))?;
    transport.decrypt(private_key, &wrapped).map_err(|_| {
        XmlSecError::Decrypt("the content key does not unwrap with our private key".into())
    })
}

/// Certificates (DER) in `EncryptedKey/KeyInfo/X509Data/X509Certificate`.
fn recipient_certificates(document: &Document<'_>, encrypted_key: NodeId) -> Vec<Vec<u8>> {
    let Some(key_info) = doc::child_named(document, encrypted_key, DSIG_NS, "KeyInfo") else {
        return Vec::new();
    };
    doc::children_named(document, key_info, DSIG_NS, "X509Data")
        .into_iter()
        .flat_map(|data| doc::children_named(document, data, DSIG_NS, "X509Certificate"))
        .filter_map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(doc::compact_text(document, c))
                .ok()
        })
        .collect()
}

fn algorithm_of(document: &Document<'_>, element: NodeId) -> Option<String> {
    let method = doc::child_named(document, element, XENC_NS, "EncryptionMethod")?;
    document
        .get_attribute(method, "Algorithm")
        .map(str::to_owned)
}

/// The base64 `CipherData/CipherValue` of `element`. `CipherReference` is refused:
/// it would make us fetch or dereference data the signature may not cover.
fn cipher_value(
    document: &Document<'_>,
    element: NodeId,
    what: &str,
) -> Result<Vec<u8>, XmlSecError> {
    let data = doc::child_named(document, element, XENC_NS, "CipherData")
        .ok_or_else(|| XmlSecError::Malformed(format!("{what} has no CipherData")))?;
    let value = doc::child_named(document, data, XENC_NS, "CipherValue").ok_or_else(|| {
        XmlSecError::Malformed(format!(
            "{what}/CipherData has no CipherValue (CipherReference is not supported)"
        ))
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(doc::compact_text(document, value))
        .map_err(|_| XmlSecError::Malformed(format!("{what} CipherValue is not base64")))
}

/// The decrypted text must be exactly one element (`Type=#Element`). It is read in
/// the namespace context of `PayloadContent`, where it belongs.
fn plain_payload_element(plaintext: &str, context: &[doc::NsDecl]) -> Result<Vec<u8>, XmlSecError> {
    const OPEN: &str = "<vaxel-payload-context";
    let mut wrapped = String::with_capacity(plaintext.len() + 512);
    wrapped.push_str(OPEN);
    for (prefix, uri) in context {
        if prefix.is_empty() {
            wrapped.push_str(" xmlns=\"");
        } else {
            wrapped.push_str(" xmlns:");
            wrapped.push_str(prefix);
            wrapped.push_str("=\"");
        }
        wrapped.push_str(&doc::escape_attr(uri));
        wrapped.push('"');
    }
    wrapped.push('>');
    let body_start = wrapped.len();
    wrapped.push_str(plaintext);
    wrapped.push_str("</vaxel-payload-context>");

    let not_an_element =
        || XmlSecError::Decrypt("the decrypted payload is not one well-formed XML element".into());
    let document = doc::parse(&wrapped).map_err(|_| not_an_element())?;
    let wrapper = document.document_element().ok_or_else(not_an_element)?;
    let element = doc::single_element_child(&document, wrapper, "the decrypted payload")
        .map_err(|_| not_an_element())?;
    let element_range = doc::range(&document, element)?;
    if element_range.start < body_start {
        return Err(not_an_element());
    }
    Ok(doc::self_contained(
        &wrapped[element_range],
        &doc::own_namespaces(&document, element),
        context,
    )
    .into_bytes())
}
