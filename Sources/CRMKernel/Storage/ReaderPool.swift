import CRMPluginABI
import CSQLite
import Foundation

/// Read-only connections for calls that do not write. In WAL mode readers
/// never wait for the writer; each call reads one snapshot (a read
/// transaction from its first statement to its end).
final class ReaderPool: @unchecked Sendable {
    private let lock = NSCondition()
    private var idle: [StorageConnection]

    init(path: String, count: Int, limits: StorageLimits = StorageLimits()) throws {
        idle = try (0..<max(1, count)).map { _ in
            let sqlite = try SQLiteConnection(path: path, readOnly: true)
            // 16 MiB of pages each (SQLite's default is 2): index pages of a
            // million contacts stay in memory instead of a pread per lookup.
            // Checkout is last-in first-out, so only the readers in use warm up.
            try sqlite.execute("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1; PRAGMA cache_size = -16384")
            return StorageConnection(sqlite, limits: limits)
        }
    }

    /// A session on a reader, in a snapshot; waits while all are in use.
    /// Hand it back with `checkin`.
    func checkout(plugin: String) -> StorageSession {
        lock.lock()
        while idle.isEmpty { lock.wait() }
        let connection = idle.removeLast()
        lock.unlock()
        try? connection.control("BEGIN")
        return StorageSession(connection: connection, writable: false, plugin: plugin)
    }

    func checkin(_ session: StorageSession) {
        session.finish()
        if sqlite3_get_autocommit(session.connection.sqlite.handle) == 0 {
            try? session.connection.control("COMMIT")
        }
        lock.lock()
        idle.append(session.connection)
        lock.signal()
        lock.unlock()
    }
}
