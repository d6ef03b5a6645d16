//! The writer: a bounded queue in front of one dedicated thread that appends queued
//! entries in group commits (everything queued, up to `max_batch`, in one transaction,
//! one fsync). The request path only queues (DESIGN.md "Performance model": nothing on
//! the hot path blocks on disk). The thread drives the (async) store on a small
//! runtime of its own, so a slow disk never holds up a service core.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use vaxel_store::access_log::AccessLogStore;
use vaxel_telemetry::metrics;

use super::{AccessLogEntry, AccessLogError, ChainHead};
use crate::config::AccessLogConfig;

/// The writer fills the review index (specs/access-log.md 4.5) once this many committed
/// entries are un-indexed, or whenever its queue is empty. Larger batches make the
/// sorted index inserts more local; the un-indexed tail that queries scan stays below
/// `INDEX_BATCH` plus the largest batch (unless indexing fails; see [`index_all`]).
pub(crate) const INDEX_BATCH: u64 = 50_000;
/// Entries per index transaction (bounds memory when a long tail is indexed at start).
const INDEX_CHUNK: usize = 200_000;

type Ack = oneshot::Sender<Result<ChainHead, AccessLogError>>;

enum Job {
    Entries {
        entries: Vec<AccessLogEntry>,
        /// Queue capacity held until the entries are committed.
        permit: Option<OwnedSemaphorePermit>,
        /// Answered after the commit (record_durable).
        ack: Option<Ack>,
    },
    Flush(std::sync::mpsc::SyncSender<()>),
    Stop,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    batches: AtomicU64,
    largest_batch: AtomicU64,
    backpressure_waits: AtomicU64,
    write_errors: AtomicU64,
    lost_after_shutdown: AtomicU64,
}

/// A snapshot of the writer's counters (for /metrics and /status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessLogStats {
    /// Entries queued and not yet committed.
    pub queued: u64,
    /// Entries committed since start.
    pub written: u64,
    /// Transactions committed since start.
    pub batches: u64,
    /// The most entries committed in one transaction.
    pub largest_batch: u64,
    /// Times a caller had to wait because the queue was full (PDL entries are never
    /// dropped: the caller waits instead).
    pub backpressure_waits: u64,
    /// Failed commits (each is retried until it succeeds).
    pub write_errors: u64,
    /// Entries handed to `record` after `shutdown` (a bug in the caller; logged).
    pub lost_after_shutdown: u64,
}

/// Handle to the access log writer. Cheap to clone; all clones feed one writer thread.
#[derive(Debug, Clone)]
pub struct AccessLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    // Unbounded channel, bounded in entries by `permits` (a request's entries are one
    // message, so a channel bounded in messages would not bound memory).
    tx: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    capacity: usize,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Entries { entries, ack, .. } => f
                .debug_struct("Entries")
                .field("count", &entries.len())
                .field("durable", &ack.is_some())
                .finish(),
            Job::Flush(_) => f.write_str("Flush"),
            Job::Stop => f.write_str("Stop"),
        }
    }
}

impl AccessLog {
    /// Spawn the writer thread (`vaxel-access-log`) over `store`.
    pub fn start(store: Arc<dyn AccessLogStore>, config: &AccessLogConfig) -> AccessLog {
        let capacity = config.queue_capacity.clamp(1, Semaphore::MAX_PERMITS);
        let max_batch = config.max_batch.max(1);
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let thread = {
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("vaxel-access-log".into())
                .spawn(move || run_writer(store, rx, max_batch, &counters))
                .expect("cannot spawn the access log writer thread")
        };
        AccessLog {
            inner: Arc::new(Inner {
                tx,
                permits: Arc::new(Semaphore::new(capacity)),
                capacity,
                counters,
                thread: Mutex::new(Some(thread)),
            }),
        }
    }

    /// Queue entries and return without waiting for disk. When the queue is full this
    /// waits for room (backpressure, counted) instead of dropping: PDL entries must not
    /// be lost. A crash before the next commit loses what is queued; use
    /// [`AccessLog::record_durable`] where that is not acceptable.
    pub async fn record(&self, entries: Vec<AccessLogEntry>) {
        if entries.is_empty() {
            return;
        }
        let n = entries.len();
        let permit = self.acquire(n).await;
        let job = Job::Entries {
            entries,
            permit: Some(permit),
            ack: None,
        };
        queued(n);
        if self.inner.tx.send(job).is_err() {
            unqueued(n);
            self.inner
                .counters
                .lost_after_shutdown
                .fetch_add(n as u64, Ordering::Relaxed);
            tracing::error!(
                entries = n,
                "access log entries recorded after shutdown cannot be written"
            );
        }
    }

