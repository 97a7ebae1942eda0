#!/usr/bin/env python3
"""Ledger postings per second through crmd, each with a fresh idempotency key.

    loyalty_postings.py SOCKET METHOD ACCOUNT_FIELD ACCOUNT_ID IN_FLIGHT SECONDS [CONNECTIONS]

crmctl bench cycles through 1,024 request variants, so every call after the
first 1,024 would be a retry answered from its key, not a posting: this
driver (the repository's own Python client, sdk/python) sends one new key
per call, keeping IN_FLIGHT calls outstanding on each of CONNECTIONS
connections (one thread each), for SECONDS after a one-second warm-up.
Prints calls/s, the failures by status, and p50/p99 latency.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "python"))
import crm  # noqa: E402
from crm.wire import field_bytes, field_varint  # noqa: E402


def request(account_field: int, account: int, amount_field: int, key_field: int, key: str) -> bytes:
    return field_varint(account_field, account) + field_varint(amount_field, 1) + field_bytes(key_field, key)


def lane(path, method, fields, account, in_flight, seconds, prefix, out):
    conn = crm.connect(path)
    sent = ok = 0
    failed = {}
    latencies = []
    pending = []
    start = time.monotonic()
    measure_from = start + 1.0
    stop = measure_from + seconds
    while True:
        now = time.monotonic()
        while now < stop and len(pending) < in_flight:
            sent += 1
            call = conn.start_call(method, request(fields[0], account, fields[1], fields[2], "%s-%d" % (prefix, sent)))
            pending.append((call, time.monotonic()))
        if not pending:
            break
        call, began = pending.pop(0)
        status, message, _ = call.result(30)
        done = time.monotonic()
        if began >= measure_from and done <= stop:
            if status == 0:
                ok += 1
                latencies.append(done - began)
            else:
                failed[message[:80]] = failed.get(message[:80], 0) + 1
    conn.close()
    out.append((ok, failed, latencies))


def main():
    path, method, field_name, account = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    in_flight, seconds = int(sys.argv[5]), float(sys.argv[6])
    connections = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    # (account field, amount field, key field) of PointsRequest and GiftCardAmountRequest.
    fields = {"account_id": (1, 2, 4), "card_id": (1, 3, 5)}[field_name]
    out = []
    run = "%d" % time.time_ns()
    threads = [threading.Thread(target=lane, args=(path, method, fields, account, in_flight, seconds, "%s-%d" % (run, i), out))
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(o[0] for o in out)
    latencies = sorted(l for o in out for l in o[2])
    failed = {}
    for o in out:
        for k, v in o[1].items():
            failed[k] = failed.get(k, 0) + v
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
    print("%s, %d x %d in flight: %.0f postings/s over %.0f s (p50 %.2f ms, p99 %.2f ms)%s" % (
        method.rsplit("/", 1)[-1], connections, in_flight, ok / seconds, seconds, p(0.5), p(0.99),
        "; failed: %s" % failed if failed else ""))


if __name__ == "__main__":
    main()
