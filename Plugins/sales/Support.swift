import CRMPluginKit
import Foundation

extension Array where Element == SQLValue {
    func int(_ index: Int) -> Int64 { self[index].int ?? 0 }
    func int32(_ index: Int) -> Int32 { Int32(truncatingIfNeeded: self[index].int ?? 0) }
    func text(_ index: Int) -> String { self[index].string ?? "" }
}

/// Checks shared by the handlers; each error names the field at fault.
enum Check {
    /// Amounts are capped so that sums and amount × probability stay far from Int64's limit.
    static let maxAmountMinor: Int64 = 1_000_000_000_000_000

    /// Trims surrounding whitespace and checks the length.
    static func text(_ value: inout String, _ field: String, max: Int) throws {
        value = value.trimmedSpacesAndNewlines
        try Validate.maxLength(value, field, max)
    }

    /// A money amount: none (zero without a currency), or an ISO 4217 code
    /// with an amount from 0 up.
    static func money(_ money: inout Money, _ field: String) throws {
        money.currency = money.currency.trimmedSpaces
        if money.currency.isEmpty && money.amountMinor == 0 { return }
        try Validate.currency(money.currency, "\(field).currency")
        if money.amountMinor < 0 { throw PluginError.invalidArgument("\(field).amount_minor must not be negative") }
        if money.amountMinor > maxAmountMinor {
            throw PluginError.invalidArgument("\(field).amount_minor is larger than \(maxAmountMinor)")
        }
    }

    /// An optional "YYYY-MM-DD".
    static func date(_ value: inout String, _ field: String) throws {
        value = value.trimmedSpaces
        if !value.isEmpty { try Validate.date(value, field) }
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
