//! The `record_parser` fuzz target's properties (fuzz/fuzz_targets/record_parser.rs),
//! replayed by `cargo test` over the committed seed corpus, and every input that once
//! broke them kept as a named test (CONVENTIONS.md: a crash found by fuzzing is fixed
//! and kept as a test).
use std::path::PathBuf;

use vaxel_adapter::{
    retain_matching, CausingAgent, MergeInput, ProducerResponse, SourceOutcome, SourceStatus,
};

/// Same checks as the fuzz target.
fn check_properties(data: &[u8]) {
    for set in vaxel_adapters::all() {
        let query = set.parse_request(data).ok();
        let Ok(ProducerResponse::Records(mut records)) = set.parse_response(data) else {
            continue;
        };
        // What our reader accepts, a conforming parser accepts too.
        let text = std::str::from_utf8(data).expect("accepted input is UTF-8");
        roxmltree::Document::parse(text.strip_prefix('\u{feff}').unwrap_or(text))
            .expect("accepted input is well-formed XML");
        for record in &records {
            assert!(record.span.start < record.span.end && record.span.end <= data.len());
            assert_eq!(data[record.span.start], b'<');
            assert_eq!(data[record.span.end - 1], b'>');
        }
        if let Some(query) = &query {
            retain_matching(query, &mut records);
        }
        let sources = [SourceOutcome {
            logical_address: "SE2321000016-SYS2".into(),
            status: SourceStatus::NoDataSynchFailed {
                causing_agent: CausingAgent::Other,
                code: "VP009".into(),
                text: String::from_utf8_lossy(&data[..data.len().min(64)]).into_owned(),
            },
            timestamp: "20240101120029".into(),
        }];
        let mut out = Vec::new();
        set.write_merged_response(
            &mut out,
            &[MergeInput {
                body: data,
                records: &records,
            }],
            &sources,
        );
        match set.parse_response(&out) {
            Ok(ProducerResponse::Records(again)) => {
                assert_eq!(again.len(), records.len());
                for (a, b) in again.iter().zip(&records) {
                    assert_eq!(a.header, b.header);
                }
            }
            other => panic!(
                "merged response does not read back: {other:?}\n{}",
                String::from_utf8_lossy(&out)
            ),
        }
        roxmltree::Document::parse(std::str::from_utf8(&out).unwrap())
            .expect("merged response is well-formed");
    }
}

#[test]
fn committed_seed_corpus_holds_the_fuzz_properties() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/record_parser");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("generated-") || !path.is_file() {
            continue;
        }
        check_properties(&std::fs::read(&path).unwrap());
        seen += 1;
    }
    assert!(
        seen >= 5,
        "expected the committed seeds in {}",
        dir.display()
    );
}

#[test]
fn seeds_parse_as_intended() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/record_parser");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let care = vaxel_adapters::by_name("care-documentation").unwrap();
    match care.parse_response(&read("care-documentation-two-records.xml")) {
        Ok(ProducerResponse::Records(records)) => {
            assert_eq!(records.len(), 2);
            assert_eq!(records[0].header.care_unit.as_deref(), Some("SE1-U"));
            assert_eq!(records[1].header, Default::default());
        }
        other => panic!("{other:?}"),
    }
    let diagnosis = vaxel_adapters::by_name("diagnosis").unwrap();
    match diagnosis.parse_response(&read("diagnosis-default-namespace-cdata-comment.xml")) {
        Ok(ProducerResponse::Records(records)) => {
            assert_eq!(records[0].header.record_id.as_deref(), Some("D&1"));
            assert_eq!(records[0].header.source_system.as_deref(), Some("SE2-SYS"));
            assert_eq!(records[0].header.time.as_deref(), Some("20240102"));
        }
        other => panic!("{other:?}"),
    }
    let lab4 = vaxel_adapters::by_name("laboratory-outcome-4").unwrap();
    match lab4.parse_response(&read("laboratory-outcome-4-jol-header.xml")) {
        Ok(ProducerResponse::Records(records)) => {
            let h = &records[0].header;
            assert_eq!(
                (h.care_giver.as_deref(), h.care_unit.as_deref()),
                (Some("SE-G"), Some("SE-U"))
            );
            assert_eq!(h.record_id.as_deref(), Some("R1"));
        }
        other => panic!("{other:?}"),
    }
    let query = care
        .parse_request(&read("care-documentation-request-filters.xml"))
        .unwrap();
    assert_eq!(query.care_units, ["SE1-U", "SE1-V"]);
    assert!(care.parse_response(&read("doctype-entity.xml")).is_err());
}

