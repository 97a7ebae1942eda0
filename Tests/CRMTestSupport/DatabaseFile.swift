import CSQLite
import Foundation

/// Reads crmd's SQLite file directly, to check what really is on disk.
public struct DatabaseFile {
    public let path: String

    public init(dataDir: String) { path = dataDir + "/crm.db" }
    public init(path: String) { self.path = path }

    /// Every row of `sql`, each column as text ("NULL" for null).
    public func rows(_ sql: String) throws -> [[String]] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else {
            throw TestFailure("cannot open \(path)")
        }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw TestFailure(String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(statement) }
        var out: [[String]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            out.append((0..<sqlite3_column_count(statement)).map { i in
                sqlite3_column_text(statement, i).map { String(cString: $0) } ?? "NULL"
            })
        }
        return out
    }

    /// The schema and the kernel's migration records: what a migration changes.
    public func snapshot() throws -> [[String]] {
        try rows("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            + rows("SELECT plugin, version, name FROM kernel_migrations ORDER BY plugin, version")
    }

    /// Runs statements on the file (to set up a state before crmd starts).
    public func execute(_ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw TestFailure("cannot open \(path)") }
        defer { sqlite3_close(db) }
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw TestFailure(String(cString: sqlite3_errmsg(db))) }
    }
}
