#!/usr/bin/env bash
# Generates the vaxel demo PKI into certs-example/out (see README.md next to this file).
# Existing files are kept unless one is missing or expired; pass --force to regenerate.
# FOR DEMOS AND TESTS ONLY: the keys it writes are never to be committed or trusted.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
exec cargo run --release -q -p vaxel -- certs --out "$here/out" "$@"
