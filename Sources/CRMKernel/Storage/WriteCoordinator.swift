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
/// group's COMMIT has returned. A job's outcome depends on that job alone:
/// when the COMMIT fails, or SQLite rolls the whole transaction back under
/// one job (an interrupted or failed write), the others are run again one
/// by one, each in a transaction of its own (WriteCoordinator+Group).
///
/// Client calls are queued with `submit`, which does not block: the worker
/// that would otherwise sleep until the commit, and the wake-up per call to
/// rouse it, are gone. Threads that need the answer in line (bus deliveries,
/// retention, in-process calls from readers) use `write`, which waits.
final class WriteCoordinator: @unchecked Sendable {
    typealias Body = (StorageSession) -> Bool

    let connection: StorageConnection
    let maxGroup: Int
    /// Called after each successful COMMIT, on the writer thread.
    var onCommit: (() -> Void)?

    final class Job {
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

    /// True while a job's body runs (writer thread only). Nothing may
    /// commit then: once SQLite has rolled the transaction back under a
    /// call, a later write in the same body would commit on its own.
    var inBody = false

    init(connection: StorageConnection, maxGroup: Int = 256) {
        self.connection = connection
        self.maxGroup = maxGroup
        sqlite3_commit_hook(connection.sqlite.handle, vetoCommitInBody, Unmanaged.passUnretained(self).toOpaque())
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

    func take(_ limit: Int) -> [Job] {
        state.lock()
        defer { state.unlock() }
        let batch = Array(queue.prefix(limit))
        queue.removeFirst(batch.count)
        return batch
    }

    /// Puts jobs that did not run back at the head of the queue.
    func putBack(_ jobs: [Job]) {
        guard !jobs.isEmpty else { return }
        state.lock()
        queue.insert(contentsOf: jobs, at: 0)
        state.unlock()
    }
}

/// SQLite's commit hook on the writer: a non-zero answer turns the commit
/// into a rollback. The coordinator lives as long as the process.
private let vetoCommitInBody: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
    guard let context else { return 0 }
    return Unmanaged<WriteCoordinator>.fromOpaque(context).takeUnretainedValue().inBody ? 1 : 0
}
