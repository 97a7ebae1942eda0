import CSQLite

/// A connection with its statement cache and watchdog, handed to one
/// session at a time.
final class StorageConnection {
    let sqlite: SQLiteConnection
    let cache = StatementCache()
    let watchdog = StatementWatchdog()
    let limits: StorageLimits
    /// The writer's: assigns audit entry ids (AuditWriter).
    var auditClock = AuditClock()

    init(_ sqlite: SQLiteConnection, limits: StorageLimits = StorageLimits()) {
        self.sqlite = sqlite
        self.limits = limits
        // What one statement may build (printf, zeroblob, group_concat...):
        // past this SQLite answers "string or blob too big" at once.
        sqlite3_limit(sqlite.handle, SQLITE_LIMIT_LENGTH, limits.maxValueBytes)
        watchdog.install(on: sqlite)
    }

    /// Runs one kernel statement without results (BEGIN, SAVEPOINT, COMMIT...)
    /// from a compiled copy: these run several times per write call.
    func control(_ sql: String) throws {
        let db = sqlite.handle
        try sqlite.authorizer.asKernel {
            guard let statement = cache.take(plugin: "", sql: sql, compile: {
                var s: OpaquePointer?
                sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
                return s
            }) else { throw sqlite.lastError() }
            let rc = sqlite3_step(statement)
            // Taken before the reset, which would clear the error.
            let error = rc == SQLITE_DONE ? nil : sqlite.lastError()
            cache.give(back: statement, plugin: "", sql: sql)
            if let error { throw error }
        }
    }

    /// Whether an explicit transaction is open (SQLite ends one by itself
    /// when an interrupted or failed write forces a rollback).
    var inTransaction: Bool { sqlite3_get_autocommit(sqlite.handle) == 0 }
}

/// What a plugin holds as `crm_stmt *`.
final class PreparedStatement {
    let handle: OpaquePointer
    let sql: String
    /// The DDL action it performs (SQLITE_CREATE_TABLE...), 0 for others:
    /// DDL is checked after it runs and never cached.
    let kind: Int32
    unowned let session: StorageSession

    init(handle: OpaquePointer, sql: String, kind: Int32, session: StorageSession) {
        self.handle = handle
        self.sql = sql
        self.kind = kind
        self.session = session
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// Like SQLite's own handles, using one after finalize is the plugin's bug.
    static func from(_ handle: OpaquePointer?) -> PreparedStatement? {
        guard let handle else { return nil }
        return Unmanaged<PreparedStatement>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }
}
