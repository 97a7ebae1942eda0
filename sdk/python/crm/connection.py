"""A connection to crmd: the preface, then multiplexed calls, PING and
GOAWAY handling (docs/PROTOCOL.md §4, §6, §7)."""

from __future__ import annotations

import collections
import socket
import struct
import time
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple

from .call import Call
from .errors import ConnectionClosed, PrefaceRejected, ProtocolError
from .protocol import (DEFAULT_CLIENT_MAX_PAYLOAD, FRAME_PREFIX_LENGTH, MAX_HEADER_BYTES, PREFACE_LENGTH,
                       PROTOCOL_VERSION, FrameKind, StatusCode, default_socket_path, enum_name, status_name)
from .wire import FrameHeader, client_preface, encode_frame, parse_preface


def _check_metadata(metadata: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    # §7.5: a later crmd may refuse other keys, so they are refused here already.
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
    checked = []
    for key, value in metadata:
        if not key or not set(key) <= allowed:
            raise ValueError("metadata key %r: keys are non-empty lowercase ASCII (a-z 0-9 - _ .)" % key)
        checked.append((key, str(value)))
    return checked


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
            error = ProtocolError("the server sent a %s frame" % enum_name(FrameKind, kind))
            self._broken(error)
            raise error

    def _take_frame(self) -> Optional[Tuple[FrameHeader, bytes]]:
        # §8: a client that cannot parse the server's bytes closes and fails its calls.
        try:
            return self._parse_frame()
        except ProtocolError as error:
            self._broken(error)
            raise

    def _parse_frame(self) -> Optional[Tuple[FrameHeader, bytes]]:
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
        reason = "connection closed by the server before the call ended"
        if self.goaway is not None:
            reason += " (GOAWAY %s: %s)" % (status_name(self.goaway[0]), self.goaway[1])
        self._shut(reason)

    def _broken(self, error: ProtocolError) -> None:
        self._buffer.clear()  # so later reads report the close, not the same bad bytes again
        self._shut("the server broke the protocol: %s" % error)

    def _shut(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
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
