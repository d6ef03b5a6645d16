//! The information-set adapter model: what the gateway needs to know about one kind of
//! journal information (care documentation, diagnoses, ...) to aggregate it across
//! producers and to enforce consent per record.
//!
//! An adapter crate (`adapters/<set>/`) is thin: it describes its contract with an
//! [`InformationSetDescriptor`] (names and paths), and the generic machinery here parses
//! requests and producer responses and writes the merged response. Records are kept as
//! byte ranges of the producer's response, so a merged response carries every record
//! byte-for-byte (only namespace declarations that the record inherited from its
//! ancestors are added to its start tag, so that it stays well-formed on its own).
//!
//! API contract (implemented in this module's submodules):
//! - [`InformationSet::parse_request`]: the query a consumer sent (patient, filters);
//! - [`InformationSet::parse_response`]: one producer's response → records with their
//!   [`RecordHeader`] (care giver, care unit, source system, time, id, and for a
//!   citizen's overview: approved for the patient, title, status);
//! - [`InformationSet::write_merged_response`]: the merged SOAP response;
//! - [`InformationSet::overview_request`]: the request for all of a patient's records at
//!   one source (a citizen's overview).

use std::ops::Range;

mod filter;
mod parse;
mod request;
mod write;

pub use filter::{about_patient, record_matches, retain_matching};
pub use parse::SOAP11_NAMESPACE;
pub use request::{
    escape_text, normalise_patient_id, patient_id_type, request_envelope, COORDINATION_NUMBER_OID,
    PERSONAL_IDENTITY_NUMBER_OID, REGISTRY_NAMESPACE,
};
pub use write::{
    write_processing_status, write_processing_status_noting, PROCESSING_STATUS_NAMESPACE,
    VAXEL_STATUS_NAMESPACE,
};

/// Where the fields of one record's header sit, as paths of local names below the record
/// element (namespaces are matched by the generic parser against the descriptor's
/// namespaces, never by prefix). A path is a list of child element local names,
/// e.g. `&["header", "accountableHealthcareProfessional", "healthcareProfessionalCareGiverHSAId"]`.
#[derive(Debug, Clone, Copy)]
pub struct RecordPaths {
    /// Unique id of the record in its source system (e.g. `header/documentId`).
    pub record_id: &'static [&'static str],
    /// HSA id of the source system (e.g. `header/sourceSystemHSAId`).
    pub source_system: &'static [&'static str],
    /// HSA id of the care giver (vårdgivare) responsible for the record.
    pub care_giver: &'static [&'static str],
    /// HSA id of the care unit (vårdenhet) responsible for the record.
    pub care_unit: &'static [&'static str],
    /// Time the record applies to, `yyyyMMddHHmmss` or `yyyyMMdd` (e.g. `header/documentTime`).
    pub time: &'static [&'static str],
    /// The patient the record is about (`header/patientId/id`): a record about anyone
    /// but the queried patient is never passed on, whatever a producer sends.
    pub patient_id: &'static [&'static str],
    /// The care contact the record belongs to (`header/careContactId`), matched against
    /// the request's `careContactId`s. Empty when the contract's request names the
    /// record itself by it (GetCareContacts: [`RequestPaths::record_id`]).
    pub care_contact: &'static [&'static str],
    /// Whether the record may be shown to the patient (`approvedForPatient`, an
    /// `xs:boolean`: `true`/`1` or `false`/`0`). Empty: the contract has no such flag
    /// (GetSubjectOfCareSchedule).
    pub approved_for_patient: &'static [&'static str],
    /// Where a short human title for the record may be (a citizen's overview lists
    /// records by it), in order of preference: the record's title is the first of these
    /// elements that it has with text (e.g. a note's `documentTitle`, else its
    /// `clinicalDocumentNoteTitle`). Empty: no title.
    pub title: &'static [&'static [&'static str]],
    /// Where the record's status may be, in order of preference, as [`RecordPaths::title`]
    /// (e.g. a prescription's `prescriptionStatus`). A path whose last element is
    /// `nullified` is the `PatientSummaryHeaderType` flag: when it is `true` the status
    /// is `"nullified"` (the record was made invalid by its source); otherwise the next
    /// path applies. Empty: the contract has no status.
    pub status: &'static [&'static [&'static str]],
}

/// The status a record gets when its `nullified` flag is `true`
/// ([`RecordPaths::status`]).
pub const NULLIFIED_STATUS: &str = "nullified";

/// A record's time as an interval, for a contract whose period filter keeps every record
/// whose interval overlaps the requested period wholly or partly (the service contract
/// descriptions' "helt eller delvis överlappar med det angivna sökintervallet"), rather
/// than every record whose one time lies in it. An adapter gives it with
/// [`InformationSet::record_interval`]; the parser reads it into
/// [`Record::interval`] and the filter compares it with the period as dates (the
/// descriptions: "Vid jämförelse konverteras datapostens tidpunkter till datum").
///
/// Paths are local-name paths below the record element, as in [`RecordPaths`]. A
/// contract whose record has a start and an end (a care contact, a treatment) needs it:
/// checking the start alone would drop an inpatient stay or a medication that began
/// before the period and still went on during it.
#[derive(Debug, Clone, Copy)]
pub struct RecordInterval {
    /// Time points that start the interval, chosen by `start_rule`.
    pub start: &'static [&'static [&'static str]],
    pub start_rule: IntervalStart,
    /// Time points that end the interval, chosen by `end_rule`.
    pub end: &'static [&'static [&'static str]],
    pub end_rule: IntervalEnd,
    /// Without this element the interval is open towards the future (a treatment not
    /// yet ended, an ongoing stay): it overlaps every period that does not end before
    /// its start. Empty: the interval is open only when it has none of the `end` points.
    pub open_without: &'static [&'static str],
    /// A time point that stands for the interval when the record has none of the `start`
    /// and `end` points (GetLaboratoryOrderOutcome: the analyses' times, else the
    /// answer's `documentTime`). Empty: no such point.
    pub otherwise: &'static [&'static str],
}

/// How [`RecordInterval::start`] is chosen among the time points a record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalStart {
    /// The first of the paths that the record has: a chain of fallbacks (e.g.
    /// GetMedicationHistory: the ordination time, else the start of treatment, else the
    /// registration time).
    FirstPresent,
    /// The earliest of the time points the record has, every occurrence of every path
    /// (e.g. GetCareContacts: the interval formed by `authorTime` and the contact's start
    /// and end; GetLaboratoryOrderOutcome: the times of all its analyses).
    Earliest,
}

