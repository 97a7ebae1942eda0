import CRMClient
import CRMProto
import CRMWire
import Foundation
import NIOCore

/// The load generator. Call ids are slots 1...inFlight, reused: an id only
/// has to be unique among the calls in flight, so every request frame is
/// encoded once up front and the hot loop only copies bytes (with
/// --unique-field each frame is encoded per call instead).
struct BenchRunner {
    struct Config {
        var socketPath: String
        var method: String
        /// Requests sent in turn; several vary the keys a workload touches.
        var payloads: [[UInt8]]
        /// A string field appended to every request with a value unique in the run.
        var uniqueField: Int? = nil
        var connections: Int
        var inFlight: Int
        var warmupSeconds: Double
        var durationSeconds: Double
    }

    struct WorkerResult {
        var calls = 0
        var errors = 0
        var errorSample = ""
        var latenciesMicros: [UInt32] = []
        var failure: String?
    }

    let config: Config

    init(_ config: Config) { self.config = config }

    func run() throws -> BenchReport {
        let slots = ResultSlots(count: config.connections)
        let start = monotonicNanos()
        let measureFrom = start + UInt64(config.warmupSeconds * 1e9)
        let stopAt = measureFrom + UInt64(config.durationSeconds * 1e9)
        let group = DispatchGroup()
        for i in 0..<config.connections {
            let thread = Thread { [config] in
                slots.store(i, Self.worker(config, lane: i, measureFrom: measureFrom, stopAt: stopAt))
                group.leave()
            }
            group.enter()
            thread.start()
        }
        group.wait()
        let results = slots.all
        if let failure = results.compactMap(\.failure).first { throw RPCError(.unavailable, failure) }
        var latencies = results.flatMap(\.latenciesMicros)
        latencies.sort()
        return BenchReport(calls: results.reduce(0) { $0 + $1.calls }, errors: results.reduce(0) { $0 + $1.errors },
                           errorSample: results.first { !$0.errorSample.isEmpty }?.errorSample ?? "",
                           seconds: config.durationSeconds, sortedLatenciesMicros: latencies)
    }

    private static func worker(_ config: Config, lane: Int, measureFrom: UInt64, stopAt: UInt64) -> WorkerResult {
        var result = WorkerResult()
        result.latenciesMicros.reserveCapacity(1 << 20)
        let socket: RawSocket
        do { socket = try RawSocket(path: config.socketPath) } catch {
            result.failure = "\(error)"
            return result
        }
        let variants = config.payloads.count
        let frames: [[UInt8]] = (1...config.inFlight).flatMap { slot in
            config.payloads.map { payload in
                var header = Crm_Rpc_V1_FrameHeader()
                header.callID = UInt64(slot)
                header.kind = .request
                header.method = config.method
                var buffer = ByteBuffer()
                FrameEncoder.write(header, payloadBytes: payload, into: &buffer)
                return Array(buffer.readableBytesView)
            }
        }
        var sent = 0
        // Unique across runs too: a key a retry could match is a replay.
        let uniquePrefix = "bench-\(getpid())-\(measureFrom)-\(lane)-"
        func frame(_ slot: Int) -> [UInt8] {
            sent &+= 1
            guard let field = config.uniqueField else { return frames[(slot - 1) * variants + sent % variants] }
            var header = Crm_Rpc_V1_FrameHeader()
            header.callID = UInt64(slot)
            header.kind = .request
            header.method = config.method
            var buffer = ByteBuffer()
            let payload = config.payloads[sent % variants] + BenchRequests.stringField(field, uniquePrefix + String(sent))
            FrameEncoder.write(header, payloadBytes: payload, into: &buffer)
            return Array(buffer.readableBytesView)
        }
        var sentAt = [UInt64](repeating: 0, count: config.inFlight + 1)
        var outgoing: [UInt8] = []
        outgoing.reserveCapacity(config.inFlight * (frames.map(\.count).max() ?? 0))
        let now0 = monotonicNanos()
        for slot in 1...config.inFlight {
            outgoing += frame(slot)
            sentAt[slot] = now0
        }
        var outstanding = config.inFlight
        var parser = FrameParser(maxPayloadBytes: 64 * 1024 * 1024)
        var inbound = ByteBuffer()
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        do {
            while outstanding > 0 {
                if !outgoing.isEmpty {
                    try socket.writeAll(outgoing)
                    outgoing.removeAll(keepingCapacity: true)
                }
                let n = try socket.read(&chunk)
                if n == 0 { throw RPCError(.unavailable, "server closed the connection") }
                inbound.writeBytes(chunk[0..<n])
                let now = monotonicNanos()
                let sending = now < stopAt
                while let event = try parser.next(&inbound) {
                    guard case .frame(let header, _) = event, header.kind == .response else { continue }
                    let slot = Int(header.callID)
                    guard slot >= 1 && slot <= config.inFlight else { continue }
                    if sentAt[slot] >= measureFrom && now <= stopAt {
                        result.calls += 1
                        if header.status != .ok {
                            result.errors += 1
                            if result.errorSample.isEmpty { result.errorSample = "\(header.status.name): \(header.statusMessage)" }
                        }
                        result.latenciesMicros.append(UInt32(clamping: (now - sentAt[slot]) / 1000))
                    }
                    if sending {
                        outgoing += frame(slot)
                        sentAt[slot] = now
                    } else {
                        outstanding -= 1
                    }
                }
                inbound.discardReadBytes()
            }
        } catch {
            result.failure = "\(error)"
        }
        socket.close()
        return result
    }
}

/// One result per worker thread; each thread writes only its own slot.
final class ResultSlots: @unchecked Sendable {
    private var results: [BenchRunner.WorkerResult]
    private let lock = NSLock()
    init(count: Int) { results = Array(repeating: .init(), count: count) }
    func store(_ index: Int, _ result: BenchRunner.WorkerResult) { lock.withLock { results[index] = result } }
    var all: [BenchRunner.WorkerResult] { lock.withLock { results } }
}

func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
