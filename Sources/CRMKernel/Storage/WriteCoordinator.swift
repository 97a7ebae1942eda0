import CRMPluginABI
import CSQLite
import Foundation

/// The one writer connection, and group commit.
///
/// SQLite allows one writer at a time. Write calls queue here; whichever
/// caller finds no leader becomes the leader and runs the queued calls'
/// bodies itself, back to back, each in a SAVEPOINT inside one transaction,
/// then commits them all with one COMMIT and wakes their callers. Running
/// the bodies on one thread avoids a thread hand-off per call, and one
/// commit serves the whole group. A call whose body fails rolls back to its
/// savepoint; the others in its group are unaffected. No call is answered
/// before its group's COMMIT has returned.
final class WriteCoordinator: @unchecked Sendable {
    private let connection: StorageConnection
    private let maxGroup: Int
    /// Called after each successful COMMIT, on the committing thread.
    var onCommit: (() -> Void)?

    private final class Job {
        let plugin: String
        /// Dropped as soon as it has run: the caller's closure must not
        /// outlive its `write` call.
        var body: ((StorageSession) -> Bool)?
        var outcome: Outcome?
        /// Signalled when the job is done, or when its thread is to lead.
        let wake = DispatchSemaphore(value: 0)
        init(plugin: String, body: @escaping (StorageSession) -> Bool) {
            self.plugin = plugin
            self.body = body
        }
    }

    // Each waiter sleeps on its own job's semaphore: finishing a group wakes
    // exactly its members, and handing on the lead wakes exactly one thread.
    private let lock = NSLock()
    private var queue: [Job] = []
    private var leading = false
    /// The thread running the current group, to refuse re-entry from it.
    private var leaderThread: pthread_t?

    init(connection: StorageConnection, maxGroup: Int = 256) {
        self.connection = connection
        self.maxGroup = maxGroup
    }

    enum Outcome {
        case committed
        case rolledBack
        case failed(SessionError)
    }

    /// Runs `body` in a write transaction for `plugin`. `body` returns true
    /// to keep its writes. Returns once the outcome is durable (or failed).
    func write(plugin: String, _ body: (StorageSession) -> Bool) -> Outcome {
        withoutActuallyEscaping(body) { body in
            let job = Job(plugin: plugin, body: body)
            lock.lock()
            if leading, let leaderThread, pthread_equal(leaderThread, pthread_self()) != 0 {
                // A body asking for a second transaction would wait for itself.
                lock.unlock()
                return .failed(SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                                            message: "a write call cannot start another write transaction; pass the calling call as the parent"))
            }
            queue.append(job)
            let leadNow = !leading
            if leadNow { leading = true }
            lock.unlock()
            if !leadNow {
                job.wake.wait()
            }
            lock.lock()
            let mustLead = job.outcome == nil  // woken to lead, not because it is done
            lock.unlock()
            if leadNow || mustLead {
                lead()
            }
            return job.outcome!
        }
    }

    /// Runs one group (which includes the leader's own job), then hands the
    /// lead to the oldest queued job's thread, or gives it up.
    private func lead() {
        lock.lock()
        leaderThread = pthread_self()
        lock.unlock()
        runGroup()
        lock.lock()
        leaderThread = nil
        let next = queue.first
        if next == nil { leading = false }
        lock.unlock()
        next?.wake.signal()
    }

    /// Leader only: takes the queued jobs (and any that arrive meanwhile, up
    /// to `maxGroup`), runs them in one transaction and commits.
    private func runGroup() {
        var group: [Job] = []
        var outcomes: [Outcome] = []
        var began = true
        do { try connection.control("BEGIN IMMEDIATE") } catch {
            began = false
            let failure = Outcome.failed(SessionError(status: CRM_STATUS_UNAVAILABLE,
                                                      message: "cannot begin a write transaction: \(error)"))
            lock.lock()
            group = queue
            queue.removeAll()
            group.forEach { $0.body = nil }
            lock.unlock()
            outcomes = group.map { _ in failure }
        }
        while began && group.count < maxGroup {
            lock.lock()
            let batch = Array(queue.prefix(maxGroup - group.count))
            queue.removeFirst(batch.count)
            lock.unlock()
            if batch.isEmpty { break }
            for job in batch {
                outcomes.append(runInSavepoint(plugin: job.plugin, job.body!))
                job.body = nil
            }
            group += batch
        }
        if began, let failure = commit() {
            outcomes = outcomes.map { outcome in
                if case .committed = outcome {
                    return .failed(SessionError(status: CRM_STATUS_UNAVAILABLE, message: "commit failed: \(failure)"))
                }
                return outcome
            }
        }
        lock.lock()
        for (job, outcome) in zip(group, outcomes) { job.outcome = outcome }
        lock.unlock()
        // The leader's own job gets a signal nobody waits for; harmless.
        for job in group { job.wake.signal() }
    }

    /// An in-process call made by a handler that already writes: it joins
    /// the caller's transaction in a nested savepoint, so the two commit or
    /// roll back together. Only the thread holding the writer may call this.
    func nested(plugin: String, _ body: (StorageSession) -> Bool) -> Outcome {
        runInSavepoint(plugin: plugin, body)
    }

    /// Runs one call's body in its own savepoint (nested calls nest savepoints).
    private func runInSavepoint(plugin: String, _ body: (StorageSession) -> Bool) -> Outcome {
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
