import CSQLite
import Foundation

/// Confines SQL to one plugin's tables with SQLite's authorizer: a plugin
/// may create, read and write only tables (and indexes, triggers, views)
/// named `<plugin>_…`. ATTACH, PRAGMA, transaction control, virtual tables
/// and load_extension are denied.
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
    private(set) var denial: String?

    private static let schemaTables: Set<String> = ["sqlite_master", "sqlite_schema", "sqlite_stat1"]

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

    fileprivate func decide(_ action: Int32, _ a: String?, _ b: String?) -> Int32 {
        guard case .plugin(let prefix) = scope else { return SQLITE_OK }
        // SQLite names are case-insensitive; plugin names are lowercase.
        func owned(_ name: String?) -> Bool {
            guard let name = name?.lowercased() else { return true }
            // The schema table is written by every CREATE and DROP, which are
            // checked on their own; SQLite refuses direct writes to it.
            return name.hasPrefix(prefix) || Self.schemaTables.contains(name)
        }
        let allowed: Bool
        switch action {
        case SQLITE_READ:
            // AUTOINCREMENT counters may be read, never written by hand.
            allowed = owned(a) || a?.lowercased() == "sqlite_sequence"
        case SQLITE_CREATE_TABLE, SQLITE_DROP_TABLE, SQLITE_INSERT, SQLITE_DELETE, SQLITE_UPDATE:
            allowed = owned(a)
        case SQLITE_CREATE_INDEX, SQLITE_DROP_INDEX:
            // UNIQUE and PRIMARY KEY constraints make sqlite_autoindex_<table>_N.
            allowed = owned(b) && (owned(a) || a?.lowercased().hasPrefix("sqlite_autoindex_" + prefix) == true)
        case SQLITE_CREATE_TRIGGER, SQLITE_DROP_TRIGGER:
            allowed = owned(a) && owned(b)
        case SQLITE_CREATE_VIEW, SQLITE_DROP_VIEW:
            allowed = owned(a)
        case SQLITE_ALTER_TABLE:
            allowed = owned(b)
        case SQLITE_SELECT, SQLITE_RECURSIVE, SQLITE_REINDEX, SQLITE_ANALYZE:
            allowed = true
        case SQLITE_FUNCTION:
            allowed = b?.lowercased() != "load_extension"
        default:  // ATTACH, DETACH, PRAGMA, TRANSACTION, SAVEPOINT, temp objects, virtual tables
            allowed = false
        }
        if !allowed && denial == nil {
            denial = "plugin may only use tables named \(prefix)…; denied \(Self.actionName(action)) \(a ?? b ?? "")"
        }
        return allowed ? SQLITE_OK : SQLITE_DENY
    }

    private static func actionName(_ action: Int32) -> String {
        switch action {
        case SQLITE_CREATE_TABLE: return "CREATE TABLE"
        case SQLITE_DROP_TABLE: return "DROP TABLE"
        case SQLITE_INSERT: return "INSERT INTO"
        case SQLITE_DELETE: return "DELETE FROM"
        case SQLITE_READ: return "reading"
        case SQLITE_UPDATE: return "UPDATE"
        case SQLITE_CREATE_INDEX: return "CREATE INDEX"
        case SQLITE_ALTER_TABLE: return "ALTER TABLE"
        case SQLITE_ATTACH: return "ATTACH"
        case SQLITE_PRAGMA: return "PRAGMA"
        case SQLITE_FUNCTION: return "function"
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT: return "transaction control"
        default: return "action \(action)"
        }
    }
}

private let authorize: @convention(c) (
    UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
    UnsafePointer<CChar>?, UnsafePointer<CChar>?
) -> Int32 = { context, action, a, b, _, _ in
    guard let context else { return SQLITE_DENY }
    // The connection keeps the authorizer alive: it is owned next to it.
    let authorizer = Unmanaged<TableAuthorizer>.fromOpaque(context).takeUnretainedValue()
    // The kernel's own statements skip the string conversions entirely.
    if case .kernel = authorizer.scope { return SQLITE_OK }
    return authorizer.decide(action, a.map { String(cString: $0) }, b.map { String(cString: $0) })
}
