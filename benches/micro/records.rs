//! Micro-benchmark for the information-set record reader (`InformationSet::parse_response`),
//! the per-answer cost of an aggregated query: the gateway reads every producer's answer
//! once to find its records and their headers before merging.
//!
//! Inputs are the same generated producer answers the demo producer serves
//! (`vaxel_adapters::samples::producer_response`, records that validate against the
//! national schemas): GetCareDocumentation:2 and GetDiagnosis:2 with 2 and 20 records
//! and both namespace layouts, and the other six NPÖ contracts with 20 records (each has
//! its own period rule: intervals, several times). Throughput is reported in bytes so
//! the figures compare across sizes.
//!
//! Run: `cargo bench -p vaxel-adapters --bench records`; results: benches/micro/RESULTS.md.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vaxel_adapter::ProducerResponse;
use vaxel_adapters::samples::{producer_response, NamespaceStyle, SampleSource};

fn records(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_response");
    let all_layouts: &[(usize, NamespaceStyle, &str)] = &[
        (2, NamespaceStyle::OnEnvelope, "2-envelope-ns"),
        (20, NamespaceStyle::OnEnvelope, "20-envelope-ns"),
        (20, NamespaceStyle::OnElements, "20-element-ns"),
    ];
    let twenty: &[(usize, NamespaceStyle, &str)] =
        &[(20, NamespaceStyle::OnEnvelope, "20-envelope-ns")];
    for (name, layouts) in [
        ("care-documentation", all_layouts),
        ("diagnosis", all_layouts),
        ("alert-information", twenty),
        ("care-contacts", twenty),
        ("medication-history", twenty),
        ("laboratory-outcome-3", twenty),
        ("referral-outcome", twenty),
        ("imaging-outcome", twenty),
    ] {
        let set = vaxel_adapters::by_name(name).expect("adapter");
        for &(records, style, label) in layouts {
            let body = producer_response(
                set,
                &SampleSource {
                    patient_id: "191212121212",
                    source_system: "SE2321000016-BENCH-SRC01",
                    care_giver: "SE2321000016-BENCH",
                    care_unit: "SE2321000016-BENCH-U01",
                    records,
                    time_base: "20240101",
                    style,
                },
            );
            match set.parse_response(body.as_bytes()) {
                Ok(ProducerResponse::Records(r)) => assert_eq!(r.len(), records),
                other => panic!("{name}: {other:?}"),
            }
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(name, format!("{label}-{}B", body.len())),
                body.as_bytes(),
                |b, body| b.iter(|| black_box(set.parse_response(black_box(body)))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, records);
criterion_main!(benches);
