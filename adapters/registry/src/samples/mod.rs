//! Realistic producer responses and consumer requests for tests and the demo.
//!
//! Responses are well-formed SOAP 1.1 envelopes with namespace-correct content: the
//! response and record elements in the contract namespace, everything inside a record in
//! the domain's core namespace (RIV-TA schemas are `elementFormDefault="qualified"`).
//! Two namespace layouts are produced (declarations on the envelope and inherited by the
//! records, or declared on the elements themselves), because producers differ here and
//! the merge must carry inherited declarations along. The records of every information
//! set whose official schema is in `shared/reference` (the eight NPÖ contracts,
//! GetCarePlans 2, GetSubjectOfCareSchedule 1 and GetVaccinationHistory 2) follow it
//! exactly (element order, required fields, filled-in bodies) and validate against it;
//! their requests carry every filter in the contract's own elements. Only
//! GetLaboratoryOrderOutcome:4, whose schema we do not have, gets records with just the
//! header fields its adapter reads (`generic_record`).
//!
//! What a record says about itself besides its header is known here too, so that tests
//! can check that an adapter reads it: whether the patient may see it
//! ([`record_approved_for_patient`]: not the second of every three records), its title
//! ([`record_title`]) and its status ([`record_status`]).

use std::fmt::Write as _;

use vaxel_adapter::{InformationSet, InformationSetDescriptor, SOAP11_NAMESPACE};

// Record bodies, one module per domain's core components (each writes the records of the
// information sets whose schema it follows).
mod activityprescription;
mod actoutcome;
mod care_plans;
mod description;
mod logistics;
mod scheduling;
mod vaccination;

/// One record to write: which set, which source, which of its records, and the prefix
/// bound to the core namespace at that place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext<'a> {
    pub set: &'a dyn InformationSet,
    pub source: &'a SampleSource<'a>,
    pub index: usize,
    /// `ns2:` or `c:`: the prefix of the core namespace inside the record.
    pub prefix: &'a str,
}

impl RecordContext<'_> {
    /// The record's id (distinct across sources and sets).
    pub fn id(&self) -> String {
        record_id(self.set, self.source, self.index)
    }

    /// The care contact the record's header names (`careContactId`), if any.
    pub fn care_contact(&self) -> Option<String> {
        record_care_contact(self.set, self.source, self.index)
    }

    /// The record's time, `yyyyMMddHHmmss`.
    pub fn time(&self) -> String {
        record_time(self.source, self.index)
    }

    /// The record's `approvedForPatient` as written (`true` or `false`).
    pub fn approved_for_patient(&self) -> &'static str {
        if record_approved_for_patient(self.set, self.source, self.index) == Some(false) {
            "false"
        } else {
            "true"
        }
    }
}

/// HSA's OID, the `root` of an `IIType` holding an HSA id.
pub(crate) const HSA_OID: &str = "1.2.752.129.2.1.4.1";
/// The Swedish personal identity number's OID.
pub(crate) const PERSONAL_ID_OID: &str = "1.2.752.129.2.1.3.1";

/// Where namespace declarations sit in a generated response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamespaceStyle {
    /// All prefixes declared on `soap:Envelope`; records inherit them.
    #[default]
    OnEnvelope,
    /// The contract namespace as default namespace of the response element, the core
    /// namespace declared on each record (as many JAXB-based producers write it).
    OnElements,
}

/// One producer and what it holds about the patient.
#[derive(Debug, Clone, Copy)]
pub struct SampleSource<'a> {
    pub patient_id: &'a str,
    /// HSA id of the source system (also its logical address).
    pub source_system: &'a str,
    pub care_giver: &'a str,
    pub care_unit: &'a str,
    /// Number of records in the response.
    pub records: usize,
    /// `yyyyMMdd` of the first record; record `i` is `i` days later, at 09:30.
    pub time_base: &'a str,
    pub style: NamespaceStyle,
}

