import CRMPluginKit
import LoyaltyContract

/// The posting engine: every movement of money or points goes through
/// `post`, which checks in code what the schema's triggers check again
/// (two or more legs, zero sum per unit), keeps each account's cached
/// balance in the same transaction with overflow-checked arithmetic, and
/// refuses to take a customer account below its floor. Writes run one at a
/// time on crmd's writer, so the balance read here is the one updated.
enum Ledger {
    /// The ledger's own accounts: the other side of every posting.
    enum System: String {
        case issued, redeemed, breakage, voided, adjustments
        case pointsIssued = "points_issued", pointsRedeemed = "points_redeemed"
        /// House accounts: what members bought on account, and what was paid in.
        case charges, payments
    }

    static let pointsUnit = "points"

    /// The system account `name` of `unit`, made on first use.
    static func systemAccount(_ db: Database, _ name: System, _ unit: String) throws -> Int64 {
        if let id = try db.query("SELECT id FROM loyalty_accounts WHERE system_name = ? AND unit = ?",
                                 [.text(name.rawValue), .text(unit)]).first?.int(0) { return id }
        let now = UTCClock.nowMicros()
        return try db.execute("""
            INSERT INTO loyalty_accounts (kind, unit, status, system_name, created_us, updated_us) VALUES (100, ?, 1, ?, ?, ?)
            """, [.text(unit), .text(name.rawValue), .integer(now), .integer(now)]).lastInsertID
    }

    /// A customer account the caller may read (NOT_FOUND otherwise, also
    /// for system accounts) and, with `write`, change (PERMISSION_DENIED).
    static func customerAccount(_ ctx: CallContext, _ db: Database, _ id: Int64, field: String = "account_id",
                                write: Bool) throws -> Account {
        // Undecorated: a read decorates once in withLiveHolds, a write reloads after releasing holds.
        guard let account = try LedgerStore.loadAccount(db, id, decorated: false), account.kind != .system else {
            throw PluginError.notFound("no account \(id) (\(field))")
        }
        // A write method's scope is that of its own permission: out of it,
        // PERMISSION_DENIED; a read's, NOT_FOUND in the words of a missing id.
        let scope = ctx.scope
        if write {
            try scope.checkWritable(owner: ownerOrNil(account.owner), "account \(id)")
        } else {
            try scope.checkReadable(owner: ownerOrNil(account.owner), "account \(id) (\(field))")
        }
        return account
    }

    struct Leg {
        var account: Int64
        var amount: Int64
    }

    struct References {
        var reverses: Int64 = 0
        var refunds: Int64 = 0
        var hold: Int64 = 0
    }

