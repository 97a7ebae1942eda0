"""The protobuf wire format (just what this client needs), the frame header,
frames and prefaces (docs/PROTOCOL.md §2, §4, §5)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Tuple, Union

from .errors import DecodeError, ProtocolError
from .protocol import (MAGIC, MAX_HEADER_BYTES, PREFACE_LENGTH, PROTOCOL_VERSION, FrameKind, enum_name,
                       status_name)

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
        kind = enum_name(FrameKind, self.kind)
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
