//! The citizen API's overview and records against the sources (specs/citizen.md §3 and
//! §4, specs/user-context.md "Patient-facing rules"), over real HTTP against the real
//! binary: a source that is down and one past the deadline never fail the overview;
//! exactly the records the sources hold minus the unapproved and the delayed ones are
//! shown, the rest counted; the full record of each new contract (and an older one)
//! validates against its official schema; and care staff's aggregated answers of the
//! three new contracts validate too (specs/aggregation.md).
//!
//! Schema checks read the reference folder (`../shared/reference`) and run xmllint; they
//! skip with a note without them, except under `CI=true`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vaxel_adapter::{InformationSet, ProducerResponse};
use vaxel_adapters::schemas::{check_message, responder_schema, SchemaCheckError};

use crate::harness::*;

const OVERVIEW: &str = "/citizen/v1/overview";
const LAB: &str = "laboratory-outcome-3";
const HEADERS_NS: &str = "urn:riv:interoperability:headers:1";

async fn overview(cg: &CitizenGateway, token: &str) -> Value {
    let (status, _, body) = cg.citizen_get(OVERVIEW, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("the overview is JSON ({e}): {body}"))
}

fn items(overview: &Value) -> &Vec<Value> {
    overview["items"].as_array().expect("items")
}

/// The link of a record (what an item's `link` is), built from the source's ids.
fn record_link(set: &str, logical_address: &str, record_id: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("information_set", set)
        .append_pair("logical_address", logical_address)
        .append_pair("record_id", record_id)
        .finish();
    format!("/citizen/v1/records?{query}")
}

/// The schema check of a whole SOAP message, failing the test with xmllint's report.
fn assert_schema_valid(
    what: &str,
    set: &dyn InformationSet,
    reference: &std::path::Path,
    xml: &str,
) {
    match check_message(set, reference, xml.as_bytes()) {
        Ok(()) => {}
        Err(SchemaCheckError::Invalid(report)) => {
            panic!("{what} is not schema-valid:\n{report}\n{xml}")
        }
        Err(e) => panic!("{what}: the schema check could not run: {e}"),
    }
}

/// (logicalAddress, statusCode) of every ProcessingStatusList entry.
fn processing_status(xml: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name((HEADERS_NS, "ProcessingStatusList")))
        .map(|rec| {
            let text = |name: &str| {
                rec.descendants()
                    .find(|n| n.has_tag_name((HEADERS_NS, name)))
                    .and_then(|n| n.text())
                    .unwrap_or("")
                    .to_string()
            };
            (text("logicalAddress"), text("statusCode"))
        })
        .collect()
}

/// The reference folder, the schemas of `sets` in it and xmllint; `None` (after a note)
/// when the test skips.
fn schemas_for(sets: &[&str]) -> Option<std::path::PathBuf> {
    let dir = reference::dir()?;
    for name in sets {
        let set = vaxel_adapters::by_name(name).expect("an adapter");
        reference::path(responder_schema(set).expect("a published schema"))?;
    }
    reference::path(vaxel_adapters::schemas::HEADERS_SCHEMA)?;
    tool_available("xmllint").then_some(dir)
}

