"""Protocol constants and enums (docs/PROTOCOL.md §4, §5, §10, §11)."""

from __future__ import annotations

import enum
import os

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


def enum_name(enum_type, value: int) -> str:
    """The enum member's name, or the number for a value the enum lacks."""
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

