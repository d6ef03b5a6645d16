//! The client side of SDK messaging: deliveries to partner gateways (the
//! [`DeliveryTransport`] over mutual TLS) and the `vaxel sdk` command line, which talks
//! to a gateway's SDK API as an organisation's system would.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use vaxel_sdk::delivery::DeliveryTransport;
use vaxel_sdk::transport::CONTENT_TYPE;

/// An HTTPS client with a client certificate, trusting `ca`.
pub fn mtls_client(
    cert: &Path,
    key: &Path,
    ca: &Path,
    timeout: Option<Duration>,
) -> anyhow::Result<reqwest::Client> {
    let tls = crate::tls::producer_client_config(cert, key, ca)?;
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .pool_max_idle_per_host(64)
        .connect_timeout(Duration::from_secs(5));
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    Ok(b.build()?)
}

/// Deliveries over the gateway's mutual-TLS client (its producer client certificate).
#[derive(Debug, Clone)]
pub struct GatewayTransport {
    client: reqwest::Client,
}

impl GatewayTransport {
    pub fn new(client: reqwest::Client) -> Self {
        GatewayTransport { client }
    }
}

impl DeliveryTransport for GatewayTransport {
    fn deliver(
        &self,
        endpoint: &str,
        envelope: Vec<u8>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + '_>> {
        let req = self
            .client
            .post(endpoint)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .timeout(timeout)
            .body(envelope);
        Box::pin(async move {
            let resp = req.send().await.map_err(|e| describe(&e))?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|e| describe(&e))?;
            if status == reqwest::StatusCode::OK {
                Ok(body.to_vec())
            } else {
                // The partner's error text is ours to log (it holds no content).
                let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
                Err(format!("HTTP {status}: {text}"))
            }
        })
    }
}

/// An error with its causes (reqwest's top-level text alone hides them).
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A one-page PDF (PDF 1.4, Helvetica) showing `lines`: the demo's attachment. Built
/// with exact cross-reference offsets so that PDF readers open it without repair.
pub fn simple_pdf(lines: &[&str]) -> Vec<u8> {
    fn pdf_text(s: &str) -> String {
        // WinAnsi covers å, ä, ö; other characters become '?'.
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '(' | ')' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                ' '..='~' => out.push(c),
                'å' => out.push_str("\\345"),
                'ä' => out.push_str("\\344"),
                'ö' => out.push_str("\\366"),
                'Å' => out.push_str("\\305"),
                'Ä' => out.push_str("\\304"),
                'Ö' => out.push_str("\\326"),
                _ => out.push('?'),
            }
        }
        out
    }
    let mut content = String::from("BT /F1 12 Tf 14 TL 56 780 Td\n");
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            content.push_str(&format!(
                "/F1 16 Tf ({}) Tj T* T* /F1 12 Tf\n",
                pdf_text(line)
            ));
        } else {
            content.push_str(&format!("({}) Tj T*\n", pdf_text(line)));
        }
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    let mut pdf: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The demo's SIP invitation: the region invites the municipality to a coordinated
/// individual plan meeting about a (fictional test) patient, with the invitation as a
/// PDF.
pub fn sip_invitation(
    from: &crate::sdk_pki::SdkOrg,
    to: &crate::sdk_pki::SdkOrg,
) -> vaxel_sdk_message::message::Message {
    use vaxel_sdk_message::message::Message;
    let mut m = Message::new(
        from.org_number,
        to.org_number,
        to.functional_address,
        "Kallelse till SIP-möte (samordnad individuell plan)",
    )
    .with_confidentiality(true)
    .with_sender_functional_address(from.functional_address);
    m.add_text_document(
        "kallelse",
        "Kallelse",
        "# Kallelse till SIP-möte\n\nPatient: Tolvan Tolvansson, 19121212-1212 (testperson)\n\n\
         **Tid:** 2027-01-14 kl. 10.00  \n**Plats:** Vårdcentralen Demo, rum 3\n\n\
         Syftet är att samordna insatser från region och kommun efter utskrivning. \
         Svara med vilka som deltar från kommunen.",
    );
    let pdf = simple_pdf(&[
        "Kallelse till SIP-möte",
        "Samordnad individuell plan",
        "Patient: Tolvan Tolvansson, 19121212-1212 (testperson)",
        "Tid: 2027-01-14 kl. 10.00",
        "Plats: Vårdcentralen Demo, rum 3",
        "Från: Region Demo, vårdcentralen",
    ]);
    m.add_file("kallelse", "kallelse-sip.pdf", "application/pdf", &pdf);
    m
}

