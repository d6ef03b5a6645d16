//! What the processes cost, from `/proc`: CPU time and peak RSS of a gateway (or of this
//! process), and the CPU time of the PostgreSQL backends serving a gateway (found by
//! application name in `pg_stat_activity`).

use std::process::Command;

/// CPU seconds (`utime + stime`, all threads) of a process.
pub fn cpu_seconds(pid: u32, tick: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f[11].parse().expect("utime");
    let stime: f64 = f[12].parse().expect("stime");
    (utime + stime) / tick
}

/// Peak resident set (`VmHWM`) in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

pub fn clock_tick() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
/// CPU seconds of the database backends whose application name is `app` (connections
/// of one gateway, or of one cluster's nodes), by pid.
pub async fn db_cpu(monitor: &tokio_postgres::Client, app: &str, tick: f64) -> Vec<(i32, f64)> {
    let rows = monitor
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("pg_stat_activity");
    rows.iter()
        .filter_map(|r| {
            let pid: i32 = r.get(0);
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some((pid, t / tick))
        })
        .collect()
}

/// CPU seconds between two [`db_cpu`] samples (a backend that appeared started at 0).
pub fn db_cpu_delta(before: &[(i32, f64)], after: &[(i32, f64)]) -> f64 {
    after
        .iter()
        .map(|(pid, t)| {
            t - before
                .iter()
                .find(|(p, _)| p == pid)
                .map(|(_, t)| *t)
                .unwrap_or(0.0)
        })
        .sum()
}