/// How [`RecordInterval::end`] is chosen among the time points a record has (every
/// occurrence of every path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalEnd {
    /// The latest: the interval runs until its last time point (a care contact's end).
    Latest,
    /// The earliest: whichever end comes first closes the interval (GetAlertInformation:
    /// an alert is valid until its validity period ends or it is made obsolete).
    Earliest,
}

/// The [`RecordPaths`] of a record whose header is the RIV-TA core component
/// `PatientSummaryHeaderType` (`documentId`, `sourceSystemHSAId`, `documentTime`,
/// `patientId`, `accountableHealthcareProfessional/{healthcareProfessionalCareUnitHSAId,
/// healthcareProfessionalCareGiverHSAId}`, `approvedForPatient`, `nullified`, ...),
/// shared by every information set that uses it, so that each schema fact is written
/// once. `$header` is the header element (`diagnosisHeader`), `time` the path of the
/// record's time (the header's `documentTime` or a field of the body, as the contract
/// says), `source_system` the spelling of the source system element when it is not
/// `sourceSystemHSAId` (GetCareDocumentation 2.1 writes `sourceSystemHSAid`), `title`
/// the record's title paths in order of preference (each a bracketed list of local
/// names), `status` its status paths after the header's `nullified` flag, which always
/// comes first (a nullified record is nullified whatever else it says).
#[macro_export]
macro_rules! patient_summary_header_paths {
    (
        $header:literal,
        time: [$($time:literal),+ $(,)?],
        title: [$([$($title:literal),+ $(,)?]),* $(,)?],
        status: [$([$($status:literal),+ $(,)?]),* $(,)?] $(,)?
    ) => {
        $crate::patient_summary_header_paths!(
            $header,
            source_system: "sourceSystemHSAId",
            time: [$($time),+],
            title: [$([$($title),+]),*],
            status: [$([$($status),+]),*]
        )
    };
    (
        $header:literal,
        source_system: $source:literal,
        time: [$($time:literal),+ $(,)?],
        title: [$([$($title:literal),+ $(,)?]),* $(,)?],
        status: [$([$($status:literal),+ $(,)?]),* $(,)?] $(,)?
    ) => {
        $crate::RecordPaths {
            record_id: &[$header, "documentId"],
            source_system: &[$header, $source],
            care_giver: &[
                $header,
                "accountableHealthcareProfessional",
                "healthcareProfessionalCareGiverHSAId",
            ],
            care_unit: &[
                $header,
                "accountableHealthcareProfessional",
                "healthcareProfessionalCareUnitHSAId",
            ],
            time: &[$($time),+],
            patient_id: &[$header, "patientId", "id"],
            care_contact: &[$header, "careContactId"],
            approved_for_patient: &[$header, "approvedForPatient"],
            title: &[$(&[$($title),+]),*],
            status: &[&[$header, "nullified"], $(&[$($status),+]),*],
        }
    };
}

