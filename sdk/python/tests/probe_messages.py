"""Messages of the conformance probe plugin, crm.testing.v1.Probe
(proto/crm/testing/v1/probe.proto), for the tests that call it."""

from dataclasses import dataclass, field
from typing import List

import crm
from helpers import PROBE_SERVICE

PROBE = "/" + PROBE_SERVICE + "/"  # prefix of the probe's method names


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

