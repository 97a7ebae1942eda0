import CRMKernelCore
import CSQLite

/// What plugin SQL may do, action by action (SQLite calls the authorizer for
/// every table, column, function and DDL object a statement names while it
/// is compiled). The order of the calls for DDL was read off SQLite 3.40:
/// CREATE TABLE checks an INSERT into sqlite_schema, then CREATE_TABLE, then
/// compiles any AS SELECT, then its own UPDATE of sqlite_schema; ALTER and
/// DROP start with their action and carry no SQL of the plugin's.
extension TableAuthorizer {
    /// DDL actions: the statement's kind is the first of these it performs.
    private static let ddlActions: Set<Int32> = [
        SQLITE_CREATE_INDEX, SQLITE_CREATE_TABLE, SQLITE_CREATE_TRIGGER, SQLITE_CREATE_VIEW,
        SQLITE_DROP_INDEX, SQLITE_DROP_TABLE, SQLITE_DROP_TRIGGER, SQLITE_DROP_VIEW, SQLITE_ALTER_TABLE,
        SQLITE_CREATE_VTABLE, SQLITE_DROP_VTABLE,
    ]
    private static let schemaTables: Set<String> = ["sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"]
    /// Whether SQLite's own tables may be touched now: only by the
    /// bookkeeping of a DDL statement on the plugin's own objects.
    private var inBookkeeping: Bool {
        switch statementKind {
        case 0: return false
        case SQLITE_ALTER_TABLE, SQLITE_DROP_TABLE, SQLITE_DROP_INDEX, SQLITE_DROP_VIEW, SQLITE_DROP_TRIGGER, SQLITE_DROP_VTABLE:
            return true
        default: return bookkeeping
        }
    }

    private var inAlter: Bool { statementKind == SQLITE_ALTER_TABLE || runningKind == SQLITE_ALTER_TABLE }

    func decide(_ action: Int32, _ rawA: String?, _ rawB: String?, database: String?, prefix: String) -> Bool {
        // SQLite names are case-insensitive; plugin names are lowercase.
        let a = rawA?.lowercased(), b = rawB?.lowercased()
        func owned(_ name: String?) -> Bool { name.map { PluginTableNames.isOwned($0, prefix: prefix) } ?? true }
        func ownedIndex(_ name: String?) -> Bool { name.map { PluginTableNames.isOwnedIndex($0, prefix: prefix) } ?? true }
        func isSQLiteTable(_ name: String?) -> Bool { name?.hasPrefix("sqlite_") == true }
        let allowed: Bool
        switch action {
        case SQLITE_READ:
            if isSQLiteTable(a) {
                allowed = inBookkeeping || (connectingVirtualTable && Self.schemaTables.contains(a ?? "") && b == "rowid")
                if !inBookkeeping { connectingVirtualTable = false }
            } else if owned(a) {
                allowed = true
            } else if b == "", let a, !a.hasPrefix("pragma_"), a != "dbstat" {
                // A name used without reading a column is a CTE unless a
                // table has that name; the session checks which after the compile.
                unknownNames.append(a)
                allowed = true
            } else {
                // ADD COLUMN with a CHECK runs pragma_quick_check on the table.
                allowed = a == "pragma_quick_check" && inAlter
            }
        case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
            if let a, Self.schemaTables.contains(a) {
                // SQLite itself refuses a plugin's DML on sqlite_schema; these
                // are its own writes for a DDL statement (checked on its own).
                if statementKind != 0 { bookkeeping = true } else if action == SQLITE_UPDATE { connectingVirtualTable = true }
                allowed = true
            } else if isSQLiteTable(a) {
                allowed = inBookkeeping
            } else {
                allowed = owned(a)
            }
        case SQLITE_CREATE_TABLE:
            // The first AUTOINCREMENT table makes SQLite create sqlite_sequence.
            allowed = owned(a) || (statementKind != 0 && a == "sqlite_sequence")
        case SQLITE_DROP_TABLE, SQLITE_CREATE_VIEW, SQLITE_DROP_VIEW:
            allowed = owned(a)
        case SQLITE_CREATE_INDEX, SQLITE_DROP_INDEX:
            allowed = owned(b) && ownedIndex(a)
        case SQLITE_CREATE_TRIGGER, SQLITE_DROP_TRIGGER:
            allowed = owned(a) && owned(b)
        case SQLITE_ALTER_TABLE:
            // a is the database, b the table; a rename's target is checked after it ran.
            allowed = a == "main" && owned(b)
        case SQLITE_REINDEX:
            allowed = ownedIndex(a)
        case SQLITE_PRAGMA:
            // FTS5 reads data_version (a read-only counter) to see other connections' writes.
            allowed = (a == "quick_check" && inAlter && owned(b)) || (a == "data_version" && b == nil)
        case SQLITE_CREATE_VTABLE, SQLITE_DROP_VTABLE:
            // FTS5 only, in the prefix: its shadow tables take the table's
            // name as prefix, and the SQL it runs on them (or on an external
            // content table) is authorized as the plugin's own.
            allowed = owned(a) && b == "fts5"
        case SQLITE_SELECT, SQLITE_RECURSIVE:
            allowed = true
        case SQLITE_FUNCTION:
            // ALTER TABLE's own SQL calls printf; the plugin's column
            // expressions in ADD COLUMN are not shown here (SchemaGuard reads them).
            allowed = !SQLChecks.deniedFunctions.contains(b ?? "") || (inAlter && (b == "printf" || b == "format"))
        default:  // ANALYZE, ATTACH, DETACH, TRANSACTION, SAVEPOINT, temp objects
            allowed = false
        }
        if allowed {
            if statementKind == 0 && Self.ddlActions.contains(action) { statementKind = action }
        } else {
            deny(Self.denialMessage(action, a: rawA, b: rawB, prefix: prefix))
        }
        return allowed
    }

    private static func denialMessage(_ action: Int32, a: String?, b: String?, prefix: String) -> String {
        switch action {
        case SQLITE_ANALYZE: return "denied ANALYZE: it is run by the kernel only"
        case SQLITE_FUNCTION: return "plugin SQL may not call \(b ?? "this function")()"
        case SQLITE_ALTER_TABLE: return "plugin may only use tables named \(prefix)…; denied ALTER TABLE \(b ?? "")"
        default:
            return "plugin may only use tables named \(prefix)…; denied \(actionName(action)) \(a ?? b ?? "")"
        }
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
        case SQLITE_REINDEX: return "REINDEX"
        case SQLITE_ATTACH: return "ATTACH"
        case SQLITE_PRAGMA: return "PRAGMA"
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT: return "transaction control"
        default: return "action \(action)"
        }
    }
}
