import CRMPluginKit
import LoyaltyContract
import Synchronization

/// Reviews at the end of a window (tiers.proto, "What holds after a window
/// ends"): the job finds accounts whose review time has come by the index
/// on it, never by a scan of accounts, and reviews each in a transaction of
/// its own.
enum TierReview {
    static let running = Atomic<Bool>(false)
    static let batch = 100
    /// One call's windows: a bounded transaction, the job comes back for more.
    static let windowsPerCall = 100

    static func register(on def: PluginDefinition) {
        def.unary(Tiers.service + "ReviewAccountTier", reviewAccount)
        def.unary(Tiers.service + "RunTierReview", run)
    }

    static func reviewAccount(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ReviewAccountTierRequest) throws -> AccountTier {
        let db = try ctx.database
        let (account, program, ladder) = try Tiers.subject(ctx, db, account: req.accountID, program: req.programID, write: true)
        let now = UTCClock.nowMicros()
        try review(ctx, db, account: account, program: program, ladder: ladder, now: now)
        return try TierStore.view(db, account: account.id, program: program, ladder: ladder, now: now)
    }

    /// The account's overdue reviews, if its program has a ladder (before an order earns).
    static func catchUp(_ ctx: CallContext, _ db: Database, account: Account, program: Program, now: Int64) throws {
        guard let ladder = try Tiers.load(db, program.id) else { return }
        try review(ctx, db, account: account, program: program, ladder: ladder, now: now)
    }

    /// Every review due by `now`, window after window (at most windowsPerCall).
    static func review(_ ctx: CallContext, _ db: Database, account: Account, program: Program, ladder: TierLadder, now: Int64) throws {
        guard var state = try TierStore.state(db, account: account.id, program: program.id) else { return }
        for _ in 0..<windowsPerCall {
            guard let due = state.review, due <= now else { return }
            let window = TierWindows.reviewed(ladder, zone: program.timeZone, at: due)
            let value = try TierWindows.value(db, ladder, account: account.id, program: program.id, window)
            let reached = Tiers.rank(ladder, reachedBy: value)
            let held = min(state.rank, Int64(ladder.tiers.count))
            let reason: Crm_Loyalty_V1_TierChangeReason = reached < held ? .downgrade : reached == held ? .kept : .upgrade
            let next = TierWindows.holdUntil(ladder, zone: program.timeZone, after: window)
            try TierStore.record(ctx, db, account: account, program: program, ladder: ladder,
                                 .init(reason: reason, to: reached, value: value, window: window, review: next), now: now)
            state = State(rank: reached, since: state.since, review: reached == 0 ? nil : next)
        }
    }

    private typealias State = TierStore.State

    /// Reviews that failed, and when to try them again: they back off (a
    /// minute), so a hundred that always fail cannot starve the others.
    static let backoff = Mutex<[String: Int64]>([:])
    static let retryAfter: Int64 = 60_000_000
    /// Batches a run takes at most (a year's end makes every account of a
    /// calendar-year ladder due at once).
    static let batchesPerRun = 10

    static func run(_ ctx: CallContext, _ req: Crm_Loyalty_V1_RunTierReviewRequest) throws -> Crm_Loyalty_V1_RunTierReviewResponse {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        var response = Crm_Loyalty_V1_RunTierReviewResponse()
        var after: (review: Int64, account: Int64, program: Int64) = (Int64.min, 0, 0)
        for _ in 0..<batchesPerRun {
            let now = UTCClock.nowMicros()
            let waiting = backoff.withLock { list in list = list.filter { $0.value > now }; return list }
            let due = try ctx.database.query("""
                SELECT account_id, program_id, review_us FROM loyalty_account_tiers INDEXED BY loyalty_account_tiers_review
                WHERE review_us IS NOT NULL AND review_us <= ? AND (review_us, account_id, program_id) > (?, ?, ?)
                ORDER BY review_us, account_id, program_id LIMIT ?
                """, [.integer(now), .integer(after.review), .integer(after.account), .integer(after.program), .integer(Int64(batch))])
            for row in due {
                after = (row.int(2), row.int(0), row.int(1))
                let key = "\(row.int(0)):\(row.int(1))"
                if waiting[key] != nil { continue }
                let request = Crm_Loyalty_V1_ReviewAccountTierRequest.with { $0.accountID = row.int(0); $0.programID = row.int(1) }
                do {
                    _ = try ctx.host.invoke(Tiers.service + "ReviewAccountTier", request: try request.serializedBytes(), parent: ctx)
                    response.accountsReviewed += 1
                } catch let error as PluginError {
                    ctx.host.log(.warning, "tier review of account \(row.int(0)) in program \(row.int(1)) failed: \(error.message)")
                    backoff.withLock { $0[key] = now &+ retryAfter }
                    response.failed += 1
                }
            }
            if due.count < batch { break }
        }
        return response
    }
}
