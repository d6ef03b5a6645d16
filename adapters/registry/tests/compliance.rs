//! The one compliance suite every information-set adapter must pass (CONVENTIONS.md:
//! one suite over all components). It runs over `vaxel_adapters::all()`, so a new
//! adapter is covered by adding it to the registry.
//!
//! Reference material (the national platform's sample requests and schemas) is read from
//! `<repo>/../shared/reference`; tests that need it, or xmllint, skip with a printed
//! reason when it is absent.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use vaxel_adapter::{
    about_patient, retain_matching, AdapterError, CausingAgent, InformationSet, MergeInput,
    ProducerResponse, QueryRequest, Record, SourceOutcome, SourceStatus,
    PROCESSING_STATUS_NAMESPACE,
};
use vaxel_adapters::samples::{
    consumer_request, fault_response, producer_response, record_care_contact, record_id,
    record_time, NamespaceStyle, SampleQuery, SampleSource,
};

const PATIENT: &str = "191212121212";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/reference");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIP: reference folder not found at {}", dir.display());
        None
    }
}

fn xmllint_available() -> bool {
    let ok = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIP: xmllint not found (apt-get install -y libxml2-utils)");
    }
    ok
}

/// The published request for a set (below `riv-ta/`), and the period it asks for.
fn reference_request(name: &str) -> Option<(&'static str, Option<(&'static str, &'static str)>)> {
    Some(match name {
        "care-documentation" => ("npo-requests/GetCareDocumentation2.xml", None),
        "diagnosis" => (
            "npo-requests/GetDiagnosis2.xml",
            Some(("20120101", "20150915")),
        ),
        "alert-information" => (
            "npo-requests/GetAlertInformation2.xml",
            Some(("20100101", "20150915")),
        ),
        "laboratory-outcome-3" => (
            "npo-requests/GetLaboratoryOrderOutcome3.xml",
            Some(("20140101", "20150915")),
        ),
        "medication-history" => (
            "npo-requests/GetMedicationHistory2.xml",
            Some(("20100101", "20150915")),
        ),
        "care-contacts" => (
            "npo-requests/GetCareContacts2.xml",
            Some(("20120101", "20150915")),
        ),
        "referral-outcome" => (
            "npo-requests/GetReferralOutcome3.xml",
            Some(("20120101", "20150915")),
        ),
        "imaging-outcome" => (
            "npo-requests/GetImagingOutcome1.xml",
            Some(("20120101", "20150915")),
        ),
        "care-plans" => (
            "npo-requests/GetCarePlans2.xml",
            Some(("20120101", "20150924")),
        ),
        "vaccination-history" => (
            "npo-requests/GetVaccinationHistory2.xml",
            Some(("20050101", "20150924")),
        ),
        // The virtualisation platform's sample names a patient of its own.
        "scheduling" => ("vp-requests/Rivta21Request.xml", None),
        _ => return None,
    })
}

fn sources() -> [SampleSource<'static>; 3] {
    [
        SampleSource {
            patient_id: PATIENT,
            source_system: "SE2321000016-SYS1",
            care_giver: "SE2321000016-CG1",
            care_unit: "SE2321000016-UNIT1",
            records: 3,
            time_base: "20240110",
            style: NamespaceStyle::OnEnvelope,
        },
        SampleSource {
            patient_id: PATIENT,
            source_system: "SE2321000016-SYS2",
            care_giver: "SE2321000016-CG2",
            care_unit: "SE2321000016-UNIT2",
            records: 2,
            time_base: "20240201",
            style: NamespaceStyle::OnElements,
        },
        SampleSource {
            patient_id: PATIENT,
            source_system: "SE2321000016-SYS3",
            care_giver: "SE2321000016-CG1",
            care_unit: "SE2321000016-UNIT3",
            records: 0,
            time_base: "20240301",
            style: NamespaceStyle::OnEnvelope,
        },
    ]
}

fn records_of(set: &dyn InformationSet, body: &[u8]) -> Vec<Record> {
    match set.parse_response(body) {
        Ok(ProducerResponse::Records(records)) => records,
        other => panic!("{}: expected records, got {other:?}", set.descriptor().name),
    }
}

