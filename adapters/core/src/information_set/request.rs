//! Requests the gateway writes itself: the citizen's overview asks every source for all of
//! a patient's records of one information set ([`super::InformationSet::overview_request`]).
//!
//! RIV-TA 2.1 (RIVTABP21): a SOAP 1.1 envelope whose `Header` holds the receiver's
//! `LogicalAddress` (`urn:riv:itintegration:registry:1`); the `Body` holds the request
//! element in the contract namespace. Every RIV-TA schema is `elementFormDefault=
//! "qualified"`: the request's own elements are in the contract namespace (bound to `q`),
//! the content of its complex types (`PersonIdType`, `IIType`) in the domain's core
//! namespace (bound to `c`).

use std::borrow::Cow;

use super::parse::SOAP11_NAMESPACE;
use super::InformationSetDescriptor;

/// Namespace of the RIV-TA 2.1 `LogicalAddress` header.
pub const REGISTRY_NAMESPACE: &str = "urn:riv:itintegration:registry:1";

/// Skatteverket's OID for a personal identity number (personnummer), the `type` of a
/// `PersonIdType` (the TKBs: "För personnummer ska Skatteverkets OID för personnummer
/// (1.2.752.129.2.1.3.1) användas").
pub const PERSONAL_IDENTITY_NUMBER_OID: &str = "1.2.752.129.2.1.3.1";

/// Skatteverket's OID for a coordination number (samordningsnummer: the day of birth
/// plus 60), "För samordningsnummer ska Skatteverkets OID för samordningsnummer
/// (1.2.752.129.2.1.3.3) användas".
pub const COORDINATION_NUMBER_OID: &str = "1.2.752.129.2.1.3.3";

/// The OID that types `patient_id` (12 characters, `yyyyMMddnnnc`, separators `-`/`+`
/// ignored): a personal identity number (a valid month, day 01–31) or a coordination
/// number (day 61–91). `None` for anything else, a reserve number (reservnummer)
/// included: those are issued by a care giver under an OID of its own (the TKBs: "lokalt
/// definierade OID'ar för reservnummer"), which the gateway does not know; a request
/// must not claim it is a personal identity number.
pub fn patient_id_type(patient_id: &str) -> Option<&'static str> {
    let id = normalise_patient_id(patient_id);
    let bytes = id.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
    };
    let (century, month, day) = (number(0..2), number(4..6), number(6..8));
    if !(18..=20).contains(&century) || !(1..=12).contains(&month) {
        return None;
    }
    match day {
        1..=31 => Some(PERSONAL_IDENTITY_NUMBER_OID),
        61..=91 => Some(COORDINATION_NUMBER_OID),
        _ => None,
    }
}

/// The id as the TKBs want it: "anges med 12 tecken utan avskiljare" (white space and
/// the separators `-` and `+` removed).
pub fn normalise_patient_id(patient_id: &str) -> Cow<'_, str> {
    if patient_id
        .bytes()
        .any(|b| matches!(b, b'-' | b'+') || b.is_ascii_whitespace())
    {
        Cow::Owned(
            patient_id
                .chars()
                .filter(|c| !matches!(c, '-' | '+') && !c.is_ascii_whitespace())
                .collect(),
        )
    } else {
        Cow::Borrowed(patient_id)
    }
}

/// `text` escaped for element content (and for attribute values in double quotes).
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A whole RIV-TA 2.1 request envelope for `descriptor`'s contract, addressed to
/// `logical_address`: `content` (escaped XML, the request element's children) inside
/// `<q:{request_element}>`, with `q` bound to the contract namespace and `c` to the core
/// namespace on the request element.
pub fn request_envelope(
    descriptor: &InformationSetDescriptor,
    logical_address: &str,
    content: &str,
) -> Vec<u8> {
    let request = descriptor.request_element;
    let mut out = String::with_capacity(512 + content.len());
    for part in [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"",
        SOAP11_NAMESPACE,
        "\"><soap:Header><LogicalAddress xmlns=\"",
        REGISTRY_NAMESPACE,
        "\">",
        &escape_text(logical_address),
        "</LogicalAddress></soap:Header><soap:Body><q:",
        request,
        " xmlns:q=\"",
        &escape_text(descriptor.contract_namespace),
        "\" xmlns:c=\"",
        &escape_text(descriptor.core_namespace),
        "\">",
        content,
        "</q:",
        request,
        "></soap:Body></soap:Envelope>\n",
    ] {
        out.push_str(part);
    }
    out.into_bytes()
}

