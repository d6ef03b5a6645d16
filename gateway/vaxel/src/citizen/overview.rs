//! The citizen's overview (specs/citizen.md §3): one call, every information set vaxel
//! has an adapter for, every source that holds the patient's information, merged into
//! one small JSON shape.
//!
//! Each information set is gathered exactly as an aggregated query is (engagement index,
//! the routing table's authorisation for the caller, every source at once, one deadline;
//! specs/aggregation.md): a source that fails or is late is listed as such and never
//! fails the answer. The records are the patient's own, so consent and blocks (which
//! restrict care staff) do not apply; the patient-facing rules do
//! (specs/user-context.md "Patient-facing rules"): withheld records are counted, never
//! shown, and not said to be from which source.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use vaxel_adapter::{InformationSet, QueryRequest, Record, SourceOutcome, SourceStatus};
use vaxel_model::Fault;

use crate::onward::Onward;
use crate::services::aggregating::{Aggregator, Gathered, SourceRequests};
use crate::services::Caller;

/// One item of the overview.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Item {
    /// What it is, for a citizen (`note`, `lab-result`, `booking`, ...).
    pub kind: &'static str,
    /// The information set (adapter name) it comes from.
    pub information_set: &'static str,
    /// When it happened or is planned, ISO 8601 local time (`2026-11-20T09:30:00`, or a
    /// date), as the record gives it; `None` when the record has no readable time.
    pub time: Option<String>,
    pub title: Option<String>,
    /// HSA ids of the care giver (vårdgivare) and care unit (vårdenhet) accountable.
    pub care_giver: Option<String>,
    pub care_unit: Option<String>,
    pub status: Option<String>,
    /// The source's own identifiers.
    pub source: ItemSource,
    /// Where the full record is (`GET`, same authentication).
    pub link: Option<String>,
}

/// Where an item came from, with the source's own identifiers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ItemSource {
    pub logical_address: String,
    pub source_system: Option<String>,
    pub record_id: Option<String>,
}

/// How one source did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceReport {
    pub information_set: &'static str,
    pub kind: &'static str,
    pub logical_address: String,
    /// `ok` (answered), `failed` (fault, unreadable or refused answer) or `timeout`.
    pub status: &'static str,
    /// For `failed`/`timeout`: the code (`VP009`, `SOAP-Fault`, ...) and what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Items shown from this source.
    pub items: usize,
}

/// What one record's release decision was.
pub type Release = Result<(), &'static str>;

/// The overview's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// Newest first; items without a time last.
    pub items: Vec<Item>,
    /// Every source asked (and information sets whose sources could not be found),
    /// ordered by information set and logical address.
    pub sources: Vec<SourceReport>,
    /// Records withheld by the patient-facing rules: counted, never shown.
    pub withheld: Withheld,
}

/// Withheld records by reason.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Withheld {
    pub total: usize,
    pub by_reason: BTreeMap<&'static str, usize>,
}

/// The records shown from one source: for the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub information_set: &'static str,
    pub logical_address: String,
    /// Per source system: the record ids shown (`None`: a record without one).
    pub by_source_system: BTreeMap<String, Vec<Option<String>>>,
}

