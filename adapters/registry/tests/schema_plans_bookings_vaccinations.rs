//! GetCarePlans 2 (domain `clinicalprocess:logistics:logistics` 3.0), GetSubjectOfCareSchedule 1
//! (`crm:scheduling` 1.1) and GetVaccinationHistory 2 (`clinicalprocess:activityprescription:
//! actoutcome` 2.0 with the 2.1 extension): the sample generator's records, its requests,
//! the official sample requests, the merged answers and the overview requests validate
//! against the official schemas; the adapters read what the schemas mean, also the new
//! header facts (approved for the patient, title, status) and their fallbacks.

mod common;

use common::{assert_schema_invalid, assert_schema_valid, expected_header};
use vaxel_adapter::{
    CausingAgent, InformationSet, MergeInput, MergeNotes, ProducerResponse, QueryRequest, Record,
    RecordHeader, SourceOutcome, SourceStatus, NULLIFIED_STATUS,
};
use vaxel_adapters::samples::{
    consumer_request, producer_response, record_id, NamespaceStyle, SampleQuery, SampleSource,
};
use vaxel_adapters::{CarePlans, SubjectOfCareSchedule, VaccinationHistory};

const PATIENT: &str = "191212121212";

fn sets() -> [&'static dyn InformationSet; 3] {
    [&CarePlans, &SubjectOfCareSchedule, &VaccinationHistory]
}

fn source(style: NamespaceStyle, records: usize) -> SampleSource<'static> {
    SampleSource {
        patient_id: PATIENT,
        source_system: "SE2321000016-SRC1",
        care_giver: "SE2321000016-CG1",
        care_unit: "SE2321000016-CU1",
        records,
        time_base: "20240110",
        style,
    }
}

fn other_source() -> SampleSource<'static> {
    SampleSource {
        patient_id: PATIENT,
        source_system: "SE2321000016-SRC2",
        care_giver: "SE2321000016-CG2",
        care_unit: "SE2321000016-CU2",
        records: 2,
        time_base: "20240301",
        style: NamespaceStyle::OnElements,
    }
}

fn records_of(set: &dyn InformationSet, xml: &str) -> Vec<Record> {
    match set.parse_response(xml.as_bytes()) {
        Ok(ProducerResponse::Records(records)) => records,
        other => panic!("{}: expected records, got {other:?}", set.descriptor().name),
    }
}

fn headers_of(set: &dyn InformationSet, xml: &str) -> Vec<RecordHeader> {
    records_of(set, xml).into_iter().map(|r| r.header).collect()
}

fn query<'a>(
    period: Option<(&'a str, &'a str)>,
    care_units: &'a [&'a str],
    source_system: Option<&'a str>,
) -> SampleQuery<'a> {
    SampleQuery {
        patient_id: PATIENT,
        logical_address: "SE2321000016-NATIONAL",
        period,
        care_units,
        source_system,
        care_contacts: &[],
    }
}

/// A reference file's text with the load tests' template variables filled in.
fn reference_text(path: &str) -> Option<String> {
    let reference = common::reference()?;
    let file = reference.join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    Some(
        text.replace("${patientId1}", PATIENT)
            .replace("${logicalAddress}", "SE2321000016-A1B2"),
    )
}

#[test]
fn samples_are_schema_valid_and_read_as_written() {
    for set in sets() {
        // Nine records: every content variant twice, every third not approved.
        for source in [
            source(NamespaceStyle::OnEnvelope, 9),
            source(NamespaceStyle::OnElements, 9),
            other_source(),
        ] {
            let response = producer_response(set, &source);
            if !assert_schema_valid(set, &response) {
                return;
            }
            let expected: Vec<RecordHeader> = (0..source.records)
                .map(|i| expected_header(set, &source, i))
                .collect();
            assert_eq!(
                headers_of(set, &response),
                expected,
                "{}",
                set.descriptor().name
            );
        }
    }
}

