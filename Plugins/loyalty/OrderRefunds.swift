import CRMPluginKit
import LoyaltyContract

/// Refunds of orders: what to give back per line, and the points the
/// refunded part earned taken back, exactly once (the idempotency key,
/// and each line's refunded quantity, which only grows). The points to
/// take back are what the order earned less what its remaining lines earn
/// under the rules it was posted with; their sum over all refunds is the
/// order's points, so a full refund takes back everything it earned.
enum OrderRefunds {
    static func register(on def: PluginDefinition) {
        def.unary(OrderMethods.service + "RefundOrder", refund)
    }

    static func refund(_ ctx: CallContext, _ req: Crm_Loyalty_V1_RefundOrderRequest) throws -> Crm_Loyalty_V1_OrderResult {
        try Check.id(req.orderID, "order_id")
        let reason = try Check.text(req.reason, "reason")
        guard req.lines.count <= OrderMethods.maxLines else {
            throw PluginError.invalidArgument("lines holds more than \(OrderMethods.maxLines) lines")
        }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            guard let order = try OrderStore.load(db, req.orderID, refunds: false),
                  ctx.scope.includes(owner: ownerOrNil(order.owner)) else {
                throw PluginError.notFound("no order \(req.orderID) (order_id)")
            }
            try ctx.scope.checkWritable(owner: ownerOrNil(order.owner), "order \(order.id)")
            guard order.status != .refunded else { throw PluginError.failedPrecondition("order \(order.id) is fully refunded") }
            let refundLines = try chosenLines(req.lines, of: order)
            let now = UTCClock.nowMicros()
            // Amounts: each line's total spread over its units, cumulatively,
            // so the last unit refunded takes the rounding.
            var amount: Int64 = 0
            var refundedAfter: [Int32: Int64] = [:]
            var out: [Crm_Loyalty_V1_RefundLine] = []
            for var line in order.lines {
                refundedAfter[line.lineNumber] = line.refundedQuantity
                guard let quantity = refundLines[line.lineNumber] else { continue }
                let after = line.refundedQuantity + quantity
                let owed = EarnRules.share(line.total, part: after, of: line.quantity) - line.refundedAmount
                line.refundedQuantity = after
                line.refundedAmount += owed
                refundedAfter[line.lineNumber] = after
                amount += owed
                out.append(.with { $0.lineNumber = line.lineNumber; $0.quantity = quantity; $0.amount = owed })
                try db.execute("""
                    UPDATE loyalty_order_lines SET refunded_quantity = ?, refunded_amount = ? WHERE order_id = ? AND line_number = ?
                    """, [.integer(after), .integer(line.refundedAmount), .integer(order.id), .integer(Int64(line.lineNumber))])
            }
            let everything = order.lines.allSatisfy { (refundedAfter[$0.lineNumber] ?? 0) >= $0.quantity }
            // What the order spent comes back first, so the points a tender
            // or a reward gives back are there for the clawback to take.
            let tenderReturns = try OrderTenderReturns.giveBack(ctx, db, order: order, amount: amount)
            let rewardPoints = try OrderRewards.giveBack(ctx, db, order: order, refundedAfter: refundedAfter, everything: everything)
            var result = Crm_Loyalty_V1_OrderResult()
            var clawed: Int64 = 0
            var short: Int64 = 0
            var clawbackID: Int64 = 0
            let owedPoints = try pointsToTakeBack(db, order, refundedAfter: refundedAfter)
            if owedPoints > 0, let account = try LedgerStore.loadAccount(db, order.pointsAccountID) {
                try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "points account \(account.id)")
                try Ledger.releaseExpiredHolds(db, account.id, now: now)
                let own = try db.query("SELECT id FROM loyalty_point_lots WHERE posting_id = ?", [.integer(order.earnPostingID)])
                    .map { $0.int(0) }
                // Points of the order that expired went to breakage already:
                // what is left to take back is at most what did not.
                let expired = try PointLots.expired(db, lots: own)
                let live = max(order.pointsEarned - expired - order.pointsClawedBack, 0)
                let wanted = min(owedPoints, live)
                let taken = try PointLots.take(db, account: account.id, points: wanted, now: now, preferred: own, partial: true)
                let points = wanted - taken.short
                short = owedPoints - points
                if points > 0 {
                    let moved = try Ledger.move(ctx, db, .clawback, account: account, amount: -points, system: .pointsIssued,
                                                reason: "refund of order \(order.id)",
                                                references: .init(refunds: order.earnPostingID)) { posting in
                        try PointLots.record(db, taken.takes, posting: posting.id)
                    }
                    clawed = points
                    clawbackID = moved.posting.id
                    result.posting = moved.posting
                    result.pointsAccount = moved.account
                } else {
                    result.pointsAccount = try LedgerStore.loadAccount(db, account.id) ?? account
                }
            }
            // What was owed counts as taken back, recovered or not, so a
            // later refund never asks for it again.
            let status: Int64 = everything ? 3 : 2
            try db.execute("""
                UPDATE loyalty_orders SET status = ?, refunded_amount = refunded_amount + ?, points_clawed_back = points_clawed_back + ?,
                       updated_us = ? WHERE id = ?
                """, [.integer(status), .integer(amount), .integer(owedPoints), .integer(now), .integer(order.id)])
            var refund = OrderRefund()
            refund.lines = out
            refund.tenderReturns = tenderReturns
            refund.rewardPointsReturned = rewardPoints
            let refundID = try db.execute("""
                INSERT INTO loyalty_order_refunds (order_id, amount, points_clawed_back, points_not_recovered, clawback_posting_id, lines,
                                                   reason, created_by, created_us)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(order.id), .integer(amount), .integer(clawed), .integer(short), Ledger.nullable(clawbackID),
                      .blob(try refund.serializedBytes()), .text(reason), .text(callerName(ctx)), .integer(now)]).lastInsertID
            try ctx.audit(AuditEntry(entity: "loyalty.order", recordID: String(order.id), action: "refund", owner: ownerOrNil(order.owner),
                                     changes: [FieldChange("refunded_amount", old: String(order.refundedAmount),
                                                           new: String(order.refundedAmount + amount)),
                                               FieldChange("points_clawed_back", old: String(order.pointsClawedBack),
                                                           new: String(order.pointsClawedBack + owedPoints))]))
            guard let after = try OrderStore.load(db, order.id) else { throw PluginError(.internal, "loyalty: order \(order.id) vanished") }
            result.order = after
            result.refund = after.refunds.first { $0.id == refundID } ?? refund
            try OrderMethods.publish(ctx, "loyalty.order.refunded", after,
                                     summary: "Order \(after.orderRef.isEmpty ? String(after.id) : after.orderRef) refunded: "
                                         + LoyaltyEvents.amount(amount, after.currency)
                                         + (clawed > 0 ? ", \(clawed) points taken back" : ""))
            return result
        }
    }

    /// line number → quantity to refund; all that is left when none are named.
    private static func chosenLines(_ lines: [Crm_Loyalty_V1_RefundLine], of order: Order) throws -> [Int32: Int64] {
        var chosen: [Int32: Int64] = [:]
        if lines.isEmpty {
            for line in order.lines where line.refundedQuantity < line.quantity {
                chosen[line.lineNumber] = line.quantity - line.refundedQuantity
            }
            return chosen
        }
        for (i, requested) in lines.enumerated() {
            guard let line = order.lines.first(where: { $0.lineNumber == requested.lineNumber }) else {
                throw PluginError.invalidArgument("lines[\(i)].line_number \(requested.lineNumber) is not a line of order \(order.id)")
            }
            guard chosen[line.lineNumber] == nil else {
                throw PluginError.invalidArgument("lines[\(i)].line_number \(requested.lineNumber) is named twice")
            }
            let left = line.quantity - line.refundedQuantity
            guard requested.quantity >= 1, requested.quantity <= left else {
                throw PluginError.invalidArgument("lines[\(i)].quantity must be 1 to \(left) (what is left of line \(line.lineNumber)), "
                                                  + "got \(requested.quantity)")
            }
            chosen[line.lineNumber] = requested.quantity
        }
        return chosen
    }

    /// What the order earned less what its remaining lines earn under the
    /// rules and context it was posted with, less what earlier refunds took.
    private static func pointsToTakeBack(_ db: Database, _ order: Order, refundedAfter: [Int32: Int64]) throws -> Int64 {
        guard order.pointsEarned > 0,
              let row = try db.query("SELECT program_body, first_order, allowance, birthday, tier_percent FROM loyalty_orders WHERE id = ?",
                                     [.integer(order.id)]).first,
              let program = try? Program(serializedBytes: row[0].bytes ?? []) else { return 0 }
        let context = EarnRules.Context(minuteOfWeek: EarnRules.minuteOfWeek(order.placedUnixUs, zone: program.timeZone),
                                        firstOrder: row.int(1) != 0, birthday: row.int(3) != 0, allowance: row.int(2),
                                        tierPercent: row.int(4))
        let keeps = min(EarnRules.points(program, OrderStore.earnLines(order.lines, refunded: refundedAfter), context), order.pointsEarned)
        return max(order.pointsEarned - keeps - order.pointsClawedBack, 0)
    }
}
