import CRMProto
import CRMWire
import NIOCore
import Testing

@Suite struct FrameParserTests {
    func frame(_ id: UInt64, payload: [UInt8]) -> [UInt8] {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = id
        header.kind = .request
        header.method = "/a.B/C"
        var buffer = ByteBuffer()
        FrameEncoder.write(header, payloadBytes: payload, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func framesArrivingOneByteAtATimeAreReassembled() throws {
        var parser = FrameParser(maxPayloadBytes: 1024)
        let bytes = frame(1, payload: [1, 2, 3]) + frame(2, payload: [])
        var buffer = ByteBuffer()
        var ids: [UInt64] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            while case .frame(let header, let payload)? = try parser.next(&buffer) {
                ids.append(header.callID)
                if header.callID == 1 { #expect(Array(payload.readableBytesView) == [1, 2, 3]) }
            }
        }
        #expect(ids == [1, 2])
    }

    @Test func oversizePayloadIsReportedAndSkippedWithoutBuffering() throws {
        var parser = FrameParser(maxPayloadBytes: 4)
        var buffer = ByteBuffer(bytes: frame(1, payload: Array(repeating: 7, count: 100)) + frame(2, payload: [9]))
        guard case .oversize(let header, let length)? = try parser.next(&buffer) else {
            Issue.record("expected oversize")
            return
        }
        #expect(header.callID == 1 && length == 100)
        guard case .frame(let next, _)? = try parser.next(&buffer) else {
            Issue.record("expected the next frame")
            return
        }
        #expect(next.callID == 2)
    }

    @Test func undecodableHeaderIsAProtocolError() {
        var parser = FrameParser(maxPayloadBytes: 4)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff])
        #expect(throws: FrameParser.ProtocolError.self) { _ = try parser.next(&buffer) }
    }

    @Test func prefaceRoundTrips() {
        #expect(Preface.parse(Preface.clientBytes()).map { [$0.version, $0.field] } == [1, 0])
        #expect(Preface.parse(Preface.serverBytes(status: .unimplemented))?.field == 12)
        #expect(Preface.parse(Array("GET / HT".utf8)) == nil)
    }

    @Test func statusNamesMatchGRPC() {
        #expect(Crm_Rpc_V1_StatusCode.internal.name == "INTERNAL")
        #expect(Crm_Rpc_V1_StatusCode(code: 5) == .notFound)
        #expect(Crm_Rpc_V1_StatusCode(code: 99) == .unknown)
    }
}
