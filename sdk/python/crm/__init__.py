"""A small, dependency-free Python 3 client for crmd's RPC protocol.

The wire protocol is specified in docs/PROTOCOL.md; this package follows it and
nothing else. Its modules:

* ``protocol``: the constants and enums (``StatusCode``, ``FrameKind``, ...),
* ``errors``: the exceptions,
* ``wire``: a minimal protobuf codec, ``Message``, ``FrameHeader``, frames and
  prefaces,
* ``call`` and ``connection``: ``Connection`` (connect with the preface check,
  unary calls, server-stream iteration, cancellation, PING, any number of calls
  in flight on one connection, multiplexed by call_id) and its ``Call`` objects,
* ``kernel``: the messages of the kernel's ``Health``, ``Plugins`` and
  ``Reflection`` services, and helpers that call them.

Everything public is re-exported here, so ``import crm`` is all you need.
Request and response payloads of other services are plain ``bytes``: encode
them with any protobuf library you like.

A ``Connection`` is not thread-safe: use it from one thread (or guard it with a
lock). Several calls can still be in flight at once; see ``Connection.start_call``.

    import crm
    with crm.connect() as conn:                       # $CRM_SOCKET or ./crm.sock
        status, message, payload = conn.call(crm.HEALTH_CHECK,
                                             crm.HealthCheckRequest().encode())
        print(crm.status_name(status), crm.HealthCheckResponse.decode(payload))
"""

from .call import Call
from .connection import Connection, connect
from .errors import ConnectionClosed, CRMError, DecodeError, PrefaceRejected, ProtocolError, RPCError
from .kernel import (HEALTH_CHECK, HEALTH_WATCH, PLUGINS_LIST, REFLECTION_GET_FILE_DESCRIPTOR_SET,
                     REFLECTION_LIST_SERVICES, GetFileDescriptorSetRequest, GetFileDescriptorSetResponse,
                     HealthCheckRequest, HealthCheckResponse, ListPluginsRequest, ListPluginsResponse,
                     ListServicesRequest, ListServicesResponse, MethodInfo, PluginDependency, PluginInfo,
                     ServiceHealth, ServiceInfo, get_file_descriptor_set, health_check, health_watch,
                     list_plugins, list_services)
from .protocol import (DEFAULT_CLIENT_MAX_PAYLOAD, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SOCKET, FRAME_PREFIX_LENGTH,
                       MAGIC, MAX_HEADER_BYTES, PREFACE_LENGTH, PROTOCOL_VERSION, FrameKind, PluginState,
                       ServingStatus, StatusCode, default_socket_path, enum_name, status_name)
from .wire import (WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, FrameHeader, Message, client_preface, decode_varint,
                   encode_frame, encode_varint, field_bytes, field_message, field_varint, iter_fields,
                   parse_preface)

__all__ = [
    "PROTOCOL_VERSION", "MAGIC", "DEFAULT_SOCKET", "MAX_HEADER_BYTES", "DEFAULT_MAX_MESSAGE_BYTES",
    "StatusCode", "FrameKind", "ServingStatus", "PluginState", "status_name", "enum_name",
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
