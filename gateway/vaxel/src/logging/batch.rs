//! The log output's writer: lines are appended to a shared buffer and a background
//! thread writes the buffer out every [`INTERVAL`] (or at once when it holds
//! [`HIGH_WATER`] bytes). A line that finds the output idle for an interval goes out at
//! once, so a quiet gateway's log is as immediate as an unbuffered one; under load, the
//! lines of an interval go out together.
//!
//! Why not `tracing-appender`'s non-blocking writer: it hands each line to its thread
//! through a channel, and at a steady 10 000 requests/s that thread wakes up and makes
//! a `write` system call for nearly every line (measured with perf on the load harness:
//! context switches and `writev` were the largest items of the request line's cost).
//! Here a line costs a short lock and a copy; the system calls are one per interval.
//!
//! Nothing is dropped: when the buffer is full the writing thread writes it out itself
//! (the output's speed then bounds the gateway's, as it must for a log that is never
//! lossy). What is buffered is written at [`BatchWriter::flush_now`] (the process's end);
//! a kill -9 loses at most the last interval's lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the buffer is written out.
pub const INTERVAL: Duration = Duration::from_millis(50);
/// Buffer size at which a writer writes it out itself.
pub const HIGH_WATER: usize = 4 * 1024 * 1024;

type Sink = Box<dyn Write + Send>;

struct Buffer {
    bytes: Vec<u8>,
    stopped: bool,
    /// When the buffer was last written out.
    last_out: Instant,
}

struct Shared {
    buffer: Mutex<Buffer>,
    /// Signalled when the buffer should be written before the interval ends.
    wake: Condvar,
    sink: Mutex<Sink>,
}

/// Cloneable handle; `tracing-subscriber` asks it for a writer per line.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter").finish_non_exhaustive()
    }
}

impl BatchWriter {
    /// A writer to `sink`, with its background thread.
    pub fn start(sink: Sink) -> BatchWriter {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Buffer {
                bytes: Vec::new(),
                stopped: false,
                last_out: Instant::now(),
            }),
            wake: Condvar::new(),
            sink: Mutex::new(sink),
        });
        let background = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("vaxel-log".into())
            .spawn(move || loop {
                let stopped = {
                    let Ok(guard) = background.buffer.lock() else {
                        return;
                    };
                    let Ok((guard, _)) = background.wake.wait_timeout(guard, INTERVAL) else {
                        return;
                    };
                    guard.stopped
                };
                drain(&background);
                if stopped {
                    return;
                }
            });
        if let Err(e) = spawned {
            // Without the thread, lines still go out when the buffer fills and at exit.
            eprintln!("vaxel: cannot start the log writer thread: {e}");
        }
        BatchWriter { shared }
    }

    /// Write out what is buffered now, and stop the background thread (later lines go
    /// straight out).
    pub fn flush_now(&self) {
        if let Ok(mut b) = self.shared.buffer.lock() {
            b.stopped = true;
        }
        self.shared.wake.notify_all();
        drain(&self.shared);
    }
}

/// Write out the buffer. The output's lock is taken before the buffer is emptied, so
/// lines go out in the order they were written whoever drains.
fn drain(shared: &Shared) {
    let Ok(mut sink) = shared.sink.lock() else {
        return;
    };
    let bytes = match shared.buffer.lock() {
        Ok(mut b) => {
            if !b.bytes.is_empty() {
                b.last_out = Instant::now();
            }
            // The next batch starts at this one's size: one allocation per interval
            // instead of the buffer growing (and copying) from empty every time.
            let capacity = b.bytes.len().min(HIGH_WATER);
            std::mem::replace(&mut b.bytes, Vec::with_capacity(capacity))
        }
        Err(_) => return,
    };
    if !bytes.is_empty() {
        // A log output that fails cannot be reported through the log.
        let _ = sink.write_all(&bytes).and_then(|()| sink.flush());
    }
}

impl BatchWriter {
    /// Append whole lines (the bytes end with a newline).
    pub fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let out_now = {
            let mut b = self
                .shared
                .buffer
                .lock()
                .map_err(|_| std::io::Error::other("log buffer poisoned"))?;
            let idle = b.bytes.is_empty() && b.last_out.elapsed() >= INTERVAL;
            b.bytes.extend_from_slice(line);
            idle || b.stopped || b.bytes.len() >= HIGH_WATER
        };
        if out_now {
            drain(&self.shared);
        }
        Ok(())
    }
}

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.append(line)?;
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_come_out_whole_in_order_within_the_interval() {
        let sink = Captured::default();
        let mut w = BatchWriter::start(Box::new(sink.clone()));
        for i in 0..1000 {
            w.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        std::thread::sleep(INTERVAL * 4);
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
    }

    #[test]
    fn a_line_after_a_quiet_interval_goes_out_at_once() {
        let sink = Captured::default();
        let mut w = BatchWriter::start(Box::new(sink.clone()));
        std::thread::sleep(INTERVAL * 2);
        w.write_all(b"first after a pause\n").unwrap();
        assert_eq!(&*sink.0.lock().unwrap(), b"first after a pause\n");
    }

    #[test]
    fn flush_now_writes_what_is_buffered_and_later_lines_go_straight_out() {
        let sink = Captured::default();
        let mut w = BatchWriter::start(Box::new(sink.clone()));
        w.write_all(b"before\n").unwrap();
        w.flush_now();
        assert_eq!(&*sink.0.lock().unwrap(), b"before\n");
        w.write_all(b"after\n").unwrap();
        assert_eq!(&*sink.0.lock().unwrap(), b"before\nafter\n");
    }
}
