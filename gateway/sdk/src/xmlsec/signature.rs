//! The enveloped XML signature over the whole XHE (XML-DSig 1.0): rsa-sha256, one
//! `Reference URI=""` with enveloped-signature + inclusive C14N 1.0, sha256, the
//! signer's certificate in `KeyInfo`, as in the published signed sample.

use super::doc::{self, DSIG_NS};
use super::{OrgCredentials, PeerCertificate, XmlSecError};
use base64::Engine as _;
use bergshamra::core::algorithm;
use bergshamra::xml::uppsala::{Document, NodeId};
use bergshamra::{DsigContext, KeysManager, VerifyResult};

/// Canonicalisations accepted for `SignedInfo` and as the reference's C14N
/// transform. We write inclusive C14N 1.0 (the published profile); exclusive C14N
/// is what several other XML-DSig stacks default to.
const C14N_METHODS: [&str; 2] = [algorithm::C14N, algorithm::EXC_C14N];
const SIGNATURE_METHODS: [&str; 3] = [
    algorithm::RSA_SHA256,
    algorithm::RSA_SHA384,
    algorithm::RSA_SHA512,
];
const DIGEST_METHODS: [&str; 3] = [algorithm::SHA256, algorithm::SHA384, algorithm::SHA512];

/// Sign the whole XHE as `sender`: an enveloped `ds:Signature` is appended as the
/// last child of the XHE root. The rest of the document is kept byte-for-byte (a
/// leading byte-order mark is dropped).
pub fn sign(xhe: &[u8], sender: &OrgCredentials) -> Result<Vec<u8>, XmlSecError> {
    let text = doc::as_text(xhe)?;
    let insert_at = {
        let document = doc::parse(text)?;
        let root = doc::xhe_root(&document)?;
        if doc::child_named(&document, root, DSIG_NS, "Signature").is_some() {
            return Err(XmlSecError::Malformed(
                "the XHE already carries an enveloped ds:Signature".into(),
            ));
        }
        let root_range = doc::range(&document, root)?;
        text[..root_range.end]
            .rfind("</")
            .filter(|&at| at > root_range.start)
            .ok_or_else(|| XmlSecError::Malformed("the XHE element is empty".into()))?
    };

    let certificate = base64::engine::general_purpose::STANDARD.encode(sender.certificate_der());
    let template = signature_template("", "", &certificate);
    let with_template = format!("{}{}{}", &text[..insert_at], template, &text[insert_at..]);

    // bergshamra computes the digest and signature on the DOM of exactly these
    // bytes; we copy the two values into the template text instead of
    // re-serialising the DOM, so the bytes sent are the bytes signed.
    let (digest, signature_value) = {
        let mut document = doc::parse(&with_template)?;
        let root = doc::xhe_root(&document)?;
        let signature = doc::child_elements(&document, root)
            .last()
            .copied()
            .filter(|&s| doc::is_element(&document, s, DSIG_NS, "Signature"))
            .ok_or_else(|| XmlSecError::Malformed("signature template not in place".into()))?;
        let mut keys = KeysManager::new();
        keys.add_key(sender.private_key().clone());
        let context = DsigContext::new(keys).with_hsm_signer(sender.rsa_sha256_signer());
        bergshamra::dsig::sign::sign_document_node(&context, &mut document, signature)
            .map_err(|e| XmlSecError::Key(format!("signing failed: {e}")))?;
        let signed_info = doc::child_named(&document, signature, DSIG_NS, "SignedInfo");
        let reference =
            signed_info.and_then(|s| doc::child_named(&document, s, DSIG_NS, "Reference"));
        let digest = reference
            .and_then(|r| doc::child_named(&document, r, DSIG_NS, "DigestValue"))
            .map(|d| doc::compact_text(&document, d));
        let value = doc::child_named(&document, signature, DSIG_NS, "SignatureValue")
            .map(|v| doc::compact_text(&document, v));
        match (digest, value) {
            (Some(d), Some(v)) if !d.is_empty() && !v.is_empty() => (d, v),
            _ => {
                return Err(XmlSecError::Key(
                    "signing produced no digest or signature value".into(),
                ))
            }
        }
    };

    let signed = signature_template(&digest, &signature_value, &certificate);
    Ok(format!("{}{}{}", &text[..insert_at], signed, &text[insert_at..]).into_bytes())
}

