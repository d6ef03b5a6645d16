//! Fuzz target for the envelope sniffer (`vaxel_adapter::sniff`).
//!
//! Properties checked on every input, besides "never panics":
//! * The answer for the whole input does not depend on `is_final`, except that
//!   "need more bytes" becomes `Truncated`/`EmptyBody` when nothing more can come.
//! * Fed as a growing prefix in random pieces (as the gateway does while body frames
//!   arrive), every prefix answers `NeedMore` or exactly the whole input's answer.
//! * A routing decision points into the input: `consumed` ends on the `>` of a start
//!   tag and the address span is a `<...>` element before it.
#![no_main]

mod common;

use common::Rng;
use libfuzzer_sys::fuzz_target;
use vaxel_adapter::{sniff, SniffError, SniffLimits, SniffOutcome};

/// Small limits so that the depth and size limits are reached by fuzzed inputs too.
const LIMITS: SniffLimits = SniffLimits {
    max_depth: 24,
    max_prefix_bytes: 8 * 1024,
};

fuzz_target!(|data: &[u8]| {
    let whole_final = sniff(data, true, &LIMITS);
    let whole_open = sniff(data, false, &LIMITS);
    let _ = sniff(data, true, &SniffLimits::default());

    match &whole_open {
        Ok(SniffOutcome::NeedMore) => assert!(
            matches!(
                whole_final,
                Err(SniffError::Truncated | SniffError::EmptyBody)
            ),
            "NeedMore when open but {whole_final:?} when final"
        ),
        // A non-final input exactly at the limit cannot decide within it; as the whole
        // message it may still end in Truncated/EmptyBody instead.
        Err(SniffError::HeaderTooLarge { .. }) if data.len() == LIMITS.max_prefix_bytes => {}
        open => assert_eq!(open, &whole_final, "answer depends on is_final"),
    }

    if let Ok(SniffOutcome::Complete(env)) = &whole_final {
        assert!(env.consumed >= 1 && env.consumed <= data.len().min(LIMITS.max_prefix_bytes));
        assert_eq!(data[env.consumed - 1], b'>');
        if let Some(address) = &env.address {
            let span = address.span.clone();
            assert!(
                span.start < span.end && span.end <= env.consumed,
                "{span:?}"
            );
            assert_eq!(data[span.start], b'<');
            assert_eq!(data[span.end - 1], b'>');
        }
    }

    // Growing prefixes, cut at pseudo-random points derived from the input itself so
    // that a crash reproduces from the input file alone.
    let mut rng = Rng::new(data);
    let mut cuts: Vec<usize> = (0..rng.below(16) + 1)
        .map(|_| rng.below(data.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        if cut == data.len() {
            break;
        }
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
});
