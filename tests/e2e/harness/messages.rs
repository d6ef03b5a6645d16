//! The suite's vocabulary (contracts, logical addresses, the test patient) and the
//! small SOAP requests the tests write themselves.

/// Contracts (namespace of the first Body child) of the reference samples.
pub const SCHEDULE: &str = "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1";
pub const PING: &str = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1";
pub const CARE_DOC: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";
pub const DIAGNOSIS: &str =
    "urn:riv:clinicalprocess:healthcond:description:GetDiagnosisResponder:2";
pub const PROCESS_NOTIFICATION: &str =
    "urn:riv:itintegration:engagementindex:ProcessNotificationResponder:1";

/// Logical addresses used by the standard table.
pub const CARE_PROVIDER: &str = "SE2321000016-DEMO";
pub const CARE_UNIT: &str = "SE2321000016-DEMO-UNIT1";
pub const PATIENT: &str = "191212121212";

/// A RIV-TA 2.1 request (LogicalAddress header) for `contract` at `address`.
pub fn rivta21(contract: &str, address: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap:Header><la:LogicalAddress xmlns:la=\"urn:riv:itintegration:registry:1\">{address}</la:LogicalAddress></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{contract}\"><c:patient>{PATIENT}</c:patient></c:Request></soap:Body>\
</soap:Envelope>\n"
    )
    .into_bytes()
}

/// A RIV-TA 2.0 request (wsa:To header) for `contract` at `address`.
pub fn rivta20(contract: &str, address: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">\
<soap:Header><wsa:To>{address}</wsa:To></soap:Header>\
<soap:Body><c:Request xmlns:c=\"{contract}\"><c:patient>{PATIENT}</c:patient></c:Request></soap:Body>\
</soap:Envelope>\n"
    )
    .into_bytes()
}

/// FNV-1a 64 as the demo producer reports it in `x-demo-body-fnv`.
pub fn fnv_hex(data: &[u8]) -> String {
    format!("{:016x}", vaxel::demo_producer::fnv1a64(data))
}
