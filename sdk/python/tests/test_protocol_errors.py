"""Protocol errors: GOAWAY INVALID_ARGUMENT, then close (docs/PROTOCOL.md §8)."""

import socket
import struct

import pytest

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import IO_TIMEOUT, expect_goaway_then_close, request


def test_request_with_call_id_zero_is_a_protocol_error(conn):
    conn.sock.sendall(request(0, crm.HEALTH_CHECK))
    expect_goaway_then_close(conn, StatusCode.INVALID_ARGUMENT)


def test_duplicate_in_flight_call_id_is_a_protocol_error(conn):
    conn.sock.sendall(request(5, crm.HEALTH_WATCH))
    header, _ = conn.recv_frame(IO_TIMEOUT)
    assert (header.kind, header.call_id) == (FrameKind.MESSAGE, 5), header.describe()
    conn.sock.sendall(request(5, crm.HEALTH_CHECK))
    expect_goaway_then_close(conn, StatusCode.INVALID_ARGUMENT)


@pytest.mark.parametrize("kind", [FrameKind.UNSPECIFIED, FrameKind.MESSAGE, FrameKind.RESPONSE,
                                  FrameKind.GOAWAY, 42])
def test_frame_kinds_a_client_may_not_send(conn, kind):
    conn.send_frame(FrameHeader(call_id=1, kind=kind))
    expect_goaway_then_close(conn, StatusCode.INVALID_ARGUMENT)


def test_header_over_64_kib_is_a_protocol_error(conn):
    try:
        conn.sock.sendall(struct.pack(">II", 65537, 0) + b"\x00" * 65537)
    except OSError:
        pass  # the server may close before it has read it all
    expect_goaway_then_close(conn, StatusCode.INVALID_ARGUMENT)


def test_header_that_does_not_decode_is_a_protocol_error(conn):
    conn.sock.sendall(struct.pack(">II", 2, 0) + b"\xff\xff")
    expect_goaway_then_close(conn, StatusCode.INVALID_ARGUMENT)


def test_client_closes_and_fails_its_calls_when_the_server_breaks_the_protocol():
    # §8, last paragraph, on the client's side; a socketpair plays the server.
    client, server = socket.socketpair()
    with server:
        conn = crm.Connection(client)
        call = conn.start_call(crm.HEALTH_CHECK)
        server.sendall(struct.pack(">II", crm.MAX_HEADER_BYTES + 1, 0))
        with pytest.raises(crm.ProtocolError):
            call.result(IO_TIMEOUT)
        assert conn.closed
        assert (call.status, call.local) == (StatusCode.UNAVAILABLE, True)
        with pytest.raises(crm.ConnectionClosed):
            conn.recv_frame(IO_TIMEOUT)
