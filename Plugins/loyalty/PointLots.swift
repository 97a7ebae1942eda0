import CRMPluginKit
import LoyaltyContract

typealias PointLot = Crm_Loyalty_V1_PointLot

/// Points accounts hold their points in lots (programs.proto): a credit
/// makes a lot, a spend or an expiry takes from lots soonest-expiring
/// first and records what it took (`loyalty_lot_uses`), so a reversal can
/// give exactly those points back, and a hold reserves from lots until it
/// is captured or released. The invariant Reconcile checks: a points
/// account's balance = what is left in its lots + what its active holds
/// reserve. Lots are bookkeeping beside the ledger, never a source of
/// amounts: every movement is still a posting.
enum PointLots {
    /// A lot that never expires sorts last in spending order.
    static let never = Int64.max

    /// Migration 4. Accounts from before lots get one opening lot of their
    /// balance, its active holds' reservations taken from it.
    static let schema = """
    CREATE TABLE loyalty_point_lots (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        posting_id INTEGER REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        order_id INTEGER,
        points INTEGER NOT NULL CHECK (points > 0),
        remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= points),
        available_us INTEGER NOT NULL,
        expires_us INTEGER NOT NULL,
        created_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_point_lots_spend ON loyalty_point_lots (account_id, expires_us, id) WHERE remaining > 0;
    CREATE INDEX loyalty_point_lots_due ON loyalty_point_lots (expires_us) WHERE remaining > 0;
    CREATE INDEX loyalty_point_lots_pending ON loyalty_point_lots (account_id, available_us) WHERE remaining > 0;
    CREATE INDEX loyalty_point_lots_posting ON loyalty_point_lots (posting_id);
    -- What a spend posting, or an active hold (posting_id NULL until it is
    -- captured), took from which lot.
    CREATE TABLE loyalty_lot_uses (
        id INTEGER PRIMARY KEY,
        lot_id INTEGER NOT NULL REFERENCES loyalty_point_lots (id),
        posting_id INTEGER REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        hold_id INTEGER REFERENCES loyalty_holds (id),
        points INTEGER NOT NULL CHECK (points > 0),
        CHECK (posting_id IS NOT NULL OR hold_id IS NOT NULL)
    );
    CREATE INDEX loyalty_lot_uses_posting ON loyalty_lot_uses (posting_id) WHERE posting_id IS NOT NULL;
    CREATE INDEX loyalty_lot_uses_hold ON loyalty_lot_uses (hold_id) WHERE hold_id IS NOT NULL;
    INSERT INTO loyalty_point_lots (account_id, points, remaining, available_us, expires_us, created_us)
        SELECT id, balance, balance - held, 0, 9223372036854775807, updated_us FROM loyalty_accounts WHERE kind = 1 AND balance > 0;
    INSERT INTO loyalty_lot_uses (lot_id, hold_id, points)
        SELECT l.id, h.id, h.amount FROM loyalty_holds h JOIN loyalty_point_lots l ON l.account_id = h.account_id
        WHERE h.status = 1;
    """

    struct Take {
        var lot: Int64
        var points: Int64
    }

