import CRMPluginABI
import CSQLite
import Foundation

/// The one writer connection, its thread, and group commit.
///
/// SQLite allows one writer at a time, so every write runs on one thread
/// that owns the writer connection. Callers queue jobs; the writer takes
/// whatever is queued (up to `maxGroup`), runs each body in a SAVEPOINT
/// inside one transaction, commits them all with one COMMIT and then tells
/// each job its outcome. A body that fails rolls back to its savepoint; the
/// others in its group are unaffected. No job learns its outcome before its
/// group's COMMIT has returned.
///
/// Client calls are queued with `submit`, which does not block: the worker
/// that would otherwise sleep until the commit, and the wake-up per call to
/// rouse it, are gone. Threads that need the answer in line (bus deliveries,
/// retention, in-process calls from readers) use `write`, which waits.
final class WriteCoordinator: @unchecked Sendable {
    typealias Body = (StorageSession) -> Bool

    private let connection: StorageConnection
    private let maxGroup: Int
    /// Called after each successful COMMIT, on the writer thread.
    var onCommit: (() -> Void)?

    private final class Job {
        let plugin: String
        /// Dropped as soon as it has run: a `write` caller's closure must
        /// not outlive its call.
        var body: Body?
        let done: (Outcome) -> Void
        init(plugin: String, body: @escaping Body, done: @escaping (Outcome) -> Void) {
            self.plugin = plugin
            self.body = body
            self.done = done
        }
    }

    private let state = NSCondition()
    private var queue: [Job] = []
    /// The writer is waiting on `state` for work.
    private var idle = false
    private var stopping = false
    private var writerThread: pthread_t?
    private let stopped = DispatchSemaphore(value: 0)

    init(connection: StorageConnection, maxGroup: Int = 256) {
        self.connection = connection
        self.maxGroup = maxGroup
        let thread = Thread { [self] in runLoop() }
        thread.name = "crm-writer"
        thread.start()
    }

    enum Outcome {
        case committed
        case rolledBack
        case failed(SessionError)
    }

    /// Queues `body` to run in a write transaction for `plugin` and returns
    /// at once. `body` returns true to keep its writes. `done` runs on the
    /// writer thread once the outcome is durable (or failed); it must be quick.
    func submit(plugin: String, _ body: @escaping Body, done: @escaping (Outcome) -> Void) {
        state.lock()
        guard !stopping else {
            state.unlock()
            done(.failed(SessionError(status: CRM_STATUS_UNAVAILABLE, message: "crmd is shutting down")))
            return
        }
        queue.append(Job(plugin: plugin, body: body, done: done))
        if idle {
            idle = false
            state.signal()
        }
        state.unlock()
    }

    /// Runs `body` in a write transaction for `plugin` and waits for its
    /// durable outcome. Refused on the writer thread, which would wait for itself.
    func write(plugin: String, _ body: Body) -> Outcome {
        if isWriterThread {
            return .failed(SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                                        message: "a write call cannot start another write transaction; pass the calling call as the parent"))
        }
        return withoutActuallyEscaping(body) { body in
            let finished = DispatchSemaphore(value: 0)
            let result = OutcomeBox()
            submit(plugin: plugin, body) { outcome in
                result.outcome = outcome
                finished.signal()
            }
            finished.wait()
            return result.outcome!
        }
    }

    private final class OutcomeBox: @unchecked Sendable { var outcome: Outcome? }

    private var isWriterThread: Bool {
        state.lock()
        defer { state.unlock() }
        guard let writerThread else { return false }
        return pthread_equal(writerThread, pthread_self()) != 0
    }

    /// Runs what is still queued, then ends the writer thread; later
    /// submissions fail with UNAVAILABLE.
    func stop() {
        state.lock()
        stopping = true
        state.signal()
        state.unlock()
        stopped.wait()
    }

    private func runLoop() {
        state.lock()
        writerThread = pthread_self()
        state.unlock()
        while true {
            state.lock()
            while queue.isEmpty && !stopping {
                idle = true
                state.wait()
            }
            idle = false
            let exit = queue.isEmpty
            state.unlock()
            if exit { break }
            runGroup()
        }
        stopped.signal()
    }

    private func take(_ limit: Int) -> [Job] {
        state.lock()
        defer { state.unlock() }
        let batch = Array(queue.prefix(limit))
        queue.removeFirst(batch.count)
        return batch
    }

    /// Takes the queued jobs (and any that arrive meanwhile, up to
    /// `maxGroup`), runs them in one transaction, commits, and tells each.
    private func runGroup() {
        do { try connection.control("BEGIN IMMEDIATE") } catch {
            let failure = Outcome.failed(SessionError(status: CRM_STATUS_UNAVAILABLE,
                                                      message: "cannot begin a write transaction: \(error)"))
            for job in take(maxGroup) {
                job.body = nil
                job.done(failure)
            }
            return
        }
        var group: [Job] = []
        var outcomes: [Outcome] = []
        while group.count < maxGroup {
            let batch = take(maxGroup - group.count)
            if batch.isEmpty { break }
            for job in batch {
                outcomes.append(runInSavepoint(plugin: job.plugin, job.body!))
                job.body = nil
            }
            group += batch
        }
        if let failure = commit() {
            outcomes = outcomes.map { outcome in
                if case .committed = outcome {
                    return .failed(SessionError(status: CRM_STATUS_UNAVAILABLE, message: "commit failed: \(failure)"))
                }
                return outcome
            }
        }
        for (job, outcome) in zip(group, outcomes) { job.done(outcome) }
    }

    /// An in-process call made by a handler that already writes: it joins
    /// the caller's transaction in a nested savepoint, so the two commit or
    /// roll back together. Only the writer thread may call this.
    func nested(plugin: String, _ body: Body) -> Outcome {
        runInSavepoint(plugin: plugin, body)
    }

    /// Runs one call's body in its own savepoint (nested calls nest savepoints).
    private func runInSavepoint(plugin: String, _ body: Body) -> Outcome {
        do { try connection.control("SAVEPOINT crm_call") } catch {
            return .failed(SessionError(status: CRM_STATUS_INTERNAL, message: "cannot open a savepoint: \(error)"))
        }
        let session = StorageSession(connection: connection, writable: true, plugin: plugin)
        let keep = body(session)
        session.finish()
        do {
            if !keep { try connection.control("ROLLBACK TO crm_call") }
            try connection.control("RELEASE crm_call")
        } catch {
            return .failed(SessionError(status: CRM_STATUS_INTERNAL, message: "cannot end the savepoint: \(error)"))
        }
        return keep ? .committed : .rolledBack
    }

    /// Commits the open transaction; nil on success, else the reason (and
    /// the transaction is rolled back).
    private func commit() -> String? {
        do {
            try connection.control("COMMIT")
            onCommit?()
            return nil
        } catch {
            try? connection.control("ROLLBACK")
            return "\(error)"
        }
    }
}
