"""A small, dependency-free Python 3 client for crmd's RPC protocol.

The wire protocol is specified in docs/PROTOCOL.md; this module follows it and
nothing else. It has:

* the protocol constants and enums (``StatusCode``, ``FrameKind``),
* a minimal protobuf codec (varints and length-delimited fields) and the
  ``FrameHeader`` message,
* ``Connection``: connect with the preface check, unary calls, server-stream
  iteration, cancellation, PING, and any number of calls in flight on one
  connection (multiplexed by call_id),
* encoders/decoders for the kernel messages that ``Health``, ``Plugins`` and
  ``Reflection`` use, and helpers that call them.

Request and response payloads of other services are plain ``bytes``: encode
them with any protobuf library you like.

A ``Connection`` is not thread-safe: use it from one thread (or guard it with a
lock). Several calls can still be in flight at once; see ``Connection.start_call``.

    import crm_client as crm
    with crm.connect() as conn:                       # $CRM_SOCKET or ./crm.sock
        status, message, payload = conn.call(crm.HEALTH_CHECK,
                                             crm.HealthCheckRequest().encode())
        print(crm.status_name(status), crm.HealthCheckResponse.decode(payload))
"""

from __future__ import annotations

import collections
import enum
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

__all__ = [
    "PROTOCOL_VERSION", "MAGIC", "DEFAULT_SOCKET", "MAX_HEADER_BYTES", "DEFAULT_MAX_MESSAGE_BYTES",
    "StatusCode", "FrameKind", "ServingStatus", "PluginState", "status_name",
    "CRMError", "ProtocolError", "DecodeError", "PrefaceRejected", "ConnectionClosed", "RPCError",
    "encode_varint", "decode_varint", "field_varint", "field_bytes", "field_message", "iter_fields",
    "Message", "FrameHeader", "encode_frame", "client_preface", "parse_preface", "default_socket_path",
    "Connection", "Call", "connect",
    "HealthCheckRequest", "ServiceHealth", "HealthCheckResponse",
    "ListPluginsRequest", "PluginDependency", "PluginInfo", "ListPluginsResponse",
    "ListServicesRequest", "MethodInfo", "ServiceInfo", "ListServicesResponse",
    "GetFileDescriptorSetRequest", "GetFileDescriptorSetResponse",
    "HEALTH_CHECK", "HEALTH_WATCH", "PLUGINS_LIST", "REFLECTION_LIST_SERVICES",
    "REFLECTION_GET_FILE_DESCRIPTOR_SET",
    "health_check", "health_watch", "list_plugins", "list_services", "get_file_descriptor_set",
]

# --------------------------------------------------------------------------
# Protocol constants (docs/PROTOCOL.md)
# --------------------------------------------------------------------------

PROTOCOL_VERSION = 1
MAGIC = b"CRMP"
PREFACE_LENGTH = 8
FRAME_PREFIX_LENGTH = 8
MAX_HEADER_BYTES = 65536
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
DEFAULT_SOCKET = "./crm.sock"
#: Largest payload this client accepts from a server. crmd never sends more
#: than its max_message_bytes (default 4 MiB); this is only a sanity bound.
DEFAULT_CLIENT_MAX_PAYLOAD = 64 * 1024 * 1024

HEALTH_CHECK = "/crm.kernel.v1.Health/Check"
HEALTH_WATCH = "/crm.kernel.v1.Health/Watch"
PLUGINS_LIST = "/crm.kernel.v1.Plugins/List"
REFLECTION_LIST_SERVICES = "/crm.kernel.v1.Reflection/ListServices"
REFLECTION_GET_FILE_DESCRIPTOR_SET = "/crm.kernel.v1.Reflection/GetFileDescriptorSet"


class StatusCode(enum.IntEnum):
    """gRPC's status codes (crm.rpc.v1.StatusCode)."""
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class FrameKind(enum.IntEnum):
    """crm.rpc.v1.FrameKind, without the FRAME_KIND_ prefix."""
    UNSPECIFIED = 0
    REQUEST = 1
    MESSAGE = 2
    RESPONSE = 3
    CANCEL = 4
    PING = 5
    PONG = 6
    GOAWAY = 7


