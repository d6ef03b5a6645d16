//! `vaxel serve --demo`: everything a first-time user needs, generated on the spot —
//! the demo PKI (certs-example/out), a demo routing table, a demo producer and a
//! configuration file that ties them together (written to vaxel-data/ so the operator
//! can read and copy it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// Ports and folders of a demo run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder that gets `certs-example/out` and `vaxel-data` (the repository root when
    /// run as the README says).
    pub root: PathBuf,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// The citizen page and API.
    pub citizen_listen: SocketAddr,
    pub producer_listen: SocketAddr,
    /// The municipality's SDK gateway (second process): service and admin addresses.
    pub peer_listen: SocketAddr,
    pub peer_admin_listen: SocketAddr,
    /// Run this node on a shared PostgreSQL database (schema `vaxel_demo`) instead of
    /// the SQLite file, so that several demo nodes form one cluster.
    pub store_url: Option<String>,
    /// The schema on `store_url`.
    pub store_schema: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            root: PathBuf::from("."),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            citizen_listen: SocketAddr::from(([127, 0, 0, 1], 8445)),
            producer_listen: SocketAddr::from(([127, 0, 0, 1], 20443)),
            peer_listen: SocketAddr::from(([127, 0, 0, 1], 9443)),
            peer_admin_listen: SocketAddr::from(([127, 0, 0, 1], 9080)),
            store_url: None,
            store_schema: "vaxel_demo".to_string(),
        }
    }
}

