"""One call on a connection: its result, or its stream of messages."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Deque, Iterator, List, Optional, Sequence, Tuple

from .errors import RPCError
from .protocol import StatusCode, status_name

if TYPE_CHECKING:  # only for annotations: connection.py imports this module
    from .connection import Connection


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
