//! GetCareDocumentation 2, GetDiagnosis 2 and GetAlertInformation 2 (domain
//! `clinicalprocess:healthcond:description` 2.1): the sample generator's records,
//! requests and merged answers validate against the official schemas; the adapters read
//! the fields the specification means from schema-valid records, report a field that a
//! record leaves out as absent, and the request filters re-check records as the TKB says.

mod common;

use common::{assert_schema_invalid, assert_schema_valid};
use vaxel_adapter::{
    retain_matching, CausingAgent, InformationSet, MergeInput, MergeNotes, ProducerResponse,
    Record, RecordHeader, SourceOutcome, SourceStatus,
};
use vaxel_adapters::samples::{
    consumer_request, producer_response, record_care_contact, record_id, record_time,
    NamespaceStyle, SampleQuery, SampleSource,
};
use vaxel_adapters::{AlertInformation, CareDocumentation, Diagnosis};

const PATIENT: &str = "191212121212";

/// The three sets of the domain.
fn sets() -> [&'static dyn InformationSet; 3] {
    [&CareDocumentation, &Diagnosis, &AlertInformation]
}

/// Source A: six records from 2024-01-10 (every kind of alert, note and diagnosis the
/// generator writes), declarations on the envelope.
fn source_a(style: NamespaceStyle) -> SampleSource<'static> {
    SampleSource {
        patient_id: PATIENT,
        source_system: "SE2321000016-SRC1",
        care_giver: "SE2321000016-CG1",
        care_unit: "SE2321000016-CU1",
        records: 6,
        time_base: "20240110",
        style,
    }
}

/// Source B: another care giver, unit and system, three records from 2024-01-12, each
/// record declaring the core namespace itself.
fn source_b() -> SampleSource<'static> {
    SampleSource {
        patient_id: PATIENT,
        source_system: "SE2321000016-SRC2",
        care_giver: "SE2321000016-CG2",
        care_unit: "SE2321000016-CU2",
        records: 3,
        time_base: "20240112",
        style: NamespaceStyle::OnElements,
    }
}

fn records_of(set: &dyn InformationSet, xml: &str) -> Vec<Record> {
    match set.parse_response(xml.as_bytes()) {
        Ok(ProducerResponse::Records(records)) => records,
        other => panic!("{}: expected records, got {other:?}", set.descriptor().name),
    }
}

/// The header the adapter must read from record `i` of `source`.
fn expected_header(set: &dyn InformationSet, source: &SampleSource<'_>, i: usize) -> RecordHeader {
    RecordHeader {
        record_id: Some(record_id(set, source, i)),
        source_system: Some(source.source_system.into()),
        care_giver: Some(source.care_giver.into()),
        care_unit: Some(source.care_unit.into()),
        time: Some(record_time(source, i)),
        patient_id: Some(source.patient_id.into()),
        care_contact: record_care_contact(set, source, i),
        ..common::expected_header(set, source, i)
    }
}

#[test]
fn samples_are_schema_valid_and_read_as_written() {
    for set in sets() {
        // Thirteen records over the new year: every content variant twice, dates that
        // roll over.
        let long = SampleSource {
            records: 13,
            time_base: "20241225",
            ..source_a(NamespaceStyle::OnElements)
        };
        for source in [
            source_a(NamespaceStyle::OnEnvelope),
            source_a(NamespaceStyle::OnElements),
            source_b(),
            long,
        ] {
            let response = producer_response(set, &source);
            if !assert_schema_valid(set, &response) {
                return;
            }
            let records = records_of(set, &response);
            let headers: Vec<RecordHeader> = records.into_iter().map(|r| r.header).collect();
            let expected: Vec<RecordHeader> = (0..source.records)
                .map(|i| expected_header(set, &source, i))
                .collect();
            assert_eq!(headers, expected, "{}", set.descriptor().name);
        }
    }
}

