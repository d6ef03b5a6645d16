//! The engagement index through the real binary (specs/engagement-index.md): Update
//! and FindContent over its own SOAP API, faults for invalid batches, and the durable
//! notification queue: an update accepted by gateway A reaches the subscribing index of
//! gateway B even when B is down at first and A is killed (-9) in between.

use std::time::{Duration, Instant};

use crate::harness::*;

const UPDATE: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";
const FIND_CONTENT: &str = "urn:riv:itintegration:engagementindex:FindContentResponder:1";
const PROCESS_NOTIFICATION_NS: &str =
    "urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1";
const A_EI: &str = "SE0000000000-A-EI";
const B_EI: &str = "SE0000000000-B-EI";

pub(crate) fn update(ei: &str, patient: &str, source: &str, categorization: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"{UPDATE}\" xmlns:e=\"urn:riv:itintegration:engagementindex:1\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{ei}</LogicalAddress></soap:Header>\
<soap:Body><u:Update><u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>\
<e:registeredResidentIdentification>{patient}</e:registeredResidentIdentification>\
<e:serviceDomain>riv:clinicalprocess:healthcond:description</e:serviceDomain>\
<e:categorization>{categorization}</e:categorization>\
<e:logicalAddress>{source}</e:logicalAddress>\
<e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>\
<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId>\
<e:mostRecentContent>20240115093000</e:mostRecentContent>\
<e:sourceSystem>{source}</e:sourceSystem>\
<e:dataController>SE2321000016</e:dataController>\
</e:engagement></u:engagementTransaction></u:Update></soap:Body></soap:Envelope>\n"
    )
}

pub(crate) fn find_content(ei: &str, patient: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:f=\"{FIND_CONTENT}\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{ei}</LogicalAddress></soap:Header>\
<soap:Body><f:FindContent><f:registeredResidentIdentification>{patient}</f:registeredResidentIdentification>\
<f:serviceDomain>riv:clinicalprocess:healthcond:description</f:serviceDomain></f:FindContent></soap:Body></soap:Envelope>\n"
    )
}

/// Gateway B: an engagement index that takes notifications from gateway A's client
/// certificate.
fn index_b() -> Gateway {
    let table = Table::new()
        .route(
            PROCESS_NOTIFICATION_NS,
            B_EI,
            "RIVTABP21",
            "local://engagement-index",
        )
        .authorize(GATEWAY_CLIENT_ID, PROCESS_NOTIFICATION_NS, B_EI)
        .route_for_consumer(FIND_CONTENT, B_EI, "local://engagement-index");
    let mut cfg = GatewayConfig::new(&table);
    cfg.instance_id = "vaxel-b".into();
    cfg.extra_sections = format!("[engagement_index]\nowner = \"{B_EI}\"\n");
    Gateway::start(&cfg)
}

/// Gateway A's config: its own index, with B's index as subscriber at `b_url`.
fn index_a_config(b_url: &str) -> GatewayConfig {
    let table = Table::new()
        .route_for_consumer(UPDATE, A_EI, "local://engagement-index")
        .route_for_consumer(FIND_CONTENT, A_EI, "local://engagement-index")
        .route(PROCESS_NOTIFICATION_NS, B_EI, "RIVTABP21", b_url);
    let mut cfg = GatewayConfig::new(&table);
    cfg.instance_id = "vaxel-a".into();
    cfg.extra_sections = format!(
        "[engagement_index]\nowner = \"{A_EI}\"\nnotify_initial_backoff_ms = 100\nnotify_max_backoff_ms = 500\n\n\
[[engagement_index.subscribers]]\nlogical_address = \"{B_EI}\"\nservice_domains = [\"riv:clinicalprocess:healthcond:description\"]\n"
    );
    cfg
}

