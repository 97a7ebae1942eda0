import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import NIOCore
import Testing

/// A peer that misbehaves at the socket level (leaves while its answers are
/// written, opens and drops thousands of connections) must neither crash
/// crmd nor leave memory behind.
@Suite(.serialized) struct ConnectionRobustnessTests {
    /// Preface, one frame the server answers at once, 20,000 PINGs, then a
    /// close without reading: the server's writes fail while it still has
    /// bytes of ours to read, which used to re-enter the read handler after
    /// its state was gone.
    @Test(arguments: ["header length 0", "cancel of a health watch"])
    func peerLeavingWhileAnswersAreWrittenDoesNotCrashCrmd(opening: String) async throws {
        let crmd = try CrmdProcess()
        var ping = Crm_Rpc_V1_FrameHeader()
        ping.kind = .ping
        var pings = ByteBuffer()
        for _ in 0..<20_000 { FrameEncoder.write(ping, payloadBytes: [1, 2, 3, 4], into: &pings) }
        let pingBytes = Array(pings.readableBytesView)
        for _ in 0..<12 {
            let raw = try RawClient(path: crmd.socketPath)
            raw.setSendBuffer(8 << 20)
            var bytes = Preface.clientBytes()
            if opening == "header length 0" {
                bytes += [0, 0, 0, 0, 0, 0, 0, 0]  // H = 0, P = 0: a protocol error, answered by GOAWAY
            } else {
                var watch = Crm_Rpc_V1_FrameHeader()
                watch.callID = 1
                watch.kind = .request
                watch.method = "/crm.kernel.v1.Health/Watch"
                var cancel = Crm_Rpc_V1_FrameHeader()
                cancel.callID = 1
                cancel.kind = .cancel
                var frames = ByteBuffer()
                FrameEncoder.write(watch, payloadBytes: [], into: &frames)
                FrameEncoder.write(cancel, payloadBytes: [], into: &frames)
                bytes += Array(frames.readableBytesView)
            }
            raw.sendUntilRefused(bytes + pingBytes)
            raw.closeAbruptly()
        }
        // Still serving, on a new connection.
        let client = try crmd.connect()
        let health: Crm_Kernel_V1_HealthCheckResponse = try await client.call(
            "/crm.kernel.v1.Health/Check", Crm_Kernel_V1_HealthCheckRequest())
        #expect(health.status == .serving)
        #expect(crmd.isRunning, "crmd died:\n\(crmd.log.suffix(2000))")
    }

    /// Connections that close while holding part of a frame, cleanly, abruptly
    /// or by the read timeout, and bare connect-preface-close cycles, leave
    /// crmd's memory where it was.
    @Test func closedConnectionsLeaveNoMemoryBehind() async throws {
        let crmd = try CrmdProcess(arguments: ["--read-timeout-ms", "300"])
        // A frame announcing 256 KiB of payload, of which 128 KiB arrive.
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = 1
        header.kind = .request
        header.method = "/crm.testing.v1.Probe/Echo"
        var frame = ByteBuffer()
        FrameEncoder.write(header, payloadBytes: [UInt8](repeating: 7, count: 256 * 1024), into: &frame)
        let partial = Preface.clientBytes() + Array(frame.readableBytesView.prefix(128 * 1024))

        func connections(_ count: Int, _ close: (RawClient) throws -> Void) throws {
            for _ in 0..<count {
                let raw = try RawClient(path: crmd.socketPath)
                try raw.send(partial)
                try close(raw)
            }
        }
        func round() async throws {
            try connections(500, { $0.closeAbruptly() })
            try connections(500, { $0.closeCleanly() })
            // Held open together until the server's read timeout closes them.
            var held: [RawClient] = []
            for _ in 0..<300 {
                let raw = try RawClient(path: crmd.socketPath)
                try raw.send(partial)
                held.append(raw)
            }
            for raw in held {
                _ = try raw.readExactly(Preface.length)
                _ = try raw.framesUntilClosed(timeout: 10)
            }
            held.removeAll()
            for _ in 0..<1000 {
                let raw = try RawClient(path: crmd.socketPath)
                try raw.handshake()
                raw.closeCleanly()
            }
            try await settle(crmd)
        }
        // The first round warms allocator pools and the loops' buffers, and
        // sets the peak malloc keeps; a leak grows with every round after it.
        try await round()
        let before = try crmd.residentBytes()
        try await round()
        try await round()
        let after = try crmd.residentBytes()
        print("crmd RSS after a warm-up round: \(before / 1024) KiB; after two more rounds of 2,300 connections: \(after / 1024) KiB")
        let grownMiB = Double(after - before) / 1_048_576
        // Two rounds of 1,300 leaked partial frames would be about 325 MiB.
        #expect(grownMiB < 8, "crmd RSS grew from \(before / 1024) KiB to \(after / 1024) KiB")
        #expect(crmd.isRunning)
    }

    /// Waits until the server has closed every connection we dropped.
    private func settle(_ crmd: CrmdProcess) async throws {
        let client = try crmd.connect()
        _ = try await client.ping()
        // crmd trims its heap a second after connections close.
        try await Task.sleep(for: .milliseconds(1600))
        client.close()
    }
}
