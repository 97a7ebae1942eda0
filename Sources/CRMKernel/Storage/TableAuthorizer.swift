import CSQLite
import Foundation

/// Confines SQL to one plugin's tables with SQLite's authorizer: a plugin
/// may create, read and write only tables (and indexes, triggers, views)
/// named `<plugin>_…`. SQLite's own tables, ATTACH, PRAGMA, ANALYZE,
/// transaction control, virtual tables other than FTS5 ones and a few
/// functions are denied (the rules are in TableAuthorizer+Rules).
///
/// The authorizer sees one action at a time, so it keeps a little state per
/// statement: whether the statement is DDL (whose nested bookkeeping SQLite
/// runs over `sqlite_schema` and must be let through), which unknown names
/// were used as tables (CTEs, checked after the compile), and which tables
/// the statement creates or alters (checked after it runs, see SchemaGuard).
final class TableAuthorizer {
    /// Whose SQL is being compiled: the kernel's own (anything goes) or a
    /// plugin's (confined to its prefix). Switched by the connection's single
    /// user, so it needs no lock.
    enum Scope {
        case kernel
        case plugin(prefix: String)
    }

    var scope: Scope = .kernel
    /// The first thing denied since the scope was last set, for the error message.
    var denial: String?

    /// The DDL action (SQLITE_CREATE_TABLE, SQLITE_ALTER_TABLE, ...) of the
    /// statement being compiled, 0 for DML and SELECT.
    var statementKind: Int32 = 0
    /// The DDL action of the statement being stepped: SQLite compiles
    /// statements of its own while running an ALTER TABLE.
    var runningKind: Int32 = 0
    /// SQLite has begun its own writes to sqlite_schema for this DDL
    /// statement: what follows is its bookkeeping, not the plugin's SQL (a
    /// `CREATE TABLE ... AS SELECT` runs the plugin's SELECT before that).
    var bookkeeping = false
    /// Names not in the plugin's prefix that the statement used as a table
    /// without reading a column: a CTE, unless such a table exists.
    var unknownNames: [String] = []
    /// SQLite is connecting a virtual table for the statement: its own
    /// UPDATE of sqlite_schema is followed by one read of the row's rowid.
    var connectingVirtualTable = false

    /// Installs this authorizer on `connection` for the connection's life.
    func install(on connection: SQLiteConnection) {
        sqlite3_set_authorizer(connection.handle, authorize, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Runs `body` with SQL confined to `plugin`'s tables.
    func confine<T>(to plugin: String, _ body: () throws -> T) rethrows -> T {
        let previous = scope
        scope = .plugin(prefix: plugin + "_")
        denial = nil
        defer { scope = previous }
        return try body()
    }

    /// Runs `body` as the kernel (transaction control, the kernel's tables).
    func asKernel<T>(_ body: () throws -> T) rethrows -> T {
        let previous = scope
        scope = .kernel
        defer { scope = previous }
        return try body()
    }

    /// Called before each compile (`running` 0) and each step (`running`
    /// the statement's kind): a recompile inside the step starts afresh.
    func beginStatement(running: Int32 = 0) {
        statementKind = 0
        runningKind = running
        bookkeeping = false
        connectingVirtualTable = false
        unknownNames.removeAll(keepingCapacity: true)
    }

    func deny(_ message: String) {
        if denial == nil { denial = message }
    }

    var prefix: String? {
        if case .plugin(let prefix) = scope { return prefix }
        return nil
    }
}

private let authorize: @convention(c) (
    UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
    UnsafePointer<CChar>?, UnsafePointer<CChar>?
) -> Int32 = { context, action, a, b, database, _ in
    guard let context else { return SQLITE_DENY }
    // The connection keeps the authorizer alive: it is owned next to it.
    let authorizer = Unmanaged<TableAuthorizer>.fromOpaque(context).takeUnretainedValue()
    // The kernel's own statements skip the string conversions entirely.
    guard case .plugin(let prefix) = authorizer.scope else { return SQLITE_OK }
    let allowed = authorizer.decide(action, a.map { String(cString: $0) }, b.map { String(cString: $0) },
                                    database: database.map { String(cString: $0) }, prefix: prefix)
    return allowed ? SQLITE_OK : SQLITE_DENY
}