/// [`super::InformationSet::overview_request`] for any descriptor: the patient at the
/// descriptor's request path and nothing else. The path's first element is the request's
/// own (contract namespace), the others the core namespace's; its last element says how
/// the id is typed: `id` (`PersonIdType`: `id`, then `type`), `extension` (`IIType`:
/// `root`, then `extension`), anything else a bare id.
pub(crate) fn write_overview_request(
    descriptor: &InformationSetDescriptor,
    patient_id: &str,
    logical_address: &str,
) -> Vec<u8> {
    let id = normalise_patient_id(patient_id);
    let kind = patient_id_type(&id).unwrap_or("");
    let path = descriptor.request.patient_id;
    let mut content = String::with_capacity(256);
    let Some((last, parents)) = path.split_last() else {
        return request_envelope(descriptor, logical_address, "");
    };
    let prefix = |depth: usize| if depth == 0 { "q:" } else { "c:" };
    for (depth, name) in parents.iter().enumerate() {
        for part in ["<", prefix(depth), name, ">"] {
            content.push_str(part);
        }
    }
    let p = prefix(parents.len());
    let id = escape_text(&id);
    let leaf = |content: &mut String, name: &str, text: &str| {
        for part in ["<", p, name, ">", text, "</", p, name, ">"] {
            content.push_str(part);
        }
    };
    match *last {
        "id" => {
            leaf(&mut content, "id", &id);
            leaf(&mut content, "type", kind);
        }
        "extension" => {
            leaf(&mut content, "root", kind);
            leaf(&mut content, "extension", &id);
        }
        other => leaf(&mut content, other, &id),
    }
    for (depth, name) in parents.iter().enumerate().rev() {
        for part in ["</", prefix(depth), name, ">"] {
            content.push_str(part);
        }
    }
    request_envelope(descriptor, logical_address, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_ids_are_typed_by_kind() {
        assert_eq!(
            patient_id_type("191212121212"),
            Some(PERSONAL_IDENTITY_NUMBER_OID)
        );
        assert_eq!(
            patient_id_type("19121212-1212"),
            Some(PERSONAL_IDENTITY_NUMBER_OID)
        );
        // Day of birth plus 60.
        assert_eq!(
            patient_id_type("197010632391"),
            Some(COORDINATION_NUMBER_OID)
        );
        assert_eq!(
            patient_id_type("197010912391"),
            Some(COORDINATION_NUMBER_OID)
        );
        // Reserve numbers and anything else: no national type.
        for other in [
            "19121212T123",
            "991212121212",
            "191213121212",
            "191212321212",
            "191212601212",
            "19121212121",
            "",
        ] {
            assert_eq!(patient_id_type(other), None, "{other}");
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("SE2321000016-1"), "SE2321000016-1");
        assert!(matches!(escape_text("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_text("a<b & \"c\">"),
            "a&lt;b &amp; &quot;c&quot;&gt;"
        );
    }

    #[test]
    fn the_overview_request_names_only_the_patient() {
        let d = crate::information_set::parse::tests::descriptor();
        let xml = String::from_utf8(write_overview_request(
            d,
            "19121212-1212",
            "SE2321000016-A&B",
        ))
        .unwrap();
        assert!(xml.contains(
            "<LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">SE2321000016-A&amp;B</LogicalAddress>"
        ));
        assert!(xml.contains(
            "<q:GetVisits xmlns:q=\"urn:example:GetVisitsResponder:1\" xmlns:c=\"urn:example:visits:1\">\
<q:patientId><c:id>191212121212</c:id><c:type>1.2.752.129.2.1.3.1</c:type></q:patientId></q:GetVisits>"
        ));
        // The request reads back as the patient's, with no filter.
        let query = crate::information_set::parse::parse_request(d, xml.as_bytes()).unwrap();
        assert_eq!(
            query,
            crate::QueryRequest {
                patient_id: "191212121212".into(),
                ..Default::default()
            }
        );
        // A reserve number is not claimed to be a personal identity number.
        let xml = String::from_utf8(write_overview_request(d, "19121212T123", "x")).unwrap();
        assert!(
            xml.contains("<c:id>19121212T123</c:id><c:type></c:type>"),
            "{xml}"
        );
    }
}