/// A care-documentation answer with one record, around which the regressions below
/// change one thing.
fn answer_with(declaration: &str, text: &str) -> String {
    format!(
        "{declaration}<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
<r:GetCareDocumentationResponse xmlns:r=\"urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2\">\
<r:careDocumentation><x>{text}</x></r:careDocumentation></r:GetCareDocumentationResponse></s:Body></s:Envelope>"
    )
}

#[test]
fn answer_as_built_for_the_regressions_is_accepted() {
    let care = vaxel_adapters::by_name("care-documentation").unwrap();
    let ok = answer_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n", "a ] b ]] c");
    assert!(matches!(
        care.parse_response(ok.as_bytes()),
        Ok(ProducerResponse::Records(r)) if r.len() == 1
    ));
    check_properties(ok.as_bytes());
}

/// Found by the record_parser fuzz target with roxmltree as oracle: a byte that is not
/// UTF-8 inside the XML declaration (`e\xffncoding`) was not looked at.
#[test]
fn malformed_xml_declaration_is_refused() {
    let care = vaxel_adapters::by_name("care-documentation").unwrap();
    let mut bad = answer_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "a").into_bytes();
    bad[20] = 0xff; // the first letter of "encoding"
    assert!(care.parse_response(&bad).is_err());
    for declaration in [
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<?xml encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\" standalone=\"maybe\"?>",
    ] {
        let answer = answer_with(declaration, "a");
        let err = care.parse_response(answer.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("declaration") || err.to_string().contains("encoding"),
            "{declaration}: {err}"
        );
    }
}

/// Found by the record_parser fuzz target with roxmltree as oracle: "]]>" in character
/// data (XML 1.0 §2.4) was accepted and would have been copied into the merged answer.
#[test]
fn cdata_end_in_character_data_is_refused() {
    let care = vaxel_adapters::by_name("care-documentation").unwrap();
    let answer = answer_with("", "a ]]> b");
    let err = care.parse_response(answer.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("]]>"), "{err}");
}

/// Found by the record_parser fuzz target with roxmltree as oracle: attributes without
/// white space between them (`xmlns:p="…"q="…"`), which quick-xml reads, were accepted.
#[test]
fn attributes_without_white_space_between_them_are_refused() {
    let care = vaxel_adapters::by_name("care-documentation").unwrap();
    let ok = answer_with("", "a").replace("<x>", "<x a=\"1\" b='2'>");
    assert!(care.parse_response(ok.as_bytes()).is_ok());
    let bad = answer_with("", "a").replace("<x>", "<x a=\"1\"b='2'>");
    let err = care.parse_response(bad.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("white space"), "{err}");
    let bad = answer_with("", "a")
        .replace("<x>", "<x a=\"1\"b='2'/>")
        .replace("</x>", "");
    assert!(care.parse_response(bad.as_bytes()).is_err());
}

/// Found by the record_parser fuzz target: after a second byte order mark, which quick-xml
/// skips without counting it, record spans pointed three bytes off.
#[test]
fn second_byte_order_mark_is_refused() {
    let care = vaxel_adapters::by_name("care-documentation").unwrap();
    let one = format!("\u{feff}{}", answer_with("", "a"));
    match care.parse_response(one.as_bytes()) {
        Ok(ProducerResponse::Records(records)) => {
            assert_eq!(one.as_bytes()[records[0].span.start], b'<');
        }
        other => panic!("{other:?}"),
    }
    check_properties(one.as_bytes());
    let two = format!("\u{feff}{one}");
    let err = care.parse_response(two.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("byte order mark"), "{err}");
}
