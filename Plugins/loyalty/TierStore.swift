import CRMPluginKit
import Foundation
import LoyaltyContract

typealias AccountTier = Crm_Loyalty_V1_AccountTier
typealias TierChange = Crm_Loyalty_V1_TierChange

/// Accounts' tiers (one row per account and program, indexed by its next
/// review) and their history: every change goes through `record`, which
/// writes both and publishes loyalty.tier.changed when the rank moves.
enum TierStore {
    struct State {
        var rank: Int64
        var since: Int64
        var review: Int64?
    }

    static func state(_ db: Database, account: Int64, program: Int64) throws -> State? {
        guard let row = try db.query("SELECT rank, since_us, review_us FROM loyalty_account_tiers WHERE account_id = ? AND program_id = ?",
                                     [.integer(account), .integer(program)]).first else { return nil }
        return State(rank: row.int(0), since: row.int(1), review: row[2].int)
    }

    /// The earn multiplier of the account's tier in the program (100 without one).
    static func percent(_ db: Database, account: Int64, program: Int64) throws -> Int64 {
        guard let ladder = try Tiers.load(db, program), let state = try state(db, account: account, program: program) else { return 100 }
        let percent = Tiers.tier(ladder, rank: state.rank).earnMultiplierPercent
        return percent == 0 ? 100 : Int64(percent)
    }

    struct Change {
        var reason: Crm_Loyalty_V1_TierChangeReason
        var to: Int64
        var value: Int64
        var window: TierWindows.Window
        var review: Int64?
        var order: Int64 = 0
        var note: String = ""
    }