/// The id of record `index` (0-based) of a source: distinct across sources and sets.
pub fn record_id(set: &dyn InformationSet, source: &SampleSource<'_>, index: usize) -> String {
    format!(
        "{}-{}-{}",
        source.source_system,
        set.descriptor().name,
        index + 1
    )
}

/// The care contact (`careContactId`) that record `index` of a source names in its
/// header: one of the source's own care contacts (the ids of its GetCareContacts
/// records), on every record of GetCareDocumentation, GetDiagnosis and
/// GetMedicationHistory and on every other record of the rest; none in GetCareContacts
/// (there the contact is the record itself), GetLaboratoryOrderOutcome:4 (another
/// header) and GetSubjectOfCareSchedule (no such field).
pub fn record_care_contact(
    set: &dyn InformationSet,
    source: &SampleSource<'_>,
    index: usize,
) -> Option<String> {
    let contact = || record_id(&crate::CareContacts, source, index);
    match set.descriptor().name {
        "care-contacts" | "laboratory-outcome-4" | "scheduling" => None,
        "care-documentation" | "diagnosis" | "medication-history" => Some(contact()),
        _ => index.is_multiple_of(2).then(contact),
    }
}

/// The time (`yyyyMMddHHmmss`) of record `index` of a source.
pub fn record_time(source: &SampleSource<'_>, index: usize) -> String {
    format!("{}093000", add_days(source.time_base, index as i64))
}

/// Whether record `index` of a source may be shown to the patient (its
/// `approvedForPatient`): not the second of every three records (a result the physician
/// has not yet released, a note not yet approved), the others yes. `None` for a set whose
/// records have no such flag (GetSubjectOfCareSchedule).
pub fn record_approved_for_patient(
    set: &dyn InformationSet,
    _source: &SampleSource<'_>,
    index: usize,
) -> Option<bool> {
    if set.descriptor().record.approved_for_patient.is_empty() {
        return None;
    }
    Some(index % 3 != 1)
}

/// The title of record `index` of a source: what its set's adapter reads as
/// `RecordHeader::title` (the first of the adapter's title fields the record has). Written
/// down here from the records' content, not from the adapters' paths, so that a test
/// comparing the two checks the paths.
pub fn record_title(
    set: &dyn InformationSet,
    source: &SampleSource<'_>,
    index: usize,
) -> Option<String> {
    let name = set.descriptor().name;
    match name {
        "care-documentation" | "diagnosis" | "alert-information" => description::title(name, index),
        "laboratory-outcome-3" | "referral-outcome" | "imaging-outcome" => {
            actoutcome::title(name, index)
        }
        "care-contacts" => logistics::title(index),
        "medication-history" => activityprescription::title(index),
        "care-plans" => care_plans::title(index),
        "scheduling" => scheduling::title(index),
        "vaccination-history" => vaccination::title(index),
        _ => generic_title(set, source, index),
    }
    .map(str::to_owned)
}

/// The status of record `index` of a source: what its set's adapter reads as
/// `RecordHeader::status` (`None` where the contract has none; no sample record is
/// nullified).
pub fn record_status(
    set: &dyn InformationSet,
    _source: &SampleSource<'_>,
    index: usize,
) -> Option<String> {
    let name = set.descriptor().name;
    match name {
        "laboratory-outcome-3" | "referral-outcome" | "imaging-outcome" => {
            actoutcome::status(name, index)
        }
        "care-contacts" => Some(logistics::STATUS),
        "medication-history" => Some(activityprescription::status(index)),
        "laboratory-outcome-4" => Some(GENERIC_STATUS),
        _ => None,
    }
    .map(str::to_owned)
}

/// Namespace of the record content of a set (the core components of its domain).
pub fn core_namespace(descriptor: &InformationSetDescriptor) -> &'static str {
    descriptor.core_namespace
}

