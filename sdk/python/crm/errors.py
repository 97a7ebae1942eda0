"""The errors this package raises."""

from __future__ import annotations

from typing import Optional, Tuple

from .protocol import status_name


class CRMError(Exception):
    """Base class of this package's errors."""


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
