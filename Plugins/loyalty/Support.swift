import CRMPluginKit
import Foundation

extension Array where Element == SQLValue {
    func int(_ index: Int) -> Int64 { self[index].int ?? 0 }
    func text(_ index: Int) -> String { self[index].string ?? "" }
}

/// Checks shared by the handlers; each error names the field at fault.
enum Check {
    /// Amounts in one request: far from Int64's limit, so a sum of a few
    /// never overflows before the checked balance arithmetic sees it.
    static let maxAmount: Int64 = 1_000_000_000_000_000

    static func amount(_ value: Int64, _ field: String, allowZero: Bool = false) throws {
        if value == 0 && allowZero { return }
        guard value > 0 else { throw PluginError.invalidArgument("\(field) must be positive, got \(value)") }
        guard value <= maxAmount else { throw PluginError.invalidArgument("\(field) is larger than \(maxAmount)") }
    }

    static func text(_ value: String, _ field: String, max: Int = 200, required: Bool = false) throws -> String {
        let trimmed = value.trimmedSpacesAndNewlines
        if required { try Validate.required(trimmed, field) }
        try Validate.maxLength(trimmed, field, max)
        return trimmed
    }

    static func id(_ value: Int64, _ field: String) throws { try Validate.positiveID(value, field) }
}

/// Keyset pages: runs `sql` (ending in "LIMIT ?") for one more row than the page holds.
func fetchPage<Row>(_ db: Database, _ sql: String, _ parameters: [SQLValue], _ paging: Paging,
                    decode: ([SQLValue]) throws -> Row, key: ([SQLValue]) -> [SQLValue]) throws -> (rows: [Row], nextToken: String) {
    let rows = try db.query(sql, parameters + [.integer(Int64(paging.limit + 1))])
    let page = paging.page(rows, key: key)
    return (try page.rows.map(decode), page.nextToken)
}

/// Who a call acts for, for idempotency fingerprints, rate limits and postings.
func callerName(_ ctx: CallContext) -> String {
    if let user = ctx.user, !user.isEmpty { return user }
    return "uid:\(ctx.callerUID)"
}

/// Splits an amount over parts in proportion to their sizes without losing
/// a minor unit: shares rounded down, then the remainder one unit at a
/// time from the last part with room (a part never gets more than its size).
enum Apportion {
    static func split(_ amount: Int64, over sizes: [Int64]) -> [Int64] {
        let all = sizes.reduce(Int64(0)) { EarnRules.add($0, $1) }
        guard all > 0 else { return sizes.map { _ in 0 } }
        var shares = sizes.map { EarnRules.share(min(amount, all), part: $0, of: all) }
        var rest = min(amount, all) - shares.reduce(0, +)
        while rest > 0, let i = shares.indices.last(where: { shares[$0] < sizes[$0] }) {
            let n = min(rest, sizes[i] - shares[i])
            shares[i] += n
            rest -= n
        }
        return shares
    }
}
