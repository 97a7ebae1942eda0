import CRMProto
import CRMWire
import NIOCore
import SwiftProtobuf
import Testing

@Suite struct HeaderCodecTests {
    func decode(_ bytes: [UInt8]) throws -> Crm_Rpc_V1_FrameHeader? {
        try bytes.withUnsafeBytes { try HeaderCodec.decode($0) }
    }

    @Test func writtenHeaderIsByteIdenticalToSwiftProtobuf() throws {
        for (id, kind, status, message) in [
            (UInt64(1), Crm_Rpc_V1_FrameKind.response, 0, ""),
            (UInt64(300), .response, 5, "no such contact"),
            (UInt64.max, .message, 0, "é"),
            (UInt64(0), .pong, 0, ""),
        ] {
            var fast = ByteBuffer()
            HeaderCodec.writeFrame(into: &fast, callID: id, kind: kind, status: status, message: message,
                                   payload: UnsafeRawBufferPointer(start: nil, count: 0))
            var header = Crm_Rpc_V1_FrameHeader()
            header.callID = id
            header.kind = kind
            header.status = Crm_Rpc_V1_StatusCode(rawValue: status)!
            header.statusMessage = message
            var reference = ByteBuffer()
            FrameEncoder.write(header, payloadBytes: [], into: &reference)
            #expect(Array(fast.readableBytesView) == Array(reference.readableBytesView))
        }
    }

    @Test func decodedHeaderMatchesSwiftProtobuf() throws {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = 77
        header.kind = .request
        header.method = "/crm.kernel.v1.Health/Check"
        header.timeoutUs = 1_500_000
        let bytes: [UInt8] = try header.serializedBytes()
        #expect(try decode(bytes) == header)
    }

    @Test func forgedHugeLengthIsAnErrorNotATrap() {
        // Field 3 (method) with a length varint of 2^63 + 1: must throw, not overflow.
        let bytes: [UInt8] = [0x1a] + Array(repeating: 0xff, count: 9) + [0x01]
        #expect(throws: (any Error).self) { try decode(bytes) }
        let nearMax: [UInt8] = [0x3a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        #expect(throws: (any Error).self) { try decode(nearMax) }
    }

    @Test func truncatedAndInvalidInputsThrow() {
        #expect(throws: (any Error).self) { try decode([0x08]) }
        #expect(throws: (any Error).self) { try decode([0x1a, 0x05, 0x61]) }
        #expect(throws: (any Error).self) { try decode([0x1a, 0x01, 0xff]) }
        #expect(throws: (any Error).self) { try decode([0x08] + Array(repeating: 0xff, count: 10) + [0x01]) }
    }

    @Test func unusualFieldsFallBackToTheGeneralDecoder() throws {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = 1
        header.metadata = [.with { $0.key = "x-trace"; $0.value = "abc" }]
        let bytes: [UInt8] = try header.serializedBytes()
        #expect(try decode(bytes) == nil)
    }
}
