import CRMPluginKit
import LoyaltyContract

/// Points in and out of a POINTS account, manual adjustments of any
/// customer account, and reversals of postings.
enum PointsMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "EarnPoints", earn)
        def.unary(Loyalty.service + "RedeemPoints", redeem)
        def.unary(Loyalty.service + "AdjustBalance", adjust)
        def.unary(Loyalty.service + "ReversePosting", reverse)
    }

    static func earn(_ ctx: CallContext, _ req: Crm_Loyalty_V1_PointsRequest) throws -> PostingResult {
        try points(ctx, req, earning: true)
    }

    static func redeem(_ ctx: CallContext, _ req: Crm_Loyalty_V1_PointsRequest) throws -> PostingResult {
        try points(ctx, req, earning: false)
    }

    private static func points(_ ctx: CallContext, _ req: Crm_Loyalty_V1_PointsRequest, earning: Bool) throws -> PostingResult {
        try Check.id(req.accountID, "account_id")
        try Check.amount(req.points, "points")
        let reason = try Check.text(req.reason, "reason")
        let now = UTCClock.nowMicros()
        if req.expiresUnixUs != 0 {
            guard earning else { throw PluginError.invalidArgument("expires_unix_us is for EarnPoints only") }
            guard req.expiresUnixUs > 0 else { throw PluginError.invalidArgument("expires_unix_us must be after now") }
        }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            // Checked after the replay lookup, so a retry after the time still gets its answer.
            if req.expiresUnixUs != 0, req.expiresUnixUs <= now {
                throw PluginError.invalidArgument("expires_unix_us must be after now")
            }
            let account = try Ledger.customerAccount(ctx, db, req.accountID, write: true)
            guard account.kind == .points else { throw PluginError.failedPrecondition("account \(req.accountID) is not a POINTS account") }
            guard account.status == .active else { throw PluginError.failedPrecondition("account \(req.accountID) is closed") }
            guard earning else { return try spend(ctx, db, account, points: req.points, reason: reason, now: now) }
            let result = try Ledger.move(ctx, db, .earn, account: account, amount: req.points, system: .pointsIssued, reason: reason) { posting in
                try PointLots.add(db, account: account.id, posting: posting.id, points: req.points, available: now,
                                  expires: req.expiresUnixUs == 0 ? PointLots.never : req.expiresUnixUs, now: now)
            }
            try LoyaltyEvents.publish(ctx, "loyalty.points.earned", account: result.account, posting: result.posting,
                                      summary: "\(req.points) points earned")
            return result
        }
    }

    /// Spends spendable points, soonest-expiring first (RedeemPoints, an order's tender).
    static func spend(_ ctx: CallContext, _ db: Database, _ account: Account, points: Int64, reason: String,
                      now: Int64) throws -> PostingResult {
        try Ledger.releaseExpiredHolds(db, account.id, now: now)
        let current = try LedgerStore.loadAccount(db, account.id) ?? account
        let takes = try PointLots.take(db, account: account.id, points: points, now: now).takes
        let result = try Ledger.move(ctx, db, .redeem, account: current, amount: -points, system: .pointsRedeemed, reason: reason) { posting in
            try PointLots.record(db, takes, posting: posting.id)
        }
        try LoyaltyEvents.publish(ctx, "loyalty.points.redeemed", account: result.account, posting: result.posting,
                                  summary: "\(points) points redeemed")
        return result
    }

    static func adjust(_ ctx: CallContext, _ req: Crm_Loyalty_V1_AdjustBalanceRequest) throws -> PostingResult {
        try Check.id(req.accountID, "account_id")
        guard req.amount != 0, req.amount >= -Check.maxAmount, req.amount <= Check.maxAmount else {
            throw PluginError.invalidArgument("amount must be non-zero and within ±\(Check.maxAmount)")
        }
        let reason = try Check.text(req.reason, "reason", required: true)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            var account = try Ledger.customerAccount(ctx, db, req.accountID, write: true)
            guard account.status != .closed else { throw PluginError.failedPrecondition("account \(req.accountID) is closed") }
            try Ledger.releaseExpiredHolds(db, account.id)
            account = try LedgerStore.loadAccount(db, account.id) ?? account
            // Points: a credit is a lot that never expires; a debit takes spendable lots.
            let now = UTCClock.nowMicros()
            let takes = account.kind == .points && req.amount < 0
                ? try PointLots.take(db, account: account.id, points: -req.amount, now: now).takes : []
            let result = try Ledger.move(ctx, db, .adjust, account: account, amount: req.amount, system: .adjustments,
                                         reason: reason) { posting in
                guard account.kind == .points else { return }
                if req.amount > 0 {
                    try PointLots.add(db, account: account.id, posting: posting.id, points: req.amount, available: now,
                                      expires: PointLots.never, now: now)
                } else {
                    try PointLots.record(db, takes, posting: posting.id)
                }
            }
            try LoyaltyEvents.publish(ctx, "loyalty.balance.adjusted", account: result.account, posting: result.posting,
                                      summary: "Balance adjusted by \(LoyaltyEvents.amount(req.amount, account.unit)): \(reason)")
            return result
        }
    }

    static func reverse(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ReversePostingRequest) throws -> PostingResult {
        try Check.id(req.postingID, "posting_id")
        let reason = try Check.text(req.reason, "reason", required: true)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            guard let original = try LedgerStore.loadPosting(db, req.postingID) else {
                throw PluginError.notFound("no posting \(req.postingID) (posting_id)")
            }
            if original.reversedByPostingID != 0 {
                throw PluginError.failedPrecondition("posting \(req.postingID) is already reversed by posting \(original.reversedByPostingID)")
            }
            switch original.kind {
            case .reversal: throw PluginError.failedPrecondition("posting \(req.postingID) is a reversal; post a new posting instead")
            case .refund, .void, .expiry, .clawback:
                throw PluginError.failedPrecondition("posting \(req.postingID) is a \(Ledger.kindName(original.kind)) posting, which cannot be reversed")
            default: break
            }
            if let order = try db.query("SELECT id FROM loyalty_orders WHERE earn_posting_id = ?", [.integer(req.postingID)]).first?.int(0) {
                throw PluginError.failedPrecondition("posting \(req.postingID) is what order \(order) earned; refund the order instead")
            }
            if let order = try OrderTenders.order(paidBy: req.postingID, db) {
                throw PluginError.failedPrecondition("posting \(req.postingID) pays order \(order); refund the order instead")
            }
            if let refund = try db.query("SELECT id FROM loyalty_postings WHERE refunds_id = ? LIMIT 1",
                                         [.integer(req.postingID)]).first?.int(0) {
                throw PluginError.failedPrecondition("posting \(req.postingID) has refund \(refund); refund the rest instead")
            }
            var customer: Account?
            for entry in original.entries {
                guard let account = try LedgerStore.loadAccount(db, entry.accountID), account.kind != .system else { continue }
                try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "account \(account.id)")
                if account.status == .closed { throw PluginError.failedPrecondition("account \(account.id) is closed") }
                try Ledger.releaseExpiredHolds(db, account.id)
                if customer == nil { customer = account }
            }
            let unit = original.entries.first?.unit ?? ""
            let legs = original.entries.map { Ledger.Leg(account: $0.accountID, amount: 0 &- $0.amount) }
            let lots = try reverseLots(db, original)
            let posting = try Ledger.post(ctx, db, .reversal, unit: unit, legs: legs, reason: reason,
                                          references: .init(reverses: original.id))
            try lots(posting.id)
            var result = PostingResult()
            result.posting = posting
            if let before = customer, let after = try LedgerStore.loadAccount(db, before.id) {
                result.account = after
                try Ledger.auditBalance(ctx, before: before, after: after, action: "reverse", posting: posting.id)
                try LoyaltyEvents.publish(ctx, "loyalty.posting.reversed", account: after, posting: posting,
                                          summary: "Posting \(original.id) reversed: \(reason)")
            }
            return result
        }
    }

    /// The point lots' side of a reversal, checked before it posts: a
    /// credit's points are taken back (its own lot first, then spendable
    /// ones; FAILED_PRECONDITION when they are spent), a spend's go back to
    /// the lots they came from (a spend from before lots gets a new lot).
    /// The closure records it against the reversal posting.
    private static func reverseLots(_ db: Database, _ original: Posting) throws -> (Int64) throws -> Void {
        guard original.entries.first?.unit == Ledger.pointsUnit else { return { _ in } }
        let now = UTCClock.nowMicros()
        var steps: [(Int64) throws -> Void] = []
        for entry in original.entries {
            guard let account = try LedgerStore.loadAccount(db, entry.accountID), account.kind == .points else { continue }
            if entry.amount > 0 {
                let own = try db.query("SELECT id FROM loyalty_point_lots WHERE posting_id = ? AND account_id = ? ORDER BY id",
                                       [.integer(original.id), .integer(account.id)]).map { $0.int(0) }
                // Expired points went to breakage: taking them again from other lots would take them twice.
                if try PointLots.expired(db, lots: own) > 0 {
                    throw PluginError.failedPrecondition("posting \(original.id)'s points have expired; it can no longer be reversed")
                }
                let takes = try PointLots.take(db, account: account.id, points: entry.amount, now: now, preferred: own).takes
                steps.append { try PointLots.record(db, takes, posting: $0) }
            } else {
                let back = try PointLots.giveBack(db, posting: original.id)
                let rest = (0 &- entry.amount) &- back
                steps.append { try PointLots.add(db, account: account.id, posting: $0, points: rest, available: now,
                                                 expires: PointLots.never, now: now) }
            }
        }
        return { id in for step in steps { try step(id) } }
    }
}
