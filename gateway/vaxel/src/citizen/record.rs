//! One full record for the citizen (`GET /citizen/v1/records?information_set=…&
//! logical_address=…&record_id=…`, the `link` of an overview item): the information
//! set's sources at that logical address are asked again, and the record is answered
//! as its contract's response holding that one record (`ProcessingStatus` naming the
//! source), so that it validates against the contract's schema like any answer. The
//! patient-facing rules apply as in the overview: a withheld record is not found.

use std::time::Instant;

use vaxel_adapter::{InformationSet, MergeInput, QueryRequest, Record};

use super::overview::Release;
use crate::onward::Onward;
use crate::services::aggregating::{Aggregator, SourceRequests};
use crate::services::Caller;

/// What was asked for.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub set: &'static dyn InformationSet,
    pub logical_address: String,
    pub record_id: String,
}

/// Why there is no record to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotShown {
    /// No such record at that source (or withheld: the two are not told apart).
    NotFound,
    /// The source did not answer; the message says how.
    SourceFailed(String),
}

/// Ask the source and return the merged answer with the one record, and the record's
/// source system (for the access log).
pub async fn fetch(
    aggregator: &Aggregator,
    onward: &Onward,
    ctx: &Caller<'_>,
    patient: &str,
    q: &RecordQuery,
    release: &(dyn Fn(&'static dyn InformationSet, &Record) -> Release + Sync),
) -> Result<(Vec<u8>, Option<String>), NotShown> {
    let query = QueryRequest {
        patient_id: patient.to_string(),
        ..QueryRequest::default()
    };
    let gathered = aggregator
        .gather(
            onward,
            q.set,
            &query,
            SourceRequests::Overview {
                patient_id: patient,
            },
            ctx,
            Instant::now() + aggregator.deadline(),
        )
        .await
        .map_err(|f| NotShown::SourceFailed(f.to_string()))?;
    let Some(answer) = gathered
        .answers
        .into_iter()
        .find(|a| a.outcome.logical_address == q.logical_address)
    else {
        return Err(NotShown::NotFound);
    };
    let Some(body) = answer.body else {
        return Err(NotShown::SourceFailed(match &answer.outcome.status {
            vaxel_adapter::SourceStatus::NoDataSynchFailed { text, .. } => text.clone(),
            _ => "the source did not answer".to_string(),
        }));
    };
    let Some(record) = answer.records.into_iter().find(|r| {
        r.header.record_id.as_deref() == Some(q.record_id.as_str()) && release(q.set, r).is_ok()
    }) else {
        return Err(NotShown::NotFound);
    };
    let source_system = record.header.source_system.clone();
    let records = [record];
    let parts = [MergeInput {
        body: &body[..],
        records: &records,
    }];
    let mut out = Vec::with_capacity(records[0].span.len() + 1024);
    q.set
        .write_merged_response(&mut out, &parts, std::slice::from_ref(&answer.outcome));
    Ok((out, source_system))
}
