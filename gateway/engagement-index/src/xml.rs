//! Responses and notifications the engagement index writes. Every document here MUST
//! validate against the service schemas (tests run xmllint with
//! `reference/validation/soap11-engagementindex.xsd`).

use vaxel_model::xml::xml_escape;

use vaxel_store::engagement::{Engagement, UpdatesPage};

pub(crate) const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const CORE_NS: &str = "urn:riv:itintegration:engagementindex:1";
pub(crate) const REGISTRY_NS: &str = "urn:riv:itintegration:registry:1";
pub(crate) const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

pub const UPDATE_NS: &str = "urn:riv:itintegration:engagementindex:UpdateResponder:1";
pub const FIND_CONTENT_NS: &str = "urn:riv:itintegration:engagementindex:FindContentResponder:1";
pub const PROCESS_NOTIFICATION_NS: &str =
    "urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1";
pub const GET_UPDATES_NS: &str = "urn:riv:itintegration:engagementindex:GetUpdatesResponder:1";

/// A SOAP 1.1 envelope around `body`, with an optional RIV-TA 2.1 LogicalAddress header.
fn envelope(logical_address: Option<&str>, body: &str) -> Vec<u8> {
    let header = match logical_address {
        Some(a) => format!(
            "<soapenv:Header><LogicalAddress xmlns=\"{REGISTRY_NS}\">{}</LogicalAddress></soapenv:Header>",
            xml_escape(a)
        ),
        None => "<soapenv:Header/>".to_string(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<soapenv:Envelope xmlns:soapenv=\"{SOAP_NS}\">{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )
    .into_bytes()
}

/// `UpdateResponse` / `ProcessNotificationResponse` with `ResultCode` OK.
pub(crate) fn result_ok(contract_ns: &str, response_element: &str) -> Vec<u8> {
    envelope(
        None,
        &format!(
            "<{response_element} xmlns=\"{contract_ns}\"><ResultCode>OK</ResultCode></{response_element}>"
        ),
    )
}

fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str("<ei:");
    out.push_str(name);
    out.push('>');
    out.push_str(&xml_escape(value));
    out.push_str("</ei:");
    out.push_str(name);
    out.push('>');
}

/// The children of an `EngagementType`, in schema order, prefix `ei` = [`CORE_NS`].
fn push_engagement_fields(out: &mut String, e: &Engagement) {
    push_field(
        out,
        "registeredResidentIdentification",
        e.registered_resident_identification.as_str(),
    );
    push_field(out, "serviceDomain", &e.service_domain);
    push_field(out, "categorization", &e.categorization);
    push_field(out, "logicalAddress", &e.logical_address);
    push_field(
        out,
        "businessObjectInstanceIdentifier",
        &e.business_object_instance_identifier,
    );
    push_field(
        out,
        "clinicalProcessInterestId",
        &e.clinical_process_interest_id,
    );
    if let Some(t) = e.most_recent_content {
        push_field(out, "mostRecentContent", &t.to_string());
    }
    push_field(out, "sourceSystem", &e.source_system);
    if let Some(t) = e.creation_time {
        push_field(out, "creationTime", &t.to_string());
    }
    if let Some(t) = e.update_time {
        push_field(out, "updateTime", &t.to_string());
    }
    push_field(out, "dataController", &e.data_controller);
    push_field(out, "owner", &e.owner);
}

/// `FindContentResponse` with the engagements.
pub(crate) fn find_content_response(engagements: &[Engagement]) -> Vec<u8> {
    let mut body = String::with_capacity(200 + engagements.len() * 700);
    body.push_str(&format!(
        "<FindContentResponse xmlns=\"{FIND_CONTENT_NS}\" xmlns:ei=\"{CORE_NS}\">"
    ));
    for e in engagements {
        body.push_str("<engagement>");
        push_engagement_fields(&mut body, e);
        body.push_str("</engagement>");
    }
    body.push_str("</FindContentResponse>");
    envelope(None, &body)
}

/// `GetUpdatesResponse`: residents with their engagements.
pub(crate) fn get_updates_response(page: &UpdatesPage) -> Vec<u8> {
    let mut body = format!(
        "<GetUpdatesResponse xmlns=\"{GET_UPDATES_NS}\" xmlns:ei=\"{CORE_NS}\"><responseIsComplete>{}</responseIsComplete>",
        page.complete
    );
    for (rri, engagements) in &page.residents {
        body.push_str("<registeredResidentEngagement><registeredResidentIdentification>");
        body.push_str(rri.as_str());
        body.push_str("</registeredResidentIdentification>");
        for e in engagements {
            body.push_str("<engagement>");
            push_engagement_fields(&mut body, e);
            body.push_str("</engagement>");
        }
        body.push_str("</registeredResidentEngagement>");
    }
    body.push_str("</GetUpdatesResponse>");
    envelope(None, &body)
}

/// A `ProcessNotification` request to `subscriber` with the given transactions.
pub(crate) fn process_notification<'a>(
    subscriber: &str,
    transactions: impl Iterator<Item = (bool, &'a Engagement)>,
) -> Vec<u8> {
    let mut body =
        format!("<ProcessNotification xmlns=\"{PROCESS_NOTIFICATION_NS}\" xmlns:ei=\"{CORE_NS}\">");
    for (delete, e) in transactions {
        body.push_str("<engagementTransaction><ei:deleteFlag>");
        body.push_str(if delete { "true" } else { "false" });
        body.push_str("</ei:deleteFlag><ei:engagement>");
        push_engagement_fields(&mut body, e);
        body.push_str("</ei:engagement></engagementTransaction>");
    }
    body.push_str("</ProcessNotification>");
    envelope(Some(subscriber), &body)
}