#[test]
fn every_adapter_reads_the_reference_request() {
    let Some(reference) = reference_dir() else {
        return;
    };
    for set in vaxel_adapters::all() {
        let name = set.descriptor().name;
        let Some((file, period)) = reference_request(name) else {
            // GetLaboratoryOrderOutcome:4 has no published request: use ours.
            let request = consumer_request(
                *set,
                &SampleQuery {
                    patient_id: PATIENT,
                    logical_address: "SE2321000016-A1B2",
                    period: Some(("20140101", "20150915")),
                    care_units: &["SE2321000016-UNIT1"],
                    source_system: Some("SE2321000016-SYS1"),
                    care_contacts: &[],
                },
            );
            let query = set.parse_request(request.as_bytes()).unwrap();
            assert_eq!(query.patient_id, PATIENT, "{name}");
            assert_eq!(query.care_units, ["SE2321000016-UNIT1"], "{name}");
            assert_eq!(query.source_system.as_deref(), Some("SE2321000016-SYS1"));
            assert_eq!(query.period_start.as_deref(), Some("20140101"));
            continue;
        };
        let path = reference.join("riv-ta").join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .replace("${patientId1}", PATIENT)
            .replace("${logicalAddress}", "SE2321000016-A1B2");
        let query = set
            .parse_request(text.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let patient = if name == "scheduling" {
            "188803099368"
        } else {
            PATIENT
        };
        assert_eq!(query.patient_id, patient, "{name}");
        assert_eq!(
            query
                .period_start
                .as_deref()
                .zip(query.period_end.as_deref()),
            period,
            "{name}"
        );
        assert!(
            query.care_units.is_empty() && query.record_ids.is_empty(),
            "{name}"
        );
        assert_eq!(query.source_system, None, "{name}");

        // Another contract's request is not this one's.
        let other = vaxel_adapters::all()
            .iter()
            .find(|o| o.descriptor().request_element != set.descriptor().request_element)
            .unwrap();
        let foreign = consumer_request(
            *other,
            &SampleQuery {
                patient_id: PATIENT,
                logical_address: "x",
                period: None,
                care_units: &[],
                source_system: None,
                care_contacts: &[],
            },
        );
        assert!(matches!(
            set.parse_request(foreign.as_bytes()),
            Err(AdapterError::UnexpectedElement { .. })
        ));
    }
}

#[test]
fn generated_requests_round_trip_every_filter() {
    for set in vaxel_adapters::all() {
        let request = consumer_request(
            *set,
            &SampleQuery {
                patient_id: PATIENT,
                logical_address: "SE2321000016-A1B2",
                period: Some(("20240101", "20240131")),
                care_units: &["SE2321000016-UNIT1", "SE2321000016-UNIT2"],
                source_system: Some("SE2321000016-SYS1"),
                care_contacts: &[],
            },
        );
        let query = set.parse_request(request.as_bytes()).unwrap();
        // Every filter the contract's request has (GetSubjectOfCareSchedule has none).
        let paths = &set.descriptor().request;
        let has = |path: &[&str]| !path.is_empty();
        assert_eq!(
            query,
            QueryRequest {
                patient_id: PATIENT.into(),
                period_start: has(paths.period_start).then(|| "20240101".into()),
                period_end: has(paths.period_end).then(|| "20240131".into()),
                care_units: if has(paths.care_unit) {
                    vec!["SE2321000016-UNIT1".into(), "SE2321000016-UNIT2".into()]
                } else {
                    vec![]
                },
                record_ids: vec![],
                source_system: has(paths.source_system).then(|| "SE2321000016-SYS1".into()),
                care_contacts: vec![],
            },
            "{}",
            set.descriptor().name
        );
        // No patient id: the request is refused, naming the field.
        let without = request.replace(PATIENT, "");
        assert_eq!(
            set.parse_request(without.as_bytes()),
            Err(AdapterError::MissingField("patientId"))
        );
    }
}

#[test]
fn producer_headers_are_read_exactly() {
    for set in vaxel_adapters::all() {
        for source in sources() {
            let body = producer_response(*set, &source);
            let records = records_of(*set, body.as_bytes());
            assert_eq!(records.len(), source.records, "{}", set.descriptor().name);
            for (i, record) in records.iter().enumerate() {
                let h = &record.header;
                assert_eq!(h.record_id.as_deref(), Some(&*record_id(*set, &source, i)));
                assert_eq!(h.care_unit.as_deref(), Some(source.care_unit));
                assert_eq!(h.time.as_deref(), Some(&*record_time(&source, i)));
                // Everything else, the facts for a citizen's overview included: whether
                // the patient may see it (the second of every three may not), its
                // title, its status.
                assert_eq!(
                    h,
                    &common::expected_header(*set, &source, i),
                    "{}",
                    set.descriptor().name
                );
                let bytes = &body.as_bytes()[record.span.clone()];
                let element = set.descriptor().record_element;
                assert!(
                    bytes.starts_with(b"<") && bytes.ends_with(format!("{element}>").as_bytes()),
                    "span {:?} is not the whole record",
                    record.span
                );
                // Inherited declarations are exactly those of the envelope layout.
                let inherited: Vec<&str> = record
                    .inherited_namespaces
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect();
                match source.style {
                    NamespaceStyle::OnEnvelope => assert_eq!(inherited, ["soap", "ns1", "ns2"]),
                    NamespaceStyle::OnElements => assert_eq!(inherited, ["soap", ""]),
                }
            }
        }
    }
}

fn outcomes() -> Vec<SourceOutcome> {
    vec![
        SourceOutcome {
            logical_address: "SE2321000016-SYS1".into(),
            status: SourceStatus::DataFromSource,
            timestamp: "20240315101500".into(),
        },
        SourceOutcome {
            logical_address: "SE2321000016-SYS2".into(),
            status: SourceStatus::DataFromCache,
            timestamp: "20240315101000".into(),
        },
        SourceOutcome {
            logical_address: "SE2321000016-SYS3".into(),
            status: SourceStatus::DataFromSource,
            timestamp: "20240315101500".into(),
        },
        SourceOutcome {
            logical_address: "SE2321000016-SYS4".into(),
            status: SourceStatus::NoDataSynchFailed {
                causing_agent: CausingAgent::ServiceProducer,
                code: "VP009".into(),
                text: "timeout after 29 s <producer> & \"retry\"".into(),
            },
            timestamp: "20240315101529".into(),
        },
    ]
}

/// Merges the sample responses of every source for `set`.
fn merged(set: &dyn InformationSet) -> (Vec<String>, Vec<Vec<Record>>, Vec<u8>) {
    let bodies: Vec<String> = sources()
        .iter()
        .map(|s| producer_response(set, s))
        .collect();
    let records: Vec<Vec<Record>> = bodies
        .iter()
        .map(|b| records_of(set, b.as_bytes()))
        .collect();
    let parts: Vec<MergeInput<'_>> = bodies
        .iter()
        .zip(&records)
        .map(|(body, records)| MergeInput {
            body: body.as_bytes(),
            records,
        })
        .collect();
    let mut out = Vec::new();
    set.write_merged_response(&mut out, &parts, &outcomes());
    (bodies, records, out)
}

#[test]
fn merge_round_trips_records_byte_for_byte() {
    for set in vaxel_adapters::all() {
        let name = set.descriptor().name;
        let (bodies, records, out) = merged(*set);
        let text = std::str::from_utf8(&out).unwrap();
        roxmltree::Document::parse(text)
            .unwrap_or_else(|e| panic!("{name}: merged response is not well-formed: {e}\n{text}"));

        let again = records_of(*set, &out);
        let originals: Vec<(&String, &Record)> = bodies
            .iter()
            .zip(&records)
            .flat_map(|(body, recs)| recs.iter().map(move |r| (body, r)))
            .collect();
        assert_eq!(again.len(), originals.len(), "{name}");
        for (merged_record, (body, original)) in again.iter().zip(&originals) {
            assert_eq!(merged_record.header, original.header, "{name}");
            // The record is the original bytes with its inherited declarations added
            // right after the element name, and nothing else changed.
            let bytes = &body.as_bytes()[original.span.clone()];
            let name_end = bytes
                .iter()
                .position(|b| matches!(b, b' ' | b'>' | b'/'))
                .unwrap();
            let mut expected = bytes[..name_end].to_vec();
            for (prefix, uri) in &original.inherited_namespaces {
                if prefix.is_empty() {
                    expected.extend_from_slice(format!(" xmlns=\"{uri}\"").as_bytes());
                } else {
                    expected.extend_from_slice(format!(" xmlns:{prefix}=\"{uri}\"").as_bytes());
                }
            }
            expected.extend_from_slice(&bytes[name_end..]);
            assert_eq!(
                String::from_utf8_lossy(&out[merged_record.span.clone()]),
                String::from_utf8_lossy(&expected),
                "{name}"
            );
        }

        // ProcessingStatus lists every source with its status, in order.
        let doc = roxmltree::Document::parse(text).unwrap();
        let lists: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name((PROCESSING_STATUS_NAMESPACE, "ProcessingStatusList")))
            .map(|n| {
                let child = |local: &str| {
                    n.children()
                        .find(|c| c.has_tag_name((PROCESSING_STATUS_NAMESPACE, local)))
                        .and_then(|c| c.text())
                        .unwrap_or_default()
                        .to_owned()
                };
                (child("logicalAddress"), child("statusCode"))
            })
            .collect();
        assert_eq!(
            lists,
            [
                ("SE2321000016-SYS1".into(), "DataFromSource".into()),
                ("SE2321000016-SYS2".into(), "DataFromCache".into()),
                ("SE2321000016-SYS3".into(), "DataFromSource".into()),
                ("SE2321000016-SYS4".into(), "NoDataSynchFailed".into()),
            ]
        );
        let error_text = doc
            .descendants()
            .find(|n| n.has_tag_name((PROCESSING_STATUS_NAMESPACE, "text")))
            .and_then(|n| n.text());
        assert_eq!(
            error_text,
            Some("timeout after 29 s <producer> & \"retry\"")
        );
        // The response element is in the contract namespace and ends with the result
        // the contract wants (or nothing).
        let response = doc
            .descendants()
            .find(|n| n.tag_name().name() == set.descriptor().response_element)
            .unwrap();
        assert_eq!(
            response.tag_name().namespace(),
            Some(set.descriptor().contract_namespace)
        );
        let last = response.children().rfind(|n| n.is_element()).unwrap();
        match &set.descriptor().result {
            Some(result) => {
                assert!(last.has_tag_name((result.namespace, "result")), "{name}");
                let code = last
                    .children()
                    .find(|c| c.has_tag_name((result.field_namespace, "resultCode")))
                    .and_then(|c| c.text());
                assert_eq!(code, Some("OK"), "{name}");
            }
            None => assert_eq!(last.tag_name().name(), set.descriptor().record_element),
        }
    }
}

