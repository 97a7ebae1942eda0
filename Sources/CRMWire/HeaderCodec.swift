import CRMRPCContract
import NIOCore
import SwiftProtobuf

/// Hand-written encoding and decoding of the common FrameHeader shapes, to
/// keep the per-call path free of allocations. The bytes are exactly what
/// swift-protobuf writes (fields in number order, defaults omitted), and
/// decoding falls back to swift-protobuf for anything else (metadata,
/// unknown fields), so the wire format is unchanged.
public enum HeaderCodec {
    /// Appends a whole frame whose header has only call id, kind, status and message.
    public static func writeFrame(into out: inout ByteBuffer, callID: UInt64, kind: Crm_Rpc_V1_FrameKind,
                                  status: Int = 0, message: String = "", payload: UnsafeRawBufferPointer) {
        var message = message
        message.withUTF8 { text in
            var headerLength = 0
            if callID != 0 { headerLength += 1 + varintSize(callID) }
            if kind.rawValue != 0 { headerLength += 1 + varintSize(UInt64(kind.rawValue)) }
            if status != 0 { headerLength += 1 + varintSize(UInt64(status)) }
            if text.count > 0 { headerLength += 1 + varintSize(UInt64(text.count)) + text.count }
            out.reserveCapacity(minimumWritableBytes: 8 + headerLength + payload.count)
            out.writeInteger(UInt32(headerLength))
            out.writeInteger(UInt32(payload.count))
            if callID != 0 { out.writeInteger(UInt8(0x08)); writeVarint(callID, &out) }
            if kind.rawValue != 0 { out.writeInteger(UInt8(0x10)); writeVarint(UInt64(kind.rawValue), &out) }
            if status != 0 { out.writeInteger(UInt8(0x30)); writeVarint(UInt64(status), &out) }
            if text.count > 0 {
                out.writeInteger(UInt8(0x3a))
                writeVarint(UInt64(text.count), &out)
                out.writeBytes(UnsafeRawBufferPointer(text))
            }
            out.writeBytes(payload)
        }
    }

    /// Appends the length prefix and a header with only call id and kind;
    /// the caller writes `payloadLength` payload bytes next.
    public static func writeFrameHeader(into out: inout ByteBuffer, callID: UInt64, kind: Crm_Rpc_V1_FrameKind,
                                        payloadLength: Int) {
        var headerLength = 0
        if callID != 0 { headerLength += 1 + varintSize(callID) }
        if kind.rawValue != 0 { headerLength += 1 + varintSize(UInt64(kind.rawValue)) }
        out.reserveCapacity(minimumWritableBytes: 8 + headerLength + payloadLength)
        out.writeInteger(UInt32(headerLength))
        out.writeInteger(UInt32(payloadLength))
        if callID != 0 { out.writeInteger(UInt8(0x08)); writeVarint(callID, &out) }
        if kind.rawValue != 0 { out.writeInteger(UInt8(0x10)); writeVarint(UInt64(kind.rawValue), &out) }
    }

    /// Decodes a header; nil when it holds something the fast path does not
    /// handle (the caller then uses swift-protobuf). Throws on malformed bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> Crm_Rpc_V1_FrameHeader? {
        var header = Crm_Rpc_V1_FrameHeader()
        var i = 0
        while i < bytes.count {
            let tag = try readVarint(bytes, &i)
            switch tag {
            case 0x08: header.callID = try readVarint(bytes, &i)
            case 0x10: header.kind = Crm_Rpc_V1_FrameKind(rawValue: Int(truncatingIfNeeded: try readVarint(bytes, &i))) ?? .unspecified
            case 0x28: header.timeoutUs = try readVarint(bytes, &i)
            case 0x30: header.status = Crm_Rpc_V1_StatusCode(rawValue: Int(truncatingIfNeeded: try readVarint(bytes, &i))) ?? .unknown
            case 0x1a, 0x3a:
                // Compared as UInt64 first: a forged length near 2^64 must not trap.
                let rawLength = try readVarint(bytes, &i)
                guard rawLength <= UInt64(bytes.count - i) else { throw BinaryDecodingError.truncated }
                let length = Int(rawLength)
                guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)]), as: UTF8.self) else {
                    throw BinaryDecodingError.invalidUTF8
                }
                i += length
                if tag == 0x1a { header.method = text } else { header.statusMessage = text }
            default:
                return nil
            }
        }
        return header
    }

    public static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    public static func writeVarint(_ value: UInt64, _ out: inout ByteBuffer) {
        var v = value
        while v >= 0x80 {
            out.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.writeInteger(UInt8(v))
    }

    private static func readVarint(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.count {
            let byte = bytes[i]
            i += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift >= 64 { throw BinaryDecodingError.malformedProtobuf }
        }
        throw BinaryDecodingError.truncated
    }
}