#[test]
fn samples_carry_what_a_citizen_would_see() {
    let plans = producer_response(&CarePlans, &source(NamespaceStyle::OnEnvelope, 4));
    for needle in [
        // The first plan is a coordinated individual plan, with the municipality.
        "<ns2:typeOfCarePlanEnum>SIP</ns2:typeOfCarePlanEnum>",
        "<ns2:documentTitle>Samordnad individuell plan (SIP)</ns2:documentTitle>",
        "<ns2:extension>SE2120001234-HEMTJ</ns2:extension>",
        "<ns2:mediaType>text/plain</ns2:mediaType>",
        "<ns2:typeOfCarePlanEnum>SPU</ns2:typeOfCarePlanEnum>",
        "<ns2:approvedForPatient>false</ns2:approvedForPatient>",
    ] {
        assert!(plans.contains(needle), "care plans lack {needle}");
    }
    let bookings = producer_response(
        &SubjectOfCareSchedule,
        &source(NamespaceStyle::OnEnvelope, 4),
    );
    for needle in [
        "<ns2:startTimeInclusive>20240110093000</ns2:startTimeInclusive>",
        "<ns2:endTimeExclusive>20240110100000</ns2:endTimeExclusive>",
        "<ns2:careTypeName>Diabetessköterska</ns2:careTypeName>",
        "<ns2:subject_of_care>191212121212</ns2:subject_of_care>",
        "<x:isInvitation xmlns:x=\"urn:riv:crm:scheduling:1.1\">true</x:isInvitation>",
    ] {
        assert!(bookings.contains(needle), "bookings lack {needle}");
    }
    assert!(!bookings.contains("approvedForPatient"));
    let vaccinations =
        producer_response(&VaccinationHistory, &source(NamespaceStyle::OnEnvelope, 4));
    for needle in [
        "<ns2:vaccineName><ns2:displayName>Vaxigrip Tetra</ns2:displayName></ns2:vaccineName>",
        "<ns2:code>J07BA01</ns2:code>",
        "<ns2:displayName>Covid-19</ns2:displayName>",
        "<ns2:doseOrdinalNumber>2</ns2:doseOrdinalNumber>",
        "<ns2:date>20240110</ns2:date>",
    ] {
        assert!(vaccinations.contains(needle), "vaccinations lack {needle}");
    }
}

#[test]
fn broken_records_are_refused_by_the_schema() {
    let plans = producer_response(&CarePlans, &source(NamespaceStyle::OnEnvelope, 2));
    assert_schema_invalid(&CarePlans, &plans.replacen(">SIP<", ">SAMPLAN<", 1));
    // result is 1..1 in GetCarePlans and GetVaccinationHistory.
    let cut = plans.find("<r:result").unwrap();
    let end = plans.find("</r:result>").unwrap() + "</r:result>".len();
    assert_schema_invalid(&CarePlans, &format!("{}{}", &plans[..cut], &plans[end..]));
    let bookings = producer_response(
        &SubjectOfCareSchedule,
        &source(NamespaceStyle::OnEnvelope, 2),
    );
    // healthcare_facility is 1..1 in a timeslot; the start must be a timestamp.
    assert_schema_invalid(
        &SubjectOfCareSchedule,
        &bookings.replacen(
            "<ns2:healthcare_facility>SE2321000016-CU1</ns2:healthcare_facility>",
            "",
            1,
        ),
    );
    assert_schema_invalid(
        &SubjectOfCareSchedule,
        &bookings.replacen("20240110093000<", "2024-01-10T09:30<", 1),
    );
    let vaccinations =
        producer_response(&VaccinationHistory, &source(NamespaceStyle::OnEnvelope, 2));
    assert_schema_invalid(
        &VaccinationHistory,
        &vaccinations.replacen("<ns2:date>20240110</ns2:date>", "", 1),
    );
}

