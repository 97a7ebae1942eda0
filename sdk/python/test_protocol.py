"""Conformance tests of crmd's wire protocol (docs/PROTOCOL.md), run against a
live server:

    CRM_SOCKET=/path/to/crm.sock python3 -m pytest sdk/python/test_protocol.py

Optional environment, for servers not started with the default limits:

    CRM_MAX_MESSAGE_BYTES   the server's max_message_bytes (default 4194304)
    CRM_MAX_IN_FLIGHT       max_in_flight_per_connection (default 256)
    CRM_READ_TIMEOUT_MS     read_timeout_ms (default 10000); the read-timeout
                            tests are skipped above 20000
    CRM_IDLE_TIMEOUT_MS     idle_timeout_ms; the idle-timeout test runs only
                            when this is set to 20000 or less
    CRM_SKIP_SLOW=1         skip the tests that wait for a server timeout

Tests that need the conformance probe plugin (crm.testing.v1.Probe) skip
themselves when the server does not serve it.

Only the standard library, pytest and crm_client.py (next to this file) are used.
"""

import os
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import pytest

SOCKET = os.environ.get("CRM_SOCKET")
if not SOCKET:
    pytest.skip("CRM_SOCKET is not set: these tests need a running crmd; "
                "set CRM_SOCKET to its socket path", allow_module_level=True)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crm_client as crm  # noqa: E402
from crm_client import FrameHeader, FrameKind, StatusCode  # noqa: E402

MAX_MESSAGE_BYTES = int(os.environ.get("CRM_MAX_MESSAGE_BYTES", "4194304"))
MAX_IN_FLIGHT = int(os.environ.get("CRM_MAX_IN_FLIGHT", "256"))
READ_TIMEOUT_S = int(os.environ.get("CRM_READ_TIMEOUT_MS", "10000")) / 1000.0
IDLE_TIMEOUT_S = (int(os.environ["CRM_IDLE_TIMEOUT_MS"]) / 1000.0) if os.environ.get("CRM_IDLE_TIMEOUT_MS") else None
SKIP_SLOW = os.environ.get("CRM_SKIP_SLOW", "") not in ("", "0")

IO_TIMEOUT = 10.0  # how long any single wait for the server may take
KERNEL_SERVICES = ("crm.kernel.v1.Health", "crm.kernel.v1.Plugins", "crm.kernel.v1.Reflection")
PROBE_SERVICE = "crm.testing.v1.Probe"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

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


@pytest.fixture
def conn():
    connection = open_conn()
    yield connection
    connection.close()


def decode_health(payload: bytes) -> crm.HealthCheckResponse:
    return crm.HealthCheckResponse.decode(payload)


# --------------------------------------------------------------------------
# connection preface
# --------------------------------------------------------------------------

def test_preface_accepted():
    sock = raw_socket()
    try:
        sock.sendall(b"CRMP\x00\x01\x00\x00")
        answer = recv_exact(sock, 8)
        assert answer[:4] == b"CRMP"
        version, status = struct.unpack(">HH", answer[4:])
        assert version == 1
        assert status == 0
    finally:
        sock.close()


def test_client_preface_bytes():
    assert crm.client_preface() == bytes.fromhex("43524d5000010000")


def test_frames_may_follow_the_preface_without_waiting():
    sock = raw_socket()
    try:
        sock.sendall(crm.client_preface() + request(1, crm.HEALTH_CHECK))
        assert recv_exact(sock, 8) == b"CRMP\x00\x01\x00\x00"
        header_length, payload_length = struct.unpack(">II", recv_exact(sock, 8))
        header = FrameHeader.decode(recv_exact(sock, header_length))
        payload = recv_exact(sock, payload_length)
        assert (header.kind, header.call_id, header.status) == (FrameKind.RESPONSE, 1, StatusCode.OK)
        assert decode_health(payload).status == crm.ServingStatus.SERVING
    finally:
        sock.close()


def test_unsupported_version_gets_unimplemented_and_close():
    sock = raw_socket()
    try:
        sock.sendall(b"CRMP" + struct.pack(">HH", 99, 0))
        answer = recv_exact(sock, 8)
        assert answer[:4] == b"CRMP"
        version, status = struct.unpack(">HH", answer[4:])
        assert version == 1, "the server preface carries the server's own version"
        assert status == StatusCode.UNIMPLEMENTED
        assert expect_eof(sock) == b""
    finally:
        sock.close()