#[test]
fn samples_carry_the_bodies_a_journal_system_sends() {
    let source = source_a(NamespaceStyle::OnEnvelope);
    let diagnoses = producer_response(&Diagnosis, &source);
    for needle in [
        "<ns2:typeOfDiagnosis>Huvuddiagnos</ns2:typeOfDiagnosis>",
        "<ns2:typeOfDiagnosis>Bidiagnos</ns2:typeOfDiagnosis>",
        "<ns2:code>E11.9</ns2:code><ns2:codeSystem>1.2.752.116.1.1.1.1.3</ns2:codeSystem>",
        "<ns2:chronicDiagnosis>true</ns2:chronicDiagnosis>",
        // The secondary diagnosis (record 3) points at its main diagnosis (record 2).
        "<ns2:relatedDiagnosis><ns2:documentId>SE2321000016-SRC1-diagnosis-2</ns2:documentId>",
        "<ns2:approvedForPatient>true</ns2:approvedForPatient>",
    ] {
        assert!(diagnoses.contains(needle), "diagnosis lacks {needle}");
    }
    // documentTitle and documentTime are 0..0 in GetDiagnosis and GetAlertInformation.
    let alerts = producer_response(&AlertInformation, &source);
    for body in [&diagnoses, &alerts] {
        assert!(!body.contains("documentTime") && !body.contains("documentTitle"));
    }
    for needle in [
        "<ns2:code>upp-okh</ns2:code>",
        "<ns2:atcSubstance><ns2:code>J01CE02</ns2:code>",
        "<ns2:pharmaceuticalTreatment><ns2:code>B01AA03</ns2:code>",
        "<ns2:communicableDiseaseCode><ns2:code>B18.2</ns2:code>",
        "<ns2:disease><ns2:code>D68.0</ns2:code>",
        "<ns2:hypersensitivityAgent>Jordnöt</ns2:hypersensitivityAgent>",
        "<ns2:restrictionOfCareComment>",
        "<ns2:obsoleteTime>",
        "<ns2:ascertainedDate>20240110</ns2:ascertainedDate>",
    ] {
        assert!(alerts.contains(needle), "alert information lacks {needle}");
    }
    let notes = producer_response(&CareDocumentation, &source);
    for code in ["utr", "bes", "atb", "sam", "auf"] {
        let needle = format!("<ns2:clinicalDocumentNoteCode>{code}</ns2:clinicalDocumentNoteCode>");
        assert!(notes.contains(&needle), "care documentation lacks {needle}");
    }
    assert!(notes.contains("<ns2:dissentintOpinion>"));
    assert!(notes.contains("blodtryck &lt; 140/90"));
}

/// The query of every filter the contracts share, for the sources above.
fn full_query(
    period: Option<(&'static str, &'static str)>,
    care_units: &'static [&'static str],
    source_system: Option<&'static str>,
) -> SampleQuery<'static> {
    SampleQuery {
        patient_id: PATIENT,
        logical_address: "SE2321000016-NATIONAL",
        period,
        care_units,
        source_system,
        care_contacts: &[],
    }
}

#[test]
fn requests_are_schema_valid_and_read_back() {
    for set in sets() {
        for query in [
            full_query(
                Some(("20240101", "20241231")),
                &["SE2321000016-CU1", "SE2321000016-CU2"],
                Some("SE2321000016-SRC1"),
            ),
            full_query(None, &[], None),
        ] {
            let request = consumer_request(set, &query);
            if !assert_schema_valid(set, &request) {
                return;
            }
            let parsed = set.parse_request(request.as_bytes()).unwrap();
            assert_eq!(parsed.patient_id, PATIENT);
            assert_eq!(
                parsed
                    .period_start
                    .as_deref()
                    .zip(parsed.period_end.as_deref()),
                query.period
            );
            assert_eq!(parsed.care_units, query.care_units);
            assert_eq!(parsed.source_system.as_deref(), query.source_system);
        }
    }
}

/// The merged answer of sources A (from source) and B (from cache) with one record of A
/// withheld, and a third source's outcome `extra`, if any.
fn merged(set: &dyn InformationSet, extra: Option<SourceOutcome>) -> String {
    let bodies = [
        producer_response(set, &source_a(NamespaceStyle::OnEnvelope)),
        producer_response(set, &source_b()),
    ];
    let mut records: Vec<Vec<Record>> = bodies.iter().map(|b| records_of(set, b)).collect();
    // One record withheld (consent).
    records[0].remove(1);
    let parts: Vec<MergeInput<'_>> = bodies
        .iter()
        .zip(&records)
        .map(|(body, records)| MergeInput {
            body: body.as_bytes(),
            records,
        })
        .collect();
    let mut sources = vec![
        SourceOutcome {
            logical_address: "SE2321000016-SRC1".into(),
            status: SourceStatus::DataFromSource,
            timestamp: "20240315101500".into(),
        },
        SourceOutcome {
            logical_address: "SE2321000016-SRC2".into(),
            status: SourceStatus::DataFromCache,
            timestamp: "20240315090000".into(),
        },
    ];
    sources.extend(extra);
    let mut out = Vec::new();
    set.write_merged_response_noting(
        &mut out,
        &parts,
        &sources,
        &MergeNotes {
            withheld_records: 1,
        },
    );
    String::from_utf8(out).unwrap()
}