/// Which gateway to talk to, as which system.
#[derive(Debug, Clone, clap::Args)]
pub struct SdkTarget {
    /// Demo shortcut: act as the demo region's or municipality's journal system (its
    /// certificate from the demo PKI, its gateway on the demo ports).
    #[arg(long = "as", value_name = "region|municipality", global = true)]
    pub as_org: Option<String>,
    /// The gateway's service address (default for --as: https://localhost:8443 for the
    /// region, https://localhost:9443 for the municipality).
    #[arg(long, global = true)]
    pub gateway: Option<String>,
    /// The system's client certificate (PEM).
    #[arg(long, global = true)]
    pub cert: Option<std::path::PathBuf>,
    /// The system's private key (PEM).
    #[arg(long, global = true)]
    pub key: Option<std::path::PathBuf>,
    /// CA that issued the gateway's certificate (PEM).
    #[arg(long, global = true)]
    pub ca: Option<std::path::PathBuf>,
    /// The demo PKI folder (for --as).
    #[arg(long, global = true, default_value = "certs-example/out")]
    pub certs: std::path::PathBuf,
}

/// What to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SdkAction {
    /// Submit a message: a MessageWithAttachments:3 file, or one composed from the
    /// options (with --as, the sender is that organisation).
    Send {
        /// The message as XML.
        #[arg(long, conflicts_with_all = ["to", "sip_invitation", "reply_to"])]
        file: Option<std::path::PathBuf>,
        /// Demo: the region's SIP invitation (with a PDF) to the municipality.
        #[arg(long)]
        sip_invitation: bool,
        /// Answer this received message (same conversation, refToMessageId).
        #[arg(long, value_name = "MESSAGE_ID")]
        reply_to: Option<String>,
        /// Recipient organisation (`0203:…`), when not answering.
        #[arg(long)]
        to: Option<String>,
        /// Recipient's functional address.
        #[arg(long)]
        to_address: Option<String>,
        /// Sender organisation (`0203:…`; default from --as).
        #[arg(long)]
        from: Option<String>,
        /// Subject.
        #[arg(long, default_value = "")]
        label: String,
        /// Markdown text of the message.
        #[arg(long)]
        text: Option<String>,
        /// Files to attach (content type from the extension).
        #[arg(long)]
        attach: Vec<std::path::PathBuf>,
        /// Mark the message confidential.
        #[arg(long)]
        confidential: bool,
    },
    /// One message's status (and receipt), as its sender sees it.
    Status { message_id: String },
    /// The newest messages this system sent, with their statuses.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Received messages not yet acknowledged.
    Inbox {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Fetch a received message (decrypted); with --ack, acknowledge it afterwards.
    Fetch {
        message_id: String,
        /// Acknowledge after fetching.
        #[arg(long)]
        ack: bool,
        /// Save attachments into this folder.
        #[arg(long)]
        save_attachments: Option<std::path::PathBuf>,
    },
    /// Acknowledge a received message.
    Ack { message_id: String },
    /// The receipt a sent message got (XML).
    Receipt { message_id: String },
}

struct Resolved {
    gateway: String,
    client: reqwest::Client,
    org: Option<crate::sdk_pki::SdkOrg>,
}

