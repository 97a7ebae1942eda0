import CRMPluginKit
import LoyaltyContract

/// A house account's statement for a period: balances and totals from the
/// running totals at its edges (RunningTotals: a few index seeks, however
/// long the history), the aging of what is owed at its end, and its lines
/// a page at a time. Posting times never go back, so the entries of a
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
        let opening = try RunningTotals.at(db, account: account.id, before: start)
        let closing = try RunningTotals.at(db, account: account.id, before: end)
        // Every running total along the way stayed inside Int64 (checked
        // when each entry was written) and only grows, so these differences
        // cannot wrap.
        s.openingBalance = opening.balance
        s.closingBalance = closing.balance
        s.charges = closing.totals.charged &- opening.totals.charged
        s.payments = closing.totals.paid &- opening.totals.paid
        s.lineCount = closing.totals.seq &- opening.totals.seq
        s.other = (closing.balance &- opening.balance) &+ s.charges &- s.payments
        s.aging = try aging(db, account.id, owed: closing.balance < 0 ? -closing.balance : 0, asOf: end,
                            debitedAtEnd: closing.totals.debited)
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
    /// made of the newest debits: the under-30-days bucket holds the debits
    /// of the last 30 days up to what is owed, the next bucket those of the
    /// 30 days before up to what is left, and so on. Each band's debits are
    /// a difference of running totals: four index seeks.
    static func aging(_ db: Database, _ account: Int64, owed: Int64, asOf: Int64, debitedAtEnd now: Int64) throws
        -> Crm_Loyalty_V1_Aging {
        var aging = Crm_Loyalty_V1_Aging()
        aging.owed = owed
        guard owed > 0 else { return aging }
        // Debited before an edge; an entry exactly 30 days old is in the
        // 30-59 band, so a band's newer edge is exclusive of its age.
        func debited(daysBefore days: Int64) throws -> Int64 {
            let (edge, overflow) = asOf.subtractingReportingOverflow(days * day - 1)
            return overflow ? 0 : try RunningTotals.at(db, account: account, before: edge).totals.debited
        }
        let d30 = try debited(daysBefore: 30)
        let d60 = try debited(daysBefore: 60), d90 = try debited(daysBefore: 90)
        var left = owed
        func take(_ debits: Int64) -> Int64 {
            let taken = min(left, max(0, debits))
            left -= taken
            return taken
        }
        aging.current = take(now &- d30)
        aging.days30 = take(d30 &- d60)
        aging.days60 = take(d60 &- d90)
        // The rest is older (owed beyond the debits on record, which a
        // consistent ledger never has, counts as the oldest too).
        aging.days90Plus = left
        return aging
    }
}
