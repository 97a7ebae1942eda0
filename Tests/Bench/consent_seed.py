#!/usr/bin/env python3
"""Subscribes people FIRST..LAST to email (marketing's SetConsent, evidence
"bench import"), 64 calls in flight on one connection, for the send part of
marketing_bench.sh. Uses the repository's Python client (sdk/python).

Usage: consent_seed.py FIRST LAST   (CRM_SOCKET names the socket)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "python"))
import crm  # noqa: E402
from crm.wire import field_bytes, field_varint  # noqa: E402

METHOD = "/crm.marketing.v1.Marketing/SetConsent"
CHANNEL_EMAIL = 1
SUBSCRIBED = 1
WINDOW = 64


def request(person_id: int) -> bytes:
    return (field_varint(1, person_id) + field_varint(2, CHANNEL_EMAIL) + field_varint(3, SUBSCRIBED)
            + field_bytes(4, "bench") + field_bytes(5, "bench import")
            + field_bytes(6, "bench-consent-%d" % person_id))


def main() -> int:
    first, last = int(sys.argv[1]), int(sys.argv[2])
    failed = 0
    with crm.connect() as conn:
        pending = []
        for person in range(first, last + 1):
            pending.append(conn.start_call(METHOD, request(person)))
            if len(pending) >= WINDOW:
                status, message, _ = pending.pop(0).result(60)
                if status != 0:
                    failed += 1
                    if failed <= 3:
                        print("SetConsent failed: %d %s" % (status, message), file=sys.stderr)
        for call in pending:
            status, message, _ = call.result(60)
            if status != 0:
                failed += 1
    print("consent: %d people subscribed, %d failed" % (last - first + 1 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