def test_unsupported_version_via_client_library():
    with pytest.raises(crm.PrefaceRejected) as info:
        crm.connect(SOCKET, timeout=IO_TIMEOUT, version=99)
    assert info.value.status == StatusCode.UNIMPLEMENTED
    assert info.value.server_version == 1


def test_bad_magic_gets_invalid_argument_and_close():
    sock = raw_socket()
    try:
        sock.sendall(b"GET / HT")
        answer = recv_exact(sock, 8)
        assert answer[:4] == b"CRMP"
        version, status = struct.unpack(">HH", answer[4:])
        assert version == 1
        assert status == StatusCode.INVALID_ARGUMENT
        assert expect_eof(sock) == b""
    finally:
        sock.close()


# --------------------------------------------------------------------------
# unary calls and per-call errors
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# multiplexing
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# PING / PONG / CANCEL
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# server streaming: Health.Watch
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# protocol errors: GOAWAY INVALID_ARGUMENT, then close
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# kernel services
# --------------------------------------------------------------------------

def test_plugins_list_decodes(conn):
    status, message, payload = conn.call(crm.PLUGINS_LIST, crm.ListPluginsRequest().encode())
    assert status == StatusCode.OK, message
    response = crm.ListPluginsResponse.decode(payload)
    assert response.next_page_token == "" or len(response.plugins) == 100
    for plugin in response.plugins:
        assert plugin.name
        assert plugin.state in (crm.PluginState.LOADED, crm.PluginState.DISABLED, crm.PluginState.FAILED), plugin
        if plugin.state == crm.PluginState.LOADED:
            assert plugin.reason == "", plugin
            assert plugin.version
            assert plugin.load_order >= 1
        else:
            assert plugin.load_order == 0
        if plugin.state == crm.PluginState.FAILED:
            assert plugin.reason, "a FAILED plugin says why"


def test_plugins_list_pagination(conn):
    everything = crm.list_plugins(conn, page_size=1000)
    one_by_one = []
    token = ""
    for _ in range(len(everything) + 1):
        payload = conn.start_call(crm.PLUGINS_LIST, crm.ListPluginsRequest(1, token).encode()).check(IO_TIMEOUT)
        page = crm.ListPluginsResponse.decode(payload)
        assert len(page.plugins) <= 1
        one_by_one.extend(page.plugins)
        token = page.next_page_token
        if not token:
            break
    assert [p.name for p in one_by_one] == [p.name for p in everything]
    # page sizes over 1000 are capped, not refused
    status, message, _ = conn.call(crm.PLUGINS_LIST, crm.ListPluginsRequest(page_size=5000).encode())
    assert status == StatusCode.OK, message


def test_bad_page_token_is_invalid_argument(conn):
    for method, request_type in ((crm.PLUGINS_LIST, crm.ListPluginsRequest),
                                 (crm.REFLECTION_LIST_SERVICES, crm.ListServicesRequest)):
        status, _, payload = conn.call(method, request_type(page_token="not a token we gave you").encode())
        assert status == StatusCode.INVALID_ARGUMENT, method
        assert payload == b""


def test_reflection_lists_the_kernel_services(conn):
    services = crm.list_services(conn)
    names = [s.name for s in services]
    assert names == sorted(names)
    by_name = {s.name: s for s in services}
    for name in KERNEL_SERVICES:
        assert by_name[name].plugin == "kernel"
    methods = {m.full_name: m for m in by_name["crm.kernel.v1.Health"].methods}
    check = methods["/crm.kernel.v1.Health/Check"]
    watch = methods["/crm.kernel.v1.Health/Watch"]
    assert (check.name, check.server_streaming) == ("Check", False)
    assert (watch.name, watch.server_streaming) == ("Watch", True)
    assert check.request_type == "crm.kernel.v1.HealthCheckRequest"
    assert check.response_type == "crm.kernel.v1.HealthCheckResponse"
    paged = crm.list_services(conn, page_size=1)
    assert [s.name for s in paged] == names