    /// Queue entries and wait until they are committed (fsynced). `Ok` means they
    /// survive a crash; emergency access (PDL 4:4) uses this before the response leaves.
    /// On `Err` the entries are not known to be durable (the writer keeps retrying
    /// them), so the caller MUST NOT release the data.
    pub async fn record_durable(
        &self,
        entries: Vec<AccessLogEntry>,
    ) -> Result<ChainHead, AccessLogError> {
        let n = entries.len();
        let permit = if entries.is_empty() {
            None
        } else {
            Some(self.acquire(n).await)
        };
        let (ack, done) = oneshot::channel();
        queued(n);
        self.inner
            .tx
            .send(Job::Entries {
                entries,
                permit,
                ack: Some(ack),
            })
            .map_err(|_| {
                unqueued(n);
                AccessLogError::Closed
            })?;
        done.await.map_err(|_| AccessLogError::Closed)?
    }

    /// Block until everything queued before this call is committed. For shutdown paths
    /// and tests: do not call it on an async runtime thread.
    pub fn flush_blocking(&self) -> Result<(), AccessLogError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.inner
            .tx
            .send(Job::Flush(tx))
            .map_err(|_| AccessLogError::Closed)?;
        rx.recv().map_err(|_| AccessLogError::Closed)
    }

    /// Graceful shutdown: commit everything queued, then stop the writer thread and wait
    /// for it. Later `record` calls are refused (and counted). Idempotent; blocking.
    pub fn shutdown(&self) {
        let _ = self.inner.tx.send(Job::Stop);
        let handle = self.inner.thread.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            if handle.join().is_err() {
                tracing::error!("the access log writer thread panicked");
            }
        }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> AccessLogStats {
        let c = &self.inner.counters;
        AccessLogStats {
            queued: (self.inner.capacity - self.inner.permits.available_permits()) as u64,
            written: c.written.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
            backpressure_waits: c.backpressure_waits.load(Ordering::Relaxed),
            write_errors: c.write_errors.load(Ordering::Relaxed),
            lost_after_shutdown: c.lost_after_shutdown.load(Ordering::Relaxed),
        }
    }

    async fn acquire(&self, n: usize) -> OwnedSemaphorePermit {
        // A single call larger than the whole queue takes all of it (it cannot wait for
        // more room than exists).
        let n = u32::try_from(n.min(self.inner.capacity)).unwrap_or(u32::MAX);
        let permits = self.inner.permits.clone();
        match permits.clone().try_acquire_many_owned(n) {
            Ok(p) => p,
            Err(_) => {
                self.inner
                    .counters
                    .backpressure_waits
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(entries = n, "access log queue full; waiting");
                permits
                    .acquire_many_owned(n)
                    .await
                    .expect("the access log semaphore is never closed")
            }
        }
    }
}

/// `vaxel_access_log_queue_depth` counts entries, not permits (one call larger than the
/// queue holds fewer permits than entries). It is raised before the job is sent, so the
/// writer's decrease after the commit can never come first and take it below zero.
fn queued(n: usize) {
    metrics().access_log_queue.inc_by(n as i64);
}

/// Entries leave the queue: committed, or never taken (the writer is gone).
fn unqueued(n: usize) {
    metrics().access_log_queue.dec_by(n as i64);
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone without shutdown(): let the thread drain and exit by itself.
        let _ = self.tx.send(Job::Stop);
    }
}

fn run_writer(
    store: Arc<dyn AccessLogStore>,
    rx: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    counters: &Counters,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            // Without it nothing could ever be logged: fail loudly, callers see Closed.
            tracing::error!(error = %e, "cannot start the access log writer's runtime");
            // What was sent before the channel closes is never written: out of the queue
            // depth, so the gauge does not report a queue nobody will drain.
            let mut rx = rx;
            rx.close();
            while let Ok(job) = rx.try_recv() {
                if let Job::Entries { entries, .. } = job {
                    unqueued(entries.len());
                }
            }
            return;
        }
    };
    let store = Store {
        rt: &rt,
        store: store.as_ref(),
    };
    write_loop(&store, rx, max_batch, counters);
}

/// The store, driven from the writer thread.
struct Store<'a> {
    rt: &'a tokio::runtime::Runtime,
    store: &'a dyn AccessLogStore,
}

