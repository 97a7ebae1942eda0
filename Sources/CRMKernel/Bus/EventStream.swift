import CRMKernelCore
import CRMKernelContract
import CRMRPCContract
import CRMWire
import Foundation
import NIOCore
import Synchronization

/// One client's `Events/Subscribe`: replays stored events after a sequence,
/// then follows new commits, sending only those the caller may read
/// (EventFilter, which follows Access changes). Runs on a thread of its own
/// (never the event loop) with its own read-only connection. Flow control:
/// at most `window` bytes are queued on the socket; past that the reader
/// waits for the client, and a client that reads nothing for the stall
/// limit is dropped.
final class EventStream: @unchecked Sendable {
    static let methodName = "/crm.kernel.v1.Events/Subscribe"
    static let active = Atomic<Int>(0)
    static let maxActive = 256
    private static let window = 1 << 20

    let id: UInt64
    private let request: Crm_Kernel_V1_SubscribeRequest
    private let filter: EventFilter
    private let storage: Storage
    private let stallMillis: Int64
    private let cancelled = Atomic<Bool>(false)
    private let queuedBytes = Atomic<Int>(0)
    private let failed = Atomic<Bool>(false)

    /// Hands frames to the connection on its loop; the future completes when written.
    var send: ((ByteBuffer) -> EventLoopFuture<Void>)?
    /// Ends the call on the connection's loop with a status.
    var finish: ((Crm_Rpc_V1_StatusCode, String) -> Void)?

    /// `filter` gets the request's patterns, parsed here.
    init(id: UInt64, request: Crm_Kernel_V1_SubscribeRequest, storage: Storage, stallMillis: Int64,
         filter: ([TopicPattern]) -> EventFilter) throws {
        var patterns: [TopicPattern] = []
        for text in request.topicPatterns {
            guard let pattern = TopicPattern(text) else {
                throw RPCError(.invalidArgument, "topic pattern \"\(text)\" is not valid (segments, \"*\", a final \">\")")
            }
            patterns.append(pattern)
        }
        self.id = id
        self.request = request
        self.filter = filter(patterns)
        self.storage = storage
        self.stallMillis = stallMillis
    }

    func cancel() { cancelled.store(true, ordering: .relaxed) }
    private var isCancelled: Bool { cancelled.load(ordering: .relaxed) || failed.load(ordering: .relaxed) }

    func start() {
        Self.active.add(1, ordering: .relaxed)
        let thread = Thread { [self] in
            defer { Self.active.subtract(1, ordering: .relaxed) }
            let (status, message) = run()
            finish?(status, message)
        }
        thread.name = "crm-events-\(id)"
        thread.start()
    }

    private func run() -> (Crm_Rpc_V1_StatusCode, String) {
        let reader: SQLiteConnection
        do {
            reader = try SQLiteConnection(path: storage.path, readOnly: true)
            try reader.execute("PRAGMA busy_timeout = 5000")
            if let gap = try compactedGap(reader) { return (.outOfRange, gap) }
        } catch {
            return (.unavailable, "cannot read the event log: \(error)")
        }
        // Sequences are SQLite integers (at most Int64.max): a position past
        // every possible one replays nothing, and never wraps into a negative.
        var position = min(request.afterSequence, UInt64(Int64.max))
        let allocator = ByteBufferAllocator()
        while !isCancelled {
            // Also while idle: an unbinding ends the stream without waiting for an event.
            guard filter.isCurrent() else { break }
            var out = allocator.buffer(capacity: 64 * 1024)
            let read: (last: UInt64, rows: Int)
            do {
                read = try EventLog.encodeFrames(reader, after: position, limit: 1000, filter: filter,
                                                 callID: id, into: &out)
            } catch {
                return (.unavailable, "cannot read the event log: \(error)")
            }
            if read.rows == 0 && filter.denial == nil {
                if request.replayOnly { return (.ok, "") }
                storage.events.waitForCommit(after: position, timeout: 0.25)
                continue
            }
            position = read.last
            if out.readableBytes > 0 {
                guard waitForRoom() else { break }
                let size = out.readableBytes
                queuedBytes.add(size, ordering: .relaxed)
                send?(out).whenComplete { [self] result in
                    queuedBytes.subtract(size, ordering: .relaxed)
                    if case .failure = result { failed.store(true, ordering: .relaxed) }
                }
            }
        }
        if failed.load(ordering: .relaxed) { return (.cancelled, "the connection went away") }
        // After the frames read before the change: they go out first.
        if let denial = filter.denial { return (denial.code, denial.message) }
        return (.cancelled, "cancelled")
    }

    /// Waits until the socket has taken enough; false if cancelled or stalled.
    private func waitForRoom() -> Bool {
        let giveUp = Date().addingTimeInterval(Double(stallMillis) / 1000)
        while queuedBytes.load(ordering: .relaxed) > Self.window {
            if isCancelled { return false }
            if Date() >= giveUp {
                failed.store(true, ordering: .relaxed)
                return false
            }
            usleep(1000)
        }
        return !isCancelled
    }

    /// A reason to refuse when events the client asked for are gone already.
    private func compactedGap(_ reader: SQLiteConnection) throws -> String? {
        let after = request.afterSequence
        guard after > 0 else { return nil }  // 0 means "from the oldest stored"
        let oldest = try reader.authorizer.asKernel { try reader.query("SELECT MIN(sequence) FROM kernel_outbox") }
        let head = try EventLog.lastAssigned(reader)
        // Sequences start at 1, so `first - 1` cannot wrap; `after + 1` could.
        if case .integer(let first)? = oldest.first?.first, first > 0 {
            if UInt64(first) - 1 > after {
                return "events up to \(UInt64(first) - 1) were compacted; resume from after_sequence \(UInt64(first) - 1) or later"
            }
        } else if head > after {
            return "events up to \(head) were compacted; resume from after_sequence \(head)"
        }
        return nil
    }
}
