import CRMPluginKit
import LoyaltyContract

/// Rows of the ledger's tables as the contract's messages.
enum LedgerStore {
    static let accountColumns = """
        id, kind, unit, person_id, organization_id, owner, label, status, balance, held, credit_limit, \
        system_name, created_us, updated_us
        """

    static func account(_ row: [SQLValue]) -> Account {
        var a = Account()
        a.id = row.int(0)
        a.kind = AccountKind(rawValue: Int(truncatingIfNeeded: row.int(1))) ?? .unspecified
        a.unit = row.text(2)
        a.personID = row.int(3)
        a.organizationID = row.int(4)
        a.owner = row.text(5)
        a.label = row.text(6)
        a.status = AccountStatus(rawValue: Int(truncatingIfNeeded: row.int(7))) ?? .unspecified
        a.balance = row.int(8)
        a.held = row.int(9)
        a.creditLimit = row.int(10)
        a.systemName = row.text(11)
        a.createdUnixUs = row.int(12)
        a.updatedUnixUs = row.int(13)
        a.available = available(a)
        return a
    }

    /// balance - held + credit_limit, saturating (a display value; the
    /// write path checks with overflow reporting).
    static func available(_ a: Account) -> Int64 {
        let (free, o1) = a.balance.subtractingReportingOverflow(a.held)
        if o1 { return a.balance < 0 ? .min : .max }
        let (withCredit, o2) = free.addingReportingOverflow(a.creditLimit)
        return o2 ? .max : withCredit
    }

    /// `decorated`: a points account's pending and spendable part (PointLots.decorate).
    static func loadAccount(_ db: Database, _ id: Int64, decorated: Bool = true) throws -> Account? {
        guard var a = try db.query("SELECT \(accountColumns) FROM loyalty_accounts WHERE id = ?", [.integer(id)]).first.map(account) else {
            return nil
        }
        if decorated { try PointLots.decorate(db, &a) }
        return a
    }

    /// For a read: what active, unexpired holds reserve now (an expired
    /// hold stops reserving at once; a write releases it for good).
    static func withLiveHolds(_ db: Database, _ account: Account, now: Int64 = UTCClock.nowMicros()) throws -> Account {
        var a = account
        if a.held > 0 {
            a.held = try db.query("SELECT COALESCE(sum(amount), 0) FROM loyalty_holds WHERE account_id = ? AND status = 1 AND expires_us > ?",
                                  [.integer(a.id), .integer(now)]).first?.int(0) ?? 0
            a.available = available(a)
        }
        try PointLots.decorate(db, &a, now: now)
        return a
    }

    static let entryColumns = "id, posting_id, account_id, unit, amount, balance_after, created_us"

    static func entry(_ row: [SQLValue]) -> Entry {
        var e = Entry()
        e.id = row.int(0)
        e.postingID = row.int(1)
        e.accountID = row.int(2)
        e.unit = row.text(3)
        e.amount = row.int(4)
        e.balanceAfter = row.int(5)
        e.createdUnixUs = row.int(6)
        return e
    }

    static func loadPosting(_ db: Database, _ id: Int64) throws -> Posting? {
        guard let row = try db.query("""
            SELECT p.id, p.kind, p.reverses_id, p.refunds_id, p.hold_id, p.reason, p.created_by, p.created_us,
                   (SELECT r.id FROM loyalty_postings r WHERE r.reverses_id = p.id)
            FROM loyalty_postings p WHERE p.id = ?
            """, [.integer(id)]).first else { return nil }
        var p = Posting()
        p.id = row.int(0)
        p.kind = PostingKind(rawValue: Int(truncatingIfNeeded: row.int(1))) ?? .unspecified
        p.reversesPostingID = row.int(2)
        p.refundsPostingID = row.int(3)
        p.holdID = row.int(4)
        p.reason = row.text(5)
        p.createdBy = row.text(6)
        p.createdUnixUs = row.int(7)
        p.reversedByPostingID = row.int(8)
        p.entries = try db.query("SELECT \(entryColumns) FROM loyalty_entries WHERE posting_id = ? ORDER BY id",
                                 [.integer(id)]).map(entry)
        return p
    }

    static let holdColumns = "id, account_id, unit, amount, status, captured_amount, capture_posting_id, memo, expires_us, created_us, updated_us"

    static func hold(_ row: [SQLValue], now: Int64 = UTCClock.nowMicros()) -> Hold {
        var h = Hold()
        h.id = row.int(0)
        h.accountID = row.int(1)
        h.unit = row.text(2)
        h.amount = row.int(3)
        h.status = HoldStatus(rawValue: Int(truncatingIfNeeded: row.int(4))) ?? .unspecified
        h.capturedAmount = row.int(5)
        h.capturePostingID = row.int(6)
        h.memo = row.text(7)
        h.expiresUnixUs = row.int(8)
        h.createdUnixUs = row.int(9)
        h.updatedUnixUs = row.int(10)
        if h.status == .active && h.expiresUnixUs <= now { h.status = .expired }
        return h
    }

    static func loadHold(_ db: Database, _ id: Int64) throws -> Hold? {
        try db.query("SELECT \(holdColumns) FROM loyalty_holds WHERE id = ?", [.integer(id)]).first.map { hold($0) }
    }
}
