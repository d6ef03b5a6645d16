//! GetLaboratoryOrderOutcome 3, GetReferralOutcome 3 and GetImagingOutcome 1 (domain
//! `clinicalprocess:healthcond:actoutcome` 3.1): the sample generator's records, requests
//! and merged answers validate against the official schemas (xmllint), the adapters read
//! the fields the specification means from schema-valid records (and report a missing
//! optional field as absent, not as some other field's value), and each contract's
//! request filters select the records the specification says.

mod common;

use std::ops::Range;

use common::{assert_schema_invalid, assert_schema_valid};
use vaxel_adapter::{
    retain_matching, CausingAgent, InformationSet, MergeInput, ProducerResponse, Record,
    RecordHeader, SourceOutcome, SourceStatus,
};
use vaxel_adapters::samples::{
    consumer_request, producer_response, record_care_contact, record_id, record_time,
    NamespaceStyle, SampleQuery, SampleSource,
};
use vaxel_adapters::{ImagingOutcome, LaboratoryOrderOutcome3, ReferralOutcome};

const PATIENT: &str = "191212121212";

fn sets() -> [&'static dyn InformationSet; 3] {
    [&LaboratoryOrderOutcome3, &ReferralOutcome, &ImagingOutcome]
}

/// Four records from 20240110 (one a day), envelope-declared namespaces.
const SOURCE_A: SampleSource<'static> = SampleSource {
    patient_id: PATIENT,
    source_system: "SE2321000016-SYSA",
    care_giver: "SE2321000016-CG1",
    care_unit: "SE2321000016-UNITA",
    records: 4,
    time_base: "20240110",
    style: NamespaceStyle::OnEnvelope,
};

/// Three records from 20240201, element-declared namespaces; a unit id that needs escaping.
const SOURCE_B: SampleSource<'static> = SampleSource {
    patient_id: PATIENT,
    source_system: "SE2321000016-SYSB",
    care_giver: "SE2321000016-CG2",
    care_unit: "SE2321000016-UNIT&B",
    records: 3,
    time_base: "20240201",
    style: NamespaceStyle::OnElements,
};

fn records_of(set: &dyn InformationSet, xml: &str) -> Vec<Record> {
    match set.parse_response(xml.as_bytes()) {
        Ok(ProducerResponse::Records(records)) => records,
        other => panic!("{}: expected records, got {other:?}", set.descriptor().name),
    }
}

fn headers_of(set: &dyn InformationSet, xml: &str) -> Vec<RecordHeader> {
    records_of(set, xml).into_iter().map(|r| r.header).collect()
}

/// What the adapter must read from record `index` of `source`.
fn expected(set: &dyn InformationSet, source: &SampleSource<'_>, index: usize) -> RecordHeader {
    RecordHeader {
        record_id: Some(record_id(set, source, index)),
        source_system: Some(source.source_system.into()),
        care_giver: Some(source.care_giver.into()),
        care_unit: Some(source.care_unit.into()),
        time: Some(record_time(source, index)),
        patient_id: Some(source.patient_id.into()),
        care_contact: record_care_contact(set, source, index),
        ..common::expected_header(set, source, index)
    }
}

/// Byte ranges of the elements with local name `local` in `xml` (start tags as the sample
/// generator writes them: `<local>` or `<prefix:local>`, possibly with namespace
/// declarations; same-named elements are not nested).
fn element_ranges(xml: &str, local: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut position = 0;
    while let Some(offset) = xml[position..].find('<') {
        let start = position + offset;
        let rest = &xml[start + 1..];
        let name_len = rest.find(['>', ' ', '/']).unwrap_or(rest.len());
        let qname = &rest[..name_len];
        let is_start_tag = !qname.starts_with(['/', '?', '!'])
            && !rest[name_len..].starts_with('/')
            && qname.rsplit(':').next() == Some(local);
        if is_start_tag {
            let close = format!("</{qname}>");
            let end = start
                + xml[start..]
                    .find(&close)
                    .unwrap_or_else(|| panic!("no {close}"))
                + close.len();
            ranges.push(start..end);
            position = end;
        } else {
            position = start + 1;
        }
    }
    ranges
}

