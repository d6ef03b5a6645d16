#!/usr/bin/env bash
# Copies the national platform's reference XML messages into the sniff corpus as
# fuzz/corpus/sniff/generated-<name>, and the NPÖ requests (template variables
# substituted) into the record_parser corpus as fuzz/corpus/record_parser/generated-<name>.
# These copies are git-ignored
# (/fuzz/corpus/*/generated-*): the reference files are read, never committed here.
#
# usage: fuzz/seed-from-reference.sh [reference-dir]   (default: ../shared/reference
#        relative to the repository root)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="${1:-$root/../shared/reference}"
corpus="$root/fuzz/corpus/sniff"

if [ ! -d "$ref" ]; then
    echo "skipping: reference folder not found at $ref" >&2
    exit 0
fi

mkdir -p "$corpus"
count=0
while IFS= read -r -d '' file; do
    rel="${file#"$ref"/}"
    cp "$file" "$corpus/generated-${rel//\//_}"
    count=$((count + 1))
done < <(find "$ref" -type f -name '*.xml' -print0)
echo "copied $count reference files into $corpus (as generated-*)"

# record_parser reads whole requests and responses: the NPÖ journal queries, with the
# load-test template variables replaced so that the patient id is found.
records="$root/fuzz/corpus/record_parser"
mkdir -p "$records"
count=0
if [ -d "$ref/riv-ta/npo-requests" ]; then
    while IFS= read -r -d '' file; do
        sed -e 's/\${patientId1}/191212121212/g' -e 's/\${logicalAddress}/SE2321000016-A1B2/g' \
            "$file" >"$records/generated-npo-$(basename "$file")"
        count=$((count + 1))
    done < <(find "$ref/riv-ta/npo-requests" -type f -name 'Get*.xml' -print0)
fi
echo "copied $count NPÖ requests into $records (as generated-*)"

# sdk_message reads SDK messages, XHE envelopes, receipts and delivery envelopes: every
# XML file of the reference sdk folder.
sdk="$root/fuzz/corpus/sdk_message"
mkdir -p "$sdk"
count=0
if [ -d "$ref/sdk" ]; then
    while IFS= read -r -d '' file; do
        rel="${file#"$ref"/sdk/}"
        cp "$file" "$sdk/generated-${rel//\//_}"
        count=$((count + 1))
    done < <(find "$ref/sdk" -type f -name '*.xml' -print0)
fi
echo "copied $count SDK reference files into $sdk (as generated-*)"