    /// Makes a lot of `points` for a credit posting.
    static func add(_ db: Database, account: Int64, posting: Int64, points: Int64, available: Int64, expires: Int64,
                    order: Int64 = 0, now: Int64 = UTCClock.nowMicros()) throws {
        guard points > 0 else { return }
        try db.execute("""
            INSERT INTO loyalty_point_lots (account_id, posting_id, order_id, points, remaining, available_us, expires_us, created_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(account), Ledger.nullable(posting), Ledger.nullable(order), .integer(points), .integer(points),
                  .integer(available), .integer(expires), .integer(now)])
    }

    /// Takes `points` from the account's lots: first from `preferred`
    /// lots (whatever their state: a reversal takes back its own credit),
    /// then from spendable ones, soonest-expiring first. With `partial`,
    /// takes what there is and reports the shortfall; otherwise a
    /// shortfall is FAILED_PRECONDITION and nothing is taken.
    static func take(_ db: Database, account: Int64, points: Int64, now: Int64, preferred: [Int64] = [],
                     partial: Bool = false) throws -> (takes: [Take], short: Int64) {
        var left = points
        var takes: [Take] = []
        var candidates: [(id: Int64, remaining: Int64)] = []
        for lot in preferred {
            if let row = try db.query("SELECT id, remaining FROM loyalty_point_lots WHERE id = ? AND account_id = ? AND remaining > 0",
                                      [.integer(lot), .integer(account)]).first {
                candidates.append((row.int(0), row.int(1)))
            }
        }
        func consume(_ list: [(id: Int64, remaining: Int64)]) {
            for lot in list where left > 0 && !takes.contains(where: { $0.lot == lot.id }) {
                let n = min(left, lot.remaining)
                takes.append(Take(lot: lot.id, points: n))
                left -= n
            }
        }
        consume(candidates)
        if left > 0 {
            // Pages of the spending order until enough is found.
            var after: (Int64, Int64) = (now, Int64.max)  // expires after now
            while left > 0 {
                let rows = try db.query("""
                    SELECT id, remaining, expires_us FROM loyalty_point_lots INDEXED BY loyalty_point_lots_spend
                    WHERE account_id = ? AND remaining > 0 AND available_us <= ? AND (expires_us, id) > (?, ?)
                    ORDER BY expires_us, id LIMIT 200
                    """, [.integer(account), .integer(now), .integer(after.0), .integer(after.1)])
                consume(rows.map { ($0.int(0), $0.int(1)) })
                guard let last = rows.last, rows.count == 200 else { break }
                after = (last.int(2), last.int(0))
            }
        }
        if left > 0 && !partial {
            let spendable = try LedgerStore.loadAccount(db, account)?.available ?? 0
            throw PluginError.failedPrecondition(
                "insufficient balance: account \(account) has \(spendable) points available, \(points) needed")
        }
        for t in takes {
            try db.execute("UPDATE loyalty_point_lots SET remaining = remaining - ? WHERE id = ?", [.integer(t.points), .integer(t.lot)])
        }
        return (takes, left)
    }

    /// How many points of these lots expired (EXPIRY postings took them).
    static func expired(_ db: Database, lots: [Int64]) throws -> Int64 {
        var total: Int64 = 0
        for lot in lots {
            let n = try db.query("""
                SELECT COALESCE(sum(u.points), 0) FROM loyalty_lot_uses u JOIN loyalty_postings p ON p.id = u.posting_id
                WHERE u.lot_id = ? AND p.kind = 9
                """, [.integer(lot)]).first?.int(0) ?? 0
            total = total.addingReportingOverflow(n).partialValue
        }
        return total
    }

    /// Records what a posting or a hold took.
    static func record(_ db: Database, _ takes: [Take], posting: Int64 = 0, hold: Int64 = 0) throws {
        for t in takes {
            try db.execute("INSERT INTO loyalty_lot_uses (lot_id, posting_id, hold_id, points) VALUES (?, ?, ?, ?)",
                           [.integer(t.lot), Ledger.nullable(posting), Ledger.nullable(hold), .integer(t.points)])
        }
    }

    /// Gives back to their lots the points a posting took (its reversal);
    /// returns how many (a posting from before lots took none: the caller
    /// makes a lot of the rest).
    static func giveBack(_ db: Database, posting: Int64) throws -> Int64 {
        try giveBack(db, "posting_id = ?", [.integer(posting)])
    }

    /// Gives back `points` of what a spend took (part of an order's points
    /// tender), to its lots expiring last first; the spend's record
    /// shrinks by as much, so no point goes back twice.
    static func giveBack(_ db: Database, posting: Int64, points: Int64) throws {
        var left = points
        for row in try db.query("""
            SELECT u.id, u.lot_id, u.points FROM loyalty_lot_uses u JOIN loyalty_point_lots l ON l.id = u.lot_id
            WHERE u.posting_id = ? ORDER BY l.expires_us DESC, l.id DESC
            """, [.integer(posting)]) where left > 0 {
            let n = min(left, row.int(2))
            try db.execute("UPDATE loyalty_point_lots SET remaining = remaining + ? WHERE id = ?", [.integer(n), .integer(row.int(1))])
            if n == row.int(2) {
                try db.execute("DELETE FROM loyalty_lot_uses WHERE id = ?", [.integer(row.int(0))])
            } else {
                try db.execute("UPDATE loyalty_lot_uses SET points = points - ? WHERE id = ?", [.integer(n), .integer(row.int(0))])
            }
            left -= n
        }
        guard left == 0 else { throw PluginError(.internal, "loyalty: posting \(posting) took \(left) fewer points than are given back") }
    }

    /// Releases an active hold's reservation back to its lots.
    static func release(_ db: Database, hold: Int64) throws {
        _ = try giveBack(db, "hold_id = ? AND posting_id IS NULL", [.integer(hold)])
    }

    private static func giveBack(_ db: Database, _ condition: String, _ parameters: [SQLValue]) throws -> Int64 {
        var total: Int64 = 0
        for row in try db.query("SELECT id, lot_id, points FROM loyalty_lot_uses WHERE \(condition) ORDER BY id", parameters) {
            try db.execute("UPDATE loyalty_point_lots SET remaining = remaining + ? WHERE id = ?", [.integer(row.int(2)), .integer(row.int(1))])
            try db.execute("DELETE FROM loyalty_lot_uses WHERE id = ?", [.integer(row.int(0))])
            total = total.addingReportingOverflow(row.int(2)).partialValue
        }
        return total
    }

    /// A capture: the hold's first `amount` reserved points become the
    /// posting's; the rest go back to their lots.
    static func capture(_ db: Database, hold: Int64, amount: Int64, posting: Int64) throws {
        var left = amount
        for row in try db.query("SELECT id, lot_id, points FROM loyalty_lot_uses WHERE hold_id = ? AND posting_id IS NULL ORDER BY id",
                                [.integer(hold)]) {
            let (id, lot, points) = (row.int(0), row.int(1), row.int(2))
            let kept = min(left, points)
            left -= kept
            if kept > 0 {
                try db.execute("UPDATE loyalty_lot_uses SET posting_id = ?, points = ? WHERE id = ?",
                               [.integer(posting), .integer(kept), .integer(id)])
            } else {
                try db.execute("DELETE FROM loyalty_lot_uses WHERE id = ?", [.integer(id)])
            }
            if points > kept {
                try db.execute("UPDATE loyalty_point_lots SET remaining = remaining + ? WHERE id = ?",
                               [.integer(points - kept), .integer(lot)])
            }
        }
    }

    /// A points account as a reader sees it: `pending`, and `available`
    /// the spendable lots (plus what holds past their time still reserve
    /// until a write releases them). What the lots hold is balance − held
    /// (the invariant Reconcile checks), so only the pending lots and the
    /// ones past their expiry are read: two short index ranges, whatever
    /// the account's history.
    static func decorate(_ db: Database, _ account: inout Account, now: Int64 = UTCClock.nowMicros()) throws {
        guard account.kind == .points else { return }
        // One statement, three index probes (a balance read is the hot path).
        // Only live holds reserve: a lapsed one's points come back at the
        // next write (whether `account.held` is the cached or the live sum).
        let row = try db.query("""
            SELECT (SELECT COALESCE(sum(remaining), 0) FROM loyalty_point_lots INDEXED BY loyalty_point_lots_pending
                    WHERE account_id = ?1 AND remaining > 0 AND available_us > ?2),
                   (SELECT COALESCE(sum(remaining), 0) FROM loyalty_point_lots INDEXED BY loyalty_point_lots_spend
                    WHERE account_id = ?1 AND remaining > 0 AND expires_us <= ?2 AND available_us <= ?2),
                   CASE WHEN ?3 = 0 THEN 0 ELSE (SELECT COALESCE(sum(amount), 0) FROM loyalty_holds
                    WHERE account_id = ?1 AND status = 1 AND expires_us > ?2) END
            """, [.integer(account.id), .integer(now), .integer(account.held)]).first
        let (pending, overdue, held) = (row?.int(0) ?? 0, row?.int(1) ?? 0, row?.int(2) ?? 0)
        let (free, o1) = account.balance.subtractingReportingOverflow(held)
        let (notPending, o2) = free.subtractingReportingOverflow(pending)
        var (spendable, o3) = notPending.subtractingReportingOverflow(overdue)
        if o1 || o2 || o3 { spendable = 0 }
        account.pending = pending
        account.available = max(spendable, 0)
    }

    /// Migration 6: the spend and pending indexes cover what balance reads
    /// and spends read of a lot (remaining, available_us), so an account
    /// with thousands of pending lots is summed from the index alone.
    static let coveringIndexes = """
    DROP INDEX loyalty_point_lots_spend;
    CREATE INDEX loyalty_point_lots_spend ON loyalty_point_lots (account_id, expires_us, id, available_us, remaining) WHERE remaining > 0;
    DROP INDEX loyalty_point_lots_pending;
    CREATE INDEX loyalty_point_lots_pending ON loyalty_point_lots (account_id, available_us, remaining) WHERE remaining > 0;
    """

    static let lotColumns = "id, account_id, posting_id, order_id, points, remaining, available_us, expires_us, created_us"

    static func lot(_ row: [SQLValue], now: Int64) -> PointLot {
        var l = PointLot()
        l.id = row.int(0)
        l.accountID = row.int(1)
        l.postingID = row.int(2)
        l.orderID = row.int(3)
        l.points = row.int(4)
        l.remaining = row.int(5)
        l.availableUnixUs = row.int(6)
        l.expiresUnixUs = row.int(7) == never ? 0 : row.int(7)
        l.pending = row.int(6) > now
        l.createdUnixUs = row.int(8)
        return l
    }
}