fn signature_template(digest: &str, signature_value: &str, certificate: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\">\
<ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
<ds:SignatureMethod Algorithm=\"{rsa_sha256}\"/>\
<ds:Reference URI=\"\">\
<ds:Transforms>\
<ds:Transform Algorithm=\"{enveloped}\"/>\
<ds:Transform Algorithm=\"{c14n}\"/>\
</ds:Transforms>\
<ds:DigestMethod Algorithm=\"{sha256}\"/>\
<ds:DigestValue>{digest}</ds:DigestValue>\
</ds:Reference>\
</ds:SignedInfo>\
<ds:SignatureValue>{signature_value}</ds:SignatureValue>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
</ds:Signature>",
        c14n = algorithm::C14N,
        rsa_sha256 = algorithm::RSA_SHA256,
        enveloped = algorithm::ENVELOPED_SIGNATURE,
        sha256 = algorithm::SHA256,
    )
}

/// Verify the enveloped signature with exactly this trusted certificate of the
/// sending organisation. Run it BEFORE [`decrypt_payload`](super::decrypt_payload).
///
/// Errors: no enveloped signature → [`XmlSecError::NoSignature`]; `KeyInfo` naming
/// another certificate, or the trusted certificate not valid now →
/// [`XmlSecError::UntrustedSigner`]; a digest or signature value that does not
/// verify, or a signature outside the profile (not the last child, not exactly one
/// `Reference URI=""`, other transforms or algorithms, extra content in the
/// `Signature`) → [`XmlSecError::SignatureInvalid`].
pub fn verify(xhe: &[u8], sender: &PeerCertificate) -> Result<(), XmlSecError> {
    let text = doc::as_text(xhe)?;
    let document = doc::parse(text)?;
    let root = doc::xhe_root(&document)?;

    let signatures = doc::children_named(&document, root, DSIG_NS, "Signature");
    let signature = match signatures[..] {
        [] => return Err(XmlSecError::NoSignature),
        [one] => one,
        _ => {
            return Err(XmlSecError::SignatureInvalid(format!(
                "the XHE carries {} enveloped signatures; exactly one is allowed",
                signatures.len()
            )))
        }
    };
    if doc::child_elements(&document, root).last() != Some(&signature) {
        return Err(XmlSecError::SignatureInvalid(
            "the ds:Signature must be the last child of the XHE element".into(),
        ));
    }
    check_profile(&document, signature)?;
    check_signer(&document, signature, sender)?;

    // Secure defaults: only the key we load is a candidate (KeyInfo is never a key
    // source), reference targets are position-checked, digests must be local.
    let mut keys = KeysManager::new();
    keys.add_key(sender.bergshamra_key()?);
    let context = DsigContext::new(keys);
    // verify_all, not verify: bergshamra's verify takes the FIRST ds:Signature in
    // document order, which could be one inside an unencrypted payload.
    let index = doc::descendants_named(&document, DSIG_NS, "Signature")
        .iter()
        .position(|&s| s == signature)
        .ok_or_else(|| XmlSecError::Malformed("signature not found".into()))?;
    let results =
        bergshamra::dsig::verify::verify_all_document_with_source(&context, &document, Some(text))
            .map_err(|e| XmlSecError::SignatureInvalid(e.to_string()))?;
    match results.into_iter().nth(index) {
        Some(VerifyResult::Valid { references, .. }) => {
            let whole_document = matches!(
                &references[..],
                [only] if only.uri.is_empty() && only.digest_verified
            );
            if !whole_document {
                Err(XmlSecError::SignatureInvalid(
                    "the signature does not cover the whole document".into(),
                ))
            } else if !sender.is_valid_now() {
                // Checked after the cryptography so that a broken signature is
                // reported as such whatever the certificate's dates.
                Err(XmlSecError::UntrustedSigner(format!(
                    "the trusted certificate {} is outside its validity period ({} to {})",
                    sender.subject(),
                    sender.not_before(),
                    sender.not_after()
                )))
            } else {
                Ok(())
            }
        }
        Some(VerifyResult::Invalid { reason }) => Err(XmlSecError::SignatureInvalid(
            if reason.contains("digest") {
                format!("the document was changed after signing ({reason})")
            } else {
                format!(
                    "the signature value does not verify with the trusted certificate {} ({reason})",
                    sender.subject()
                )
            },
        )),
        None => Err(XmlSecError::SignatureInvalid(
            "the signature was not verified".into(),
        )),
    }
}

