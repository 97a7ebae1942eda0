import CRMPluginKit
import LoyaltyContract

/// Reconcile: the whole ledger checked in one read snapshot, each check
/// one SQL pass (grouped scans over the entries' indexes), the first 100
/// mismatches listed and all of them counted.
enum Reconciliation {
    static let listed = 100

    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "Reconcile", reconcile)
    }

    static func reconcile(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ReconcileRequest) throws -> Crm_Loyalty_V1_ReconciliationReport {
        let db = try ctx.database
        var report = Crm_Loyalty_V1_ReconciliationReport()
        func found(_ check: String, account: Int64 = 0, posting: Int64 = 0, unit: String = "", expected: Int64 = 0, actual: Int64 = 0) {
            report.mismatchCount += 1
            guard report.mismatches.count < listed else { return }
            report.mismatches.append(.with {
                $0.check = check
                $0.accountID = account
                $0.postingID = posting
                $0.unit = unit
                $0.expected = expected
                $0.actual = actual
            })
        }
        let counts = try db.query("""
            SELECT (SELECT count(*) FROM loyalty_accounts), (SELECT count(*) FROM loyalty_postings),
                   (SELECT count(*) FROM loyalty_entries), (SELECT count(*) FROM loyalty_holds)
            """)[0]
        report.accountsChecked = counts.int(0)
        report.postingsChecked = counts.int(1)
        report.entriesChecked = counts.int(2)
        report.holdsChecked = counts.int(3)
        // Cached balances against their entries; an account's entries sum to
        // its balance, which checked arithmetic kept inside Int64.
        for row in try db.query("""
            SELECT a.id, a.unit, a.balance, COALESCE((SELECT sum(e.amount) FROM loyalty_entries e WHERE e.account_id = a.id), 0)
            FROM loyalty_accounts a
            WHERE a.balance <> COALESCE((SELECT sum(e.amount) FROM loyalty_entries e WHERE e.account_id = a.id), 0)
            ORDER BY a.id
            """) {
            found("balance", account: row.int(0), unit: row.text(1), expected: row.int(3), actual: row.int(2))
        }
        // Entries of another unit than their account's.
        for row in try db.query("""
            SELECT e.account_id, e.posting_id, e.unit FROM loyalty_entries e JOIN loyalty_accounts a ON a.id = e.account_id
            WHERE e.unit <> a.unit ORDER BY e.id
            """) {
            found("entry_unit", account: row.int(0), posting: row.int(1), unit: row.text(2))
        }
        // Cached held amounts against the active holds.
        for row in try db.query("""
            SELECT a.id, a.unit, a.held, COALESCE((SELECT sum(h.amount) FROM loyalty_holds h WHERE h.account_id = a.id AND h.status = 1), 0)
            FROM loyalty_accounts a
            WHERE a.held <> COALESCE((SELECT sum(h.amount) FROM loyalty_holds h WHERE h.account_id = a.id AND h.status = 1), 0)
            ORDER BY a.id
            """) {
            found("held", account: row.int(0), unit: row.text(1), expected: row.int(3), actual: row.int(2))
        }
        // Every posting balanced per unit, with two legs or more.
        for row in try db.query("""
            SELECT posting_id, unit, sum(amount) FROM loyalty_entries GROUP BY posting_id, unit HAVING sum(amount) <> 0 ORDER BY posting_id
            """) {
            found("posting_balance", posting: row.int(0), unit: row.text(1), expected: 0, actual: row.int(2))
        }
        for row in try db.query("""
            SELECT p.id, (SELECT count(*) FROM loyalty_entries e WHERE e.posting_id = p.id) FROM loyalty_postings p
            WHERE (SELECT count(*) FROM loyalty_entries e WHERE e.posting_id = p.id) < 2 ORDER BY p.id
            """) {
            found("posting_legs", posting: row.int(0), expected: 2, actual: row.int(1))
        }
        for row in try db.query("""
            SELECT e.posting_id, e.account_id FROM loyalty_entries e
            WHERE NOT EXISTS (SELECT 1 FROM loyalty_postings p WHERE p.id = e.posting_id) ORDER BY e.id
            """) {
            found("orphan_entry", account: row.int(1), posting: row.int(0))
        }
        // Each entry carries its posting's kind (statements total by it).
        for row in try db.query("""
            SELECT e.account_id, e.posting_id, e.unit, p.kind, e.kind FROM loyalty_entries e JOIN loyalty_postings p ON p.id = e.posting_id
            WHERE e.kind <> p.kind ORDER BY e.id
            """) {
            found("entry_kind", account: row.int(0), posting: row.int(1), unit: row.text(2), expected: row.int(3), actual: row.int(4))
        }
        // Each entry's balance_after is the running sum of its account.
        for row in try db.query("""
            SELECT account_id, posting_id, unit, balance_after, running FROM (
              SELECT e.account_id, e.posting_id, e.unit, e.balance_after,
                     sum(e.amount) OVER (PARTITION BY e.account_id ORDER BY e.id) AS running
              FROM loyalty_entries e) WHERE balance_after <> running ORDER BY account_id
            """) {
            found("balance_after", account: row.int(0), posting: row.int(1), unit: row.text(2), expected: row.int(4), actual: row.int(3))
        }
        // House accounts' running totals (statements read them): each
        // entry's count and what was debited, charged and paid in so far.
        for row in try db.query("""
            SELECT account_id, posting_id, unit, seq, debited_after, charged_after, paid_after, r_seq, r_debited, r_charged, r_paid FROM (
              SELECT e.account_id, e.posting_id, e.unit, e.seq, e.debited_after, e.charged_after, e.paid_after,
                     row_number() OVER running AS r_seq,
                     sum(CASE WHEN e.amount < 0 THEN -e.amount WHEN e.kind IN (?, ?) THEN -e.amount ELSE 0 END) OVER running AS r_debited,
                     sum(CASE WHEN e.kind = ? AND e.amount < 0 THEN -e.amount ELSE 0 END) OVER running AS r_charged,
                     sum(CASE WHEN e.kind = ? AND e.amount > 0 THEN e.amount ELSE 0 END) OVER running AS r_paid
              FROM loyalty_entries e JOIN loyalty_accounts a ON a.id = e.account_id WHERE a.kind = ?
              WINDOW running AS (PARTITION BY e.account_id ORDER BY e.created_us, e.id))
            WHERE seq <> r_seq OR debited_after <> r_debited OR charged_after <> r_charged OR paid_after <> r_paid
            ORDER BY account_id
            """, [.integer(Int64(PostingKind.reversal.rawValue)), .integer(Int64(PostingKind.refund.rawValue)),
                  .integer(Int64(PostingKind.charge.rawValue)),
                  .integer(Int64(PostingKind.payIn.rawValue)),
                  .integer(Int64(AccountKind.houseAccount.rawValue))]) {
            let (expected, actual) = row.int(3) != row.int(7) ? (row.int(7), row.int(3))
                : row.int(4) != row.int(8) ? (row.int(8), row.int(4))
                : row.int(5) != row.int(9) ? (row.int(9), row.int(5)) : (row.int(10), row.int(6))
            found("running_totals", account: row.int(0), posting: row.int(1), unit: row.text(2), expected: expected, actual: actual)
        }
        // Points accounts: the sum of the entries is what is left in the
        // lots plus what active holds reserve from them (the lots' CHECKs
        // keep remaining within 0...points).
        for row in try db.query("""
            SELECT a.id, COALESCE((SELECT sum(e.amount) FROM loyalty_entries e WHERE e.account_id = a.id), 0) AS ledger,
                   COALESCE((SELECT sum(l.remaining) FROM loyalty_point_lots l WHERE l.account_id = a.id), 0)
                   + COALESCE((SELECT sum(u.points) FROM loyalty_lot_uses u JOIN loyalty_holds h ON h.id = u.hold_id
                               WHERE h.account_id = a.id AND h.status = 1 AND u.posting_id IS NULL), 0) AS lots
            FROM loyalty_accounts a WHERE a.kind = ? AND ledger <> lots ORDER BY a.id
            """, [.integer(Int64(AccountKind.points.rawValue))]) {
            found("point_lots", account: row.int(0), unit: Ledger.pointsUnit, expected: row.int(1), actual: row.int(2))
        }
        report.clean = report.mismatchCount == 0
        report.checkedUnixUs = UTCClock.nowMicros()
        return report
    }
}
