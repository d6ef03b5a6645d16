//! The Update generator shared by benches/ei and benches/cluster: 1000-transaction
//! Updates, 10 engagements per resident, every Update new residents.

use bytes::Bytes;
use vaxel_engagement_index::xml::UPDATE_NS;

pub const BATCH: usize = 1000;
/// Engagements per resident (service domains × source systems).
pub const PER_RESIDENT: usize = 10;
pub const DOMAINS: [&str; 2] = [
    "riv:clinicalprocess:healthcond:description",
    "riv:clinicalprocess:activityprescription:actoutcome",
];

pub fn resident(i: usize) -> String {
    format!("19{:010}", i)
}

pub fn update(first: usize, owner: &str) -> Bytes {
    let mut s = String::with_capacity(BATCH * 900);
    s.push_str("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:c=\"urn:riv:itintegration:engagementindex:1\"><s:Header><LogicalAddress xmlns=\"urn:riv:itintegration:registry:1\">");
    s.push_str(owner);
    s.push_str("</LogicalAddress></s:Header><s:Body><u:Update xmlns:u=\"");
    s.push_str(UPDATE_NS);
    s.push_str("\">");
    for n in first..first + BATCH {
        let r = resident(n / PER_RESIDENT);
        let domain = DOMAINS[n % 2];
        let source = n % PER_RESIDENT;
        s.push_str(&format!(
            "<u:engagementTransaction><c:deleteFlag>false</c:deleteFlag><c:engagement>\
<c:registeredResidentIdentification>{r}</c:registeredResidentIdentification>\
<c:serviceDomain>{domain}</c:serviceDomain><c:categorization>voo</c:categorization>\
<c:logicalAddress>SE2321000016-{source:04}</c:logicalAddress>\
<c:businessObjectInstanceIdentifier>NA</c:businessObjectInstanceIdentifier>\
<c:clinicalProcessInterestId>NA</c:clinicalProcessInterestId>\
<c:mostRecentContent>20240101120000</c:mostRecentContent>\
<c:sourceSystem>SE2321000016-SRC{source:04}</c:sourceSystem>\
<c:dataController>SE2321000016-DC</c:dataController></c:engagement></u:engagementTransaction>"
        ));
    }
    s.push_str("</u:Update></s:Body></s:Envelope>");
    Bytes::from(s)
}
