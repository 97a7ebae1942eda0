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
                let nameOK = name.hasPrefix(prefix) || name.hasPrefix("sqlite_autoindex_" + prefix) || name == "sqlite_sequence"
                guard nameOK && (table.hasPrefix(prefix) || table == "sqlite_sequence") else {
                    return "plugin may only use tables named \(prefix)…; denied \(text(row[0])) \(text(row[1])) on \(text(row[2]))"
                }
                if let function = deniedCall(in: text(row[3])) { return "plugin SQL may not call \(function)()" }
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

    /// A denied function called in `sql` (SQLite does not show the
    /// authorizer the CHECK and generated-column expressions of ADD COLUMN,
    /// and evaluates them on existing rows while the ALTER runs). Read as
    /// SQLite tokenizes: string literals and comments are skipped, and a
    /// quoted name ("printf", [printf], `printf`) is the name it quotes.
    static func deniedCall(in sql: String) -> String? {
        var previousName: String?
        for token in SQLTokens(sql) {
            switch token {
            case .name(let name): previousName = name
            case .open:
                if let name = previousName, TableAuthorizer.deniedFunctions.contains(name) { return name }
                previousName = nil
            case .semicolon, .other: previousName = nil
            }
        }
        return nil
    }

    /// True when `tail` holds only whitespace, semicolons and comments.
    static func isBlank(_ tail: UnsafePointer<CChar>?) -> Bool {
        guard let tail else { return true }
        return SQLTokens(String(cString: tail)).allSatisfy { $0 == .semicolon }
    }

    private static func key(_ row: [SQLValue]) -> String { row.map(text).joined(separator: "\u{0}") }

    private static func text(_ value: SQLValue) -> String {
        if case .text(let t) = value { return t }
        return ""
    }
}

/// The tokens of SQL text that matter for spotting a function call or a
/// second statement: names (bare or quoted, lowercased), "(", ";" and
/// everything else; whitespace and comments are skipped.
struct SQLTokens: Sequence, IteratorProtocol {
    enum Token: Equatable { case name(String), open, semicolon, other }
    private let bytes: [UInt8]
    private var i = 0

    init(_ sql: String) { bytes = Array(sql.utf8) }

    mutating func next() -> Token? {
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0C, 0x0D: i += 1
            case 0x2D where at(i + 1) == 0x2D:  // -- comment
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            case 0x2F where at(i + 1) == 0x2A:  // /* comment */
                i += 2
                while i < bytes.count && !(bytes[i] == 0x2A && at(i + 1) == 0x2F) { i += 1 }
                i += 2
            case 0x27:  // 'string', '' escapes a quote
                _ = quoted(until: 0x27)
                return .other
            case 0x22: return .name(quoted(until: 0x22))  // "name"
            case 0x60: return .name(quoted(until: 0x60))  // `name`
            case 0x5B: return .name(quoted(until: 0x5D))  // [name]
            case 0x28: i += 1; return .open
            case 0x3B: i += 1; return .semicolon
            default:
                guard Self.isNameByte(c) else { i += 1; return .other }
                let start = i
                while i < bytes.count && Self.isNameByte(bytes[i]) { i += 1 }
                return .name(String(decoding: bytes[start..<i], as: UTF8.self).lowercased())
            }
        }
        return nil
    }

    private func at(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Reads a quoted run from the opening byte at `i`; a doubled closing byte stands for itself.
    private mutating func quoted(until close: UInt8) -> String {
        var out: [UInt8] = []
        i += 1
        while i < bytes.count {
            if bytes[i] == close {
                if close != 0x5D && at(i + 1) == close { out.append(close); i += 2; continue }
                i += 1
                break
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self).lowercased()
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        c == 0x5F || c == 0x24 || (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c >= 0x80
    }
}
