//! Engagement index behaviour as a caller sees it: response documents (validated with
//! xmllint against the published schemas), fault codes and messages, stored state,
//! notifications. Reference messages come from `/work/shared/reference` (skipped with a
//! printed reason when absent).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use vaxel_model::Fault;
use vaxel_store::engagement::{ApplyOutcome, NotificationPlanner, UpdatesPage};
use vaxel_store::outbox::OutboxTransport;
use vaxel_store::{EngagementStore, Outbox, StoreError};
use vaxel_store_sqlite::SqliteStore;

use super::*;
use crate::notifications::{spawn_notifier, QUEUE};

const OWNER: &str = "ei-hsa-id";

fn reference() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: reference material not found at {} (see /work/shared/reference/README.md)",
            p.display()
        );
        None
    }
}

fn read_reference(rel: &str) -> Option<String> {
    let p = reference()?.join(rel);
    Some(std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// Validate a whole SOAP message with xmllint against the published EI schemas.
/// Returns false (after printing why) when the check cannot run.
fn assert_schema_valid(xml: &[u8]) -> bool {
    let Some(reference) = reference() else {
        return false;
    };
    let schema = reference.join("validation/soap11-engagementindex.xsd");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.xml");
    std::fs::write(&file, xml).unwrap();
    let out = match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "SKIP schema check: xmllint not runnable ({e}); apt-get install -y libxml2-utils"
            );
            return false;
        }
    };
    assert!(
        out.status.success(),
        "xmllint rejects our message:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
    true
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    ei: EngagementIndex,
}

fn config(subscribers: Vec<SubscriberConfig>) -> EngagementIndexConfig {
    EngagementIndexConfig {
        owner: OWNER.into(),
        owner_aliases: vec!["5565594230".into()],
        notify_initial_backoff: Duration::from_millis(10),
        notify_max_backoff: Duration::from_millis(40),
        notify_lease: Duration::from_secs(60),
        get_updates_max_residents: 2,
        subscribers,
    }
}

fn subscriber(la: &str, domains: &[&str], cats: &[&str]) -> SubscriberConfig {
    SubscriberConfig {
        logical_address: la.into(),
        service_domains: domains.iter().map(|s| s.to_string()).collect(),
        categorizations: cats.iter().map(|s| s.to_string()).collect(),
    }
}

fn fixture(subscribers: Vec<SubscriberConfig>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ei.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    Fixture {
        ei: EngagementIndex::new(store.clone(), store, config(subscribers)),
        path,
        _dir: dir,
    }
}

struct Tx<'a> {
    delete: bool,
    rri: &'a str,
    domain: &'a str,
    cat: &'a str,
    source: &'a str,
    mrc: Option<&'a str>,
}

fn tx(rri: &str) -> Tx<'_> {
    Tx {
        delete: false,
        rri,
        domain: "riv:clinicalprocess:healthcond:description",
        cat: "voo",
        source: "SE2321000016-SRC1",
        mrc: None,
    }
}

fn engagement_xml(t: &Tx<'_>, extra: &str) -> String {
    let mrc = t
        .mrc
        .map(|m| format!("<c:mostRecentContent>{m}</c:mostRecentContent>"))
        .unwrap_or_default();
    format!(
        "<c:deleteFlag>{}</c:deleteFlag><c:engagement>\
<c:registeredResidentIdentification>{}</c:registeredResidentIdentification>\
<c:serviceDomain>{}</c:serviceDomain><c:categorization>{}</c:categorization>\
<c:logicalAddress>SE2321000016-LA</c:logicalAddress>\
<c:businessObjectInstanceIdentifier>NA</c:businessObjectInstanceIdentifier>\
<c:clinicalProcessInterestId>NA</c:clinicalProcessInterestId>{mrc}\
<c:sourceSystem>{}</c:sourceSystem><c:dataController>SE2321000016-DC</c:dataController>{extra}\
</c:engagement>",
        t.delete, t.rri, t.domain, t.cat, t.source
    )
}

fn request(contract: &str, element: &str, la: &str, inner: &str) -> Bytes {
    Bytes::from(format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
xmlns:r=\"urn:riv:itintegration:registry:1\" xmlns:c=\"urn:riv:itintegration:engagementindex:1\">\
<s:Header><r:LogicalAddress>{la}</r:LogicalAddress></s:Header>\
<s:Body><m:{element} xmlns:m=\"{contract}\">{inner}</m:{element}></s:Body></s:Envelope>"
    ))
}

