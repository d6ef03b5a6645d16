//! The fields of one record: which paths a response's records are read at
//! ([`RecordFields`], built once per response), and the header, interval and time points
//! made of what was collected there.

use std::cmp::Ordering;

use super::super::filter::normalise;
use super::super::{
    InformationSetDescriptor, IntervalEnd, IntervalStart, RecordHeader, RecordInterval,
    TimeInterval, NULLIFIED_STATUS,
};
use super::FieldCollector;

/// How many of a record's collected fields are [`super::super::RecordPaths`]' one-path fields
/// (id, source system, care giver, care unit, time, patient, care contact, approved for
/// patient); the title and status alternatives follow, then the time points of
/// [`RecordInterval`] or [`super::super::InformationSet::record_times`].
const HEADER_FIELDS: usize = 8;

/// The paths a response's record fields are collected at, and where each group sits in
/// that list. Built once per response.
pub(super) struct RecordFields {
    pub(super) paths: Vec<&'static [&'static str]>,
    /// Indices of the title alternatives.
    title: std::ops::Range<usize>,
    /// Indices of the status alternatives.
    status: std::ops::Range<usize>,
    /// Index of the first time point of the interval or of the alternative times.
    pub(super) times: usize,
}

impl RecordFields {
    /// The [`HEADER_FIELDS`] of [`super::super::RecordPaths`], its title and status
    /// alternatives, then those of the interval (start points, end points, the open-end
    /// marker, the fallback point) if any, else the alternative times.
    pub(super) fn new(
        descriptor: &InformationSetDescriptor,
        interval: Option<&RecordInterval>,
        times: &'static [&'static [&'static str]],
    ) -> RecordFields {
        let paths = &descriptor.record;
        let mut all = vec![
            paths.record_id,
            paths.source_system,
            paths.care_giver,
            paths.care_unit,
            paths.time,
            paths.patient_id,
            paths.care_contact,
            paths.approved_for_patient,
        ];
        debug_assert_eq!(all.len(), HEADER_FIELDS);
        let title = all.len()..all.len() + paths.title.len();
        all.extend_from_slice(paths.title);
        let status = all.len()..all.len() + paths.status.len();
        all.extend_from_slice(paths.status);
        let first_time = all.len();
        if let Some(interval) = interval {
            all.extend_from_slice(interval.start);
            all.extend_from_slice(interval.end);
            all.push(interval.open_without);
            all.push(interval.otherwise);
        } else {
            all.extend_from_slice(times);
        }
        RecordFields {
            paths: all,
            title,
            status,
            times: first_time,
        }
    }

    /// The record's header from the collected values (taking them).
    pub(super) fn header(&self, fields: &mut FieldCollector<'_>) -> RecordHeader {
        let title = self.title.clone().find_map(|i| fields.first(i));
        let status = self.status.clone().find_map(|i| {
            let value = fields.first(i)?;
            let is_flag = self.paths[i].last() == Some(&"nullified");
            match is_flag {
                true => (xs_boolean(&value) == Some(true)).then(|| NULLIFIED_STATUS.to_owned()),
                false => Some(value),
            }
        });
        RecordHeader {
            record_id: fields.first(0),
            source_system: fields.first(1),
            care_giver: fields.first(2),
            care_unit: fields.first(3),
            time: fields.first(4),
            patient_id: fields.first(5),
            care_contact: fields.first(6),
            approved_for_patient: fields.first(7).as_deref().and_then(xs_boolean),
            title,
            status,
        }
    }
}

/// An `xs:boolean` (XML Schema Part 2 §3.2.2: `true`, `false`, `1`, `0`; the collector
/// has already trimmed the white space the type collapses); `None` for anything else.
fn xs_boolean(value: &str) -> Option<bool> {
    match value {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// The interval of a record whose fields were collected at [`RecordFields`] (`first` is
/// [`RecordFields::times`]).
pub(super) fn interval_of(
    fields: &mut FieldCollector<'_>,
    interval: &RecordInterval,
    first: usize,
) -> TimeInterval {
    let (s, e) = (interval.start.len(), interval.end.len());
    let mut all = |range: std::ops::Range<usize>| -> Vec<Vec<String>> {
        range
            .map(|i| std::mem::take(&mut fields.values[i]))
            .collect()
    };
    let starts = all(first..first + s);
    let ends = all(first + s..first + s + e);
    let open = !interval.open_without.is_empty() && fields.first(first + s + e).is_none();
    let otherwise = fields.first(first + s + e + 1);
    if starts.iter().chain(&ends).all(Vec::is_empty) {
        if let Some(point) = otherwise {
            return TimeInterval {
                start: Some(point.clone()),
                end: Some(point),
            };
        }
    }
    let start = match interval.start_rule {
        IntervalStart::FirstPresent => starts
            .into_iter()
            .find_map(|values| values.into_iter().next()),
        IntervalStart::Earliest => extreme(starts.into_iter().flatten(), Ordering::Less),
    };
    let end = if open {
        None
    } else {
        match interval.end_rule {
            IntervalEnd::Latest => extreme(ends.into_iter().flatten(), Ordering::Greater),
            IntervalEnd::Earliest => extreme(ends.into_iter().flatten(), Ordering::Less),
        }
    };
    TimeInterval { start, end }
}

/// The earliest (`Less`) or latest (`Greater`) of the time points present; `None` when
/// there is none, or when one cannot be read (the interval is then unbounded on that
/// side: the filter keeps what it cannot judge).
fn extreme(points: impl Iterator<Item = String>, wanted: Ordering) -> Option<String> {
    let mut best: Option<(String, String)> = None;
    for point in points {
        let key = normalise(&point, "000000")?;
        if best.as_ref().is_none_or(|(k, _)| key.cmp(k) == wanted) {
            best = Some((key, point));
        }
    }
    best.map(|(_, point)| point)
}
