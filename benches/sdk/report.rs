//! The report over the rounds: the table of medians, the store's share (PostgreSQL,
//! several sender nodes) and, with a profile folder, the cost split of a message's CPU
//! into crypto, storage and the rest.

use std::path::Path;

use crate::round::Round;
use crate::{Case, Opts};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// Medians of one case, for the table and the cost split.
pub struct Summary {
    case: Case,
    bytes: usize,
    msgs_per_s: f64,
    cpu_region: f64,
    cpu_municipality: f64,
}

pub fn summarise(case: Case, c: usize, rounds: &[Round]) -> Summary {
    let col = |f: fn(&Round) -> f64| rounds.iter().map(f).collect::<Vec<_>>();
    let rate = col(|r| r.msgs_per_s);
    let (lo, hi) = range(&rate);
    let s = Summary {
        case,
        bytes: rounds[0].submitted_bytes,
        msgs_per_s: median(rate.clone()),
        cpu_region: median(col(|r| r.cpu_ms_region)),
        cpu_municipality: median(col(|r| r.cpu_ms_municipality)),
    };
    println!(
        "| {} ({} B submitted) | {} | {} | {:.0} ({:.0}–{:.0}) | {:.0} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} | {:.0} / {:.0} |",
        case.name,
        s.bytes,
        case.n,
        c,
        s.msgs_per_s,
        lo,
        hi,
        median(col(|r| r.submit_per_s)),
        median(col(|r| r.p50_ms)),
        median(col(|r| r.p99_ms)),
        s.cpu_region,
        s.cpu_municipality,
        median(col(|r| r.cpu_ms_client)),
        median(col(|r| r.rss_region)),
        median(col(|r| r.rss_municipality)),
    );
    s
}

/// The store's share (PostgreSQL, several sender nodes): medians of the gateways' and
/// the database backends' CPU per message, and how the region's nodes shared the work.
pub fn store_table(opts: &Opts, results: &[(Case, Vec<Round>)]) {
    println!(
        "\n| size | store | region nodes | msgs/s | CPU ms/msg sender (all nodes) / receiver | database CPU ms/msg sender / receiver | gateways + database CPU ms/msg | delivered per node (last round) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (case, rounds) in results {
        let col = |f: &dyn Fn(&Round) -> Option<f64>| -> Option<f64> {
            let v: Vec<f64> = rounds.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| median(v))
        };
        let f2 = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
        let (sender, receiver) = (
            col(&|r| Some(r.cpu_ms_region)),
            col(&|r| Some(r.cpu_ms_municipality)),
        );
        let (db_s, db_r) = (
            col(&|r| r.db_cpu_ms.map(|d| d.0)),
            col(&|r| r.db_cpu_ms.map(|d| d.1)),
        );
        let total = col(&|r| {
            r.db_cpu_ms
                .map(|d| r.cpu_ms_region + r.cpu_ms_municipality + d.0 + d.1)
        });
        println!(
            "| {} | {} | {} | {:.0} | {} / {} | {} / {} | {} | {} |",
            case.name,
            if opts.postgres { "postgres" } else { "sqlite" },
            opts.sender_nodes,
            median(rounds.iter().map(|r| r.msgs_per_s).collect()),
            f2(sender),
            f2(receiver),
            f2(db_s),
            f2(db_r),
            f2(total),
            rounds
                .last()
                .map(|r| {
                    r.delivered_by_node
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .unwrap_or_default()
        );
    }
}

/// `encrypt+sign` and `verify+decrypt` ms per payload size from the `xmlsec_profile`
/// timing test's lines (`payload N B, envelope M B: encrypt+sign 1.23ms, verify+decrypt 4.56ms`).
fn parse_xmlsec(text: &str) -> Vec<(f64, f64, f64)> {
    fn ms(s: &str) -> Option<f64> {
        let s = s.trim().trim_end_matches(',');
        if let Some(v) = s.strip_suffix("ms") {
            v.parse().ok()
        } else if let Some(v) = s.strip_suffix("µs") {
            v.parse::<f64>().ok().map(|v| v / 1e3)
        } else if let Some(v) = s.strip_suffix('s') {
            v.parse::<f64>().ok().map(|v| v * 1e3)
        } else {
            None
        }
    }
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("payload")?;
            let (size, rest) = rest.split_once("B,")?;
            let (_, rest) = rest.split_once("encrypt+sign")?;
            let (seal, open) = rest.split_once(", verify+decrypt")?;
            Some((size.trim().parse().ok()?, ms(seal)?, ms(open)?))
        })
        .collect()
}