def test_reflection_file_descriptor_set(conn):
    response = crm.get_file_descriptor_set(conn, "crm.kernel.v1.Health")
    assert (response.service, response.plugin) == ("crm.kernel.v1.Health", "kernel")
    # google.protobuf.FileDescriptorSet: repeated FileDescriptorProto file = 1; its name = 1
    files = []
    for number, _, value in crm.iter_fields(response.file_descriptor_set):
        assert number == 1
        for n, _, v in crm.iter_fields(value):
            if n == 1:
                files.append(v.decode())
    assert any(f.endswith("crm/kernel/v1/health.proto") for f in files), files
    status, _, _ = conn.call(crm.REFLECTION_GET_FILE_DESCRIPTOR_SET,
                             crm.GetFileDescriptorSetRequest("no.such.v1.Service").encode())
    assert status == StatusCode.NOT_FOUND


# --------------------------------------------------------------------------
# timeouts
# --------------------------------------------------------------------------

slow = pytest.mark.skipif(SKIP_SLOW or READ_TIMEOUT_S > 20, reason="waits for the server's read timeout")


@slow
def test_incomplete_frame_hits_the_read_timeout(conn):
    conn.sock.sendall(struct.pack(">II", 10, 0) + b"\x08")  # 1 of 10 header bytes
    started = time.monotonic()
    goaway = expect_goaway_then_close(conn, StatusCode.UNAVAILABLE, timeout=READ_TIMEOUT_S + 5)
    assert goaway.status_message.startswith("read timeout"), goaway.status_message
    assert time.monotonic() - started >= READ_TIMEOUT_S - 0.5


@slow
def test_incomplete_preface_is_closed_after_the_read_timeout():
    sock = raw_socket()
    try:
        sock.sendall(b"CRM")
        expect_eof(sock, timeout=READ_TIMEOUT_S + 5)
    finally:
        sock.close()


@pytest.mark.skipif(SKIP_SLOW or IDLE_TIMEOUT_S is None or IDLE_TIMEOUT_S > 20,
                    reason="set CRM_IDLE_TIMEOUT_MS (<= 20000) to the server's idle timeout to run")
def test_idle_connection_gets_goaway_idle_timeout(conn):
    assert conn.ping() == b""
    goaway = expect_goaway_then_close(conn, StatusCode.UNAVAILABLE, timeout=IDLE_TIMEOUT_S + 5)
    assert goaway.status_message == "idle timeout"


# --------------------------------------------------------------------------
# with the conformance probe plugin (crm.testing.v1.Probe)
# --------------------------------------------------------------------------

@dataclass
class EchoRequest(crm.Message):
    payload: bytes = b""
    FIELDS = {1: ("payload", "bytes")}


@dataclass
class MapEntry(crm.Message):
    key: str = ""
    value: str = ""
    FIELDS = {1: ("key", "string"), 2: ("value", "string")}


@dataclass
class EchoResponse(crm.Message):
    payload: bytes = b""
    method: str = ""
    caller_uid: int = 0
    caller_gid: int = 0
    caller_pid: int = 0
    deadline_unix_us: int = 0
    metadata: List[MapEntry] = field(default_factory=list)
    config_greeting: str = ""
    FIELDS = {1: ("payload", "bytes"), 2: ("method", "string"), 3: ("caller_uid", "int"), 4: ("caller_gid", "int"),
              5: ("caller_pid", "int"), 6: ("deadline_unix_us", "uint"), 7: ("metadata", [MapEntry]),
              8: ("config_greeting", "string")}


@dataclass
class SleepRequest(crm.Message):
    millis: int = 0
    FIELDS = {1: ("millis", "uint")}


@dataclass
class FailRequest(crm.Message):
    code: int = 0
    message: str = ""
    FIELDS = {1: ("code", "uint"), 2: ("message", "string")}


@dataclass
class CountRequest(crm.Message):
    count: int = 0
    interval_millis: int = 0
    FIELDS = {1: ("count", "uint"), 2: ("interval_millis", "uint")}


@dataclass
class CountResponse(crm.Message):
    n: int = 0
    FIELDS = {1: ("n", "uint")}


PROBE = "/" + PROBE_SERVICE + "/"


@pytest.fixture(scope="module")
def probe():
    with open_conn() as c:
        if PROBE_SERVICE not in {s.name for s in crm.list_services(c)}:
            pytest.skip("the server does not serve %s (the probe test plugin)" % PROBE_SERVICE)


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
