import CRMKernelCore
import CRMPluginABI
import Foundation
import Logging

/// Delivers events to one subscribing plugin, on a thread of its own so a
/// slow or failing subscriber holds up no one else.
///
/// Each delivery runs in a write transaction that also stores the plugin's
/// new position (`kernel_bus_positions`): the plugin's writes and the
/// acknowledgement commit together, so a restart resumes exactly after the
/// last acknowledged event. Up to 256 waiting events go in one transaction;
/// if any fails, the batch rolls back and is delivered one event at a time,
/// so a failure waits (back-off doubling from 50 ms to 30 s) and retries
/// just the failing event.
final class BusSubscriber: @unchecked Sendable {
    let record: PluginRecord
    let patterns: [TopicPattern]
    private let handler: crm_event_fn
    private let storage: Storage
    private let reader: SQLiteConnection
    private let method: PluginMethod
    private let logger: Logger
    private let lock = NSLock()
    private var acknowledged: UInt64
    private var failure = ""
    private var stopped = false
    private var thread: Thread?

    init(record: PluginRecord, patterns: [TopicPattern], handler: @escaping crm_event_fn, storage: Storage) throws {
        self.record = record
        self.patterns = patterns
        self.handler = handler
        self.storage = storage
        reader = try SQLiteConnection(path: storage.path, readOnly: true)
        try reader.execute("PRAGMA busy_timeout = 5000")
        let rows = try reader.query("SELECT position FROM kernel_bus_positions WHERE plugin = ?", [.text(record.name)])
        if case .integer(let v)? = rows.first?.first { acknowledged = UInt64(v) } else { acknowledged = 0 }
        method = PluginMethod.eventDelivery(for: record)
        logger = Logger(label: "crm.kernel.bus")
    }

    /// Position, lag and the last failure, for Plugins.List.
    var status: (position: UInt64, lag: UInt64, error: String) {
        let head = storage.events.head
        return lock.withLock { (acknowledged, head > acknowledged ? head - acknowledged : 0, failure) }
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "crm-bus-\(record.name)"
        self.thread = thread
        thread.start()
    }

    private let finished = DispatchSemaphore(value: 0)

    /// Stops after the delivery in progress; waits up to `timeout` for it.
    func stop(timeout: TimeInterval) {
        lock.withLock { stopped = true }
        guard thread != nil else { return }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("event delivery still running at shutdown", metadata: ["plugin": "\(record.name)"])
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func run() {
        defer { finished.signal() }
        var position = lock.withLock { acknowledged }
        var backoff = 0.05
        // After a batch failed, its events go one at a time until past it.
        var singleUntil: UInt64 = 0
        while !isStopped {
            let batch: [StoredEvent]
            do {
                batch = try EventLog.read(reader, after: position, limit: 256)
            } catch {
                logger.error("cannot read the outbox", metadata: ["plugin": "\(record.name)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            if batch.isEmpty {
                storage.events.waitForCommit(after: position, timeout: 0.5)
                continue
            }
            // The happy path: every wanted event of the batch in one transaction.
            let wanted = batch.filter { TopicPattern.any(patterns, match: $0.topic) }
            if wanted.count > 1 && position >= singleUntil {
                if deliver(wanted, through: batch[batch.count - 1].sequence) == nil {
                    position = batch[batch.count - 1].sequence
                    lock.withLock { acknowledged = position; failure = "" }
                    backoff = 0.05
                    continue
                }
                singleUntil = batch[batch.count - 1].sequence
            }
            // One at a time, so a failing event holds back only itself and what follows.
            for event in batch where !isStopped {
                // Unwanted events only move the position; it is stored with the next delivery.
                if TopicPattern.any(patterns, match: event.topic) {
                    if let problem = deliver([event], through: event.sequence) {
                        lock.withLock { failure = problem }
                        logger.warning("event delivery failed; retrying", metadata: [
                            "plugin": "\(record.name)", "sequence": "\(event.sequence)", "error": "\(problem)",
                            "retry_in_ms": "\(Int(backoff * 1000))"])
                        Thread.sleep(forTimeInterval: backoff)
                        backoff = min(backoff * 2, 30)
                        break
                    }
                    backoff = 0.05
                    lock.withLock { failure = "" }
                }
                position = event.sequence
                lock.withLock { acknowledged = position }
            }
        }
    }

    /// Delivers `events` in one write transaction that also stores the
    /// position `through`; nil on success, else why not (and nothing of it
    /// is kept).
    private func deliver(_ events: [StoredEvent], through position: UInt64) -> String? {
        let call = PluginCall(method: method, caller: nil, deadlineUnixMicros: 0, metadata: [])
        var status: Int32 = 0
        let outcome = storage.writer.write(plugin: record.name) { session in
            call.session = session
            session.owner = call
            for event in events {
                status = handle(event, call)
                guard status == 0 else { return false }
            }
            let db = session.connection.sqlite
            do {
                _ = try db.authorizer.asKernel {
                    try db.query("INSERT INTO kernel_bus_positions (plugin, position) VALUES (?, ?) "
                                 + "ON CONFLICT (plugin) DO UPDATE SET position = excluded.position",
                                 [.text(record.name), .integer(Int64(position))])
                }
            } catch {
                call.statusMessage = "cannot store the position: \(error)"
                status = Int32(CRM_STATUS_INTERNAL.rawValue)
                return false
            }
            return true
        }
        call.session = nil
        switch outcome {
        case .committed where status == 0: return nil
        case .failed(let error): return error.message
        default:
            let message = call.statusMessage.isEmpty ? "no message" : call.statusMessage
            return "\(String(cString: crm_status_name(status))): \(message)"
        }
    }

    private func handle(_ event: StoredEvent, _ call: PluginCall) -> Int32 {
        // The subject's strings live as long as these copies, past the callback.
        let subject = [event.subject?.entity, event.subject?.recordID, event.subject?.owner].map { $0.flatMap { strdup($0) } }
        defer { subject.forEach { free($0) } }
        return event.topic.withCString { topic in
            event.typeName.withCString { typeName in
                event.publisher.withCString { publisher in
                    event.payload.withUnsafeBufferPointer { payload in
                        var cEvent = crm_event(
                            struct_size: UInt32(MemoryLayout<crm_event>.size), sequence: event.sequence,
                            topic: topic, type_name: typeName, payload: payload.baseAddress,
                            payload_len: payload.count, published_unix_us: event.publishedMicros,
                            publisher: publisher, entity: subject[0].map { UnsafePointer($0) },
                            record_id: subject[1].map { UnsafePointer($0) }, owner: subject[2].map { UnsafePointer($0) },
                            redacted: event.redacted ? 1 : 0)
                        return handler(record.handle, call.handle, &cEvent)
                    }
                }
            }
        }
    }
}