fn resolve(t: &SdkTarget) -> anyhow::Result<Resolved> {
    let org = match t.as_org.as_deref() {
        None => None,
        Some("region") => Some(crate::sdk_pki::REGION),
        Some("municipality" | "kommun") => Some(crate::sdk_pki::MUNICIPALITY),
        Some(other) => {
            anyhow::bail!("--as {other}: the demo organisations are `region` and `municipality`")
        }
    };
    let pki = crate::certs::DemoPki {
        dir: t.certs.clone(),
    };
    let sdk = crate::sdk_pki::paths(&pki);
    let (cert, key) = match (&t.cert, &t.key, &org) {
        (Some(c), Some(k), _) => (c.clone(), k.clone()),
        (None, None, Some(o)) => (sdk.system_cert(o), sdk.system_key(o)),
        _ => anyhow::bail!("give --cert and --key (the system's client certificate), or --as region|municipality for the demo"),
    };
    let ca = t.ca.clone().unwrap_or_else(|| pki.ca_cert());
    let gateway = match (&t.gateway, &org) {
        (Some(g), _) => g.trim_end_matches('/').to_string(),
        (None, Some(o)) if o.stem == "region" => "https://localhost:8443".into(),
        (None, Some(_)) => "https://localhost:9443".into(),
        (None, None) => anyhow::bail!("give --gateway https://host:port"),
    };
    let client = mtls_client(&cert, &key, &ca, Some(Duration::from_secs(120)))?;
    Ok(Resolved {
        gateway,
        client,
        org,
    })
}

async fn call(req: reqwest::RequestBuilder) -> anyhow::Result<(reqwest::StatusCode, bytes::Bytes)> {
    let resp = req
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let status = resp.status();
    let body = resp.bytes().await?;
    Ok((status, body))
}

fn json_or_error(status: reqwest::StatusCode, body: &[u8]) -> anyhow::Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::json!({"body": String::from_utf8_lossy(body)}));
    if status.is_success() {
        Ok(v)
    } else {
        anyhow::bail!("the gateway answered HTTP {status}: {v}")
    }
}

fn content_type_of(p: &Path) -> &'static str {
    match p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("txt") | Some("md") => "text/plain",
        Some("xml") => "application/xml",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// Run one `vaxel sdk` action; the JSON to print.
