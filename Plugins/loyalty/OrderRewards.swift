import CRMPluginKit
import LoyaltyContract

typealias AppliedReward = Crm_Loyalty_V1_AppliedReward

/// Rewards used on an order (orders.proto, Rewards): their discounts go
/// into the lines before the order is totalled, so everything after (the
/// total, the tenders, what it earns, what a refund gives back) sees the
/// discounted lines; their points are spent one REDEEM posting each, and
/// come back once what they were used on is refunded in full.
enum OrderRewards {
    static let maxRewards = 10

    static let schema = """
    CREATE TABLE loyalty_order_rewards (
        order_id INTEGER NOT NULL REFERENCES loyalty_orders (id),
        seq INTEGER NOT NULL,
        reward_id INTEGER NOT NULL REFERENCES loyalty_rewards (id),
        line_number INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind INTEGER NOT NULL,
        discount INTEGER NOT NULL,
        points INTEGER NOT NULL,
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        posting_id INTEGER NOT NULL REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        return_posting_id INTEGER REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        PRIMARY KEY (order_id, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX loyalty_order_rewards_posting ON loyalty_order_rewards (posting_id);
    ALTER TABLE loyalty_order_lines ADD COLUMN reward_discount INTEGER NOT NULL DEFAULT 0;
    """

    /// The request's uses, checked for what needs no reading.
    static func validated(_ uses: [AppliedReward], lineCount: Int, personID: Int64) throws -> [AppliedReward] {
        guard uses.count <= maxRewards else { throw PluginError.invalidArgument("rewards holds more than \(maxRewards) rewards") }
        if !uses.isEmpty && personID == 0 { throw PluginError.invalidArgument("rewards need the order's person_id") }
        return try uses.enumerated().map { i, use in
            try Check.id(use.rewardID, "rewards[\(i)].reward_id")
            guard use.lineNumber >= 0, Int(use.lineNumber) <= lineCount else {
                throw PluginError.invalidArgument("rewards[\(i)].line_number \(use.lineNumber) is not a line of the order")
            }
            return .with { $0.rewardID = use.rewardID; $0.lineNumber = use.lineNumber }
        }
    }

    /// Takes each reward's discount off the lines, in the order given.
    static func apply(_ db: Database, _ uses: [AppliedReward], to lines: inout [OrderLine], currency: String) throws -> [AppliedReward] {
        guard !uses.isEmpty else { return [] }
        guard let program = try Programs.active(db, currency: currency) else {
            throw PluginError.failedPrecondition("no active program in \(currency) has rewards")
        }
        return try uses.enumerated().map { i, use in
            let field = "rewards[\(i)]"
            guard let reward = try Rewards.load(db, use.rewardID) else {
                throw PluginError.notFound("no reward \(use.rewardID) (\(field).reward_id)")
            }
            guard reward.status == .active else { throw PluginError.failedPrecondition("reward \(reward.id) is retired") }
            guard reward.programID == program.id else {
                throw PluginError.failedPrecondition("reward \(reward.id) is not of program \(program.id), the active program in \(currency)")
            }
            let targets = use.lineNumber == 0 ? Array(lines.indices) : [Int(use.lineNumber) - 1]
            // What is left of each target's price before tax (request values bounded: the order's subtotal < 10^15).
            let left = targets.map { lines[$0].quantity &* lines[$0].unitPrice &- lines[$0].discount }
            let all = left.reduce(0, &+)
            var discount: Int64
            switch reward.kind {
            case .freeItem:
                guard use.lineNumber != 0 else { throw PluginError.invalidArgument("\(field).line_number must name the line of the free item") }
                let line = lines[targets[0]]
                guard line.itemID == reward.itemID else {
                    throw PluginError.invalidArgument("\(field): line \(line.lineNumber) is \(line.itemID), reward \(reward.id) is a free \(reward.itemID)")
                }
                guard line.unitPrice > 0, all >= line.unitPrice else {
                    throw PluginError.invalidArgument("\(field): line \(line.lineNumber) has no whole unit's price left to take off")
                }
                discount = line.unitPrice
            case .amountOff:
                discount = min(reward.amountOff, all)
            default:
                discount = all &* Int64(reward.percentOff) / 100
                if reward.maxDiscount > 0 { discount = min(discount, reward.maxDiscount) }
            }
            guard discount > 0 else { throw PluginError.invalidArgument("\(field): nothing is left to take off") }
            for (target, share) in zip(targets, Apportion.split(discount, over: left)) where share > 0 {
                lines[target].discount &+= share
                lines[target].rewardDiscount &+= share
                lines[target].total &-= share
            }
            return .with {
                $0.rewardID = reward.id
                $0.lineNumber = use.lineNumber
                $0.name = reward.name
                $0.kind = reward.kind
                $0.discount = discount
                $0.points = reward.pointsCost
            }
        }
    }

