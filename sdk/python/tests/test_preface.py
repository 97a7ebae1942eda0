"""The connection preface (docs/PROTOCOL.md §4)."""

import struct

import pytest

import crm
from crm import FrameHeader, FrameKind, StatusCode
from helpers import IO_TIMEOUT, SOCKET, decode_health, expect_eof, raw_socket, recv_exact, request


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
