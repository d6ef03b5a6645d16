//! Engagement index + aggregated journal queries (specs/aggregation.md,
//! specs/engagement-index.md) through the real binary: producers register engagements
//! with the engagement index's own SOAP API, a consumer asks once, the gateway fans out
//! to three real TLS demo producers (one fast, one slow past the deadline, one answering
//! with a SOAP fault) and answers with the merged records and a ProcessingStatus.

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

const EI_ADDRESS: &str = "SE0000000000-E2E-EI";
const NATIONAL: &str = "SE0000000000-E2E-NATIONAL";
const UPDATE: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";
const FIND_CONTENT: &str = "urn:riv:itintegration:engagementindex:FindContentResponder:1";
const GET_UPDATES: &str = "urn:riv:itintegration:engagementindex:GetUpdatesResponder:1";
const HEADERS_NS: &str = "urn:riv:interoperability:headers:1";

/// The deadline of an aggregated call in these tests; the slow producer waits longer.
const DEADLINE_MS: u64 = 3_000;
const SLOW_MS: u64 = 8_000;

/// Source systems (= logical addresses) of the reference Update20_GD.xml batch.
const FAST: &str = "SKLTP-MOCK01";
const SLOW: &str = "SKLTP-MOCK02";
const FAULTY: &str = "SKLTP-MOCK03";
/// Registered in the index, routed, but the consumer may not reach it.
const FORBIDDEN: &str = "SKLTP-MOCK04";

/// Three producers and a table: the engagement index at EI_ADDRESS, the aggregating
/// service for `contract` at NATIONAL, and the sources.
struct Setup {
    _fast: DemoProducer,
    _slow: DemoProducer,
    _faulty: DemoProducer,
    gw: Gateway,
}

fn setup(contract: &str) -> Setup {
    let fast = DemoProducer::start();
    let slow = DemoProducer::start();
    let faulty = DemoProducer::start();
    let mut table = Table::new();
    for ei in [UPDATE, FIND_CONTENT, GET_UPDATES] {
        table = table
            .route(ei, EI_ADDRESS, "RIVTABP21", "local://engagement-index")
            .authorize(CONSUMER_ID, ei, EI_ADDRESS);
    }
    let journal = |who: &str| {
        format!("/journal?care_giver=SE2321000016-{who}&care_unit=SE2321000016-{who}-UNIT")
    };
    table = table
        .route(contract, NATIONAL, "RIVTABP21", "local://aggregating")
        .authorize(CONSUMER_ID, contract, NATIONAL)
        .route_for_consumer(contract, FAST, &fast.url(&journal("FAST")))
        .route_for_consumer(
            contract,
            SLOW,
            &slow.url(&format!("{}&delay_ms={SLOW_MS}", journal("SLOW"))),
        )
        .route_for_consumer(contract, FAULTY, &faulty.url("/fault"))
        // Routed, but not authorised for the consumer: must be neither asked nor listed.
        .route(
            contract,
            FORBIDDEN,
            "RIVTABP21",
            &fast.url(&journal("FORBIDDEN")),
        );
    let mut cfg = GatewayConfig::new(&table);
    cfg.extra_sections = format!(
        "[aggregation]\ndeadline_ms = {DEADLINE_MS}\n\n[engagement_index]\nowner = \"{EI_ADDRESS}\"\n"
    );
    let gw = Gateway::start(&cfg);
    Setup {
        _fast: fast,
        _slow: slow,
        _faulty: faulty,
        gw,
    }
}

/// The reference batch `npo-requests/<file>` (20 engagements at SKLTP-MOCK01..20) for
/// the test patient, at the engagement index's address; `None` when the test skips.
fn reference_batch(file: &str) -> Option<Vec<u8>> {
    reference::template(
        &format!("riv-ta/npo-requests/{file}"),
        &[
            ("logicalAddress", EI_ADDRESS),
            ("patientId1", PATIENT),
            ("delete", "false"),
        ],
    )
}

