//! The README's first steps: `vaxel serve --demo` generates everything it needs and the
//! README's curl calls get the demo producer's answer; with consent checking on in the
//! demo, journal calls carry a user context from `GET /demo/user-context`, and the
//! README's consent walk (VX001 without one, the other care giver's records withheld,
//! shown in an emergency and after a consent, a block winning, the access log) holds.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_the_readme_curl_call() {
    // The README's requests: the RIV-TA 2.1 sample through the Rust client, both samples
    // with the real curl (by file name, as the README does), and an aggregated NPÖ query.
    let Some(rivta21) = reference::read("riv-ta/vp-requests/Rivta21Request.xml") else {
        return;
    };
    let Some(curl_samples) = [
        (
            "Rivta21Request.xml",
            "/vp/GetSubjectOfCareSchedule/1/rivtabp21",
        ),
        ("Rivta20Request.xml", "/"),
    ]
    .into_iter()
    .map(|(file, path)| {
        Some((
            file,
            path,
            reference::path(&format!("riv-ta/vp-requests/{file}"))?,
        ))
    })
    .collect::<Option<Vec<_>>>() else {
        return;
    };
    let Some(npo) = reference::npo_request("GetCareDocumentation2.xml", "SE0000000000-NATIONAL")
    else {
        return;
    };
    // Every NPÖ query of the reference folder, asked of the demo as a new user would.
    let Some(npo_all) = reference::NPO_SAMPLES
        .iter()
        .map(|(file, contract)| {
            Some((
                *file,
                *contract,
                reference::npo_request(file, "SE0000000000-NATIONAL")?,
            ))
        })
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let reference_dir = reference::dir().expect("read above");
    let root = tempfile::tempdir().expect("tempdir");
    let mut started = None;
    for attempt in 0..3 {
        let (listen, admin, producer) = (free_port(), free_port(), free_port());
        let (peer, peer_admin, citizen) = (free_port(), free_port(), free_port());
        let mut cmd = Command::new(VAXEL);
        cmd.current_dir(root.path())
            // As the README runs it: from the folder, with the default `--demo-root .`
            // (relative paths in the written configurations must still resolve).
            .args(["serve", "--demo"])
            .arg("--listen")
            .arg(format!("127.0.0.1:{listen}"))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{admin}"))
            .arg("--producer-listen")
            .arg(format!("127.0.0.1:{producer}"))
            .arg("--peer-listen")
            .arg(format!("127.0.0.1:{peer}"))
            .arg("--peer-admin-listen")
            .arg(format!("127.0.0.1:{peer_admin}"))
            .arg("--citizen-listen")
            .arg(format!("127.0.0.1:{citizen}"));
        let mut proc = Proc::spawn(
            "vaxel serve --demo",
            &mut cmd,
            root.path().join(format!("demo-{attempt}.log")),
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut up = false;
        while Instant::now() < deadline && proc.exited().is_none() {
            if admin_get_status(admin, "/ready") == Some(200)
                && tcp_accepts(listen)
                && tcp_accepts(producer)
            {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        if up {
            started = Some((proc, listen, admin, peer, peer_admin));
            break;
        }
        eprintln!("demo attempt {attempt} did not come up:\n{}", proc.logs());
    }
    let (demo, listen, admin, peer, peer_admin) =
        started.expect("`vaxel serve --demo` did not become ready");

    let certs = root.path().join("certs-example").join("out");
    for f in [
        "ca.pem",
        "gateway.pem",
        "gateway.key",
        "producer.pem",
        "consumer.pem",
        "consumer.key",
    ] {
        assert!(certs.join(f).is_file(), "demo PKI file {f} generated");
    }
    let config = root.path().join("vaxel-data").join("demo.toml");
    let text = std::fs::read_to_string(&config).expect("vaxel-data/demo.toml is written");
    assert!(text.contains(&format!("127.0.0.1:{listen}")), "{text}");
    assert!(text.contains("[consent]\nenabled = true"), "{text}");
    assert!(
        root.path()
            .join("vaxel-data")
            .join("demo-routing-table.toml")
            .is_file(),
        "the demo routing table is written next to it"
    );

    // The README's `U=`: the demo doctor's user context, as text for `$(curl ...)`.
    let doctor = demo_user_context(admin, "").await;

    let demo_pki = Pki { dir: certs.clone() };
    let url = format!("https://localhost:{listen}/vp/GetSubjectOfCareSchedule/1/rivtabp21");
    // GetSubjectOfCareSchedule has an information-set adapter: with consent checking on,
    // the virtualised call needs a user context too (hence the README's -H "$U").
    let r = post(
        &client_in(&demo_pki, Some("consumer"), Http::Negotiate),
        &url,
        rivta21.clone(),
        &[],
    )
    .await;
    assert_vx001(&r, "missing");
    let r = post(
        &client_in(&demo_pki, Some("consumer"), Http::Negotiate),
        &url,
        rivta21.clone(),
        &[("x-vaxel-user-context", &doctor)],
    )
    .await;
    assert_forwarded(&r, &rivta21);
    assert!(
        r.text().contains("GetSubjectOfCareScheduleResponse"),
        "{}",
        r.describe()
    );
    assert_eq!(r.header("x-demo-sender-id"), Some(CONSUMER_ID));

    // The README's aggregated query: the demo patient's care documentation from both
    // demo journal sources (seeded into the engagement index at start), and its consent
    // walk ("Consent, blocks and emergency access").
    // No user context: refused before any source is asked.
    assert_vx001(
        &aggregated_query(&demo_pki, listen, &npo, None).await,
        "missing",
    );
    // The demo doctor at SE2321000016-DEMO: its own source's records; the other care
    // giver's are withheld (no consent), counted, never shown.
    let r = aggregated_query(&demo_pki, listen, &npo, Some(&doctor)).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let text = r.text();
    for source in ["SE2321000016-DEMO-JOURNAL", "SE2321000032-OTHER-JOURNAL"] {
        assert!(
            text.contains(&format!(
                "<logicalAddress>{source}</logicalAddress><statusCode>DataFromSource</statusCode>"
            )),
            "{source} answered: {}",
            r.describe()
        );
    }
    assert_shown(&r, &["SE2321000016-DEMO-JOURNAL"], 2);
    // An emergency (nödåtkomst): both sources' records, flagged in the access log.
    let emergency = demo_user_context(admin, "?emergency_reason=unconscious+on+arrival").await;
    assert_shown(
        &aggregated_query(&demo_pki, listen, &npo, Some(&emergency)).await,
        &["SE2321000016-DEMO-JOURNAL", "SE2321000032-OTHER-JOURNAL"],
        0,
    );
    // The consent admin API refuses the doctor (no role), then the README's consent
    // administrator registers the patient's consent for SE2321000016-DEMO.
    let consent_admin =
        demo_user_context(admin, "?user=SE2321000016-DEMO-ADMIN&roles=consent-admin").await;
    let consent =
        json!({"patient": "191212121212", "care_giver": "SE2321000016-DEMO", "scope": "all"});
    let (status, body) = admin_post(admin, "/api/consents", &doctor, Some(&consent)).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = admin_post(admin, "/api/consents", &consent_admin, Some(&consent)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "normal", "{body}");
    assert_eq!(body["registered_by"], "SE2321000016-DEMO-ADMIN", "{body}");
    assert_shown(
        &aggregated_query(&demo_pki, listen, &npo, Some(&doctor)).await,
        &["SE2321000016-DEMO-JOURNAL", "SE2321000032-OTHER-JOURNAL"],
        0,
    );
    // A block of the other care giver wins over the consent and over an emergency.
    let block = json!({"patient": "191212121212", "care_giver": "SE2321000032-OTHER"});
    let (status, body) = admin_post(admin, "/api/blocks", &consent_admin, Some(&block)).await;
    assert_eq!(status, 201, "{body}");
    let block_id = body["id"].as_str().expect("block id").to_string();
    assert_shown(
        &aggregated_query(&demo_pki, listen, &npo, Some(&emergency)).await,
        &["SE2321000016-DEMO-JOURNAL"],
        2,
    );
    let (status, body) = admin_post(
        admin,
        &format!("/api/blocks/{block_id}/lift"),
        &consent_admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The README's access log commands: every decision above is in the log (the
    // emergency flagged with its reason), and the hash chain verifies.
    let cli = |args: &[&str]| {
        let out = Command::new(VAXEL)
            .current_dir(root.path())
            .args(args)
            .output()
            .expect("vaxel");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "vaxel {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let wanted = [
        ("allowed", "same-care-giver"),
        ("denied", "no-consent"),
        ("emergency", "emergency"),
        ("allowed", "consent"),
        ("denied", "blocked"),
    ];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let lines = cli(&[
            "access-log",
            "--config",
            "vaxel-data/demo.toml",
            "--patient",
            "191212121212",
        ]);
        let entries: Vec<Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let seen = |d: &str, reason: &str| {
            entries.iter().any(|e| {
                e["entry"]["decision"] == d
                    && e["entry"]["reason"] == reason
                    && e["entry"]["user_hsa_id"] == "SE2321000016-DEMO-DOCTOR"
            })
        };
        if wanted.iter().all(|(d, reason)| seen(d, reason)) {
            let flagged = entries
                .iter()
                .find(|e| e["entry"]["decision"] == "emergency")
                .expect("the emergency read");
            assert_eq!(
                flagged["entry"]["emergency_reason"], "unconscious on arrival",
                "{flagged}"
            );
            assert_eq!(flagged["entry"]["user_role"], "Läkare", "{flagged}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the access log lacks some of {wanted:?}:\n{lines}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let verified = cli(&["pdl-verify", "--config", "vaxel-data/demo.toml"]);
    assert!(verified.contains("access log intact"), "{verified}");

    // Every information set: with the consent, the demo's records (both demo journal
    // sources) arrive merged, and the whole answer validates against the set's
    // official schema.
    if tool_available("xmllint") {
        for (file, contract, request) in npo_all {
            let set = vaxel_adapters::by_contract(contract).expect("an adapter");
            let r = post(
                &client_in(&demo_pki, Some("consumer"), Http::Negotiate),
                &format!("https://localhost:{listen}/"),
                request,
                &[("x-vaxel-user-context", &doctor)],
            )
            .await;
            assert_eq!(r.status, 200, "{file}: {}", r.describe());
            let text = r.text();
            let doc = roxmltree::Document::parse(&text).expect("well-formed");
            let records = doc
                .descendants()
                .filter(|n| n.has_tag_name((contract, set.descriptor().record_element)))
                .count();
            assert!(records >= 4, "{file}: records of both demo sources: {text}");
            if let Err(e) =
                vaxel_adapters::schemas::check_message(set, &reference_dir, text.as_bytes())
            {
                panic!("{file}: the demo's merged answer: {e}\n{text}");
            }
        }
    }

    if tool_available("curl") {
        // The README's commands, with the real curl.
        let c = certs.display().to_string();
        for (file, path, sample) in curl_samples {
            let args: Vec<String> = vec![
                "-sS".into(),
                "-i".into(),
                "--max-time".into(),
                "15".into(),
                "--cert".into(),
                format!("{c}/consumer.pem"),
                "--key".into(),
                format!("{c}/consumer.key"),
                "--cacert".into(),
                format!("{c}/ca.pem"),
                "-H".into(),
                "content-type: text/xml; charset=UTF-8".into(),
                "--data-binary".into(),
                format!("@{}", sample.display()),
                format!("https://localhost:{listen}{path}"),
            ];
            // The README's `-H "$U"`.
            let mut args = args;
            args.splice(
                0..0,
                ["-H".to_string(), format!("x-vaxel-user-context: {doctor}")],
            );
            let run = run_tool("curl", &args, b"", Duration::from_secs(20));
            assert!(run.success(), "{file}: {}", run.describe());
            let out = &run.stdout;
            let sent = std::fs::read(&sample).expect("sample");
            assert!(out.starts_with("HTTP/2 200"), "{file}: {}", run.describe());
            assert!(
                out.contains("GetSubjectOfCareScheduleResponse"),
                "{file}: {}",
                run.describe()
            );
            assert!(
                out.contains(&format!("<ns:caller>{GATEWAY_CLIENT_ID}</ns:caller>")),
                "{file}: {}",
                run.describe()
            );
            assert!(
                out.contains(&format!("x-demo-body-fnv: {}", fnv_hex(&sent))),
                "{file}: forwarded unchanged: {}",
                run.describe()
            );
        }
    }

    // The README's SDK walk-through: the region's system sends the SIP invitation to
    // the municipality's gateway (the second process the demo started), which fetches
    // it with its PDF and answers; both end delivered with accepted receipts.
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin_get_status(peer_admin, "/ready") != Some(200) || !tcp_accepts(peer) {
        assert!(
            Instant::now() < deadline,
            "the municipality's gateway did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sdk = |org: &str, port: u16, args: &[&str]| -> serde_json::Value {
        let out = Command::new(VAXEL)
            .current_dir(root.path())
            .args(["sdk", "--as", org, "--gateway"])
            .arg(format!("https://localhost:{port}"))
            .args(args)
            .output()
            .expect("vaxel sdk");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "vaxel sdk --as {org} {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    };
    let until_delivered = |org: &str, port: u16, id: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = sdk(org, port, &["status", id]);
            if v["state"] == "delivered" {
                assert_eq!(v["receipt"]["accepted"], true, "{v}");
                return;
            }
            assert!(
                Instant::now() < deadline && v["state"] != "failed" && v["state"] != "rejected",
                "{v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let sent = sdk("region", listen, &["send", "--sip-invitation"]);
    let id = sent["messageId"].as_str().expect("messageId").to_string();
    until_delivered("region", listen, &id);
    let inbox = sdk("municipality", peer, &["inbox"]);
    assert!(inbox.to_string().contains(&id), "{inbox}");
    let saved = root.path().join("sip");
    let fetched = sdk(
        "municipality",
        peer,
        &[
            "fetch",
            &id,
            "--ack",
            "--save-attachments",
            &saved.display().to_string(),
        ],
    );
    assert_eq!(fetched["acknowledged"], true, "{fetched}");
    let pdf = std::fs::read(saved.join("kallelse-sip.pdf")).expect("the PDF is saved");
    assert!(
        pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"),
        "a PDF"
    );
    let answer = sdk(
        "municipality",
        peer,
        &[
            "send",
            "--reply-to",
            &id,
            "--label",
            "Svar: SIP-möte",
            "--text",
            "Vi kommer.",
        ],
    );
    let answer_id = answer["messageId"].as_str().expect("messageId").to_string();
    until_delivered("municipality", peer, &answer_id);
    let reply = sdk("region", listen, &["fetch", &answer_id]);
    assert_eq!(reply["refToMessageId"], id.as_str(), "{reply}");
    assert_eq!(
        reply["conversationId"], fetched["conversationId"],
        "{reply}"
    );
    let receipt = sdk("municipality", peer, &["receipt", &answer_id]);
    assert!(
        receipt["receipt"]
            .as_str()
            .unwrap_or("")
            .contains("ACCEPTED"),
        "{receipt}"
    );

    drop(demo);
    // The municipality's gateway ends with the demo.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tcp_accepts(peer) {
        assert!(
            Instant::now() < deadline,
            "the demo's second gateway outlived it"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The README's `$(curl -s localhost:8080/demo/user-context<query>)`: a user context from
/// the demo's care-staff identity provider, as plain text.
async fn demo_user_context(admin: u16, query: &str) -> String {
    let url = format!("http://127.0.0.1:{admin}/demo/user-context{query}");
    let r = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 200, "GET {url}: {text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let token = text.trim_end().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWS compact token: {text}");
    token
}

/// `POST <path>` on the demo's admin listener with a bearer token and a JSON body (the
/// README's consent and block calls): (status, JSON answer).
async fn admin_post(admin: u16, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{admin}{path}");
    let mut req = reqwest::Client::new().post(&url).bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| json!(text));
    (status, v)
}

/// The README's aggregated GetCareDocumentation for the demo patient, with the user
/// context `token` when given.
async fn aggregated_query(pki: &Pki, listen: u16, request: &[u8], token: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = token
        .map(|t| vec![("x-vaxel-user-context", t)])
        .unwrap_or_default();
    post(
        &client_in(pki, Some("consumer"), Http::Negotiate),
        &format!("https://localhost:{listen}/"),
        request.to_vec(),
        &headers,
    )
    .await
}

/// A VX001 fault naming the failed check.
fn assert_vx001(r: &Reply, check: &str) {
    assert_eq!(r.status, 500, "{}", r.describe());
    assert_eq!(
        r.header("x-vp-fault-code"),
        Some("VX001"),
        "{}",
        r.describe()
    );
    assert!(
        r.text()
            .contains(&format!("user context refused ({check})")),
        "{}",
        r.describe()
    );
}

/// The answer shows exactly the two care documentation records of each of `sources`
/// (the demo sources' `<source>-care-documentation-<n>`) and withheld `withheld`.
fn assert_shown(r: &Reply, sources: &[&str], withheld: usize) {
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(
        care_doc_sources(r),
        sources
            .iter()
            .flat_map(|s| [s.to_string(), s.to_string()])
            .collect::<Vec<_>>(),
        "{}",
        r.describe()
    );
    assert_eq!(
        r.header("x-vaxel-withheld-records"),
        Some(withheld.to_string().as_str()),
        "{}",
        r.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_user_contexts_are_not_served_outside_the_demo() {
    // A gateway from a configuration file, consent on or off: no demo identity provider.
    let producer = DemoProducer::start();
    let gw = Gateway::start(&GatewayConfig::new(&Table::standard(&producer.url(""))));
    let (status, body) = gw.admin_get("/demo/user-context").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("serve --demo"), "{body}");
}