    /// Spends the rewards' points and stores them with the order.
    static func spend(_ ctx: CallContext, _ db: Database, order: Int64, label: String, personID: Int64, _ applied: [AppliedReward],
                      now: Int64) throws -> [AppliedReward] {
        guard !applied.isEmpty else { return [] }
        guard let account = try OrderMethods.pointsAccount(db, person: personID) else {
            throw PluginError.failedPrecondition("person \(personID) has no points account to pay rewards with")
        }
        try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "points account \(account.id)")
        return try applied.enumerated().map { i, use in
            var use = use
            let result = try PointsMethods.spend(ctx, db, account, points: use.points, reason: "reward \(use.name) on order \(label)", now: now)
            use.postingID = result.posting.id
            try db.execute("""
                INSERT INTO loyalty_order_rewards (order_id, seq, reward_id, line_number, name, kind, discount, points, account_id, posting_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(order), .integer(Int64(i + 1)), .integer(use.rewardID), .integer(Int64(use.lineNumber)), .text(use.name),
                      .integer(Int64(use.kind.rawValue)), .integer(use.discount), .integer(use.points), .integer(account.id),
                      .integer(use.postingID)])
            return use
        }
    }

    static func load(_ db: Database, order: Int64) throws -> [AppliedReward] {
        try db.query("""
            SELECT reward_id, line_number, name, kind, discount, points, posting_id, return_posting_id
            FROM loyalty_order_rewards WHERE order_id = ? ORDER BY seq
            """, [.integer(order)]).map { row in
            AppliedReward.with {
                $0.rewardID = row.int(0)
                $0.lineNumber = Int32(truncatingIfNeeded: row.int(1))
                $0.name = row.text(2)
                $0.kind = Crm_Loyalty_V1_RewardKind(rawValue: Int(truncatingIfNeeded: row.int(3))) ?? .unspecified
                $0.discount = row.int(4)
                $0.points = row.int(5)
                $0.postingID = row.int(6)
                $0.returnPostingID = row.int(7)
            }
        }
    }

    /// Gives back the points of the rewards whose line (or order) this
    /// refund leaves refunded in full; returns how many.
    static func giveBack(_ ctx: CallContext, _ db: Database, order: Order, refundedAfter: [Int32: Int64],
                         everything: Bool) throws -> Int64 {
        var total: Int64 = 0
        let rows = try db.query("""
            SELECT seq, line_number, points, account_id, posting_id, name FROM loyalty_order_rewards
            WHERE order_id = ? AND return_posting_id IS NULL ORDER BY seq
            """, [.integer(order.id)])
        for row in rows {
            let line = Int32(truncatingIfNeeded: row.int(1))
            let done = line == 0 ? everything
                : order.lines.first { $0.lineNumber == line }.map { (refundedAfter[line] ?? 0) >= $0.quantity } ?? false
            guard done else { continue }
            let (points, posting) = (row.int(2), row.int(4))
            let account = try Ledger.customerAccount(ctx, db, row.int(3), write: true)
            let result = try Ledger.move(ctx, db, .refund, account: account, amount: points, system: .pointsRedeemed,
                                         reason: "reward \(row.text(5)) back: refund of order \(order.id)",
                                         references: .init(refunds: posting)) { _ in
                try PointLots.giveBack(db, posting: posting, points: points)
            }
            try LoyaltyEvents.publish(ctx, "loyalty.points.refunded", account: result.account, posting: result.posting,
                                      summary: "\(points) points of reward \(row.text(5)) given back")
            try db.execute("UPDATE loyalty_order_rewards SET return_posting_id = ? WHERE order_id = ? AND seq = ?",
                           [.integer(result.posting.id), .integer(order.id), .integer(row.int(0))])
            total = EarnRules.add(total, points)
        }
        return total
    }
}