/// `xml` without the elements named `local` that lie inside elements named `container`.
fn remove_within(xml: &str, container: &str, local: &str) -> String {
    let mut out = xml.to_owned();
    let containers = element_ranges(xml, container);
    assert!(!containers.is_empty(), "no {container} in the sample");
    let mut removed = 0;
    for c in containers.into_iter().rev() {
        for e in element_ranges(&xml[c.clone()], local).into_iter().rev() {
            out.replace_range(c.start + e.start..c.start + e.end, "");
            removed += 1;
        }
    }
    assert!(removed > 0, "no {local} inside {container} in the sample");
    out
}

/// The header element of a set's record (`PatientSummaryHeaderType`).
fn header_element(set: &dyn InformationSet) -> &'static str {
    set.descriptor().record.record_id[0]
}

#[test]
fn samples_are_schema_valid_and_read_as_written() {
    for set in sets() {
        for style in [NamespaceStyle::OnEnvelope, NamespaceStyle::OnElements] {
            // Six records: every case of each set's content cycle at least once.
            for source in [
                SampleSource {
                    records: 6,
                    style,
                    ..SOURCE_A
                },
                SampleSource { style, ..SOURCE_B },
            ] {
                let response = producer_response(set, &source);
                if !assert_schema_valid(set, &response) {
                    return;
                }
                let headers = headers_of(set, &response);
                let wanted: Vec<RecordHeader> = (0..source.records)
                    .map(|i| expected(set, &source, i))
                    .collect();
                assert_eq!(headers, wanted, "{}", set.descriptor().name);
            }
        }
        // No records at all: only the result, still valid.
        let empty = producer_response(
            set,
            &SampleSource {
                records: 0,
                ..SOURCE_A
            },
        );
        assert_schema_valid(set, &empty);
        assert!(headers_of(set, &empty).is_empty());
    }
}

#[test]
fn bodies_carry_the_clinical_content() {
    let lab = producer_response(
        &LaboratoryOrderOutcome3,
        &SampleSource {
            records: 5,
            ..SOURCE_A
        },
    );
    for needle in [
        "<ns2:codeSystem>1.2.208.176.2.1</ns2:codeSystem>",
        "<ns2:analysisText>P-Kalium</ns2:analysisText>",
        "<ns2:outcomeUnit>mmol/L</ns2:outcomeUnit>",
        "<ns2:pathologicalFlag>true</ns2:pathologicalFlag>",
        "<ns2:pathologicalFlag>false</ns2:pathologicalFlag>",
        "<ns2:referenceInterval>3.5–4.4</ns2:referenceInterval>",
        "<ns2:discipline>Klinisk mikrobiologi</ns2:discipline>",
        "<ns2:orderReason>",
    ] {
        assert!(lab.contains(needle), "laboratory sample lacks {needle}");
    }
    let referral = producer_response(&ReferralOutcome, &SOURCE_A);
    for needle in [
        "<ns2:referralOutcomeTypeCode>SS</ns2:referralOutcomeTypeCode>",
        "<ns2:code>M17.1</ns2:code><ns2:codeSystem>1.2.752.116.1.1.1.1.3</ns2:codeSystem>",
        "<ns2:referralReason>",
        "<ns2:referralOutcomeText>",
        "<m1:attested xmlns:m1=\"urn:riv:clinicalprocess:healthcond:actoutcome:3.1\">",
    ] {
        assert!(referral.contains(needle), "referral sample lacks {needle}");
    }
    let imaging = producer_response(&ImagingOutcome, &SOURCE_A);
    for needle in [
        "<ns2:code>399208008</ns2:code>",
        "<ns2:displayName>Datortomografi av huvud</ns2:displayName>",
        "Bedömning: Normal lungröntgen.",
        "<ns2:typeOfResult>PREL</ns2:typeOfResult>",
        "<ns2:unit>mGy*cm</ns2:unit>",
    ] {
        assert!(imaging.contains(needle), "imaging sample lacks {needle}");
    }
}

