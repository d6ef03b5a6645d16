//! GetCarePlans:2 (vård- och omsorgsplaner, care plans, among them the coordinated
//! individual plan, SIP).
//!
//! Sources: the official responder schema `GetCarePlansResponder_2.0.xsd` with the core
//! components `clinicalprocess_logistics_logistics_3.0.xsd` and
//! `clinicalprocess_logistics_logistics_enum_3.0.xsd` (namespaces
//! `...logistics:logistics:3` and `...logistics:logistics:enums:3`, in
//! `shared/reference/riv-ta/care-plans-schemas`):
//!
//! - a record is a `CarePlanType`: `carePlanHeader` of the domain's 3.0
//!   `PatientSummaryHeaderType` (`documentId`, `sourceSystemHSAId`, `documentTitle?`,
//!   `documentTime?`, `patientId`, `accountableHealthcareProfessional` 1..1 with
//!   `authorTime`, `healthcareProfessionalCareUnitHSAId?` and
//!   `healthcareProfessionalCareGiverHSAId?`, `legalAuthenticator?`, `approvedForPatient`,
//!   `nullified?`, `nullifiedReason?`, `careContactId?`: in 3.0 `careContactId` comes
//!   last), then `carePlanBody` (`CarePlanBodyType`: `content*` of `MultimediaType`,
//!   `participatingCareUnitHSAId*`, `typeOfCarePlanEnum?` of `TypeOfCarePlanEnum`: SIP
//!   samordnad individuell plan, SPLPTLRV samordnad plan enligt LPT och LRV, SPU samordnad
//!   plan vid utskrivning, VP vårdplan, HP habiliteringsplan, RP rehabiliteringsplan, GP
//!   genomförandeplan, SVP standardiserad vårdplan);
//! - the request (`GetCarePlansType`): `careUnitHSAId*` (the header's
//!   `healthcareProfessionalCareUnitHSAId`), `patientId` (`PersonIdType`), `datePeriod?`
//!   (`DatePeriodType`, dates, both 1..1 when given), `sourceSystemHSAId?`,
//!   `careContactId*` (the header's `careContactId`);
//! - the response (`GetCarePlansResponseType`): `carePlan*`, then `result` 1..1
//!   (`ResultType` of the core namespace, a local element, so in the contract namespace);
//!   the national aggregating service writes it too (skltp-aggregerandetjanster/
//!   riv.clinicalprocess.logistics.logistics.GetAggregatedCarePlans
//!   `GACPAgpServiceFactoryImpl`).
//!
//! The record's time is the header's `documentTime` (the plan's date); the period is
//! re-checked against it with the generic rule, and a plan without one is kept (the
//! producer applied the period). The title is the plan's `documentTitle`, else its kind
//! (`typeOfCarePlanEnum`, e.g. `SIP`); the status is `nullified` only (the contract has
//! no other).
//!
//! Engagement index domain `riv:clinicalprocess:logistics:logistics`, categorization
//! `cll-cp`: skltp-aggregerandetjanster GetAggregatedCarePlans `GACPAgpServiceConfiguration`
//! (`setEiServiceDomain`, `setEiCategorization`). Request sample:
//! `shared/reference/riv-ta/npo-requests/GetCarePlans2.xml` (`datePeriod`).
#![forbid(unsafe_code)]

use vaxel_adapter::{InformationSet, InformationSetDescriptor, RequestPaths, ResultElement};

/// Namespace of the request and response elements (the service contract).
pub const CONTRACT_NAMESPACE: &str =
    "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2";
/// Namespace of the record's content (the domain's core components, 3.0).
pub const CORE_NAMESPACE: &str = "urn:riv:clinicalprocess:logistics:logistics:3";

/// What aggregation needs to know about GetCarePlans.
pub static DESCRIPTOR: InformationSetDescriptor = InformationSetDescriptor {
    name: "care-plans",
    contract_namespace: CONTRACT_NAMESPACE,
    request_element: "GetCarePlans",
    response_element: "GetCarePlansResponse",
    record_element: "carePlan",
    ei_service_domain: "riv:clinicalprocess:logistics:logistics",
    ei_categorization: "cll-cp",
    core_namespace: CORE_NAMESPACE,
    kind: "care-plan",
    request: RequestPaths {
        patient_id: &["patientId", "id"],
        period_start: &["datePeriod", "start"],
        period_end: &["datePeriod", "end"],
        care_unit: &["careUnitHSAId"],
        record_id: &[],
        source_system: &["sourceSystemHSAId"],
        care_contact: &["careContactId"],
    },
    record: vaxel_adapter::patient_summary_header_paths!(
        "carePlanHeader",
        time: ["carePlanHeader", "documentTime"],
        title: [
            ["carePlanHeader", "documentTitle"],
            ["carePlanBody", "typeOfCarePlanEnum"],
        ],
        status: [],
    ),
    result: Some(ResultElement {
        namespace: CONTRACT_NAMESPACE,
        field_namespace: CORE_NAMESPACE,
    }),
};

/// The GetCarePlans:2 information set: everything comes from the [`DESCRIPTOR`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CarePlans;

impl InformationSet for CarePlans {
    fn descriptor(&self) -> &'static InformationSetDescriptor {
        &DESCRIPTOR
    }
}