impl Store<'_> {
    fn append_access_log(&self, entries: &[AccessLogEntry]) -> vaxel_store::Result<ChainHead> {
        self.rt.block_on(self.store.append_access_log(entries))
    }

    fn access_log_head(&self) -> vaxel_store::Result<ChainHead> {
        self.rt.block_on(self.store.access_log_head())
    }

    fn index_access_log(
        &self,
        max_entries: usize,
    ) -> vaxel_store::Result<vaxel_store::access_log::IndexState> {
        self.rt.block_on(self.store.index_access_log(max_entries))
    }
}

fn write_loop(
    store: &Store<'_>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    counters: &Counters,
) {
    let mut batch: Vec<AccessLogEntry> = Vec::new();
    let mut acks: Vec<Ack> = Vec::new();
    let mut permits: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut flushes: Vec<std::sync::mpsc::SyncSender<()>> = Vec::new();
    let mut stopping = false;
    // Index what a crash (or an older writer) left un-indexed before taking new entries.
    let mut unindexed = index_all(store);
    loop {
        let first = if stopping {
            // Stop was seen and the channel closed: drain what was sent before it.
            match rx.try_recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        } else {
            match rx.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Idle: bring the index up to the head while nobody waits.
                    if unindexed > 0 {
                        unindexed = index_all(store);
                    }
                    // Wait on the writer's runtime, not beside it: tasks spawned there
                    // while it ran a store call (a PostgreSQL connection's driver, which
                    // then serves the whole pool) must keep running between batches.
                    match store.rt.block_on(rx.recv()) {
                        Some(job) => job,
                        None => break,
                    }
                }
            }
        };
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Entries {
                    mut entries,
                    permit,
                    ack,
                } => {
                    batch.append(&mut entries);
                    permits.extend(permit);
                    acks.extend(ack);
                }
                Job::Flush(done) => flushes.push(done),
                Job::Stop => {
                    stopping = true;
                    rx.close();
                }
            }
            if batch.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let head = write_with_retry(store, &batch, &mut acks, counters);
            counters
                .written
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters
                .largest_batch
                .fetch_max(batch.len() as u64, Ordering::Relaxed);
            metrics().access_log_entries.inc_by(batch.len() as u64);
            unqueued(batch.len());
            for ack in acks.drain(..) {
                let _ = ack.send(Ok(head));
            }
            unindexed += batch.len() as u64;
            batch.clear();
        } else {
            // record_durable with no entries: answer with the current head.
            if !acks.is_empty() {
                let head = store.access_log_head().map_err(AccessLogError::from);
                for ack in acks.drain(..) {
                    let _ = ack.send(head.clone());
                }
            }
        }
        // Room in the queue only once the entries are on disk.
        permits.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        // The bound on the un-indexed tail: index before taking the next batch.
        if unindexed >= INDEX_BATCH {
            unindexed = index_all(store);
        }
    }
    index_all(store);
    tracing::info!("access log writer stopped");
}

/// Index every committed entry; returns the entries still un-indexed (0 unless indexing
/// failed: then queries stay correct, scanning a longer tail, and the writer tries again
/// later; durability of new entries never waits for the index).
fn index_all(store: &Store<'_>) -> u64 {
    let mut last = None;
    loop {
        match store.index_access_log(INDEX_CHUNK) {
            Ok(state) if state.lag() == 0 => return 0,
            // No progress (another process is appending past us): try again later.
            Ok(state) if last == Some(state.indexed_upto) => return state.lag(),
            Ok(state) => last = Some(state.indexed_upto),
            Err(e) => {
                tracing::error!(error = %e, "access log review index could not be updated; retried later");
                return match store.access_log_head() {
                    Ok(h) => h.seq.max(1),
                    Err(_) => 1,
                };
            }
        }
    }
}

/// Append until it succeeds: queued entries are never dropped. Durable waiters learn of
/// the first failure at once (so emergency access fails closed instead of hanging).
fn write_with_retry(
    store: &Store<'_>,
    batch: &[AccessLogEntry],
    acks: &mut Vec<Ack>,
    counters: &Counters,
) -> ChainHead {
    let mut delay = Duration::from_millis(50);
    loop {
        // The histogram times the append that committed (one observation per group
        // commit); failed attempts and the sleeps between them count in write_errors.
        let started = Instant::now();
        match store.append_access_log(batch) {
            Ok(head) => {
                metrics().access_log_commit.observe(started.elapsed());
                return head;
            }
            Err(e) => {
                counters.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, entries = batch.len(), retry_in_ms = delay.as_millis() as u64,
                    "access log write failed; the batch is kept and retried");
                let err = AccessLogError::from(e);
                for ack in acks.drain(..) {
                    let _ = ack.send(Err(err.clone()));
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
