//! CPU time of this process and of the PostgreSQL server (`/proc/<pid>/stat`, the
//! backends found in `pg_stat_activity`), and the machine's state (load average, the
//! file system under the SQLite database).

use std::collections::HashMap;

use crate::{Backend, Knobs};

/// From `/proc/<pid>/stat`, times in seconds.
struct ProcStat {
    comm: String,
    ppid: u32,
    /// `utime`.
    user: f64,
    /// `stime` (kernel: system calls, fsync, network).
    sys: f64,
    /// `cutime + cstime`: exited children that were waited for.
    children: f64,
}

fn proc_stat(pid: &str, tick: f64) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    // After `(comm) `: state, ppid, ... utime is field 14 of the whole line (index 11
    // here), stime 15, cutime 16, cstime 17.
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(ProcStat {
        comm,
        ppid: f.get(1)?.parse().ok()?,
        user: num(11)? / tick,
        sys: num(12)? / tick,
        children: (num(13)? + num(14)?) / tick,
    })
}

fn clock_tick() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds of every `postgres` process on this machine, plus what the postmaster
/// collected from exited children (backends that ended, autovacuum workers).
fn postgres_cpu_all(tick: f64) -> Option<f64> {
    let mut procs = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(p) = proc_stat(pid, tick).filter(|p| p.comm == "postgres") {
            procs.push((
                pid.parse::<u32>().unwrap_or(0),
                p.ppid,
                p.user + p.sys,
                p.children,
            ));
        }
    }
    if procs.is_empty() {
        return None;
    }
    let pids: std::collections::HashSet<u32> = procs.iter().map(|p| p.0).collect();
    Some(
        procs
            .iter()
            .map(|&(_, ppid, own, children)| {
                // The postmaster (its parent is not a postgres process) reaps the others.
                own + if pids.contains(&ppid) { 0.0 } else { children }
            })
            .sum(),
    )
}

/// Reads CPU time before and after a phase.
pub struct Probe {
    tick: f64,
    /// A connection for `pg_stat_activity` (PostgreSQL configurations).
    monitor: Option<tokio_postgres::Client>,
}

impl Probe {
    pub async fn new(knobs: &Knobs) -> Probe {
        let monitor = if knobs.backends.contains(&Backend::Postgres) {
            match vaxel_store_postgres::test_support::test_url().parse::<tokio_postgres::Config>() {
                Ok(mut c) => {
                    c.application_name("vaxel_cluster_bench_monitor");
                    match c.connect(tokio_postgres::NoTls).await {
                        Ok((client, conn)) => {
                            tokio::spawn(conn);
                            Some(client)
                        }
                        Err(e) => {
                            eprintln!("no monitor connection ({e}): no server CPU figures");
                            None
                        }
                    }
                }
                Err(_) => None,
            }
        } else {
            None
        };
        Probe {
            tick: clock_tick(),
            monitor,
        }
    }

    pub async fn sample(&self, app: Option<&str>) -> Sample {
        let mut ours = HashMap::new();
        let mut pg_all = None;
        if let (Some(client), Some(app)) = (&self.monitor, app) {
            if let Ok(rows) = client
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                    &[&app],
                )
                .await
            {
                for row in rows {
                    let pid: i32 = row.get(0);
                    if let Some(p) = proc_stat(&pid.to_string(), self.tick) {
                        ours.insert(pid, (p.user, p.sys));
                    }
                }
            }
            pg_all = postgres_cpu_all(self.tick);
        }
        Sample {
            process: proc_stat("self", self.tick)
                .map(|p| (p.user, p.sys))
                .unwrap_or((f64::NAN, f64::NAN)),
            ours,
            pg_all,
        }
    }
}

pub struct Sample {
    /// This process: (user, kernel) seconds.
    process: (f64, f64),
    /// Our backends: pid → (user, kernel) seconds.
    ours: HashMap<i32, (f64, f64)>,
    pg_all: Option<f64>,
}

/// CPU seconds spent during a phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub process: f64,
    /// Of which in the kernel.
    pub process_sys: f64,
    pub pg_ours: Option<f64>,
    /// Of which in the kernel.
    pub pg_ours_sys: Option<f64>,
    pub pg_all: Option<f64>,
}

pub fn cpu_between(a: &Sample, b: &Sample) -> Cpu {
    // A backend that appeared during the phase started at zero.
    let delta = |which: fn(&(f64, f64)) -> f64| {
        (!b.ours.is_empty()).then(|| {
            b.ours
                .iter()
                .map(|(pid, t)| which(t) - a.ours.get(pid).map(which).unwrap_or(0.0))
                .sum::<f64>()
        })
    };
    Cpu {
        process: (b.process.0 + b.process.1) - (a.process.0 + a.process.1),
        process_sys: b.process.1 - a.process.1,
        pg_ours: delta(|t| t.0 + t.1),
        pg_ours_sys: delta(|t| t.1),
        pg_all: a.pg_all.zip(b.pg_all).map(|(x, y)| y - x),
    }
}

/// `(n % kernel)` of a CPU time.
pub fn kernel_share(total: Option<f64>, sys: Option<f64>) -> String {
    match (total, sys) {
        (Some(t), Some(s)) if t > 0.0 => format!(" ({:.0} % kernel)", s * 100.0 / t),
        _ => String::new(),
    }
}

pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The file system type of the mount holding `path` (to warn about tmpfs).
pub fn fs_type(path: &std::path::Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {}", f[2], f[0])))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, t)| t)
        .unwrap_or_else(|| "?".into())
}