#[test]
fn requests_carry_every_filter_in_the_contracts_own_elements() {
    for set in sets() {
        let name = set.descriptor().name;
        let full = consumer_request(
            set,
            &SampleQuery {
                patient_id: PATIENT,
                logical_address: "SE2321000016-NATIONAL",
                period: Some(("20240101", "20241231")),
                care_units: &["SE2321000016-UNITA", "SE2321000016-UNIT&B"],
                source_system: Some("SE2321000016-SYSA"),
                care_contacts: &[],
            },
        );
        if !assert_schema_valid(set, &full) {
            return;
        }
        let query = set.parse_request(full.as_bytes()).unwrap();
        assert_eq!(query.patient_id, PATIENT, "{name}");
        assert_eq!(query.period_start.as_deref(), Some("20240101"), "{name}");
        assert_eq!(query.period_end.as_deref(), Some("20241231"), "{name}");
        assert_eq!(
            query.care_units,
            ["SE2321000016-UNITA", "SE2321000016-UNIT&B"],
            "{name}"
        );
        assert_eq!(
            query.source_system.as_deref(),
            Some("SE2321000016-SYSA"),
            "{name}"
        );
        assert!(query.record_ids.is_empty(), "{name}");

        let bare = consumer_request(
            set,
            &SampleQuery {
                patient_id: PATIENT,
                logical_address: "SE2321000016-NATIONAL",
                period: None,
                care_units: &[],
                source_system: None,
                care_contacts: &[],
            },
        );
        assert_schema_valid(set, &bare);
        let query = set.parse_request(bare.as_bytes()).unwrap();
        assert_eq!(
            (query.period_start, query.care_units, query.source_system),
            (None, vec![], None),
            "{name}"
        );
    }
    // GetReferralOutcome spells the care unit filter `careUnitHSAid`; the spelling of the
    // other two contracts is not part of its schema, and the adapter does not read it.
    let set = &ReferralOutcome;
    let request = consumer_request(
        set,
        &SampleQuery {
            patient_id: PATIENT,
            logical_address: "SE2321000016-NATIONAL",
            period: None,
            care_units: &["SE2321000016-UNITA"],
            source_system: None,
            care_contacts: &[],
        },
    );
    assert!(request.contains("<q:careUnitHSAid>SE2321000016-UNITA</q:careUnitHSAid>"));
    let misspelt = request.replace("careUnitHSAid>", "careUnitHSAId>");
    assert_schema_invalid(set, &misspelt);
    assert!(set
        .parse_request(misspelt.as_bytes())
        .unwrap()
        .care_units
        .is_empty());
}

