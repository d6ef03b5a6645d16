//! GetCareDocumentation 2, GetDiagnosis 2 and GetAlertInformation 2 (domain
//! `clinicalprocess:healthcond:description` 2.1): the sample generator's records and
//! requests validate against the official schemas, and the adapters read the fields the
//! specification means from schema-valid records.

mod common;

use common::{assert_schema_invalid, assert_schema_valid};
use vaxel_adapter::{InformationSet, ProducerResponse};
use vaxel_adapters::samples::{
    consumer_request, producer_response, NamespaceStyle, SampleQuery, SampleSource,
};
use vaxel_adapters::CareDocumentation;

fn source(style: NamespaceStyle) -> SampleSource<'static> {
    SampleSource {
        patient_id: "191212121212",
        source_system: "SE2321000016-SRC1",
        care_giver: "SE2321000016-CG1",
        care_unit: "SE2321000016-CU1",
        records: 3,
        time_base: "20240110",
        style,
    }
}

#[test]
fn care_documentation_samples_are_schema_valid_and_read_as_written() {
    let set = &CareDocumentation;
    for style in [NamespaceStyle::OnEnvelope, NamespaceStyle::OnElements] {
        let response = producer_response(set, &source(style));
        if !assert_schema_valid(set, &response) {
            return;
        }
        let ProducerResponse::Records(records) = set.parse_response(response.as_bytes()).unwrap()
        else {
            panic!("records expected");
        };
        assert_eq!(records.len(), 3);
        let h = &records[0].header;
        assert_eq!(h.source_system.as_deref(), Some("SE2321000016-SRC1"));
        assert_eq!(h.care_giver.as_deref(), Some("SE2321000016-CG1"));
        assert_eq!(h.care_unit.as_deref(), Some("SE2321000016-CU1"));
        assert_eq!(h.time.as_deref(), Some("20240110093000"));
    }
    let request = consumer_request(
        set,
        &SampleQuery {
            patient_id: "191212121212",
            logical_address: "SE2321000016-NATIONAL",
            period: Some(("20240101", "20241231")),
            care_units: &["SE2321000016-CU1"],
            source_system: Some("SE2321000016-SRC1"),
        },
    );
    assert_schema_valid(set, &request);
    // The check is not vacuous: a record without its header is refused.
    let broken = producer_response(set, &source(NamespaceStyle::OnEnvelope)).replacen(
        "careDocumentationHeader>",
        "careDocumentationHeaderX>",
        2,
    );
    assert_schema_invalid(set, &broken);
}
