//! The demo routing table (`gateway/routing/demo/routing-table.toml`) used by
//! `vaxel serve --demo`, embedded so the binary needs no file next to it.

use super::load::RoutingTableError;
use super::model::TableFormat;
use super::table::RoutingTable;

/// The demo table's text, with `${DEMO_PRODUCER}` placeholders in its URLs.
pub const DEMO_TABLE_TOML: &str = include_str!("../demo/routing-table.toml");

/// Placeholder name for the demo producer's base URL.
pub const DEMO_PRODUCER_PLACEHOLDER: &str = "DEMO_PRODUCER";

/// The consumer HSA id the demo table authorises for every demo contract.
pub const DEMO_CONSUMER: &str = "SE0000000000-DEMOCONSUMER";

/// The consumer the demo's citizen listener asks sources as (`[citizen] consumer_id`):
/// authorised in the demo table for every contract the overview asks, at `*`.
pub const DEMO_CITIZEN_CONSUMER: &str = "SE0000000000-DEMOCITIZEN";

/// Care provider that the NPÖ demo routes point at.
pub const DEMO_CARE_PROVIDER: &str = "SE2321000016-DEMO";

/// A unit below [`DEMO_CARE_PROVIDER`] without rules of its own: routed by the HSA
/// parent walk.
pub const DEMO_CARE_UNIT: &str = "SE2321000016-DEMO-UNIT1";

/// The demo patient (the national test person Tolvan Tolvansson), with engagements at
/// both demo journal sources.
pub const DEMO_PATIENT: &str = "191212121212";

/// Logical address of the gateway's engagement index in the demo table.
pub const DEMO_EI_ADDRESS: &str = "SE0000000000-VAXEL-EI";

/// Logical address at which the demo table answers aggregated (NPÖ) queries.
pub const DEMO_AGGREGATION_ADDRESS: &str = "SE0000000000-NATIONAL";

/// The demo journal source systems: (logical address = source system, care giver, care unit).
pub const DEMO_JOURNAL_SOURCES: [(&str, &str, &str); 2] = [
    (
        "SE2321000016-DEMO-JOURNAL",
        "SE2321000016-DEMO",
        "SE2321000016-DEMO-UNIT1",
    ),
    (
        "SE2321000032-OTHER-JOURNAL",
        "SE2321000032-OTHER",
        "SE2321000032-OTHER-UNIT1",
    ),
];