#[test]
fn missing_optional_fields_are_reported_absent() {
    for set in sets() {
        let name = set.descriptor().name;
        let header = header_element(set);
        for source in [
            SampleSource {
                records: 1,
                ..SOURCE_A
            },
            SampleSource {
                records: 1,
                ..SOURCE_B
            },
        ] {
            let response = producer_response(set, &source);
            let full = expected(set, &source, 0);
            // (what is removed, where, what the adapter must then read)
            let mut variants: Vec<(&str, &str, RecordHeader)> = vec![
                // The body names other units (ordering unit, referring unit): the adapter
                // must not take theirs when the header's is missing.
                (
                    header,
                    "healthcareProfessionalCareUnitHSAId",
                    RecordHeader {
                        care_unit: None,
                        ..full.clone()
                    },
                ),
                (
                    header,
                    "healthcareProfessionalCareGiverHSAId",
                    RecordHeader {
                        care_giver: None,
                        ..full.clone()
                    },
                ),
                // Without the header's title the next of the adapter's title fields: the
                // first analysis's name, the examination (a referral answer has its own
                // title first).
                (
                    header,
                    "documentTitle",
                    RecordHeader {
                        title: Some(
                            match name {
                                "laboratory-outcome-3" => "P-Natrium",
                                "imaging-outcome" => "Slätröntgen av lungor",
                                _ => "Konsultationssvar kardiologi",
                            }
                            .into(),
                        ),
                        ..full.clone()
                    },
                ),
                // Optional header fields the adapter does not read change nothing.
                (header, "legalAuthenticator", full.clone()),
                (
                    header,
                    "careContactId",
                    RecordHeader {
                        care_contact: None,
                        ..full.clone()
                    },
                ),
                (header, "healthcareProfessionalOrgUnit", full.clone()),
            ];
            let no_time = RecordHeader {
                time: None,
                ..full.clone()
            };
            if name == "laboratory-outcome-3" {
                // Without analysis times the answer has no time the filter may use (not
                // the answer's documentTime, registrationTime or observationTime).
                variants.push((
                    "laboratoryOrderOutcomeBody",
                    "analysisTime",
                    no_time.clone(),
                ));
                variants.push(("laboratoryOrderOutcomeBody", "analysis", no_time.clone()));
                // documentTime is only the contract's fallback: the analysis time counts.
                variants.push((header, "documentTime", full.clone()));
            } else {
                // Not authorTime, signatureTime, resultTime or referralTime instead.
                variants.push((header, "documentTime", no_time.clone()));
            }
            for (container, local, wanted) in variants {
                let edited = remove_within(&response, container, local);
                if !assert_schema_valid(set, &edited) {
                    return;
                }
                assert_eq!(
                    headers_of(set, &edited),
                    [wanted],
                    "{name} without {container}/{local}"
                );
            }
        }
    }
}

#[test]
fn broken_records_are_refused_by_the_schema() {
    for set in sets() {
        let name = set.descriptor().name;
        let response = producer_response(set, &SOURCE_A);
        let body = match name {
            "laboratory-outcome-3" => "laboratoryOrderOutcomeBody",
            "referral-outcome" => "referralOutcomeBody",
            _ => "imagingOutcomeBody",
        };
        // The body is required.
        let record = set.descriptor().record_element;
        assert_schema_invalid(set, &remove_within(&response, record, body));
        // So is the header's accountable professional's authorTime.
        assert_schema_invalid(
            set,
            &remove_within(&response, header_element(set), "authorTime"),
        );
        // Header fields out of schema order.
        let swapped = response.replacen(
            "<ns2:sourceSystemHSAId>SE2321000016-SYSA</ns2:sourceSystemHSAId>",
            "",
            1,
        );
        let swapped = swapped.replacen(
            "</ns2:documentTime>",
            "</ns2:documentTime><ns2:sourceSystemHSAId>SE2321000016-SYSA</ns2:sourceSystemHSAId>",
            1,
        );
        assert_ne!(swapped, response);
        assert_schema_invalid(set, &swapped);
    }
    // Coded values outside their value sets.
    let lab = producer_response(&LaboratoryOrderOutcome3, &SOURCE_A);
    assert_schema_invalid(
        &LaboratoryOrderOutcome3,
        &lab.replacen(
            ">true</ns2:pathologicalFlag>",
            ">ja</ns2:pathologicalFlag>",
            1,
        ),
    );
    let referral = producer_response(&ReferralOutcome, &SOURCE_A);
    assert_schema_invalid(
        &ReferralOutcome,
        &referral.replacen(
            ">SS</ns2:referralOutcomeTypeCode>",
            ">XX</ns2:referralOutcomeTypeCode>",
            1,
        ),
    );
    assert_schema_invalid(
        &ReferralOutcome,
        &referral.replacen(">1.2.752.116.1.1.1.1.3<", ">2.16.840.1.113883.6.96<", 1),
    );
    let imaging = producer_response(&ImagingOutcome, &SOURCE_A);
    assert_schema_invalid(
        &ImagingOutcome,
        &imaging.replacen(">DEF</ns2:typeOfResult>", ">FINAL</ns2:typeOfResult>", 1),
    );
}

/// The records of both sources, as the aggregator holds them before filtering.
fn all_records(set: &dyn InformationSet) -> Vec<Record> {
    let mut records = records_of(set, &producer_response(set, &SOURCE_A));
    records.extend(records_of(set, &producer_response(set, &SOURCE_B)));
    records
}

