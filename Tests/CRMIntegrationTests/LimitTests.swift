import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Bad input and limits: each gets a status (or a GOAWAY and a close), never
/// a crash or a hang, and the server keeps serving others.
@Suite struct LimitTests {
    let echo = "/crm.testing.v1.Probe/Echo"

    @Test func oversizeMessageIsResourceExhaustedAndTheConnectionStaysUsable() throws {
        let crmd = try CrmdProcess(arguments: ["--max-message-bytes", "1024"])
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        let big: [UInt8] = try Crm_Testing_V1_EchoRequest.with { $0.payload = Data(count: 5000) }.serializedBytes()
        try raw.request(1, echo, big)
        try raw.request(2, echo, [])
        let first = try #require(try raw.readFrame())
        #expect(first.header.callID == 1)
        #expect(first.header.status == .resourceExhausted)
        #expect(first.header.statusMessage.contains("1024"))
        let second = try #require(try raw.readFrame())
        #expect(second.header.callID == 2 && second.header.status == .ok)
    }

    @Test func oversizeRequestReusingAnInFlightCallIDIsAProtocolError() throws {
        let crmd = try CrmdProcess(arguments: ["--max-message-bytes", "1024"])
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        let sleep: [UInt8] = try Crm_Testing_V1_SleepRequest.with { $0.millis = 2000 }.serializedBytes()
        try raw.request(1, "/crm.testing.v1.Probe/Sleep", sleep)
        let big: [UInt8] = try Crm_Testing_V1_EchoRequest.with { $0.payload = Data(count: 5000) }.serializedBytes()
        try raw.request(1, echo, big)
        // Call 1 must not be answered twice: the duplicate id closes the connection.
        let frames = try raw.framesUntilClosed(timeout: 5)
        #expect(frames.filter { $0.kind == .response }.isEmpty)
        #expect(frames.first { $0.kind == .goaway }?.statusMessage.contains("call_id 1 is already in flight") == true)
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        await #expect(throws: RPCError(.unimplemented, "unknown method /crm.nope.v1.Nope/Nothing")) {
            _ = try await client.call("/crm.nope.v1.Nope/Nothing", [])
        }
    }

    @Test(arguments: ["/crm.testing.v1.Probe/Echo", "/crm.kernel.v1.Health/Check"])
    func undecodablePayloadIsInvalidArgument(method: String) async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        do {
            _ = try await client.call(method, [0xff, 0xff, 0xff, 0xff, 0x0f])
            Issue.record("garbage payload was accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("does not decode"))
        }
        // The connection and the server carry on.
        _ = try await client.call("/crm.kernel.v1.Health/Check", [])
    }

    @Test func garbagePrefaceIsRefusedAndTheServerIsUnharmed() throws {
        let crmd = try CrmdProcess()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        let answer = try raw.readExactly(Preface.length)
        #expect(Preface.parse(answer)?.field == UInt16(Crm_Rpc_V1_StatusCode.invalidArgument.rawValue))
        #expect(try raw.readSome().isEmpty)  // closed
        try RawClient(path: crmd.socketPath).handshake()
    }

    @Test func unsupportedProtocolVersionIsUnimplemented() throws {
        let crmd = try CrmdProcess()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.send(Preface.clientBytes(version: 99))
        let answer = try raw.readExactly(Preface.length)
        #expect(Preface.parse(answer)?.field == UInt16(Crm_Rpc_V1_StatusCode.unimplemented.rawValue))
        #expect(Preface.parse(answer)?.version == Preface.version)
        #expect(try raw.readSome().isEmpty)
    }

    @Test func malformedFrameHeaderIsAProtocolErrorThatClosesOnlyThatConnection() async throws {
        let crmd = try CrmdProcess()
        let bystander = try crmd.connect()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        // A header length of 5 whose bytes are not a FrameHeader.
        try raw.send([0, 0, 0, 5, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff])
        let frames = try raw.framesUntilClosed()
        #expect(frames.last?.kind == .goaway)
        #expect(frames.last?.status == .invalidArgument)
        _ = try await bystander.call("/crm.kernel.v1.Health/Check", [])
    }

    @Test func headerOverTheLimitIsAProtocolError() throws {
        let crmd = try CrmdProcess()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        try raw.send([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])
        let frames = try raw.framesUntilClosed()
        #expect(frames.last?.kind == .goaway)
        #expect(frames.last?.statusMessage.contains("header") == true)
    }

    @Test func duplicateCallIDInFlightIsAProtocolError() throws {
        let crmd = try CrmdProcess()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        let sleep: [UInt8] = try Crm_Testing_V1_SleepRequest.with { $0.millis = 2000 }.serializedBytes()
        try raw.request(7, "/crm.testing.v1.Probe/Sleep", sleep)
        try raw.request(7, echo)
        let frames = try raw.framesUntilClosed()
        #expect(frames.contains { $0.kind == .goaway && $0.statusMessage.contains("already in flight") })
    }

    @Test func tooManyCallsInFlightIsResourceExhausted() throws {
        let crmd = try CrmdProcess(arguments: ["--max-in-flight", "2"])
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        let sleep: [UInt8] = try Crm_Testing_V1_SleepRequest.with { $0.millis = 1000 }.serializedBytes()
        try raw.request(1, "/crm.testing.v1.Probe/Sleep", sleep)
        try raw.request(2, "/crm.testing.v1.Probe/Sleep", sleep)
        try raw.request(3, echo)
        let first = try #require(try raw.readFrame())
        #expect(first.header.callID == 3)
        #expect(first.header.status == .resourceExhausted)
        let rest = [try #require(try raw.readFrame()), try #require(try raw.readFrame())]
        #expect(Set(rest.map(\.header.callID)) == [1, 2])
        #expect(rest.allSatisfy { $0.header.status == .ok })
    }

    @Test func silentClientIsTimedOut() throws {
        let crmd = try CrmdProcess(arguments: ["--read-timeout-ms", "300"])
        let raw = try RawClient(path: crmd.socketPath)
        let started = Date()
        let frames = try raw.framesUntilClosed(timeout: 5)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.statusMessage.contains("read timeout") == true)
        #expect(Date().timeIntervalSince(started) < 4)
    }

    @Test func halfAFrameIsTimedOut() throws {
        let crmd = try CrmdProcess(arguments: ["--read-timeout-ms", "300"])
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        try raw.send([0, 0, 0, 40, 0, 0, 0, 0, 0x08])  // promises 40 header bytes, sends 1
        let frames = try raw.framesUntilClosed(timeout: 5)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.statusMessage.contains("incomplete frame") == true)
    }

    @Test func halfAFrameLongAfterTheHandshakeIsStillTimedOut() throws {
        // The idle limit is far off; only the read timeout can end this.
        let crmd = try CrmdProcess(arguments: ["--read-timeout-ms", "300"])
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        try raw.request(1, echo, [])
        #expect(try raw.readFrame()?.header.status == .ok)
        usleep(600_000)  // past the preface's read timer, which has re-armed for idle
        try raw.send([0, 0, 0, 40, 0, 0, 0, 0, 0x08])
        let frames = try raw.framesUntilClosed(timeout: 5)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.statusMessage.contains("incomplete frame") == true)
    }

    @Test func idleConnectionIsClosedButOneWithACallInFlightIsNot() throws {
        let crmd = try CrmdProcess(arguments: ["--idle-timeout-ms", "300"])
        let busy = try RawClient(path: crmd.socketPath)
        try busy.handshake()
        let sleep: [UInt8] = try Crm_Testing_V1_SleepRequest.with { $0.millis = 800 }.serializedBytes()
        try busy.request(1, "/crm.testing.v1.Probe/Sleep", sleep)
        let idle = try RawClient(path: crmd.socketPath)
        try idle.handshake()
        let frames = try idle.framesUntilClosed(timeout: 5)
        #expect(frames.first?.kind == .goaway && frames.first?.statusMessage == "idle timeout")
        let answer = try #require(try busy.readFrame())
        #expect(answer.header.callID == 1 && answer.header.status == .ok)
    }

    @Test func clientFramesOfServerKindsAreProtocolErrors() throws {
        let crmd = try CrmdProcess()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = 1
        header.kind = .response
        try raw.sendFrame(header)
        let frames = try raw.framesUntilClosed()
        #expect(frames.last?.kind == .goaway)
    }
}
