//! The README's "Several nodes on one PostgreSQL database": two `serve --demo
//! --store-url` nodes on one schema; an Update through node 2 is found through node 1,
//! both report the shared store, and node 2 serves on after node 1 is killed.

use super::*;

/// Start one demo node in `root` on free ports (three attempts: a port may be taken
/// meanwhile). Returns (process, service port, admin port).
fn demo_node(root: &Path, url: &str, schema: &str, name: &str) -> (Proc, u16, u16) {
    for attempt in 0..3 {
        let (listen, admin, producer) = (free_port(), free_port(), free_port());
        let citizen = free_port();
        let mut cmd = Command::new(VAXEL);
        cmd.current_dir(root)
            .args(["serve", "--demo", "--no-peer", "--store-url", url])
            .args(["--store-schema", schema])
            .arg("--listen")
            .arg(format!("127.0.0.1:{listen}"))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{admin}"))
            .arg("--producer-listen")
            .arg(format!("127.0.0.1:{producer}"))
            .arg("--citizen-listen")
            .arg(format!("127.0.0.1:{citizen}"));
        let mut proc = Proc::spawn(name, &mut cmd, root.join(format!("{name}-{attempt}.log")));
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline && proc.exited().is_none() {
            if admin_get_status(admin, "/ready") == Some(200) && tcp_accepts(listen) {
                return (proc, listen, admin);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        eprintln!("{name} attempt {attempt} did not come up:\n{}", proc.logs());
    }
    panic!("{name} did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_two_demo_nodes_share_one_database() {
    let Some(update) = reference::template(
        "riv-ta/npo-requests/Update20_GD.xml",
        &[
            ("logicalAddress", "SE0000000000-VAXEL-EI"),
            ("patientId1", "191212121212"),
            ("delete", "false"),
        ],
    ) else {
        return;
    };
    let Some(db) = TestDatabase::create("e2e_demo").await else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let (url, schema) = (db.config.url.clone(), db.config.schema.clone());
    // Node 1 first (it generates the demo PKI), then node 2 in the same folder.
    let (mut node1, listen1, admin1) = demo_node(root.path(), &url, &schema, "demo-node-1");
    let (_node2, listen2, admin2) = demo_node(root.path(), &url, &schema, "demo-node-2");
    for (port, admin) in [(listen1, admin1), (listen2, admin2)] {
        let config = root
            .path()
            .join("vaxel-data")
            .join(format!("demo-node-{port}.toml"));
        let text = std::fs::read_to_string(&config).expect("each node writes its config");
        assert!(text.contains("backend = \"postgres\""), "{text}");
        let status = admin_json(admin, "/status").await;
        assert_eq!(status["store"]["backend"], "postgres", "{status}");
        assert_eq!(status["store"]["shared_by_nodes"], true, "{status}");
        assert_eq!(status["store"]["reachable"], true, "{status}");
    }

    let demo_pki = Pki {
        dir: root.path().join("certs-example").join("out"),
    };
    let client = client_in(&demo_pki, Some("consumer"), Http::Negotiate);
    // The README's Update, through node 2.
    let r = post(
        &client,
        &format!("https://localhost:{listen2}/"),
        update,
        &[],
    )
    .await;
    assert!(
        r.text().contains("<ResultCode>OK</ResultCode>"),
        "{}",
        r.describe()
    );
    // FindContent through node 1 finds the 20 engagements of the reference batch.
    let find = find_content("SE0000000000-VAXEL-EI", "191212121212").into_bytes();
    let r = post(
        &client,
        &format!("https://localhost:{listen1}/"),
        find.clone(),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let mocks: BTreeSet<String> = engagement_sources(r.body.as_ref())
        .into_iter()
        .filter(|s| s.starts_with("SKLTP-MOCK"))
        .collect();
    assert_eq!(mocks.len(), 20, "node 1 sees node 2's Update: {mocks:?}");

    // kill -9 node 1: node 2 stays ready and still answers from the shared store.
    node1.signal("KILL");
    node1.wait_exit(PATIENCE);
    assert_eq!(admin_get_status(admin2, "/ready"), Some(200));
    let r = post(&client, &format!("https://localhost:{listen2}/"), find, &[]).await;
    assert_eq!(
        engagement_sources(r.body.as_ref())
            .iter()
            .filter(|s| s.starts_with("SKLTP-MOCK"))
            .count(),
        20,
        "{}",
        r.describe()
    );
}

/// GET `path` on an admin port as JSON.
async fn admin_json(admin: u16, path: &str) -> Value {
    let url = format!("http://127.0.0.1:{admin}{path}");
    let r = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = r.text().await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text}"))
}