class ServingStatus(enum.IntEnum):
    """crm.kernel.v1.ServingStatus, without the SERVING_STATUS_ prefix."""
    UNKNOWN = 0
    SERVING = 1
    NOT_SERVING = 2
    SERVICE_UNKNOWN = 3


class PluginState(enum.IntEnum):
    """crm.kernel.v1.PluginState, without the PLUGIN_STATE_ prefix."""
    UNSPECIFIED = 0
    LOADED = 1
    DISABLED = 2
    FAILED = 3


def _enum_name(enum_type, value: int) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return str(value)


def status_name(code: int) -> str:
    """"NOT_FOUND" for 5; "STATUS_<n>" for a number outside 0..16."""
    try:
        return StatusCode(code).name
    except ValueError:
        return "STATUS_%d" % code


def default_socket_path() -> str:
    """$CRM_SOCKET if set and non-empty, else ./crm.sock."""
    return os.environ.get("CRM_SOCKET") or DEFAULT_SOCKET


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class CRMError(Exception):
    """Base class of this module's errors."""


class ProtocolError(CRMError):
    """The peer broke the wire protocol (or sent bytes we cannot parse)."""


class DecodeError(ProtocolError):
    """Bytes that do not decode as the expected protobuf message."""


class PrefaceRejected(CRMError):
    """The server answered the connection preface with a non-zero status."""

    def __init__(self, status: int, server_version: int):
        self.status = status
        self.server_version = server_version
        super().__init__("server refused the connection: %s (server speaks protocol version %d)"
                         % (status_name(status), server_version))


class ConnectionClosed(CRMError):
    """The connection is closed (by the server or by us)."""

    def __init__(self, message: str, goaway: Optional[Tuple[int, str]] = None):
        self.goaway = goaway
        super().__init__(message)


class RPCError(CRMError):
    """A call ended with a status other than OK."""

    def __init__(self, status: int, message: str, method: str = ""):
        self.status = status
        self.message = message
        self.method = method
        where = (method + ": ") if method else ""
        super().__init__("%s%s: %s" % (where, status_name(status), message))


# --------------------------------------------------------------------------
# Minimal protobuf wire format
# --------------------------------------------------------------------------

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1


def encode_varint(value: int) -> bytes:
    """Base-128 varint; negative numbers as their 64-bit two's complement."""
    value &= _U64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, pos: int = 0) -> Tuple[int, int]:
    """Returns (value, position after the varint)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _key(number: int, wire_type: int) -> bytes:
    return encode_varint((number << 3) | wire_type)


def field_varint(number: int, value: int) -> bytes:
    """A varint field (uint32/uint64/enum/bool); proto3 omits 0."""
    value = int(value)
    return _key(number, WIRE_VARINT) + encode_varint(value) if value else b""


def field_bytes(number: int, value: Union[bytes, bytearray, str]) -> bytes:
    """A string/bytes field; proto3 omits an empty value."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _key(number, WIRE_LEN) + encode_varint(len(value)) + bytes(value) if value else b""


def field_message(number: int, encoded: bytes) -> bytes:
    """An embedded message; always written (an element of a repeated field
    must be present even when empty)."""
    return _key(number, WIRE_LEN) + encode_varint(len(encoded)) + encoded


def iter_fields(data: bytes) -> Iterator[Tuple[int, int, Union[int, bytes]]]:
    """Yields (field number, wire type, value): an int for varints, bytes otherwise."""
    data = bytes(data)
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = decode_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire_type == WIRE_VARINT:
            value, pos = decode_varint(data, pos)
        elif wire_type == WIRE_LEN:
            length, pos = decode_varint(data, pos)
            if pos + length > end:
                raise DecodeError("truncated length-delimited field %d" % number)
            value = data[pos:pos + length]
            pos += length
        elif wire_type == WIRE_I64:
            if pos + 8 > end:
                raise DecodeError("truncated fixed64 field %d" % number)
            value = data[pos:pos + 8]
            pos += 8
        elif wire_type == WIRE_I32:
            if pos + 4 > end:
                raise DecodeError("truncated fixed32 field %d" % number)
            value = data[pos:pos + 4]
            pos += 4
        else:
            raise DecodeError("unsupported wire type %d (field %d)" % (wire_type, number))
        yield number, wire_type, value