    /// Sets the account's tier as `change` says and records it in its history.
    @discardableResult
    static func record(_ ctx: CallContext, _ db: Database, account: Account, program: Program, ladder: TierLadder,
                       _ change: Change, now: Int64) throws -> TierChange {
        let old = try state(db, account: account.id, program: program.id)
        let from = min(old?.rank ?? 0, Int64(ladder.tiers.count))  // a rank above a shrunk ladder is its top
        let review = change.to == 0 ? nil : change.review
        let since = from == change.to && change.reason != .manual ? (old?.since ?? now) : now
        try db.execute("""
            INSERT INTO loyalty_account_tiers (account_id, program_id, rank, since_us, review_us, updated_us) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (account_id, program_id) DO UPDATE SET rank = excluded.rank, since_us = excluded.since_us,
                   review_us = excluded.review_us, updated_us = excluded.updated_us
            """, [.integer(account.id), .integer(program.id), .integer(change.to), .integer(since), review.map { .integer($0) } ?? .null,
                  .integer(now)])
        var entry = TierChange()
        entry.accountID = account.id
        entry.programID = program.id
        entry.fromRank = Int32(clamping: from)
        entry.fromName = Tiers.tier(ladder, rank: from).name
        entry.toRank = Int32(clamping: change.to)
        entry.toName = Tiers.tier(ladder, rank: change.to).name
        entry.reason = change.reason
        entry.qualifyingValue = change.value
        entry.windowStartUnixUs = change.window.start
        entry.windowEndUnixUs = change.window.end
        entry.orderID = change.order
        entry.note = change.note
        entry.reviewUnixUs = review ?? 0
        entry.createdBy = callerName(ctx)
        entry.createdUnixUs = now
        entry.id = try db.execute("""
            INSERT INTO loyalty_tier_changes (account_id, program_id, from_rank, from_name, to_rank, to_name, reason, qualifying_value,
                                              window_start_us, window_end_us, order_id, note, review_us, created_by, created_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(account.id), .integer(program.id), .integer(from), .text(entry.fromName), .integer(change.to), .text(entry.toName),
                  .integer(Int64(change.reason.rawValue)), .integer(change.value), .integer(change.window.start),
                  .integer(change.window.end), Ledger.nullable(change.order), .text(change.note), review.map { .integer($0) } ?? .null,
                  .text(entry.createdBy), .integer(now)]).lastInsertID
        if from != change.to {
            var event = Crm_Loyalty_V1_TierEvent()
            event.change = entry
            event.tier = try view(db, account: account.id, program: program, ladder: ladder, now: now)
            let verb = change.to > from ? "up" : "down"
            event.about = About.with {
                if account.personID > 0 { $0.personIds = [account.personID] }
                if account.organizationID > 0 { $0.organizationIds = [account.organizationID] }
                $0.summary = "Tier \(verb): \(entry.fromName.isEmpty ? "none" : entry.fromName) → "
                    + "\(entry.toName.isEmpty ? "none" : entry.toName) (\(program.name))"
            }
            _ = try ctx.publish("loyalty.tier.changed", event, about: EventSubject(entity: "loyalty.account", recordID: String(account.id),
                                                                                  owner: ownerOrNil(account.owner)))
        }
        return entry
    }

    /// After an order earned under the program: upgrades the account at once
    /// when the order's window reaches a higher tier (tiers.proto).
    static func afterOrder(_ ctx: CallContext, _ db: Database, account: Account, program: Program, order: Int64,
                           placed: Int64, now: Int64) throws {
        guard let ladder = try Tiers.load(db, program.id) else { return }
        let old = try state(db, account: account.id, program: program.id)
        guard (old?.rank ?? 0) < Int64(ladder.tiers.count) else { return }  // at the top: nothing to sum
        let window = TierWindows.window(ladder, zone: program.timeZone, endingAt: placed)
        let value = try TierWindows.value(db, ladder, account: account.id, program: program.id, window)
        let reached = Tiers.rank(ladder, reachedBy: value)
        guard reached > (old?.rank ?? 0) else { return }
        // An upgrade never shortens what a tier already held was promised.
        let review = max(TierWindows.holdUntil(ladder, zone: program.timeZone, after: window), old?.review ?? 0)
        try record(ctx, db, account: account, program: program, ladder: ladder,
                   Change(reason: .upgrade, to: reached, value: value, window: window, review: review, order: order), now: now)
    }

    /// An account's tier as GetAccountTier answers it.
    static func view(_ db: Database, account: Int64, program: Program, ladder: TierLadder, now: Int64) throws -> AccountTier {
        let state = try state(db, account: account, program: program.id)
        let window = TierWindows.window(ladder, zone: program.timeZone, endingAt: now)
        var out = AccountTier()
        out.accountID = account
        out.programID = program.id
        out.basis = ladder.basis
        out.tier = Tiers.tier(ladder, rank: state?.rank ?? 0)
        out.qualifyingValue = try TierWindows.value(db, ladder, account: account, program: program.id, window)
        out.windowStartUnixUs = window.start
        out.windowEndUnixUs = window.end
        if let next = ladder.tiers.first(where: { $0.rank > out.tier.rank }) {
            out.nextTier = next
            out.missing = max(next.threshold - out.qualifyingValue, 0)  // both in [0, 10^15]
        }
        out.sinceUnixUs = state?.since ?? 0
        out.reviewUnixUs = state?.review ?? 0
        return out
    }

    static let changeColumns = """
        id, account_id, program_id, from_rank, from_name, to_rank, to_name, reason, qualifying_value, window_start_us, window_end_us, \
        order_id, note, review_us, created_by, created_us
        """

    static func change(_ row: [SQLValue]) -> TierChange {
        var c = TierChange()
        c.id = row.int(0)
        c.accountID = row.int(1)
        c.programID = row.int(2)
        c.fromRank = Int32(clamping: row.int(3))
        c.fromName = row.text(4)
        c.toRank = Int32(clamping: row.int(5))
        c.toName = row.text(6)
        c.reason = Crm_Loyalty_V1_TierChangeReason(rawValue: Int(truncatingIfNeeded: row.int(7))) ?? .unspecified
        c.qualifyingValue = row.int(8)
        c.windowStartUnixUs = row.int(9)
        c.windowEndUnixUs = row.int(10)
        c.orderID = row.int(11)
        c.note = row.text(12)
        c.reviewUnixUs = row.int(13)
        c.createdBy = row.text(14)
        c.createdUnixUs = row.int(15)
        return c
    }
}
