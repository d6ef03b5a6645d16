//! A new local service is one implementation of `LocalService` and one registration:
//! this test adds a test-only service, routes a contract to it with `local://echo-test`,
//! and calls it through the real pipeline (mutual TLS, identify, sniff, route,
//! authorise, dispatch) on an in-process gateway. Nothing else in the gateway knows it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use vaxel::config::Config;
use vaxel::pipeline::Shared;
use vaxel::services::{soap_response, BoxFuture, LocalRequest, LocalService, Registry};
use vaxel_model::{Cause, Fault};
use vaxel_routing::RoutingTableHandle;

const ECHO: &str = "urn:riv:e2e:EchoResponder:1";

/// Answers with what it was given: the contract, the caller and the body's length.
#[derive(Debug, Default)]
struct EchoService {
    calls: AtomicUsize,
}

impl LocalService for EchoService {
    fn name(&self) -> &'static str {
        "echo-test"
    }

    fn call<'a>(
        &'a self,
        request: LocalRequest<'a>,
    ) -> BoxFuture<'a, Result<Response<Full<Bytes>>, Fault>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if request.body.windows(6).any(|w| w == b"refuse") {
                return Err(Fault::NotAuthorized(Cause::msg("echo-test refuses this")));
            }
            let body = format!(
                "<echo contract=\"{}\" sender=\"{}\" bytes=\"{}\"/>",
                request.envelope.contract_namespace,
                request.caller.sender,
                request.body.len()
            );
            Ok(soap_response(body.into_bytes(), request.caller.correlation))
        })
    }

    fn status_key(&self) -> &'static str {
        "echo_test"
    }
}

fn envelope(payload: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">SE-ECHO</LogicalAddress></soap:Header>\
<soap:Body><e:Echo xmlns:e=\"{ECHO}\">{payload}</e:Echo></soap:Body></soap:Envelope>"
    )
}

#[test]
fn a_registered_test_service_answers_its_local_route() {
    let dir = tempfile::tempdir().unwrap();
    let pki = vaxel::certs::generate_demo_pki(&dir.path().join("pki")).unwrap();
    let table = format!(
        r#"
[[contracts]]
namespace = "{ECHO}"
[[routes]]
contract = "{ECHO}"
logical_address = "SE-ECHO"
rivta_profile = "RIVTABP21"
url = "local://echo-test"
[[authorizations]]
consumer = "{consumer}"
contract = "{ECHO}"
logical_address = "*"
"#,
        consumer = vaxel::certs::DEMO_CONSUMER_ID,
    );
    std::fs::write(dir.path().join("tak.toml"), table).unwrap();
    let config_text = format!(
        r#"
instance_id = "vaxel-local-test"
[service]
listen = "127.0.0.1:0"
threads = 1
[service.tls]
certificate = "{gw}"
private_key = "{gw_key}"
client_ca = "{ca}"
[producers]
certificate = "{client}"
private_key = "{client_key}"
ca = "{ca}"
[routing]
source = "tak.toml"
[store]
path = "vaxel.db"
"#,
        gw = pki.gateway_cert().display(),
        gw_key = pki.gateway_key().display(),
        client = pki.gateway_client_cert().display(),
        client_key = pki.gateway_client_key().display(),
        ca = pki.ca_cert().display(),
    );
    let config_path = dir.path().join("vaxel.toml");
    let config = Config::from_toml(&config_text, &config_path).unwrap();

    // The one registration.
    let echo = Arc::new(EchoService::default());
    let mut services = Registry::default();
    services.register(echo.clone());

    // The routing table is loaded knowing the registry's names: local://echo-test is
    // accepted, a name nobody registered is not.
    let routing = Arc::new(RoutingTableHandle::new(
        config.routing.source.clone(),
        config.routing.last_known_good.clone(),
        config.routing.vars.clone(),
    ));
    routing.set_local_services(services.names());
    routing.load_initial().unwrap();
    let stranger = RoutingTableHandle::new(
        config.routing.source.clone(),
        None::<std::path::PathBuf>,
        Vec::new(),
    );
    stranger.set_local_services(vec!["engagement-index".into()]);
    let refused = stranger.check_source().unwrap_err().to_string();
    assert!(refused.contains("local://echo-test"), "{refused}");

    let shared = Arc::new(Shared::new(config, routing, services, None, None, None));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let threads = vaxel::server::start_service(shared.clone(), stopped).unwrap();
    let url = format!("https://localhost:{}/", threads.local_addr.port());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = {
        let mut identity = std::fs::read(pki.consumer_cert()).unwrap();
        identity.extend(std::fs::read(pki.consumer_key()).unwrap());
        reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(pki.ca_cert()).unwrap()).unwrap(),
            )
            .identity(reqwest::Identity::from_pem(&identity).unwrap())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    };
    rt.block_on(async {
        let sent = envelope("hello");
        let r = client.post(&url).body(sent.clone()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert_eq!(
            text,
            format!(
                "<echo contract=\"{ECHO}\" sender=\"{}\" bytes=\"{}\"/>",
                vaxel::certs::DEMO_CONSUMER_ID,
                sent.len()
            )
        );
        // Its faults are the gateway's faults, counted like any other.
        let r = client
            .post(&url)
            .body(envelope("refuse"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        assert_eq!(
            r.headers()
                .get("x-vp-fault-code")
                .and_then(|v| v.to_str().ok()),
            Some("VP007")
        );
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("VP007 [vaxel-local-test] echo-test refuses this"));
    });
    // Close the kept-alive connections, so the gateway's graceful stop need not wait.
    drop(client);
    drop(rt);
    assert_eq!(echo.calls.load(Ordering::SeqCst), 2);
    assert_eq!(shared.stats.faults()["VP007"], 1);
    assert_eq!(
        shared
            .stats
            .local_answers
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    stop.send(true).unwrap();
    threads.join();
}
