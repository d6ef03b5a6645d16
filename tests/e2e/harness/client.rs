//! The consumer side: reqwest clients with the demo PKI's client certificates, `post`
//! and the `Reply` it reads; curl and openssl s_client run as external tools.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Version};

use super::{pki, Pki, PATIENCE};

/// Which HTTP version a consumer client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// ALPN offers h2 and http/1.1 (the gateway picks h2).
    Negotiate,
    /// HTTP/1.1 only.
    H1,
}

/// A consumer client with the client certificate `<stem>.pem` (None: no certificate),
/// trusting only the demo CA.
pub fn client_with(stem: Option<&str>, http: Http) -> reqwest::Client {
    client_in(pki(), stem, http)
}

/// [`client_with`] for the PKI in another folder (the one `serve --demo` generates).
pub fn client_in(pki: &Pki, stem: Option<&str>, http: Http) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.ca()).expect("ca.pem"))
        .expect("ca.pem parses");
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(PATIENCE)
        .pool_max_idle_per_host(4);
    if let Some(stem) = stem {
        let id = reqwest::Identity::from_pem(&pki.identity_pem(stem))
            .unwrap_or_else(|e| panic!("identity {stem}: {e}"));
        b = b.identity(id);
    }
    if http == Http::H1 {
        b = b.http1_only();
    }
    b.build().expect("client")
}

/// The demo consumer (SE0000000000-DEMOCONSUMER), HTTP/2 by ALPN.
pub fn consumer() -> reqwest::Client {
    client_with(Some("consumer"), Http::Negotiate)
}

pub fn client(stem: &str) -> reqwest::Client {
    client_with(Some(stem), Http::Negotiate)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The SOAP faultstring, unescaped.
    pub fn faultstring(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("<faultstring>")? + "<faultstring>".len();
        let end = text[start..].find("</faultstring>")? + start;
        Some(
            text[start..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        )
    }

    /// A one-paragraph description for assertion messages.
    pub fn describe(&self) -> String {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (k, v) in &self.headers {
            names.insert(format!("{k}: {}", v.to_str().unwrap_or("?")));
        }
        let body = if self.body.len() > 2000 {
            format!(
                "{}... ({} bytes)",
                String::from_utf8_lossy(&self.body[..2000]),
                self.body.len()
            )
        } else {
            self.text()
        };
        format!(
            "HTTP {} ({:?}) after {:?}\n{}\n\n{}",
            self.status,
            self.version,
            self.elapsed,
            names.into_iter().collect::<Vec<_>>().join("\n"),
            body
        )
    }
}

/// POSTs `body` as `text/xml` with extra headers; transport errors are returned.
pub async fn try_post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Result<Reply, reqwest::Error> {
    let started = Instant::now();
    let mut req = client
        .post(url)
        .header("content-type", "text/xml; charset=UTF-8")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    Ok(Reply {
        status,
        version,
        headers,
        body,
        elapsed: started.elapsed(),
    })
}

/// The same POST as the demo consumer over HTTP/2 (negotiated) and HTTP/1.1.
pub async fn post_each_http(url: &str, body: &[u8]) -> Vec<(Http, Reply)> {
    let mut replies = Vec::new();
    for http in [Http::Negotiate, Http::H1] {
        let r = post(
            &client_with(Some("consumer"), http),
            url,
            body.to_vec(),
            &[],
        )
        .await;
        replies.push((http, r));
    }
    replies
}

/// [`try_post`] that panics (with the error chain) on transport errors.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Reply {
    match try_post(client, url, body, headers).await {
        Ok(r) => r,
        Err(e) => panic!(
            "POST {url} failed without an HTTP response: {}",
            error_chain(&e)
        ),
    }
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

// ---------------------------------------------------------------------------------
// External tools (openssl, curl)

/// Output of an external tool run with a deadline.
#[derive(Debug)]
pub struct ToolRun {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ToolRun {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status.map(|s| s.code()),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

/// Whether `tool` is installed. Missing tools skip the test locally (with a note) but
/// fail it in CI, where `scripts/install-test-tools.sh` must have installed them.
pub fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg(if tool == "openssl" {
            "version"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed; CI must run scripts/install-test-tools.sh"
        );
        println!("skipping: {tool} is not installed (scripts/install-test-tools.sh installs it)");
    }
    found
}

/// Runs `program args`, feeding `stdin`, killing it after `timeout`.
pub fn run_tool(program: &str, args: &[String], stdin: &[u8], timeout: Duration) -> ToolRun {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
        // EOF on stdin: curl has its whole body; s_client (run with -ign_eof)
        // keeps reading until the server closes the connection.
        drop(input);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = started + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    ToolRun {
        status,
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}