/// Gather every information set of `sets` for `patient` and build the overview.
/// `release` decides each record (the patient-facing rules). Also returns what was
/// shown, for the access log.
pub async fn gather(
    aggregator: &Aggregator,
    onward: &Onward,
    ctx: &Caller<'_>,
    patient: &str,
    sets: &[&'static dyn InformationSet],
    release: &(dyn Fn(&'static dyn InformationSet, &Record) -> Release + Sync),
) -> (Overview, Vec<Shown>) {
    let deadline = Instant::now() + aggregator.deadline();
    let query = QueryRequest {
        patient_id: patient.to_string(),
        ..QueryRequest::default()
    };
    let gathered = futures_util::future::join_all(sets.iter().map(|set| {
        let query = &query;
        async move {
            let r = aggregator
                .gather(
                    onward,
                    *set,
                    query,
                    SourceRequests::Overview {
                        patient_id: patient,
                    },
                    ctx,
                    deadline,
                )
                .await;
            (*set, r)
        }
    }))
    .await;
    let mut overview = Overview {
        items: Vec::new(),
        sources: Vec::new(),
        withheld: Withheld::default(),
    };
    let mut shown = Vec::new();
    for (set, result) in gathered {
        merge_set(set, result, release, &mut overview, &mut shown);
    }
    overview.items.sort_by(|a, b| match (&a.time, &b.time) {
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    overview.sources.sort_by(|a, b| {
        (a.information_set, &a.logical_address).cmp(&(b.information_set, &b.logical_address))
    });
    (overview, shown)
}

/// One information set's sources into the overview.
fn merge_set(
    set: &'static dyn InformationSet,
    result: Result<Gathered, Fault>,
    release: &(dyn Fn(&'static dyn InformationSet, &Record) -> Release + Sync),
    overview: &mut Overview,
    shown: &mut Vec<Shown>,
) {
    let d = set.descriptor();
    let gathered = match result {
        Ok(g) => g,
        Err(fault) => {
            // The engagement index or routing table could not be read: the whole set
            // is missing, and said so.
            overview.sources.push(SourceReport {
                information_set: d.name,
                kind: d.kind,
                logical_address: String::new(),
                status: "failed",
                code: Some(fault.code().to_string()),
                message: Some(fault.to_string()),
                items: 0,
            });
            return;
        }
    };
    for failed in &gathered.failed {
        overview.sources.push(report(set, failed, false, 0));
    }
    for answer in gathered.answers {
        let la = answer.outcome.logical_address.clone();
        let mut items = 0;
        let mut by_source_system: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
        if answer.body.is_some() {
            for record in &answer.records {
                match release(set, record) {
                    Ok(()) => {
                        items += 1;
                        let h = &record.header;
                        by_source_system
                            .entry(h.source_system.clone().unwrap_or_else(|| la.clone()))
                            .or_default()
                            .push(h.record_id.clone());
                        overview.items.push(item(set, &la, record));
                    }
                    Err(reason) => {
                        overview.withheld.total += 1;
                        *overview.withheld.by_reason.entry(reason).or_default() += 1;
                    }
                }
            }
        }
        overview
            .sources
            .push(report(set, &answer.outcome, answer.timed_out, items));
        if !by_source_system.is_empty() {
            shown.push(Shown {
                information_set: d.name,
                logical_address: la,
                by_source_system,
            });
        }
    }
}

fn report(
    set: &'static dyn InformationSet,
    outcome: &SourceOutcome,
    timed_out: bool,
    items: usize,
) -> SourceReport {
    let d = set.descriptor();
    let (status, code, message) = match &outcome.status {
        SourceStatus::DataFromSource | SourceStatus::DataFromCache => ("ok", None, None),
        SourceStatus::NoDataSynchFailed { code, text, .. } => (
            if timed_out { "timeout" } else { "failed" },
            Some(code.clone()),
            Some(text.clone()),
        ),
    };
    SourceReport {
        information_set: d.name,
        kind: d.kind,
        logical_address: outcome.logical_address.clone(),
        status,
        code,
        message,
        items,
    }
}

fn item(set: &'static dyn InformationSet, la: &str, record: &Record) -> Item {
    let d = set.descriptor();
    let h = &record.header;
    let link = h.record_id.as_ref().map(|id| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("information_set", d.name)
            .append_pair("logical_address", la)
            .append_pair("record_id", id)
            .finish();
        format!("{}?{query}", super::RECORD_PATH)
    });
    Item {
        kind: d.kind,
        information_set: d.name,
        time: h.time.as_deref().map(iso_time),
        title: h.title.clone(),
        care_giver: h.care_giver.clone(),
        care_unit: h.care_unit.clone(),
        status: h.status.clone(),
        source: ItemSource {
            logical_address: la.to_string(),
            source_system: h.source_system.clone(),
            record_id: h.record_id.clone(),
        },
        link,
    }
}

/// `yyyyMMddHHmmss` → `yyyy-MM-ddTHH:mm:ss`, `yyyyMMdd` → `yyyy-MM-dd`; anything else as
/// it is (the source's own spelling is better than nothing).
pub fn iso_time(t: &str) -> String {
    let digits = t.bytes().all(|b| b.is_ascii_digit());
    match (digits, t.len()) {
        (true, 14) => format!(
            "{}-{}-{}T{}:{}:{}",
            &t[0..4],
            &t[4..6],
            &t[6..8],
            &t[8..10],
            &t[10..12],
            &t[12..14]
        ),
        (true, 12) => format!(
            "{}-{}-{}T{}:{}:00",
            &t[0..4],
            &t[4..6],
            &t[6..8],
            &t[8..10],
            &t[10..12]
        ),
        (true, 8) => format!("{}-{}-{}", &t[0..4], &t[4..6], &t[6..8]),
        _ => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_iso_8601() {
        assert_eq!(iso_time("20261120093000"), "2026-11-20T09:30:00");
        assert_eq!(iso_time("202611200930"), "2026-11-20T09:30:00");
        assert_eq!(iso_time("20261120"), "2026-11-20");
        assert_eq!(iso_time("2026-11-20T09:30"), "2026-11-20T09:30");
    }
}