/// Sends an Update batch to the engagement index through the gateway.
async fn register_batch(gw: &Gateway, batch: Vec<u8>) {
    let r = post(&consumer(), &gw.url(), batch, &[]).await;
    assert_eq!(r.status, 200, "Update accepted:\n{}", r.describe());
    assert!(
        r.text().contains(">OK<"),
        "Update answers ResultCode OK:\n{}",
        r.describe()
    );
}

/// (logicalAddress, statusCode, code, text) of every ProcessingStatusList entry.
fn processing_status(body: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
    let doc = roxmltree::Document::parse(body).expect("merged response is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name((HEADERS_NS, "ProcessingStatusList")))
        .map(|rec| {
            let text = |name: &str| {
                rec.descendants()
                    .find(|n| n.has_tag_name((HEADERS_NS, name)))
                    .and_then(|n| n.text())
                    .map(str::to_string)
            };
            (
                text("logicalAddress").unwrap_or_default(),
                text("statusCode").unwrap_or_default(),
                text("code"),
                text("text"),
            )
        })
        .collect()
}

/// Record elements (local name `record`) in the response element's namespace.
fn record_count(body: &str, contract: &str, record: &str) -> usize {
    let doc = roxmltree::Document::parse(body).expect("well-formed");
    doc.descendants()
        .filter(|n| n.has_tag_name((contract, record)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npo_query_merges_fast_source_and_reports_slow_and_failing_ones() {
    let Some(batch) = reference_batch("Update20_GD.xml") else {
        return;
    };
    // The reference NPÖ request, addressed to the aggregating service.
    let Some(request) = reference::npo_request("GetDiagnosis2.xml", NATIONAL) else {
        return;
    };
    let s = setup(DIAGNOSIS);
    register_batch(&s.gw, batch).await;

    let r = post(&consumer(), &s.gw.url(), request, &[]).await;
    assert_eq!(
        r.status,
        200,
        "partial answer is HTTP 200:\n{}",
        r.describe()
    );
    assert!(
        r.elapsed < Duration::from_millis(SLOW_MS),
        "the deadline ({DEADLINE_MS} ms) bounds the call, not the slow producer: {:?}",
        r.elapsed
    );
    let body = r.text();
    let status = processing_status(&body);
    let addresses: Vec<&str> = status.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        addresses,
        vec![FAST, SLOW, FAULTY],
        "every reachable source once, the forbidden one and the 16 unauthorised ones left out:\n{body}"
    );
    assert_eq!(status[0].1, "DataFromSource", "{body}");
    assert_eq!(status[1].1, "NoDataSynchFailed", "{body}");
    assert_eq!(status[1].2.as_deref(), Some("VP009"), "{body}");
    assert_eq!(status[2].1, "NoDataSynchFailed", "{body}");
    assert!(
        status[2]
            .3
            .as_deref()
            .is_some_and(|t| t.contains("Demo producer fault")),
        "the producer's faultstring is the reason: {body}"
    );
    // The fast source's two records, inside the requested period, byte-for-byte
    // (their ids are the generated ones of SKLTP-MOCK01).
    assert_eq!(record_count(&body, DIAGNOSIS, "diagnosis"), 2, "{body}");
    assert!(body.contains("SKLTP-MOCK01-diagnosis-1"), "{body}");
    assert!(!body.contains("FORBIDDEN"), "{body}");

    // /status times the query: its slowest source is the one cut off at the deadline,
    // and what the gateway added is the rest of the whole query.
    let timings = s.gw.status().await["aggregation"].clone();
    assert_eq!(timings["queries"], 1, "{timings}");
    let us = |key: &str| {
        timings[key]["max"]
            .as_u64()
            .unwrap_or_else(|| panic!("{timings}"))
    };
    let deadline_us = DEADLINE_MS * 1000;
    assert!(
        (deadline_us * 99 / 100..=deadline_us * 2).contains(&us("slowest_source_us")),
        "the slow source waited for the deadline: {timings}"
    );
    assert!(
        us("overhead_us") < us("total_us") && us("total_us") >= us("slowest_source_us"),
        "{timings}"
    );
    assert!(
        us("total_us") - us("slowest_source_us") <= us("overhead_us") + us("total_us") / 500,
        "overhead = total - slowest source: {timings}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregation_without_engagements_answers_empty_and_unknown_patient_is_no_fault() {
    let s = setup(CARE_DOC);
    let request = rivta21_care_documentation(NATIONAL, "191010101010");
    let r = post(&consumer(), &s.gw.url(), request, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let body = r.text();
    assert!(processing_status(&body).is_empty(), "{body}");
    assert_eq!(record_count(&body, CARE_DOC, "careDocumentation"), 0);
    assert!(body.contains("resultCode>OK<"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregation_request_without_patient_is_vp015() {
    let s = setup(CARE_DOC);
    let r = post(&consumer(), &s.gw.url(), rivta21(CARE_DOC, NATIONAL), &[]).await;
    assert_fault(&r, &s.gw, "VP015", &["GetCareDocumentation"]);
}

/// GetCareDocumentation:2 for `patient` at `address`.
fn rivta21_care_documentation(address: &str, patient: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{address}</LogicalAddress></soap:Header>\
<soap:Body><GetCareDocumentation xmlns=\"{CARE_DOC}\" xmlns:c=\"urn:riv:clinicalprocess:healthcond:description:2\">\
<patientId><c:id>{patient}</c:id><c:type>1.2.752.129.2.1.3.1</c:type></patientId></GetCareDocumentation></soap:Body>\
</soap:Envelope>\n"
    )
    .into_bytes()
}

/// An Update of care-documentation (`voo`) engagements for `patient` at `sources`.
fn care_documentation_update(patient: &str, sources: &[&str]) -> String {
    let dated: Vec<(&str, Option<&str>)> = sources
        .iter()
        .map(|s| (*s, Some("20240115093000")))
        .collect();
    care_documentation_update_dated(patient, &dated)
}

/// An Update of care-documentation engagements for `patient` at each source, with its
/// `mostRecentContent` (none when `None`).
fn care_documentation_update_dated(patient: &str, sources: &[(&str, Option<&str>)]) -> String {
    update_dated(
        "riv:clinicalprocess:healthcond:description",
        "voo",
        patient,
        sources,
    )
}

/// An Update of engagements in `domain`/`categorization` for `patient` at each source,
/// with its `mostRecentContent` (none when `None`).
fn update_dated(
    domain: &str,
    categorization: &str,
    patient: &str,
    sources: &[(&str, Option<&str>)],
) -> String {
    let mut tx = String::new();
    for (src, most_recent) in sources {
        let most_recent = most_recent
            .map(|t| format!("<e:mostRecentContent>{t}</e:mostRecentContent>"))
            .unwrap_or_default();
        tx.push_str(&format!(
            "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>\
<e:registeredResidentIdentification>{patient}</e:registeredResidentIdentification>\
<e:serviceDomain>{domain}</e:serviceDomain>\
<e:categorization>{categorization}</e:categorization>\
<e:logicalAddress>{src}</e:logicalAddress>\
<e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>\
<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId>{most_recent}\
<e:sourceSystem>{src}</e:sourceSystem>\
<e:dataController>SE2321000016</e:dataController>\
</e:engagement></u:engagementTransaction>"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"{UPDATE}\" xmlns:e=\"urn:riv:itintegration:engagementindex:1\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{EI_ADDRESS}</LogicalAddress></soap:Header>\
<soap:Body><u:Update>{tx}</u:Update></soap:Body></soap:Envelope>\n"
    )
}

/// The merged GetCareDocumentation answer validates against the national schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_care_documentation_validates_against_the_national_schema() {
    let Some(schema) = reference::path("validation/soap11-care-documentation.xsd") else {
        return;
    };
    if Command::new("xmllint").arg("--version").output().is_err() {
        println!("skipping: xmllint not installed (scripts/install-test-tools.sh installs it)");
        return;
    }
    let s = setup(CARE_DOC);
    let update = care_documentation_update(PATIENT, &[FAST, SLOW, FAULTY, FORBIDDEN]);
    let r = post(&consumer(), &s.gw.url(), update, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let r = post(
        &consumer(),
        &s.gw.url(),
        rivta21_care_documentation(NATIONAL, PATIENT),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let body = r.text();
    assert_eq!(
        record_count(&body, CARE_DOC, "careDocumentation"),
        2,
        "{body}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("merged.xml");
    std::fs::write(&file, &body).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("xmllint runs");
    assert!(
        out.status.success(),
        "xmllint rejects the merged response: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers_xsd = workspace().join("specs/schemas/interoperability_headers_1.xsd");
    let doc = roxmltree::Document::parse(&body).unwrap();
    let status = doc
        .descendants()
        .find(|n| n.has_tag_name((HEADERS_NS, "ProcessingStatus")))
        .expect("ProcessingStatus header");
    let header_file = dir.path().join("status.xml");
    std::fs::write(&header_file, &body[status.range()]).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&headers_xsd)
        .arg(&header_file)
        .output()
        .expect("xmllint runs");
    assert!(
        out.status.success(),
        "ProcessingStatus does not follow specs/schemas/interoperability_headers_1.xsd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An independent SOAP client (Python zeep, from the national WSDL) as the consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeep_consumer_reads_the_merged_answer() {
    let Some(wsdl) = reference::path(
        "riv-ta/care-documentation-schemas/clinicalprocess_healthcond_description/interactions/GetCareDocumentationInteraction/GetCareDocumentationInteraction_2.1_RIVTABP21.wsdl",
    ) else {
        return;
    };
    let zeep = Command::new("python3").args(["-c", "import zeep"]).output();
    if !zeep.is_ok_and(|o| o.status.success()) {
        println!(
            "skipping: python3 with zeep not installed (scripts/install-test-tools.sh installs it)"
        );
        return;
    }
    let s = setup(CARE_DOC);
    let update = care_documentation_update(PATIENT, &[FAST, SLOW, FAULTY]);
    let r = post(&consumer(), &s.gw.url(), update, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());

    let pki = pki();
    let url = s.gw.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(workspace().join("tests/e2e/zeep_consumer.py"))
            .arg("--wsdl")
            .arg(wsdl)
            .arg("--url")
            .arg(url)
            .arg("--cert")
            .arg(pki.cert("consumer"))
            .arg("--key")
            .arg(pki.key("consumer"))
            .arg("--ca")
            .arg(pki.ca())
            .args(["--logical-address", NATIONAL, "--patient", PATIENT])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "zeep consumer failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("zeep prints JSON");
    let docs = v["documents"].as_array().expect("documents");
    assert_eq!(docs.len(), 2, "{v}");
    for d in docs {
        assert_eq!(d["sourceSystemHSAid"], FAST, "{v}");
        assert_eq!(d["careGiver"], "SE2321000016-FAST", "{v}");
    }
    assert_eq!(v["result"], "OK", "{v}");
    let codes: Vec<(String, String)> = v["processing_status"]
        .as_array()
        .expect("status list")
        .iter()
        .map(|s| {
            (
                s["logicalAddress"].as_str().unwrap_or("").to_string(),
                s["statusCode"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (FAST.to_string(), "DataFromSource".to_string()),
            (SLOW.to_string(), "NoDataSynchFailed".to_string()),
            (FAULTY.to_string(), "NoDataSynchFailed".to_string()),
        ],
        "{v}"
    );
}

/// One rule for who is authorised (specs/routing-table.md §8.4): each source of an
/// aggregated query is asked only if the SENDER may reach it, as for any virtualised
/// call. An original consumer named by an allowed caller is passed on, never used to
/// authorise: here it may reach FORBIDDEN and not FAST, and the answer is FAST's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_calls_are_authorised_as_the_sender_not_the_original_consumer() {
    let Some(batch) = reference_batch("Update20_GD.xml") else {
        return;
    };
    let Some(request) = reference::npo_request("GetDiagnosis2.xml", NATIONAL) else {
        return;
    };
    let fast = DemoProducer::start();
    let table = Table::new()
        .route(UPDATE, EI_ADDRESS, "RIVTABP21", "local://engagement-index")
        .authorize(CONSUMER_ID, UPDATE, EI_ADDRESS)
        .route(DIAGNOSIS, NATIONAL, "RIVTABP21", "local://aggregating")
        .authorize(CONSUMER_ID, DIAGNOSIS, NATIONAL)
        // The sender may reach FAST only; the consumer it names may reach FORBIDDEN only.
        .route_for_consumer(DIAGNOSIS, FAST, &fast.url("/journal"))
        .route(DIAGNOSIS, FORBIDDEN, "RIVTABP21", &fast.url("/journal"))
        .authorize(OTHER_CONSUMER_ID, DIAGNOSIS, FORBIDDEN);
    let mut cfg = GatewayConfig::new(&table);
    cfg.original_consumer_allowed = vec![CONSUMER_ID.into()];
    cfg.extra_sections = format!("[engagement_index]\nowner = \"{EI_ADDRESS}\"\n");
    let gw = Gateway::start(&cfg);
    register_batch(&gw, batch).await;

    let r = post(
        &consumer(),
        &gw.url(),
        request,
        &[("x-rivta-original-serviceconsumer-hsaid", OTHER_CONSUMER_ID)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let body = r.text();
    let asked: Vec<String> = processing_status(&body).into_iter().map(|s| s.0).collect();
    assert_eq!(asked, vec![FAST.to_string()], "{body}");
    assert!(
        body.contains("SKLTP-MOCK01-diagnosis-1"),
        "FAST's records: {body}"
    );
    assert!(
        !body.contains("SKLTP-MOCK04"),
        "nothing of FORBIDDEN: {body}"
    );
}

/// A requested period narrows the sources by the engagement index's
/// `mostRecentContent` (specs/aggregation.md §2.3): a source whose newest content is
/// older than the period's start is not asked; one without `mostRecentContent` is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_period_skips_sources_with_only_older_content() {
    let s = setup(CARE_DOC);
    let update = care_documentation_update_dated(
        PATIENT,
        &[
            (FAST, Some("20231231235959")),
            (FAULTY, Some("20240601120000")),
            (SLOW, None),
        ],
    );
    let r = post(&consumer(), &s.gw.url(), update, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let request = String::from_utf8(rivta21_care_documentation(NATIONAL, PATIENT))
        .unwrap()
        .replace(
            "</patientId>",
            "</patientId><timePeriod><c:start>20240101</c:start><c:end>20241231</c:end></timePeriod>",
        );
    let r = post(&consumer(), &s.gw.url(), request, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let body = r.text();
    let asked: Vec<String> = processing_status(&body).into_iter().map(|s| s.0).collect();
    assert_eq!(
        asked,
        vec![SLOW.to_string(), FAULTY.to_string()],
        "FAST's newest content is from 2023: not asked. {body}"
    );
    // Without a period every source is asked.
    let r = post(
        &consumer(),
        &s.gw.url(),
        rivta21_care_documentation(NATIONAL, PATIENT),
        &[],
    )
    .await;
    let asked: Vec<String> = processing_status(&r.text())
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(
        asked,
        vec![FAST.to_string(), SLOW.to_string(), FAULTY.to_string()]
    );
}

/// Care contacts are intervals (filtered by overlap): a source whose newest content is
/// older than the period may still hold a stay that runs into it, so it is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_period_asks_every_source_of_interval_records() {
    const CARE_CONTACTS: &str =
        "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:2";
    let s = setup(CARE_CONTACTS);
    let update = update_dated(
        "riv:clinicalprocess:logistics:logistics",
        "vko",
        PATIENT,
        &[
            (FAST, Some("20231231235959")),
            (FAULTY, Some("20240601120000")),
        ],
    );
    let r = post(&consumer(), &s.gw.url(), update, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let request = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{NATIONAL}</LogicalAddress></soap:Header>\
<soap:Body><GetCareContacts xmlns=\"{CARE_CONTACTS}\" xmlns:c=\"urn:riv:clinicalprocess:logistics:logistics:2\">\
<patientId><c:id>{PATIENT}</c:id><c:type>1.2.752.129.2.1.3.1</c:type></patientId>\
<timePeriod><c:start>20240101</c:start><c:end>20241231</c:end></timePeriod>\
</GetCareContacts></soap:Body></soap:Envelope>\n"
    );
    let r = post(&consumer(), &s.gw.url(), request, &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let body = r.text();
    let asked: Vec<String> = processing_status(&body).into_iter().map(|s| s.0).collect();
    assert_eq!(
        asked,
        vec![FAST.to_string(), FAULTY.to_string()],
        "FAST's newest content is from 2023, but a contact that began then may still run: asked. {body}"
    );
}

/// A source that answers about another patient is broken: none of its answer reaches
/// the consumer, and the ProcessingStatus says why; the other source's records do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_answering_about_another_patient_is_refused_whole() {
    let producer = DemoProducer::start();
    let journal = |who: &str| {
        format!("/journal?care_giver=SE2321000016-{who}&care_unit=SE2321000016-{who}-UNIT")
    };
    let mut table = Table::new();
    for ei in [UPDATE, FIND_CONTENT, GET_UPDATES] {
        table = table
            .route(ei, EI_ADDRESS, "RIVTABP21", "local://engagement-index")
            .authorize(CONSUMER_ID, ei, EI_ADDRESS);
    }
    table = table
        .route(CARE_DOC, NATIONAL, "RIVTABP21", "local://aggregating")
        .authorize(CONSUMER_ID, CARE_DOC, NATIONAL)
        .route_for_consumer(
            CARE_DOC,
            FAST,
            &producer.url(&format!("{}&patient=201212121212", journal("FAST"))),
        )
        .route_for_consumer(CARE_DOC, SLOW, &producer.url(&journal("SLOW")));
    let mut cfg = GatewayConfig::new(&table);
    cfg.extra_sections = format!(
        "[aggregation]\ndeadline_ms = {DEADLINE_MS}\n\n[engagement_index]\nowner = \"{EI_ADDRESS}\"\n"
    );
    let gw = Gateway::start(&cfg);
    let r = post(
        &consumer(),
        &gw.url(),
        care_documentation_update(PATIENT, &[FAST, SLOW]),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.describe());

    let r = post(
        &consumer(),
        &gw.url(),
        rivta21_care_documentation(NATIONAL, PATIENT),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let body = r.text();
    assert!(
        !body.contains("201212121212"),
        "another patient's records reached the consumer: {body}"
    );
    assert_eq!(
        record_count(&body, CARE_DOC, "careDocumentation"),
        2,
        "only SLOW's two records: {body}"
    );
    let status = processing_status(&body);
    let fast = status.iter().find(|s| s.0 == FAST).expect("FAST listed");
    assert_eq!(fast.1, "NoDataSynchFailed", "{body}");
    assert_eq!(fast.2.as_deref(), Some("VP009"));
    assert!(
        fast.3
            .as_deref()
            .is_some_and(|t| t.contains("do not name the queried patient")),
        "{fast:?}"
    );
    let slow = status.iter().find(|s| s.0 == SLOW).expect("SLOW listed");
    assert_eq!(slow.1, "DataFromSource", "{body}");
}