#[test]
fn faults_are_reported_as_faults() {
    for set in vaxel_adapters::all() {
        let body = fault_response("VP009 [vp-1] Error connecting to service producer & <x>");
        assert_eq!(
            set.parse_response(body.as_bytes()),
            Ok(ProducerResponse::Fault(
                "VP009 [vp-1] Error connecting to service producer & <x>".into()
            ))
        );
    }
}

#[test]
fn malformed_and_dtd_bearing_input_is_refused() {
    for set in vaxel_adapters::all() {
        let good = producer_response(*set, &sources()[0]);
        let record = set.descriptor().record_element;
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("truncated", good[..good.len() / 2].to_owned()),
            (
                "doctype",
                good.replacen(
                    "<soap:Envelope",
                    "<!DOCTYPE soap:Envelope [<!ENTITY x \"y\">]><soap:Envelope",
                    1,
                ),
            ),
            (
                "billion laughs",
                format!(
                    "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>{}",
                    &good[good.find("<soap:Envelope").unwrap()..]
                ),
            ),
            ("unknown entity", good.replacen("9", "&x;", 1)),
            ("mismatched end tag", good.replacen(&format!("</ns1:{record}>"), "</ns1:other>", 1)),
            ("unbound prefix", good.replacen("<ns2:", "<zz:", 1)),
            ("bare ampersand", good.replacen("9", "& 9", 1)),
            ("second root", format!("{good}<x/>")),
            ("text after root", format!("{good}text")),
            ("control character", good.replacen("9", "\u{1}", 1)),
            ("not SOAP", "<Envelope><Body/></Envelope>".into()),
        ];
        for (what, input) in cases {
            let result = set.parse_response(input.as_bytes());
            assert!(
                matches!(result, Err(AdapterError::Malformed { .. })),
                "{}: {what}: {result:?}",
                set.descriptor().name
            );
            assert!(set.parse_request(input.as_bytes()).is_err(), "{what}");
        }
        // A well-formed SOAP answer with another contract's response element.
        let other = vaxel_adapters::all()
            .iter()
            .find(|o| o.descriptor().response_element != set.descriptor().response_element)
            .unwrap();
        assert!(matches!(
            set.parse_response(producer_response(*other, &sources()[0]).as_bytes()),
            Err(AdapterError::UnexpectedElement { .. })
        ));
    }
}