/// The path of one of the time points of a `PatientSummaryHeaderType` header `$header`:
/// `document` (`documentTime`), `author` (`accountableHealthcareProfessional/authorTime`)
/// or `signature` (`legalAuthenticator/signatureTime`). Contracts whose period rule names
/// several of them ([`InformationSet::record_times`]) list them with this, so that each
/// schema fact is written once.
#[macro_export]
macro_rules! patient_summary_header_time {
    ($header:literal, document) => {
        &[$header, "documentTime"]
    };
    ($header:literal, author) => {
        &[$header, "accountableHealthcareProfessional", "authorTime"]
    };
    ($header:literal, signature) => {
        &[$header, "legalAuthenticator", "signatureTime"]
    };
}

/// Where the query fields sit in the request element (paths of local names below it).
/// An empty path means the contract has no such filter.
#[derive(Debug, Clone, Copy)]
pub struct RequestPaths {
    /// Patient id (`patientId/id`).
    pub patient_id: &'static [&'static str],
    /// Start of the requested period (`timePeriod/start` or `datePeriod/start`).
    pub period_start: &'static [&'static str],
    /// End of the requested period.
    pub period_end: &'static [&'static str],
    /// Requested care units (repeated element), e.g. `careUnitHSAId`.
    pub care_unit: &'static [&'static str],
    /// Requested record ids (repeated element), e.g. `documentId`.
    pub record_id: &'static [&'static str],
    /// Requested source system, e.g. `sourceSystemHSAId`.
    pub source_system: &'static [&'static str],
    /// Requested care contacts (repeated `careContactId`), matched against
    /// [`RecordPaths::care_contact`].
    pub care_contact: &'static [&'static str],
}

/// Everything that distinguishes one information set from another.
#[derive(Debug, Clone, Copy)]
pub struct InformationSetDescriptor {
    /// Short name used in config, logs and the access log, e.g. `care-documentation`.
    pub name: &'static str,
    /// Namespace of the request and response elements (the service contract),
    /// e.g. `urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2`.
    pub contract_namespace: &'static str,
    /// Local name of the request element, e.g. `GetCareDocumentation`.
    pub request_element: &'static str,
    /// Local name of the response element, e.g. `GetCareDocumentationResponse`.
    pub response_element: &'static str,
    /// Local name of one record (repeated child of the response element),
    /// e.g. `careDocumentation`.
    pub record_element: &'static str,
    /// Engagement index service domain, e.g. `riv:clinicalprocess:healthcond:description`.
    pub ei_service_domain: &'static str,
    /// Engagement index categorization, e.g. `voo`. Empty: the contract's engagements
    /// have none (GetSubjectOfCareSchedule: the national aggregating service asks the
    /// engagement index with no categorization).
    pub ei_categorization: &'static str,
    /// Namespace of the record's content and of the request's complex fields (the
    /// domain's core components), e.g. `urn:riv:clinicalprocess:healthcond:description:2`.
    pub core_namespace: &'static str,
    /// The citizen-facing kind of one record, the same for every version of a contract:
    /// `note`, `diagnosis`, `alert`, `lab-result`, `medication`, `care-contact`,
    /// `referral`, `imaging`, `care-plan`, `booking`, `vaccination`.
    pub kind: &'static str,
    pub request: RequestPaths,
    pub record: RecordPaths,
    /// The `result` element the contract's response schema wants after the records
    /// (`None`: the response element holds only records).
    pub result: Option<ResultElement>,
}

