"""Unary calls, errors that end one call, and several calls on one connection
(docs/PROTOCOL.md §6.1, §6.3, §7.1, §7.3, §7.6)."""

import struct
import time
from typing import Dict, Tuple

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import IO_TIMEOUT, KERNEL_SERVICES, decode_health, read_until, request


def test_health_check_serving(conn):
    status, message, payload = conn.call(crm.HEALTH_CHECK, crm.HealthCheckRequest().encode())
    assert status == StatusCode.OK, message
    health = decode_health(payload)
    assert health.status == crm.ServingStatus.SERVING
    by_name = {s.service: s for s in health.services}
    for name in KERNEL_SERVICES:
        assert name in by_name, "Health.Check lists every service; %s is missing" % name
        assert by_name[name].plugin == "kernel"
        assert by_name[name].status == crm.ServingStatus.SERVING


def test_health_check_one_service(conn):
    health = crm.health_check(conn, "crm.kernel.v1.Health")
    assert health.status == crm.ServingStatus.SERVING
    assert [(s.service, s.status, s.plugin) for s in health.services] == [
        ("crm.kernel.v1.Health", crm.ServingStatus.SERVING, "kernel")]


def test_health_check_unknown_service(conn):
    health = crm.health_check(conn, "no.such.v1.Service")
    assert health.status == crm.ServingStatus.SERVICE_UNKNOWN
    assert health.services == []


def test_unknown_method_is_unimplemented_and_connection_stays_usable(conn):
    status, message, payload = conn.call("/no.such.v1.Service/Nothing", b"")
    assert status == StatusCode.UNIMPLEMENTED
    assert payload == b""
    status, _, _ = conn.call("not even a method name", b"")
    assert status == StatusCode.UNIMPLEMENTED
    assert crm.health_check(conn).status == crm.ServingStatus.SERVING


def test_undecodable_request_is_invalid_argument(conn):
    # field 1, length-delimited, claims 5 bytes but carries 2
    status, _, payload = conn.call(crm.HEALTH_CHECK, b"\x0a\x05ab")
    assert status == StatusCode.INVALID_ARGUMENT
    assert payload == b""
    assert crm.health_check(conn).status == crm.ServingStatus.SERVING


def test_metadata_and_timeout_are_accepted(conn):
    status, message, payload = conn.call(crm.HEALTH_CHECK, b"", metadata=[("x-request-id", "abc"), ("x-note", "héllo")],
                                         timeout_s=5.0)
    assert status == StatusCode.OK, message
    assert decode_health(payload).status == crm.ServingStatus.SERVING


def test_unknown_frame_header_fields_are_ignored(conn):
    header = FrameHeader(call_id=1, kind=FrameKind.REQUEST, method=crm.HEALTH_CHECK).encode()
    header += crm.field_bytes(15, "from the future") + crm.field_varint(16, 7)
    conn.sock.sendall(struct.pack(">II", len(header), 0) + header)
    header, payload = conn.recv_frame(IO_TIMEOUT)
    assert (header.kind, header.call_id, header.status) == (FrameKind.RESPONSE, 1, StatusCode.OK)


def test_eight_concurrent_health_checks_on_one_connection(conn):
    ids = [3, 1, 8, 100, 7, 2 ** 40, 5, 2 ** 64 - 1]
    conn.sock.sendall(b"".join(request(i, crm.HEALTH_CHECK) for i in ids))
    answers: Dict[int, Tuple[FrameHeader, bytes]] = {}
    deadline = time.monotonic() + IO_TIMEOUT
    while len(answers) < len(ids):
        header, payload = conn.recv_frame(max(0.001, deadline - time.monotonic()))
        assert header.kind == FrameKind.RESPONSE, header.describe()
        assert header.call_id in ids, "RESPONSE for a call_id never used: %d" % header.call_id
        assert header.call_id not in answers, "two RESPONSEs for call %d" % header.call_id
        answers[header.call_id] = (header, payload)
    for header, payload in answers.values():
        assert header.status == StatusCode.OK, header.describe()
        assert decode_health(payload).status == crm.ServingStatus.SERVING


def test_client_library_keeps_frames_of_other_calls(conn):
    calls = [conn.start_call(crm.HEALTH_CHECK, crm.HealthCheckRequest().encode()) for _ in range(8)]
    assert len({c.call_id for c in calls}) == 8
    for call in reversed(calls):
        status, message, payload = call.result(IO_TIMEOUT)
        assert status == StatusCode.OK, message
        assert decode_health(payload).status == crm.ServingStatus.SERVING
    assert conn.in_flight == 0


def test_call_ids_may_be_reused_after_the_response(conn):
    for _ in range(3):
        conn.sock.sendall(request(42, crm.HEALTH_CHECK))
        (header, _), = read_until(conn, lambda h, p: h.kind == FrameKind.RESPONSE)
        assert (header.call_id, header.status) == (42, StatusCode.OK)
