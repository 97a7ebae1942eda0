"""Settings from the environment and helpers shared by the tests."""

import os
import socket
import time
from typing import List, Tuple

import pytest

import crm
from crm import FrameHeader, FrameKind

SOCKET = os.environ.get("CRM_SOCKET")
MAX_MESSAGE_BYTES = int(os.environ.get("CRM_MAX_MESSAGE_BYTES", "4194304"))
MAX_IN_FLIGHT = int(os.environ.get("CRM_MAX_IN_FLIGHT", "256"))
READ_TIMEOUT_S = int(os.environ.get("CRM_READ_TIMEOUT_MS", "10000")) / 1000.0
IDLE_TIMEOUT_S = (int(os.environ["CRM_IDLE_TIMEOUT_MS"]) / 1000.0) if os.environ.get("CRM_IDLE_TIMEOUT_MS") else None
SKIP_SLOW = os.environ.get("CRM_SKIP_SLOW", "") not in ("", "0")

IO_TIMEOUT = 10.0  # how long any single wait for the server may take
KERNEL_SERVICES = ("crm.kernel.v1.Health", "crm.kernel.v1.Plugins", "crm.kernel.v1.Reflection")
PROBE_SERVICE = "crm.testing.v1.Probe"


def raw_socket() -> socket.socket:
    """A connected socket on which nothing has been sent yet."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(IO_TIMEOUT)
    sock.connect(SOCKET)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return bytes(data)


def expect_eof(sock: socket.socket, timeout: float = IO_TIMEOUT) -> bytes:
    """Reads until the server closes; returns whatever came before the close."""
    sock.settimeout(timeout)
    rest = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            pytest.fail("the server did not close the connection within %.0f s" % timeout)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(rest)
        except socket.timeout:
            pytest.fail("the server did not close the connection within %.0f s" % timeout)
        if not chunk:
            return bytes(rest)
        rest += chunk


def open_conn(**kwargs) -> crm.Connection:
    return crm.connect(SOCKET, timeout=IO_TIMEOUT, **kwargs)


def request(call_id: int, method: str, payload: bytes = b"", **fields) -> bytes:
    return crm.encode_frame(FrameHeader(call_id=call_id, kind=FrameKind.REQUEST, method=method, **fields), payload)


def read_until(conn: crm.Connection, predicate, timeout: float = IO_TIMEOUT) -> List[Tuple[FrameHeader, bytes]]:
    """Reads raw frames until predicate(header, payload) is true; returns all of them."""
    frames = []
    deadline = time.monotonic() + timeout
    while True:
        header, payload = conn.recv_frame(max(0.001, deadline - time.monotonic()))
        frames.append((header, payload))
        if predicate(header, payload):
            return frames


def expect_goaway_then_close(conn: crm.Connection, status: int, timeout: float = IO_TIMEOUT) -> FrameHeader:
    """Reads frames (ignoring those of calls) until GOAWAY, checks its status,
    then checks that the server closes the connection."""
    deadline = time.monotonic() + timeout
    goaway = None
    try:
        while goaway is None:
            header, _ = conn.recv_frame(max(0.001, deadline - time.monotonic()))
            if header.kind == FrameKind.GOAWAY:
                goaway = header
    except crm.ConnectionClosed:
        pytest.fail("the server closed the connection without a GOAWAY")
    assert goaway.call_id == 0
    assert goaway.status == status, "GOAWAY %s (%s), expected %s" % (
        crm.status_name(goaway.status), goaway.status_message, crm.status_name(status))
    with pytest.raises(crm.ConnectionClosed):
        while True:  # nothing but the close may follow a protocol-error GOAWAY
            header, _ = conn.recv_frame(max(0.001, deadline - time.monotonic()))
            assert header.kind in (FrameKind.MESSAGE, FrameKind.RESPONSE), header.describe()
    return goaway


def decode_health(payload: bytes) -> crm.HealthCheckResponse:
    return crm.HealthCheckResponse.decode(payload)
