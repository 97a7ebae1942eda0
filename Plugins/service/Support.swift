import CRMPluginKit

extension Array where Element == SQLValue {
    func int(_ index: Int) -> Int64 { self[index].int ?? 0 }
    func text(_ index: Int) -> String { self[index].string ?? "" }
}

/// Checks shared by the handlers; each error names the field at fault.
enum Check {
    /// Trims surrounding whitespace and checks the length.
    static func text(_ value: inout String, _ field: String, max: Int) throws {
        value = value.trimmedSpacesAndNewlines
        try Validate.maxLength(value, field, max)
    }

    /// A CRM user or team name as crmd spells them (docs/ACCESS.md): 1-64
    /// of a-z 0-9 . _ - starting with a letter or digit. Empty passes.
    static func name(_ value: String, _ field: String) throws {
        guard !value.isEmpty else { return }
        let bytes = Array(value.utf8)
        func allowed(_ c: UInt8) -> Bool {
            (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 46 || c == 95 || c == 45
        }
        guard bytes.count <= 64, bytes.allSatisfy(allowed), let first = bytes.first, first != 46, first != 95, first != 45 else {
            throw PluginError.invalidArgument("\(field) \"\(value.prefix(80))\" is not a CRM name (1-64 of a-z 0-9 . _ - starting with a letter or digit)")
        }
    }

    /// A known enum value other than UNSPECIFIED (or UNSPECIFIED when `optional`).
    static func known(_ raw: Int, _ range: ClosedRange<Int>, _ field: String, optional: Bool = false) throws {
        if raw == 0 && optional { return }
        guard range.contains(raw) else {
            throw PluginError.invalidArgument(raw == 0 ? "\(field) is required" : "\(field) \(raw) is out of range")
        }
    }
}

/// Keyset pages: runs `sql` (which must end with "LIMIT ?") for one more
/// row than the page holds and returns the page and the next token.
func fetchPage<Row>(_ db: Database, _ sql: String, _ parameters: [SQLValue], _ paging: Paging,
                    decode: ([SQLValue]) throws -> Row, key: ([SQLValue]) -> [SQLValue]) throws -> (rows: [Row], nextToken: String) {
    let rows = try db.query(sql, parameters + [.integer(Int64(paging.limit + 1))])
    let page = paging.page(rows, key: key)
    return (try page.rows.map(decode), page.nextToken)
}

/// A keyset value from a page token as an integer: a token whose value is
/// not one is not a token this list returned.
func tokenInt(_ value: SQLValue) throws -> SQLValue {
    guard case .integer = value else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
    return value
}
