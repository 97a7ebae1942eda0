import CSQLite
import Foundation

/// Confines SQL to one plugin's tables with SQLite's authorizer: a plugin
/// may create, read and write only tables (and indexes, triggers, views)
/// named `<plugin>_…`. ATTACH, PRAGMA, transaction control, virtual tables
/// and load_extension are denied.
final class TableAuthorizer {
    let prefix: String
    /// The first thing denied, for the error message.
    private(set) var denial: String?

    init(plugin: String) { prefix = plugin + "_" }

    /// Installs the authorizer on `connection` for the duration of `body`.
    func confine<T>(_ connection: SQLiteConnection, _ body: () throws -> T) rethrows -> T {
        denial = nil
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_set_authorizer(connection.handle, authorize, context)
        defer { sqlite3_set_authorizer(connection.handle, nil, nil) }
        return try withExtendedLifetime(self) { try body() }
    }

    fileprivate func decide(_ action: Int32, _ a: String?, _ b: String?) -> Int32 {
        func owned(_ name: String?) -> Bool {
            guard let name = name?.lowercased() else { return true }
            // sqlite_… objects are SQLite's own bookkeeping, which it guards itself.
            return name.hasPrefix(prefix) || name.hasPrefix("sqlite_")
        }
        let allowed: Bool
        switch action {
        case SQLITE_CREATE_TABLE, SQLITE_DROP_TABLE, SQLITE_INSERT, SQLITE_DELETE, SQLITE_READ, SQLITE_UPDATE:
            allowed = owned(a)
        case SQLITE_CREATE_INDEX, SQLITE_DROP_INDEX, SQLITE_CREATE_TRIGGER, SQLITE_DROP_TRIGGER:
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
            denial = "plugin may only use tables named \(prefix)…; denied \(Self.actionName(action)) \(a ?? "")"
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
    let authorizer = Unmanaged<TableAuthorizer>.fromOpaque(context).takeUnretainedValue()
    return authorizer.decide(action, a.map { String(cString: $0) }, b.map { String(cString: $0) })
}
