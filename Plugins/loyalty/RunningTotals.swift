import CRMPluginKit
import LoyaltyContract

/// A house account's running totals, kept on each of its entries beside
/// balance_after: how many entries it has, and what was debited (less the
/// debits reversed), charged and paid in, up to and including that entry. A period's totals are the
/// differences at its edges (HouseStatements), checked by Reconcile.
struct RunningTotals: Equatable {
    var seq: Int64 = 0
    var debited: Int64 = 0
    var charged: Int64 = 0
    var paid: Int64 = 0

    static let columns = "seq, debited_after, charged_after, paid_after"

    init() {}

    init(_ row: [SQLValue], from index: Int) {
        seq = row.int(index)
        debited = row.int(index + 1)
        charged = row.int(index + 2)
        paid = row.int(index + 3)
    }

    /// The totals of the account's last entry before `time` (all of them
    /// when `time` is nil); zero before its first.
    static func at(_ db: Database, account: Int64, before time: Int64? = nil) throws -> (balance: Int64, totals: RunningTotals) {
        var sql = "SELECT balance_after, \(columns) FROM loyalty_entries WHERE account_id = ?"
        var parameters: [SQLValue] = [.integer(account)]
        if let time { sql += " AND created_us < ?"; parameters.append(.integer(time)) }
        guard let row = try db.query(sql + " ORDER BY created_us DESC, id DESC LIMIT 1", parameters).first else { return (0, RunningTotals()) }
        return (row.int(0), RunningTotals(row, from: 1))
    }

    /// The totals after a new entry of `amount` in a posting of `kind`.
    /// OUT_OF_RANGE past Int64 (92 quadrillion in minor units: never, but
    /// checked, since amounts come from requests).
    static func after(_ db: Database, account: Int64, kind: PostingKind, amount: Int64) throws -> RunningTotals {
        var totals = try at(db, account: account).totals
        func add(_ value: inout Int64, _ delta: Int64) throws {
            let (sum, overflow) = value.addingReportingOverflow(delta)
            guard !overflow else { throw PluginError(.outOfRange, "the running totals of account \(account) would overflow") }
            value = sum
        }
        let magnitude = amount == .min ? Int64.max : abs(amount)
        try add(&totals.seq, 1)
        // A reversal or refund that gives back a debit (a charge put right) takes it
        // off the debits, so aging does not count it as a payment of the
        // oldest debt.
        if amount < 0 { try add(&totals.debited, magnitude) }
        if (kind == .reversal || kind == .refund) && amount > 0 { try add(&totals.debited, -magnitude) }
        if kind == .charge && amount < 0 { try add(&totals.charged, magnitude) }
        if kind == .payIn && amount > 0 { try add(&totals.paid, magnitude) }
        return totals
    }
}