#[test]
fn merged_answers_are_schema_valid() {
    for set in sets() {
        let merged = merged(set, None);
        if !assert_schema_valid(set, &merged) {
            return;
        }
        assert_eq!(records_of(set, &merged).len(), 5 + 3);
    }
}

/// A partial answer (one source failed). The official interoperability headers schema
/// makes `lastSuccessfulSynch` 1..1 (its table says "Empty" for `NoDataSynchFailed`, i.e.
/// an empty element): the merged-response writer writes it empty.
#[test]
fn partial_answers_are_schema_valid() {
    for set in sets() {
        let failed = SourceOutcome {
            logical_address: "SE2321000016-SRC3".into(),
            status: SourceStatus::NoDataSynchFailed {
                causing_agent: CausingAgent::ServiceProducer,
                code: "VP009".into(),
                text: "Timeout".into(),
            },
            timestamp: "20240315101529".into(),
        };
        assert_schema_valid(set, &merged(set, Some(failed)));
    }
}

/// `xml` without the `n`-th (0-based) element `<ns2:{local}>…</ns2:{local}>` (the envelope
/// layout's core prefix); panics if there is no such element.
fn without(xml: &str, local: &str, n: usize) -> String {
    let open = format!("<ns2:{local}>");
    let close = format!("</ns2:{local}>");
    let start = xml
        .match_indices(&open)
        .nth(n)
        .unwrap_or_else(|| panic!("no {open} number {n}"))
        .0;
    let end = start + xml[start..].find(&close).unwrap() + close.len();
    format!("{}{}", &xml[..start], &xml[end..])
}

/// Removes each of `optional` from the first record of source A (envelope layout), checks
/// that the record still validates, and that the first record's header is then
/// `expected(header)` while the other records are read as before.
fn check_optional_fields(
    set: &dyn InformationSet,
    optional: &[&str],
    expected: impl Fn(RecordHeader) -> RecordHeader,
) {
    let source = source_a(NamespaceStyle::OnEnvelope);
    let mut response = producer_response(set, &source);
    for local in optional {
        response = without(&response, local, 0);
    }
    if !assert_schema_valid(set, &response) {
        return;
    }
    let headers: Vec<RecordHeader> = records_of(set, &response)
        .into_iter()
        .map(|r| r.header)
        .collect();
    let mut wanted: Vec<RecordHeader> = (0..source.records)
        .map(|i| expected_header(set, &source, i))
        .collect();
    wanted[0] = expected(wanted[0].clone());
    assert_eq!(
        headers,
        wanted,
        "{} without {optional:?}",
        set.descriptor().name
    );
}

#[test]
fn missing_optional_fields_are_read_as_absent() {
    // The care unit and care giver are optional in HealthcareProfessionalType: their
    // absence must not be filled from the org unit or the professional's HSA id.
    for set in sets() {
        check_optional_fields(
            set,
            &[
                "healthcareProfessionalCareUnitHSAId",
                "healthcareProfessionalCareGiverHSAId",
            ],
            |h| RecordHeader {
                care_unit: None,
                care_giver: None,
                ..h
            },
        );
        // Optional header fields the adapter does not read change nothing.
        check_optional_fields(
            set,
            &[
                "healthcareProfessionalOrgUnit",
                "legalAuthenticator",
                "healthcareProfessionalName",
            ],
            |h| h,
        );
        // Without careContactId the record names no care contact.
        check_optional_fields(set, &["careContactId"], |h| RecordHeader {
            care_contact: None,
            ..h
        });
    }
    // A note without documentTime has no time (not its authorTime or signatureTime);
    // without documentTitle its title is the note's own (clinicalDocumentNoteTitle).
    check_optional_fields(
        &CareDocumentation,
        &["documentTitle", "documentTime"],
        |h| RecordHeader {
            time: None,
            title: Some("Utredning yrsel".into()),
            ..h
        },
    );
    // A diagnosis without diagnosisTime has no time; without code or chronicity it is
    // still read.
    check_optional_fields(&Diagnosis, &["diagnosisTime"], |h| RecordHeader {
        time: None,
        ..h
    });
    // Without its code a diagnosis has no title (the contract has no documentTitle).
    check_optional_fields(&Diagnosis, &["chronicDiagnosis", "diagnosisCode"], |h| {
        RecordHeader { title: None, ..h }
    });
    // An alert about a drug without the substance's code: the kind of alert.
    check_optional_fields(
        &AlertInformation,
        &["pharmaceuticalHypersensitivity"],
        |h| RecordHeader {
            title: Some("Överkänslighet".into()),
            ..h
        },
    );
    // An alert without a validity start has no time (not its end, verifiedTime or
    // obsoleteTime); the schema allows it although the TKB makes the start 1..1.
    check_optional_fields(&AlertInformation, &["start"], |h| RecordHeader {
        time: None,
        ..h
    });
    check_optional_fields(
        &AlertInformation,
        &[
            "ascertainedDate",
            "verifiedTime",
            "alertInformationComment",
            "degreeOfCertainty",
        ],
        |h| h,
    );
}

