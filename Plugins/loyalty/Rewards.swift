import CRMPluginKit
import LoyaltyContract

typealias Reward = Crm_Loyalty_V1_Reward

/// Rewards: what points buy at the till (programs.proto, Reward), per
/// program. Stored as their message beside the program and status the
/// lists filter on; an order keeps what a reward gave it (OrderRewards),
/// so changing or retiring a reward never changes a past order.
enum Rewards {
    static func register(on def: PluginDefinition) {
        def.unary(Programs.service + "CreateReward", create)
        def.unary(Programs.service + "UpdateReward", update)
        def.unary(Programs.service + "ListRewards", list)
    }

    static let schema = """
    CREATE TABLE loyalty_rewards (
        id INTEGER PRIMARY KEY,
        program_id INTEGER NOT NULL REFERENCES loyalty_programs (id),
        status INTEGER NOT NULL,
        body BLOB NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_rewards_program ON loyalty_rewards (program_id, id);
    """

    static func create(_ ctx: CallContext, _ req: Crm_Loyalty_V1_CreateRewardRequest) throws -> Reward {
        try Check.id(req.reward.programID, "reward.program_id")
        var reward = try validated(req.reward, kind: req.reward.kind)
        reward.programID = req.reward.programID
        func insert(_ db: Database) throws -> Reward {
            guard let program = try Programs.load(db, reward.programID) else {
                throw PluginError.notFound("no program \(reward.programID) (reward.program_id)")
            }
            guard program.status == .active else { throw PluginError.failedPrecondition("program \(program.id) is retired") }
            let now = UTCClock.nowMicros()
            reward.status = .active
            reward.version = 1
            reward.createdUnixUs = now
            reward.updatedUnixUs = now
            reward.id = try db.execute("""
                INSERT INTO loyalty_rewards (program_id, status, body, created_us, updated_us) VALUES (?, 1, x'', ?, ?)
                """, [.integer(reward.programID), .integer(now), .integer(now)]).lastInsertID
            try db.execute("UPDATE loyalty_rewards SET body = ? WHERE id = ?", [.blob(try reward.serializedBytes()), .integer(reward.id)])
            try ctx.audit(AuditEntry(entity: "loyalty.reward", recordID: String(reward.id), action: "create",
                                     changes: [FieldChange("program_id", old: nil, new: String(reward.programID)),
                                               FieldChange("terms", old: nil, new: summary(reward))]))
            return reward
        }
        if req.idempotencyKey.isEmpty { return try insert(try ctx.database) }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey, insert)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Loyalty_V1_UpdateRewardRequest) throws -> Reward {
        try Check.id(req.id, "id")
        let db = try ctx.database
        guard let old = try load(db, req.id) else { throw PluginError.notFound("no reward \(req.id) (id)") }
        if old.status == .retired && req.retire { return old }  // a repeat records nothing
        guard old.status == .active else { throw PluginError.failedPrecondition("reward \(req.id) is retired") }
        let replacement = req.retire ? nil : try validated(req.reward, kind: old.kind)
        var reward = replacement ?? old
        reward.id = old.id
        reward.programID = old.programID
        reward.status = req.retire ? .retired : .active
        reward.createdUnixUs = old.createdUnixUs
        reward.version = old.version
        reward.updatedUnixUs = old.updatedUnixUs
        if reward == old { return old }  // a repeat records nothing, whatever version it expected
        try Validate.expectedVersion(req.expectedVersion, old.version, noun: "reward \(req.id)")
        reward.version = old.version &+ 1
        reward.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("UPDATE loyalty_rewards SET status = ?, body = ?, updated_us = ? WHERE id = ?",
                       [.integer(Int64(reward.status.rawValue)), .blob(try reward.serializedBytes()), .integer(reward.updatedUnixUs),
                        .integer(reward.id)])
        try ctx.audit(AuditEntry(entity: "loyalty.reward", recordID: String(reward.id), action: req.retire ? "retire" : "update",
                                 changes: [FieldChange("terms", old: summary(old), new: summary(reward)),
                                           FieldChange("version", old: String(old.version), new: String(reward.version))]))
        return reward
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListRewardsRequest) throws -> Crm_Loyalty_V1_ListRewardsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.optionalID(req.programID, "program_id")
        var filter = SQLFilter()
        if req.programID != 0 { filter.add("program_id = ?", [.integer(req.programID)]) }
        if !req.includeRetired { filter.add("status = 1", []) }
        if let after = paging.after { filter.add("id > ?", after) }
        let page = try fetchPage(try ctx.database, "SELECT id, body FROM loyalty_rewards \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: { try Reward(serializedBytes: $0[1].bytes ?? []) },
                                 key: { [$0[0]] })
        return .with { $0.rewards = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func load(_ db: Database, _ id: Int64) throws -> Reward? {
        guard let row = try db.query("SELECT body FROM loyalty_rewards WHERE id = ?", [.integer(id)]).first else { return nil }
        return try Reward(serializedBytes: row[0].bytes ?? [])
    }

    /// A request's terms, checked; each error names its field.
    static func validated(_ r: Reward, kind: Crm_Loyalty_V1_RewardKind) throws -> Reward {
        var out = Reward()
        out.name = try Check.text(r.name, "reward.name", max: 100, required: true)
        guard (1...1_000_000_000).contains(r.pointsCost) else {
            throw PluginError.invalidArgument("reward.points_cost must be 1 to 10^9, got \(r.pointsCost)")
        }
        out.pointsCost = r.pointsCost
        out.kind = kind
        func notSet(_ set: Bool, _ field: String) throws {
            if set { throw PluginError.invalidArgument("reward.\(field) is not for a \(kindName(kind)) reward") }
        }
        switch kind {
        case .amountOff:
            guard (1...1_000_000_000_000).contains(r.amountOff) else {
                throw PluginError.invalidArgument("reward.amount_off must be 1 to 10^12 minor units, got \(r.amountOff)")
            }
            try notSet(r.percentOff != 0, "percent_off"); try notSet(r.maxDiscount != 0, "max_discount"); try notSet(!r.itemID.isEmpty, "item_id")
            out.amountOff = r.amountOff
        case .percentOff:
            guard (1...100).contains(r.percentOff) else {
                throw PluginError.invalidArgument("reward.percent_off must be 1 to 100, got \(r.percentOff)")
            }
            guard (0...1_000_000_000_000).contains(r.maxDiscount) else {
                throw PluginError.invalidArgument("reward.max_discount must be 0 to 10^12 minor units, got \(r.maxDiscount)")
            }
            try notSet(r.amountOff != 0, "amount_off"); try notSet(!r.itemID.isEmpty, "item_id")
            out.percentOff = r.percentOff
            out.maxDiscount = r.maxDiscount
        case .freeItem:
            out.itemID = try Check.text(r.itemID, "reward.item_id", max: 100, required: true)
            try notSet(r.amountOff != 0, "amount_off"); try notSet(r.percentOff != 0, "percent_off"); try notSet(r.maxDiscount != 0, "max_discount")
        default:
            throw PluginError.invalidArgument("reward.kind must be AMOUNT_OFF, PERCENT_OFF or FREE_ITEM")
        }
        return out
    }

    static func kindName(_ kind: Crm_Loyalty_V1_RewardKind) -> String {
        switch kind {
        case .amountOff: return "AMOUNT_OFF"
        case .percentOff: return "PERCENT_OFF"
        case .freeItem: return "FREE_ITEM"
        default: return "unknown"
        }
    }

    static func summary(_ r: Reward) -> String {
        let what: String
        switch r.kind {
        case .amountOff: what = "\(r.amountOff) off"
        case .percentOff: what = "\(r.percentOff)% off" + (r.maxDiscount > 0 ? " up to \(r.maxDiscount)" : "")
        default: what = "a free \(r.itemID)"
        }
        return "\(r.name): \(what) for \(r.pointsCost) points"
    }
}
