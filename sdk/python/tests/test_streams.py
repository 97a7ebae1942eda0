"""Server streams: Health.Watch and the probe's Count (docs/PROTOCOL.md §6.2,
§7.2, §11.1)."""

import pytest

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import IO_TIMEOUT, decode_health, read_until, request
from probe_messages import PROBE, CountRequest, CountResponse


def test_health_watch_streams_then_cancel_ends_it(conn):
    conn.sock.sendall(request(11, crm.HEALTH_WATCH, crm.HealthCheckRequest().encode()))
    header, payload = conn.recv_frame(IO_TIMEOUT)
    assert (header.kind, header.call_id) == (FrameKind.MESSAGE, 11), header.describe()
    assert decode_health(payload).status == crm.ServingStatus.SERVING
    conn.send_frame(FrameHeader(call_id=11, kind=FrameKind.CANCEL))
    frames = read_until(conn, lambda h, p: h.kind == FrameKind.RESPONSE)
    for h, _ in frames[:-1]:
        assert (h.kind, h.call_id) == (FrameKind.MESSAGE, 11), h.describe()
    header, payload = frames[-1]
    assert header.call_id == 11
    assert header.status == StatusCode.CANCELLED
    assert payload == b""
    # exactly one RESPONSE: a second CANCEL is ignored, the connection still works
    conn.send_frame(FrameHeader(call_id=11, kind=FrameKind.CANCEL))
    assert conn.ping(b"p") == b"p"


def test_health_watch_with_the_library(conn):
    call = conn.stream(crm.HEALTH_WATCH, crm.HealthCheckRequest().encode())
    first = call.next_message(IO_TIMEOUT)
    assert first is not None
    assert decode_health(first).status == crm.ServingStatus.SERVING
    call.cancel()
    for message in call:  # drains what was sent before the cancel; no error after our own cancel
        decode_health(message)
    assert call.status == StatusCode.CANCELLED



def test_probe_server_stream(conn, probe):
    call = conn.stream(PROBE + "Count", CountRequest(count=3, interval_millis=10).encode())
    values = [CountResponse.decode(m).n for m in call]
    assert len(values) == 3
    assert values == sorted(values) and len(set(values)) == 3
    assert (call.status, call.payload) == (StatusCode.OK, b"")


def test_probe_stream_cancel(conn, probe):
    call = conn.stream(PROBE + "Count", CountRequest(count=1000, interval_millis=20).encode())
    assert call.next_message(IO_TIMEOUT) is not None
    call.cancel()
    for _ in call:
        pass
    assert call.status == StatusCode.CANCELLED


def test_health_watch_deadline_ends_the_stream(conn):
    # §7.4: "For a stream, the deadline covers the whole stream."
    conn.sock.sendall(request(12, crm.HEALTH_WATCH, timeout_us=200_000))
    frames = read_until(conn, lambda h, p: h.kind == FrameKind.RESPONSE, timeout=1.5)
    header, payload = frames[-1]
    assert (header.call_id, header.status, payload) == (12, StatusCode.DEADLINE_EXCEEDED, b"")