/// Rates (per second) from the `sdk_write_rate` test: submit, claim+receipt, inbox insert.
fn parse_store(text: &str) -> Option<(f64, f64, f64, Option<f64>)> {
    let rate = |key: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|r| r.trim().trim_end_matches("/s").parse().ok())
    };
    let cpu = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("cpu_s="))
        .and_then(|v| v.trim().parse().ok());
    Some((
        rate("sdk_submit:")?,
        rate("claim (64) + sdk_record_receipt:")?,
        rate("sdk_inbox_insert:")?,
        cpu,
    ))
}

pub fn cost_split(profile: &Path, summaries: &[Summary]) {
    let xmlsec = std::fs::read_to_string(profile.join("xmlsec.txt")).unwrap_or_default();
    let store = std::fs::read_to_string(profile.join("store.txt")).unwrap_or_default();
    let points = parse_xmlsec(&xmlsec);
    let Some((submit, deliver, insert, store_cpu)) = parse_store(&store) else {
        println!(
            "(no sdk_write_rate figures in {}: no cost split)",
            profile.display()
        );
        return;
    };
    if points.len() < 2 {
        println!(
            "(no xmlsec_profile figures in {}: no cost split)",
            profile.display()
        );
        return;
    }
    // Crypto cost as a + b·bytes through the two measured payload sizes: at 10 KB the
    // RSA operations dominate, at 1 MB the bytes (C14N, SHA-256, AES, base64).
    let (s0, e0, d0) = points[0];
    let (s1, e1, d1) = points[points.len() - 1];
    let at = |y0: f64, y1: f64, x: f64| y0 + (y1 - y0) * (x - s0) / (s1 - s0);
    println!("\nxmlsec_profile: {points:?} (payload B, encrypt+sign ms, verify+decrypt ms)");
    println!(
        "sdk_write_rate (4 KB envelopes, 16 writers): submit {submit:.0}/s, claim+receipt {deliver:.0}/s, inbox insert {insert:.0}/s{}",
        store_cpu
            .map(|c| format!(", test process CPU {c:.2} s for 3 × 2000 writes"))
            .unwrap_or_default()
    );
    // Storage per message as the store test saw it: wall time per durable write (mostly
    // fsync waits, shared by concurrent writers), and, when known, CPU per write.
    let store_ms_sender = 1e3 / submit + 1e3 / deliver;
    let store_ms_receiver = 1e3 / insert;
    let store_cpu_per_write = store_cpu.map(|c| c * 1e3 / 6000.0);
    println!("\n| size | side | CPU ms/msg (e2e) | crypto ms | storage ms (wall per durable write; CPU) | rest (CPU − crypto − storage CPU) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for s in summaries {
        // The payload the gateways encrypt: the submitted XML less the header, ≈ its size.
        let x = s.bytes as f64;
        for (side, cpu, crypto, st_wall, writes) in [
            (
                "sender (region)",
                s.cpu_region,
                at(e0, e1, x),
                store_ms_sender,
                2.0,
            ),
            (
                "receiver (municipality)",
                s.cpu_municipality,
                at(d0, d1, x),
                store_ms_receiver,
                1.0,
            ),
        ] {
            let st_cpu = store_cpu_per_write.map(|w| w * writes);
            println!(
                "| {} | {side} | {cpu:.2} | {crypto:.2} | {st_wall:.2}; {} | {:.2} |",
                s.case.name,
                st_cpu
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_else(|| "?".into()),
                cpu - crypto - st_cpu.unwrap_or(0.0),
            );
        }
        let limit = 2000.0 / (s.cpu_region + s.cpu_municipality);
        println!(
            "|  {} | both gateways | {:.2} | | | CPU bound: 2 cores ÷ both gateways' CPU = {:.0} msgs/s (measured {:.0}) |",
            s.case.name,
            s.cpu_region + s.cpu_municipality,
            limit,
            s.msgs_per_s
        );
    }
}
