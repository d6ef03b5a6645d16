//! Valid and invalid markup around the routing facts, written the ways quick-xml and a
//! hand-written reader could disagree on: where a tag, comment or declaration ends,
//! white space in odd places, quotes, references and reserved namespace bindings.
//!
//! The sniffer decides on a hand-written fast path and falls back to quick-xml for
//! everything else; in debug builds (these tests) every fast decision is also checked
//! against the quick-xml path, so each case here pins both.
mod common;

use common::{envelope, error, sniff_in_chunks};
use vaxel_adapter::{RivProfile, SniffError, SniffLimits, SniffOutcome};

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const REGISTRY: &str = "urn:riv:itintegration:registry:1";
const CONTRACT: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";

/// A RIV-TA 2.1 request: `prolog` before the Envelope, `header` inside Header,
/// `child` as the first Body child's start tag (must declare `CONTRACT`).
fn request(prolog: &str, header: &str, child: &str) -> String {
    format!(
        "{prolog}<soap:Envelope xmlns:soap=\"{SOAP}\"><soap:Header>{header}</soap:Header>\
         <soap:Body>{child}<x/></c:GetCareDocumentation></soap:Body></soap:Envelope>"
    )
}

fn address(value: &str) -> String {
    format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\">{value}</a:LogicalAddress>")
}

fn child() -> String {
    format!("<c:GetCareDocumentation xmlns:c=\"{CONTRACT}\">")
}

fn assert_routes(xml: &str, expected_address: &str) {
    let env = envelope(xml.as_bytes());
    let found = env.address.as_ref().expect("address header");
    assert_eq!(
        (
            found.profile,
            found.value.as_str(),
            env.contract_namespace.as_str()
        ),
        (RivProfile::Rivta21, expected_address, CONTRACT),
        "{xml}"
    );
    assert_eq!(env.body_element, "GetCareDocumentation", "{xml}");
    assert!(xml[..env.consumed].ends_with('>'), "{xml}");
    for chunk in [1, 7] {
        assert_eq!(
            sniff_in_chunks(xml.as_bytes(), chunk, &SniffLimits::default()),
            Ok(SniffOutcome::Complete(env.clone())),
            "{xml}"
        );
    }
}

#[test]
fn xml_declarations_in_every_allowed_form_route() {
    for prolog in [
        "<?xml version=\"1.0\"?>",
        "<?xml version='1.0' encoding='utf-8'?>",
        "<?xml version=\"1.0\" encoding=\"UTF8\" standalone=\"yes\"?>",
        "<?xml version = \"1.0\"  encoding = 'UTF-8' ?>\n",
        "<?xml version=\"1.0\" standalone='no'?>",
        "<?xml version=\"1.1\"?><!-- c --><?pi x?>",
    ] {
        assert_routes(&request(prolog, &address("SE1"), &child()), "SE1");
    }
    for prolog in [
        "<?xml?>",
        "<?xml encoding=\"UTF-8\" version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
        " <?xml version=\"1.0\"?>",
    ] {
        let xml = request(prolog, &address("SE1"), &child());
        assert!(
            matches!(error(xml.as_bytes()), SniffError::Malformed { .. }),
            "{xml}"
        );
    }
}

#[test]
fn comments_end_where_xml_says() {
    for comment in [
        "<!---->",
        "<!-- a - b -->",
        "<!--->-->",
        "<!-->-->",
        "<!-- > -->",
    ] {
        let header = format!("{comment}{}", address("SE1"));
        assert_routes(&request("", &header, &child()), "SE1");
    }
    for comment in ["<!-- a -- b -->", "<!-- a --->", "<!-- a --x>-->"] {
        let header = format!("{comment}{}", address("SE1"));
        let xml = request("", &header, &child());
        assert!(
            matches!(error(xml.as_bytes()), SniffError::Malformed { .. }),
            "{xml}"
        );
    }
}

#[test]
fn start_and_end_tags_in_unusual_but_valid_forms_route() {
    let variants = [
        // White space before `>`, `/>` and after an end tag's name.
        format!(
            "<a:LogicalAddress xmlns:a=\"{REGISTRY}\"\n\t>SE1</a:LogicalAddress \n>"
        ),
        // `>` and the other quote inside attribute values.
        format!("<a:LogicalAddress id='x>\"y' xmlns:a='{REGISTRY}'>SE1</a:LogicalAddress>"),
        // No white space between attributes (quick-xml reads it; so does the sniffer).
        format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\"id=\"1\">SE1</a:LogicalAddress>"),
        // References in attribute values, the `xml` prefix bound to its own namespace.
        format!(
            "<a:LogicalAddress xmlns:a=\"{REGISTRY}\" xml:lang=\"sv\" \
             xmlns:xml=\"http://www.w3.org/XML/1998/namespace\" note=\"&lt;&amp;&#x41;\">SE1</a:LogicalAddress>"
        ),
        // An empty element with attributes before the address.
        format!(
            "<h:Other xmlns:h=\"urn:h\" h:x = 'y' /><a:LogicalAddress xmlns:a=\"{REGISTRY}\">SE1</a:LogicalAddress>"
        ),
        // Non-ASCII names and values.
        format!(
            "<ö:Övrigt xmlns:ö=\"urn:ö\" värde=\"å\"/><a:LogicalAddress xmlns:a=\"{REGISTRY}\">SE1</a:LogicalAddress>"
        ),
    ];
    for header in &variants {
        assert_routes(&request("", header, &child()), "SE1");
    }
    // The Body child itself with white space, an empty-element tag and references.
    for child in [
        format!("<c:GetCareDocumentation\n xmlns:c='{CONTRACT}'\n>"),
        // The contract namespace written with a character reference.
        child().replace("Responder:2", "Responder&#58;2"),
    ] {
        assert_routes(&request("", &address("SE1"), &child), "SE1");
    }
}

#[test]
fn malformed_start_tags_are_refused_as_before() {
    for header in [
        // Duplicate attribute, unquoted value, missing `=`, `<` in a value.
        format!(
            "<a:LogicalAddress xmlns:a=\"{REGISTRY}\" id=\"1\" id=\"2\">SE1</a:LogicalAddress>"
        ),
        format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\" id=1>SE1</a:LogicalAddress>"),
        format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\" id>SE1</a:LogicalAddress>"),
        format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\" id=\"<\">SE1</a:LogicalAddress>"),
        // Unknown entity in a value, reserved bindings, a space before `/>`'s `>`.
        format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\" id=\"&nbsp;\">SE1</a:LogicalAddress>"),
        format!(
            "<a:LogicalAddress xmlns:a=\"{REGISTRY}\" xmlns:xml=\"urn:x\">SE1</a:LogicalAddress>"
        ),
        "<a:LogicalAddress xmlns:a=\"http://www.w3.org/2000/xmlns/\">SE1</a:LogicalAddress>"
            .to_owned(),
        "<h:Other xmlns:h=\"urn:h\"/ >".to_owned(),
        // End tag that does not match, undeclared prefix.
        format!("<a:LogicalAddress xmlns:a=\"{REGISTRY}\">SE1</LogicalAddress>"),
        "<b:LogicalAddress>SE1</b:LogicalAddress>".to_owned(),
    ] {
        let xml = request("", &header, &child());
        assert!(
            matches!(error(xml.as_bytes()), SniffError::Malformed { .. }),
            "{xml}"
        );
    }
}