#[test]
fn requests_are_schema_valid_and_carry_what_the_contract_has() {
    let units = ["SE2321000016-CU1", "SE2321000016-CU2"];
    for set in [&CarePlans as &dyn InformationSet, &VaccinationHistory] {
        let full = consumer_request(
            set,
            &SampleQuery {
                care_contacts: &["SE2321000016-SRC1-care-contacts-1"],
                ..query(
                    Some(("20240101", "20241231")),
                    &units,
                    Some("SE2321000016-SRC1"),
                )
            },
        );
        if !assert_schema_valid(set, &full) {
            return;
        }
        assert_eq!(
            set.parse_request(full.as_bytes()).unwrap(),
            QueryRequest {
                patient_id: PATIENT.into(),
                period_start: Some("20240101".into()),
                period_end: Some("20241231".into()),
                care_units: units.map(String::from).to_vec(),
                record_ids: vec![],
                source_system: Some("SE2321000016-SRC1".into()),
                care_contacts: vec!["SE2321000016-SRC1-care-contacts-1".into()],
            },
            "{}",
            set.descriptor().name
        );
        assert_schema_valid(set, &consumer_request(set, &query(None, &[], None)));
        // Not vacuous: the source system before the patient is refused.
        let source = if set.descriptor().name == "care-plans" {
            "sourceSystemHSAId"
        } else {
            "sourceSystemHSAid"
        };
        let element = format!("<q:{source}>SE2321000016-SRC1</q:{source}>");
        let moved = full.replace(&element, "").replacen(
            "<q:patientId>",
            &format!("{element}<q:patientId>"),
            1,
        );
        assert_schema_invalid(set, &moved);
    }
    // GetSubjectOfCareSchedule: the facility and the patient, nothing else.
    let set = &SubjectOfCareSchedule;
    let request = consumer_request(set, &query(None, &["SE2321000016-CU1"], None));
    assert_schema_valid(set, &request);
    assert_eq!(
        set.parse_request(request.as_bytes()).unwrap(),
        QueryRequest {
            patient_id: PATIENT.into(),
            ..Default::default()
        }
    );
    // Without healthcare_facility (1..1) the request is refused by the schema.
    assert_schema_invalid(
        set,
        &request.replace(
            "<q:healthcare_facility>SE2321000016-CU1</q:healthcare_facility>",
            "",
        ),
    );
}

#[test]
fn the_official_sample_requests_validate_and_parse() {
    for (set, file, period) in [
        (
            &CarePlans as &dyn InformationSet,
            "riv-ta/npo-requests/GetCarePlans2.xml",
            Some(("20120101", "20150924")),
        ),
        (
            &VaccinationHistory,
            "riv-ta/npo-requests/GetVaccinationHistory2.xml",
            Some(("20050101", "20150924")),
        ),
    ] {
        let Some(text) = reference_text(file) else {
            return;
        };
        assert_schema_valid(set, &text);
        let query = set.parse_request(text.as_bytes()).unwrap();
        assert_eq!(query.patient_id, PATIENT, "{file}");
        assert_eq!(
            query
                .period_start
                .as_deref()
                .zip(query.period_end.as_deref()),
            period,
            "{file}"
        );
    }
    // The RIV-TA 2.1 sample of the virtualisation platform: another patient, and the
    // facility written over two lines (an HsaIdType is a plain string).
    let Some(text) = reference_text("riv-ta/vp-requests/Rivta21Request.xml") else {
        return;
    };
    assert_schema_valid(&SubjectOfCareSchedule, &text);
    let query = SubjectOfCareSchedule
        .parse_request(text.as_bytes())
        .unwrap();
    assert_eq!(
        query,
        QueryRequest {
            patient_id: "188803099368".into(),
            ..Default::default()
        }
    );
}

