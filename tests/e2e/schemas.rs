//! Every aggregated answer speaks the official schema (specs/aggregation.md): each of
//! the eight NPÖ contracts is asked through the real gateway with the national
//! reference request, and the whole answer is validated with xmllint, the Body child
//! strictly against the contract's official responder schema and the ProcessingStatus
//! header against the interoperability headers schema (`vaxel_adapters::schemas`).
//!
//! Every answer here is both partial and filtered: of three sources one answers with a
//! SOAP fault (`NoDataSynchFailed`), one belongs to another care giver without the
//! patient's consent (its records withheld, `WithheldRecords`), and one is the user's own
//! care giver (its records merged).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use vaxel_adapters::schemas::{check_message, SchemaCheckError};

use crate::harness::*;

const EI: &str = "SE0000000000-SCHEMA-EI";
const NATIONAL: &str = "SE0000000000-SCHEMA-NATIONAL";
const UPDATE: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";
const ISSUER: &str = "https://idp.schema-e2e.example";
const OWN_CG: &str = "SE2321000016-OWN";
const OWN_UNIT: &str = "SE2321000016-OWN-UNIT";
const OTHER_CG: &str = "SE2321000032-OTHER";
/// The sources (logical address = source system): the user's own care giver's journal,
/// another care giver's (no consent: withheld), one that answers with a SOAP fault.
const OWN: &str = "SE2321000016-OWN-JOURNAL";
const OTHER: &str = "SE2321000032-OTHER-JOURNAL";
const FAILING: &str = "SE2321000048-FAILING-JOURNAL";

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One Update registering, for the patient, every information set at the three sources.
fn update_all_sets() -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut tx = String::new();
    for set in vaxel_adapters::all() {
        let d = set.descriptor();
        if !seen.insert((d.ei_service_domain, d.ei_categorization)) {
            continue;
        }
        for src in [OWN, OTHER, FAILING] {
            tx.push_str(&format!(
                "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>\
<e:registeredResidentIdentification>{PATIENT}</e:registeredResidentIdentification>\
<e:serviceDomain>{}</e:serviceDomain><e:categorization>{}</e:categorization>\
<e:logicalAddress>{src}</e:logicalAddress><e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>\
<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId><e:sourceSystem>{src}</e:sourceSystem>\
<e:dataController>{}</e:dataController></e:engagement></u:engagementTransaction>",
                d.ei_service_domain,
                d.ei_categorization,
                &src[..12],
            ));
        }
    }
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"{UPDATE}\" xmlns:e=\"urn:riv:itintegration:engagementindex:1\">\
<soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{EI}</LogicalAddress></soap:Header>\
<soap:Body><u:Update>{tx}</u:Update></soap:Body></soap:Envelope>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aggregated_answer_validates_against_the_official_schemas() {
    // Every reference request, and the folder with the schemas, before anything starts.
    let Some(reference_dir) = reference::dir() else {
        return;
    };
    let mut requests = Vec::new();
    for (file, contract) in reference::NPO_SAMPLES {
        let Some(request) = reference::npo_request(file, NATIONAL) else {
            return;
        };
        requests.push((file, contract, request));
    }
    if !tool_available("xmllint") {
        return;
    }

    let keys = tempfile::tempdir().unwrap();
    let pair = rcgen::KeyPair::generate().expect("P-256 key");
    let public = keys.path().join("idp.pub.pem");
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();

    let producer = DemoProducer::start();
    let journal = |cg: &str, unit: &str| {
        producer.url(&format!(
            "/journal?care_giver={cg}&care_unit={unit}&records=3"
        ))
    };
    let mut table = Table::new().route_for_consumer(UPDATE, EI, "local://engagement-index");
    for (_, contract, _) in &requests {
        table = table
            .route_for_consumer(contract, NATIONAL, "local://aggregating")
            .route_for_consumer(contract, OWN, &journal(OWN_CG, OWN_UNIT))
            .route_for_consumer(
                contract,
                OTHER,
                &journal(OTHER_CG, "SE2321000032-OTHER-UNIT"),
            )
            .route_for_consumer(contract, FAILING, &producer.url("/fault"));
    }
    let mut cfg = GatewayConfig::new(&table);
    cfg.extra_sections = format!(
        "[engagement_index]\nowner = \"{EI}\"\n\n[consent]\nenabled = true\n\n\
[[consent.issuers]]\nissuer = \"{ISSUER}\"\naudience = [\"vaxel\"]\nalgorithms = [\"ES256\"]\npublic_key_pem = {:?}\n",
        public.display().to_string()
    );
    let gw = Gateway::start(&cfg);
    let r = post(&consumer(), &gw.url(), update_all_sets(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.describe());

    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &json!({
            "iss": ISSUER, "aud": "vaxel", "sub": "SE2321000016-DOCTOR",
            "care_unit": OWN_UNIT, "care_giver": OWN_CG, "purpose": "care",
            "exp": now() + 600, "nbf": now() - 5,
        }),
        &key,
    )
    .unwrap();

    for (file, contract, request) in requests {
        let set = vaxel_adapters::by_contract(contract).expect("an adapter for every NPÖ sample");
        let r = post(
            &consumer(),
            &gw.url(),
            request,
            &[("x-vaxel-user-context", token.as_str())],
        )
        .await;
        assert_eq!(r.status, 200, "{file}: {}", r.describe());
        let body = r.text();
        // What the answer must show before its schema is checked: three sources, one
        // failed, the other care giver's records withheld, the own ones merged.
        assert!(body.contains("NoDataSynchFailed"), "{file}: {body}");
        assert!(body.contains("WithheldRecords"), "{file}: {body}");
        assert_eq!(
            r.header("x-vaxel-withheld-records"),
            Some("3"),
            "{file}: the other care giver's three records"
        );
        let doc = roxmltree::Document::parse(&body).expect("the answer is well-formed");
        let merged = doc
            .descendants()
            .filter(|n| n.has_tag_name((contract, set.descriptor().record_element)))
            .count();
        assert_eq!(
            merged, 3,
            "{file}: the own care giver's records are merged: {body}"
        );
        match check_message(set, &reference_dir, body.as_bytes()) {
            Ok(()) => {}
            Err(SchemaCheckError::Invalid(report)) => {
                panic!("{file}: the merged answer is not schema-valid:\n{report}\n{body}")
            }
            Err(e) => panic!("{file}: the schema check could not run: {e}"),
        }
    }
}
