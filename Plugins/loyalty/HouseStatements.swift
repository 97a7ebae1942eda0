import CRMPluginKit
import LoyaltyContract

/// A house account's statement for a period: balances at its edges, its
/// totals by kind (one pass over the covering index of the account's
/// entries by time), the aging of what is owed at its end, and its lines a
/// page at a time. Posting times never go back, so the entries of a
/// period by time are a run of the ledger's order.
enum HouseStatements {
    static func register(on def: PluginDefinition) {
        def.unary(HouseAccounts.service + "GetHouseStatement", statement)
    }

    static func statement(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetHouseStatementRequest) throws -> Crm_Loyalty_V1_HouseStatement {
        try Check.id(req.accountID, "account_id")
        guard req.periodStartUnixUs >= 0 else { throw PluginError.invalidArgument("period_start_unix_us must not be negative") }
        let end = req.periodEndUnixUs == 0 ? UTCClock.nowMicros() : req.periodEndUnixUs
        guard end > req.periodStartUnixUs else {
            throw PluginError.invalidArgument("period_end_unix_us must be after period_start_unix_us")
        }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        let db = try ctx.database
        let account = try HouseAccounts.require(ctx, db, req.accountID, write: false)
        let start = req.periodStartUnixUs
        var s = Crm_Loyalty_V1_HouseStatement()
        s.accountID = account.id
        s.currency = account.unit
        s.periodStartUnixUs = start
        s.periodEndUnixUs = end
        s.creditLimit = account.creditLimit
        s.openingBalance = try balance(db, account.id, before: start)
        let totals = try db.query("""
            SELECT COALESCE(sum(CASE WHEN kind = ? THEN -amount END), 0), COALESCE(sum(kind = ?), 0),
                   COALESCE(sum(CASE WHEN kind = ? THEN amount END), 0), COALESCE(sum(kind = ?), 0),
                   COALESCE(sum(amount), 0), count(*)
            FROM loyalty_entries WHERE account_id = ? AND created_us >= ? AND created_us < ?
            """, [.integer(charge), .integer(charge), .integer(payIn), .integer(payIn), .integer(account.id),
                  .integer(start), .integer(end)])[0]
        s.charges = totals.int(0)
        s.chargeCount = totals.int(1)
        s.payments = totals.int(2)
        s.paymentCount = totals.int(3)
        s.lineCount = totals.int(5)
        // Every balance along the way stayed inside Int64 (the posting's
        // checked arithmetic), so these sums and differences do too.
        s.closingBalance = s.openingBalance &+ totals.int(4)
        s.other = totals.int(4) &+ s.charges &- s.payments
        s.aging = try aging(db, account.id, owed: s.closingBalance < 0 ? -s.closingBalance : 0, asOf: end)
        var parameters: [SQLValue] = [.integer(account.id), .integer(start), .integer(end)]
        var after = ""
        if let token = paging.after { after = "AND (e.created_us, e.id) > (?, ?)"; parameters += token }
        let page = try fetchPage(db, """
            SELECT e.id, e.posting_id, e.kind, e.amount, e.balance_after, e.created_us, p.reason,
                   c.person_id, c.order_ref, y.tender, y.reference
            FROM loyalty_entries e JOIN loyalty_postings p ON p.id = e.posting_id
            LEFT JOIN loyalty_house_charges c ON c.posting_id = e.posting_id
            LEFT JOIN loyalty_house_payments y ON y.posting_id = e.posting_id
            WHERE e.account_id = ? AND e.created_us >= ? AND e.created_us < ? \(after)
            ORDER BY e.created_us, e.id LIMIT ?
            """, parameters, paging, decode: line, key: { [$0[5], $0[0]] })
        s.lines = page.rows
        s.nextPageToken = page.nextToken
        return s
    }

    static let charge = Int64(PostingKind.charge.rawValue)
    static let payIn = Int64(PostingKind.payIn.rawValue)

    /// The balance after the account's last entry before `time`.
    static func balance(_ db: Database, _ account: Int64, before time: Int64) throws -> Int64 {
        try db.query("""
            SELECT balance_after FROM loyalty_entries WHERE account_id = ? AND created_us < ? ORDER BY created_us DESC, id DESC LIMIT 1
            """, [.integer(account), .integer(time)]).first?.int(0) ?? 0
    }

    static func line(_ row: [SQLValue]) -> Crm_Loyalty_V1_StatementLine {
        var l = Crm_Loyalty_V1_StatementLine()
        l.entryID = row.int(0)
        l.postingID = row.int(1)
        l.kind = PostingKind(rawValue: Int(truncatingIfNeeded: row.int(2))) ?? .unspecified
        l.amount = row.int(3)
        l.balanceAfter = row.int(4)
        l.createdUnixUs = row.int(5)
        l.reason = row.text(6)
        l.personID = row.int(7)
        l.orderRef = row.text(8)
        l.tender = row.text(9)
        l.reference = row.text(10)
        return l
    }

    static let day: Int64 = 86_400_000_000

    /// Pay-ins settle the oldest debits first, so what is owed at `asOf` is
    /// made of the newest debits: walk them back until they cover it, each
    /// aged from its posting to `asOf`. Bounded by the debits that make up
    /// the debt, read a page at a time.
    static func aging(_ db: Database, _ account: Int64, owed: Int64, asOf: Int64) throws -> Crm_Loyalty_V1_Aging {
        var aging = Crm_Loyalty_V1_Aging()
        aging.owed = owed
        var left = owed
        var cursor: (Int64, Int64) = (asOf, 0)
        while left > 0 {
            let rows = try db.query("""
                SELECT amount, created_us, id FROM loyalty_entries
                WHERE account_id = ? AND amount < 0 AND (created_us, id) < (?, ?) ORDER BY created_us DESC, id DESC LIMIT 256
                """, [.integer(account), .integer(cursor.0), .integer(cursor.1)])
            if rows.isEmpty { break }
            for row in rows where left > 0 {
                let taken = min(left, row.int(0) == .min ? .max : -row.int(0))
                left -= taken
                let (age, overflow) = asOf.subtractingReportingOverflow(row.int(1))
                switch overflow ? Int64.max : age / day {
                case ..<30: aging.current += taken
                case 30..<60: aging.days30 += taken
                case 60..<90: aging.days60 += taken
                default: aging.days90Plus += taken
                }
            }
            cursor = (rows[rows.count - 1].int(1), rows[rows.count - 1].int(2))
        }
        // Owed beyond the debits on record (an opening balance from before
        // the ledger kept entries cannot happen; guard anyway): the oldest.
        aging.days90Plus += left
        return aging
    }
}
