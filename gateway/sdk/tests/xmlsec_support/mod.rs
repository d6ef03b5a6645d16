//! Shared helpers for the xmlsec tests: throw-away organisation PKI generated per
//! run (keys are never committed), the published reference samples, the xmlsec1
//! command, and a namespace-aware comparison of XML elements.
#![allow(dead_code)]

use base64::Engine as _;
use bergshamra::xml::uppsala::{self, Document, NodeId, NodeKind};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use std::path::{Path, PathBuf};
use std::process::Command;
use vaxel_sdk::xmlsec::{OrgCredentials, PeerCertificate};

/// One organisation's generated key pair and self-signed certificate, also written
/// as PEM files (for xmlsec1) into a temporary directory.
pub struct Org {
    pub name: String,
    pub credentials: OrgCredentials,
    pub certificate: PeerCertificate,
    pub cert_pem_path: PathBuf,
    pub key_pem_path: PathBuf,
}

/// RSA 2048, subject `C=SE, O=<name>, CN=<name>`, valid from yesterday for a year.
pub fn org(name: &str, dir: &Path) -> Org {
    org_valid(name, dir, -1, 365)
}

pub fn org_valid(name: &str, dir: &Path, from_days: i64, to_days: i64) -> Org {
    let rsa = Rsa::generate(2048).unwrap();
    let key = PKey::from_rsa(rsa).unwrap();
    let mut subject = X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("C", "SE").unwrap();
    subject.append_entry_by_text("O", name).unwrap();
    subject.append_entry_by_text("CN", name).unwrap();
    let subject = subject.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_serial())
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&subject).unwrap();
    builder.set_issuer_name(&subject).unwrap();
    builder.set_pubkey(&key).unwrap();
    let now = chrono::Utc::now().timestamp();
    builder
        .set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = builder.build();

    let cert_pem = cert.to_pem().unwrap();
    let key_pem = key.private_key_to_pem_pkcs8().unwrap();
    let file = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let cert_pem_path = dir.join(format!("{file}.crt.pem"));
    let key_pem_path = dir.join(format!("{file}.key.pem"));
    std::fs::write(&cert_pem_path, &cert_pem).unwrap();
    std::fs::write(&key_pem_path, &key_pem).unwrap();
    Org {
        name: name.to_owned(),
        credentials: OrgCredentials::from_pem(&cert_pem, &key_pem).unwrap(),
        certificate: PeerCertificate::from_pem(&cert_pem).unwrap(),
        cert_pem_path,
        key_pem_path,
    }
}

fn rand_serial() -> u32 {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u32::from_be_bytes(b) >> 1
}

/// The shared reference directory (never copied into the repository). Override
/// with `VAXEL_REFERENCE_DIR`.
pub fn reference_dir() -> PathBuf {
    std::env::var_os("VAXEL_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"))
}

pub fn reference(relative: &str) -> Vec<u8> {
    let path = reference_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The plain XHE inside `message-v3/xhe_unencrypted.xml` (base64 in a SOAP
/// submitRequest), with its (broken) signature removed.
pub fn plain_xhe() -> String {
    let soap = String::from_utf8(reference("sdk/message-v3/xhe_unencrypted.xml")).unwrap();
    let start = soap.find("<value>").unwrap() + "<value>".len();
    let end = soap.find("</value>").unwrap();
    let b64: String = soap[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let xhe = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    strip_signature(&xhe)
}

/// Remove the `...:Signature` element (any prefix) that is the last child of the root.
pub fn strip_signature(xhe: &str) -> String {
    let doc = uppsala::parse(xhe).unwrap();
    let root = doc.document_element().unwrap();
    let Some(sig) = doc.children(root).into_iter().rev().find(|&c| {
        doc.element(c).is_some_and(|e| {
            &*e.name.local_name == "Signature"
                && e.name.namespace_uri.as_deref() == Some("http://www.w3.org/2000/09/xmldsig#")
        })
    }) else {
        return xhe.to_owned();
    };
    let r = doc.node_range(sig).unwrap();
    format!("{}{}", &xhe[..r.start], &xhe[r.end..])
}

/// A plain XHE (shape of the published sample) whose payload carries `body_text`
/// as the document text. Used to measure large payloads.
pub fn plain_xhe_with_text(body_text: &str) -> String {
    let xhe = plain_xhe();
    let marker = "Anslut till SDK!";
    assert!(xhe.contains(marker));
    xhe.replace(marker, body_text)
}

/// The xmlsec1 command, or `None` (with the reason printed) when it is missing.
/// With `CI=true` a missing xmlsec1 fails the test instead.
pub fn xmlsec1() -> Option<PathBuf> {
    tool("xmlsec1")
}

pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = format!("{name} not found on PATH; interop test skipped");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why} (CI=true requires it)");
        }
        eprintln!("{why}");
    }
    found
}