/// A producer's response for `set` holding `source.records` records.
pub fn producer_response(set: &dyn InformationSet, source: &SampleSource<'_>) -> String {
    let d = set.descriptor();
    let core = core_namespace(d);
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let (response_open, record_open, record_close, p) = match source.style {
        NamespaceStyle::OnEnvelope => {
            let _ = write!(
                out,
                "<soap:Envelope xmlns:soap=\"{SOAP11_NAMESPACE}\" xmlns:ns1=\"{}\" xmlns:ns2=\"{core}\">",
                d.contract_namespace
            );
            (
                format!("<ns1:{}>", d.response_element),
                format!("<ns1:{}>", d.record_element),
                format!("</ns1:{}>", d.record_element),
                "ns2:",
            )
        }
        NamespaceStyle::OnElements => {
            let _ = write!(out, "<soap:Envelope xmlns:soap=\"{SOAP11_NAMESPACE}\">");
            (
                format!(
                    "<{} xmlns=\"{}\">",
                    d.response_element, d.contract_namespace
                ),
                format!("<{} xmlns:c=\"{core}\">", d.record_element),
                format!("</{}>", d.record_element),
                "c:",
            )
        }
    };
    out.push_str("<soap:Header/><soap:Body>\n");
    out.push_str(&response_open);
    for index in 0..source.records {
        out.push('\n');
        out.push_str(&record_open);
        let record = RecordContext {
            set,
            source,
            index,
            prefix: p,
        };
        match d.name {
            "care-documentation" | "diagnosis" | "alert-information" => {
                description::record(&mut out, &record)
            }
            "laboratory-outcome-3" | "referral-outcome" | "imaging-outcome" => {
                actoutcome::record(&mut out, &record)
            }
            "care-contacts" => logistics::record(&mut out, &record),
            "medication-history" => activityprescription::record(&mut out, &record),
            "care-plans" => care_plans::record(&mut out, &record),
            "scheduling" => scheduling::record(&mut out, &record),
            "vaccination-history" => vaccination::record(&mut out, &record),
            _ => generic_record(&mut out, &record),
        }
        out.push_str(&record_close);
    }
    if let Some(result) = &d.result {
        let _ = write!(
            out,
            "\n<r:result xmlns:r=\"{}\" xmlns:rf=\"{}\"><rf:resultCode>OK</rf:resultCode><rf:logId>{}-log</rf:logId></r:result>",
            result.namespace, result.field_namespace, source.source_system
        );
    }
    let close = match source.style {
        NamespaceStyle::OnEnvelope => format!("\n</ns1:{}>", d.response_element),
        NamespaceStyle::OnElements => format!("\n</{}>", d.response_element),
    };
    out.push_str(&close);
    out.push_str("\n</soap:Body></soap:Envelope>\n");
    out
}

/// A SOAP 1.1 fault as a producer (or its platform) answers it.
pub fn fault_response(faultstring: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP11_NAMESPACE}\"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>{}</faultstring></soap:Fault></soap:Body></soap:Envelope>\n",
        escape(faultstring)
    )
}

/// What a consumer asks for.
#[derive(Debug, Clone, Copy)]
pub struct SampleQuery<'a> {
    pub patient_id: &'a str,
    pub logical_address: &'a str,
    /// `yyyyMMdd` bounds.
    pub period: Option<(&'a str, &'a str)>,
    pub care_units: &'a [&'a str],
    pub source_system: Option<&'a str>,
    /// `careContactId`s: the records documented at these care contacts (GetCareContacts:
    /// these care contacts).
    pub care_contacts: &'a [&'a str],
}

/// The request's `careContactId`s, in the contract namespace: the last of the filters
/// in every request type that has them (GetMedicationHistory's own parameters follow).
pub(crate) fn write_care_contacts(body: &mut String, query: &SampleQuery<'_>) {
    for contact in query.care_contacts {
        body.push_str("<q:careContactId>");
        body.push_str(&escape(contact));
        body.push_str("</q:careContactId>");
    }
}