/// Merges the answers of two sources and a failed third, also with records withheld.
#[test]
fn merged_answers_are_schema_valid() {
    for set in sets() {
        let bodies = [
            producer_response(set, &source(NamespaceStyle::OnEnvelope, 5)),
            producer_response(set, &other_source()),
        ];
        let parsed: Vec<Vec<Record>> = bodies.iter().map(|b| records_of(set, b)).collect();
        let sources = [
            SourceOutcome {
                logical_address: "SE2321000016-SRC1".into(),
                status: SourceStatus::DataFromSource,
                timestamp: "20240315101500".into(),
            },
            SourceOutcome {
                logical_address: "SE2321000016-SRC2".into(),
                status: SourceStatus::DataFromSource,
                timestamp: "20240315101501".into(),
            },
            SourceOutcome {
                logical_address: "SE2321000016-SRC3".into(),
                status: SourceStatus::NoDataSynchFailed {
                    causing_agent: CausingAgent::ServiceProducer,
                    code: "VP009".into(),
                    text: "Timeout".into(),
                },
                timestamp: "20240315101503".into(),
            },
        ];
        let parts: Vec<MergeInput<'_>> = bodies
            .iter()
            .zip(&parsed)
            .map(|(body, records)| MergeInput {
                body: body.as_bytes(),
                records,
            })
            .collect();
        let mut out = Vec::new();
        set.write_merged_response(&mut out, &parts, &sources);
        let merged = String::from_utf8(out).unwrap();
        if !assert_schema_valid(set, &merged) {
            return;
        }
        let headers = headers_of(set, &merged);
        assert_eq!(headers.len(), 7, "{}", set.descriptor().name);
        // The merged records read as the producers' did.
        let originals: Vec<RecordHeader> =
            parsed.iter().flatten().map(|r| r.header.clone()).collect();
        assert_eq!(headers, originals);
        let parts = [
            MergeInput {
                body: bodies[0].as_bytes(),
                records: &parsed[0][2..],
            },
            parts[1],
        ];
        let mut out = Vec::new();
        set.write_merged_response_noting(
            &mut out,
            &parts,
            &sources,
            &MergeNotes {
                withheld_records: 2,
            },
        );
        let merged = String::from_utf8(out).unwrap();
        assert_schema_valid(set, &merged);
        assert_eq!(records_of(set, &merged).len(), 5);
    }
}

#[test]
fn a_nullified_plan_or_vaccination_says_so() {
    for (set, header) in [
        (&CarePlans as &dyn InformationSet, "carePlanHeader"),
        (&VaccinationHistory, "vaccinationMedicalRecordHeader"),
    ] {
        let response = producer_response(set, &source(NamespaceStyle::OnEnvelope, 1));
        // nullified follows approvedForPatient in the 3.0 header (careContactId last)
        // and careContactId in the activityprescription header.
        let (after, flag) = if set.descriptor().name == "care-plans" {
            ("</ns2:approvedForPatient>", "<ns2:nullified>true</ns2:nullified><ns2:nullifiedReason>Fel patient</ns2:nullifiedReason>")
        } else {
            (
                "</ns2:careContactId>",
                "<ns2:nullified>true</ns2:nullified>",
            )
        };
        let at = response.find(after).unwrap() + after.len();
        let nullified = format!("{}{flag}{}", &response[..at], &response[at..]);
        assert!(
            nullified.contains(&format!("{flag}</ns2:{header}>"))
                || set.descriptor().name == "care-plans"
        );
        if !assert_schema_valid(set, &nullified) {
            return;
        }
        let headers = headers_of(set, &nullified);
        assert_eq!(headers[0].status.as_deref(), Some(NULLIFIED_STATUS));
        // Not nullified: no status (neither contract has another).
        let kept = nullified.replace("<ns2:nullified>true<", "<ns2:nullified>false<");
        assert_schema_valid(set, &kept);
        assert_eq!(headers_of(set, &kept)[0].status, None);
    }
}

