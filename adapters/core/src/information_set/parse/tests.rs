use super::*;
use crate::information_set::{
    IntervalEnd, IntervalStart, RecordPaths, RequestPaths, TimeInterval, NULLIFIED_STATUS,
};

static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "visits",
    contract_namespace: "urn:example:GetVisitsResponder:1",
    request_element: "GetVisits",
    response_element: "GetVisitsResponse",
    record_element: "visit",
    ei_service_domain: "example",
    ei_categorization: "vis",
    core_namespace: "urn:example:visits:1",
    kind: "visit",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &[],
        period_end: &[],
        care_unit: &[],
        record_id: &[],
        source_system: &[],
        care_contact: &[],
    },
    record: RecordPaths {
        record_id: &["id"],
        source_system: &[],
        care_giver: &[],
        care_unit: &[],
        time: &["period", "start"],
        patient_id: &["patientId", "id"],
        care_contact: &[],
        approved_for_patient: &["approvedForPatient"],
        title: &[&["title"], &["code", "displayName"]],
        status: &[&["nullified"], &["status"]],
    },
    result: None,
};

/// A contract with the usual fields, for the other modules' tests.
pub(in crate::information_set) fn descriptor() -> &'static InformationSetDescriptor {
    &DESCRIPTOR
}

fn visits(records: &str) -> Vec<Record> {
    let xml = format!(
        "<s:Envelope xmlns:s=\"{SOAP11_NAMESPACE}\"><s:Body>\
<GetVisitsResponse xmlns=\"urn:example:GetVisitsResponder:1\">{records}</GetVisitsResponse>\
</s:Body></s:Envelope>"
    );
    let earliest = RecordInterval {
        start: &[&["authorTime"], &["period", "start"], &["period", "end"]],
        start_rule: IntervalStart::Earliest,
        end: &[&["authorTime"], &["period", "start"], &["period", "end"]],
        end_rule: IntervalEnd::Latest,
        open_without: &["period", "end"],
        otherwise: &[],
    };
    match parse_response(&DESCRIPTOR, Some(&earliest), &[], xml.as_bytes()).unwrap() {
        ProducerResponse::Records(records) => records,
        fault => panic!("{fault:?}"),
    }
}

fn interval(start: Option<&str>, end: Option<&str>) -> Option<TimeInterval> {
    Some(TimeInterval {
        start: start.map(Into::into),
        end: end.map(Into::into),
    })
}

#[test]
fn a_record_interval_is_read_from_its_time_points() {
    let records = visits(
        "<visit><id>a</id><authorTime>20240103120000</authorTime>\
<period><start>20240101093000</start><end>20240102</end></period></visit>\
<visit><id>b</id><period><start>20240105093000</start></period></visit>\
<visit><id>c</id><authorTime>someday</authorTime><period><start>20240105</start><end>20240106</end></period></visit>",
    );
    let intervals: Vec<_> = records.iter().map(|r| r.interval.clone()).collect();
    assert_eq!(
        intervals,
        [
            // Earliest and latest of the three points, dates and times compared alike.
            interval(Some("20240101093000"), Some("20240103120000")),
            // No end: open towards the future.
            interval(Some("20240105093000"), None),
            // A point that cannot be read leaves that side unbounded.
            interval(None, None),
        ]
    );
    // The record's one time is still read as the descriptor says.
    assert_eq!(records[1].header.time.as_deref(), Some("20240105093000"));
}

#[test]
fn the_first_present_start_is_a_chain_of_fallbacks() {
    let chain = RecordInterval {
        start: &[&["ordered"], &["started"], &["registered"]],
        start_rule: IntervalStart::FirstPresent,
        end: &[&["ended"]],
        end_rule: IntervalEnd::Latest,
        open_without: &["ended"],
        otherwise: &[],
    };
    let xml = |record: &str| {
        format!(
            "<s:Envelope xmlns:s=\"{SOAP11_NAMESPACE}\"><s:Body>\
<GetVisitsResponse xmlns=\"urn:example:GetVisitsResponder:1\"><visit>{record}</visit></GetVisitsResponse>\
</s:Body></s:Envelope>"
        )
    };
    let read =
        |record: &str| match parse_response(&DESCRIPTOR, Some(&chain), &[], xml(record).as_bytes())
            .unwrap()
        {
            ProducerResponse::Records(mut records) => records.remove(0).interval,
            fault => panic!("{fault:?}"),
        };
    assert_eq!(
        read("<registered>20240101</registered><started>20240103</started><ordered>20240105</ordered>"),
        interval(Some("20240105"), None)
    );
    assert_eq!(
        read("<registered>20240101</registered><started>20240103</started><ended>20240110</ended>"),
        interval(Some("20240103"), Some("20240110"))
    );
    assert_eq!(
        read("<registered>20240101</registered>"),
        interval(Some("20240101"), None)
    );
    // Without an interval the header has none.
    match parse_response(
        &DESCRIPTOR,
        None,
        &[],
        xml("<ordered>20240105</ordered>").as_bytes(),
    )
    .unwrap()
    {
        ProducerResponse::Records(records) => assert_eq!(records[0].interval, None),
        fault => panic!("{fault:?}"),
    }
}