#[test]
fn filter_helper_keeps_what_the_query_asks_for() {
    for set in vaxel_adapters::all() {
        let source = &sources()[0]; // records on 20240110, 20240111, 20240112
        let body = producer_response(*set, source);
        let all = records_of(*set, body.as_bytes());
        let ids = |records: &[Record]| -> Vec<String> {
            records
                .iter()
                .map(|r| r.header.record_id.clone().unwrap())
                .collect()
        };
        let mut records = all.clone();
        retain_matching(
            &QueryRequest {
                patient_id: PATIENT.into(),
                period_start: Some("20240111".into()),
                period_end: Some("20240111".into()),
                ..Default::default()
            },
            &mut records,
        );
        let kept = ids(&records);
        if set.record_interval().is_some() {
            // An interval that starts the day before may still run into the period
            // (an alert still valid, a stay not ended): the contract's own tests say
            // which; here only that the day's record is kept and the next day's is not.
            assert!(kept.contains(&record_id(*set, source, 1)), "{kept:?}");
            assert!(!kept.contains(&record_id(*set, source, 2)), "{kept:?}");
        } else {
            assert_eq!(kept, [record_id(*set, source, 1)]);
        }

        let mut records = all.clone();
        retain_matching(
            &QueryRequest {
                patient_id: PATIENT.into(),
                care_units: vec!["SE2321000016-UNIT2".into()],
                ..Default::default()
            },
            &mut records,
        );
        assert!(records.is_empty());

        // (A contract whose records name no source system cannot be asked for one.)
        let has_source = !set.descriptor().record.source_system.is_empty();
        let mut records = all.clone();
        retain_matching(
            &QueryRequest {
                patient_id: PATIENT.into(),
                care_units: vec!["se2321000016-unit1".into()],
                source_system: has_source.then(|| "SE2321000016-SYS1".into()),
                record_ids: vec![record_id(*set, source, 2)],
                ..Default::default()
            },
            &mut records,
        );
        assert_eq!(ids(&records), [record_id(*set, source, 2)]);
    }
}

