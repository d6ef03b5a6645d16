//! Fuzz target for the information-set readers and the merge writer
//! (`vaxel_adapter::information_set`, driven through every adapter of `vaxel_adapters`).
//!
//! Properties checked on every input, besides "never panics":
//! * `parse_request` and `parse_response` of every adapter answer `Ok` or an error.
//! * Records point into the input: each span starts with `<` and ends with `>`.
//! * What parsed can be merged, and the merged response reads back with the same
//!   adapter: the same number of records with the same headers (so the writer never
//!   produces a document our own strict reader refuses).
//! * What our reader accepts as a producer response, an independent conforming XML
//!   parser (roxmltree) accepts too, and so it does the merged response: records are
//!   copied byte-for-byte, so a laxer reader would pass malformed XML on to consumers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxel_adapter::{
    retain_matching, CausingAgent, MergeInput, ProducerResponse, SourceOutcome, SourceStatus,
};

fuzz_target!(|data: &[u8]| {
    for set in vaxel_adapters::all() {
        let query = set.parse_request(data).ok();
        let Ok(response) = set.parse_response(data) else {
            continue;
        };
        let ProducerResponse::Records(mut records) = response else {
            continue;
        };
        assert_well_formed(data, "producer response our reader accepted");
        for record in &records {
            assert!(record.span.start < record.span.end && record.span.end <= data.len());
            assert_eq!(data[record.span.start], b'<');
            assert_eq!(data[record.span.end - 1], b'>');
        }
        if let Some(query) = &query {
            retain_matching(query, &mut records);
        }
        let sources = [
            SourceOutcome {
                logical_address: "SE2321000016-SYS1".into(),
                status: SourceStatus::DataFromSource,
                timestamp: "20240101120000".into(),
            },
            SourceOutcome {
                logical_address: "SE2321000016-SYS2".into(),
                status: SourceStatus::NoDataSynchFailed {
                    causing_agent: CausingAgent::VirtualizationPlatform,
                    code: "VP009".into(),
                    text: String::from_utf8_lossy(&data[..data.len().min(64)]).into_owned(),
                },
                timestamp: "20240101120029".into(),
            },
        ];
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
                assert_well_formed(&out, "merged response");
                assert_eq!(
                    again.len(),
                    records.len(),
                    "record count changed in the merge"
                );
                for (a, b) in again.iter().zip(&records) {
                    assert_eq!(a.header, b.header, "record header changed in the merge");
                }
            }
            other => panic!(
                "merged response does not read back: {other:?}\n{}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
});

fn assert_well_formed(xml: &[u8], what: &str) {
    let text = std::str::from_utf8(xml).unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"));
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Err(e) = roxmltree::Document::parse(text) {
        panic!("{what} is not well-formed XML for roxmltree: {e}");
    }
}
