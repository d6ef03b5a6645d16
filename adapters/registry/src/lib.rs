//! Every information-set adapter of vaxel in one place: the aggregator finds the adapter
//! for a request by the namespace of its Body child (the service contract), and tests
//! and the demo get realistic producer responses from [`samples`].
#![forbid(unsafe_code)]

use vaxel_adapter::InformationSet;

pub mod samples;
pub mod schemas;

pub use vaxel_adapter_alert_information::AlertInformation;
pub use vaxel_adapter_care_contacts::CareContacts;
pub use vaxel_adapter_care_documentation::CareDocumentation;
pub use vaxel_adapter_care_plans::CarePlans;
pub use vaxel_adapter_diagnosis::Diagnosis;
pub use vaxel_adapter_imaging_outcome::ImagingOutcome;
pub use vaxel_adapter_laboratory_outcome::{LaboratoryOrderOutcome3, LaboratoryOrderOutcome4};
pub use vaxel_adapter_medication_history::MedicationHistory;
pub use vaxel_adapter_referral_outcome::ReferralOutcome;
pub use vaxel_adapter_scheduling::SubjectOfCareSchedule;
pub use vaxel_adapter_vaccination_history::VaccinationHistory;

static ALL: [&dyn InformationSet; 12] = [
    &CareDocumentation,
    &Diagnosis,
    &AlertInformation,
    &LaboratoryOrderOutcome3,
    &LaboratoryOrderOutcome4,
    &MedicationHistory,
    &CareContacts,
    &ReferralOutcome,
    &ImagingOutcome,
    &CarePlans,
    &SubjectOfCareSchedule,
    &VaccinationHistory,
];

/// Every adapter, in a fixed order.
pub fn all() -> &'static [&'static dyn InformationSet] {
    &ALL
}

/// The adapter for a service contract namespace (namespace URIs compare exactly).
pub fn by_contract(namespace: &str) -> Option<&'static dyn InformationSet> {
    ALL.iter()
        .copied()
        .find(|set| set.descriptor().contract_namespace == namespace)
}

/// The adapter with this descriptor name (as used in configuration and logs).
pub fn by_name(name: &str) -> Option<&'static dyn InformationSet> {
    ALL.iter()
        .copied()
        .find(|set| set.descriptor().name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_contracts_are_unique() {
        for (i, a) in all().iter().enumerate() {
            for b in &all()[i + 1..] {
                assert_ne!(a.descriptor().name, b.descriptor().name);
                assert_ne!(
                    a.descriptor().contract_namespace,
                    b.descriptor().contract_namespace
                );
            }
        }
    }

    #[test]
    fn every_set_has_its_citizen_facing_kind() {
        let kinds: Vec<(&str, &str)> = all()
            .iter()
            .map(|s| (s.descriptor().name, s.descriptor().kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("care-documentation", "note"),
                ("diagnosis", "diagnosis"),
                ("alert-information", "alert"),
                ("laboratory-outcome-3", "lab-result"),
                ("laboratory-outcome-4", "lab-result"),
                ("medication-history", "medication"),
                ("care-contacts", "care-contact"),
                ("referral-outcome", "referral"),
                ("imaging-outcome", "imaging"),
                ("care-plans", "care-plan"),
                ("scheduling", "booking"),
                ("vaccination-history", "vaccination"),
            ]
        );
    }

    #[test]
    fn the_new_contracts_are_found() {
        for (namespace, name, domain, categorization) in [
            (
                "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2",
                "care-plans",
                "riv:clinicalprocess:logistics:logistics",
                "cll-cp",
            ),
            (
                "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1",
                "scheduling",
                "riv:crm:scheduling",
                "Booking",
            ),
            (
                "urn:riv:clinicalprocess:activityprescription:actoutcome:GetVaccinationHistoryResponder:2",
                "vaccination-history",
                "riv:clinicalprocess:activityprescription:actoutcome",
                "caa-gvh",
            ),
        ] {
            let set = by_contract(namespace).unwrap();
            assert_eq!(set.descriptor().name, name);
            assert_eq!(by_name(name).unwrap().descriptor().contract_namespace, namespace);
            assert_eq!(
                (set.descriptor().ei_service_domain, set.descriptor().ei_categorization),
                (domain, categorization)
            );
        }
        assert_eq!(all().len(), 12);
    }

    #[test]
    fn lookups() {
        let set = by_contract(
            "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2",
        )
        .unwrap();
        assert_eq!(set.descriptor().name, "care-documentation");
        assert_eq!(set.descriptor().ei_categorization, "voo");
        assert!(by_contract(
            "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:3"
        )
        .is_none());
        assert_eq!(
            by_name("laboratory-outcome-4")
                .unwrap()
                .descriptor()
                .contract_namespace,
            "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:4"
        );
    }
}