/// The XHE signature profile, checked before any cryptography so that a
/// non-conforming signature gets a precise reason.
fn check_profile(document: &Document<'_>, signature: NodeId) -> Result<(), XmlSecError> {
    let invalid = |m: String| Err(XmlSecError::SignatureInvalid(m));

    // The enveloped transform leaves the Signature element unsigned: nothing but
    // the three expected children may sit there (no ds:Object, nothing foreign).
    let children = doc::child_elements(document, signature);
    let expected = ["SignedInfo", "SignatureValue", "KeyInfo"];
    let names_ok = children.len() == 3
        && children
            .iter()
            .zip(expected)
            .all(|(&c, name)| doc::is_element(document, c, DSIG_NS, name));
    if !names_ok {
        let found: Vec<String> = children
            .iter()
            .map(|&c| doc::element_name(document, c))
            .collect();
        return invalid(format!(
            "ds:Signature must hold exactly SignedInfo, SignatureValue, KeyInfo; found {}",
            found.join(", ")
        ));
    }
    let (signed_info, key_info) = (children[0], children[2]);
    for child in doc::child_elements(document, key_info) {
        if !doc::is_element(document, child, DSIG_NS, "X509Data") {
            return invalid(format!(
                "ds:KeyInfo may only hold ds:X509Data, found {}",
                doc::element_name(document, child)
            ));
        }
        for item in doc::child_elements(document, child) {
            let allowed = [
                "X509Certificate",
                "X509IssuerSerial",
                "X509SubjectName",
                "X509SKI",
            ]
            .iter()
            .any(|name| doc::is_element(document, item, DSIG_NS, name));
            if !allowed {
                return invalid(format!(
                    "ds:X509Data may not hold {}",
                    doc::element_name(document, item)
                ));
            }
        }
    }

    let c14n = method(document, signed_info, "CanonicalizationMethod");
    if !C14N_METHODS.contains(&c14n.as_str()) {
        return invalid(format!(
            "SignedInfo canonicalisation {c14n:?} is not allowed"
        ));
    }
    let signature_method = method(document, signed_info, "SignatureMethod");
    if !SIGNATURE_METHODS.contains(&signature_method.as_str()) {
        return invalid(format!(
            "signature method {signature_method:?} is not allowed"
        ));
    }
    let references = doc::children_named(document, signed_info, DSIG_NS, "Reference");
    let [reference] = references[..] else {
        return invalid(format!(
            "SignedInfo must hold exactly one Reference, found {}",
            references.len()
        ));
    };
    if document.get_attribute(reference, "URI") != Some("") {
        return invalid(
            "the signature does not cover the whole document (Reference URI must be \"\")".into(),
        );
    }
    let transforms: Vec<String> = doc::child_named(document, reference, DSIG_NS, "Transforms")
        .map(|t| {
            doc::children_named(document, t, DSIG_NS, "Transform")
                .into_iter()
                .map(|t| {
                    document
                        .get_attribute(t, "Algorithm")
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    let transforms_ok = match &transforms[..] {
        [enveloped] => enveloped == algorithm::ENVELOPED_SIGNATURE,
        [enveloped, c14n] => {
            enveloped == algorithm::ENVELOPED_SIGNATURE && C14N_METHODS.contains(&c14n.as_str())
        }
        _ => false,
    };
    if !transforms_ok {
        return invalid(format!(
            "reference transforms must be enveloped-signature and optionally one C14N; found {transforms:?}"
        ));
    }
    let digest = method(document, reference, "DigestMethod");
    if !DIGEST_METHODS.contains(&digest.as_str()) {
        return invalid(format!("digest method {digest:?} is not allowed"));
    }
    Ok(())
}

/// The certificate in `KeyInfo` must be the one we trust for this sender.
fn check_signer(
    document: &Document<'_>,
    signature: NodeId,
    sender: &PeerCertificate,
) -> Result<(), XmlSecError> {
    let carried: Vec<Vec<u8>> = doc::child_named(document, signature, DSIG_NS, "KeyInfo")
        .map(|ki| doc::children_named(document, ki, DSIG_NS, "X509Data"))
        .unwrap_or_default()
        .into_iter()
        .flat_map(|data| doc::children_named(document, data, DSIG_NS, "X509Certificate"))
        .map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(doc::compact_text(document, c))
                .map_err(|_| XmlSecError::SignatureInvalid("X509Certificate is not base64".into()))
        })
        .collect::<Result<_, _>>()?;
    let Some(first) = carried.first() else {
        return Err(XmlSecError::UntrustedSigner(
            "the signature carries no signer certificate in KeyInfo/X509Data".into(),
        ));
    };
    if carried.iter().any(|c| c == sender.certificate_der()) {
        return Ok(());
    }
    let claimed = PeerCertificate::from_der(first)
        .map(|c| c.subject())
        .unwrap_or_else(|_| "(unreadable certificate)".into());
    Err(XmlSecError::UntrustedSigner(format!(
        "signed with certificate {claimed}, but the trusted certificate for the sender is {}",
        sender.subject()
    )))
}

fn method(document: &Document<'_>, parent: NodeId, name: &str) -> String {
    doc::child_named(document, parent, DSIG_NS, name)
        .and_then(|m| document.get_attribute(m, "Algorithm"))
        .unwrap_or("")
        .to_owned()
}