fn update(txs: &[Tx<'_>]) -> Bytes {
    let inner: String = txs
        .iter()
        .map(|t| {
            format!(
                "<m:engagementTransaction>{}</m:engagementTransaction>",
                engagement_xml(t, "")
            )
        })
        .collect();
    request(xml::UPDATE_NS, "Update", OWNER, &inner)
}

fn notification(txs: &[(Tx<'_>, &str)]) -> Bytes {
    let inner: String = txs
        .iter()
        .map(|(t, owner)| {
            format!(
                "<m:engagementTransaction>{}</m:engagementTransaction>",
                engagement_xml(t, &format!("<c:owner>{owner}</c:owner>"))
            )
        })
        .collect();
    request(
        xml::PROCESS_NOTIFICATION_NS,
        "ProcessNotification",
        OWNER,
        &inner,
    )
}

fn find(rri: &str, domain: &str, extra: &str) -> Bytes {
    request(
        xml::FIND_CONTENT_NS,
        "FindContent",
        OWNER,
        &format!(
            "<m:registeredResidentIdentification>{rri}</m:registeredResidentIdentification>\
<m:serviceDomain>{domain}</m:serviceDomain>{extra}"
        ),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// The fault a caller would see for `err`.
fn fault_string(err: EiError) -> String {
    Fault::from(err).fault_string("vp-test")
}

const DOMAIN: &str = "riv:clinicalprocess:healthcond:description";

#[tokio::test]
async fn update_then_find_content_returns_the_engagement_with_our_owner() {
    let f = fixture(vec![]);
    let mut t = tx("191212121212");
    t.mrc = Some("20240101120000");
    let resp = f.ei.handle(xml::UPDATE_NS, update(&[t])).await.unwrap();
    assert!(text(&resp).contains("<ResultCode>OK</ResultCode>"));
    assert_schema_valid(&resp);

    let resp =
        f.ei.handle(xml::FIND_CONTENT_NS, find("191212121212", DOMAIN, ""))
            .await
            .unwrap();
    let body = text(&resp);
    assert_eq!(body.matches("<engagement>").count(), 1, "{body}");
    assert!(
        body.contains(&format!("<ei:owner>{OWNER}</ei:owner>")),
        "{body}"
    );
    assert!(body.contains("<ei:mostRecentContent>20240101120000</ei:mostRecentContent>"));
    assert!(
        body.contains("<ei:creationTime>"),
        "the EI sets creationTime"
    );
    assert_schema_valid(&resp);

    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191212121212").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].owner, OWNER);

    let none =
        f.ei.handle(
            xml::FIND_CONTENT_NS,
            find(
                "191212121212",
                DOMAIN,
                "<m:categorization>dia</m:categorization>",
            ),
        )
        .await
        .unwrap();
    assert_eq!(text(&none).matches("<engagement>").count(), 0);
    assert_schema_valid(&none);
}

#[tokio::test]
async fn owner_in_update_is_replaced_by_ours() {
    let f = fixture(vec![]);
    let t = tx("191212121212");
    let inner = format!(
        "<m:engagementTransaction>{}</m:engagementTransaction>",
        engagement_xml(&t, "<c:owner>someone-else</c:owner>")
    );
    f.ei.handle(
        xml::UPDATE_NS,
        request(xml::UPDATE_NS, "Update", OWNER, &inner),
    )
    .await
    .unwrap();
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191212121212").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert_eq!(found[0].owner, OWNER, "Update-R6");
}

#[tokio::test]
async fn delete_flag_removes() {
    let f = fixture(vec![]);
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121212")]))
        .await
        .unwrap();
    let mut d = tx("191212121212");
    d.delete = true;
    f.ei.handle(xml::UPDATE_NS, update(&[d])).await.unwrap();
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191212121212").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert!(found.is_empty());
}

#[tokio::test]
async fn older_most_recent_content_does_not_overwrite_newer() {
    let f = fixture(vec![]);
    let mut new = tx("191212121212");
    new.mrc = Some("20240301000000");
    f.ei.handle(xml::UPDATE_NS, update(&[new])).await.unwrap();
    let mut old = tx("191212121212");
    old.mrc = Some("20230101000000");
    f.ei.handle(xml::UPDATE_NS, update(&[old])).await.unwrap();
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191212121212").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert_eq!(
        found[0].most_recent_content,
        EiTime::parse("20240301000000")
    );
}

#[tokio::test]
async fn namespaces_not_prefixes_decide() {
    let f = fixture(vec![]);
    // Default namespaces instead of prefixes, a reordered engagement, a comment, CDATA.
    let msg = format!(
        "<?xml version=\"1.0\"?><Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\"><Body>\
<Update xmlns=\"{}\"><engagementTransaction><engagement xmlns=\"urn:riv:itintegration:engagementindex:1\">\
<dataController>DC</dataController><registeredResidentIdentification>19121212T212</registeredResidentIdentification>\
<serviceDomain>{DOMAIN}</serviceDomain><categorization><![CDATA[voo]]></categorization><!-- c -->\
<logicalAddress>LA</logicalAddress><businessObjectInstanceIdentifier>NA</businessObjectInstanceIdentifier>\
<clinicalProcessInterestId>NA</clinicalProcessInterestId><sourceSystem>SRC</sourceSystem></engagement>\
<deleteFlag xmlns=\"urn:riv:itintegration:engagementindex:1\"> 0 </deleteFlag></engagementTransaction></Update></Body></Envelope>",
        xml::UPDATE_NS
    );
    f.ei.handle(xml::UPDATE_NS, Bytes::from(msg)).await.unwrap();
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("19121212T212").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].categorization, "voo");

    // The right local names in the wrong namespace are not an Update.
    let wrong = update(&[tx("191212121212")]);
    let wrong = text(&wrong).replace("urn:riv:itintegration:engagementindex:1", "urn:other");
    let err =
        f.ei.handle(xml::UPDATE_NS, Bytes::from(wrong))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "EI004", "{err}");
}

#[tokio::test]
async fn transaction_count_limits() {
    let f = fixture(vec![]);
    let empty = request(xml::UPDATE_NS, "Update", OWNER, "");
    let err = f.ei.handle(xml::UPDATE_NS, empty).await.unwrap_err();
    assert!(fault_string(err)
        .starts_with("EI000 [vp-test] The request contains no engagementTransaction"));

    let ids: Vec<String> = (0..1001).map(|i| format!("19{i:010}")).collect();
    let txs: Vec<Tx<'_>> = ids.iter().map(|r| tx(r)).collect();
    let err = f.ei.handle(xml::UPDATE_NS, update(&txs)).await.unwrap_err();
    assert_eq!(err.code(), "EI000");
    assert!(err.to_string().contains("more than 1000"), "{err}");

    let resp =
        f.ei.handle(xml::UPDATE_NS, update(&txs[..1000]))
            .await
            .unwrap();
    assert_schema_valid(&resp);
    assert_eq!(
        f.ei.store()
            .engagements_updated_since(DOMAIN, EiTime::parse("20000101000000").unwrap(), None, 2000)
            .await
            .unwrap()
            .residents
            .len(),
        1000
    );
}

#[tokio::test]
async fn field_errors_name_transaction_and_field_and_apply_nothing() {
    let f = fixture(vec![]);
    let cases: Vec<(Bytes, &str, &str)> = vec![
        (
            update(&[tx("191212121212"), tx("1212121212")]),
            "EI004",
            "EngagementTransaction #2: field \"registeredResidentIdentification\" is not a personal identity number",
        ),
        (
            update(&[tx("191212121212"), Tx { mrc: Some("20230230120000"), ..tx("191212121213") }]),
            "EI004",
            "EngagementTransaction #2: field \"mostRecentContent\" `20230230120000` is not a time",
        ),
        (
            update(&[tx("191212121212"), tx("191212121213"), Tx { source: " SRC", ..tx("191212121214") }]),
            "EI004",
            "EngagementTransaction #3: field \"sourceSystem\" has white space",
        ),
        (
            update(&[Tx { cat: "", ..tx("191212121212") }]),
            "EI004",
            "EngagementTransaction #1: field \"categorization\" is mandatory but empty",
        ),
        (
            update(&[tx("191212121212"), tx("191212121213"), tx("191212121212")]),
            "EI002",
            "EngagementTransaction #1 and #3 have the same key",
        ),
    ];
    for (msg, code, expected) in cases {
        let err = f.ei.handle(xml::UPDATE_NS, msg).await.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(err.to_string().starts_with(expected), "{err}");
        assert!(
            !err.to_string().contains("1212121212"),
            "a personal id must not be echoed: {err}"
        );
    }
    // Missing field.
    let t = tx("191212121212");
    let inner = format!(
        "<m:engagementTransaction>{}</m:engagementTransaction>",
        engagement_xml(&t, "").replace("<c:sourceSystem>SE2321000016-SRC1</c:sourceSystem>", "")
    );
    let err =
        f.ei.handle(
            xml::UPDATE_NS,
            request(xml::UPDATE_NS, "Update", OWNER, &inner),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "EngagementTransaction #1: field \"sourceSystem\" is mandatory but missing"
    );
    // Unknown element in the contract namespace.
    let inner = format!(
        "<m:engagementTransaction>{}</m:engagementTransaction>",
        engagement_xml(&t, "<c:colour>red</c:colour>")
    );
    let err =
        f.ei.handle(
            xml::UPDATE_NS,
            request(xml::UPDATE_NS, "Update", OWNER, &inner),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "EI001", "{err}");
    assert!(err.to_string().contains("colour"), "{err}");
    // All-or-nothing: none of the valid transactions before the bad ones was stored.
    for rri in ["191212121212", "191212121213"] {
        let found =
            f.ei.find_content(FindQuery::new(ResidentId::parse(rri).unwrap(), DOMAIN))
                .await
                .unwrap();
        assert!(found.is_empty());
    }
}

#[tokio::test]
async fn update_to_another_logical_address_is_refused() {
    let f = fixture(vec![]);
    let inner = format!(
        "<m:engagementTransaction>{}</m:engagementTransaction>",
        engagement_xml(&tx("191212121212"), "")
    );
    let err =
        f.ei.handle(
            xml::UPDATE_NS,
            request(xml::UPDATE_NS, "Update", "SE-SOMEONE", &inner),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "EI003");
    assert!(err.to_string().contains("SE-SOMEONE"));
}

/// Update's metrics. Every test in this process shares them (other tests' Updates run
/// at the same time), so the deltas are lower bounds.
#[tokio::test]
async fn updates_are_counted_by_outcome_with_their_transactions() {
    let m = vaxel_telemetry::metrics();
    let updates = |outcome| {
        m.engagement_updates
            .get_or_create(&[("outcome", outcome)])
            .get()
    };
    let (ok, fault, txs) = (
        updates("ok"),
        updates("fault"),
        m.engagement_transactions.get(),
    );
    let f = fixture(vec![]);
    let mut second = tx("191212121212");
    second.source = "SE2321000016-SRC2";
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121212"), second]))
        .await
        .unwrap();
    let inner = format!(
        "<m:engagementTransaction>{}</m:engagementTransaction>",
        engagement_xml(&tx("191212121212"), "")
    );
    f.ei.handle(
        xml::UPDATE_NS,
        request(xml::UPDATE_NS, "Update", "SE-SOMEONE", &inner),
    )
    .await
    .unwrap_err();
    assert!(updates("ok") - ok >= 1);
    assert!(updates("fault") - fault >= 1);
    assert!(m.engagement_transactions.get() - txs >= 2);
}

#[tokio::test]
async fn not_an_ei_message_is_a_schema_fault() {
    let f = fixture(vec![]);
    let err =
        f.ei.handle("urn:x", Bytes::from_static(b"<x/>"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "EI001");
    for bad in [
        &b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"[..],
        b"not xml",
        b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>",
        b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>",
    ] {
        let err =
            f.ei.handle(xml::UPDATE_NS, Bytes::copy_from_slice(bad))
                .await
                .unwrap_err();
        assert_eq!(err.code(), "EI001", "{err}");
    }
}

#[derive(Debug)]
struct BrokenStore;

#[async_trait]
impl EngagementStore for BrokenStore {
    async fn apply_engagement_transactions(
        &self,
        _: ApplyRequest,
        _: NotificationPlanner,
    ) -> vaxel_store::Result<ApplyOutcome> {
        Err(StoreError::Backend(
            "near \"SELECT\": syntax error in INSERT INTO engagement".into(),
        ))
    }
    async fn find_engagements(&self, _: &FindQuery) -> vaxel_store::Result<Vec<Engagement>> {
        Err(StoreError::Backend("no such table: engagement".into()))
    }
    async fn get_engagement(&self, _: &EngagementId) -> vaxel_store::Result<Option<Engagement>> {
        unreachable!()
    }
    async fn engagements_updated_since(
        &self,
        _: &str,
        _: EiTime,
        _: Option<&ResidentId>,
        _: usize,
    ) -> vaxel_store::Result<UpdatesPage> {
        unreachable!()
    }
}

#[tokio::test]
async fn storage_failure_is_ei000_without_sql() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(SqliteStore::open(&dir.path().join("o.db")).unwrap());
    let ei = EngagementIndex::new(Arc::new(BrokenStore), outbox, config(vec![]));
    for (ns, msg) in [
        (xml::UPDATE_NS, update(&[tx("191212121212")])),
        (xml::FIND_CONTENT_NS, find("191212121212", DOMAIN, "")),
    ] {
        let err = ei.handle(ns, msg).await.unwrap_err();
        let fault = Fault::from(err);
        let soap = fault.to_soap("vp-test");
        assert!(soap.contains("<faultstring>EI000 [vp-test] the engagement index could not read or write its store"), "{soap}");
        assert!(
            !soap.contains("SELECT") && !soap.contains("table"),
            "{soap}"
        );
    }
}

// ---- reference messages -------------------------------------------------------------

fn substitute(xml: &str, vars: &[(&str, &str)]) -> String {
    let mut s = xml.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("${{{k}}}"), v);
    }
    s
}