impl RoutingTable {
    /// The embedded demo table with `${DEMO_PRODUCER}` set to `producer_base_url`
    /// (scheme, host and port, no trailing slash, e.g. `https://127.0.0.1:20443`).
    pub fn demo(producer_base_url: &str) -> Result<RoutingTable, RoutingTableError> {
        RoutingTable::from_str_with_vars(
            DEMO_TABLE_TOML,
            TableFormat::Toml,
            "demo routing table (gateway/routing/demo/routing-table.toml)",
            &[(DEMO_PRODUCER_PLACEHOLDER, producer_base_url)],
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::NaiveDate;

    use super::*;
    use crate::{RivtaProfile, RouteError};

    const PRODUCER: &str = "https://127.0.0.1:20443";
    const SCHEDULE: &str = "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1";
    const PING: &str = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1";
    /// The NPÖ namespaces, as found in reference/riv-ta/npo-requests/*.xml.
    const NPO: [&str; 8] = [
        "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2",
        "urn:riv:clinicalprocess:healthcond:description:GetDiagnosisResponder:2",
        "urn:riv:clinicalprocess:healthcond:description:GetAlertInformationResponder:2",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:3",
        "urn:riv:clinicalprocess:activityprescription:actoutcome:GetMedicationHistoryResponder:2",
        "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:2",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetReferralOutcomeResponder:3",
        "urn:riv:clinicalprocess:healthcond:actoutcome:GetImagingOutcomeResponder:1",
    ];

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    #[test]
    fn demo_file_on_disk_loads_and_equals_the_embedded_copy() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/routing-table.toml");
        let from_disk =
            RoutingTable::load_with_vars(&path, &[(DEMO_PRODUCER_PLACEHOLDER, PRODUCER)]).unwrap();
        let embedded = RoutingTable::demo(PRODUCER).unwrap();
        assert_eq!(from_disk.counts(), embedded.counts());
        assert_eq!(embedded.counts().contracts, 17);
        assert_eq!(embedded.counts().routes, 52);
        assert_eq!(embedded.counts().authorizations, 29);
        assert_eq!(embedded.counts().hsa_nodes, 2);
        assert!(embedded.warnings().is_empty(), "{:?}", embedded.warnings());
        // Without the placeholder value the table refuses to load.
        assert!(matches!(
            RoutingTable::load(&path),
            Err(RoutingTableError::UnknownPlaceholder { name, .. }) if name == "DEMO_PRODUCER"
        ));
    }

    #[test]
    fn demo_routes_the_reference_samples() {
        let t = RoutingTable::demo(PRODUCER).unwrap();
        let r21 = t.route(SCHEDULE, "RIVTA21REQUEST", today()).unwrap();
        assert_eq!(
            r21.url(),
            "https://127.0.0.1:20443/GetSubjectOfCareSchedule/1/rivtabp21"
        );
        assert_eq!(r21.rivta_profile(), &RivtaProfile::Rivtabp21);
        let r20 = t.route(SCHEDULE, "RIVTA20REQUEST", today()).unwrap();
        assert_eq!(r20.rivta_profile(), &RivtaProfile::Rivtabp20);
        let ping = t.route(PING, "local-ping-producer", today()).unwrap();
        assert_eq!(
            ping.url(),
            "https://127.0.0.1:20443/PingForConfiguration/1/rivtabp20"
        );
        assert_eq!(ping.rivta_profile(), &RivtaProfile::Rivtabp20);
        assert_eq!(ping.response_timeout(), std::time::Duration::from_secs(5));
        assert!(matches!(
            t.route(SCHEDULE, "nowhere", today()),
            Err(RouteError::NoRoute { .. })
        ));
    }

    /// Care plans, bookings and vaccinations are aggregated like the NPÖ contracts: the
    /// national address goes to the aggregating service, each demo journal source to the
    /// demo producer's journal with that source's care giver and unit.
    #[test]
    fn demo_aggregates_care_plans_bookings_and_vaccinations() {
        let t = RoutingTable::demo(PRODUCER).unwrap();
        for contract in [
            "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2",
            SCHEDULE,
            "urn:riv:clinicalprocess:activityprescription:actoutcome:GetVaccinationHistoryResponder:2",
        ] {
            let national = t.route(contract, DEMO_AGGREGATION_ADDRESS, today()).unwrap();
            assert_eq!(
                national.local_service().map(|s| s.name()),
                Some("aggregating"),
                "{contract}"
            );
            for (source, care_giver, care_unit) in DEMO_JOURNAL_SOURCES {
                let route = t.route(contract, source, today()).unwrap();
                assert_eq!(
                    route.url(),
                    format!("{PRODUCER}/journal?care_giver={care_giver}&care_unit={care_unit}")
                        .as_str(),
                    "{contract} at {source}"
                );
                assert_eq!(
                    t.authorize(DEMO_CONSUMER, contract, source, today()),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn demo_routes_npo_contracts_for_the_unit_through_the_hsa_walk() {
        let t = RoutingTable::demo(PRODUCER).unwrap();
        for contract in NPO {
            let name = t.contract(contract).unwrap().name().unwrap();
            let direct = t.route(contract, DEMO_CARE_PROVIDER, today()).unwrap();
            let via_parent = t.route(contract, DEMO_CARE_UNIT, today()).unwrap();
            assert_eq!(direct, via_parent);
            assert_eq!(via_parent.logical_address(), DEMO_CARE_PROVIDER);
            assert!(
                via_parent.url().path().starts_with(&format!("/{name}/")),
                "{contract}"
            );
            assert_eq!(
                t.authorize(DEMO_CONSUMER, contract, DEMO_CARE_UNIT, today()),
                Ok(())
            );
        }
        for contract in [SCHEDULE, PING] {
            assert_eq!(
                t.authorize(DEMO_CONSUMER, contract, "anything", today()),
                Ok(())
            );
            assert!(t
                .authorize("SE0000000000-OTHER", contract, "anything", today())
                .is_err());
        }
    }
}
