import CRMPluginABI
import CSQLite
import Foundation

/// The one writer connection, and group commit.
///
/// SQLite allows one writer at a time, so write calls take turns on the
/// writer connection. Each call runs in a SAVEPOINT inside a transaction
/// that stays open while more write calls are waiting: the last call of a
/// burst (or the `maxGroup`-th) commits the whole group with one COMMIT, and
/// only then is any call of the group answered. A call whose handler fails
/// rolls back to its savepoint; the others in its group are unaffected.
final class WriteCoordinator: @unchecked Sendable {
    private let connection: StorageConnection
    private let maxGroup: Int
    /// Called after each successful COMMIT, on the committing thread.
    var onCommit: (() -> Void)?

    private let lock = NSCondition()
    private var writerBusy = false
    private var waiting = 0
    private var openGroup: UInt64 = 1
    private var groupMembers = 0
    /// Outcome of groups that have ended and still have members to tell:
    /// nil = committed, otherwise why the commit failed.
    private var endedGroups: [UInt64: (remaining: Int, failure: String?)] = [:]
    private var inTransaction = false

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
        lock.lock()
        waiting += 1
        while writerBusy { lock.wait() }
        waiting -= 1
        writerBusy = true
        let group = openGroup
        lock.unlock()

        let db = connection.sqlite
        var outcome: Outcome = .committed
        let began = inTransaction || db.authorizer.asKernel({ (try? db.execute("BEGIN IMMEDIATE")) != nil })
        if !began {
            outcome = .failed(SessionError(status: CRM_STATUS_UNAVAILABLE,
                                           message: "cannot begin a write transaction: \(db.lastError().message)"))
        } else {
            inTransaction = true
            outcome = runInSavepoint(plugin: plugin, body)
        }

        lock.lock()
        groupMembers += 1
        let commitNow = waiting == 0 || groupMembers >= maxGroup || !began
        if commitNow {
            lock.unlock()
            let failure = began ? commit() : "no transaction"
            lock.lock()
            endedGroups[group] = (groupMembers, failure)
            groupMembers = 0
            openGroup += 1
        }
        writerBusy = false
        lock.broadcast()
        while endedGroups[group] == nil { lock.wait() }
        let ended = endedGroups[group]!
        if ended.remaining == 1 { endedGroups[group] = nil } else { endedGroups[group]!.remaining -= 1 }
        lock.unlock()

        if let failure = ended.failure, case .committed = outcome, began {
            return .failed(SessionError(status: CRM_STATUS_UNAVAILABLE, message: "commit failed: \(failure)"))
        }
        return outcome
    }

    /// An in-process call made by a handler that already writes: it joins
    /// the caller's transaction in a nested savepoint, so the two commit or
    /// roll back together. Only the thread holding the writer may call this.
    func nested(plugin: String, _ body: (StorageSession) -> Bool) -> Outcome {
        runInSavepoint(plugin: plugin, body)
    }

    /// Runs one call's body in its own savepoint (nested calls nest savepoints).
    private func runInSavepoint(plugin: String, _ body: (StorageSession) -> Bool) -> Outcome {
        let db = connection.sqlite
        do {
            try db.authorizer.asKernel { try db.execute("SAVEPOINT crm_call") }
        } catch {
            return .failed(SessionError(status: CRM_STATUS_INTERNAL, message: "cannot open a savepoint: \(error)"))
        }
        let session = StorageSession(connection: connection, writable: true, plugin: plugin)
        let keep = body(session)
        session.finish()
        do {
            try db.authorizer.asKernel {
                if !keep { try db.execute("ROLLBACK TO crm_call") }
                try db.execute("RELEASE crm_call")
            }
        } catch {
            return .failed(SessionError(status: CRM_STATUS_INTERNAL, message: "cannot end the savepoint: \(error)"))
        }
        return keep ? .committed : .rolledBack
    }

    /// Commits the open transaction; nil on success, else the reason (and
    /// the transaction is rolled back).
    private func commit() -> String? {
        let db = connection.sqlite
        inTransaction = false
        do {
            try db.authorizer.asKernel { try db.execute("COMMIT") }
            onCommit?()
            return nil
        } catch {
            try? db.authorizer.asKernel { try db.execute("ROLLBACK") }
            return "\(error)"
        }
    }
}
