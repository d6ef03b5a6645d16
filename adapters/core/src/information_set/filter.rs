//! Defensive filtering of producer records by the consumer's query.
//!
//! Producers are required to apply the query themselves; the aggregator applies it again
//! so that a producer that ignores a filter cannot widen the answer. Rules:
//!
//! - period: a record with a time must lie within `[period_start, period_end]`; bounds
//!   written as dates (`yyyyMMdd`) cover the whole day (the end day is included, as the
//!   service contracts say). A record without a time, or with a time we cannot read, is
//!   kept: many contracts make the time optional and let producers apply the period to
//!   other fields.
//! - care units, record ids, source system: when the query names any, the record's
//!   value must be one of them (HSA ids compare ASCII case-insensitively). A record that
//!   lacks the field cannot be shown to match and is dropped.

use super::{QueryRequest, Record, RecordHeader};

/// Does one record satisfy the query's filters?
pub fn record_matches(query: &QueryRequest, header: &RecordHeader) -> bool {
    if !query.care_units.is_empty() && !one_of(&query.care_units, header.care_unit.as_deref()) {
        return false;
    }
    if !query.record_ids.is_empty() && !one_of(&query.record_ids, header.record_id.as_deref()) {
        return false;
    }
    if let Some(source) = &query.source_system {
        match &header.source_system {
            Some(record_source) if record_source.eq_ignore_ascii_case(source) => {}
            _ => return false,
        }
    }
    if let Some(time) = header.time.as_deref().and_then(|t| normalise(t, "000000")) {
        if let Some(start) = query
            .period_start
            .as_deref()
            .and_then(|t| normalise(t, "000000"))
        {
            if time < start {
                return false;
            }
        }
        if let Some(end) = query
            .period_end
            .as_deref()
            .and_then(|t| normalise(t, "235959"))
        {
            if time > end {
                return false;
            }
        }
    }
    true
}

/// Keeps only the records that satisfy the query.
pub fn retain_matching(query: &QueryRequest, records: &mut Vec<Record>) {
    records.retain(|record| record_matches(query, &record.header));
}

fn one_of(wanted: &[String], value: Option<&str>) -> bool {
    value.is_some_and(|value| wanted.iter().any(|w| w.eq_ignore_ascii_case(value)))
}

/// `yyyyMMdd` or `yyyyMMddHHmmss` (also `yyyyMMddHHmm`, a date-time without seconds) as
/// a 14-digit string, with a date completed by `fill`; `None` if it is neither.
fn normalise(time: &str, fill: &str) -> Option<String> {
    let time = time.trim();
    if !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match time.len() {
        8 => Some(format!("{time}{fill}")),
        12 => Some(format!("{time}{}", &fill[4..])),
        14 => Some(time.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(time: Option<&str>, unit: Option<&str>) -> RecordHeader {
        RecordHeader {
            record_id: Some("doc-1".into()),
            source_system: Some("SE2321000016-SYS1".into()),
            care_giver: Some("SE2321000016-CG1".into()),
            care_unit: unit.map(Into::into),
            time: time.map(Into::into),
        }
    }

    #[test]
    fn period_bounds_are_inclusive_whole_days() {
        let query = QueryRequest {
            patient_id: "191212121212".into(),
            period_start: Some("20240101".into()),
            period_end: Some("20240131".into()),
            ..Default::default()
        };
        assert!(record_matches(
            &query,
            &header(Some("20240101000000"), None)
        ));
        assert!(record_matches(
            &query,
            &header(Some("20240131235959"), None)
        ));
        assert!(record_matches(&query, &header(Some("20240115"), None)));
        assert!(!record_matches(
            &query,
            &header(Some("20231231235959"), None)
        ));
        assert!(!record_matches(
            &query,
            &header(Some("20240201000000"), None)
        ));
        // Unreadable or missing times are kept.
        assert!(record_matches(&query, &header(None, None)));
        assert!(record_matches(&query, &header(Some("soon"), None)));
    }

    #[test]
    fn care_unit_and_source_filters() {
        let query = QueryRequest {
            patient_id: "191212121212".into(),
            care_units: vec!["se2321000016-unit1".into()],
            source_system: Some("SE2321000016-SYS1".into()),
            ..Default::default()
        };
        assert!(record_matches(
            &query,
            &header(None, Some("SE2321000016-UNIT1"))
        ));
        assert!(!record_matches(
            &query,
            &header(None, Some("SE2321000016-UNIT2"))
        ));
        assert!(!record_matches(&query, &header(None, None)));
        let other_source = QueryRequest {
            source_system: Some("SE2321000016-SYS2".into()),
            care_units: vec![],
            ..query
        };
        assert!(!record_matches(&other_source, &header(None, Some("x"))));
    }
}
