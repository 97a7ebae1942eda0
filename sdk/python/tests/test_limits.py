"""Size and in-flight limits (docs/PROTOCOL.md §5.2, §7.3)."""

import struct
import time

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import MAX_IN_FLIGHT, MAX_MESSAGE_BYTES, read_until, request


def test_oversize_request_is_resource_exhausted_and_connection_stays_usable(conn):
    size = MAX_MESSAGE_BYTES + 1
    header = FrameHeader(call_id=7, kind=FrameKind.REQUEST, method=crm.HEALTH_CHECK).encode()
    conn.sock.sendall(struct.pack(">II", len(header), size) + header)
    chunk = b"\x00" * 65536
    left = size
    while left:
        n = min(left, len(chunk))
        conn.sock.sendall(chunk[:n])
        left -= n
    (header, payload), = read_until(conn, lambda h, p: h.kind == FrameKind.RESPONSE)
    assert header.call_id == 7
    assert header.status == StatusCode.RESOURCE_EXHAUSTED
    assert payload == b""
    # the payload was skipped: the next frame is read correctly
    assert conn.ping(b"after") == b"after"
    assert crm.health_check(conn).status == crm.ServingStatus.SERVING



def test_max_in_flight_calls_per_connection(conn):
    n = MAX_IN_FLIGHT
    conn.sock.sendall(b"".join(request(i, crm.HEALTH_WATCH) for i in range(1, n + 1)))
    first_message = set()
    deadline = time.monotonic() + 30
    while len(first_message) < n:
        header, _ = conn.recv_frame(max(0.001, deadline - time.monotonic()))
        assert header.kind == FrameKind.MESSAGE, header.describe()
        first_message.add(header.call_id)
    conn.sock.sendall(request(n + 1, crm.HEALTH_CHECK))
    frames = read_until(conn, lambda h, p: h.kind == FrameKind.RESPONSE)
    header, _ = frames[-1]
    assert header.call_id == n + 1
    assert header.status == StatusCode.RESOURCE_EXHAUSTED
    conn.sock.sendall(b"".join(crm.encode_frame(FrameHeader(call_id=i, kind=FrameKind.CANCEL))
                               for i in range(1, n + 1)))
    ended = set()
    while len(ended) < n:
        header, _ = conn.recv_frame(max(0.001, deadline - time.monotonic()))
        if header.kind == FrameKind.RESPONSE:
            assert header.status == StatusCode.CANCELLED, header.describe()
            assert header.call_id not in ended
            ended.add(header.call_id)
        else:
            assert header.kind == FrameKind.MESSAGE, header.describe()
    assert crm.health_check(conn).status == crm.ServingStatus.SERVING
