#!/usr/bin/env python3
"""Independent verifier of the vaxel PDL access log (specs/access-log.md, section 3).

Written from the spec alone, with no vaxel code: SQLite + SHA-256. It checks the chain;
for the full set of checks (canonical form, index columns) use `vaxel pdl-verify`. The
entry bytes are hashed as stored, whatever their canonical version (1, or 2 with a
user role; section 2), so entries of both versions verify here alike.

    python3 specs/access-log-verify.py vaxel-data/vaxel.db [SEQ:HASH]

Exit 0 and print the head when intact; exit 1 and name the first broken seq otherwise.
"""
import hashlib
import sqlite3
import struct
import sys


def main() -> int:
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    expect = None
    if len(sys.argv) > 2:
        seq, digest = sys.argv[2].split(":")
        expect = (int(seq), bytes.fromhex(digest))
    prev, expected_seq, seen = bytes(32), 1, {0: bytes(32)}
    for seq, entry, prev_hash, stored in db.execute(
        "SELECT seq, entry, prev_hash, hash FROM access_log ORDER BY seq"
    ):
        if seq != expected_seq:
            print(f"BROKEN at seq {expected_seq}: missing (next stored is {seq})")
            return 1
        if prev_hash != prev:
            print(f"BROKEN at seq {seq}: prev_hash is not the hash of entry {seq - 1}")
            return 1
        computed = hashlib.sha256(prev + struct.pack(">Q", seq) + entry).digest()
        if computed != stored:
            print(f"BROKEN at seq {seq}: hash mismatch")
            return 1
        prev, expected_seq = stored, expected_seq + 1
        if expect and seq == expect[0]:
            seen[seq] = stored
    head = expected_seq - 1
    if expect and seen.get(expect[0]) != expect[1]:
        print(f"BROKEN: recorded head {expect[0]} missing or different (log ends at {head})")
        return 1
    print(f"intact: {head} entries, head {head}:{prev.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
