import CRMPluginKit
import LoyaltyContract
import SwiftProtobuf

/// Tiers and the people they belong to: a GDPR export's part, erasure,
/// merges (LoyaltyContacts and LoyaltyGdpr call these).
enum TierPeople {
    /// A points account's tiers (as GetAccountTier reads them) and its history, oldest first.
    static func export(_ db: Database, account: Int64) throws -> [any Message] {
        var out: [any Message] = []
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT program_id FROM loyalty_account_tiers WHERE account_id = ? ORDER BY program_id", [.integer(account)]) {
            if let ladder = try Tiers.load(db, row.int(0)), let program = try Programs.load(db, row.int(0)) {
                out.append(try TierStore.view(db, account: account, program: program, ladder: ladder, now: now))
            }
        }
        for row in try db.query("SELECT \(TierStore.changeColumns) FROM loyalty_tier_changes WHERE account_id = ? ORDER BY id",
                                [.integer(account)]) {
            out.append(TierStore.change(row))
        }
        return out
    }

    /// Before the person's accounts lose them: the reasons typed for their
    /// manual tiers go, and the audit of those is redacted.
    static func erase(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        guard person > 0 else { return }
        for row in try db.query("""
            SELECT DISTINCT c.account_id, c.program_id FROM loyalty_tier_changes c JOIN loyalty_accounts a ON a.id = c.account_id
            WHERE a.person_id = ? AND c.reason = ? ORDER BY c.account_id, c.program_id
            """, [.integer(person), .integer(Int64(Crm_Loyalty_V1_TierChangeReason.manual.rawValue))]) {
            try ctx.redact(entity: "loyalty.account_tier", recordID: "\(row.int(0)):\(row.int(1))")
        }
        try db.execute("""
            UPDATE loyalty_tier_changes SET note = '' WHERE note <> ''
            AND account_id IN (SELECT id FROM loyalty_accounts WHERE person_id = ?)
            """, [.integer(person)])
    }

    /// After a merge moved the merged person's accounts to the survivor:
    /// the account that earns (the survivor's lowest active POINTS account)
    /// takes, per program, the higher tier of the person's other points
    /// accounts (history reason MERGE); the others' tier rows go (their
    /// history stays on them).
    static func merge(_ ctx: CallContext, _ db: Database, survivor: Int64) throws {
        guard survivor > 0 else { return }
        let accounts = try db.query("SELECT id FROM loyalty_accounts WHERE kind = 1 AND status = 1 AND person_id = ? ORDER BY id",
                                    [.integer(survivor)]).map { $0.int(0) }
        guard accounts.count > 1, let earner = try LedgerStore.loadAccount(db, accounts[0]) else { return }
        let now = UTCClock.nowMicros()
        for other in accounts.dropFirst() {
            for row in try db.query("SELECT program_id, rank, review_us FROM loyalty_account_tiers WHERE account_id = ? ORDER BY program_id",
                                    [.integer(other)]) {
                let programID = row.int(0)
                let mine = try TierStore.state(db, account: earner.id, program: programID)
                if row.int(1) > (mine?.rank ?? 0), let program = try Programs.load(db, programID),
                   let ladder = try Tiers.load(db, programID) {
                    let window = TierWindows.window(ladder, zone: program.timeZone, endingAt: now)
                    let value = try TierWindows.value(db, ladder, account: earner.id, program: programID, window)
                    try TierStore.record(ctx, db, account: earner, program: program, ladder: ladder,
                                         .init(reason: .merge, to: row.int(1), value: value, window: window, review: row[2].int,
                                               note: "from account \(other)"), now: now)
                    try ctx.audit(AuditEntry(entity: "loyalty.account_tier", recordID: "\(earner.id):\(programID)", action: "merge",
                                             owner: ownerOrNil(earner.owner),
                                             changes: [FieldChange("rank", old: String(mine?.rank ?? 0), new: String(row.int(1))),
                                                       FieldChange("from_account", old: nil, new: String(other))]))
                }
                try db.execute("DELETE FROM loyalty_account_tiers WHERE account_id = ? AND program_id = ?",
                               [.integer(other), .integer(programID)])
            }
        }
        // Both people's orders now count for one: their sum may reach a higher tier at once.
        for row in try db.query("SELECT program_id FROM loyalty_tier_ladders ORDER BY program_id") {
            guard let program = try Programs.load(db, row.int(0)) else { continue }
            try TierStore.afterOrder(ctx, db, account: earner, program: program, order: 0, placed: now, now: now)
        }
    }
}