fn xmllint(schema: &Path, document: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.xml");
    std::fs::write(&file, document).unwrap();
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(&file)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn care_documentation_validates_against_the_reference_schema() {
    let Some(reference) = reference_dir() else {
        return;
    };
    if !xmllint_available() {
        return;
    }
    let schema = reference.join("validation/soap11-care-documentation.xsd");
    let set = vaxel_adapters::by_name("care-documentation").unwrap();
    for source in sources() {
        let body = producer_response(set, &source);
        xmllint(&schema, body.as_bytes())
            .unwrap_or_else(|e| panic!("sample response is not valid:\n{e}\n{body}"));
    }
    let (_, _, out) = merged(set);
    xmllint(&schema, &out).unwrap_or_else(|e| {
        panic!(
            "merged response is not valid:\n{e}\n{}",
            String::from_utf8_lossy(&out)
        )
    });
    // The check has teeth: a merged response without the records' required body fails.
    let broken =
        String::from_utf8_lossy(&out).replace("careDocumentationBody", "careDocumentationBodyX");
    assert!(xmllint(&schema, broken.as_bytes()).is_err());
}

#[test]
fn processing_status_header_validates_against_our_schema() {
    if !xmllint_available() {
        return;
    }
    let ours = repo_root()
        .join("specs/schemas/interoperability_headers_1.xsd")
        .canonicalize()
        .unwrap();
    // A SOAP wrapper whose Header is validated strictly against our schema (the Body is
    // checked by the contract schemas where we have them).
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("soap11-processing-status.xsd");
    std::fs::write(
        &wrapper,
        format!(
            r###"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  targetNamespace="http://schemas.xmlsoap.org/soap/envelope/" elementFormDefault="qualified">
  <xs:import namespace="{PROCESSING_STATUS_NAMESPACE}" schemaLocation="file://{}"/>
  <xs:element name="Envelope"><xs:complexType><xs:sequence>
    <xs:element name="Header"><xs:complexType><xs:sequence>
      <xs:any namespace="##other" processContents="strict" minOccurs="1" maxOccurs="unbounded"/>
    </xs:sequence></xs:complexType></xs:element>
    <xs:element name="Body"><xs:complexType><xs:sequence>
      <xs:any namespace="##other" processContents="lax" minOccurs="1" maxOccurs="1"/>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"###,
            ours.display()
        ),
    )
    .unwrap();
    for set in vaxel_adapters::all() {
        let (_, _, out) = merged(*set);
        xmllint(&wrapper, &out).unwrap_or_else(|e| {
            panic!(
                "{}: ProcessingStatus is not valid:\n{e}",
                set.descriptor().name
            )
        });
    }
    // The check has teeth: elements out of the schema's order fail.
    let (_, _, out) = merged(vaxel_adapters::all()[0]);
    let swapped = String::from_utf8_lossy(&out).replacen(
        "<statusCode>DataFromSource</statusCode><isResponseFromCache>false</isResponseFromCache>",
        "<isResponseFromCache>false</isResponseFromCache><statusCode>DataFromSource</statusCode>",
        1,
    );
    assert_ne!(swapped.as_bytes(), &out[..]);
    assert!(xmllint(&wrapper, swapped.as_bytes()).is_err());
}

/// Every contract's `careContactId` (the header's `careContactId`; in GetCareContacts the
/// contact's own id), written where its request schema puts it, keeps exactly the records
/// of that care contact.
#[test]
fn care_contact_filter_per_contract() {
    for set in vaxel_adapters::all() {
        let name = set.descriptor().name;
        if set.descriptor().request.care_contact.is_empty()
            && set.descriptor().request.record_id.is_empty()
        {
            continue; // its request has no careContactId (JoL, GetSubjectOfCareSchedule)
        }
        let source = &sources()[0];
        let contact = if name == "care-contacts" {
            record_id(*set, source, 0)
        } else {
            record_care_contact(*set, source, 0).expect("record 0 names a care contact")
        };
        let request = consumer_request(
            *set,
            &SampleQuery {
                patient_id: PATIENT,
                logical_address: "SE2321000016-NATIONAL",
                period: None,
                care_units: &[],
                source_system: None,
                care_contacts: &[&contact],
            },
        );
        common::assert_schema_valid(*set, &request);
        let query = set.parse_request(request.as_bytes()).unwrap();
        let mut records = records_of(*set, producer_response(*set, source).as_bytes());
        assert_eq!(records.len(), 3);
        retain_matching(&query, &mut records);
        let kept: Vec<String> = records
            .into_iter()
            .map(|r| r.header.record_id.unwrap())
            .collect();
        assert_eq!(kept, [record_id(*set, source, 0)], "{name}");
    }
}

/// Records about anyone but the queried patient are never kept, whatever else matches
/// (a record that names no patient: `vaxel_adapter`'s filter tests).
#[test]
fn records_about_another_patient_are_never_kept() {
    for set in vaxel_adapters::all() {
        let name = set.descriptor().name;
        let source = &sources()[0];
        let query = set
            .parse_request(
                consumer_request(
                    *set,
                    &SampleQuery {
                        patient_id: PATIENT,
                        logical_address: "SE2321000016-NATIONAL",
                        period: None,
                        care_units: &[],
                        source_system: None,
                        care_contacts: &[],
                    },
                )
                .as_bytes(),
            )
            .unwrap();
        let other = SampleSource {
            patient_id: "201212121212",
            ..sources()[0]
        };
        let records = records_of(*set, producer_response(*set, &other).as_bytes());
        let has_path = !set.descriptor().record.patient_id.is_empty();
        if has_path {
            assert!(
                records
                    .iter()
                    .all(|r| r.header.patient_id.as_deref() == Some("201212121212")),
                "{name}"
            );
        }
        assert_eq!(
            records
                .iter()
                .filter(|r| about_patient(set.descriptor(), &query, &r.header))
                .count(),
            if has_path { 0 } else { 3 },
            "{name}: another patient's records"
        );
        let mut kept = records.clone();
        retain_matching(&query, &mut kept);
        assert_eq!(kept.is_empty(), has_path, "{name}");
        // The queried patient's own records pass.
        let own = records_of(*set, producer_response(*set, source).as_bytes());
        assert!(own
            .iter()
            .all(|r| about_patient(set.descriptor(), &query, &r.header)));
    }
}