/// A consumer's request (RIV-TA 2.1 with a `LogicalAddress` header). The request
/// element's content comes from the set's domain module; the default writes the
/// descriptor's request paths.
pub fn consumer_request(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    let d = set.descriptor();
    let core = core_namespace(d);
    let body = match d.name {
        "care-documentation" | "diagnosis" | "alert-information" => {
            description::request_body(set, query)
        }
        "laboratory-outcome-3" | "referral-outcome" | "imaging-outcome" => {
            actoutcome::request_body(set, query)
        }
        "care-contacts" => logistics::request_body(set, query),
        "medication-history" => activityprescription::request_body(set, query),
        "care-plans" => care_plans::request_body(query),
        "scheduling" => scheduling::request_body(query),
        "vaccination-history" => vaccination::request_body(query),
        _ => generic_request_body(set, query),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP11_NAMESPACE}\"><soap:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{}</LogicalAddress></soap:Header><soap:Body><q:{req} xmlns:q=\"{ns}\" xmlns:c=\"{core}\">{body}</q:{req}></soap:Body></soap:Envelope>\n",
        escape(query.logical_address),
        req = d.request_element,
        ns = d.contract_namespace,
    )
}

/// The request content most contracts share, in their schemas' order: care units*,
/// `patientId`, the period?, the source system?, care contacts*; each contract spells the
/// care unit, period and source system elements its own way (`careUnitHSAId` or
/// `careUnitHSAid`, `timePeriod` or `datePeriod`, ...).
pub(crate) fn request_body_named(
    query: &SampleQuery<'_>,
    care_unit: &str,
    period: &str,
    source_system: &str,
) -> String {
    let mut body = String::new();
    for unit in query.care_units {
        let _ = write!(body, "<q:{care_unit}>{}</q:{care_unit}>", escape(unit));
    }
    let _ = write!(
        body,
        "<q:patientId><c:id>{}</c:id><c:type>{PERSONAL_ID_OID}</c:type></q:patientId>",
        escape(query.patient_id)
    );
    if let Some((start, end)) = query.period {
        let _ = write!(
            body,
            "<q:{period}><c:start>{}</c:start><c:end>{}</c:end></q:{period}>",
            escape(start),
            escape(end)
        );
    }
    if let Some(source) = query.source_system {
        let _ = write!(
            body,
            "<q:{source_system}>{}</q:{source_system}>",
            escape(source)
        );
    }
    write_care_contacts(&mut body, query);
    body
}

/// The request element's content written from the descriptor's request paths: children
/// of the request element with prefix `q:` (the contract namespace), below them `c:`
/// (the core namespace). Not schema-ordered: for sets without their own writer.
pub(crate) fn generic_request_body(set: &dyn InformationSet, query: &SampleQuery<'_>) -> String {
    let d = set.descriptor();
    let mut tree = Tree::default();
    for unit in query.care_units {
        tree.insert_leaf(d.request.care_unit, unit, true);
    }
    tree.insert_leaf(d.request.patient_id, query.patient_id, false);
    if let Some((start, end)) = query.period {
        tree.insert(d.request.period_start, start);
        tree.insert(d.request.period_end, end);
    }
    if let Some(source) = query.source_system {
        tree.insert_leaf(d.request.source_system, source, false);
    }
    let mut body = String::new();
    tree.write(&mut body, "c:", true);
    body
}

/// A record with the header fields the adapter reads and nothing else (not schema
/// valid): for sets whose schema vaxel does not have.
pub(crate) fn generic_record(out: &mut String, r: &RecordContext<'_>) {
    let (set, source, index, p) = (r.set, r.source, r.index, r.prefix);
    let d = set.descriptor();
    let paths = &d.record;
    let mut tree = Tree::default();
    let id = record_id(set, source, index);
    let time = record_time(source, index);
    tree.insert_leaf(paths.record_id, &id, true);
    tree.insert_leaf(paths.source_system, source.source_system, true);
    tree.insert(paths.time, &time);
    if let Some(header) = paths.record_id.first() {
        if paths.record_id.len() == 2 {
            // PatientSummaryHeader: patient, then the accountable professional.
            tree.insert(&[*header, "patientId", "id"], source.patient_id);
            tree.insert(&[*header, "patientId", "type"], PERSONAL_ID_OID);
            let author = [*header, "accountableHealthcareProfessional", "authorTime"];
            tree.insert(&author, &time);
        }
    }
    tree.insert_leaf(paths.care_unit, source.care_unit, true);
    tree.insert_leaf(paths.care_giver, source.care_giver, true);
    tree.insert(paths.approved_for_patient, r.approved_for_patient());
    if let (Some(path), Some(title)) = (paths.title.first(), generic_title(set, source, index)) {
        tree.insert(path, title);
    }
    if let Some(path) = paths.status.first() {
        tree.insert(path, GENERIC_STATUS);
    }
    tree.write(out, p, false);
}

