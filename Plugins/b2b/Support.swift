import CRMPluginKit

extension Array where Element == SQLValue {
    func int(_ index: Int) -> Int64 { self[index].int ?? 0 }
    func int32(_ index: Int) -> Int32 { Int32(truncatingIfNeeded: self[index].int ?? 0) }
    func text(_ index: Int) -> String { self[index].string ?? "" }
    func blob(_ index: Int) -> [UInt8] { self[index].bytes ?? [] }
}

/// Checks shared by the handlers; each error names the field at fault.
enum Check {
    /// As sales: amounts stay far from Int64's limit, so sums of thousands of them cannot wrap.
    static let maxAmountMinor: Int64 = 1_000_000_000_000_000

    static func text(_ value: inout String, _ field: String, max: Int, required: Bool = false) throws {
        value = value.trimmedSpacesAndNewlines
        if required { try Validate.required(value, field) }
        try Validate.maxLength(value, field, max)
    }

    static func amount(_ value: Int64, _ field: String) throws {
        guard (0...maxAmountMinor).contains(value) else {
            throw PluginError.invalidArgument("\(field) is \(value); it must be 0 to \(maxAmountMinor)")
        }
    }

    static func basisPoints(_ value: Int32, _ field: String, max: Int32 = 10_000) throws {
        guard (0...max).contains(value) else {
            throw PluginError.invalidArgument("\(field) is \(value); it must be 0 to \(max) (basis points: 100 = 1 %)")
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
