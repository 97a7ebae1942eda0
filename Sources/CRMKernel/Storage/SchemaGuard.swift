import CRMKernelCore
import CSQLite

/// Checks on plugin SQL that the authorizer cannot make while a statement
/// compiles, run as the kernel on the same connection:
/// - after a DDL statement ran: every schema object it made is named in the
///   plugin's prefix (a RENAME's target is not shown to the authorizer), and
///   no foreign key of the plugin's tables names a table outside it (a
///   REFERENCES clause is not shown either, and such a key makes SQLite read
///   or check the plugin's table on every write of the other plugin's);
/// - after a compile: a name used as a table without a prefix is a CTE, not
///   somebody else's table.
enum SchemaGuard {
    typealias Snapshot = Set<String>

    /// The schema's objects before a DDL statement runs.
    static func snapshot(_ db: SQLiteConnection) throws -> Snapshot {
        let rows = try db.authorizer.asKernel { try db.query("SELECT type, name, tbl_name, sql FROM sqlite_schema") }
        return Set(rows.map(key))
    }

    /// Why the DDL that ran since `before` must not stand, or nil.
    static func violation(_ db: SQLiteConnection, prefix: String, since before: Snapshot) throws -> String? {
        try db.authorizer.asKernel {
            // New or changed objects (an ALTER changes the table's sql).
            for row in try db.query("SELECT type, name, tbl_name, sql FROM sqlite_schema") where !before.contains(key(row)) {
                let name = text(row[1]).lowercased(), table = text(row[2]).lowercased()
                let nameOK = PluginTableNames.isOwnedIndex(name, prefix: prefix) || name == "sqlite_sequence"
                guard nameOK && (PluginTableNames.isOwned(table, prefix: prefix) || table == "sqlite_sequence") else {
                    return "plugin may only use tables named \(prefix)…; denied \(text(row[0])) \(text(row[1])) on \(text(row[2]))"
                }
                if let function = SQLChecks.deniedCall(in: text(row[3])) { return "plugin SQL may not call \(function)()" }
            }
            return try foreignKeyViolation(db, prefix: prefix)
        }
    }

    /// A foreign key of one of `prefix`'s tables that references a table outside it.
    static func foreignKeyViolation(_ db: SQLiteConnection, prefix: String) throws -> String? {
        let rows = try db.query("""
            SELECT m.name, f."table" FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
            WHERE m.type = 'table' AND substr(lower(m.name), 1, ?) = ?
            """, [.integer(Int64(prefix.utf8.count)), .text(prefix)])
        for row in rows where !text(row[1]).lowercased().hasPrefix(prefix) {
            return "a foreign key may reference only the plugin's own tables (\(prefix)…); \(text(row[0])) references \(text(row[1]))"
        }
        return nil
    }

    /// The first of `names` (used as tables without a column read) that is
    /// a real table or view: only a CTE may go by a name outside the prefix.
    static func realTable(among names: [String], _ db: SQLiteConnection) throws -> String? {
        try db.authorizer.asKernel {
            for name in Set(names) {
                let rows = try db.query("SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND lower(name) = ?",
                                        [.text(name)])
                if !rows.isEmpty { return name }
            }
            return nil
        }
    }

    /// True when `tail` holds only whitespace, semicolons and comments.
    static func isBlank(_ tail: UnsafePointer<CChar>?) -> Bool {
        guard let tail else { return true }
        return SQLChecks.isBlank(String(cString: tail))
    }

    private static func key(_ row: [SQLValue]) -> String { row.map(text).joined(separator: "\u{0}") }

    private static func text(_ value: SQLValue) -> String {
        if case .text(let t) = value { return t }
        return ""
    }
}
