import CSQLite
import Foundation
import Synchronization

/// A SQLite value as crm-web stores them.
enum SQLValue: Sendable {
    case integer(Int64)
    case text(String)
    case null

    var int: Int64? { if case .integer(let v) = self { return v } else { return nil } }
    var string: String? { if case .text(let v) = self { return v } else { return nil } }
}

struct SQLiteError: Error, CustomStringConvertible {
    let description: String
}

/// One connection to a SQLite file, used by one caller at a time: crm-web's
/// writes are a few rows per sign-in, so a lock is all the concurrency it needs.
final class SQLiteDatabase: @unchecked Sendable {
    private let lock = Mutex(())
    private var handle: OpaquePointer?

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw SQLiteError(description: "cannot open \(path): \(message)")
        }
        handle = db
        // The users command may write while the server runs: WAL lets both in,
        // the busy timeout makes one wait for the other instead of failing.
        sqlite3_busy_timeout(db, 5000)
        _ = try query("PRAGMA journal_mode=WAL")
    }

    deinit { sqlite3_close(handle) }

    /// Runs one statement with `arguments` bound to its `?`s; the rows it returns.
    @discardableResult
    func query(_ sql: String, _ arguments: [SQLValue] = []) throws -> [[SQLValue]] {
        try lock.withLock { _ in
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
                throw SQLiteError(description: String(cString: sqlite3_errmsg(handle)))
            }
            defer { sqlite3_finalize(statement) }
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            for (i, argument) in arguments.enumerated() {
                let index = Int32(i + 1)
                switch argument {
                case .integer(let v): sqlite3_bind_int64(statement, index, v)
                case .text(let v): sqlite3_bind_text(statement, index, v, -1, transient)
                case .null: sqlite3_bind_null(statement, index)
                }
            }
            var rows: [[SQLValue]] = []
            while true {
                let step = sqlite3_step(statement)
                if step == SQLITE_DONE { break }
                guard step == SQLITE_ROW else { throw SQLiteError(description: String(cString: sqlite3_errmsg(handle))) }
                var row: [SQLValue] = []
                for column in 0..<sqlite3_column_count(statement) {
                    switch sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                    case SQLITE_NULL: row.append(.null)
                    default: row.append(.text(String(cString: sqlite3_column_text(statement, column))))
                    }
                }
                rows.append(row)
            }
            return rows
        }
    }
}
