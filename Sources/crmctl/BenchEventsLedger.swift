import Foundation

/// The writes of a bench-events run waiting for their answer or their event,
/// and the figures so far. A key has at most one write pending, so an event
/// names its write without ambiguity. Shared by the pacing loop, the write
/// tasks and the stream reader, under one lock.
final class BenchEventsLedger: @unchecked Sendable {
    private struct Pending {
        var start: UInt64
        var ack: UInt64 = 0
        var event: UInt64 = 0
    }

    struct Figures {
        var writes = 0
        var errors = 0
        var errorSample = ""
        var matched = 0
        var lost = 0
        var unmatched = 0
        /// Events that arrived before their write's answer (from-ack delay 0).
        var beforeAck = 0
        var writeMicros: [UInt32] = []
        var fromAckMicros: [UInt32] = []
        var fromStartMicros: [UInt32] = []
    }

    private let lock = NSLock()
    private let templates: Int
    private var pending: [String: Pending] = [:]
    private var unanswered = 0
    /// Successful writes per key: which template a key's next write uses.
    private var done: [String: Int] = [:]
    /// Keys whose event was lost: a late event must not pass for a new write's.
    private var retired: Set<String> = []
    private var figures = Figures()
    private var failure: Error?

    init(templates: Int) { self.templates = templates }

    /// Takes `key` for a new write started now; the template to use, or nil
    /// if the key is busy or retired.
    func claim(_ key: String) -> Int? {
        lock.withLock {
            guard pending[key] == nil, !retired.contains(key) else { return nil }
            pending[key] = Pending(start: monotonicNanos())
            unanswered += 1
            figures.writes += 1
            return done[key, default: 0] % templates
        }
    }

    /// The write's answer: ok, or the error that failed it (no event expected).
    func answered(_ key: String, error: String?) {
        let now = monotonicNanos()
        lock.withLock {
            unanswered -= 1
            guard var write = pending[key] else { return }
            if let error {
                figures.errors += 1
                if figures.errorSample.isEmpty { figures.errorSample = error }
                pending[key] = nil
                return
            }
            done[key, default: 0] += 1
            write.ack = now
            figures.writeMicros.append(Self.micros(now, since: write.start))
            if write.event != 0 {
                figures.beforeAck += 1
                complete(key, write)
            } else {
                pending[key] = write
            }
        }
    }

    func eventArrived(_ key: String, at now: UInt64) {
        lock.withLock {
            guard var write = pending[key], write.event == 0 else {
                figures.unmatched += 1
                return
            }
            write.event = now
            if write.ack != 0 { complete(key, write) } else { pending[key] = write }
        }
    }

    /// Counts as lost the answered writes still without an event `timeout` after their answer.
    func expire(timeoutNanos: UInt64) {
        let now = monotonicNanos()
        lock.withLock {
            for (key, write) in pending where write.ack != 0 && write.event == 0 && now &- write.ack > timeoutNanos {
                pending[key] = nil
                retired.insert(key)
                figures.lost += 1
            }
        }
    }

    /// The stream failed: the run stops and reports this.
    func fail(_ error: Error) { lock.withLock { if failure == nil { failure = error } } }

    var inFlight: Int { lock.withLock { unanswered } }
    var waiting: Int { lock.withLock { pending.count } }
    var error: Error? { lock.withLock { failure } }

    /// The figures, sorted; whatever is still pending counts as lost.
    func finish() -> Figures {
        lock.withLock {
            figures.lost += pending.count
            pending = [:]
            figures.writeMicros.sort()
            figures.fromAckMicros.sort()
            figures.fromStartMicros.sort()
            return figures
        }
    }

    private func complete(_ key: String, _ write: Pending) {
        pending[key] = nil
        figures.matched += 1
        figures.fromStartMicros.append(Self.micros(write.event, since: write.start))
        figures.fromAckMicros.append(Self.micros(write.event, since: write.ack))
    }

    /// Microseconds from `start` to `end`, 0 if `end` came first.
    private static func micros(_ end: UInt64, since start: UInt64) -> UInt32 {
        end > start ? UInt32(clamping: (end - start) / 1000) : 0
    }
}
