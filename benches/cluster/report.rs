//! The report: each phase's line as it ends, and the tables over the rounds (medians of
//! throughput and CPU per operation, node-count and backend ratios).

use std::collections::HashMap;

use crate::cpu::kernel_share;
use crate::updates::BATCH;
use crate::{Backend, Knobs, Phase, Run};

fn us_per_op(cpu_s: Option<f64>, ops: u64) -> String {
    match cpu_s {
        Some(c) if ops > 0 => format!("{:.1}", c * 1e6 / ops as f64),
        _ => "–".into(),
    }
}

pub fn print_phase(what: &str, unit: &str, p: &Phase) {
    println!(
        "    {what}: {} {unit} in {:.2} s = {:.0} {unit}/s{}; CPU µs per op: process {}{}, PG backends {}{}, PG all {}{}{}",
        p.ops,
        p.secs,
        p.rate(),
        if p.errors > 0 {
            format!(" ({} errors)", p.errors)
        } else {
            String::new()
        },
        us_per_op(Some(p.cpu.process), p.ops),
        kernel_share(Some(p.cpu.process), Some(p.cpu.process_sys)),
        us_per_op(p.cpu.pg_ours, p.ops),
        kernel_share(p.cpu.pg_ours, p.cpu.pg_ours_sys),
        us_per_op(p.cpu.pg_all, p.ops),
        p.durable_ms
            .map(|(a, b)| format!("; record_durable p50 {a:.2} ms, p99 {b:.2} ms"))
            .unwrap_or_default(),
        p.check
            .as_ref()
            .map(|c| format!("\n      CHECK FAILED: {c}"))
            .unwrap_or_default()
            + &p.note
                .as_ref()
                .map(|c| format!("\n      note: {c}"))
                .unwrap_or_default(),
    );
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Medians of one phase over the rounds.
struct Summary {
    rate: Option<f64>,
    lo: f64,
    hi: f64,
    process_us: Option<f64>,
    pg_ours_us: Option<f64>,
    pg_all_us: Option<f64>,
    durable: Option<(f64, f64)>,
    errors: u64,
}

fn summarise(phases: &[&Phase]) -> Summary {
    let per_op = |f: &dyn Fn(&Phase) -> Option<f64>| {
        median(
            phases
                .iter()
                .filter_map(|p| f(p).filter(|_| p.ops > 0).map(|c| c * 1e6 / p.ops as f64))
                .collect(),
        )
    };
    let rates: Vec<f64> = phases.iter().map(|p| p.rate()).collect();
    Summary {
        rate: median(rates.clone()),
        lo: rates.iter().copied().fold(f64::INFINITY, f64::min),
        hi: rates.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        process_us: per_op(&|p| Some(p.cpu.process)),
        pg_ours_us: per_op(&|p| p.cpu.pg_ours),
        pg_all_us: per_op(&|p| p.cpu.pg_all),
        durable: median(
            phases
                .iter()
                .filter_map(|p| p.durable_ms.map(|d| d.0))
                .collect(),
        )
        .zip(median(
            phases
                .iter()
                .filter_map(|p| p.durable_ms.map(|d| d.1))
                .collect(),
        )),
        errors: phases.iter().map(|p| p.errors).sum(),
    }
}

fn fmt_rate(s: &Summary, rounds: usize) -> String {
    match s.rate {
        None => "–".into(),
        Some(r) if rounds > 1 => format!("{r:.0} ({:.0}–{:.0})", s.lo, s.hi),
        Some(r) => format!("{r:.0}"),
    }
}

fn fmt_cpu(s: &Summary) -> String {
    let f = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into());
    if s.pg_ours_us.is_none() && s.pg_all_us.is_none() {
        f(s.process_us)
    } else {
        format!(
            "{} + {} ({})",
            f(s.process_us),
            f(s.pg_ours_us),
            f(s.pg_all_us)
        )
    }
}

