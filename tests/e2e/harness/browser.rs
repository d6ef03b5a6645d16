//! A real browser for the page tests (the dashboard, the citizen page): headless
//! Chromium driven by chromedriver over the W3C WebDriver HTTP protocol, spoken directly
//! with reqwest (no WebDriver crate: the protocol is a dozen JSON calls).
//!
//! Without `chromium` or `chromedriver`, [`browser_tools`] prints `SKIP:` and the test
//! returns, except under `CI=true`, where it fails: CI never passes by skipping
//! (`scripts/install-test-tools.sh` installs both). Screenshots go to
//! `<target>/test-artifacts/` ([`artifacts_dir`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::{error_chain, free_port, tcp_accepts, workspace, Proc, PATIENCE};

/// `<target>/test-artifacts`, created: `CARGO_TARGET_DIR` when set, else the target
/// folder cargo built this test in (the parent of its `CARGO_TARGET_TMPDIR`).
pub fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace().join(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| workspace().join("target")),
    };
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The chromium binary, when both it and chromedriver are installed. Missing: a
/// `SKIP:` note locally, a failure under `CI=true`.
pub fn browser_tools() -> Option<PathBuf> {
    let chromium = on_path("chromium");
    let driver = on_path("chromedriver");
    let missing: Vec<&str> = [("chromium", &chromium), ("chromedriver", &driver)]
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return chromium;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} not installed; CI must run scripts/install-test-tools.sh",
        missing.join(" and ")
    );
    println!(
        "SKIP: {} not installed (scripts/install-test-tools.sh installs them)",
        missing.join(" and ")
    );
    None
}

fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// `chromedriver --port=<free port>` in its own process group; on drop the whole group
/// (chromedriver and the browser it started) is killed, also when the test panics.
pub struct ChromeDriver {
    proc: Proc,
    port: u16,
    dir: tempfile::TempDir,
}

impl ChromeDriver {
    pub fn start() -> ChromeDriver {
        let dir = tempfile::tempdir().expect("tempdir");
        for attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new("chromedriver");
            cmd.arg(format!("--port={port}")).process_group(0);
            let mut proc = Proc::spawn(
                "chromedriver",
                &mut cmd,
                dir.path().join(format!("chromedriver-{attempt}.log")),
            );
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && proc.exited().is_none() {
                if tcp_accepts(port) {
                    return ChromeDriver { proc, port, dir };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!(
                "chromedriver did not come up on port {port} (attempt {attempt}): {}",
                proc.logs()
            );
        }
        panic!("chromedriver did not start");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The process group is chromedriver's pid (process_group(0)); `Proc`'s own drop
        // then reaps chromedriver and prints its log if the test failed.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.proc.pid())])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// How a session's browser is started.
#[derive(Debug, Clone, Copy)]
pub struct BrowserOptions {
    /// W3C `acceptInsecureCerts`: accept a server certificate the browser cannot
    /// verify. Only for pages served with the test PKI's certificates, whose CA the
    /// browser's own trust store does not hold (see the caller's comment).
    pub accept_insecure_certs: bool,
    /// The window, in CSS pixels.
    pub window: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            accept_insecure_certs: false,
            window: (1400, 1000),
        }
    }
}

/// One WebDriver session (one headless browser). Dropping it ends the session, which
/// closes the browser cleanly before the driver's process group is killed.
pub struct Session {
    http: reqwest::Client,
    base: String,
    id: String,
    port: u16,
}

impl Session {
    pub async fn start(driver: &ChromeDriver, chromium: &Path) -> Session {
        Session::start_with(driver, chromium, BrowserOptions::default()).await
    }

    pub async fn start_with(
        driver: &ChromeDriver,
        chromium: &Path,
        options: BrowserOptions,
    ) -> Session {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("WebDriver client");
        let profile = driver.dir.path().join("profile");
        let (w, h) = options.window;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": options.accept_insecure_certs,
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    format!("--window-size={w},{h}"),
                    "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let v = request(
            &http,
            reqwest::Method::POST,
            &format!("{}/session", driver.url()),
            Some(caps),
        )
        .await;
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new WebDriver session: {v}"))
            .to_string();
        Session {
            http,
            base: driver.url(),
            id,
            port: driver.port,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.id);
        request(&self.http, method, &url, body).await
    }

    pub async fn navigate(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// Sets the browser window's size in CSS pixels (a phone, a laptop).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Runs `script` (a function body) in the page and gives its return value.
    pub async fn exec(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs `script` until `f` gives a value for its result ([`PATIENCE`]).
    pub async fn eventually<T>(
        &self,
        what: &str,
        script: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.exec(script).await;
            if let Some(v) = f(&s) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {PATIENCE:?} waiting for {what}; page state {s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The WebDriver element reference of the first element matching `css`.
    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Clicks the element matching `css` as a user would (WebDriver Element Click:
    /// scrolled into view, refused when another element covers it).
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clears the field matching `css` and types `text` into it (WebDriver Element
    /// Send Keys: real key events).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot is base64 text"))
            .expect("screenshot decodes")
    }

    /// A screenshot written to `<target>/test-artifacts/<name>`, checked to be a PNG of
    /// more than a blank page; its path.
    pub async fn screenshot_to(&self, name: &str) -> PathBuf {
        let png = self.screenshot().await;
        let path = artifacts_dir().join(name);
        std::fs::write(&path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is a PNG"
        );
        assert!(
            png.len() > 10_000,
            "a screenshot of the page is more than a blank page: {} bytes",
            png.len()
        );
        path
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Drop cannot await: a plain HTTP/1.1 DELETE over a blocking socket.
        let Ok(mut s) = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        ) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = write!(
            s,
            "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.id, self.port
        );
        let _ = s.read(&mut [0u8; 512]);
    }
}

/// One WebDriver command: JSON in, the answer's JSON out (its `value`); an error answer
/// fails the test with WebDriver's message.
async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method.clone(), url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&b).expect("json"));
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("WebDriver {method} {url}: {}", error_chain(&e)));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("WebDriver {method} {url}: not JSON ({e}): {text}"));
    assert!(
        status.is_success(),
        "WebDriver {method} {url}: HTTP {status}: {}",
        v["value"]
    );
    v["value"].clone()
}

/// The resources the page loaded from another origin, and the elements that reference
/// one (script, style sheet, image): empty for a self-contained page.
pub const EXTERNAL_RESOURCES: &str = "
    return performance.getEntriesByType('resource')
        .map(e => e.name).filter(n => !n.startsWith(location.origin))
        .concat([...document.querySelectorAll('script[src], link[rel=stylesheet], img[src]')]
            .filter(e => new URL(e.src || e.href, location.href).origin !== location.origin)
            .map(e => e.outerHTML));";
