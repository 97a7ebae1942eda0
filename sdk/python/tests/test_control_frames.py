"""PING, PONG and CANCEL (docs/PROTOCOL.md §6.4, §6.5)."""

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import IO_TIMEOUT


def test_ping_is_answered_by_pong_with_the_same_payload(conn):
    payload = b"\x00\x01ping \xff\xfe" + bytes(range(256))
    conn.send_frame(FrameHeader(kind=FrameKind.PING), payload)
    header, answer = conn.recv_frame(IO_TIMEOUT)
    assert header.kind == FrameKind.PONG
    assert header.call_id == 0
    assert answer == payload


def test_ping_with_empty_payload_and_library_ping(conn):
    conn.send_frame(FrameHeader(kind=FrameKind.PING))
    header, answer = conn.recv_frame(IO_TIMEOUT)
    assert (header.kind, header.call_id, answer) == (FrameKind.PONG, 0, b"")
    assert conn.ping(b"hello") == b"hello"


def test_ping_while_calls_are_in_flight(conn):
    calls = [conn.start_call(crm.HEALTH_CHECK) for _ in range(3)]
    assert conn.ping(b"x") == b"x"
    conn.wait_all(calls, IO_TIMEOUT)
    assert all(c.status == StatusCode.OK for c in calls)


def test_cancel_of_an_unknown_call_is_ignored(conn):
    conn.send_frame(FrameHeader(call_id=999, kind=FrameKind.CANCEL))
    conn.send_frame(FrameHeader(kind=FrameKind.PING), b"still here")
    header, payload = conn.recv_frame(IO_TIMEOUT)
    assert (header.kind, payload) == (FrameKind.PONG, b"still here"), header.describe()