/// One `<visit>` record's response envelope.
fn one_visit(record: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"{SOAP11_NAMESPACE}\"><s:Body>\
<GetVisitsResponse xmlns=\"urn:example:GetVisitsResponder:1\"><visit>{record}</visit></GetVisitsResponse>\
</s:Body></s:Envelope>"
    )
}

fn first_record(
    interval: Option<&RecordInterval>,
    times: &'static [&'static [&'static str]],
    record: &str,
) -> Record {
    match parse_response(&DESCRIPTOR, interval, times, one_visit(record).as_bytes()).unwrap() {
        ProducerResponse::Records(mut records) => records.remove(0),
        fault => panic!("{fault:?}"),
    }
}

#[test]
fn earliest_and_latest_take_every_occurrence() {
    // A laboratory answer: the span of all its analyses, whichever order they come in.
    let analyses = RecordInterval {
        start: &[&["analysis", "start"], &["analysis", "end"]],
        start_rule: IntervalStart::Earliest,
        end: &[&["analysis", "start"], &["analysis", "end"]],
        end_rule: IntervalEnd::Latest,
        open_without: &[],
        otherwise: &[],
    };
    let record = first_record(
        Some(&analyses),
        &[],
        "<analysis><start>20240105</start><end>20240106</end></analysis>\
<analysis><start>20240101</start></analysis><analysis><end>20240210</end></analysis>",
    );
    assert_eq!(
        record.interval,
        interval(Some("20240101"), Some("20240210"))
    );
    // Without any point both sides are unbounded; an empty open_without never opens it.
    let none = first_record(Some(&analyses), &[], "<other/>");
    assert_eq!(none.interval, interval(None, None));
}

#[test]
fn a_record_without_interval_points_falls_back_to_its_otherwise_point() {
    let analyses = RecordInterval {
        start: &[&["analysis", "start"]],
        start_rule: IntervalStart::Earliest,
        end: &[&["analysis", "end"]],
        end_rule: IntervalEnd::Latest,
        open_without: &[],
        otherwise: &["documentTime"],
    };
    let read = |record: &str| first_record(Some(&analyses), &[], record).interval;
    assert_eq!(
        read("<documentTime>20240301</documentTime>"),
        interval(Some("20240301"), Some("20240301"))
    );
    // Any analysis time wins over the fallback, even one side only.
    assert_eq!(
        read("<documentTime>20240301</documentTime><analysis><start>20240101</start></analysis>"),
        interval(Some("20240101"), None)
    );
    assert_eq!(read("<other/>"), interval(None, None));
}

#[test]
fn the_earliest_end_closes_an_interval() {
    // An alert: valid until its period ends or it is made obsolete, whichever is first.
    let alert = RecordInterval {
        start: &[&["valid", "start"]],
        start_rule: IntervalStart::FirstPresent,
        end: &[&["obsolete"], &["valid", "end"]],
        end_rule: IntervalEnd::Earliest,
        open_without: &[],
        otherwise: &[],
    };
    let read = |record: &str| first_record(Some(&alert), &[], record).interval;
    assert_eq!(
        read("<valid><start>20240101</start><end>20240701</end></valid><obsolete>20240401</obsolete>"),
        interval(Some("20240101"), Some("20240401"))
    );
    assert_eq!(
        read("<valid><start>20240101</start><end>20240301</end></valid><obsolete>20240401</obsolete>"),
        interval(Some("20240101"), Some("20240301"))
    );
    assert_eq!(
        read("<valid><start>20240101</start></valid>"),
        interval(Some("20240101"), None)
    );
}

#[test]
fn alternative_times_are_all_collected() {
    static TIMES: &[&[&str]] = &[&["authorTime"], &["signed"], &["period", "start"]];
    let record = first_record(
        None,
        TIMES,
        "<patientId><id>191212121212</id></patientId><period><start>20240105</start></period>\
<authorTime>20240101</authorTime><authorTime>20240102</authorTime>",
    );
    assert_eq!(record.times, ["20240101", "20240102", "20240105"]);
    assert_eq!(record.header.time.as_deref(), Some("20240105"));
    assert_eq!(record.header.patient_id.as_deref(), Some("191212121212"));
    assert_eq!(record.interval, None);
    // With an interval the times are not collected.
    let chain = RecordInterval {
        start: &[&["authorTime"]],
        start_rule: IntervalStart::FirstPresent,
        end: &[],
        end_rule: IntervalEnd::Latest,
        open_without: &[],
        otherwise: &[],
    };
    let record = first_record(Some(&chain), TIMES, "<authorTime>20240101</authorTime>");
    assert!(record.times.is_empty());
    assert_eq!(record.interval, interval(Some("20240101"), None));
}

#[test]
fn attribute_separation() {
    for ok in [
        "",
        " ",
        " a=\"1\"",
        "\n\ta = '1'  b=\"x'y\"\r\n",
        " a=\"1\" ",
    ] {
        assert!(attributes_separated(ok.as_bytes()), "{ok:?}");
    }
    for bad in [" a=\"1\"b=\"2\"", "a=\"1\"", " a='1'b='2'", " a=\"1\"'"] {
        assert!(!attributes_separated(bad.as_bytes()), "{bad:?}");
    }
}

#[test]
fn approved_for_patient_is_an_xs_boolean() {
    let read = |record: &str| first_record(None, &[], record).header.approved_for_patient;
    assert_eq!(
        read("<approvedForPatient>true</approvedForPatient>"),
        Some(true)
    );
    assert_eq!(
        read("<approvedForPatient> 1 </approvedForPatient>"),
        Some(true)
    );
    assert_eq!(
        read("<approvedForPatient>false</approvedForPatient>"),
        Some(false)
    );
    assert_eq!(
        read("<approvedForPatient>0</approvedForPatient>"),
        Some(false)
    );
    // Not an xs:boolean (the lexical space is case-sensitive), or absent: unknown.
    for other in ["TRUE", "yes", "", "<x/>"] {
        let record = format!("<approvedForPatient>{other}</approvedForPatient>");
        assert_eq!(read(&record), None, "{other}");
    }
    assert_eq!(read("<id>a</id>"), None);
    // Only at its path: a flag deeper in the record is another element's.
    assert_eq!(
        read("<code><approvedForPatient>false</approvedForPatient></code>"),
        None
    );
}

#[test]
fn the_title_is_the_first_alternative_the_record_has() {
    let read = |record: &str| first_record(None, &[], record).header.title;
    assert_eq!(
        read("<code><displayName>Essentiell hypertoni</displayName></code><title>Besök</title>"),
        Some("Besök".into())
    );
    assert_eq!(
        read("<code><displayName>  Essentiell hypertoni </displayName></code>"),
        Some("Essentiell hypertoni".into())
    );
    // An empty title is no title: the next alternative applies.
    assert_eq!(
        read("<title> </title><code><displayName>Astma &amp; allergi</displayName></code>"),
        Some("Astma & allergi".into())
    );
    assert_eq!(read("<code><code>I10</code></code>"), None);
}

#[test]
fn a_nullified_record_is_nullified_whatever_its_status() {
    let read = |record: &str| first_record(None, &[], record).header.status;
    assert_eq!(read("<status>Active</status>"), Some("Active".into()));
    assert_eq!(
        read("<status>Active</status><nullified>true</nullified>"),
        Some(NULLIFIED_STATUS.into())
    );
    assert_eq!(
        read("<nullified>1</nullified>"),
        Some(NULLIFIED_STATUS.into())
    );
    // Not nullified: the contract's own status, if any.
    assert_eq!(
        read("<nullified>false</nullified><status>Inactive</status>"),
        Some("Inactive".into())
    );
    assert_eq!(read("<nullified>false</nullified>"), None);
    assert_eq!(read("<id>a</id>"), None);
}

#[test]
fn the_new_fields_are_per_record() {
    // One response, three records: nothing of one record leaks into the next.
    let xml = format!(
        "<s:Envelope xmlns:s=\"{SOAP11_NAMESPACE}\"><s:Body>\
<GetVisitsResponse xmlns=\"urn:example:GetVisitsResponder:1\">\
<visit><id>a</id><title>A</title><approvedForPatient>false</approvedForPatient><nullified>true</nullified></visit>\
<visit><id>b</id></visit>\
<visit><id>c</id><status>Active</status><approvedForPatient>true</approvedForPatient></visit>\
</GetVisitsResponse></s:Body></s:Envelope>"
    );
    let records = match parse_response(&DESCRIPTOR, None, &[], xml.as_bytes()).unwrap() {
        ProducerResponse::Records(records) => records,
        fault => panic!("{fault:?}"),
    };
    let facts: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.header.record_id.as_deref(),
                r.header.title.as_deref(),
                r.header.approved_for_patient,
                r.header.status.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        facts,
        [
            (Some("a"), Some("A"), Some(false), Some(NULLIFIED_STATUS)),
            (Some("b"), None, None, None),
            (Some("c"), None, Some(true), Some("Active")),
        ]
    );
}
