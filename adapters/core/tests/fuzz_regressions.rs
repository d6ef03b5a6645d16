//! The fuzz target's properties (fuzz/fuzz_targets/sniff.rs), replayed by `cargo test`
//! over the committed seed corpus, and every input that once broke them kept as a named
//! test (CONVENTIONS.md: a crash found by fuzzing is fixed and kept as a test).
use std::path::PathBuf;

use vaxel_adapter::{sniff, SniffError, SniffLimits, SniffOutcome};

const LIMITS: SniffLimits = SniffLimits {
    max_depth: 24,
    max_prefix_bytes: 8 * 1024,
};

/// Same checks as the fuzz target, with every prefix instead of random ones.
fn check_properties(data: &[u8]) {
    let whole_final = sniff(data, true, &LIMITS);
    let whole_open = sniff(data, false, &LIMITS);
    match &whole_open {
        Ok(SniffOutcome::NeedMore) => assert!(
            matches!(
                whole_final,
                Err(SniffError::Truncated | SniffError::EmptyBody)
            ),
            "NeedMore when open but {whole_final:?} when final"
        ),
        Err(SniffError::HeaderTooLarge { .. }) if data.len() == LIMITS.max_prefix_bytes => {}
        open => assert_eq!(open, &whole_final, "answer depends on is_final"),
    }
    if let Ok(SniffOutcome::Complete(env)) = &whole_final {
        assert_eq!(data[env.consumed - 1], b'>');
        if let Some(address) = &env.address {
            assert_eq!(data[address.span.start], b'<');
            assert_eq!(data[address.span.end - 1], b'>');
            assert!(address.span.end <= env.consumed);
        }
    }
    for cut in 0..data.len().min(LIMITS.max_prefix_bytes + 1) {
        match sniff(&data[..cut], false, &LIMITS) {
            Ok(SniffOutcome::NeedMore) => {}
            decided => {
                assert_eq!(
                    decided, whole_open,
                    "prefix of {cut} bytes decided differently"
                );
                break;
            }
        }
    }
}

#[test]
fn committed_seed_corpus_holds_the_fuzz_properties() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sniff");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // generated-* are local copies of the reference messages (not committed).
        if name.starts_with("generated-") || !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check_properties(&data));
        assert!(result.is_ok(), "fuzz property broken by seed {name}");
        seen += 1;
    }
    assert!(
        seen >= 10,
        "expected the hand-written seeds in {}, found {seen}",
        dir.display()
    );
}

/// Found by the chunked reference test (GetPatientInfoApSe.xml cut after `<!` of a
/// comment): quick-xml reports `<!` at the end of input as invalid markup, not as
/// unclosed, and does not advance its position, so the sniffer answered Malformed
/// instead of NeedMore.
#[test]
fn bang_at_the_end_of_a_prefix_needs_more() {
    let prefix =
        b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header><!";
    assert_eq!(sniff(prefix, false, &LIMITS), Ok(SniffOutcome::NeedMore));
    assert_eq!(sniff(prefix, true, &LIMITS), Err(SniffError::Truncated));
    check_properties(prefix);
}

/// A message cut inside the first Body child's start tag is truncated, not an empty
/// Body: the child is on its way.
#[test]
fn cut_inside_the_body_child_tag_is_truncated_not_empty() {
    let prefix = b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><c:Call xmlns:c=\"urn";
    assert_eq!(sniff(prefix, true, &LIMITS), Err(SniffError::Truncated));
    check_properties(prefix);
}

/// `<!-x -->` is closed by `-->` but is no comment; quick-xml calls it an unclosed
/// comment. It must be Malformed at once, not "wait for the comment to end".
#[test]
fn bogus_comment_is_malformed_not_incomplete() {
    let data = b"<!-x --><a/>";
    assert!(matches!(
        sniff(data, false, &LIMITS),
        Err(SniffError::Malformed { position: 0, .. })
    ));
    check_properties(data);
}

/// A CR directly before an entity reference is still a line end (XML 1.0 §2.11); found
/// by the DOM property test, where roxmltree 0.20 keeps the CR.
#[test]
fn cr_before_entity_in_address_is_a_line_end() {
    let data = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><To xmlns=\"http://www.w3.org/2005/08/addressing\">A\r&amp;B</To></s:Header><s:Body><c:C xmlns:c=\"urn:c\"/></s:Body></s:Envelope>";
    let Ok(SniffOutcome::Complete(env)) = sniff(data.as_bytes(), true, &LIMITS) else {
        panic!()
    };
    assert_eq!(env.address.unwrap().value, "A\n&B");
}