#[test]
fn broken_records_are_refused_by_the_schema() {
    let source = source_a(NamespaceStyle::OnEnvelope);
    // A note's header renamed.
    let notes = producer_response(&CareDocumentation, &source).replacen(
        "careDocumentationHeader>",
        "careDocumentationHeaderX>",
        2,
    );
    assert_schema_invalid(&CareDocumentation, &notes);
    // A diagnosis without its required typeOfDiagnosis.
    let diagnoses = without(
        &producer_response(&Diagnosis, &source),
        "typeOfDiagnosis",
        0,
    );
    assert_schema_invalid(&Diagnosis, &diagnoses);
    // The old demo shape: a documentTime after patientId (the header's order is fixed).
    let misplaced = producer_response(&Diagnosis, &source).replacen(
        "</ns2:patientId>",
        "</ns2:patientId><ns2:documentTime>20240110093000</ns2:documentTime>",
        1,
    );
    assert_schema_invalid(&Diagnosis, &misplaced);
    // An alert without its required typeOfAlertInformation, or with a validity start that
    // is a date instead of a time stamp.
    let alerts = producer_response(&AlertInformation, &source);
    assert_schema_invalid(
        &AlertInformation,
        &without(&alerts, "typeOfAlertInformation", 0),
    );
    assert_schema_invalid(
        &AlertInformation,
        &alerts.replacen("<ns2:start>20240110093000", "<ns2:start>20240110", 1),
    );
}

/// The ids left after re-checking the records of sources A and B against `query`.
fn kept(set: &dyn InformationSet, query: &SampleQuery<'_>) -> Vec<String> {
    let request = consumer_request(set, query);
    assert_schema_valid(set, &request);
    let parsed = set.parse_request(request.as_bytes()).unwrap();
    let mut records: Vec<Record> = [source_a(NamespaceStyle::OnEnvelope), source_b()]
        .iter()
        .flat_map(|source| records_of(set, &producer_response(set, source)))
        .collect();
    retain_matching(&parsed, &mut records);
    records
        .into_iter()
        .map(|r| r.header.record_id.unwrap())
        .collect()
}

/// Ids of records `indices` of `source`.
fn ids(set: &dyn InformationSet, source: &SampleSource<'_>, indices: &[usize]) -> Vec<String> {
    indices.iter().map(|&i| record_id(set, source, i)).collect()
}