/// Ids of records `indices` of `source`.
fn ids(set: &dyn InformationSet, source: &SampleSource<'_>, indices: Range<usize>) -> Vec<String> {
    indices.map(|i| record_id(set, source, i)).collect()
}

/// A schema-valid request of `set` for `query`, read by the adapter and applied to the
/// records of both sources: the ids that remain.
fn remaining(set: &dyn InformationSet, request: &str) -> Vec<String> {
    assert_schema_valid(set, request);
    let query = set.parse_request(request.as_bytes()).unwrap();
    let mut records = all_records(set);
    retain_matching(&query, &mut records);
    records
        .into_iter()
        .map(|r| r.header.record_id.unwrap())
        .collect()
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

/// Each contract's request parameters that narrow the answer (GetLaboratoryOrderOutcome:3
/// `timePeriod`, the other two `datePeriod`; `careUnitHSAId`/`careUnitHSAid`;
/// `sourceSystemHSAId`) select exactly the records the specification says. Source A has
/// records on 20240110..=20240113 in unit A, source B on 20240201..=20240203 in unit B.
#[test]
fn request_filters_select_the_records_the_specification_says() {
    for set in sets() {
        let name = set.descriptor().name;
        let (a, b) = (&SOURCE_A, &SOURCE_B);
        let request = |q: SampleQuery<'_>| consumer_request(set, &q);
        let mut both = ids(set, a, 0..4);
        both.extend(ids(set, b, 0..3));

        assert_eq!(
            remaining(set, &request(query(None, &[], None))),
            both,
            "{name}"
        );

        // Period bounds are dates and include the whole end day.
        let mut wanted = ids(set, a, 1..4);
        wanted.extend(ids(set, b, 0..1));
        let period = request(query(Some(("20240111", "20240201")), &[], None));
        assert_eq!(remaining(set, &period), wanted, "{name}: period");
        // Either bound alone (both are optional in DatePeriodType).
        let start_only = period.replace("<c:end>20240201</c:end>", "");
        let mut wanted = ids(set, a, 1..4);
        wanted.extend(ids(set, b, 0..3));
        assert_eq!(remaining(set, &start_only), wanted, "{name}: start only");
        let end_only = period.replace("<c:start>20240111</c:start>", "");
        let mut wanted = ids(set, a, 0..4);
        wanted.extend(ids(set, b, 0..1));
        assert_eq!(remaining(set, &end_only), wanted, "{name}: end only");

        // Care units: one, or several (any of them).
        let unit_b = request(query(None, &["SE2321000016-UNIT&B"], None));
        assert_eq!(remaining(set, &unit_b), ids(set, b, 0..3), "{name}: unit");
        let units = request(query(
            None,
            &["SE2321000016-UNITA", "SE2321000016-UNIT&B"],
            None,
        ));
        assert_eq!(remaining(set, &units), both, "{name}: units");

        // Source system.
        let source = request(query(None, &[], Some("SE2321000016-SYSA")));
        assert_eq!(remaining(set, &source), ids(set, a, 0..4), "{name}: source");

        // All together.
        let all = request(query(
            Some(("20240112", "20240131")),
            &["SE2321000016-UNITA"],
            Some("SE2321000016-SYSA"),
        ));
        assert_eq!(
            remaining(set, &all),
            ids(set, a, 2..4),
            "{name}: all filters"
        );
        let nothing = request(query(
            Some(("20240112", "20240131")),
            &["SE2321000016-UNIT&B"],
            Some("SE2321000016-SYSA"),
        ));
        assert!(
            remaining(set, &nothing).is_empty(),
            "{name}: disjoint filters"
        );
    }
}

/// GetLaboratoryOrderOutcome:3 restricts by the analyses' times, wholly or partly within
/// the period, not by when the answer was written: a urine culture sampled on 20240114
/// and read on 20240116 belongs to the 14th to the 16th. Only an answer without analysis
/// times falls back to its `documentTime`.
#[test]
fn laboratory_period_applies_to_the_analysis_time_not_the_answer_time() {
    let set = &LaboratoryOrderOutcome3;
    let source = SampleSource {
        records: 5,
        ..SOURCE_A
    };
    let response = producer_response(set, &source);
    let culture = &response[element_ranges(&response, "laboratoryOrderOutcome")[4].clone()];
    assert!(culture.contains("<ns2:documentTime>20240116143000</ns2:documentTime>"));
    assert!(culture.contains("<ns2:start>20240114093000</ns2:start>"));
    assert!(culture.contains("<ns2:end>20240116080000</ns2:end>"));
    let kept_of = |response: &str, start: &str, end: &str| -> Vec<String> {
        let request = consumer_request(set, &query(Some((start, end)), &[], None));
        assert_schema_valid(set, &request);
        let query = set.parse_request(request.as_bytes()).unwrap();
        let mut records = records_of(set, response);
        retain_matching(&query, &mut records);
        records
            .into_iter()
            .map(|r| r.header.record_id.unwrap())
            .collect()
    };
    let kept = |start: &str, end: &str| kept_of(&response, start, end);
    let culture_id = record_id(set, &source, 4);
    assert_eq!(
        kept("20240114", "20240114"),
        std::slice::from_ref(&culture_id)
    );
    assert_eq!(
        kept("20240115", "20240116"),
        std::slice::from_ref(&culture_id)
    );
    assert_eq!(
        kept("20240116", "20240116"),
        std::slice::from_ref(&culture_id)
    );
    assert!(kept("20240117", "20240131").is_empty());
    // Without analysis times the answer's documentTime (the 16th, 14:30) decides.
    let untimed = remove_within(&response, "laboratoryOrderOutcomeBody", "analysisTime");
    assert_schema_valid(set, &untimed);
    assert!(!kept_of(&untimed, "20240114", "20240115").contains(&culture_id));
    assert!(kept_of(&untimed, "20240116", "20240116").contains(&culture_id));
}

/// Merged answers (records of several producers, one failed source) validate against the
/// responder schema, the ProcessingStatus header against the headers schema.
#[test]
fn merged_answers_validate_against_the_official_schema() {
    for set in sets() {
        let bodies = [
            producer_response(set, &SOURCE_A),
            producer_response(set, &SOURCE_B),
        ];
        let mut records: Vec<Vec<Record>> = bodies.iter().map(|b| records_of(set, b)).collect();
        let outcomes = [
            SourceOutcome {
                logical_address: SOURCE_A.source_system.into(),
                status: SourceStatus::DataFromSource,
                timestamp: "20240315101500".into(),
            },
            SourceOutcome {
                logical_address: SOURCE_B.source_system.into(),
                status: SourceStatus::DataFromSource,
                timestamp: "20240315101500".into(),
            },
            SourceOutcome {
                logical_address: "SE2321000016-SYSC".into(),
                status: SourceStatus::NoDataSynchFailed {
                    causing_agent: CausingAgent::ServiceProducer,
                    code: "VP009".into(),
                    text: "timeout".into(),
                },
                timestamp: "20240315101529".into(),
            },
        ];
        let merge = |records: &[Vec<Record>]| -> String {
            let parts: Vec<MergeInput<'_>> = bodies
                .iter()
                .zip(records)
                .map(|(body, records)| MergeInput {
                    body: body.as_bytes(),
                    records,
                })
                .collect();
            let mut out = Vec::new();
            set.write_merged_response(&mut out, &parts, &outcomes);
            String::from_utf8(out).unwrap()
        };
        let merged = merge(&records);
        if !assert_schema_valid(set, &merged) {
            return;
        }
        assert_eq!(headers_of(set, &merged).len(), 7);
        // Some records withheld (the first of each source), and none at all.
        for r in &mut records {
            r.remove(0);
        }
        assert_schema_valid(set, &merge(&records));
        for r in &mut records {
            r.clear();
        }
        assert_schema_valid(set, &merge(&records));
    }
}