#[test]
fn titles_fall_back_as_the_adapters_say() {
    // A plan without documentTitle: its kind.
    let plans = producer_response(&CarePlans, &source(NamespaceStyle::OnEnvelope, 1));
    let untitled = plans.replace(
        "<ns2:documentTitle>Samordnad individuell plan (SIP)</ns2:documentTitle>",
        "",
    );
    assert_schema_valid(&CarePlans, &untitled);
    assert_eq!(
        headers_of(&CarePlans, &untitled)[0].title.as_deref(),
        Some("SIP")
    );
    // A vaccination without the vaccine's name: the disease it protects against.
    let vaccinations =
        producer_response(&VaccinationHistory, &source(NamespaceStyle::OnEnvelope, 1));
    let unnamed = vaccinations.replace(
        "<ns2:vaccineName><ns2:displayName>Vaxigrip Tetra</ns2:displayName></ns2:vaccineName>",
        "",
    );
    assert_schema_valid(&VaccinationHistory, &unnamed);
    assert_eq!(
        headers_of(&VaccinationHistory, &unnamed)[0]
            .title
            .as_deref(),
        Some("Influensa")
    );
    // A booking without care type: the time type, then the purpose.
    let bookings = producer_response(
        &SubjectOfCareSchedule,
        &source(NamespaceStyle::OnEnvelope, 1),
    );
    let no_care_type =
        bookings.replace("<ns2:careTypeName>Diabetessköterska</ns2:careTypeName>", "");
    assert_schema_valid(&SubjectOfCareSchedule, &no_care_type);
    assert_eq!(
        headers_of(&SubjectOfCareSchedule, &no_care_type)[0]
            .title
            .as_deref(),
        Some("Återbesök")
    );
    let no_type = no_care_type.replace("<ns2:timeTypeName>Återbesök</ns2:timeTypeName>", "");
    assert_eq!(
        headers_of(&SubjectOfCareSchedule, &no_type)[0]
            .title
            .as_deref(),
        Some("Årskontroll diabetes typ 2")
    );
}

#[test]
fn a_booking_has_no_care_giver_source_or_approval_and_needs_its_patient() {
    let set = &SubjectOfCareSchedule;
    let source = source(NamespaceStyle::OnEnvelope, 1);
    let bookings = producer_response(set, &source);
    let header = &headers_of(set, &bookings)[0];
    assert_eq!(
        (
            header.care_giver.as_deref(),
            header.source_system.as_deref(),
            header.approved_for_patient,
            header.status.as_deref()
        ),
        (None, None, None, None)
    );
    assert_eq!(header.record_id, Some(record_id(set, &source, 0)));
    assert_eq!(header.care_unit.as_deref(), Some("SE2321000016-CU1"));
    // A timeslot without subject_of_care (0..1 in TimeslotType) is valid, but cannot be
    // shown to be the patient's (the gateway does not pass such an answer on); one about
    // the patient is.
    let anonymous = bookings.replace(
        "<ns2:subject_of_care>191212121212</ns2:subject_of_care>",
        "",
    );
    assert_schema_valid(set, &anonymous);
    let query = set
        .parse_request(consumer_request(set, &query(None, &[], None)).as_bytes())
        .unwrap();
    let about = |xml: &str| {
        records_of(set, xml)
            .iter()
            .map(|r| vaxel_adapter::about_patient(set.descriptor(), &query, &r.header))
            .collect::<Vec<bool>>()
    };
    assert_eq!(about(&anonymous), [false]);
    assert_eq!(about(&bookings), [true]);
}

/// The published scheduling schema is used with one correction
/// (`vaxel_adapters::schemas::SCHEMA_FIXES`): as published, its `SubjectOfCareIdType`
/// accepts no resident id at all, not even in the platform's own sample. The corrected
/// pattern still refuses what is not a resident id.
#[test]
fn the_scheduling_schema_fix_is_needed_and_keeps_its_teeth() {
    use vaxel_adapters::schemas::{check_message_as_published, SchemaCheckError};
    let Some(text) = reference_text("riv-ta/vp-requests/Rivta21Request.xml") else {
        return;
    };
    let reference = common::reference().expect("checked above");
    match check_message_as_published(&SubjectOfCareSchedule, &reference, text.as_bytes()) {
        Err(SchemaCheckError::Invalid(report)) => assert!(
            report.contains("subject_of_care") && report.contains("pattern"),
            "{report}"
        ),
        Err(e) if e.is_skip() => return common::skip(&e.to_string()),
        other => panic!("the published schema now accepts the sample: drop the fix ({other:?})"),
    }
    assert_schema_valid(&SubjectOfCareSchedule, &text);
    for not_an_id in [
        "18880309936",
        "1888030993688",
        "18880309-9368",
        "188803099A68",
    ] {
        assert_schema_invalid(
            &SubjectOfCareSchedule,
            &text.replace("188803099368", not_an_id),
        );
    }
    // A reserve number with a letter in the ninth place fits the pattern.
    assert_schema_valid(
        &SubjectOfCareSchedule,
        &text.replace("188803099368", "18880309T368"),
    );
}