#[tokio::test]
async fn reference_update_samples() {
    let Some(update1) = read_reference("riv-ta/engagementindex/samples/Update1.xml") else {
        return;
    };
    let f = fixture(vec![]);
    // As published: truncated (no closing Envelope) → refused as malformed.
    let err =
        f.ei.handle(xml::UPDATE_NS, Bytes::from(update1.clone()))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "EI001");
    assert!(err.to_string().contains("truncated"), "{err}");
    // Completed: the 10-digit personal id is refused, naming transaction and field.
    let completed = format!("{update1}\n</soapenv:Envelope>");
    let err =
        f.ei.handle(xml::UPDATE_NS, Bytes::from(completed.clone()))
            .await
            .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("EngagementTransaction #1: field \"registeredResidentIdentification\""),
        "{err}"
    );
    // With a 12-digit id it is accepted.
    let fixed = completed.replace(">1212121212<", ">191212121212<");
    let resp =
        f.ei.handle(xml::UPDATE_NS, Bytes::from(fixed))
            .await
            .unwrap();
    assert_schema_valid(&resp);

    // Update_duplicate: two transactions with the same key.
    let dup = read_reference("riv-ta/engagementindex/samples/Update_duplicate.xml").unwrap();
    let dup = format!("{dup}</soapenv:Envelope>").replace(">1212121212<", ">191212121212<");
    let err =
        f.ei.handle(xml::UPDATE_NS, Bytes::from(dup))
            .await
            .unwrap_err();
    assert_eq!(
        err,
        EiError::Duplicate {
            first: 1,
            second: 2
        }
    );

    // Load-test files: template variables are refused as they are...
    let one = read_reference("riv-ta/engagementindex/samples/Update_1_OK.xml").unwrap();
    let err =
        f.ei.handle(xml::UPDATE_NS, Bytes::from(one.clone()))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "EI004");
    assert!(
        err.to_string().contains("registeredResidentIdentification"),
        "{err}"
    );
    // ...and accepted once substituted, although mostRecentContent is out of schema order.
    let one = substitute(&one, &[("citizenId1", "199001011234")]);
    f.ei.handle(xml::UPDATE_NS, Bytes::from(one)).await.unwrap();

    let big = read_reference("riv-ta/engagementindex/samples/Update_1000_OK.xml").unwrap();
    let big = substitute(
        &big,
        &[
            ("citizenId1", "199001010001"),
            ("citizenId2", "199001010002"),
            ("citizenId3", "199001010003"),
            ("citizenId4", "199001010004"),
        ],
    );
    let resp = f.ei.handle(xml::UPDATE_NS, Bytes::from(big)).await.unwrap();
    assert_schema_valid(&resp);
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("199001010001").unwrap(),
            "urn:riv:test:domain-1",
        ))
        .await
        .unwrap();
    assert!(!found.is_empty());

    // The NPÖ load-test files. One of them has at times been published damaged (a bare
    // "0"): a file that is not XML must be refused as malformed, every other one accepted.
    for file in [
        "Update20_GD.xml",
        "Update20_GCC.xml",
        "Update1000_GCC.xml",
        "Update1000_GD.xml",
    ] {
        let msg = read_reference(&format!("riv-ta/npo-requests/{file}")).unwrap();
        if !msg
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('<')
        {
            let err =
                f.ei.handle(xml::UPDATE_NS, Bytes::from(msg))
                    .await
                    .unwrap_err();
            assert_eq!(err.code(), "EI001", "{file}: {err}");
            continue;
        }
        let msg = substitute(
            &msg,
            &[
                ("delete", "false"),
                ("patientId1", "197001019876"),
                ("logicalAddress", OWNER),
            ],
        );
        let resp = f.ei.handle(xml::UPDATE_NS, Bytes::from(msg)).await.unwrap();
        assert!(
            text(&resp).contains("<ResultCode>OK</ResultCode>"),
            "{file}"
        );
    }
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("197001019876").unwrap(),
            "riv:clinicalprocess:healthcond:description",
        ))
        .await
        .unwrap();
    assert!(!found.is_empty());
}

