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
//! - period, for a contract whose records have a time interval
//!   ([`super::RecordInterval`]): the interval must overlap the period wholly or partly,
//!   compared as dates (the record's start date not after the period's end date, its
//!   end date not before the period's start date). A side of the interval that is
//!   missing or cannot be read is unbounded (an end that is missing is open towards the
//!   future, as a treatment not yet ended is).
//! - period, for a contract whose records have several alternative times
//!   ([`super::InformationSet::record_times`]): any of them must lie within the period
//!   (times that cannot be read do not count; a record with none is kept, as above).
//! - care units, record ids, care contacts, source system: when the query names any,
//!   the record's value must be one of them (HSA ids compare ASCII case-insensitively).
//!   A record that lacks the field cannot be shown to match and is dropped.
//! - patient: a record that names a patient other than the queried one is dropped
//!   (compared without `-` and ASCII case-insensitively). Whether a record that names
//!   no patient is kept depends on its contract ([`about_patient`]).

use super::{InformationSetDescriptor, QueryRequest, Record, RecordHeader, TimeInterval};

/// Does one record satisfy the query's filters? The period is checked against the
/// header's time; a record whose contract filters by overlap with its interval
/// ([`super::Record::interval`]) or by several times ([`super::Record::times`]) is
/// checked by [`retain_matching`].
pub fn record_matches(query: &QueryRequest, header: &RecordHeader) -> bool {
    matches(query, header, None, &[])
}

/// Is the record about the queried patient? A record of a contract that says where its
/// patient is ([`super::RecordPaths::patient_id`]) must name the queried patient: one
/// that names nobody cannot be shown to be about them and is not passed on. A contract
/// without that path (GetLaboratoryOrderOutcome:4, whose schema we do not have) is
/// checked only when a record names someone.
pub fn about_patient(
    descriptor: &InformationSetDescriptor,
    query: &QueryRequest,
    header: &RecordHeader,
) -> bool {
    match header.patient_id.as_deref() {
        Some(patient) => same_patient(&query.patient_id, patient),
        None => descriptor.record.patient_id.is_empty(),
    }
}

/// Person ids compare without separators and ASCII case-insensitively (a reserve number
/// may hold letters): `19121212-1212` is `191212121212`.
fn same_patient(a: &str, b: &str) -> bool {
    let digits = |s: &str| {
        s.trim()
            .bytes()
            .filter(|b| *b != b'-' && *b != b'+')
            .map(|b| b.to_ascii_uppercase())
            .collect::<Vec<u8>>()
    };
    digits(a) == digits(b)
}

/// The filters, with the period checked against `interval` when the record has one,
/// else against `times` when it has any, else against the header's time.
fn matches(
    query: &QueryRequest,
    header: &RecordHeader,
    interval: Option<&TimeInterval>,
    times: &[String],
) -> bool {
    if let Some(patient) = header.patient_id.as_deref() {
        if !same_patient(&query.patient_id, patient) {
            return false;
        }
    }
    if !query.care_units.is_empty() && !one_of(&query.care_units, header.care_unit.as_deref()) {
        return false;
    }
    if !query.record_ids.is_empty() && !one_of(&query.record_ids, header.record_id.as_deref()) {
        return false;
    }
    if !query.care_contacts.is_empty()
        && !one_of(&query.care_contacts, header.care_contact.as_deref())
    {
        return false;
    }
    if let Some(source) = &query.source_system {
        match &header.source_system {
            Some(record_source) if record_source.eq_ignore_ascii_case(source) => {}
            _ => return false,
        }
    }
    if let Some(interval) = interval {
        return overlaps(query, interval);
    }
    let mut readable = times
        .iter()
        .filter_map(|t| normalise(t, "000000"))
        .peekable();
    if readable.peek().is_some() {
        return readable.any(|time| in_period(query, &time));
    }
    match header.time.as_deref().and_then(|t| normalise(t, "000000")) {
        Some(time) => in_period(query, &time),
        None => true,
    }
}

/// Does a normalised time lie within the query's period (bounds inclusive, a date bound
/// covering its whole day)?
fn in_period(query: &QueryRequest, time: &str) -> bool {
    if let Some(start) = query
        .period_start
        .as_deref()
        .and_then(|t| normalise(t, "000000"))
    {
        if *time < *start {
            return false;
        }
    }
    if let Some(end) = query
        .period_end
        .as_deref()
        .and_then(|t| normalise(t, "235959"))
    {
        if *time > *end {
            return false;
        }
    }
    true
}

/// Does the record's interval overlap the query's period, compared as dates?
fn overlaps(query: &QueryRequest, interval: &TimeInterval) -> bool {
    let date = |t: Option<&str>| normalise(t?, "000000").map(|t| t[..8].to_owned());
    if let (Some(start), Some(period_end)) = (
        date(interval.start.as_deref()),
        date(query.period_end.as_deref()),
    ) {
        if start > period_end {
            return false;
        }
    }
    if let (Some(end), Some(period_start)) = (
        date(interval.end.as_deref()),
        date(query.period_start.as_deref()),
    ) {
        if end < period_start {
            return false;
        }
    }
    true
}

/// Keeps only the records that satisfy the query.
pub fn retain_matching(query: &QueryRequest, records: &mut Vec<Record>) {
    records.retain(|record| {
        matches(
            query,
            &record.header,
            record.interval.as_ref(),
            &record.times,
        )
    });
}

fn one_of(wanted: &[String], value: Option<&str>) -> bool {
    value.is_some_and(|value| wanted.iter().any(|w| w.eq_ignore_ascii_case(value)))
}

