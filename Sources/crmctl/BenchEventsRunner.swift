import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

/// bench-events' run: an event stream read on its own connection while the
/// writes go out at a fixed pace (open loop: a slow answer does not slow the
/// pace, up to maxInFlight writes without an answer).
struct BenchEventsRunner {
    struct Config: @unchecked Sendable {  // requestType is a metatype, read-only
        var method: String
        var requestType: any Message.Type
        var templates: [String]
        var keys: ClosedRange<Int64>
        var rate: Double
        var duration: Double
        var timeout: Double
        var maxInFlight: Int
        var topics: [String]
        var selector: EventSelector
    }

    let config: Config

    init(_ config: Config) { self.config = config }

    func run(writer: Connection, stream: Connection, afterSequence: UInt64) async throws -> BenchEventsReport {
        let ledger = BenchEventsLedger(templates: config.templates.count)
        let request = Crm_Kernel_V1_SubscribeRequest.with {
            $0.topicPatterns = config.topics
            $0.afterSequence = afterSequence
        }
        let (_, events) = stream.stream("/crm.kernel.v1.Events/Subscribe", try request.serializedBytes())
        let stopping = Stopping()
        let reader = Task { [config] in
            do {
                for try await bytes in events {
                    let now = monotonicNanos()
                    let event = try Crm_Kernel_V1_Event(serializedBytes: bytes)
                    if let key = try config.selector.key(of: event) { ledger.eventArrived(key, at: now) }
                }
                if !stopping.isSet { ledger.fail(RPCError(.unavailable, "the event stream ended before the run")) }
            } catch {
                // Closing the stream at the end fails it too: only an earlier end is an error.
                if !stopping.isSet { ledger.fail(error) }
            }
        }
        defer { stopping.set(); stream.close() }
        let elapsed = await pace(writer, ledger)
        // The last events: until every write has its event or is lost.
        let timeoutNanos = UInt64(config.timeout * 1e9)
        let giveUp = monotonicNanos() + timeoutNanos + 1_000_000_000
        while ledger.waiting > 0 && ledger.error == nil && monotonicNanos() < giveUp {
            ledger.expire(timeoutNanos: timeoutNanos)
            try await Task.sleep(for: .milliseconds(10))
        }
        stopping.set()
        stream.close()
        _ = await reader.result
        if let error = ledger.error { throw error }
        return BenchEventsReport(figures: ledger.finish(), seconds: elapsed)
    }

    /// Sends the writes; returns the seconds the pace ran (the writes' answers come after).
    private func pace(_ writer: Connection, _ ledger: BenchEventsLedger) async -> Double {
        let total = Int(config.rate * config.duration)
        let timeoutNanos = UInt64(config.timeout * 1e9)
        let begin = monotonicNanos()
        let end = begin + UInt64(config.duration * 1e9)
        var lastSweep = begin
        var sent = 0
        var stopped = begin
        await withDiscardingTaskGroup { group in
            var generator = SystemRandomNumberGenerator()
            while sent < total, ledger.error == nil {
                let due = begin + UInt64(Double(sent) / config.rate * 1e9)
                var now = monotonicNanos()
                if now >= end { break }
                if due > now {
                    try? await Task.sleep(for: .nanoseconds(Int64(due - now)))
                    now = monotonicNanos()
                }
                if now - lastSweep > 50_000_000 {
                    ledger.expire(timeoutNanos: timeoutNanos)
                    lastSweep = now
                }
                guard ledger.inFlight < config.maxInFlight, let claimed = claimKey(ledger, &generator) else {
                    try? await Task.sleep(for: .milliseconds(1))
                    continue
                }
                sent += 1
                let key = claimed.key
                let text = config.templates[claimed.template].replacingOccurrences(of: "$RANDOM", with: key)
                group.addTask { [config] in
                    do {
                        let bytes: [UInt8] = try config.requestType.init(jsonString: text).serializedBytes()
                        _ = try await writer.call(config.method, bytes, timeout: .nanoseconds(Int64(timeoutNanos)))
                        ledger.answered(key, error: nil)
                    } catch let error as RPCError {
                        ledger.answered(key, error: "\(error.code.name): \(error.message)")
                    } catch {
                        ledger.answered(key, error: "\(error)")
                    }
                }
            }
            stopped = min(monotonicNanos(), end)
        }
        return Double(stopped - begin) / 1e9
    }

    /// A free key at random (a few tries, then none: the pace waits a little).
    private func claimKey(_ ledger: BenchEventsLedger, _ generator: inout SystemRandomNumberGenerator) -> (key: String, template: Int)? {
        for _ in 0..<64 {
            let key = String(Int64.random(in: config.keys, using: &generator))
            if let template = ledger.claim(key) { return (key, template) }
        }
        return nil
    }
}

/// Set once the run no longer wants events, so the stream's end is expected.
private final class Stopping: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
