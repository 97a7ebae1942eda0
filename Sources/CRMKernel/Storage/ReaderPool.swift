import CRMPluginABI
import CSQLite
import Foundation

/// Read-only connections for calls that do not write. In WAL mode readers
/// never wait for the writer; each call reads one snapshot (a read
/// transaction from its first statement to its end).
final class ReaderPool: @unchecked Sendable {
    private let lock = NSCondition()
    private var idle: [StorageConnection]

    init(path: String, count: Int) throws {
        idle = try (0..<max(1, count)).map { _ in
            let sqlite = try SQLiteConnection(path: path, readOnly: true)
            try sqlite.execute("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1")
            return StorageConnection(sqlite)
        }
    }

    /// A session on a reader, in a snapshot; waits while all are in use.
    /// Hand it back with `checkin`.
    func checkout(plugin: String) -> StorageSession {
        lock.lock()
        while idle.isEmpty { lock.wait() }
        let connection = idle.removeLast()
        lock.unlock()
        let db = connection.sqlite
        _ = db.authorizer.asKernel { try? db.execute("BEGIN") }
        return StorageSession(connection: connection, writable: false, plugin: plugin)
    }

    func checkin(_ session: StorageSession) {
        session.finish()
        let db = session.connection.sqlite
        if sqlite3_get_autocommit(db.handle) == 0 {
            _ = db.authorizer.asKernel { try? db.execute("COMMIT") }
        }
        lock.lock()
        idle.append(session.connection)
        lock.signal()
        lock.unlock()
    }
}