def _want(wire_type: int, expected: int, number: int, message: str) -> None:
    if wire_type != expected:
        raise DecodeError("%s field %d has wire type %d, expected %d" % (message, number, wire_type, expected))


def _str(value: bytes, number: int, message: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("%s field %d is not valid UTF-8" % (message, number)) from None


class Message:
    """Table-driven proto3 message: subclasses (dataclasses) set FIELDS =
    {number: (attribute, type)} with type one of "uint" (uint32/uint64/enum),
    "int" (int32/int64), "bool", "string", "bytes", a Message subclass, or a
    one-element list of one of those for a repeated field. Unknown fields are
    skipped when decoding. Repeated scalars (packed) are not supported."""

    FIELDS: Dict[int, Tuple[str, object]] = {}

    def encode(self) -> bytes:
        out = bytearray()
        for number in sorted(self.FIELDS):
            name, kind = self.FIELDS[number]
            value = getattr(self, name)
            if isinstance(kind, list):
                for item in value:
                    out += self._encode_one(number, kind[0], item, repeated=True)
            else:
                out += self._encode_one(number, kind, value, repeated=False)
        return bytes(out)

    @staticmethod
    def _encode_one(number, kind, value, repeated) -> bytes:
        if kind in ("uint", "int", "bool"):
            if repeated:  # packed, as proto3 writes repeated scalars
                raise NotImplementedError("repeated scalars are not used by these messages")
            return field_varint(number, int(value))
        if kind in ("string", "bytes"):
            if repeated:
                data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
                return _key(number, WIRE_LEN) + encode_varint(len(data)) + data
            return field_bytes(number, value)
        return field_message(number, value.encode())

    @classmethod
    def decode(cls, data: bytes):
        message = cls()
        name_of = cls.__name__
        for number, wire_type, value in iter_fields(data):
            spec = cls.FIELDS.get(number)
            if spec is None:
                continue
            name, kind = spec
            repeated = isinstance(kind, list)
            if repeated:
                kind = kind[0]
            if kind in ("uint", "int", "bool"):
                _want(wire_type, WIRE_VARINT, number, name_of)
                if kind == "bool":
                    decoded = bool(value)
                elif kind == "int" and value >= 1 << 63:
                    decoded = value - (1 << 64)
                else:
                    decoded = value
            else:
                _want(wire_type, WIRE_LEN, number, name_of)
                if kind == "string":
                    decoded = _str(value, number, name_of)
                elif kind == "bytes":
                    decoded = value
                else:
                    decoded = kind.decode(value)
            if repeated:
                getattr(message, name).append(decoded)
            else:
                setattr(message, name, decoded)
        return message


# --------------------------------------------------------------------------
# crm.rpc.v1.FrameHeader
# --------------------------------------------------------------------------

@dataclass
class FrameHeader(Message):
    """crm.rpc.v1.FrameHeader. ``metadata`` is a list of (key, value) pairs."""
    call_id: int = 0
    kind: int = 0
    method: str = ""
    metadata: List[Tuple[str, str]] = field(default_factory=list)
    timeout_us: int = 0
    status: int = 0
    status_message: str = ""

    def encode(self) -> bytes:
        out = bytearray()
        out += field_varint(1, self.call_id)
        out += field_varint(2, self.kind)
        out += field_bytes(3, self.method)
        for key, value in self.metadata:
            out += field_message(4, field_bytes(1, key) + field_bytes(2, value))
        out += field_varint(5, self.timeout_us)
        out += field_varint(6, self.status)
        out += field_bytes(7, self.status_message)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> "FrameHeader":
        header = cls()
        for number, wire_type, value in iter_fields(data):
            if number in (1, 2, 5, 6):
                _want(wire_type, WIRE_VARINT, number, "FrameHeader")
                setattr(header, {1: "call_id", 2: "kind", 5: "timeout_us", 6: "status"}[number], value)
            elif number in (3, 7):
                _want(wire_type, WIRE_LEN, number, "FrameHeader")
                setattr(header, "method" if number == 3 else "status_message", _str(value, number, "FrameHeader"))
            elif number == 4:
                _want(wire_type, WIRE_LEN, number, "FrameHeader")
                key = val = ""
                for n, wt, v in iter_fields(value):
                    if n in (1, 2):
                        _want(wt, WIRE_LEN, n, "MetadataEntry")
                        if n == 1:
                            key = _str(v, n, "MetadataEntry")
                        else:
                            val = _str(v, n, "MetadataEntry")
                header.metadata.append((key, val))
            # unknown fields are ignored, as proto3 requires
        return header

    def describe(self) -> str:
        kind = _enum_name(FrameKind, self.kind)
        parts = ["%s call_id=%d" % (kind, self.call_id)]
        if self.method:
            parts.append("method=%s" % self.method)
        if self.kind in (FrameKind.RESPONSE, FrameKind.GOAWAY):
            parts.append("status=%s" % status_name(self.status))
            if self.status_message:
                parts.append("message=%r" % self.status_message)
        return " ".join(parts)


def encode_frame(header: FrameHeader, payload: bytes = b"") -> bytes:
    """u32 BE header length, u32 BE payload length, header, payload."""
    header_bytes = header.encode()
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError("frame header of %d bytes is over the %d-byte limit" % (len(header_bytes), MAX_HEADER_BYTES))
    payload = bytes(payload)
    return struct.pack(">II", len(header_bytes), len(payload)) + header_bytes + payload


def client_preface(version: int = PROTOCOL_VERSION) -> bytes:
    """The 8 bytes a client sends first: "CRMP", version (u16 BE), 0x0000."""
    return MAGIC + struct.pack(">HH", version, 0)


def parse_preface(data: bytes) -> Tuple[int, int]:
    """Splits a server preface into (server version, status)."""
    if len(data) != PREFACE_LENGTH or data[:4] != MAGIC:
        raise ProtocolError("not a crm RPC server (preface %r)" % bytes(data))
    version, status = struct.unpack(">HH", data[4:8])
    return version, status


def _check_metadata(metadata: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
    checked = []
    for key, value in metadata:
        if not key or not set(key) <= allowed:
            raise ValueError("metadata key %r: keys are non-empty lowercase ASCII (a-z 0-9 - _ .)" % key)
        checked.append((key, str(value)))
    return checked


# --------------------------------------------------------------------------
# Connection and calls
# --------------------------------------------------------------------------

class Call:
    """One call on a Connection: created by ``Connection.start_call`` (unary),
    ``Connection.stream`` or ``Connection.call``.

    Unary: ``result()`` waits for the RESPONSE and returns (status, message,
    payload). Server stream: iterate to get each MESSAGE payload; when the
    iteration ends, ``status``/``message`` hold the RESPONSE. Iteration raises
    ``RPCError`` if the stream ended with a status other than OK (except
    CANCELLED after ``cancel()``).
    """

    def __init__(self, connection: "Connection", call_id: int, method: str):
        self.connection = connection
        self.call_id = call_id
        self.method = method
        self.done = False
        self.status: Optional[int] = None
        self.message = ""
        self.payload = b""
        self.trailers: List[Tuple[str, str]] = []
        #: True when the client made up the status (lost connection, local deadline).
        self.local = False
        self.cancel_sent = False
        self._messages: Deque[bytes] = collections.deque()

    def __repr__(self) -> str:
        state = status_name(self.status) if self.done else "in flight"
        return "<Call %d %s %s>" % (self.call_id, self.method, state)

    def _finish(self, status: int, message: str, payload: bytes = b"",
                trailers: Sequence[Tuple[str, str]] = (), local: bool = False) -> None:
        if self.done:
            return
        self.done = True
        self.status = StatusCode(status) if 0 <= status <= 16 else status
        self.message = message
        self.payload = payload
        self.trailers = list(trailers)
        self.local = local

    def cancel(self) -> None:
        """Sends CANCEL (once). The call still ends with a RESPONSE: wait for it
        with result() or by finishing the iteration."""
        if not self.done and not self.cancel_sent:
            self.cancel_sent = True
            self.connection.cancel(self.call_id)

    def result(self, timeout: Optional[float] = None) -> Tuple[int, str, bytes]:
        """Waits for the RESPONSE (up to ``timeout`` seconds: TimeoutError) and
        returns (status, status_message, payload)."""
        self.connection._wait(lambda: self.done, timeout)
        return self.status, self.message, self.payload

    def check(self, timeout: Optional[float] = None) -> bytes:
        """result(), raising RPCError unless the status is OK; returns the payload."""
        status, message, payload = self.result(timeout)
        if status != StatusCode.OK:
            raise RPCError(status, message, self.method)
        return payload

    def next_message(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next MESSAGE payload, or None once the call has ended."""
        self.connection._wait(lambda: bool(self._messages) or self.done, timeout)
        if self._messages:
            return self._messages.popleft()
        return None

    def __iter__(self) -> Iterator[bytes]:
        while True:
            message = self.next_message()
            if message is None:
                break
            yield message
        if self.status != StatusCode.OK and not (self.cancel_sent and self.status == StatusCode.CANCELLED):
            raise RPCError(self.status, self.message, self.method)


class Connection:
    """One connection to crmd. Use ``connect()`` to make one."""

    def __init__(self, sock: socket.socket, *, max_payload_bytes: int = DEFAULT_CLIENT_MAX_PAYLOAD):
        self.sock = sock
        self.max_payload_bytes = max_payload_bytes
        self.server_version: Optional[int] = None
        #: (status, message) of the GOAWAY the server sent, if any.
        self.goaway: Optional[Tuple[int, str]] = None
        self.closed = False
        self._buffer = bytearray()
        self._next_call_id = 1
        self._calls: Dict[int, Call] = {}
        self._pongs: Deque[bytes] = collections.deque()

    # -- set-up and tear-down ------------------------------------------------

    @classmethod
    def open(cls, path: Optional[str] = None, *, timeout: Optional[float] = 10.0,
             version: int = PROTOCOL_VERSION, **kwargs) -> "Connection":
        """Connects, sends the preface and checks the server's answer.
        ``timeout`` bounds the connect and the wait for the server preface."""
        path = path or default_socket_path()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(client_preface(version))
            conn = cls(sock, **kwargs)
            deadline = None if timeout is None else time.monotonic() + timeout
            while len(conn._buffer) < PREFACE_LENGTH:
                conn._fill(deadline, in_preface=True)
            server_version, status = parse_preface(bytes(conn._buffer[:PREFACE_LENGTH]))
            del conn._buffer[:PREFACE_LENGTH]
            conn.server_version = server_version
            if status != 0:
                raise PrefaceRejected(status, server_version)
            sock.settimeout(None)
            return conn
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        """Closes the socket. The server cancels whatever is still in flight."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            finally:
                self._fail_pending("connection closed by the client")

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_flight(self) -> int:
        """Calls started and not yet ended."""
        return len(self._calls)

    # -- calls -----------------------------------------------------------------

    def start_call(self, method: str, payload: bytes = b"", metadata: Optional[Sequence[Tuple[str, str]]] = None,
                   timeout_s: Optional[float] = None, call_id: Optional[int] = None) -> Call:
        """Sends a REQUEST and returns its Call without waiting. Start several,
        then wait on each (in any order): frames for the others are kept."""
        if call_id is None:
            call_id = self._next_call_id
            self._next_call_id += 1
        if call_id <= 0 or call_id in self._calls:
            raise ValueError("call_id %d is zero or already in flight" % call_id)
        call = Call(self, call_id, method)
        if self.goaway is not None:
            call._finish(StatusCode.UNAVAILABLE, "connection is going away: %s" % self.goaway[1], local=True)
            return call
        if self.closed:
            call._finish(StatusCode.UNAVAILABLE, "connection is closed", local=True)
            return call
        header = FrameHeader(call_id=call_id, kind=FrameKind.REQUEST, method=method,
                             metadata=_check_metadata(metadata or ()),
                             timeout_us=0 if timeout_s is None else max(1, int(timeout_s * 1_000_000)))
        self._calls[call_id] = call
        self.send_frame(header, payload)
        return call

    def call(self, method: str, payload: bytes = b"", metadata: Optional[Sequence[Tuple[str, str]]] = None,
             timeout_s: Optional[float] = None) -> Tuple[int, str, bytes]:
        """A unary call: returns (status, status_message, response payload).

        With ``timeout_s`` the server enforces the deadline (DEADLINE_EXCEEDED);
        should no answer come within timeout_s + 1 s, the client sends CANCEL and
        returns DEADLINE_EXCEEDED itself."""
        call = self.start_call(method, payload, metadata, timeout_s)
        if timeout_s is None:
            return call.result()
        try:
            return call.result(timeout_s + 1.0)
        except TimeoutError:
            call.cancel()
            self._calls.pop(call.call_id, None)  # ids are never reused, so a late answer is dropped
            call._finish(StatusCode.DEADLINE_EXCEEDED, "no answer within the deadline (client-side)", local=True)
            return call.status, call.message, call.payload

    def stream(self, method: str, payload: bytes = b"", metadata: Optional[Sequence[Tuple[str, str]]] = None,
               timeout_s: Optional[float] = None) -> Call:
        """Starts a server-streaming call; iterate the result for the messages."""
        return self.start_call(method, payload, metadata, timeout_s)

    def cancel(self, call_id: int) -> None:
        """Sends CANCEL for ``call_id``; the server still ends the call with a RESPONSE."""
        call = self._calls.get(call_id)
        if call is not None:
            call.cancel_sent = True
        self.send_frame(FrameHeader(call_id=call_id, kind=FrameKind.CANCEL))

    def ping(self, payload: bytes = b"", timeout: Optional[float] = 10.0) -> bytes:
        """Sends PING and waits for the PONG; returns its payload. The server
        answers PINGs in order, so PONGs are matched first-in, first-out."""
        self._pongs.clear()
        self.send_frame(FrameHeader(kind=FrameKind.PING), payload)
        self._wait(lambda: bool(self._pongs), timeout)
        return self._pongs.popleft()

    def wait_all(self, calls: Sequence[Call], timeout: Optional[float] = None) -> None:
        """Waits until every call in ``calls`` has ended."""
        self._wait(lambda: all(c.done for c in calls), timeout)

    # -- frames --------------------------------------------------------------

    def send_frame(self, header: FrameHeader, payload: bytes = b"") -> None:
        """Writes one frame as is (low level: no bookkeeping)."""
        if self.closed:
            raise ConnectionClosed("connection is closed", self.goaway)
        try:
            self.sock.sendall(encode_frame(header, payload))
        except OSError as error:
            self._on_eof()
            raise ConnectionClosed("cannot write to the server: %s" % error, self.goaway) from error

    def recv_frame(self, timeout: Optional[float] = None) -> Tuple[FrameHeader, bytes]:
        """Reads the next frame as is (low level: it is NOT dispatched to its
        call, and PINGs are not answered). Raises TimeoutError or ConnectionClosed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            self._fill(deadline)

    def process_one(self, timeout: Optional[float] = None) -> Tuple[FrameHeader, bytes]:
        """Reads one frame and handles it (to its call, PONG queue, GOAWAY, or answers a PING)."""
        header, payload = self.recv_frame(timeout)
        self._dispatch(header, payload)
        return header, payload

    def _dispatch(self, header: FrameHeader, payload: bytes) -> None:
        kind = header.kind
        if kind == FrameKind.MESSAGE:
            call = self._calls.get(header.call_id)
            if call is not None:  # else: a call we gave up on; drop it
                call._messages.append(payload)
        elif kind == FrameKind.RESPONSE:
            call = self._calls.pop(header.call_id, None)
            if call is not None:
                call._finish(header.status, header.status_message, payload, header.metadata)
        elif kind == FrameKind.PING:
            self.send_frame(FrameHeader(kind=FrameKind.PONG), payload)
        elif kind == FrameKind.PONG:
            self._pongs.append(payload)
        elif kind == FrameKind.GOAWAY:
            self.goaway = (header.status, header.status_message)
        else:
            raise ProtocolError("the server sent a %s frame" % _enum_name(FrameKind, kind))

    def _take_frame(self) -> Optional[Tuple[FrameHeader, bytes]]:
        buffer = self._buffer
        if len(buffer) < FRAME_PREFIX_LENGTH:
            return None
        header_length, payload_length = struct.unpack_from(">II", buffer)
        if header_length > MAX_HEADER_BYTES:
            raise ProtocolError("frame header of %d bytes is over the limit" % header_length)
        if payload_length > self.max_payload_bytes:
            raise ProtocolError("frame payload of %d bytes is over this client's limit" % payload_length)
        end = FRAME_PREFIX_LENGTH + header_length + payload_length
        if len(buffer) < end:
            return None
        header = FrameHeader.decode(bytes(buffer[FRAME_PREFIX_LENGTH:FRAME_PREFIX_LENGTH + header_length]))
        payload = bytes(buffer[FRAME_PREFIX_LENGTH + header_length:end])
        del buffer[:end]
        return header, payload

    def _fill(self, deadline: Optional[float], in_preface: bool = False) -> None:
        """Reads more bytes into the buffer. Bytes are never lost on a timeout."""
        if self.closed:
            raise ConnectionClosed("connection is closed", self.goaway)
        if deadline is None:
            self.sock.settimeout(None)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out waiting for the server")
            self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(256 * 1024)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server") from None
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self._on_eof()
            what = "before its preface" if in_preface else ""
            raise ConnectionClosed(("the server closed the connection " + what).strip(), self.goaway)
        self._buffer += data

    def _on_eof(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
        reason = "connection closed by the server before the call ended"
        if self.goaway is not None:
            reason += " (GOAWAY %s: %s)" % (status_name(self.goaway[0]), self.goaway[1])
        self._fail_pending(reason)

    def _fail_pending(self, reason: str) -> None:
        for call in self._calls.values():
            call._finish(StatusCode.UNAVAILABLE, reason, local=True)
        self._calls.clear()

    def _wait(self, ready: Callable[[], bool], timeout: Optional[float]) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not ready():
            try:
                frame = self._take_frame()
                if frame is None:
                    self._fill(deadline)
                    continue
                self._dispatch(*frame)
            except ConnectionClosed:
                if ready():
                    return
                raise


def connect(path: Optional[str] = None, *, timeout: Optional[float] = 10.0, **kwargs) -> Connection:
    """Connects to crmd at ``path`` (default: $CRM_SOCKET, else ./crm.sock) and
    checks the preface. Raises PrefaceRejected if the server refuses."""
    return Connection.open(path, timeout=timeout, **kwargs)


# --------------------------------------------------------------------------
# crm.kernel.v1 messages
# --------------------------------------------------------------------------

@dataclass
class HealthCheckRequest(Message):
    service: str = ""
    FIELDS = {1: ("service", "string")}


@dataclass
class ServiceHealth(Message):
    service: str = ""
    status: int = 0
    plugin: str = ""
    FIELDS = {1: ("service", "string"), 2: ("status", "uint"), 3: ("plugin", "string")}


@dataclass
class HealthCheckResponse(Message):
    status: int = 0
    services: List[ServiceHealth] = field(default_factory=list)
    FIELDS = {1: ("status", "uint"), 2: ("services", [ServiceHealth])}

    @property
    def status_name(self) -> str:
        return _enum_name(ServingStatus, self.status)


@dataclass
class ListPluginsRequest(Message):
    page_size: int = 0
    page_token: str = ""
    FIELDS = {1: ("page_size", "uint"), 2: ("page_token", "string")}


@dataclass
class PluginDependency(Message):
    name: str = ""
    version_range: str = ""
    FIELDS = {1: ("name", "string"), 2: ("version_range", "string")}


@dataclass
class PluginInfo(Message):
    name: str = ""
    version: str = ""
    state: int = 0
    reason: str = ""
    path: str = ""
    abi_version: int = 0
    description: str = ""
    dependencies: List[PluginDependency] = field(default_factory=list)
    services: List[str] = field(default_factory=list)
    load_order: int = 0
    FIELDS = {1: ("name", "string"), 2: ("version", "string"), 3: ("state", "uint"), 4: ("reason", "string"),
              5: ("path", "string"), 6: ("abi_version", "uint"), 7: ("description", "string"),
              8: ("dependencies", [PluginDependency]), 9: ("services", ["string"]), 10: ("load_order", "uint")}

    @property
    def state_name(self) -> str:
        return _enum_name(PluginState, self.state)


@dataclass
class ListPluginsResponse(Message):
    plugins: List[PluginInfo] = field(default_factory=list)
    next_page_token: str = ""
    FIELDS = {1: ("plugins", [PluginInfo]), 2: ("next_page_token", "string")}


@dataclass
class ListServicesRequest(Message):
    page_size: int = 0
    page_token: str = ""
    FIELDS = {1: ("page_size", "uint"), 2: ("page_token", "string")}


@dataclass
class MethodInfo(Message):
    full_name: str = ""
    name: str = ""
    request_type: str = ""
    response_type: str = ""
    server_streaming: bool = False
    FIELDS = {1: ("full_name", "string"), 2: ("name", "string"), 3: ("request_type", "string"),
              4: ("response_type", "string"), 5: ("server_streaming", "bool")}


@dataclass
class ServiceInfo(Message):
    name: str = ""
    plugin: str = ""
    methods: List[MethodInfo] = field(default_factory=list)
    FIELDS = {1: ("name", "string"), 2: ("plugin", "string"), 3: ("methods", [MethodInfo])}


@dataclass
class ListServicesResponse(Message):
    services: List[ServiceInfo] = field(default_factory=list)
    next_page_token: str = ""
    FIELDS = {1: ("services", [ServiceInfo]), 2: ("next_page_token", "string")}


@dataclass
class GetFileDescriptorSetRequest(Message):
    service: str = ""
    FIELDS = {1: ("service", "string")}


@dataclass
class GetFileDescriptorSetResponse(Message):
    service: str = ""
    plugin: str = ""
    file_descriptor_set: bytes = b""
    FIELDS = {1: ("service", "string"), 2: ("plugin", "string"), 3: ("file_descriptor_set", "bytes")}


# --------------------------------------------------------------------------
# Kernel service helpers (raise RPCError on a non-OK status)
# --------------------------------------------------------------------------

def health_check(conn: Connection, service: str = "", timeout_s: Optional[float] = None) -> HealthCheckResponse:
    """crm.kernel.v1.Health/Check."""
    call = conn.start_call(HEALTH_CHECK, HealthCheckRequest(service).encode(), timeout_s=timeout_s)
    return HealthCheckResponse.decode(call.check())


def health_watch(conn: Connection, service: str = "") -> Iterator[HealthCheckResponse]:
    """crm.kernel.v1.Health/Watch: yields each update. Stop by closing the
    generator (it cancels the call and waits for the RESPONSE)."""
    call = conn.stream(HEALTH_WATCH, HealthCheckRequest(service).encode())
    try:
        for message in call:
            yield HealthCheckResponse.decode(message)
    finally:
        if not call.done and not conn.closed:
            call.cancel()
            try:
                call.result(10.0)
            except CRMError:
                pass


def _paged(conn: Connection, method: str, request_type, response_type, items: str, page_size: int) -> list:
    result = []
    token = ""
    while True:
        call = conn.start_call(method, request_type(page_size=page_size, page_token=token).encode())
        response = response_type.decode(call.check())
        result.extend(getattr(response, items))
        token = response.next_page_token
        if not token:
            return result


def list_plugins(conn: Connection, page_size: int = 0) -> List[PluginInfo]:
    """crm.kernel.v1.Plugins/List, every page."""
    return _paged(conn, PLUGINS_LIST, ListPluginsRequest, ListPluginsResponse, "plugins", page_size)


def list_services(conn: Connection, page_size: int = 0) -> List[ServiceInfo]:
    """crm.kernel.v1.Reflection/ListServices, every page."""
    return _paged(conn, REFLECTION_LIST_SERVICES, ListServicesRequest, ListServicesResponse, "services", page_size)


def get_file_descriptor_set(conn: Connection, service: str) -> GetFileDescriptorSetResponse:
    """crm.kernel.v1.Reflection/GetFileDescriptorSet."""
    call = conn.start_call(REFLECTION_GET_FILE_DESCRIPTOR_SET, GetFileDescriptorSetRequest(service).encode())
    return GetFileDescriptorSetResponse.decode(call.check())
