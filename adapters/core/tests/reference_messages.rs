//! The national platform's reference requests (SKLTP VP test messages and NPÖ request
//! templates) must all route, to the same answer a DOM parser gives, and the sniffer
//! must stop at the first Body child however large the body is.
mod common;

use common::{
    as_dom_answer, dom_answer, envelope, is_well_formed_xml, reference_dir, reference_files,
    reference_requests, sniff_all, sniff_in_chunks,
};
use vaxel_adapter::{Envelope, RivProfile, SniffError, SniffLimits, SniffOutcome};

const SCHEDULING: &str = "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1";
const PING: &str = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1";

fn sniff_reference(name: &str) -> Option<Envelope> {
    let dir = reference_dir()?;
    let path = dir.join("riv-ta").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(envelope(&bytes))
}

fn assert_routes(
    name: &str,
    profile: RivProfile,
    address: &str,
    contract: &str,
) -> Option<Envelope> {
    let env = sniff_reference(name)?;
    let found = env
        .address
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: no address"));
    assert_eq!(found.profile, profile, "{name}");
    assert_eq!(found.value, address, "{name}");
    assert_eq!(env.contract_namespace, contract, "{name}");
    Some(env)
}

#[test]
fn rivta21_request_routes_on_logical_address() {
    let Some(env) = assert_routes(
        "vp-requests/Rivta21Request.xml",
        RivProfile::Rivta21,
        "RIVTA21REQUEST",
        SCHEDULING,
    ) else {
        return;
    };
    assert_eq!(env.body_element, "GetSubjectOfCareSchedule");
}

#[test]
fn rivta20_request_routes_on_wsa_to() {
    assert_routes(
        "vp-requests/Rivta20Request.xml",
        RivProfile::Rivta20,
        "RIVTA20REQUEST",
        SCHEDULING,
    );
}

#[test]
fn namespace_declared_on_header_is_resolved() {
    assert_routes(
        "vp-requests/Rivta21RequestNamespaceInHeader.xml",
        RivProfile::Rivta21,
        "RIVTA21REQUEST",
        SCHEDULING,
    );
    assert_routes(
        "vp-requests/Rivta20RequestNamespaceInHeader.xml",
        RivProfile::Rivta20,
        "RIVTA20REQUEST",
        SCHEDULING,
    );
}

#[test]
fn ping_for_configuration_routes() {
    let Some(env) = assert_routes(
        "vp-requests/PingForConfiguration-request-input.xml",
        RivProfile::Rivta20,
        "local-ping-producer",
        PING,
    ) else {
        return;
    };
    assert_eq!(env.body_element, "PingForConfiguration");
    assert_routes(
        "vp-requests/PingForConfiguration-request-rivtabp21-input.xml",
        RivProfile::Rivta21,
        "local-ping-producer",
        PING,
    );
}

#[test]
fn npo_template_variables_are_plain_text() {
    let Some(env) = assert_routes(
        "npo-requests/GetCareDocumentation2.xml",
        RivProfile::Rivta21,
        "${logicalAddress}",
        "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2",
    ) else {
        return;
    };
    assert_eq!(env.body_element, "GetCareDocumentation");
}

#[test]
fn large_messages_are_not_read_past_the_first_body_child() {
    let Some(env) = sniff_reference("vp-requests/GetSubjectOfCareLargeResponse.xml") else {
        return;
    };
    // A response carries ProcessingStatus but no address header.
    assert_eq!(env.address, None);
    assert_eq!(env.contract_namespace, SCHEDULING);
    assert_eq!(env.body_element, "GetSubjectOfCareScheduleResponse");
    assert!(
        env.consumed < 4096,
        "consumed {} bytes of a ~1 MB message",
        env.consumed
    );

    let env = sniff_reference("vp-requests/ProcessNotificationLargePayload.xml").unwrap();
    let address = env.address.unwrap();
    assert_eq!(
        (address.profile, address.value.as_str()),
        (RivProfile::Rivta21, "5565594230")
    );
    assert_eq!(
        env.contract_namespace,
        "urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1"
    );
    assert!(
        env.consumed < 4096,
        "consumed {} bytes of a ~1 MB message",
        env.consumed
    );
}

