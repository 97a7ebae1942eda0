"""The kernel's own services, crm.kernel.v1 Health, Reflection and Plugins
(docs/PROTOCOL.md §11): their messages and helpers that call them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional

from .connection import Connection
from .errors import CRMError
from .protocol import PluginState, ServingStatus, enum_name
from .wire import Message

HEALTH_CHECK = "/crm.kernel.v1.Health/Check"
HEALTH_WATCH = "/crm.kernel.v1.Health/Watch"
PLUGINS_LIST = "/crm.kernel.v1.Plugins/List"
REFLECTION_LIST_SERVICES = "/crm.kernel.v1.Reflection/ListServices"
REFLECTION_GET_FILE_DESCRIPTOR_SET = "/crm.kernel.v1.Reflection/GetFileDescriptorSet"


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

    @property
    def status_name(self) -> str:
        return enum_name(ServingStatus, self.status)


@dataclass
class HealthCheckResponse(Message):
    status: int = 0
    services: List[ServiceHealth] = field(default_factory=list)
    FIELDS = {1: ("status", "uint"), 2: ("services", [ServiceHealth])}

    @property
    def status_name(self) -> str:
        return enum_name(ServingStatus, self.status)


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
        return enum_name(PluginState, self.state)


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


# Helpers: they decode the answer, and raise RPCError on a status other than OK.

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