pub async fn run(t: &SdkTarget, action: SdkAction) -> anyhow::Result<serde_json::Value> {
    use vaxel_sdk_message::message::Message;
    let r = resolve(t)?;
    let url = |p: &str| format!("{}/sdk/v1/{p}", r.gateway);
    match action {
        SdkAction::Send {
            file,
            sip_invitation,
            reply_to,
            to,
            to_address,
            from,
            label,
            text,
            attach,
            confidential,
        } => {
            let xml = if let Some(f) = file {
                std::fs::read(&f)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?
            } else {
                let mut m = if sip_invitation {
                    let from = r.org.unwrap_or(crate::sdk_pki::REGION);
                    let to = if from.stem == "region" {
                        crate::sdk_pki::MUNICIPALITY
                    } else {
                        crate::sdk_pki::REGION
                    };
                    self::sip_invitation(&from, &to)
                } else {
                    let sender = from
                        .or(r.org.map(|o| o.org_number.to_string()))
                        .ok_or_else(|| {
                            anyhow::anyhow!("give --from (the sender organisation) or --as")
                        })?;
                    let mut m = match reply_to {
                        Some(id) => {
                            let (status, body) =
                                call(r.client.get(url(&format!("inbox/{id}")))).await?;
                            if !status.is_success() {
                                anyhow::bail!(
                                    "cannot fetch message {id} to answer it: HTTP {status}: {}",
                                    String::from_utf8_lossy(&body)
                                );
                            }
                            let original = Message::parse(&body)?;
                            let address = original
                                .header
                                .sender
                                .attention
                                .as_ref()
                                .map(|a| a.sub_organization.organization_id.extension.clone())
                                .or(to_address.clone())
                                .unwrap_or_else(|| format!("sdk.{}", original.sender_org()));
                            Message::new(&sender, original.sender_org(), &address, &label)
                                .with_reply_to(&original)
                        }
                        None => {
                            let to = to.ok_or_else(|| {
                                anyhow::anyhow!("give --to (recipient organisation) or --reply-to")
                            })?;
                            let address = to_address.ok_or_else(|| {
                                anyhow::anyhow!(
                                    "give --to-address (the recipient's functional address)"
                                )
                            })?;
                            Message::new(&sender, &to, &address, &label)
                        }
                    };
                    if let Some(o) = r.org {
                        m = m.with_sender_functional_address(o.functional_address);
                    }
                    m.add_text_document(
                        "meddelande",
                        "Meddelande",
                        text.as_deref().unwrap_or("(inget meddelande)"),
                    );
                    m
                };
                if confidential {
                    m = m.with_confidentiality(true);
                }
                for f in &attach {
                    let bytes = std::fs::read(f)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("bilaga");
                    let doc_id = m
                        .documents
                        .first()
                        .map(|d| d.document_id.clone())
                        .unwrap_or_else(|| "bilagor".into());
                    m.add_file(&doc_id, name, content_type_of(f), &bytes);
                }
                m.to_xml()
            };
            let (status, body) = call(
                r.client
                    .post(url("messages"))
                    .header(reqwest::header::CONTENT_TYPE, "application/xml")
                    .body(xml),
            )
            .await?;
            json_or_error(status, &body)
        }
        SdkAction::Status { message_id } => {
            let (status, body) = call(r.client.get(url(&format!("messages/{message_id}")))).await?;
            json_or_error(status, &body)
        }
        SdkAction::List { limit } => {
            let (status, body) =
                call(r.client.get(url(&format!("messages?limit={limit}")))).await?;
            json_or_error(status, &body)
        }
        SdkAction::Inbox { limit } => {
            let (status, body) = call(r.client.get(url(&format!("inbox?limit={limit}")))).await?;
            json_or_error(status, &body)
        }
        SdkAction::Receipt { message_id } => {
            let (status, body) =
                call(r.client.get(url(&format!("messages/{message_id}/receipt")))).await?;
            if !status.is_success() {
                return json_or_error(status, &body);
            }
            Ok(
                serde_json::json!({"messageId": message_id, "receipt": String::from_utf8_lossy(&body)}),
            )
        }
        SdkAction::Ack { message_id } => {
            let (status, body) =
                call(r.client.post(url(&format!("inbox/{message_id}/ack")))).await?;
            json_or_error(status, &body)
        }
        SdkAction::Fetch {
            message_id,
            ack,
            save_attachments,
        } => {
            let (status, body) = call(r.client.get(url(&format!("inbox/{message_id}")))).await?;
            if !status.is_success() {
                return json_or_error(status, &body);
            }
            let m = Message::parse(&body)?;
            let mut saved = Vec::new();
            if let Some(dir) = &save_attachments {
                std::fs::create_dir_all(dir)?;
                for d in &m.documents {
                    for f in &d.files {
                        // Only the file name: never a path the sender chose.
                        let name = Path::new(&f.file_name)
                            .file_name()
                            .and_then(|n| n.to_str())
                            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                            .unwrap_or("attachment");
                        let path = dir.join(name);
                        std::fs::write(&path, f.decode()?)?;
                        saved.push(path.display().to_string());
                    }
                }
            }
            let documents: Vec<serde_json::Value> = m
                .documents
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "documentId": d.document_id,
                        "name": d.document_name,
                        "texts": d.texts,
                        "files": d.files.iter().map(|f| serde_json::json!({
                            "fileName": f.file_name,
                            "contentType": f.content_type,
                            "bytes": f.decode().map(|b| b.len()).unwrap_or(0),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut out = serde_json::json!({
                "messageId": m.header.message_id,
                "conversationId": m.header.conversation_id,
                "refToMessageId": m.header.ref_to_message_id,
                "label": m.header.label,
                "confidentiality": m.header.confidentiality,
                "sender": m.sender_org(),
                "recipient": m.recipient_org(),
                "created": m.header.creation_date_time,
                "documents": documents,
                "savedAttachments": saved,
            });
            if ack {
                let (status, body) =
                    call(r.client.post(url(&format!("inbox/{message_id}/ack")))).await?;
                out["acknowledged"] = serde_json::json!(json_or_error(status, &body).is_ok());
            }
            Ok(out)
        }
    }
}
