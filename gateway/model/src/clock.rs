//! The one date and time source of the gateway. Routing and authorisation rules are
//! valid by calendar day, engagement index times (`yyyyMMddHHmmss`) and ProcessingStatus
//! time stamps carry no zone: all of them use the host's local time, as the national
//! platform does (run the gateway with `TZ=Europe/Stockholm`; specs/configuration.md).
//! Nothing else in vaxel calls `chrono::Local` or `Utc::now` for these purposes.

use std::cell::{Cell, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, Timelike, Utc};

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Today's local date for validity checks (vägval, anropsbehörighet), recomputed at most
/// once a second per thread: the local-time lookup is not free, and validity is by day.
pub fn today() -> NaiveDate {
    thread_local! {
        static CACHE: Cell<Option<(u64, NaiveDate)>> = const { Cell::new(None) };
    }
    let now = unix_seconds();
    CACHE.with(|c| match c.get() {
        Some((secs, day)) if secs == now => day,
        _ => {
            let day = Local::now().date_naive();
            c.set(Some((now, day)));
            day
        }
    })
}

/// The current local time, truncated to whole seconds (engagement index times).
pub fn now_local() -> NaiveDateTime {
    let t = Local::now().naive_local();
    t.with_nanosecond(0).unwrap_or(t)
}

/// The current local time as `yyyyMMddHHmmss` (ProcessingStatus and engagement index
/// time stamps), formatted at most once a second per thread: a fan-out asks for it once
/// per source.
pub fn local_stamp() -> String {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = unix_seconds();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != now {
            *c = (now, Local::now().format("%Y%m%d%H%M%S").to_string());
        }
        c.1.clone()
    })
}

/// The current instant in UTC, for time stamps that carry their zone (access log
/// entries, consent registrations, JWT `exp`/`nbf`).
pub fn now_utc() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_and_stamp_agree_with_local_time() {
        let before = Local::now().date_naive();
        let day = today();
        let after = Local::now().date_naive();
        assert!(day == before || day == after);
        let stamp = local_stamp();
        assert_eq!(stamp.len(), 14);
        assert!(stamp.bytes().all(|b| b.is_ascii_digit()));
        assert!(stamp.starts_with(&day.format("%Y%m%d").to_string()) || day != after);
        assert_eq!(now_local().nanosecond(), 0);
    }
}
