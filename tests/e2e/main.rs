//! End-to-end tests: start the real binary and real TLS peers.