/// `yyyyMMdd` or `yyyyMMddHHmmss` (also `yyyyMMddHHmm`, a date-time without seconds) as
/// a 14-digit string, with a date completed by `fill`; `None` if it is neither.
pub(super) fn normalise(time: &str, fill: &str) -> Option<String> {
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
            patient_id: Some("191212121212".into()),
            care_contact: Some("contact-1".into()),
            ..RecordHeader::default()
        }
    }

    /// Does a record with this interval (and a header whose own time lies far outside
    /// every period: the interval decides) match, alone and through retain_matching?
    fn interval_matches(query: &QueryRequest, start: Option<&str>, end: Option<&str>) -> bool {
        let header = header(Some("19000101"), None);
        let interval = TimeInterval {
            start: start.map(Into::into),
            end: end.map(Into::into),
        };
        let mut records = vec![Record {
            span: 0..0,
            inherited_namespaces: vec![],
            header: header.clone(),
            interval: Some(interval.clone()),
            times: vec![],
        }];
        retain_matching(query, &mut records);
        let matched = matches(query, &header, Some(&interval), &[]);
        assert_eq!(records.len() == 1, matched);
        matched
    }

    #[test]
    fn an_interval_matches_when_it_overlaps_the_period_by_date() {
        let query = QueryRequest {
            patient_id: "191212121212".into(),
            period_start: Some("20240110".into()),
            period_end: Some("20240120".into()),
            ..Default::default()
        };
        let cases = [
            // Inside, around, across either bound, touching a bound on the same day.
            (Some("20240112093000"), Some("20240113150000"), true),
            (Some("20231201000000"), Some("20240301000000"), true),
            (Some("20240105000000"), Some("20240110000100"), true),
            (Some("20240120235900"), Some("20240125000000"), true),
            (Some("20240101"), Some("20240110"), true),
            // Before or after the period.
            (Some("20240101093000"), Some("20240109235959"), false),
            (Some("20240121000000"), Some("20240122000000"), false),
            // Open towards the future: kept unless it starts after the period.
            (Some("20230101093000"), None, true),
            (Some("20240121093000"), None, false),
            // No start (or one that cannot be read): unbounded towards the past.
            (None, Some("20240111"), true),
            (None, Some("20240109"), false),
            (Some("soon"), Some("20240301"), true),
            (Some("20240101"), Some("later"), true),
        ];
        for (start, end, kept) in cases {
            assert_eq!(
                interval_matches(&query, start, end),
                kept,
                "{start:?}..{end:?}"
            );
        }
        // Without a period every interval is kept.
        let no_period = QueryRequest {
            patient_id: "191212121212".into(),
            ..Default::default()
        };
        assert!(interval_matches(
            &no_period,
            Some("20000101"),
            Some("20000102")
        ));
    }

    #[test]
    fn other_filters_still_apply_to_interval_records() {
        let query = QueryRequest {
            patient_id: "191212121212".into(),
            care_units: vec!["SE2321000016-UNIT9".into()],
            ..Default::default()
        };
        assert!(!interval_matches(&query, Some("20240101"), None));
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

    #[test]
    fn records_about_another_patient_are_dropped() {
        let query = QueryRequest {
            patient_id: "19121212-1212".into(),
            ..Default::default()
        };
        let mut h = header(None, None);
        assert!(record_matches(&query, &h), "same person, other spelling");
        h.patient_id = Some("201212121212".into());
        assert!(!record_matches(&query, &h));
        // Whether a record that names nobody may pass depends on its contract.
        h.patient_id = None;
        let with_path = crate::information_set::parse::tests::descriptor();
        assert!(!about_patient(with_path, &query, &h));
        let mut without_path = *with_path;
        without_path.record.patient_id = &[];
        assert!(about_patient(&without_path, &query, &h));
        h.patient_id = Some("191212121212".into());
        assert!(about_patient(with_path, &query, &h));
        h.patient_id = Some("191212121213".into());
        assert!(!about_patient(&without_path, &query, &h));
    }

    #[test]
    fn care_contact_filter() {
        let query = QueryRequest {
            patient_id: "191212121212".into(),
            care_contacts: vec!["contact-9".into(), "CONTACT-1".into()],
            ..Default::default()
        };
        let mut h = header(None, None);
        assert!(record_matches(&query, &h));
        h.care_contact = Some("contact-2".into());
        assert!(!record_matches(&query, &h));
        h.care_contact = None;
        assert!(!record_matches(&query, &h), "no care contact: cannot match");
    }

    #[test]
    fn any_of_several_times_in_the_period_keeps_a_record() {
        let query = QueryRequest {
            patient_id: "191212121212".into(),
            period_start: Some("20240110".into()),
            period_end: Some("20240120".into()),
            ..Default::default()
        };
        let kept = |times: &[&str]| {
            let mut records = vec![Record {
                span: 0..0,
                inherited_namespaces: vec![],
                // The header's own time lies outside: the times decide.
                header: header(Some("19000101"), None),
                interval: None,
                times: times.iter().map(|t| t.to_string()).collect(),
            }];
            retain_matching(&query, &mut records);
            records.len() == 1
        };
        assert!(kept(&["20231201093000", "20240120235959"]));
        assert!(kept(&["20240110", "20990101"]));
        assert!(!kept(&["20240109235959", "20240121000000"]));
        // Times that cannot be read do not count; with none readable the header decides.
        assert!(!kept(&["soon", "20240121"]));
        assert!(!kept(&["soon"]), "header time 1900 is outside");
        assert!(!kept(&[]), "header time 1900 is outside");
    }
}
