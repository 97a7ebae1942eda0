import CRMRPCContract
import CRMWire
import NIOCore

/// One Events/Subscribe MESSAGE frame holding a crm.kernel.v1.Event,
/// written by hand in one ByteBuffer access: the length prefix, a header of
/// call id and kind (as HeaderCodec.writeFrameHeader writes it), then the
/// event's fields in number order with defaults omitted, as swift-protobuf
/// would. Byte by byte through ByteBuffer cost more than the SQLite read.
struct EventFrame {
    var sequence: UInt64
    var topic: UnsafeRawBufferPointer
    var typeName: UnsafeRawBufferPointer
    var payload: UnsafeRawBufferPointer
    var publishedMicros: Int64
    var publisher: UnsafeRawBufferPointer
    var entity: UnsafeRawBufferPointer
    var recordID: UnsafeRawBufferPointer
    var owner: UnsafeRawBufferPointer
    var redacted: Bool

    /// Appends the frame; false (nothing written) if the event is over the
    /// 4 GiB a frame's payload length can say, which SQLite's own value
    /// limit rules out for a real row.
    func write(callID: UInt64, into out: inout ByteBuffer) -> Bool {
        let published = UInt64(bitPattern: publishedMicros)
        var body = 1 + HeaderCodec.varintSize(sequence) + Self.size(topic) + Self.size(typeName) + Self.size(payload)
        if published != 0 { body += 1 + HeaderCodec.varintSize(published) }
        body += Self.size(publisher) + Self.size(entity) + Self.size(recordID) + Self.size(owner)
        if redacted { body += 2 }
        let kind = UInt64(Crm_Rpc_V1_FrameKind.message.rawValue)
        let header = (callID != 0 ? 1 + HeaderCodec.varintSize(callID) : 0) + 1 + HeaderCodec.varintSize(kind)
        guard body <= Int(UInt32.max) else { return false }
        let total = 8 + header + body
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            let p = raw.baseAddress!
            var n = 0
            p.storeBytes(of: UInt32(header).bigEndian, toByteOffset: 0, as: UInt32.self)
            p.storeBytes(of: UInt32(body).bigEndian, toByteOffset: 4, as: UInt32.self)
            n = 8
            if callID != 0 { Self.putByte(0x08, p, &n); Self.putVarint(callID, p, &n) }
            Self.putByte(0x10, p, &n); Self.putVarint(kind, p, &n)
            Self.putByte(0x08, p, &n); Self.putVarint(sequence, p, &n)
            Self.putField(0x12, topic, p, &n)
            Self.putField(0x1a, typeName, p, &n)
            Self.putField(0x22, payload, p, &n)
            if published != 0 { Self.putByte(0x28, p, &n); Self.putVarint(published, p, &n) }
            Self.putField(0x32, publisher, p, &n)
            Self.putField(0x3a, entity, p, &n)    // 7
            Self.putField(0x42, recordID, p, &n)  // 8
            Self.putField(0x4a, owner, p, &n)     // 9
            if redacted { Self.putByte(0x50, p, &n); Self.putByte(0x01, p, &n) }  // 10: true
            assert(n == total)
            return n
        }
        return true
    }

    /// A length-delimited field's size; 0 for an empty one (omitted).
    @inline(__always)
    private static func size(_ field: UnsafeRawBufferPointer) -> Int {
        field.count == 0 ? 0 : 1 + HeaderCodec.varintSize(UInt64(field.count)) + field.count
    }

    @inline(__always)
    private static func putByte(_ byte: UInt8, _ p: UnsafeMutableRawPointer, _ n: inout Int) {
        p.storeBytes(of: byte, toByteOffset: n, as: UInt8.self)
        n += 1
    }

    @inline(__always)
    private static func putVarint(_ value: UInt64, _ p: UnsafeMutableRawPointer, _ n: inout Int) {
        var v = value
        while v >= 0x80 {
            putByte(UInt8(truncatingIfNeeded: v) | 0x80, p, &n)
            v >>= 7
        }
        putByte(UInt8(v), p, &n)
    }

    @inline(__always)
    private static func putField(_ tag: UInt8, _ field: UnsafeRawBufferPointer, _ p: UnsafeMutableRawPointer, _ n: inout Int) {
        guard let base = field.baseAddress, field.count > 0 else { return }
        putByte(tag, p, &n)
        putVarint(UInt64(field.count), p, &n)
        (p + n).copyMemory(from: base, byteCount: field.count)
        n += field.count
    }
}