#[tokio::test]
async fn reference_find_content_sample_gets_a_valid_answer() {
    let Some(msg) = read_reference("riv-ta/engagementindex/samples/FindContent.xml") else {
        return;
    };
    let f = fixture(vec![]);
    let mut t = tx("191212121212");
    t.domain = "TEST-DOMAIN";
    f.ei.handle(xml::UPDATE_NS, update(&[t])).await.unwrap();
    let resp =
        f.ei.handle(xml::FIND_CONTENT_NS, Bytes::from(msg))
            .await
            .unwrap();
    assert_eq!(text(&resp).matches("<engagement>").count(), 1);
    assert_schema_valid(&resp);
    let templ = read_reference("riv-ta/engagementindex/samples/FindContent_OK.xml").unwrap();
    let err =
        f.ei.handle(xml::FIND_CONTENT_NS, Bytes::from(templ))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "EI004");
}

#[tokio::test]
async fn reference_process_notification_samples() {
    let Some(pn) = read_reference("riv-ta/engagementindex/samples/ProcessNotification.xml") else {
        return;
    };
    let f = fixture(vec![]);
    let err =
        f.ei.handle(xml::PROCESS_NOTIFICATION_NS, Bytes::from(pn.clone()))
            .await
            .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("EngagementTransaction #1: field \"registeredResidentIdentification\""),
        "{err}"
    );
    let fixed = pn.replace(">1111111111<", ">191111111111<");
    let resp =
        f.ei.handle(xml::PROCESS_NOTIFICATION_NS, Bytes::from(fixed))
            .await
            .unwrap();
    assert!(text(&resp).contains("<ProcessNotificationResponse"));
    assert_schema_valid(&resp);
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191111111111").unwrap(),
            "TEST-DOMAIN",
        ))
        .await
        .unwrap();
    assert_eq!(
        found[0].owner, "remote-owner",
        "a notification keeps the sender's owner"
    );

    let dup = read_reference("riv-ta/engagementindex/samples/ProcessNotification_duplicate.xml")
        .unwrap()
        .replace(">1111111111<", ">191111111111<");
    let err =
        f.ei.handle(xml::PROCESS_NOTIFICATION_NS, Bytes::from(dup))
            .await
            .unwrap_err();
    assert_eq!(
        err,
        EiError::Duplicate {
            first: 1,
            second: 2
        }
    );
}

