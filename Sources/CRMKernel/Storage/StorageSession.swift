import CRMKernelCore
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
    private let prefix: String
    /// The statements the handler holds; returned to the cache when the call ends.
    private var statements: [ObjectIdentifier: PreparedStatement] = [:]
    /// The call using this session, to record statement errors on.
    weak var owner: PluginCall?
    /// This call's own: the writer connection's counters belong to every call in turn.
    var lastInsertID: Int64 = 0
    var changes: Int64 = 0
    /// For the audit trail (AuditWriter): the plugin's own statements
    /// changed rows, the call recorded an entry.
    var wroteRows = false
    var audited = false
    /// Set by the group commit for a top-level job: the call's implicit
    /// entry is counted into the group's summary (AuditSummary) once its
    /// savepoint is released, instead of being a row of its own.
    var summarizesImplicitEntry = false
    /// The implicit entry this call is owed, when it is summarized.
    var implicitEntryOwed: AuditWho?
    /// When the call's time budget for SQL ends (µs since the epoch, UTC).
    let budgetDeadlineMicros: UInt64
    /// Set when the call must fail whatever its handler returns (its DDL
    /// broke isolation, its statement was interrupted, or SQLite rolled the
    /// transaction back): every later storage function refuses with it, and
    /// the writer rolls the call back.
    private(set) var fatal: SessionError?

    init(connection: StorageConnection, writable: Bool, plugin: String) {
        self.connection = connection
        self.writable = writable
        self.plugin = plugin
        prefix = plugin + "_"
        budgetDeadlineMicros = Clock.unixMicros() + UInt64(max(0, connection.limits.sqlTimeoutMillis)) * 1000
        // What SQL's last_insert_rowid() sees starts afresh with each call.
        sqlite3_set_last_insert_rowid(connection.sqlite.handle, 0)
    }

    /// Runs `body` with the connection's SQL confined to this plugin.
    func confined<T>(_ body: () throws -> T) rethrows -> T {
        try connection.sqlite.authorizer.confine(to: plugin, body)
    }

    /// Records `error` as the call's fatal one (the first wins) and returns it.
    @discardableResult
    func fail(_ error: SessionError) -> SessionError {
        if fatal == nil { fatal = error }
        return error
    }

    /// Refuses SQL once the call is doomed, or when a writing call's
    /// transaction is gone (its SQL would otherwise commit on its own).
    func checkUsable() throws {
        if let fatal { throw fatal }
        if writable && !connection.inTransaction {
            throw fail(SessionError(status: CRM_STATUS_UNAVAILABLE,
                                    message: "the write transaction was rolled back by SQLite; this call cannot write any more"))
        }
    }

    func prepare(_ sql: String) throws -> PreparedStatement {
        try checkUsable()
        let db = connection.sqlite.handle
        let authorizer = connection.sqlite.authorizer
        var kind: Int32 = 0
        var refusal: SessionError?
        let compiled = confined {
            connection.cache.take(plugin: plugin, sql: sql) { sql.withCString { text in
                authorizer.beginStatement()
                var statement: OpaquePointer?
                // Points into `text`: only valid inside this closure.
                var tail: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v3(db, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail)
                guard rc == SQLITE_OK, let statement else {
                    sqlite3_finalize(statement)
                    refusal = rc == SQLITE_OK
                        ? SessionError(status: CRM_STATUS_INVALID_ARGUMENT, message: "prepare was given no SQL statement")
                        : error(rc)
                    return nil
                }
                kind = authorizer.statementKind
                do {
                    // Only one statement: a second one would be silently ignored.
                    guard SchemaGuard.isBlank(tail) else {
                        let rest = tail.map { String(cString: $0).prefix(80) } ?? ""
                        throw SessionError(status: CRM_STATUS_INVALID_ARGUMENT,
                                           message: "prepare takes one statement; SQL follows it: \(rest)")
                    }
                    try admitNames()
                } catch {
                    sqlite3_finalize(statement)
                    refusal = error as? SessionError ?? SessionError(status: CRM_STATUS_INTERNAL, message: "\(error)")
                    return nil
                }
                return statement
            } }
        }
        guard let compiled else { throw refusal ?? error(sqlite3_extended_errcode(db)) }
        let statement = PreparedStatement(handle: compiled, sql: sql, kind: kind, session: self)
        statements[ObjectIdentifier(statement)] = statement
        return statement
    }

    /// Runs statements that take no parameters and return no rows, one by
    /// one, each checked as `prepare` and `step` check it.
    func exec(_ sql: String) throws {
        try checkUsable()
        let db = connection.sqlite.handle
        let authorizer = connection.sqlite.authorizer
        try sql.withCString { base in
            var next: UnsafePointer<CChar>? = base
            while let start = next, start.pointee != 0 {
                var handle: OpaquePointer?
                let rc = confined { () -> Int32 in
                    authorizer.beginStatement()
                    return sqlite3_prepare_v3(db, start, -1, 0, &handle, &next)
                }
                guard rc == SQLITE_OK else {
                    sqlite3_finalize(handle)
                    throw error(rc)
                }
                guard let handle else { continue }  // only whitespace or a comment was left
                defer { sqlite3_finalize(handle) }
                let statement = PreparedStatement(handle: handle, sql: "", kind: authorizer.statementKind, session: self)
                try admitNames()
                while try step(statement) {}
            }
        }
    }

    /// Steps `statement` for the plugin: watched by the deadline, confined,
    /// its counters kept per call, and its DDL checked once it ran. True
    /// when a row is ready.
    func step(_ statement: PreparedStatement) throws -> Bool {
        try checkUsable()
        let sqlite = connection.sqlite
        let db = sqlite.handle
        if statement.kind == SQLITE_ALTER_TABLE, let function = SQLChecks.deniedCall(in: String(cString: sqlite3_sql(statement.handle))) {
            throw SessionError(status: CRM_STATUS_PERMISSION_DENIED, message: "plugin SQL may not call \(function)()")
        }
        let before = statement.kind != 0 && writable ? try SchemaGuard.snapshot(sqlite) : nil
        let total = sqlite3_total_changes64(db)
        let previousRowID = sqlite3_last_insert_rowid(db)
        sqlite3_set_last_insert_rowid(db, 0)
        let rc = connection.watchdog.watch(self) {
            confined { () -> Int32 in
                sqlite.authorizer.beginStatement(running: statement.kind)
                return sqlite3_step(statement.handle)
            }
        }
        let rowID = sqlite3_last_insert_rowid(db)
        if rowID != 0 { lastInsertID = rowID } else { sqlite3_set_last_insert_rowid(db, previousRowID) }
        if rc == SQLITE_ROW { return true }
        guard rc == SQLITE_DONE else { throw error(rc) }
        changes = sqlite3_total_changes64(db) != total ? sqlite3_changes64(db) : 0
        if sqlite3_total_changes64(db) != total { wroteRows = true }
        if let before, let problem = try SchemaGuard.violation(sqlite, prefix: prefix, since: before) {
            throw fail(SessionError(status: CRM_STATUS_PERMISSION_DENIED, message: problem))
        }
        return false
    }

    /// Refuses a name used as a table outside the prefix unless it is a CTE.
    private func admitNames() throws {
        let names = connection.sqlite.authorizer.unknownNames
        guard !names.isEmpty, let table = try SchemaGuard.realTable(among: names, connection.sqlite) else { return }
        throw SessionError(status: CRM_STATUS_PERMISSION_DENIED,
                           message: "plugin may only use tables named \(prefix)…; denied reading \(table)")
    }

    func release(_ statement: PreparedStatement) {
        guard statements.removeValue(forKey: ObjectIdentifier(statement)) != nil else { return }
        giveBack(statement)
    }

    /// Ends the session: every statement still open goes back to the cache.
    func finish() {
        statements.values.forEach(giveBack)
        statements.removeAll()
    }

    /// DDL is compiled afresh each time, so the authorizer sees it every time.
    private func giveBack(_ statement: PreparedStatement) {
        if statement.kind != 0 {
            sqlite3_finalize(statement.handle)
        } else {
            connection.cache.give(back: statement.handle, plugin: plugin, sql: statement.sql)
        }
    }
}