/// Prepare the demo: PKI, routing table and config file. Returns the validated config.
pub fn prepare(opts: &DemoOptions) -> anyhow::Result<Config> {
    let certs_dir = opts.root.join("certs-example").join("out");
    crate::certs::ensure_demo_pki(&certs_dir)?;
    let data = opts.root.join("vaxel-data");
    std::fs::create_dir_all(&data)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", data.display()))?;
    // Rewritten on every start, so that a newer vaxel brings its newer demo table; to
    // run an edited table, copy it and use `serve --config` (see demo.toml).
    let table = data.join("demo-routing-table.toml");
    if std::fs::read_to_string(&table).ok().as_deref() != Some(vaxel_routing::DEMO_TABLE_TOML) {
        std::fs::write(&table, vaxel_routing::DEMO_TABLE_TOML)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", table.display()))?;
    }
    let certs = absolute(&certs_dir)?;
    let book = write_sdk_demo(opts, &data, &certs)?;
    let citizen_issuer = crate::citizen::demo::ensure_key(&absolute(&data)?)?;
    let staff_issuer = crate::demo_tokens::ensure_key(&absolute(&data)?)?;
    let text = format!(
        r#"# Written by `vaxel serve --demo`. Copy and edit it to run vaxel with your own
# certificates and routing table: `vaxel serve --config this-file.toml`.
# Every key is described in specs/configuration.md.
instance_id = "vaxel-demo"

[service]
listen = "{listen}"
[service.tls]
certificate = "{certs}/gateway.pem"
private_key = "{certs}/gateway.key"
client_ca = "{certs}/ca.pem"

[admin]
listen = "{admin}"

[producers]
certificate = "{certs}/gateway-client.pem"
private_key = "{certs}/gateway-client.key"
ca = "{certs}/ca.pem"

[routing]
source = "demo-routing-table.toml"
last_known_good = "demo-routing-table.last-known-good"
vars = {{ DEMO_PRODUCER = "https://localhost:{producer_port}" }}

{store}

[identity]
trusted_header_addresses = []
original_consumer_allowed = ["SE0000000000-DEMOCONSUMER"]

# Consent under SVOD/PDL (specs/user-context.md): every journal call (aggregated, or
# virtualised for a contract with an information-set adapter) needs the care staff
# user's context, a JWT from an issuer below; other care givers' records are shown only
# with the patient's consent or in a declared emergency, and every decision goes to the
# PDL access log. The issuer is the demo's care-staff identity provider (its key pair
# was made in this folder on the first start; GET /demo/user-context on the admin
# listener signs tokens, demo only): name your own identity provider in a copy.
[consent]
enabled = true
[[consent.issuers]]
issuer = "{staff_iss}"
audience = ["{staff_aud}"]
algorithms = ["ES256"]
public_key_pem = "{staff_key}"

# SDK messaging: this gateway is the region's access point (specs/sdk.md). The
# municipality's gateway runs beside it (vaxel-data/municipality/municipality.toml).
[sdk]
enabled = true
organisation = "{region_participant}"
certificate = "{certs}/sdk/region-org.pem"
private_key = "{certs}/sdk/region-org.key"
organisation_ca = "{certs}/ca.pem"
client_certificate = "{certs}/sdk/region-gateway.pem"
client_private_key = "{certs}/sdk/region-gateway.key"
address_book = "{book}"
dead_letter_after_s = 86400
[[sdk.systems]]
id = "{region_system}"
organisations = ["{region_participant}"]

# The citizen's side (specs/citizen.md): the citizen page and API on their own listener
# (TLS, no client certificates), signed in with the demo identity provider's tokens
# (GET /citizen/demo/token, demo only). Lab results are shown to the patient only
# after a delay, as a region would configure it: here 30 days at the second demo care
# giver (its recent results are counted as "not shown yet"), none at the first.
[citizen]
enabled = true
listen = "{citizen}"
consumer_id = "{citizen_consumer}"
[[citizen.issuers]]
issuer = "{citizen_iss}"
audience = ["{citizen_aud}"]
algorithms = ["ES256"]
public_key_pem = "{citizen_key}"
[[citizen.delays]]
information_set = "laboratory-outcome-3"
care_giver = "SE2321000032-OTHER"
days = 30
[[citizen.delays]]
information_set = "laboratory-outcome-4"
care_giver = "SE2321000032-OTHER"
days = 30
"#,
        citizen = opts.citizen_listen,
        staff_iss = crate::demo_tokens::ISSUER,
        staff_aud = crate::demo_tokens::AUDIENCE,
        staff_key = staff_issuer.public_key.display(),
        citizen_consumer = vaxel_routing::DEMO_CITIZEN_CONSUMER,
        citizen_iss = crate::citizen::demo::ISSUER,
        citizen_aud = crate::citizen::demo::AUDIENCE,
        citizen_key = citizen_issuer.public_key.display(),
        listen = opts.listen,
        admin = opts.admin_listen,
        certs = certs.display(),
        producer_port = opts.producer_listen.port(),
        region_participant = crate::sdk_pki::REGION.participant,
        region_system = crate::sdk_pki::REGION.system_id,
        book = book.display(),
        store = match &opts.store_url {
            None => "[store]\n# Every durable store (SQLite, next to this file).\npath = \"vaxel.db\"".to_string(),
            Some(url) => format!(
                "[store]\n# Every durable store on one PostgreSQL database, shared by every demo node\n# (specs/deployment.md).\nbackend = \"postgres\"\nurl = {url:?}\nschema = {schema:?}\n\n[engagement_index]\nnotify_lease_ms = 10000",
                schema = opts.store_schema,
            ),
        },
    );
    // One configuration per node when nodes share a database (they differ in ports).
    let cfg_path = match &opts.store_url {
        None => data.join("demo.toml"),
        Some(_) => data.join(format!("demo-node-{}.toml", opts.listen.port())),
    };
    std::fs::write(&cfg_path, &text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", cfg_path.display()))?;
    let mut config = Config::from_toml(&text, &cfg_path)?;
    config.demo_citizen_key = Some(citizen_issuer.private_key);
    config.demo_staff_key = Some(staff_issuer.private_key);
    seed_engagements(&config)?;
    Ok(config)
}

/// The demo patient's engagements: every information set at both demo journal sources,
/// registered through the engagement index's own Update service (idempotent: a second
/// run changes nothing).
fn seed_engagements(config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stores = runtime
        .block_on(crate::stores::open(&config.store))
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the demo store {}: {e}",
                crate::stores::describe(&config.store)
            )
        })?;
    let index = vaxel_engagement_index::EngagementIndex::new(
        stores.engagements,
        stores.outbox,
        config.engagement_index.clone(),
    );
    let envelope = demo_update(&config.engagement_index.owner);
    runtime
        .block_on(index.handle(vaxel_engagement_index::xml::UPDATE_NS, envelope.into()))
        .map_err(|e| anyhow::anyhow!("seeding the demo engagements failed: {e}"))?;
    Ok(())
}

