import CRMPluginABI
import CSQLite

/// A plugin call's use of the database: one connection (the writer inside a
/// write transaction, or a reader holding a snapshot), confined to the
/// plugin's tables, plus the statements the handler has open.
///
/// Used only by the thread running the handler.
final class StorageSession {
    let connection: StorageConnection
    let writable: Bool
    /// The plugin whose tables the SQL may touch; also the statement-cache key.
    let plugin: String
    /// The statements the handler holds; returned to the cache when the call ends.
    private var statements: [ObjectIdentifier: PreparedStatement] = [:]
    /// The call using this session, to record statement errors on.
    weak var owner: PluginCall?
    var lastInsertID: Int64 = 0
    var changes: Int64 = 0

    init(connection: StorageConnection, writable: Bool, plugin: String) {
        self.connection = connection
        self.writable = writable
        self.plugin = plugin
    }

    /// Runs `body` with the connection's SQL confined to this plugin.
    func confined<T>(_ body: () throws -> T) rethrows -> T {
        try connection.sqlite.authorizer.confine(to: plugin, body)
    }

    func prepare(_ sql: String) throws -> PreparedStatement {
        let db = connection.sqlite.handle
        let compiled = confined {
            connection.cache.take(plugin: plugin, sql: sql) {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail)
                if rc != SQLITE_OK {
                    sqlite3_finalize(statement)
                    return nil
                }
                return statement
            }
        }
        guard let compiled else { throw error(sqlite3_extended_errcode(db)) }
        let statement = PreparedStatement(handle: compiled, sql: sql, session: self)
        statements[ObjectIdentifier(statement)] = statement
        return statement
    }

    /// Runs statements that take no parameters and return no rows.
    func exec(_ sql: String) throws {
        let db = connection.sqlite.handle
        let rc = confined { sqlite3_exec(db, sql, nil, nil, nil) }
        guard rc == SQLITE_OK else { throw error(rc) }
        noteChanges()
    }

    func noteChanges() {
        lastInsertID = sqlite3_last_insert_rowid(connection.sqlite.handle)
        changes = Int64(sqlite3_changes64(connection.sqlite.handle))
    }

    func release(_ statement: PreparedStatement) {
        guard statements.removeValue(forKey: ObjectIdentifier(statement)) != nil else { return }
        connection.cache.give(back: statement.handle, plugin: plugin, sql: statement.sql)
    }

    /// Ends the session: every statement still open goes back to the cache.
    func finish() {
        for statement in statements.values {
            connection.cache.give(back: statement.handle, plugin: plugin, sql: statement.sql)
        }
        statements.removeAll()
    }

    /// SQLite's result as a status with SQLite's message (or the denial, which says more).
    func error(_ rc: Int32) -> SessionError {
        let db = connection.sqlite.handle
        let primary = rc & 0xff
        // A denied function (load_extension) comes back as SQLITE_ERROR, not SQLITE_AUTH.
        if primary == SQLITE_AUTH || primary == SQLITE_ERROR, let denial = connection.sqlite.authorizer.denial {
            return SessionError(status: CRM_STATUS_PERMISSION_DENIED, message: denial)
        }
        if primary == SQLITE_READONLY && !writable {
            return SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                                message: "this method is not declared as writing (CRM_METHOD_FLAG_WRITES); it cannot change the database")
        }
        return SessionError(status: Self.status(for: rc), message: String(cString: sqlite3_errmsg(db)))
    }

    // Extended result codes are macros Swift cannot import.
    private static let constraintPrimaryKey = SQLITE_CONSTRAINT | (6 << 8)
    private static let constraintUnique = SQLITE_CONSTRAINT | (8 << 8)
    private static let constraintRowID = SQLITE_CONSTRAINT | (10 << 8)

    static func status(for rc: Int32) -> crm_status {
        switch rc {
        case constraintUnique, constraintPrimaryKey, constraintRowID:
            return CRM_STATUS_ALREADY_EXISTS
        default: break
        }
        switch rc & 0xff {
        case SQLITE_CONSTRAINT, SQLITE_MISMATCH: return CRM_STATUS_FAILED_PRECONDITION
        case SQLITE_AUTH, SQLITE_PERM: return CRM_STATUS_PERMISSION_DENIED
        case SQLITE_BUSY, SQLITE_LOCKED: return CRM_STATUS_UNAVAILABLE
        case SQLITE_FULL, SQLITE_TOOBIG, SQLITE_NOMEM: return CRM_STATUS_RESOURCE_EXHAUSTED
        case SQLITE_RANGE: return CRM_STATUS_OUT_OF_RANGE
        case SQLITE_CORRUPT, SQLITE_NOTADB: return CRM_STATUS_DATA_LOSS
        case SQLITE_INTERRUPT: return CRM_STATUS_CANCELLED
        default: return CRM_STATUS_INTERNAL
        }
    }
}

struct SessionError: Error {
    var status: crm_status
    var message: String
}

/// What a plugin holds as `crm_stmt *`.
final class PreparedStatement {
    let handle: OpaquePointer
    let sql: String
    unowned let session: StorageSession

    init(handle: OpaquePointer, sql: String, session: StorageSession) {
        self.handle = handle
        self.sql = sql
        self.session = session
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// Like SQLite's own handles, using one after finalize is the plugin's bug.
    static func from(_ handle: OpaquePointer?) -> PreparedStatement? {
        guard let handle else { return nil }
        return Unmanaged<PreparedStatement>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }
}

/// A connection with its statement cache, handed to one session at a time.
final class StorageConnection {
    let sqlite: SQLiteConnection
    let cache = StatementCache()

    init(_ sqlite: SQLiteConnection) { self.sqlite = sqlite }

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
}