async fn engagements_at(gw: &Gateway, ei: &str, patient: &str) -> String {
    let r = post(&consumer(), &gw.url(), find_content(ei, patient), &[]).await;
    assert_eq!(r.status, 200, "FindContent:\n{}", r.describe());
    r.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_update_reaches_the_subscriber_across_a_crash() {
    // B is not up yet: A's notifications fail and stay queued.
    let nobody = format!("https://127.0.0.1:{}/", free_port());
    let a = Gateway::start(&index_a_config(&nobody));
    let patient = "191212121212";
    let r = post(
        &consumer(),
        &a.url(),
        update(A_EI, patient, "SE2321000016-SRC-CRASH", "voo"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "Update accepted:\n{}", r.describe());
    assert!(r.text().contains(">OK<"), "{}", r.describe());
    assert!(
        engagements_at(&a, A_EI, patient)
            .await
            .contains("SE2321000016-SRC-CRASH"),
        "A's own index has it"
    );
    std::thread::sleep(Duration::from_millis(300));
    // The operator sees the stuck notification, whom it is for and why it is stuck.
    let ei = a.status().await["engagement_index"].clone();
    assert_eq!(ei["notifications_pending"], 1, "{ei}");
    let stuck = &ei["undelivered"][0];
    assert_eq!(stuck["subscriber"], B_EI, "{ei}");
    assert!(stuck["head_attempts"].as_u64() >= Some(1), "{ei}");
    assert!(
        stuck["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{ei}"
    );

    // kill -9 with the notification still undelivered, then B comes up.
    let dir = a.into_dir();
    let b = index_b();
    assert!(
        !engagements_at(&b, B_EI, patient)
            .await
            .contains("SE2321000016-SRC-CRASH"),
        "nothing reached B while A could not deliver"
    );

    // A restarts on the same files, now routing ProcessNotification to B.
    let a = Gateway::start_in(&index_a_config(&b.url()), dir);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = engagements_at(&b, B_EI, patient).await;
        if found.contains("SE2321000016-SRC-CRASH") {
            assert!(
                found.contains(A_EI),
                "B keeps A as the owner of the engagement:\n{found}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queued notification did not reach B after A's restart.\nA:\n{}\nB:\n{}",
            a.logs(),
            b.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Delivered: nothing left in A's queue.
    loop {
        let ei = a.status().await["engagement_index"].clone();
        if ei["notifications_pending"] == 0 {
            assert_eq!(ei["undelivered"], serde_json::json!([]), "{ei}");
            break;
        }
        assert!(Instant::now() < deadline, "A still lists it: {ei}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_update_is_refused_whole_with_the_transaction_and_field_named() {
    let a = Gateway::start(&index_a_config("https://127.0.0.1:9/"));
    let good = update(A_EI, "191212121212", "SE2321000016-SRC-OK", "voo");
    // The same batch with a second transaction whose personal id is invalid.
    let bad_tx = update(A_EI, "19121212121X", "SE2321000016-SRC-BAD", "voo");
    let tx = |doc: &str| {
        let start = doc.find("<u:engagementTransaction>").unwrap();
        let end = doc.find("</u:Update>").unwrap();
        doc[start..end].to_string()
    };
    let batch = good.replace("</u:Update>", &format!("{}</u:Update>", tx(&bad_tx)));
    let r = post(&consumer(), &a.url(), batch, &[]).await;
    assert_eq!(r.status, 500, "{}", r.describe());
    let fault = r.faultstring().unwrap_or_default();
    assert!(
        fault.starts_with("EI"),
        "engagement index fault code: {fault}"
    );
    assert!(fault.contains('2'), "names transaction 2: {fault}");
    assert!(
        fault.contains("registeredResidentIdentification"),
        "names the field: {fault}"
    );
    assert!(
        !fault.contains("19121212121X"),
        "does not echo the id: {fault}"
    );
    // All or nothing: the valid first transaction was not stored either.
    assert!(
        !engagements_at(&a, A_EI, "191212121212")
            .await
            .contains("SE2321000016-SRC-OK"),
        "nothing of a refused batch is stored"
    );
    // /status counts the engagement index's own codes with the rest.
    let code = r.header("x-vp-fault-code").unwrap_or_default().to_string();
    assert!(code.starts_with("EI"), "{code}");
    assert_eq!(a.status().await["counts"]["faults"][code.as_str()], 1);
}