/// A source that is down and one that answers after the deadline are listed, with a
/// code, in every information set; the answer is still 200, in about the deadline, with
/// the healthy sources' records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_and_a_slow_source_never_fail_the_overview() {
    const DOWN: &str = "SE2321000048-DOWN-JOURNAL";
    const SLOW: &str = "SE2321000064-SLOW-JOURNAL";
    const DEADLINE_MS: u64 = 1_500;
    const SLOW_MS: u64 = 30_000;
    let options = CitizenOptions {
        deadline_ms: Some(DEADLINE_MS),
        extra_sources: vec![
            ExtraSource::Down(DOWN),
            ExtraSource::Slow {
                address: SLOW,
                delay_ms: SLOW_MS,
            },
        ],
        ..CitizenOptions::default()
    };
    let cg = CitizenGateway::start_with(PATIENT, &options).await;
    let token = cg.citizens.citizen_token(PATIENT);
    let started = Instant::now();
    let overview = overview(&cg, &token).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(DEADLINE_MS)
            && elapsed < Duration::from_millis(SLOW_MS / 3),
        "the deadline bounds the overview, not the slow source: {elapsed:?}"
    );
    let sources = overview["sources"].as_array().expect("sources");
    for set in vaxel_adapters::all() {
        let name = set.descriptor().name;
        let of = |address: &str| {
            let found: Vec<&Value> = sources
                .iter()
                .filter(|s| s["information_set"] == name && s["logical_address"] == address)
                .collect();
            assert_eq!(found.len(), 1, "{name} at {address} once: {sources:?}");
            found[0].clone()
        };
        let down = of(DOWN);
        assert_eq!(down["status"], "failed", "{down}");
        assert!(
            down["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{down}"
        );
        assert!(
            down["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{down}"
        );
        assert_eq!(down["items"], 0, "{down}");
        let slow = of(SLOW);
        assert_eq!(slow["status"], "timeout", "{slow}");
        assert_eq!(slow["code"], "VP009", "{slow}");
        assert_eq!(slow["items"], 0, "{slow}");
        for (src, _, _) in CITIZEN_SOURCES {
            let ok = of(src);
            assert_eq!(ok["status"], "ok", "{ok}");
            assert_eq!(ok.get("code"), None, "{ok}");
        }
    }
    let from = |src: &str| {
        items(&overview)
            .iter()
            .filter(|i| i["source"]["logical_address"] == src)
            .count()
    };
    for (src, _, _) in CITIZEN_SOURCES {
        assert!(
            from(src) > 0,
            "the healthy source {src}'s items: {overview}"
        );
    }
    assert_eq!((from(DOWN), from(SLOW)), (0, 0));
}

/// The patient-facing rules over HTTP, counted exactly against what the sources hold
/// (asked directly, as the gateway asks them): unapproved records (the samples' every
/// second of three) are `not-approved-for-patient`; with a ten-year delay on one care
/// giver's lab results, theirs are `delayed` while the other care giver's are shown.
/// Withheld records have no record to open (404) and are not in the access log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_facing_rules_withhold_exactly_the_unapproved_and_the_delayed_records() {
    const RECORDS: usize = 4;
    let [(own_src, own_cg, _), (other_src, other_cg, _)] = CITIZEN_SOURCES;
    let options = CitizenOptions {
        delays: vec![(LAB, own_cg, 3650)],
        records: Some(RECORDS),
        ..CitizenOptions::default()
    };
    let cg = CitizenGateway::start_with(PATIENT, &options).await;

    // What the sources hold, and what the rules (specs/user-context.md, rows 1-5) make of it.
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut withheld: Vec<(&str, String, String, &str)> = Vec::new();
    for set in vaxel_adapters::all() {
        let d = set.descriptor();
        for (src, care_giver, unit) in CITIZEN_SOURCES {
            let url = cg.producer().url(&format!(
                "/journal?care_giver={care_giver}&care_unit={unit}&records={RECORDS}"
            ));
            let r = post(&consumer(), &url, set.overview_request(PATIENT, src), &[]).await;
            assert_eq!(r.status, 200, "{}: {}", d.name, r.describe());
            let Ok(ProducerResponse::Records(records)) = set.parse_response(&r.body) else {
                panic!("{} at {src}: {}", d.name, r.describe());
            };
            assert_eq!(records.len(), RECORDS, "{}", d.name);
            for record in records {
                let h = &record.header;
                let id = h.record_id.clone().expect("a record id");
                let has_flag = !d.record.approved_for_patient.is_empty();
                let reason = if has_flag && h.approved_for_patient != Some(true) {
                    Some("not-approved-for-patient")
                } else if d.name == LAB && h.care_giver.as_deref() == Some(own_cg) {
                    Some("delayed")
                } else {
                    None
                };
                match reason {
                    Some(reason) => withheld.push((d.name, src.to_string(), id, reason)),
                    None => {
                        expected.insert((d.name.to_string(), src.to_string(), id));
                    }
                }
            }
        }
    }
    let count = |reason: &str| withheld.iter().filter(|w| w.3 == reason).count();
    let (unapproved, delayed) = (count("not-approved-for-patient"), count("delayed"));
    assert!(
        unapproved > 0 && delayed > 0,
        "the samples exercise both rules"
    );

    let token = cg.citizens.citizen_token(PATIENT);
    let overview = overview(&cg, &token).await;
    let shown: BTreeSet<(String, String, String)> = items(&overview)
        .iter()
        .map(|i| {
            let text = |v: &Value| v.as_str().expect("a string").to_string();
            (
                text(&i["information_set"]),
                text(&i["source"]["logical_address"]),
                text(&i["source"]["record_id"]),
            )
        })
        .collect();
    assert_eq!(shown.len(), items(&overview).len(), "no item twice");
    assert_eq!(shown, expected, "exactly the records the rules let through");
    assert_eq!(
        overview["withheld"],
        json!({"total": unapproved + delayed, "by_reason": {"delayed": delayed, "not-approved-for-patient": unapproved}})
    );
    let labs = |care_giver: &str| {
        items(&overview)
            .iter()
            .filter(|i| i["information_set"] == LAB && i["care_giver"] == care_giver)
            .count()
    };
    assert_eq!(
        labs(own_cg),
        0,
        "the delayed care giver's lab results are not shown"
    );
    assert_eq!(
        labs(other_cg),
        RECORDS - 1,
        "the other care giver's approved ones are"
    );
    let body = overview.to_string();
    for (_, _, id, _) in &withheld {
        assert!(
            !body.contains(&format!("\"{id}\"")),
            "withheld {id} is not named"
        );
    }

    // A withheld record cannot be opened: the same 404 as an unknown one.
    let unknown = record_link(LAB, own_src, "no-such-record");
    let (status, _, not_found) = cg.citizen_get(&unknown, Some(&token)).await;
    assert_eq!(status, 404, "{not_found}");
    for reason in ["delayed", "not-approved-for-patient"] {
        let (set, src, id, _) = withheld.iter().find(|w| w.3 == reason).expect("one");
        let (status, _, body) = cg
            .citizen_get(&record_link(set, src, id), Some(&token))
            .await;
        assert_eq!((status, &body), (404, &not_found), "{reason} {id}");
    }
    let lab = items(&overview)
        .iter()
        .find(|i| i["information_set"] == LAB && i["source"]["logical_address"] == other_src)
        .expect("a shown lab result");
    let (status, _, xml) = cg
        .citizen_get(lab["link"].as_str().expect("a link"), Some(&token))
        .await;
    assert_eq!(status, 200, "{xml}");

    // Logged: every record shown (and the one opened), no withheld one.
    let auditor = cg.staff.auditor_token();
    let url = cg.gw.admin(&format!("/api/access-log?patient={PATIENT}"));
    let logged = eventually(
        "the citizen's reads in the access log",
        PATIENCE,
        || async {
            let text = reqwest::Client::new()
                .get(&url)
                .bearer_auth(&auditor)
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            let ids: Vec<String> = v["entries"]
                .as_array()?
                .iter()
                .flat_map(|e| {
                    e["entry"]["record_ids"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect();
            (ids.len() == expected.len() + 1).then_some(ids)
        },
    )
    .await;
    let logged: BTreeSet<&str> = logged.iter().map(String::as_str).collect();
    for (_, _, id) in &expected {
        assert!(logged.contains(id.as_str()), "{id} is logged");
    }
    for (_, _, id, _) in &withheld {
        assert!(!logged.contains(id.as_str()), "withheld {id} is not logged");
    }
}

/// The full record (an item's `link`) of each new contract and of care documentation,
/// from both sources: the contract's own answer with that one record and a
/// ProcessingStatus naming the source, valid against the official schema. Missing and
/// unknown parameters are 400 naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_records_validate_against_the_official_schemas() {
    let sets = [
        "care-plans",
        "scheduling",
        "vaccination-history",
        "care-documentation",
    ];
    let Some(reference) = schemas_for(&sets) else {
        return;
    };
    let cg = CitizenGateway::start(PATIENT).await;
    let token = cg.citizens.citizen_token(PATIENT);
    let overview = overview(&cg, &token).await;
    for name in sets {
        let set = vaxel_adapters::by_name(name).expect("an adapter");
        let d = set.descriptor();
        for (src, _, _) in CITIZEN_SOURCES {
            let item = items(&overview)
                .iter()
                .find(|i| i["information_set"] == name && i["source"]["logical_address"] == src)
                .unwrap_or_else(|| panic!("a {name} item from {src}: {overview}"));
            let link = item["link"].as_str().expect("a link");
            let id = item["source"]["record_id"].as_str().expect("a record id");
            let (status, headers, xml) = cg.citizen_get(link, Some(&token)).await;
            assert_eq!(status, 200, "{link}: {xml}");
            let content_type = headers["content-type"].to_str().unwrap_or("");
            assert!(
                content_type.starts_with("application/xml"),
                "{content_type}"
            );
            let doc = roxmltree::Document::parse(&xml).expect("well-formed");
            let records: Vec<_> = doc
                .descendants()
                .filter(|n| n.has_tag_name((d.contract_namespace, d.record_element)))
                .collect();
            assert_eq!(records.len(), 1, "{link}: one record: {xml}");
            assert!(
                records[0].descendants().any(|n| n.text() == Some(id)),
                "{link}: the record is {id}: {xml}"
            );
            assert_eq!(
                processing_status(&xml),
                [(src.to_string(), "DataFromSource".to_string())],
                "{xml}"
            );
            assert_schema_valid(link, set, &reference, &xml);
        }
    }

    let (src, id) = (
        CITIZEN_SOURCES[0].0,
        format!("{}-care-plans-1", CITIZEN_SOURCES[0].0),
    );
    for (path, field) in [
        (
            format!("/citizen/v1/records?logical_address={src}&record_id={id}"),
            "information_set",
        ),
        (
            format!("/citizen/v1/records?information_set=care-plans&record_id={id}"),
            "logical_address",
        ),
        (
            format!("/citizen/v1/records?information_set=care-plans&logical_address={src}"),
            "record_id",
        ),
        (
            format!(
                "/citizen/v1/records?information_set=care-plans&logical_address={src}&record_id="
            ),
            "record_id",
        ),
        (record_link("no-such-set", src, &id), "information_set"),
    ] {
        let (status, _, body) = cg.citizen_get(&path, Some(&token)).await;
        assert_eq!(status, 400, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(v["field"], field, "{path}: {body}");
    }
}

/// Care staff's aggregated GetCarePlans:2, GetSubjectOfCareSchedule:1 and
/// GetVaccinationHistory:2, asked with the official sample requests: both sources'
/// records merged, and the merged answer valid against the official schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_care_plans_bookings_and_vaccinations_validate_against_the_official_schemas() {
    let Some(reference) = schemas_for(&["care-plans", "scheduling", "vaccination-history"]) else {
        return;
    };
    let mut requests = Vec::new();
    for (name, file) in [
        ("care-plans", "GetCarePlans2.xml"),
        ("vaccination-history", "GetVaccinationHistory2.xml"),
    ] {
        let Some(request) = reference::npo_request(file, CITIZEN_NATIONAL) else {
            return;
        };
        requests.push((name, String::from_utf8(request).expect("UTF-8")));
    }
    let Some(schedule) = reference::read("riv-ta/vp-requests/Rivta21Request.xml") else {
        return;
    };
    let schedule = String::from_utf8(schedule).expect("UTF-8");
    assert!(schedule.contains(">RIVTA21REQUEST<") && schedule.contains(">188803099368<"));
    requests.push((
        "scheduling",
        schedule
            .replace(">RIVTA21REQUEST<", &format!(">{CITIZEN_NATIONAL}<"))
            .replace(">188803099368<", &format!(">{PATIENT}<")),
    ));

    // Consent checking off: scheduling records name no care giver, so with it on care
    // staff would see none of them (specs/user-context.md, row 0b).
    let options = CitizenOptions {
        aggregated: requests
            .iter()
            .map(|(name, _)| {
                vaxel_adapters::by_name(name)
                    .unwrap()
                    .descriptor()
                    .contract_namespace
            })
            .collect(),
        consent_off: true,
        ..CitizenOptions::default()
    };
    let cg = CitizenGateway::start_with(PATIENT, &options).await;
    for (name, request) in requests {
        let set = vaxel_adapters::by_name(name).expect("an adapter");
        let d = set.descriptor();
        let r = post(&consumer(), &cg.gw.url(), request, &[]).await;
        assert_eq!(r.status, 200, "{name}: {}", r.describe());
        let xml = r.text();
        let mut status = processing_status(&xml);
        status.sort();
        let expected: Vec<(String, String)> = CITIZEN_SOURCES
            .iter()
            .map(|s| (s.0.to_string(), "DataFromSource".to_string()))
            .collect();
        assert_eq!(status, expected, "{name}: both sources answered: {xml}");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let merged = doc
            .descendants()
            .filter(|n| n.has_tag_name((d.contract_namespace, d.record_element)))
            .count();
        assert_eq!(merged, 4, "{name}: two records from each source: {xml}");
        for (src, _, _) in CITIZEN_SOURCES {
            assert!(
                xml.contains(&format!("{src}-{name}-1")),
                "{name}: {src}'s records: {xml}"
            );
        }
        assert_schema_valid(&format!("the merged {name} answer"), set, &reference, &xml);
    }
}

/// The same API on the mutual-TLS service port, for an e-service platform that calls for
/// a citizen (specs/citizen.md §2): the platform's client certificate identifies the
/// consumer the routing table authorises, the citizen's token still says whose records;
/// without the token 401, without a certificate no TLS session at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_the_service_port_needs_a_certificate_and_a_citizen_token() {
    let cg = CitizenGateway::start(PATIENT).await;
    let token = cg.citizens.citizen_token(PATIENT);
    let url = format!("{}{OVERVIEW}", cg.gw.url().trim_end_matches('/'));
    let platform = client("consumer");
    let r = platform
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("the overview on the service port answers");
    let status = r.status().as_u16();
    let body = r.text().await.expect("a body");
    assert_eq!(status, 200, "{body}");
    let on_service_port: Value = serde_json::from_str(&body).expect("JSON");
    let on_citizen_listener = overview(&cg, &token).await;
    assert!(!items(&on_service_port).is_empty(), "{on_service_port}");
    assert_eq!(
        items(&on_service_port).len(),
        items(&on_citizen_listener).len(),
        "the same records whichever listener asks"
    );
    assert_eq!(on_service_port["patient"], PATIENT);
    let r = platform.get(&url).send().await.expect("an answer");
    assert_eq!(r.status().as_u16(), 401);
    let anonymous = client_with(None, Http::Negotiate);
    assert!(
        anonymous
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .is_err(),
        "the service port requires a client certificate"
    );
}