/// An Update with one engagement per (service domain, categorization) of the adapters
/// and demo journal source.
fn demo_update(index_address: &str) -> Vec<u8> {
    use vaxel_model::xml::xml_escape;
    let mut seen = std::collections::BTreeSet::new();
    let mut transactions = String::new();
    for set in vaxel_adapters::all() {
        let d = set.descriptor();
        if !seen.insert((d.ei_service_domain, d.ei_categorization)) {
            continue;
        }
        for (source, _, _) in vaxel_routing::DEMO_JOURNAL_SOURCES {
            transactions.push_str(&format!(
                "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>\
<e:registeredResidentIdentification>{patient}</e:registeredResidentIdentification>\
<e:serviceDomain>{domain}</e:serviceDomain><e:categorization>{cat}</e:categorization>\
<e:logicalAddress>{source}</e:logicalAddress>\
<e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>\
<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId>\
<e:mostRecentContent>20240115093000</e:mostRecentContent>\
<e:sourceSystem>{source}</e:sourceSystem><e:dataController>{controller}</e:dataController>\
</e:engagement></u:engagementTransaction>",
                patient = vaxel_routing::DEMO_PATIENT,
                domain = xml_escape(d.ei_service_domain),
                cat = xml_escape(d.ei_categorization),
                controller = &source[..12],
            ));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
xmlns:u=\"{ns}\" xmlns:e=\"urn:riv:itintegration:engagementindex:1\"><soap:Header>\
<LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">{address}</LogicalAddress></soap:Header>\
<soap:Body><u:Update>{transactions}</u:Update></soap:Body></soap:Envelope>\n",
        ns = vaxel_engagement_index::xml::UPDATE_NS,
        address = xml_escape(index_address),
    )
    .into_bytes()
}

/// The demo's SDK side: the address book both gateways share, and the configuration of
/// the municipality's gateway (`vaxel-data/municipality/municipality.toml`). Returns the
/// address book's path.
fn write_sdk_demo(opts: &DemoOptions, data: &Path, certs: &Path) -> anyhow::Result<PathBuf> {
    use crate::sdk_pki::{MUNICIPALITY, REGION};
    let book = data.join("sdk-address-book.toml");
    let entry = |o: &crate::sdk_pki::SdkOrg, port: u16| {
        format!(
            "[[participant]]\nid = \"{}\"\nname = \"{}\"\nendpoint = \"https://localhost:{port}/sdk/v1/deliveries\"\ngateway_id = \"{}\"\ncertificate = \"{}/sdk/{}-org.pem\"\nfunctional_addresses = [\"{}\"]\n\n",
            o.participant,
            o.name,
            o.gateway_id,
            certs.display(),
            o.stem,
            o.functional_address
        )
    };
    let text = format!(
        "# SDK address book of the demo (specs/sdk.md §4): every organisation, its receiving\n\
         # gateway, that gateway's identity and the organisation certificate.\n\n{}{}",
        entry(&REGION, opts.listen.port()),
        entry(&MUNICIPALITY, opts.peer_listen.port())
    );
    std::fs::write(&book, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", book.display()))?;
    // Absolute: both configurations name it, from different folders.
    let book = absolute(&book)?;
    let dir = data.join("municipality");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let text = format!(
        r#"# Written by `vaxel serve --demo`: the municipality's gateway of the SDK demo, run
# beside the region's. Every key is described in specs/configuration.md.
instance_id = "vaxel-demo-kommun"

[service]
listen = "{listen}"
threads = 1
[service.tls]
certificate = "{certs}/sdk/municipality-gateway.pem"
private_key = "{certs}/sdk/municipality-gateway.key"
client_ca = "{certs}/ca.pem"

[admin]
listen = "{admin}"

[producers]
certificate = "{certs}/sdk/municipality-gateway.pem"
private_key = "{certs}/sdk/municipality-gateway.key"
ca = "{certs}/ca.pem"

[routing]
source = "../demo-routing-table.toml"
last_known_good = "demo-routing-table.last-known-good"
vars = {{ DEMO_PRODUCER = "https://localhost:1" }}

[store]
path = "vaxel.db"

[sdk]
enabled = true
organisation = "{participant}"
certificate = "{certs}/sdk/municipality-org.pem"
private_key = "{certs}/sdk/municipality-org.key"
organisation_ca = "{certs}/ca.pem"
address_book = "{book}"
[[sdk.systems]]
id = "{system}"
organisations = ["{participant}"]
"#,
        listen = opts.peer_listen,
        admin = opts.peer_admin_listen,
        certs = certs.display(),
        participant = MUNICIPALITY.participant,
        system = MUNICIPALITY.system_id,
        book = book.display(),
    );
    let path = dir.join("municipality.toml");
    std::fs::write(&path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(book)
}

/// The demo's second gateway process; stopped when dropped.
#[derive(Debug)]
pub struct Peer(pub std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing its standard input stops it (`--exit-on-stdin-eof`); wait briefly.
        drop(self.0.stdin.take());
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The municipality gateway's configuration file written by [`prepare`].
pub fn municipality_config(opts: &DemoOptions) -> PathBuf {
    opts.root
        .join("vaxel-data")
        .join("municipality")
        .join("municipality.toml")
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::fs::canonicalize(p)?)
}