#[test]
fn every_reference_request_routes_like_a_dom_parse() {
    let Some(dir) = reference_dir() else { return };
    let all = reference_files(&dir).len();
    assert!(
        all >= 30,
        "expected the VP and NPÖ request sets, found {all} files"
    );
    let files = reference_requests(&dir);
    assert!(
        files.len() + 2 >= all,
        "at most two reference files may be damaged; {} of {all} are not XML",
        all - files.len()
    );
    for (name, bytes) in &files {
        let env = envelope(bytes);
        let dom = dom_answer(bytes)
            .unwrap_or_else(|| panic!("{name}: roxmltree finds no routable envelope"));
        assert_eq!(as_dom_answer(&env), dom, "{name}");
        assert!(env.consumed < 4096, "{name}: consumed {}", env.consumed);
        // The sniffer stops right after the first Body child's start tag.
        assert_eq!(bytes[env.consumed - 1], b'>', "{name}");
        if let Some(address) = &env.address {
            let element = std::str::from_utf8(&bytes[address.span.clone()]).unwrap();
            assert!(
                element.starts_with('<') && element.ends_with('>'),
                "{name}: {element}"
            );
            assert!(element.contains(&address.value), "{name}: {element}");
        }
    }
}

/// A reference file that is not an XML document is refused with an error, never routed
/// and never a panic, whole or in chunks.
#[test]
fn reference_files_that_are_not_xml_are_refused() {
    let Some(dir) = reference_dir() else { return };
    let limits = SniffLimits::default();
    for (name, bytes) in reference_files(&dir) {
        if is_well_formed_xml(&bytes) {
            continue;
        }
        assert!(
            sniff_all(&bytes).is_err(),
            "{name}: not XML, yet {:?}",
            sniff_all(&bytes)
        );
        for chunk in [1, 7, 64] {
            assert!(
                sniff_in_chunks(&bytes, chunk, &limits).is_err(),
                "{name} in {chunk}-byte chunks"
            );
        }
    }
}

#[test]
fn every_reference_request_gives_the_same_answer_in_chunks() {
    let Some(dir) = reference_dir() else { return };
    let limits = SniffLimits::default();
    for (name, bytes) in reference_requests(&dir) {
        let one_shot = envelope(&bytes);
        for chunk in [1, 7, 64, 1000] {
            let chunked = sniff_in_chunks(&bytes, chunk, &limits);
            assert_eq!(
                chunked,
                Ok(SniffOutcome::Complete(one_shot.clone())),
                "{name} in {chunk}-byte chunks"
            );
        }
    }
}

#[test]
fn every_cut_before_the_decision_needs_more_or_is_truncated() {
    let Some(dir) = reference_dir() else { return };
    let limits = SniffLimits::default();
    for (name, bytes) in reference_requests(&dir) {
        let consumed = envelope(&bytes).consumed;
        for cut in 0..consumed {
            let prefix = &bytes[..cut];
            assert_eq!(
                vaxel_adapter::sniff(prefix, false, &limits),
                Ok(SniffOutcome::NeedMore),
                "{name} cut at {cut}"
            );
            let last = vaxel_adapter::sniff(prefix, true, &limits);
            assert!(
                matches!(last, Err(SniffError::Truncated | SniffError::EmptyBody)),
                "{name} cut at {cut} as a whole message: {last:?}"
            );
        }
    }
}

#[test]
fn a_small_prefix_limit_refuses_the_header() {
    let Some(dir) = reference_dir() else { return };
    for (name, bytes) in reference_requests(&dir) {
        let consumed = envelope(&bytes).consumed;
        let tight = SniffLimits {
            max_prefix_bytes: consumed,
            ..SniffLimits::default()
        };
        assert!(
            matches!(
                vaxel_adapter::sniff(&bytes, true, &tight),
                Ok(SniffOutcome::Complete(_))
            ),
            "{name}"
        );
        let too_tight = SniffLimits {
            max_prefix_bytes: consumed - 1,
            ..SniffLimits::default()
        };
        for is_final in [true, false] {
            assert_eq!(
                vaxel_adapter::sniff(&bytes, is_final, &too_tight),
                Err(SniffError::HeaderTooLarge {
                    limit: consumed - 1
                }),
                "{name}"
            );
        }
    }
}