#[tokio::test]
async fn process_notification_requires_owner_and_supersedes_ours() {
    let f = fixture(vec![]);
    let err =
        f.ei.handle(xml::PROCESS_NOTIFICATION_NS, {
            let inner = format!(
                "<m:engagementTransaction>{}</m:engagementTransaction>",
                engagement_xml(&tx("191212121212"), "")
            );
            request(
                xml::PROCESS_NOTIFICATION_NS,
                "ProcessNotification",
                OWNER,
                &inner,
            )
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "EngagementTransaction #1: field \"owner\" is mandatory but missing"
    );
    // Ours first, then the same key from another index: ours is removed (R5).
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121212")]))
        .await
        .unwrap();
    f.ei.handle(
        xml::PROCESS_NOTIFICATION_NS,
        notification(&[(tx("191212121212"), "SE-OTHER-EI")]),
    )
    .await
    .unwrap();
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191212121212").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].owner, "SE-OTHER-EI");
    // Our own engagement coming back is ignored.
    f.ei.handle(
        xml::PROCESS_NOTIFICATION_NS,
        notification(&[(tx("191212121299"), OWNER)]),
    )
    .await
    .unwrap();
    let found =
        f.ei.find_content(FindQuery::new(
            ResidentId::parse("191212121299").unwrap(),
            DOMAIN,
        ))
        .await
        .unwrap();
    assert!(found.is_empty());
}

#[tokio::test]
async fn get_updates_pages_and_validates() {
    let f = fixture(vec![]);
    f.ei.handle(
        xml::UPDATE_NS,
        update(&[tx("191212121201"), tx("191212121202"), tx("191212121203")]),
    )
    .await
    .unwrap();
    let get = |after: &str| {
        request(
            xml::GET_UPDATES_NS,
            "GetUpdates",
            OWNER,
            &format!("<m:serviceDomain>{DOMAIN}</m:serviceDomain><m:timeStamp>20000101000000</m:timeStamp>{after}"),
        )
    };
    let p1 = text(&f.ei.handle(xml::GET_UPDATES_NS, get("")).await.unwrap());
    assert!(
        p1.contains("<responseIsComplete>false</responseIsComplete>"),
        "{p1}"
    );
    assert_eq!(p1.matches("<registeredResidentEngagement>").count(), 2);
    assert_schema_valid(p1.as_bytes());
    let p2 = text(
        &f.ei
            .handle(
                xml::GET_UPDATES_NS,
                get("<m:registeredResidentLastFetched>191212121202</m:registeredResidentLastFetched>"),
            )
            .await
            .unwrap(),
    );
    assert!(
        p2.contains("<responseIsComplete>true</responseIsComplete>"),
        "{p2}"
    );
    assert!(p2.contains("191212121203") && !p2.contains("191212121201"));
    assert_schema_valid(p2.as_bytes());
    let bad = request(
        xml::GET_UPDATES_NS,
        "GetUpdates",
        OWNER,
        "<m:serviceDomain>x</m:serviceDomain><m:timeStamp>2020</m:timeStamp>",
    );
    let err = f.ei.handle(xml::GET_UPDATES_NS, bad).await.unwrap_err();
    assert!(err.to_string().contains("timeStamp"), "{err}");
}

// ---- notifications -----------------------------------------------------------------

#[tokio::test]
async fn update_queues_one_valid_notification_per_matching_subscriber() {
    let f = fixture(vec![
        subscriber("SUB-ALL", &[], &[]),
        subscriber("SUB-DESC", &[DOMAIN], &["VOO"]),
        subscriber("SUB-OTHER", &["riv:other"], &[]),
    ]);
    let mut other = tx("191212121212");
    other.cat = "dia";
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121212"), other]))
        .await
        .unwrap();
    let items =
        f.ei.outbox()
            .outbox_claim(
                QUEUE,
                std::time::SystemTime::now() + Duration::from_secs(1),
                100,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    let by_sub: HashMap<_, _> = items
        .iter()
        .map(|i| (i.destination.as_str(), text(&i.payload)))
        .collect();
    assert_eq!(by_sub.len(), 2, "{:?}", by_sub.keys());
    assert_eq!(
        by_sub["SUB-ALL"].matches("<engagementTransaction>").count(),
        2
    );
    assert_eq!(
        by_sub["SUB-DESC"]
            .matches("<engagementTransaction>")
            .count(),
        1
    );
    assert!(by_sub["SUB-DESC"].contains(
        "<LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">SUB-DESC</LogicalAddress>"
    ));
    assert!(by_sub["SUB-ALL"].contains(&format!("<ei:owner>{OWNER}</ei:owner>")));
    assert_schema_valid(by_sub["SUB-ALL"].as_bytes());

    // The notification is itself an acceptable ProcessNotification for another index.
    let other_index = fixture(vec![]);
    let mut cfg_other = config(vec![]);
    cfg_other.owner = "SE-OTHER-EI".into();
    let other_index = EngagementIndex::new(
        other_index.ei.store().clone(),
        other_index.ei.outbox().clone(),
        cfg_other,
    );
    other_index
        .handle(
            xml::PROCESS_NOTIFICATION_NS,
            Bytes::from(by_sub["SUB-ALL"].clone()),
        )
        .await
        .unwrap();

    // A repeated, unchanged update notifies nobody.
    let before = f.ei.outbox().outbox_len(QUEUE).await.unwrap();
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121212")]))
        .await
        .unwrap();
    assert_eq!(f.ei.outbox().outbox_len(QUEUE).await.unwrap(), before);
}

#[tokio::test]
async fn process_notification_is_not_sent_back_to_its_sender() {
    let f = fixture(vec![
        subscriber("SE-OTHER-EI", &[], &[]),
        subscriber("SE-THIRD-EI", &[], &[]),
    ]);
    f.ei.handle(
        xml::PROCESS_NOTIFICATION_NS,
        notification(&[(tx("191212121212"), "SE-OTHER-EI")]),
    )
    .await
    .unwrap();
    let items =
        f.ei.outbox()
            .outbox_claim(
                QUEUE,
                std::time::SystemTime::now() + Duration::from_secs(1),
                100,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    let subs: Vec<_> = items.iter().map(|i| i.destination.as_str()).collect();
    assert_eq!(subs, ["SE-THIRD-EI"]);
}

/// Fails the first `failures` deliveries, then accepts; records every attempt.
#[derive(Debug, Default)]
struct FakeTransport {
    failures: Mutex<usize>,
    attempts: Mutex<Vec<String>>,
    delivered: Mutex<Vec<(String, Vec<u8>)>>,
}

impl OutboxTransport for FakeTransport {
    fn deliver(
        &self,
        logical_address: &str,
        envelope: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        let la = logical_address.to_string();
        Box::pin(async move {
            self.attempts.lock().unwrap().push(la.clone());
            let mut f = self.failures.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err("connection refused".into());
            }
            self.delivered.lock().unwrap().push((la, envelope));
            Ok(())
        })
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(what, async || cond()).await
}

async fn wait_for(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn notifier_retries_with_backoff_until_delivered_in_order() {
    let f = fixture(vec![subscriber("SUB", &[], &[])]);
    let transport = Arc::new(FakeTransport {
        failures: Mutex::new(3),
        ..FakeTransport::default()
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = spawn_notifier(&f.ei, transport.clone(), stopped);
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121201")]))
        .await
        .unwrap();
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121202")]))
        .await
        .unwrap();

    // After the first failure, the attempt count and error are recorded on the item.
    wait_until("a failed attempt", || {
        !transport.attempts.lock().unwrap().is_empty()
    })
    .await;
    wait_until("delivery", || {
        transport.delivered.lock().unwrap().len() == 2
    })
    .await;
    let delivered = transport.delivered.lock().unwrap().clone();
    assert!(text(&delivered[0].1).contains("191212121201"), "order kept");
    assert!(text(&delivered[1].1).contains("191212121202"));
    // 3 failures (all on the head item: the second waits behind it) + 2 deliveries.
    assert_eq!(transport.attempts.lock().unwrap().len(), 5);
    wait_for("outbox drained", async || {
        f.ei.outbox().outbox_len(QUEUE).await.unwrap() == 0
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn failed_attempts_are_recorded() {
    let f = fixture(vec![subscriber("SUB", &[], &[])]);
    let transport = Arc::new(FakeTransport {
        failures: Mutex::new(usize::MAX),
        ..FakeTransport::default()
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = spawn_notifier(&f.ei, transport.clone(), stopped);
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121201")]))
        .await
        .unwrap();
    wait_until("three attempts", || {
        transport.attempts.lock().unwrap().len() >= 3
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let items =
        f.ei.outbox()
            .outbox_claim(
                QUEUE,
                std::time::SystemTime::now() + Duration::from_secs(3600),
                10,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    assert_eq!(items.len(), 1, "kept until delivered");
    assert!(items[0].attempts >= 3);
    assert_eq!(items[0].last_error.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn notifications_written_before_a_restart_are_delivered_after_it() {
    let f = fixture(vec![subscriber("SUB", &[], &[])]);
    f.ei.handle(xml::UPDATE_NS, update(&[tx("191212121201")]))
        .await
        .unwrap();
    let path = f.path.clone();
    // "Crash": no notifier ran, the store is dropped without delivering.
    let Fixture { ei, _dir, .. } = f;
    drop(ei);
    let reopened = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(reopened.outbox_len(QUEUE).await.unwrap(), 1);
    let ei = EngagementIndex::new(
        reopened.clone(),
        reopened.clone(),
        config(vec![subscriber("SUB", &[], &[])]),
    );
    let transport = Arc::new(FakeTransport::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = spawn_notifier(&ei, transport.clone(), stopped);
    wait_until("delivery after restart", || {
        transport.delivered.lock().unwrap().len() == 1
    })
    .await;
    wait_for("outbox drained", async || {
        reopened.outbox_len(QUEUE).await.unwrap() == 0
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(transport.delivered.lock().unwrap()[0].0, "SUB");
}

/// A transport whose every delivery takes a while (a slow subscriber).
#[derive(Default)]
struct SlowTransport {
    started: Mutex<usize>,
}

impl OutboxTransport for SlowTransport {
    fn deliver(
        &self,
        _logical_address: &str,
        _envelope: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            *self.started.lock().unwrap() += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        })
    }
}

/// Shutdown mid-batch: the item in hand is delivered, the rest of the claimed batch is
/// given back at once (due now for any node), not held until the lease ends.
#[tokio::test]
async fn shutdown_gives_back_claimed_notifications() {
    let f = fixture(vec![subscriber("SUB", &[], &[])]);
    for p in ["191212121201", "191212121202", "191212121203"] {
        f.ei.handle(xml::UPDATE_NS, update(&[tx(p)])).await.unwrap();
    }
    let transport = Arc::new(SlowTransport::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = spawn_notifier(&f.ei, transport.clone(), stopped);
    wait_until("the first delivery in hand", || {
        *transport.started.lock().unwrap() == 1
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        *transport.started.lock().unwrap(),
        1,
        "no new delivery after the stop"
    );
    let items =
        f.ei.outbox()
            .outbox_claim(
                QUEUE,
                std::time::SystemTime::now() + Duration::from_millis(100),
                10,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    assert_eq!(items.len(), 2, "the undelivered two are due again at once");
}