/// Run a command; panic with its output when it fails. Returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A namespace-aware picture of an element tree, independent of prefixes and of
/// where namespaces are declared: `{ns}local[attrs](children)` with text kept.
pub fn tree(doc: &Document<'_>, id: NodeId) -> String {
    let mut out = String::new();
    write_tree(doc, id, &mut out);
    out
}

fn write_tree(doc: &Document<'_>, id: NodeId, out: &mut String) {
    match doc.node_kind(id) {
        Some(NodeKind::Element(e)) => {
            out.push_str(&format!(
                "{{{}}}{}",
                e.name.namespace_uri.as_deref().unwrap_or(""),
                e.name.local_name
            ));
            let mut attrs: Vec<String> = e
                .attributes
                .iter()
                .map(|a| {
                    format!(
                        "{{{}}}{}={:?}",
                        a.name.namespace_uri.as_deref().unwrap_or(""),
                        a.name.local_name,
                        a.value
                    )
                })
                .collect();
            attrs.sort();
            out.push_str(&format!("[{}](", attrs.join(" ")));
            for c in doc.children(id) {
                write_tree(doc, c, out);
            }
            out.push(')');
        }
        Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => out.push_str(&format!("{t:?}")),
        _ => {}
    }
}

/// The tree of the element inside `PayloadContent` of a whole XHE.
pub fn payload_tree(xhe: &str) -> String {
    let doc = uppsala::parse(xhe.trim_start_matches('\u{feff}')).unwrap();
    let content = doc
        .descendants(doc.root())
        .into_iter()
        .find(|&id| {
            doc.element(id).is_some_and(|e| {
                &*e.name.local_name == "PayloadContent"
                    && e.name.namespace_uri.as_deref()
                        == Some("http://docs.oasis-open.org/bdxr/ns/XHE/1/AggregateComponents")
            })
        })
        .expect("PayloadContent");
    let element = doc
        .children(content)
        .into_iter()
        .find(|&c| doc.element(c).is_some())
        .expect("payload element");
    tree(&doc, element)
}

/// The tree of a standalone element (e.g. what `decrypt_payload` returns).
pub fn element_tree(xml: &[u8]) -> String {
    let text = std::str::from_utf8(xml).unwrap();
    let doc = uppsala::parse(text).expect("payload element is well-formed on its own");
    tree(&doc, doc.document_element().unwrap())
}

/// The base64 DER of the last `X509Certificate` in a document (the signature's).
pub fn last_certificate(xml: &str) -> PeerCertificate {
    let doc = uppsala::parse(xml.trim_start_matches('\u{feff}')).unwrap();
    let cert = doc
        .descendants(doc.root())
        .into_iter()
        .rev()
        .find(|&id| {
            doc.element(id)
                .is_some_and(|e| &*e.name.local_name == "X509Certificate")
        })
        .unwrap();
    let b64: String = doc
        .text_content_deep(cert)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    PeerCertificate::from_der(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}
