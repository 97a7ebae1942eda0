import CRMPluginKit
import LoyaltyContract

/// An account's tier: read it, list its history, set it by hand.
enum TierMethods {
    static let maxHold: Int64 = 10 * 366 * 86_400_000_000

    static func register(on def: PluginDefinition) {
        def.unary(Tiers.service + "GetAccountTier", get)
        def.unary(Tiers.service + "ListTierChanges", list)
        def.unary(Tiers.service + "SetAccountTier", set)
    }

    static func get(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetAccountTierRequest) throws -> AccountTier {
        let db = try ctx.database
        let (account, program, ladder) = try Tiers.subject(ctx, db, account: req.accountID, program: req.programID, write: false)
        return try TierStore.view(db, account: account.id, program: program, ladder: ladder, now: UTCClock.nowMicros())
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListTierChangesRequest) throws -> Crm_Loyalty_V1_ListTierChangesResponse {
        try Check.id(req.accountID, "account_id")
        try Validate.optionalID(req.programID, "program_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        _ = try PointExpiry.pointsAccount(ctx, db, req.accountID, write: false)
        var filter = SQLFilter()
        filter.add("account_id = ?", [.integer(req.accountID)])
        if req.programID != 0 { filter.add("program_id = ?", [.integer(req.programID)]) }
        if let after = paging.after { filter.add("id < ?", after) }
        let page = try fetchPage(db, "SELECT \(TierStore.changeColumns) FROM loyalty_tier_changes \(filter.clause) ORDER BY id DESC LIMIT ?",
                                 filter.parameters, paging, decode: TierStore.change, key: { [$0[0]] })
        return .with { $0.changes = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func set(_ ctx: CallContext, _ req: Crm_Loyalty_V1_SetAccountTierRequest) throws -> AccountTier {
        try Check.id(req.accountID, "account_id")
        try Check.id(req.programID, "program_id")
        let note = try Check.text(req.reason, "reason", required: true)
        guard req.rank >= 0 else { throw PluginError.invalidArgument("rank must not be negative, got \(req.rank)") }
        let now = UTCClock.nowMicros()
        if req.rank > 0 && req.holdUntilUnixUs != 0 {
            guard req.holdUntilUnixUs > now, req.holdUntilUnixUs <= now &+ maxHold else {
                throw PluginError.invalidArgument("hold_until_unix_us must be in the next 10 years, got \(req.holdUntilUnixUs)")
            }
        }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let (account, program, ladder) = try Tiers.subject(ctx, db, account: req.accountID, program: req.programID, write: true)
            guard Int(req.rank) <= ladder.tiers.count else {
                throw PluginError.invalidArgument("rank must be 0 to \(ladder.tiers.count) (the ladder's top), got \(req.rank)")
            }
            let old = try TierStore.state(db, account: account.id, program: program.id)
            let window = TierWindows.window(ladder, zone: program.timeZone, endingAt: now)
            let value = try TierWindows.value(db, ladder, account: account.id, program: program.id, window)
            let hold = req.holdUntilUnixUs != 0 ? req.holdUntilUnixUs : TierWindows.holdUntil(ladder, zone: program.timeZone, after: window)
            let rank = Int64(req.rank)
            let entry = try TierStore.record(ctx, db, account: account, program: program, ladder: ladder,
                                             .init(reason: .manual, to: rank, value: value, window: window, review: hold, note: note),
                                             now: now)
            try ctx.audit(AuditEntry(entity: "loyalty.account_tier", recordID: "\(account.id):\(program.id)", action: "set",
                                     owner: ownerOrNil(account.owner),
                                     changes: [FieldChange("rank", old: String(old?.rank ?? 0), new: String(rank)),
                                               FieldChange("tier", old: entry.fromName.isEmpty ? nil : entry.fromName,
                                                           new: entry.toName.isEmpty ? nil : entry.toName),
                                               FieldChange("review_unix_us", old: old?.review.map { String($0) },
                                                           new: rank == 0 ? nil : String(hold)),
                                               FieldChange("reason", old: nil, new: note)]))
            return try TierStore.view(db, account: account.id, program: program, ladder: ladder, now: now)
        }
    }
}
