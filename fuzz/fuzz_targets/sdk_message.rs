//! Fuzz target for everything a partner gateway or an organisation's system can send us
//! in SDK messaging: the message validator and parser, the XHE envelope reader, the
//! receipt reader and the delivery envelope reader (`vaxel_sdk_message`,
//! `vaxel_sdk::transport`).
//!
//! Properties checked on every input, besides "never panics":
//! * What `validate` accepts, `Message::parse` accepts too and reads the same ids.
//! * A valid message written out again (`to_xml`) validates again and reads back equal:
//!   the gateway never produces a message its own receiver would reject.
//! * What an independent conforming XML parser (roxmltree) refuses, `validate` refuses.
//! * A receipt that parses, written again, parses to the same receipt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxel_sdk_message::message::Message;
use vaxel_sdk_message::receipt::Receipt;
use vaxel_sdk_message::{validate, xhe};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = validate::validate(data) {
        if let Ok(text) = std::str::from_utf8(data) {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            assert!(
                roxmltree::Document::parse(text).is_ok(),
                "validate accepted what a conforming XML parser refuses"
            );
        }
        let parsed = Message::parse(data).expect("a valid message parses");
        assert_eq!(parsed.header.message_id, m.header.message_id);
        let again = m.to_xml();
        let m2 = validate::validate(&again).expect("a valid message written out validates");
        assert_eq!(m2, m, "a valid message reads back equal");
    }
    let _ = Message::parse(data);
    if let Ok(x) = xhe::parse(data) {
        assert!(x.payload.start <= x.payload.end && x.payload.end <= data.len());
    }
    if let Ok(r) = Receipt::parse(data) {
        let again = Receipt::parse(&r.to_xml()).expect("a receipt written out parses");
        assert_eq!(again.document_reference, r.document_reference);
        assert_eq!(again.is_accepted(), r.is_accepted());
    }
    let _ = vaxel_sdk::transport::Delivery::parse(data);
});
