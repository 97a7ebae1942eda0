#!/usr/bin/env python3
"""Seeds the account roll-up figure of b2b_rollup_bench.sh on a fresh crmd:
ORGS organizations in one tree (organization 1 the group, 10 regions under
it, the rest spread under the regions) and DEALS opportunities spread over
them, EUR and USD, every tenth won. 64 calls in flight on one connection,
through the repository's Python client (sdk/python).

Usage: b2b_rollup_seed.py ORGS DEALS   (CRM_SOCKET names the socket)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "python"))
import crm  # noqa: E402
from crm.wire import field_bytes, field_message, field_varint  # noqa: E402

WINDOW = 64


def run(conn, method, requests):
    failed = 0
    pending = []

    def settle(call):
        nonlocal failed
        status, message, _ = call.result(120)
        if status != 0:
            failed += 1
            if failed <= 3:
                print("%s failed: %d %s" % (method, status, message), file=sys.stderr)

    for request in requests:
        pending.append(conn.start_call(method, request))
        if len(pending) >= WINDOW:
            settle(pending.pop(0))
    for call in pending:
        settle(call)
    return failed


def organization(name, parent):
    body = field_bytes(2, name) + (field_varint(17, parent) if parent else b"")
    return field_message(1, body)


def opportunity(i, orgs):
    money = field_varint(1, 1000 + (i * 7919) % 1000000) + field_bytes(2, "EUR" if i % 3 else "USD")
    body = field_bytes(2, "Deal %d" % i) + field_message(8, money) + field_varint(12, 1 + i % orgs)
    return field_message(1, body)


def main() -> int:
    orgs, deals = int(sys.argv[1]), int(sys.argv[2])
    contacts = "/crm.contacts.v1.Contacts/CreateOrganization"
    with crm.connect() as conn:
        failed = run(conn, contacts, [organization("Group", 0)])
        failed += run(conn, contacts, [organization("Region %d" % r, 1) for r in range(2, 12)])
        failed += run(conn, contacts, [organization("Company %d" % i, 2 + i % 10) for i in range(12, orgs + 1)])
        failed += run(conn, "/crm.sales.v1.Sales/CreateOpportunity", (opportunity(i, orgs) for i in range(deals)))
        failed += run(conn, "/crm.sales.v1.Sales/WinOpportunity", (field_varint(1, i) for i in range(1, deals + 1, 10)))
    print("seeded %d organizations, %d opportunities, %d failed" % (orgs, deals, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
