"""Unary calls to the conformance probe plugin: the call context a handler
sees, deadlines, cancellation, ordering and statuses (docs/PROTOCOL.md §3,
§6.4, §7.3–§7.6)."""

import os
import time

import pytest

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import IO_TIMEOUT
from probe_messages import PROBE, EchoRequest, EchoResponse, FailRequest, SleepRequest


def test_probe_echo_sees_peer_credentials_metadata_and_deadline(conn, probe):
    before = time.time()
    status, message, payload = conn.call(PROBE + "Echo", EchoRequest(b"\x00hi\xff").encode(),
                                         metadata=[("x-trace", "t-1"), ("lang", "ünï")], timeout_s=30)
    assert status == StatusCode.OK, message
    echo = EchoResponse.decode(payload)
    assert echo.payload == b"\x00hi\xff"
    assert echo.method == PROBE + "Echo"
    assert (echo.caller_uid, echo.caller_gid, echo.caller_pid) == (os.geteuid(), os.getegid(), os.getpid())
    assert {(e.key, e.value) for e in echo.metadata} >= {("x-trace", "t-1"), ("lang", "ünï")}
    assert before * 1e6 + 29e6 <= echo.deadline_unix_us <= time.time() * 1e6 + 31e6


def test_probe_no_timeout_means_no_deadline(conn, probe):
    status, message, payload = conn.call(PROBE + "Echo", EchoRequest(b"").encode())
    assert status == StatusCode.OK, message
    assert EchoResponse.decode(payload).deadline_unix_us == 0


def test_probe_deadline_exceeded(conn, probe):
    started = time.monotonic()
    status, _, payload = conn.call(PROBE + "Sleep", SleepRequest(millis=5000).encode(), timeout_s=0.2)
    assert status == StatusCode.DEADLINE_EXCEEDED
    assert payload == b""
    assert time.monotonic() - started < 3


def test_probe_cancel(conn, probe):
    call = conn.start_call(PROBE + "Sleep", SleepRequest(millis=5000).encode())
    time.sleep(0.1)
    started = time.monotonic()
    call.cancel()
    status, _, payload = call.result(IO_TIMEOUT)
    assert status == StatusCode.CANCELLED
    assert payload == b""
    assert time.monotonic() - started < 3


def test_probe_responses_arrive_in_any_order(conn, probe):
    slow_call = conn.start_call(PROBE + "Sleep", SleepRequest(millis=500).encode())
    fast_call = conn.start_call(crm.HEALTH_CHECK)
    header, _ = conn.process_one(IO_TIMEOUT)
    assert (header.kind, header.call_id) == (FrameKind.RESPONSE, fast_call.call_id)
    assert slow_call.result(IO_TIMEOUT)[0] == StatusCode.OK


def test_probe_status_and_message_reach_the_client(conn, probe):
    status, message, payload = conn.call(PROBE + "Fail", FailRequest(code=5, message="no such thing").encode())
    assert (status, message, payload) == (StatusCode.NOT_FOUND, "no such thing", b"")


def test_probe_huge_timeout_means_practically_never(conn, probe):
    # §7.4: ten years or more means "no deadline", like 0.
    conn.send_frame(FrameHeader(call_id=1, kind=FrameKind.REQUEST, method=PROBE + "Echo", timeout_us=2 ** 64 - 1))
    header, payload = conn.recv_frame(IO_TIMEOUT)
    assert (header.call_id, header.status) == (1, StatusCode.OK), header.describe()
    assert EchoResponse.decode(payload).deadline_unix_us == 0
