"""The server's read and idle timeouts (docs/PROTOCOL.md §4.3, §9)."""

import struct
import time

import pytest

from crm import StatusCode
from helpers import (IDLE_TIMEOUT_S, READ_TIMEOUT_S, SKIP_SLOW, expect_eof, expect_goaway_then_close, open_conn,
                     raw_socket)

SKIP_READ = SKIP_SLOW or READ_TIMEOUT_S > 20
SKIP_IDLE = SKIP_SLOW or IDLE_TIMEOUT_S is None or IDLE_TIMEOUT_S > 20

slow = pytest.mark.skipif(SKIP_READ, reason="waits for the server's read timeout")


@pytest.fixture(scope="module")
def waiting():
    """Sets up every situation first, so that the server's timers run side by
    side: the module takes about the longest timeout rather than their sum.
    Maps a name to (connection or socket, time.monotonic() when it started)."""
    started = {}
    try:
        if not SKIP_READ:
            conn = open_conn()
            started["frame"] = (conn, time.monotonic())
            conn.sock.sendall(struct.pack(">II", 10, 0) + b"\x08")  # 1 of 10 header bytes
            sock = raw_socket()
            started["preface"] = (sock, time.monotonic())
            sock.sendall(b"CRM")
        if not SKIP_IDLE:
            conn = open_conn()
            assert conn.ping() == b""
            started["idle"] = (conn, time.monotonic())
        yield started
    finally:
        for connection, _ in started.values():
            connection.close()


@slow
def test_incomplete_frame_hits_the_read_timeout(waiting):
    conn, started = waiting["frame"]
    goaway = expect_goaway_then_close(conn, StatusCode.UNAVAILABLE, timeout=READ_TIMEOUT_S + 5)
    assert goaway.status_message.startswith("read timeout"), goaway.status_message
    assert time.monotonic() - started >= READ_TIMEOUT_S - 0.5


@slow
def test_incomplete_preface_is_closed_after_the_read_timeout(waiting):
    sock, _ = waiting["preface"]
    expect_eof(sock, timeout=READ_TIMEOUT_S + 5)


@pytest.mark.skipif(SKIP_IDLE, reason="set CRM_IDLE_TIMEOUT_MS (<= 20000) to the server's idle timeout to run")
def test_idle_connection_gets_goaway_idle_timeout(waiting):
    conn, _ = waiting["idle"]
    goaway = expect_goaway_then_close(conn, StatusCode.UNAVAILABLE, timeout=IDLE_TIMEOUT_S + 5)
    assert goaway.status_message == "idle timeout"
