//! Two nodes on one database, one killed with -9 in the middle of a burst.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_one_database_survive_kill_9() {
    // Acknowledged Updates before the kill (about half on each node) and after it.
    const UPDATES_BEFORE_KILL: usize = 120;
    const UPDATES_AFTER_KILL: usize = 180;
    const UPDATE_WORKERS: usize = 6;
    const SDK_MAX: usize = 80;
    let Some(db) = TestDatabase::create("e2e_cluster").await else {
        return;
    };
    let t0 = Instant::now();
    let idp = Idp::new();
    let journal = DemoProducer::start();
    let (sub, arrivals) = subscriber().await;

    // SDK: the region's two nodes (the cluster) send to the municipality's gateway (its
    // own store); one address book for all.
    let (ports_a, ports_b, ports_m) = (sdk::ports(), sdk::ports(), sdk::ports());
    let book_dir = tempfile::tempdir().expect("tempdir");
    let book = book_dir.path().join("address-book.toml");
    let book_text = sdk::address_book(&[
        sdk::Entry::at(REGION, ports_a.0),
        sdk::Entry::at(MUNICIPALITY, ports_m.0),
    ]);
    std::fs::write(&book, &book_text).expect("address book");
    let municipality = sdk::start(MUNICIPALITY, ports_m, &book_text, "");

    let table = cluster_table(Some(&journal), Some(&sub.url("/ei")));
    let sections = format!(
        "{}{}{}[aggregation]\ndeadline_ms = 5000\n\n",
        store_section(&db.config.url, &db.config.schema),
        ei_section(true),
        idp.consent_section()
    );
    let node = |instance: &str, ports: (u16, u16)| {
        let mut c = sdk::sdk_config(REGION, ports, &book, SDK_EXTRA);
        c.instance_id = instance.to_string();
        c.table = Some(table.to_toml());
        c.expect_ready = true;
        c.extra_sections.push('\n');
        c.extra_sections.push_str(&sections);
        c
    };
    let names = ["vaxel-node-a", "vaxel-node-b"];
    let a = Gateway::start(&node(names[0], ports_a));
    let mut b = Gateway::start(&node(names[1], ports_b));
    println!(
        "cluster: two nodes and the receiver up after {:?}",
        t0.elapsed()
    );

    // Before the burst: the patient's engagements through A; one query through each
    // node (B reads what A wrote), each node with its own clinician, so that the access
    // log tells which node wrote an entry.
    let client = consumer();
    register(&client, &a.url(), PATIENT, OWN_SOURCE).await;
    register(&client, &b.url(), PATIENT, OTHER_SOURCE).await;
    let users = ["SE2321000016-DOCTOR-A", "SE2321000016-DOCTOR-B"];
    let tokens = [idp.clinician(users[0]), idp.clinician(users[1])];
    for (gw, token) in [(&a, &tokens[0]), (&b, &tokens[1])] {
        let r = post(
            &client,
            &gw.url(),
            journal_query(PATIENT),
            &[("x-vaxel-user-context", token)],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(
            record_sources(&r),
            vec![OWN_SOURCE.to_string(); 2],
            "{}",
            r.describe()
        );
        assert_eq!(withheld(&r), 2, "{}", r.describe());
    }
    // Entries per query, once both nodes' writers have committed their first batch.
    let per_query = eventually("both nodes' first access-log entries", PATIENCE, || async {
        let na = idp.access_log_of(&a, users[0]).await.len();
        let nb = idp.access_log_of(&a, users[1]).await.len();
        (na > 0 && na == nb).then_some(na)
    })
    .await;

    // The burst: Updates from several workers, journal queries and SDK messages, all
    // alternating over the nodes, until told to stop. Node B is killed -9 once it has
    // taken a share of each kind; the burst then goes on for UPDATES_AFTER_KILL more
    // acknowledged Updates (on A alone, as a load balancer would send them).
    let urls = [a.url(), b.url()];
    let sdk_ports = [a.port, b.port];
    let dead = Arc::new(AtomicUsize::new(NONE_DEAD));
    let stop = Arc::new(AtomicBool::new(false));
    let next_update = Arc::new(AtomicUsize::new(0));
    // Per node: Updates acknowledged, journal queries answered, SDK messages accepted.
    let progress: Arc<[[AtomicUsize; 2]; 3]> = Arc::default();
    let (updates_acked, queries_answered, sdk_accepted) = (0, 1, 2);
    let burst_started = Instant::now();

    let mut update_jobs = tokio::task::JoinSet::new();
    for _ in 0..UPDATE_WORKERS {
        let (client, urls, dead, stop, next, progress) = (
            client.clone(),
            urls.clone(),
            dead.clone(),
            stop.clone(),
            next_update.clone(),
            progress.clone(),
        );
        update_jobs.spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let n = pick(i, &dead);
                let body = update(EI, BURST_PATIENT, &burst_source(i), "voo");
                let outcome = match try_post(&client, &urls[n], body, &[]).await {
                    Ok(r) if acknowledged(&r) => {
                        progress[updates_acked][n].fetch_add(1, Ordering::SeqCst);
                        Outcome::Acked(n)
                    }
                    Ok(_) => Outcome::Refused(n),
                    Err(_) => Outcome::Lost(n),
                };
                outcomes.push((i, outcome));
            }
            outcomes
        });
    }

    let query_jobs: Vec<_> = (0..2)
        .map(|w| {
            let (client, urls, dead, stop, progress) = (
                client.clone(),
                urls.clone(),
                dead.clone(),
                stop.clone(),
                progress.clone(),
            );
            let tokens = tokens.clone();
            tokio::spawn(async move {
                // (node, answered) per query; a wrong answer fails the test.
                let mut outcomes = Vec::new();
                let mut i = w;
                while !stop.load(Ordering::SeqCst) {
                    let n = pick(i, &dead);
                    i += 1;
                    let headers = [("x-vaxel-user-context", tokens[n].as_str())];
                    match try_post(&client, &urls[n], journal_query(PATIENT), &headers).await {
                        Ok(r) if r.status == 200 => {
                            assert_eq!(
                                record_sources(&r),
                                vec![OWN_SOURCE.to_string(); 2],
                                "{}",
                                r.describe()
                            );
                            assert_eq!(withheld(&r), 2, "{}", r.describe());
                            progress[queries_answered][n].fetch_add(1, Ordering::SeqCst);
                            outcomes.push((n, true));
                        }
                        Ok(r) => panic!("a journal query failed:\n{}", r.describe()),
                        Err(_) => outcomes.push((n, false)),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                outcomes
            })
        })
        .collect();

    // One SDK sender per node (submitting is slower than an Update: signing and
    // encryption), each going to the other node once its own is dead.
    let sdk_jobs: Vec<_> = (0..2)
        .map(|w| {
            let (dead, stop, progress) = (dead.clone(), stop.clone(), progress.clone());
            tokio::spawn(async move {
                let region_sys = sdk::system(&REGION);
                // (message id, node, HTTP status or None without an answer)
                let mut sent = Vec::new();
                let mut i = w;
                while sent.len() < SDK_MAX / 2 && !stop.load(Ordering::SeqCst) {
                    let n = pick(i, &dead);
                    let m = sdk::message(&REGION, &MUNICIPALITY, &format!("Kluster {i}"), "x");
                    let id = m.header.message_id.clone();
                    let status = try_submit(&region_sys, sdk_ports[n], m.to_document())
                        .await
                        .ok();
                    if status == Some(202) {
                        progress[sdk_accepted][n].fetch_add(1, Ordering::SeqCst);
                    }
                    sent.push((id, n, status));
                    i += 2;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                sent
            })
        })
        .collect();

    // kill -9 node B once it has taken Updates, queries and SDK messages.
    let got = |kind: usize, n: usize| progress[kind][n].load(Ordering::SeqCst);
    eventually(
        "node B's share of every kind of traffic",
        Duration::from_secs(30),
        || async {
            (got(updates_acked, 1) >= UPDATES_BEFORE_KILL / 2
                && got(queries_answered, 1) >= 3
                && got(sdk_accepted, 1) >= 3)
                .then_some(())
        },
    )
    .await;
    b.proc.signal("KILL");
    dead.store(1, Ordering::SeqCst);
    let killed_at = Instant::now();
    assert!(
        b.proc.wait_exit(Duration::from_secs(5)).is_some(),
        "node B did not die"
    );
    let acked_at_kill = got(updates_acked, 0) + got(updates_acked, 1);
    println!(
        "cluster: node B killed -9 {:?} into the burst, with {acked_at_kill} Updates acknowledged ({} by B), {} journal queries answered by B, {} SDK messages accepted by B",
        killed_at - burst_started,
        got(updates_acked, 1),
        got(queries_answered, 1),
        got(sdk_accepted, 1),
    );
    eventually(
        "the burst going on on node A",
        Duration::from_secs(30),
        || async {
            (got(updates_acked, 0) + got(updates_acked, 1) >= acked_at_kill + UPDATES_AFTER_KILL)
                .then_some(())
        },
    )
    .await;
    stop.store(true, Ordering::SeqCst);

    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    while let Some(r) = update_jobs.join_next().await {
        outcomes.extend(r.expect("an Update worker failed"));
    }
    let mut queries = Vec::new();
    for j in query_jobs {
        queries.extend(j.await.expect("a query worker failed"));
    }
    let mut sdk_sent = Vec::new();
    for j in sdk_jobs {
        sdk_sent.extend(j.await.expect("an SDK sender failed"));
    }
    let (code, ready) = a.admin_get("/ready").await;
    assert_eq!(code, 200, "the surviving node stays ready: {ready}");
    println!(
        "cluster: burst over after {:?}: {} Updates, {} journal queries, {} SDK messages",
        burst_started.elapsed(),
        outcomes.len(),
        queries.len(),
        sdk_sent.len()
    );

    // 1. Every acknowledged Update is in the index (as the surviving node finds it).
    let acked_sources: BTreeSet<String> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Acked(_)))
        .map(|(i, _)| burst_source(*i))
        .collect();
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let (acked_a, acked_b) = (
        count(&|o| *o == Outcome::Acked(0)),
        count(&|o| *o == Outcome::Acked(1)),
    );
    let refused = count(&|o| matches!(o, Outcome::Refused(_)));
    let lost = count(&|o| matches!(o, Outcome::Lost(_)));
    println!(
        "cluster: Updates acknowledged by A {acked_a}, by B {acked_b}; refused {refused}; without answer {lost}"
    );
    assert!(
        acked_b > 0 && acked_a > acked_b,
        "both nodes took Updates before the kill, A all after it"
    );
    assert_eq!(refused, 0, "no Update was refused: {outcomes:?}");
    let found = found_sources(&a, BURST_PATIENT).await;
    let missing: Vec<&String> = acked_sources.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "acknowledged Updates missing from the index: {missing:?}"
    );
    let unanswered_but_stored = found.len() - acked_sources.len();
    println!(
        "cluster: all {} acknowledged Updates found; {unanswered_but_stored} of the {lost} unanswered ones were committed too",
        acked_sources.len()
    );

    // 2. Every notification of an acknowledged Update reaches the subscriber: the killed
    //    node's claims are taken over once their lease ends.
    let mut expected = acked_sources.clone();
    expected.insert(OWN_SOURCE.to_string());
    expected.insert(OTHER_SOURCE.to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: BTreeSet<String> = arrivals
            .lock()
            .expect("arrivals")
            .iter()
            .flat_map(|a| a.sources.clone())
            .collect();
        let missing: Vec<&String> = expected.difference(&got).collect();
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let ei = a.status().await["engagement_index"].clone();
            panic!(
                "{} acknowledged Updates' notifications did not reach the subscriber within 60 s: {missing:?}\nnode A's queue: {ei}",
                missing.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_notified = Instant::now();
    // Nothing left in the shared queue (notifications of committed but unanswered
    // Updates are delivered too).
    eventually("an empty notification queue", PATIENCE, || async {
        let ei = a.status().await["engagement_index"].clone();
        (ei["notifications_pending"] == 0).then_some(())
    })
    .await;
    let arrivals = arrivals.lock().expect("arrivals").clone();
    let mut copies: BTreeMap<String, Vec<&Arrival>> = BTreeMap::new();
    for arrival in &arrivals {
        for s in &arrival.sources {
            copies.entry(s.clone()).or_default().push(arrival);
        }
    }
    let by_node = |name: &str| arrivals.iter().filter(|x| x.node == name).count();
    let duplicates: Vec<(&String, Vec<(&str, Duration)>)> = copies
        .iter()
        .filter(|(_, c)| c.len() > 1)
        .map(|(s, c)| {
            let seen: Vec<(&str, Duration)> = c
                .iter()
                .map(|x| {
                    (
                        x.node.as_str(),
                        x.at.saturating_duration_since(burst_started),
                    )
                })
                .collect();
            (s, seen)
        })
        .collect();
    println!(
        "cluster: {} notifications delivered (by A {}, by B {}), all acknowledged ones {:?} after the kill; duplicates: {duplicates:?}",
        arrivals.len(),
        by_node(names[0]),
        by_node(names[1]),
        all_notified - killed_at
    );
    // Which node delivers depends on who claimed first (a destination's items are with
    // one node at a time); the survivor delivers at least what was left after the kill.
    assert!(by_node(names[0]) > 0, "the surviving node delivered");
    for (source, seen) in &duplicates {
        // At least once: the only allowed duplicate is the notification the killed node
        // had sent but not yet marked delivered; the survivor sends it again.
        assert_eq!(
            seen.len(),
            2,
            "{source} delivered more than twice: {seen:?}"
        );
        assert!(
            seen.iter().any(|(n, _)| *n == names[1]) && seen.iter().any(|(n, _)| *n == names[0]),
            "{source} delivered twice, not once by the killed node and once by the survivor: {seen:?}"
        );
    }
    // The delivery loop sends one notification at a time: the killed node had at most
    // one in flight.
    assert!(
        duplicates.len() <= 1,
        "more duplicates than the killed node could have had in flight: {duplicates:?}"
    );
    for source in copies.keys() {
        assert!(
            found.contains(source) || source == OWN_SOURCE || source == OTHER_SOURCE,
            "a notification for an engagement that is not in the index: {source}"
        );
    }

    // 3. Every accepted SDK message ends delivered, once, in the receiver's inbox.
    let accepted: BTreeSet<String> = sdk_sent
        .iter()
        .filter(|(_, _, s)| *s == Some(202))
        .map(|(id, _, _)| id.clone())
        .collect();
    let submitted: BTreeSet<String> = sdk_sent.iter().map(|(id, _, _)| id.clone()).collect();
    let accepted_by = |n: usize| {
        sdk_sent
            .iter()
            .filter(|(_, m, s)| *m == n && *s == Some(202))
            .count()
    };
    assert!(
        sdk_sent
            .iter()
            .all(|(_, _, s)| matches!(s, None | Some(202))),
        "an SDK submit was refused: {sdk_sent:?}"
    );
    assert!(
        accepted_by(0) > 0 && accepted_by(1) > 0,
        "both nodes accepted SDK messages: {sdk_sent:?}"
    );
    let region_sys = sdk::system(&REGION);
    let statuses = eventually(
        "every accepted SDK message delivered",
        Duration::from_secs(60),
        || async {
            let (code, list) =
                sdk::get_json(&region_sys, &sdk::api(&a, "messages?limit=1000")).await;
            assert_eq!(code, 200, "{list}");
            let list = list["messages"].as_array().cloned().unwrap_or_default();
            let delivered: BTreeSet<String> = list
                .iter()
                .filter(|m| m["state"] == "delivered")
                .filter_map(|m| m["messageId"].as_str().map(str::to_string))
                .collect();
            accepted.is_subset(&delivered).then_some(list)
        },
    )
    .await;
    for st in &statuses {
        assert_eq!(st["receipt"]["accepted"], true, "{st}");
    }
    let (code, inbox) = sdk::get_json(
        &sdk::system(&MUNICIPALITY),
        &sdk::api(&municipality, "inbox?limit=1000"),
    )
    .await;
    assert_eq!(code, 200, "{inbox}");
    let mut in_inbox: HashMap<String, usize> = HashMap::new();
    for e in inbox["messages"].as_array().expect("inbox messages") {
        *in_inbox
            .entry(e["messageId"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for id in &accepted {
        assert_eq!(
            in_inbox.get(id),
            Some(&1),
            "accepted SDK message {id} not in the inbox exactly once"
        );
    }
    for (id, n) in &in_inbox {
        assert!(submitted.contains(id), "{id} in the inbox was never sent");
        assert_eq!(*n, 1, "{id} is in the inbox {n} times");
    }
    println!(
        "cluster: SDK: {} accepted (by A {}, by B {}), {} without answer; inbox holds {} messages, each once",
        accepted.len(),
        accepted_by(0),
        accepted_by(1),
        submitted.len() - accepted.len(),
        in_inbox.len()
    );

    // 4. The access log: both nodes wrote into one chain, and it verifies.
    let answered = |n: usize| queries.iter().filter(|(m, ok)| *m == n && *ok).count();
    let asked = |n: usize| queries.iter().filter(|(m, _)| *m == n).count();
    // The survivor's writer has committed every answered query's entries.
    let entries_a = eventually("node A's access-log entries", PATIENCE, || async {
        let n = idp.access_log_of(&a, users[0]).await.len();
        (n == per_query * (1 + answered(0))).then_some(n)
    })
    .await;
    let entries_b = idp.access_log_of(&a, users[1]).await.len();
    assert!(
        entries_b >= per_query && entries_b <= per_query * (1 + asked(1)),
        "node B's entries: {entries_b}, {per_query} per query, {} queries asked of B",
        asked(1)
    );
    let (intact, report) = pdl_verify(&a.dir.path().join("vaxel.toml"));
    assert!(intact, "vaxel pdl-verify on PostgreSQL:\n{report}");
    // Entries of queries B answered that never reached the database: they were in its
    // writer's queue (in memory) when it was killed.
    let lost_b = (per_query * (1 + answered(1))).saturating_sub(entries_b);
    println!(
        "cluster: access log: {per_query} entries per query; A wrote {entries_a} ({} queries answered), B {entries_b} ({} answered; {lost_b} entries of answered queries lost with its writer queue); pdl-verify: {}",
        answered(0),
        answered(1),
        report.trim().replace('\n', "; ")
    );
    println!("cluster: kill -9 test took {:?}", t0.elapsed());
    drop(b);
    drop(a);
    drop(municipality);
    drop(db);
}

// ---------------------------------------------------------------------------------
// 2. The database away and back
