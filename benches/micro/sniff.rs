//! Micro-benchmarks for the envelope sniffer (`vaxel_adapter::sniff`).
//!
//! DESIGN.md's performance model says the routing decision must not depend on the
//! message size: the sniffer stops at the start tag of the first Body child. This
//! bench shows it by timing, on the same 1 KB .. 10 MB messages and in the same run:
//!
//! * `sniff`: the routing decision (what the gateway does per request);
//! * `quick_xml_full_read`: quick-xml's `NsReader` reading every event to `Eof`, the
//!   cheapest way to look at the whole message with the same parser;
//! * `roxmltree_dom`: a DOM parse (UTF-8 check + `roxmltree::Document::parse`), what a
//!   DOM-based gateway would pay before routing.
//!
//! Messages are built at run time from the national platform's RIV-TA 2.1 sample
//! `shared/reference/riv-ta/vp-requests/Rivta21Request.xml` (read in place, never
//! copied into the repository), or from a small built-in envelope when that folder is
//! absent, with the first Body child padded to the target size.
//!
//! Run: `cargo bench -p vaxel-adapter --bench sniff`; results: benches/micro/RESULTS.md.
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use quick_xml::events::Event;
use quick_xml::NsReader;
use vaxel_adapter::{sniff, SniffLimits, SniffOutcome};

/// Target message sizes and their labels (binary units, as `max_body_bytes` is).
const SIZES: [(&str, usize); 4] = [
    ("1KB", 1024),
    ("100KB", 100 * 1024),
    ("1MB", 1024 * 1024),
    ("10MB", 10 * 1024 * 1024),
];

/// Used when the reference folder is not beside the workspace: a RIV-TA 2.1 call
/// (`LogicalAddress` header) of the same contract as the reference sample.
const BUILT_IN_ENVELOPE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header>
    <add:LogicalAddress xmlns:add="urn:riv:itintegration:registry:1">SE2321000016-BENCH</add:LogicalAddress>
  </soap:Header>
  <soap:Body>
    <ns2:GetSubjectOfCareSchedule xmlns:ns2="urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1">
      <ns2:healthcare_facility>SE2321000016-BENCH-UNIT</ns2:healthcare_facility>
      <ns2:subject_of_care>191212121212</ns2:subject_of_care>
    </ns2:GetSubjectOfCareSchedule>
  </soap:Body>
</soap:Envelope>
"#;

const CONTRACT: &str = "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1";

/// The base envelope and where it came from.
fn base_envelope() -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/riv-ta/vp-requests/Rivta21Request.xml");
    match std::fs::read_to_string(&path) {
        Ok(text) => (without_leading_comments(&text), path.display().to_string()),
        Err(_) => (
            BUILT_IN_ENVELOPE.to_owned(),
            "built-in envelope (reference folder not found)".to_owned(),
        ),
    }
}

/// Drops comments between the XML declaration and the root element: the reference
/// file starts with a 1 KB licence header that no consumer sends, and which would make
/// the smallest message twice the size it is labelled.
fn without_leading_comments(text: &str) -> String {
    let root = text.find("<soap:Envelope").unwrap_or(0);
    let (prolog, rest) = text.split_at(root);
    let declaration = prolog
        .find("?>")
        .map(|end| &prolog[..end + 2])
        .unwrap_or("");
    format!("{declaration}\n{rest}")
}

/// Pads the first Body child (before the last end tag ahead of the Body's end tag)
/// with journal-like rows until the message reaches `target` bytes. Rows carry an
/// attribute and an entity so that a full read does real work per row.
fn padded(base: &str, target: usize) -> Vec<u8> {
    let body_end = base.rfind("Body>").and_then(|i| base[..i].rfind("</"));
    let child_end = body_end
        .and_then(|i| base[..i].rfind("</"))
        .expect("the base envelope has a Body child with an end tag");
    let (head, tail) = base.split_at(child_end);
    let mut out = String::with_capacity(target + 256);
    out.push_str(head);
    let mut row = 0usize;
    while out.len() + tail.len() < target {
        let line = format!(
            "<padding row=\"{row}\">Journal note {row}: blood pressure 120/80 &amp; pulse 64, no remarks.</padding>\n"
        );
        // The last row is cut to size so the message lands on the target.
        let room = target - out.len() - tail.len();
        if line.len() > room {
            out.push_str(&format!("<p>{}</p>", "x".repeat(room.saturating_sub(7))));
            break;
        }
        out.push_str(&line);
        row += 1;
    }
    out.push_str(tail);
    out.into_bytes()
}

/// Every event of the message through the namespace-resolving reader, as the sniffer
/// reads its prefix.
fn quick_xml_full_read(message: &[u8]) -> usize {
    let mut reader = NsReader::from_reader(message);
    let mut events = 0usize;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) => return events,
            Ok((ns, event)) => {
                black_box((ns, event));
                events += 1;
            }
            Err(e) => panic!("benchmark message is not well-formed: {e}"),
        }
    }
}

fn roxmltree_dom(message: &[u8]) -> usize {
    let text = std::str::from_utf8(message).expect("benchmark message is UTF-8");
    let document = roxmltree::Document::parse(text).expect("benchmark message parses");
    document.descendants().len()
}

fn bench_sniff(c: &mut Criterion) {
    let (base, source) = base_envelope();
    println!("base envelope: {source} ({} bytes)", base.len());
    let limits = SniffLimits::default();

    for (label, target) in SIZES {
        let message = padded(&base, target);
        // Check once, outside the timing, that each contender does the real work: the
        // sniffer routes, the full read reaches the end, the DOM holds every row.
        let consumed = match sniff(&message, true, &limits) {
            Ok(SniffOutcome::Complete(envelope)) if envelope.contract_namespace == CONTRACT => {
                envelope.consumed
            }
            other => panic!("{label}: sniff did not route: {other:?}"),
        };
        let events = quick_xml_full_read(&message);
        let nodes = roxmltree_dom(&message);
        println!(
            "{label}: {} bytes, sniff decides after {consumed} bytes, {events} quick-xml events, {nodes} DOM nodes",
            message.len()
        );

        let mut group = c.benchmark_group(label);
        group.throughput(Throughput::Bytes(message.len() as u64));
        if target >= 1024 * 1024 {
            // Full reads of 1-10 MB take milliseconds: ten samples give a stable
            // median and keep the whole run under three minutes on two cores.
            group.sample_size(10);
        }
        group.bench_function(BenchmarkId::from_parameter("sniff"), |b| {
            b.iter(|| sniff(black_box(&message), true, &limits))
        });
        group.bench_function(BenchmarkId::from_parameter("quick_xml_full_read"), |b| {
            b.iter(|| quick_xml_full_read(black_box(&message)))
        });
        group.bench_function(BenchmarkId::from_parameter("roxmltree_dom"), |b| {
            b.iter(|| roxmltree_dom(black_box(&message)))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Short warm-up and measurement: the run covers 12 benchmarks, and the numbers
    // that matter (sniff vs. full parse) differ by orders of magnitude.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_sniff
}
criterion_main!(benches);