    /// Writes one balanced posting and returns it. OUT_OF_RANGE when a
    /// balance would leave Int64; FAILED_PRECONDITION when a customer
    /// account would go below balance - held + credit_limit < 0.
    static func post(_ ctx: CallContext, _ db: Database, _ kind: PostingKind, unit: String, legs: [Leg],
                     reason: String, references: References = References()) throws -> Posting {
        var sum: Int64 = 0
        for leg in legs {
            let (next, overflow) = sum.addingReportingOverflow(leg.amount)
            guard !overflow, leg.amount != 0 else { throw PluginError(.internal, "loyalty: a malformed posting leg") }
            sum = next
        }
        guard legs.count >= 2, sum == 0 else { throw PluginError(.internal, "loyalty: an unbalanced posting was refused") }
        // Posting times never go back (a clock step back waits for the last
        // posting's time), so a statement's period by time and the ledger's
        // order by id agree.
        let last = try db.query("SELECT id, created_us FROM loyalty_postings ORDER BY id DESC LIMIT 1").first
        let postingID = (last?.int(0) ?? 0) + 1
        let now = max(UTCClock.nowMicros(), last?.int(1) ?? 0)
        var posting = Posting()
        posting.id = postingID
        posting.kind = kind
        posting.reason = reason
        posting.createdBy = callerName(ctx)
        posting.createdUnixUs = now
        posting.reversesPostingID = references.reverses
        posting.refundsPostingID = references.refunds
        posting.holdID = references.hold
        for leg in legs {
            guard let row = try db.query("SELECT balance, held, credit_limit, kind, unit FROM loyalty_accounts WHERE id = ?",
                                         [.integer(leg.account)]).first else {
                throw PluginError.notFound("no account \(leg.account)")
            }
            guard row.text(4) == unit else {
                throw PluginError.failedPrecondition("account \(leg.account) is in \(row.text(4)), not \(unit)")
            }
            let (balance, overflow) = row.int(0).addingReportingOverflow(leg.amount)
            guard !overflow else {
                throw PluginError(.outOfRange, "the balance of account \(leg.account) would overflow")
            }
            if row.int(3) != Int64(AccountKind.system.rawValue) && leg.amount < 0 {
                let (free, o1) = balance.subtractingReportingOverflow(row.int(1))
                let (floor, o2) = free.addingReportingOverflow(row.int(2))
                if o1 || o2 || floor < 0 {
                    let available = LedgerStore.available(.with { $0.balance = row.int(0); $0.held = row.int(1); $0.creditLimit = row.int(2) })
                    throw PluginError.failedPrecondition(
                        "insufficient balance: account \(leg.account) has \(available) \(unit) available, \(-leg.amount) needed")
                }
            }
            let totals = row.int(3) == Int64(AccountKind.houseAccount.rawValue)
                ? try RunningTotals.after(db, account: leg.account, kind: kind, amount: leg.amount) : RunningTotals()
            let entryID = try db.execute("""
                INSERT INTO loyalty_entries (posting_id, account_id, unit, amount, balance_after, created_us, kind,
                                             seq, debited_after, charged_after, paid_after)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(postingID), .integer(leg.account), .text(unit), .integer(leg.amount), .integer(balance),
                      .integer(now), .integer(Int64(kind.rawValue)), .integer(totals.seq), .integer(totals.debited),
                      .integer(totals.charged), .integer(totals.paid)]).lastInsertID
            try db.execute("UPDATE loyalty_accounts SET balance = ?, updated_us = ? WHERE id = ?",
                           [.integer(balance), .integer(now), .integer(leg.account)])
            posting.entries.append(.with {
                $0.id = entryID
                $0.postingID = postingID
                $0.accountID = leg.account
                $0.unit = unit
                $0.amount = leg.amount
                $0.balanceAfter = balance
                $0.createdUnixUs = now
            })
        }
        // The seal: the trigger checks the legs again before the row exists.
        try db.execute("""
            INSERT INTO loyalty_postings (id, kind, reverses_id, refunds_id, hold_id, reason, created_by, created_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(postingID), .integer(Int64(kind.rawValue)), nullable(references.reverses), nullable(references.refunds),
                  nullable(references.hold), .text(reason), .text(posting.createdBy), .integer(now)])
        try ctx.audit(AuditEntry(entity: "loyalty.posting", recordID: String(postingID), action: "create", changes: [
            FieldChange("kind", old: nil, new: kindName(kind)),
            FieldChange("legs", old: nil, new: legs.map { "\($0.account):\($0.amount)" }.joined(separator: " ") + " \(unit)"),
        ] + (reason.isEmpty ? [] : [FieldChange("reason", old: nil, new: reason)])))
        return posting
    }

    /// A customer account's movement against a system account: the usual
    /// two-leg posting. `amount` is what the customer account gains.
    /// `afterPost` runs before the account is read back (its point lots).
    static func move(_ ctx: CallContext, _ db: Database, _ kind: PostingKind, account: Account, amount: Int64,
                     system: System, reason: String, references: References = References(),
                     afterPost: (Posting) throws -> Void = { _ in }) throws -> PostingResult {
        let other = try systemAccount(db, system, account.unit)
        let (negated, overflow) = Int64(0).subtractingReportingOverflow(amount)
        guard !overflow else { throw PluginError(.outOfRange, "amount is out of range") }
        let posting = try post(ctx, db, kind, unit: account.unit,
                               legs: [Leg(account: account.id, amount: amount), Leg(account: other, amount: negated)],
                               reason: reason, references: references)
        try afterPost(posting)
        let after = try LedgerStore.loadAccount(db, account.id) ?? account
        try auditBalance(ctx, before: account, after: after, action: kindName(kind), posting: posting.id)
        return .with { $0.posting = posting; $0.account = after }
    }

    static func auditBalance(_ ctx: CallContext, before: Account, after: Account, action: String, posting: Int64) throws {
        try ctx.audit(AuditEntry(entity: "loyalty.account", recordID: String(after.id), action: action,
                                 owner: ownerOrNil(after.owner), changes: [
            FieldChange("balance", old: String(before.balance), new: String(after.balance)),
            FieldChange("posting_id", old: nil, new: String(posting)),
        ]))
    }

    /// Releases the account's active holds whose time is up, so they stop
    /// reserving in the cached `held` (reads already ignore them).
    static func releaseExpiredHolds(_ db: Database, _ accountID: Int64, now: Int64 = UTCClock.nowMicros()) throws {
        let expired = try db.query("SELECT id, amount FROM loyalty_holds WHERE account_id = ? AND status = 1 AND expires_us <= ?",
                                   [.integer(accountID), .integer(now)])
        guard !expired.isEmpty else { return }
        var total: Int64 = 0
        for row in expired {
            total = total.addingReportingOverflow(row.int(1)).partialValue
            try PointLots.release(db, hold: row.int(0))
        }
        try db.execute("UPDATE loyalty_holds SET status = 4, updated_us = ? WHERE account_id = ? AND status = 1 AND expires_us <= ?",
                       [.integer(now), .integer(accountID), .integer(now)])
        try db.execute("UPDATE loyalty_accounts SET held = held - ?, updated_us = ? WHERE id = ?",
                       [.integer(total), .integer(now), .integer(accountID)])
    }

    static func kindName(_ kind: PostingKind) -> String {
        switch kind {
        case .earn: return "earn"
        case .redeem: return "redeem"
        case .adjust: return "adjust"
        case .reversal: return "reverse"
        case .load: return "load"
        case .capture: return "capture"
        case .refund: return "refund"
        case .void: return "void"
        case .expiry: return "expire"
        case .charge: return "charge"
        case .payIn: return "pay_in"
        case .clawback: return "clawback"
        default: return "post"
        }
    }

    static func nullable(_ id: Int64) -> SQLValue { id == 0 ? .null : .integer(id) }
}
