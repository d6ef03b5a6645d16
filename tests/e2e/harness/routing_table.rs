//! `Table`: a routing-table (TAK) builder, serialised to the TOML format of
//! specs/routing-table.md, and `Table::standard`, the table most tests start from.

use serde::Serialize;

use super::reference::NPO_SAMPLES;
use super::{
    CARE_PROVIDER, CARE_UNIT, CN_CONSUMER_ID, CONSUMER_ID, PING, PROCESS_NOTIFICATION, SCHEDULE,
};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    contracts: Vec<ContractEntry>,
    routes: Vec<RouteEntry>,
    authorizations: Vec<AuthEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hsa_tree: Vec<HsaEntry>,
}

#[derive(Debug, Clone, Serialize)]
struct ContractEntry {
    namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_body_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
struct RouteEntry {
    contract: String,
    logical_address: String,
    rivta_profile: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct AuthEntry {
    consumer: String,
    contract: String,
    logical_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct HsaEntry {
    id: String,
    parent: String,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// The table most tests start from, every producer URL on `producer` (a base URL
    /// such as `https://127.0.0.1:1234`):
    /// - the reference samples' routes (RIVTA21REQUEST, RIVTA20REQUEST,
    ///   local-ping-producer, ProcessNotification at 5565594230);
    /// - the eight NPÖ contracts at SE2321000016-DEMO (its unit UNIT1 via the HSA tree);
    /// - the demo consumer and the CN-only consumer authorised for all of them at `*`.
    pub fn standard(producer: &str) -> Table {
        let mut t = Table::new()
            .route(
                SCHEDULE,
                "RIVTA21REQUEST",
                "RIVTABP21",
                &format!("{producer}/schedule/21"),
            )
            .route(
                SCHEDULE,
                "RIVTA20REQUEST",
                "RIVTABP20",
                &format!("{producer}/schedule/20"),
            )
            .route(
                PING,
                "local-ping-producer",
                "RIVTABP20",
                &format!("{producer}/ping"),
            )
            .route(
                PROCESS_NOTIFICATION,
                "5565594230",
                "RIVTABP21",
                &format!("{producer}/ei/process-notification"),
            )
            .hsa(CARE_PROVIDER, "SE")
            .hsa(CARE_UNIT, CARE_PROVIDER);
        for (file, ns) in NPO_SAMPLES {
            t = t.route(
                ns,
                CARE_PROVIDER,
                "RIVTABP21",
                &format!("{producer}/npo/{file}"),
            );
        }
        let contracts: Vec<String> = t.contracts.iter().map(|c| c.namespace.clone()).collect();
        for ns in contracts {
            t = t
                .authorize(CONSUMER_ID, &ns, "*")
                .authorize(CN_CONSUMER_ID, &ns, "*");
        }
        t
    }

    /// Lists a contract (no-op if listed).
    pub fn contract(mut self, namespace: &str) -> Table {
        if !self.contracts.iter().any(|c| c.namespace == namespace) {
            self.contracts.push(ContractEntry {
                namespace: namespace.to_string(),
                response_timeout_ms: None,
                max_body_bytes: None,
            });
        }
        self
    }

    /// Sets a contract's response timeout (listing the contract if needed).
    pub fn response_timeout(mut self, namespace: &str, ms: u64) -> Table {
        self = self.contract(namespace);
        for c in &mut self.contracts {
            if c.namespace == namespace {
                c.response_timeout_ms = Some(ms);
            }
        }
        self
    }

    /// Sets a contract's largest message (listing the contract if needed).
    pub fn max_body(mut self, namespace: &str, bytes: u64) -> Table {
        self = self.contract(namespace);
        for c in &mut self.contracts {
            if c.namespace == namespace {
                c.max_body_bytes = Some(bytes);
            }
        }
        self
    }

    /// A route valid from 2024-01-01 on.
    pub fn route(self, contract: &str, address: &str, profile: &str, url: &str) -> Table {
        self.route_valid(contract, address, profile, url, Some("2024-01-01"), None)
    }

    pub fn route_valid(
        mut self,
        contract: &str,
        address: &str,
        profile: &str,
        url: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Table {
        self = self.contract(contract);
        self.routes.push(RouteEntry {
            contract: contract.to_string(),
            logical_address: address.to_string(),
            rivta_profile: profile.to_string(),
            url: url.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
        self
    }

    /// A RIV-TA 2.1 route to `url` that the demo consumer may call for exactly `address`.
    pub fn route_for_consumer(self, contract: &str, address: &str, url: &str) -> Table {
        self.route(contract, address, "RIVTABP21", url)
            .authorize(CONSUMER_ID, contract, address)
    }

    /// An authorisation valid from 2024-01-01 on.
    pub fn authorize(self, consumer: &str, contract: &str, address: &str) -> Table {
        self.authorize_valid(consumer, contract, address, Some("2024-01-01"), None)
    }

    pub fn authorize_valid(
        mut self,
        consumer: &str,
        contract: &str,
        address: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Table {
        self = self.contract(contract);
        self.authorizations.push(AuthEntry {
            consumer: consumer.to_string(),
            contract: contract.to_string(),
            logical_address: address.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
        self
    }

    pub fn hsa(mut self, id: &str, parent: &str) -> Table {
        self.hsa_tree.push(HsaEntry {
            id: id.to_string(),
            parent: parent.to_string(),
        });
        self
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("routing table serialises to TOML")
    }
}
