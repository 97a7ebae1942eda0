import CRMPluginKit
import LoyaltyContract

/// Holds: authorize at the till (reserve part of the available balance),
/// then capture (a posting) or void. An account's `held` is the sum of its
/// active holds, kept in the same transaction; the available balance less
/// a new hold must stay at or above the floor (a CHECK says so again).
enum HoldMethods {
    static let defaultLifetime: Int64 = 7 * 86_400_000_000
    static let maxLifetime: Int64 = 30 * 86_400_000_000

    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "Authorize", authorize)
        def.unary(Loyalty.service + "CaptureHold", capture)
        def.unary(Loyalty.service + "VoidHold", void)
        def.unary(Loyalty.service + "GetHold", get)
    }

    static func authorize(_ ctx: CallContext, _ req: Crm_Loyalty_V1_AuthorizeRequest) throws -> Hold {
        let named = [req.accountID != 0, req.cardID != 0, !req.code.isEmpty].filter { $0 }.count
        guard named == 1 else { throw PluginError.invalidArgument("account_id, card_id or code: exactly one names the account") }
        if req.accountID != 0 { try Check.id(req.accountID, "account_id") }
        if req.cardID != 0 { try Check.id(req.cardID, "card_id") }
        try Check.amount(req.amount, "amount")
        let memo = try Check.text(req.memo, "memo")
        let now = UTCClock.nowMicros()
        let expires = req.expiresUnixUs == 0 ? now + defaultLifetime : req.expiresUnixUs
        guard expires > now, expires <= now + maxLifetime else {
            throw PluginError.invalidArgument("expires_unix_us must be after now and at most 30 days ahead")
        }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            var account: Account
            if req.accountID != 0 {
                account = try Ledger.customerAccount(ctx, db, req.accountID, write: true)
                if account.kind == .houseAccount {
                    throw PluginError.failedPrecondition("account \(account.id) is a house account: charge it with ChargeHouseAccount")
                }
                if account.kind == .giftCard { try GiftCards.requireUsable(try GiftCards.require(ctx, db, account.id, write: true)) }
            } else {
                let card = req.cardID != 0 ? try GiftCards.require(ctx, db, req.cardID, write: true)
                    : try GiftCards.byCode(ctx, db, req.code, key: try Secrets.existing(ctx, db, cache: false))
                try ctx.scope.checkWritable(owner: ownerOrNil(card.account.owner), "gift card \(card.card.id)")
                try GiftCards.requireUsable(card)
                account = card.account
            }
            guard account.status == .active else { throw PluginError.failedPrecondition("account \(account.id) is not active") }
            try Ledger.releaseExpiredHolds(db, account.id, now: now)
            account = try LedgerStore.loadAccount(db, account.id) ?? account
            let (held, overflow) = account.held.addingReportingOverflow(req.amount)
            guard !overflow else { throw PluginError(.outOfRange, "the held amount of account \(account.id) would overflow") }
            guard req.amount <= account.available else {
                throw PluginError.failedPrecondition(
                    "insufficient balance: account \(account.id) has \(account.available) \(account.unit) available, \(req.amount) needed")
            }
            // Points are reserved from the spendable lots, soonest-expiring first.
            let takes = account.kind == .points ? try PointLots.take(db, account: account.id, points: req.amount, now: now).takes : []
            let id = try db.execute("""
                INSERT INTO loyalty_holds (account_id, unit, amount, status, memo, expires_us, created_us, updated_us)
                VALUES (?, ?, ?, 1, ?, ?, ?, ?)
                """, [.integer(account.id), .text(account.unit), .integer(req.amount), .text(memo), .integer(expires), .integer(now),
                      .integer(now)]).lastInsertID
            try PointLots.record(db, takes, hold: id)
            try db.execute("UPDATE loyalty_accounts SET held = ?, updated_us = ? WHERE id = ?",
                           [.integer(held), .integer(now), .integer(account.id)])
            let hold = try LedgerStore.loadHold(db, id)!
            try ctx.audit(AuditEntry(entity: "loyalty.hold", recordID: String(id), action: "authorize", owner: ownerOrNil(account.owner),
                                     changes: [FieldChange("account_id", old: nil, new: String(account.id)),
                                               FieldChange("amount", old: nil, new: "\(req.amount) \(account.unit)"),
                                               FieldChange("expires_unix_us", old: nil, new: String(expires))]))
            let after = try LedgerStore.loadAccount(db, account.id) ?? account
            try LoyaltyEvents.publish(ctx, "loyalty.hold.authorized", account: after, hold: hold,
                                      summary: "\(LoyaltyEvents.amount(req.amount, account.unit)) authorized")
            return hold
        }
    }

    /// The active hold and its account, for a write; FAILED_PRECONDITION
    /// when it is no longer active.
    private static func activeHold(_ ctx: CallContext, _ db: Database, _ id: Int64) throws -> (Hold, Account) {
        guard let hold = try LedgerStore.loadHold(db, id), let account = try LedgerStore.loadAccount(db, hold.accountID) else {
            throw PluginError.notFound("no hold \(id) (hold_id)")
        }
        try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "hold \(id)")
        return (hold, account)
    }

    static func capture(_ ctx: CallContext, _ req: Crm_Loyalty_V1_CaptureHoldRequest) throws -> PostingResult {
        try Check.id(req.holdID, "hold_id")
        try Check.amount(req.amount, "amount", allowZero: true)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let (hold, account) = try activeHold(ctx, db, req.holdID)
            guard hold.status == .active else {
                throw PluginError.failedPrecondition("hold \(req.holdID) is \(statusName(hold.status)), not active")
            }
            let amount = req.amount == 0 ? hold.amount : req.amount
            guard amount <= hold.amount else {
                throw PluginError.invalidArgument("amount \(amount) is more than hold \(req.holdID)'s \(hold.amount)")
            }
            let now = UTCClock.nowMicros()
            // Release the whole reservation, then post what is taken.
            try db.execute("UPDATE loyalty_accounts SET held = held - ?, updated_us = ? WHERE id = ?",
                           [.integer(hold.amount), .integer(now), .integer(account.id)])
            let released = try LedgerStore.loadAccount(db, account.id) ?? account
            let result = try Ledger.move(ctx, db, .capture, account: released, amount: -amount,
                                         system: account.unit == Ledger.pointsUnit ? .pointsRedeemed : .redeemed,
                                         reason: hold.memo, references: .init(hold: hold.id)) { posting in
                try PointLots.capture(db, hold: hold.id, amount: amount, posting: posting.id)
            }
            try db.execute("UPDATE loyalty_holds SET status = 2, captured_amount = ?, capture_posting_id = ?, updated_us = ? WHERE id = ?",
                           [.integer(amount), .integer(result.posting.id), .integer(now), .integer(hold.id)])
            try ctx.audit(AuditEntry(entity: "loyalty.hold", recordID: String(hold.id), action: "capture", owner: ownerOrNil(account.owner),
                                     changes: [FieldChange("status", old: "ACTIVE", new: "CAPTURED"),
                                               FieldChange("captured_amount", old: "0", new: String(amount))]))
            let captured = try LedgerStore.loadHold(db, hold.id)!
            try LoyaltyEvents.publish(ctx, "loyalty.hold.captured", account: result.account, posting: result.posting, hold: captured,
                                      summary: "\(LoyaltyEvents.amount(amount, account.unit)) captured")
            return result
        }
    }

    static func void(_ ctx: CallContext, _ req: Crm_Loyalty_V1_VoidHoldRequest) throws -> Hold {
        try Check.id(req.holdID, "hold_id")
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let (hold, account) = try activeHold(ctx, db, req.holdID)
            let now = UTCClock.nowMicros()
            switch hold.status {
            case .active:
                try db.execute("UPDATE loyalty_holds SET status = 3, updated_us = ? WHERE id = ?", [.integer(now), .integer(hold.id)])
                try PointLots.release(db, hold: hold.id)
                try db.execute("UPDATE loyalty_accounts SET held = held - ?, updated_us = ? WHERE id = ?",
                               [.integer(hold.amount), .integer(now), .integer(account.id)])
            case .expired:
                // Already not reserving; release it for good and say so.
                try Ledger.releaseExpiredHolds(db, account.id, now: now)
                return try LedgerStore.loadHold(db, hold.id)!
            default:
                throw PluginError.failedPrecondition("hold \(req.holdID) is \(statusName(hold.status))")
            }
            try ctx.audit(AuditEntry(entity: "loyalty.hold", recordID: String(hold.id), action: "void", owner: ownerOrNil(account.owner),
                                     changes: [FieldChange("status", old: "ACTIVE", new: "VOIDED")]))
            let voided = try LedgerStore.loadHold(db, hold.id)!
            try LoyaltyEvents.publish(ctx, "loyalty.hold.voided", account: try LedgerStore.loadAccount(db, account.id) ?? account,
                                      hold: voided, summary: "\(LoyaltyEvents.amount(hold.amount, account.unit)) hold released")
            return voided
        }
    }

    static func get(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetHoldRequest) throws -> Hold {
        try Check.id(req.id, "id")
        let db = try ctx.database
        guard let hold = try LedgerStore.loadHold(db, req.id), let account = try LedgerStore.loadAccount(db, hold.accountID),
              ctx.scope.includes(owner: ownerOrNil(account.owner)) else { throw PluginError.notFound("no hold \(req.id) (id)") }
        return hold
    }

    static func statusName(_ status: HoldStatus) -> String {
        switch status {
        case .active: return "active"
        case .captured: return "captured"
        case .voided: return "voided"
        case .expired: return "expired"
        default: return "unknown"
        }
    }
}