pub fn report(knobs: &Knobs, results: &HashMap<(Backend, usize), Vec<Run>>) {
    let configs: Vec<(Backend, usize)> = knobs
        .backends
        .iter()
        .flat_map(|&b| knobs.nodes.iter().map(move |&n| (b, n)))
        .filter(|c| results.contains_key(c))
        .collect();
    type Pick = fn(&Run) -> Option<&Phase>;
    let picks: [(&str, Pick); 3] = [
        ("ei", |r| r.ei.as_ref()),
        ("al", |r| r.al.as_ref()),
        ("sdk", |r| r.sdk.as_ref()),
    ];
    let summaries: HashMap<((Backend, usize), &'static str), Summary> = configs
        .iter()
        .flat_map(|c| {
            picks.iter().filter_map(move |(name, pick)| {
                let phases: Vec<&Phase> = results[c].iter().filter_map(pick).collect();
                (!phases.is_empty()).then(|| ((*c, *name), summarise(&phases)))
            })
        })
        .collect();
    let get = |c: (Backend, usize), name: &'static str| summaries.get(&(c, name));
    let rounds = knobs.rounds;

    println!(
        "\n### Throughput ({} round(s){}; EI {} engagements, access log {} entries, SDK {} messages of {} B per configuration)\n",
        rounds,
        if rounds > 1 { ", median (range)" } else { "" },
        knobs.ei_engagements.div_ceil(BATCH) * BATCH,
        knobs.al_entries,
        knobs.sdk_messages,
        knobs.sdk_envelope
    );
    println!("| backend | nodes | EI Update transactions/s | access log durable entries/s | record_durable p50 / p99 ms | SDK store messages/s | errors |");
    println!("| --- | ---: | ---: | ---: | --- | ---: | ---: |");
    for &c in &configs {
        let rate = |name: &'static str| {
            get(c, name)
                .map(|s| fmt_rate(s, rounds))
                .unwrap_or_else(|| "–".into())
        };
        let errors: u64 = picks
            .iter()
            .filter_map(|(n, _)| get(c, n))
            .map(|s| s.errors)
            .sum();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.0.name(),
            c.1,
            rate("ei"),
            rate("al"),
            get(c, "al")
                .and_then(|s| s.durable)
                .map(|(a, b)| format!("{a:.2} / {b:.2}"))
                .unwrap_or_else(|| "–".into()),
            rate("sdk"),
            errors
        );
    }

    // How each backend changes from its smallest to its largest node count.
    let (Some(&lo_n), Some(&hi_n)) = (knobs.nodes.iter().min(), knobs.nodes.iter().max()) else {
        return;
    };
    if lo_n != hi_n {
        println!("\n| backend | {hi_n} nodes ÷ {lo_n} node(s): EI | access log | SDK store |");
        println!("| --- | ---: | ---: | ---: |");
        for &b in &knobs.backends {
            let ratio = |name: &'static str| match (
                get((b, hi_n), name).and_then(|s| s.rate),
                get((b, lo_n), name).and_then(|s| s.rate),
            ) {
                (Some(h), Some(l)) if l > 0.0 => format!("{:.2}×", h / l),
                _ => "–".into(),
            };
            if results.contains_key(&(b, lo_n)) && results.contains_key(&(b, hi_n)) {
                println!(
                    "| {} | {} | {} | {} |",
                    b.name(),
                    ratio("ei"),
                    ratio("al"),
                    ratio("sdk")
                );
            }
        }
    }
    if knobs.backends.len() > 1 {
        println!("\n| nodes | postgres ÷ sqlite: EI | access log | SDK store |");
        println!("| ---: | ---: | ---: | ---: |");
        for &n in &knobs.nodes {
            let ratio = |name: &'static str| match (
                get((Backend::Postgres, n), name).and_then(|s| s.rate),
                get((Backend::Sqlite, n), name).and_then(|s| s.rate),
            ) {
                (Some(p), Some(s)) if s > 0.0 => format!("{:.2}×", p / s),
                _ => "–".into(),
            };
            println!(
                "| {n} | {} | {} | {} |",
                ratio("ei"),
                ratio("al"),
                ratio("sdk")
            );
        }
    }

    println!("\n### CPU µs per operation: this process + PostgreSQL backends of these connections (all postgres processes)\n");
    println!("| backend | nodes | per EI transaction | per access-log entry | per SDK message |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for &c in &configs {
        let cpu = |name: &'static str| get(c, name).map(fmt_cpu).unwrap_or_else(|| "–".into());
        println!(
            "| {} | {} | {} | {} | {} |",
            c.0.name(),
            c.1,
            cpu("ei"),
            cpu("al"),
            cpu("sdk")
        );
    }
}