/// The status `generic_record` writes at the set's first status path.
const GENERIC_STATUS: &str = "Slutligt svar";

/// The title `generic_record` writes at the set's first title path.
fn generic_title(
    set: &dyn InformationSet,
    _source: &SampleSource<'_>,
    index: usize,
) -> Option<&'static str> {
    if set.descriptor().record.title.is_empty() {
        return None;
    }
    const TITLES: [&str; 3] = ["Blodstatus", "Elektrolyter", "Blodfetter"];
    Some(TITLES[index % TITLES.len()])
}

/// Elements built from local-name paths; siblings keep first-insertion order.
#[derive(Default)]
struct Tree {
    children: Vec<(String, Tree)>,
    text: Option<String>,
}

impl Tree {
    fn insert(&mut self, path: &[&str], value: &str) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let position = if rest.is_empty() {
            None
        } else {
            self.children
                .iter()
                .position(|(name, child)| name == first && child.text.is_none())
        };
        let index = match position {
            Some(i) => i,
            None => {
                self.children.push(((*first).to_owned(), Tree::default()));
                self.children.len() - 1
            }
        };
        let child = &mut self.children[index].1;
        if rest.is_empty() {
            child.text = Some(value.to_owned());
        } else {
            child.insert(rest, value);
        }
    }

    /// Inserts a leaf; for an `IIType` (path ending in `extension`) the `root` goes
    /// first, set to HSA's OID (or the personal id OID for a patient).
    fn insert_leaf(&mut self, path: &[&str], value: &str, hsa: bool) {
        if let Some((last, parent)) = path.split_last() {
            if *last == "extension" {
                let mut root: Vec<&str> = parent.to_vec();
                root.push("root");
                self.insert(&root, if hsa { HSA_OID } else { PERSONAL_ID_OID });
            } else if parent.last() == Some(&"patientId") {
                // PersonIdType: id, type
                self.insert(path, value);
                let mut kind: Vec<&str> = parent.to_vec();
                kind.push("type");
                self.insert(&kind, PERSONAL_ID_OID);
                return;
            }
        }
        self.insert(path, value);
    }

    /// Writes the children with `prefix`; with `top_in_contract` the first level is
    /// written with the `q` prefix (the request's contract namespace) instead.
    fn write(&self, out: &mut String, prefix: &str, top_in_contract: bool) {
        for (name, child) in &self.children {
            let p = if top_in_contract { "q:" } else { prefix };
            let _ = write!(out, "<{p}{name}>");
            if let Some(text) = &child.text {
                out.push_str(&escape(text));
            }
            child.write(out, prefix, false);
            let _ = write!(out, "</{p}{name}>");
        }
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `yyyyMMdd` plus `days` (proleptic Gregorian); an unreadable base counts as 20240101.
fn add_days(base: &str, days: i64) -> String {
    let parse = |range: std::ops::Range<usize>| base.get(range).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = match (parse(0..4), parse(4..6), parse(6..8)) {
        (Some(y), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => (y, m, d),
        _ => (2024, 1, 1),
    };
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + days);
    format!("{y:04}{m:02}{d:02}")
}

// Howard Hinnant's algorithms (days since 1970-01-01 <-> civil date).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(add_days("20240228", 1), "20240229");
        assert_eq!(add_days("20241231", 1), "20250101");
        assert_eq!(add_days("20240101", 0), "20240101");
    }
}