#[test]
fn request_filters_are_honoured() {
    // Source A: records on 10..=15 January (record time at 09:30), unit CU1, system SRC1.
    // Source B: records on 12..=14 January, unit CU2, system SRC2.
    let a = source_a(NamespaceStyle::OnEnvelope);
    let b = source_b();
    for set in sets() {
        let both = |x: &[usize], y: &[usize]| [ids(set, &a, x), ids(set, &b, y)].concat();
        // Alerts are valid from their start on (all but one open, that one until April):
        // every alert that starts before a period's end overlaps it.
        let alert = set.record_interval().is_some();
        let pick = |other: Vec<String>, alerts: Vec<String>| if alert { alerts } else { other };
        // No filter: everything.
        assert_eq!(
            kept(set, &full_query(None, &[], None)),
            both(&[0, 1, 2, 3, 4, 5], &[0, 1, 2])
        );
        // timePeriod: whole days, both ends included.
        assert_eq!(
            kept(set, &full_query(Some(("20240111", "20240113")), &[], None)),
            pick(both(&[1, 2, 3], &[0, 1]), both(&[0, 1, 2, 3], &[0, 1]))
        );
        assert_eq!(
            kept(set, &full_query(Some(("20240114", "20240114")), &[], None)),
            pick(both(&[4], &[2]), both(&[0, 1, 2, 3, 4], &[0, 1, 2]))
        );
        // careUnitHSAId (one or several) against healthcareProfessionalCareUnitHSAId.
        assert_eq!(
            kept(set, &full_query(None, &["SE2321000016-CU2"], None)),
            both(&[], &[0, 1, 2])
        );
        assert_eq!(
            kept(
                set,
                &full_query(
                    Some(("20240115", "20240131")),
                    &["SE2321000016-CU1", "SE2321000016-CU2"],
                    None
                )
            ),
            pick(both(&[5], &[]), both(&[0, 1, 2, 3, 4, 5], &[0, 1, 2]))
        );
        // sourceSystemHSAId against the header's source system.
        assert_eq!(
            kept(set, &full_query(None, &[], Some("SE2321000016-SRC1"))),
            both(&[0, 1, 2, 3, 4, 5], &[])
        );
        // All together.
        assert_eq!(
            kept(
                set,
                &full_query(
                    Some(("20240113", "20240114")),
                    &["SE2321000016-CU2"],
                    Some("SE2321000016-SRC2")
                )
            ),
            pick(both(&[], &[1, 2]), both(&[], &[0, 1, 2]))
        );
    }
}

/// TKB 2.1.18 §7.3.3 (GetAlertInformation, `timePeriod`): an alert is returned when its
/// validity interval, from `validityTimePeriod/start` to `obsoleteTime` or
/// `validityTimePeriod/end` (open when neither is set), overlaps the requested dates: an
/// alert that began before the period and is still valid is returned.
#[test]
fn alert_period_overlaps_the_validity_interval() {
    let set = &AlertInformation;
    let source = source_a(NamespaceStyle::OnEnvelope);
    let response = producer_response(set, &source);
    let kept_in = |start: &'static str, end: &'static str| -> Vec<String> {
        let query = set
            .parse_request(
                consumer_request(set, &full_query(Some((start, end)), &[], None)).as_bytes(),
            )
            .unwrap();
        let mut records = records_of(set, &response);
        retain_matching(&query, &mut records);
        records
            .into_iter()
            .map(|r| r.header.record_id.unwrap())
            .collect()
    };
    // Every alert starts in January and is still valid in March: the open ones, and
    // record 1 (a treatment planned for 182 days, made obsolete after 90, in April).
    assert_eq!(
        kept_in("20240301", "20240331"),
        ids(set, &source, &[0, 1, 2, 3, 4, 5])
    );
    // In June record 1 is obsolete, though its planned validity runs until July: the
    // earlier end closes it.
    assert_eq!(
        kept_in("20240601", "20240630"),
        ids(set, &source, &[0, 2, 3, 4, 5])
    );
    // Nothing had begun in 2023.
    assert!(kept_in("20230101", "20231231").is_empty());
}

/// TKB 2.1.18 §7.2.3 (GetDiagnosis, `timePeriod`): a diagnosis is returned when any of
/// `authorTime`, `signatureTime` or `diagnosisTime` lies within the requested dates (and
/// likewise `documentTime`, `authorTime`, `signatureTime`, `dissentingOpinion/authorTime`
/// for GetCareDocumentation).
#[test]
fn diagnosis_period_matches_any_of_its_times() {
    let set = &Diagnosis;
    let source = source_a(NamespaceStyle::OnEnvelope);
    // Record 1 was assessed in December but registered (authorTime) on 11 January.
    let response = producer_response(set, &source).replacen(
        "<ns2:diagnosisTime>20240111093000</ns2:diagnosisTime>",
        "<ns2:diagnosisTime>20231220093000</ns2:diagnosisTime>",
        1,
    );
    let query = set
        .parse_request(
            consumer_request(set, &full_query(Some(("20240111", "20240111")), &[], None))
                .as_bytes(),
        )
        .unwrap();
    let mut records = records_of(set, &response);
    retain_matching(&query, &mut records);
    assert_eq!(records.len(), 1);
}