/// A contract's trailing `result` element (RIV-TA `ResultType`: `resultCode`, `logId`).
/// The merged response carries `resultCode` OK and a fresh `logId`.
#[derive(Debug, Clone, Copy)]
pub struct ResultElement {
    /// Namespace of the `result` element itself: the responder namespace when the
    /// schema declares it as a local element, or e.g. `...description:2.1` for
    /// GetCareDocumentation:2 (`m1:result`).
    pub namespace: &'static str,
    /// Namespace of its children `resultCode` and `logId` (the namespace of the schema
    /// that defines `ResultType`).
    pub field_namespace: &'static str,
}

/// A consumer's query, as far as aggregation and filtering need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryRequest {
    pub patient_id: String,
    /// Inclusive bounds as written (`yyyyMMdd` or `yyyyMMddHHmmss`).
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub care_units: Vec<String>,
    pub record_ids: Vec<String>,
    pub source_system: Option<String>,
    pub care_contacts: Vec<String>,
}

/// One record's header fields (empty strings are kept as `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordHeader {
    pub record_id: Option<String>,
    pub source_system: Option<String>,
    pub care_giver: Option<String>,
    pub care_unit: Option<String>,
    pub time: Option<String>,
    pub patient_id: Option<String>,
    pub care_contact: Option<String>,
    /// `approvedForPatient` ([`RecordPaths::approved_for_patient`]): `None` when the
    /// record has no such flag or one that is not an `xs:boolean`.
    pub approved_for_patient: Option<bool>,
    /// A short human title ([`RecordPaths::title`]).
    pub title: Option<String>,
    /// The record's status ([`RecordPaths::status`]), as written (a code or a name), or
    /// [`NULLIFIED_STATUS`].
    pub status: Option<String>,
}

/// A record's time interval ([`RecordInterval`]), each end as written in the record
/// (`yyyyMMddHHmmss` or `yyyyMMdd`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeInterval {
    /// `None`: the record has none of the start's time points, or one that cannot be
    /// read; the interval is then unbounded towards the past.
    pub start: Option<String>,
    /// `None`: open towards the future (not ended, or an end that cannot be read).
    pub end: Option<String>,
}

/// One record found in a producer's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Byte range of the whole record element (start tag to end tag) in the response.
    pub span: Range<usize>,
    /// Namespace declarations (`prefix` or `""` for the default, URI) in scope at the
    /// record but declared on its ancestors; the writer adds them to the start tag.
    pub inherited_namespaces: Vec<(String, String)>,
    pub header: RecordHeader,
    /// The record's time interval when its contract filters by overlap
    /// ([`InformationSet::record_interval`]); `None` for the other contracts, whose
    /// period filter checks the header's `time`. (Beside the header rather than in it,
    /// so that code writing whole headers stays as it is.)
    pub interval: Option<TimeInterval>,
    /// Every time point of the record at [`InformationSet::record_times`] (empty for a
    /// contract without them): the period filter keeps the record when any lies in it.
    pub times: Vec<String>,
}

/// A producer's answer: its records, or the SOAP fault it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProducerResponse {
    Records(Vec<Record>),
    /// `faultstring` of a SOAP fault.
    Fault(String),
}

/// Status of one source in the merged answer (urn:riv:interoperability:headers:1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    DataFromSource,
    DataFromCache,
    /// The source could not be asked or did not answer in time.
    NoDataSynchFailed {
        causing_agent: CausingAgent,
        code: String,
        text: String,
    },
}

/// Who failed, in ProcessingStatus terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CausingAgent {
    ServiceProducer,
    VirtualizationPlatform,
    EngagementIndex,
    Other,
}

/// One line of the ProcessingStatus header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOutcome {
    /// Logical address (source system HSA id) that was asked.
    pub logical_address: String,
    pub status: SourceStatus,
    /// `yyyyMMddHHmmss` of this call (success) or of the failure.
    pub timestamp: String,
}

/// Records taken from one producer's response body, for the merged response.
#[derive(Debug, Clone, Copy)]
pub struct MergeInput<'a> {
    pub body: &'a [u8],
    pub records: &'a [Record],
}

/// Why a request or response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    #[error("malformed XML at byte {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error(
        "expected element {expected} in namespace {namespace} as the first child of the SOAP Body"
    )]
    UnexpectedElement {
        expected: &'static str,
        namespace: &'static str,
    },
    #[error("missing required field {0}")]
    MissingField(&'static str),
}

/// One information set. Adapters implement [`InformationSet::descriptor`]; the other
/// methods have generic implementations driven by the descriptor, and an adapter
/// overrides one only where its contract really differs (say why in a comment).
pub trait InformationSet: Send + Sync + std::fmt::Debug {
    fn descriptor(&self) -> &'static InformationSetDescriptor;

    /// Reads the consumer's request (a whole SOAP envelope).
    fn parse_request(&self, envelope: &[u8]) -> Result<QueryRequest, AdapterError> {
        parse::parse_request(self.descriptor(), envelope)
    }

    /// The record's time interval, for a contract whose period filter asks for overlap
    /// with an interval ([`RecordInterval`]). `None` (the default): the filter checks
    /// that the record's time ([`RecordPaths::time`]) lies in the period. A method with
    /// a default rather than a descriptor field, so that the descriptors of the
    /// contracts with one time stay as they are.
    fn record_interval(&self) -> Option<&'static RecordInterval> {
        None
    }

    /// The record's alternative time points, for a contract whose period filter keeps a
    /// record when *any* of several times lies in the period (GetDiagnosis: `authorTime`,
    /// `signatureTime` or `diagnosisTime`). Empty (the default): the filter checks
    /// [`RecordPaths::time`]. Ignored when [`InformationSet::record_interval`] is given.
    fn record_times(&self) -> &'static [&'static [&'static str]] {
        &[]
    }

    /// Reads one producer's response (a whole SOAP envelope): its records or its fault.
    fn parse_response(&self, envelope: &[u8]) -> Result<ProducerResponse, AdapterError> {
        parse::parse_response(
            self.descriptor(),
            self.record_interval(),
            self.record_times(),
            envelope,
        )
    }

    /// Writes the merged SOAP 1.1 response: a `ProcessingStatus` header listing
    /// `sources`, then the response element with every kept record of `parts`
    /// byte-for-byte (plus inherited namespace declarations), then whatever trailing
    /// elements the contract requires (e.g. `result` with `resultCode` OK for
    /// GetCareDocumentation:2), so that the response validates against the contract's
    /// XSD when the records do.
    fn write_merged_response(
        &self,
        out: &mut Vec<u8>,
        parts: &[MergeInput<'_>],
        sources: &[SourceOutcome],
    ) {
        self.write_merged_response_noting(out, parts, sources, &MergeNotes::default())
    }

    /// [`InformationSet::write_merged_response`] with notes for the consumer in the
    /// `ProcessingStatus` header (the number of records withheld under SVOD/PDL).
    fn write_merged_response_noting(
        &self,
        out: &mut Vec<u8>,
        parts: &[MergeInput<'_>],
        sources: &[SourceOutcome],
        notes: &MergeNotes,
    ) {
        write::write_merged_response(self.descriptor(), out, parts, sources, notes)
    }

    /// A request for ALL of the patient's records of this set at one source, for a
    /// citizen's overview: a whole RIV-TA 2.1 SOAP 1.1 envelope with the source's
    /// `logical_address` in the `LogicalAddress` header
    /// (`urn:riv:itintegration:registry:1`) and, in the Body, the contract's request
    /// with the patient and nothing else (no period, no filters), valid against the
    /// contract's schema. The patient's id is written without separators, typed by
    /// [`patient_id_type`] (personal identity number, coordination number; an id of
    /// neither kind, a reserve number, gets an empty type: its OID is local to the care
    /// giver that issued it and not known here). The default writes the descriptor's
    /// [`RequestPaths::patient_id`]; a contract whose request needs more overrides it
    /// (GetSubjectOfCareSchedule: `healthcare_facility`).
    fn overview_request(&self, patient_id: &str, logical_address: &str) -> Vec<u8> {
        request::write_overview_request(self.descriptor(), patient_id, logical_address)
    }
}

/// What the merged answer tells the consumer besides the per-source status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeNotes {
    /// Records removed because the user may not see them (consent/blocks, SVOD/PDL).
    pub withheld_records: usize,
}
