import CRMPluginKit
import Foundation
import LoyaltyContract

typealias TierLadder = Crm_Loyalty_V1_TierLadder
typealias Tier = Crm_Loyalty_V1_Tier

/// Tier ladders (tiers.proto): one per program, stored as its message
/// beside the program (a ladder changes on its own, with its own version).
/// Accounts' tiers and their history are TierStore's; windows TierWindows'.
enum Tiers {
    static let service = "/crm.loyalty.v1.Tiers/"
    static let maxTiers = 20

    static func register(on def: PluginDefinition) {
        def.unary(service + "SetTierLadder", setLadder)
        def.unary(service + "GetTierLadder", getLadder)
    }

    /// Migration 7. An order keeps the tier multiplier it earned with, so a
    /// refund takes back exactly what it multiplied. An account's tier row
    /// is indexed by its next review: the job reads due ones only.
    static let schema = """
    CREATE TABLE loyalty_tier_ladders (
        program_id INTEGER PRIMARY KEY REFERENCES loyalty_programs (id),
        body BLOB NOT NULL,
        version INTEGER NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    );
    CREATE TABLE loyalty_account_tiers (
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        program_id INTEGER NOT NULL REFERENCES loyalty_programs (id),
        rank INTEGER NOT NULL CHECK (rank >= 0),
        since_us INTEGER NOT NULL,
        review_us INTEGER,
        updated_us INTEGER NOT NULL,
        PRIMARY KEY (account_id, program_id),
        CHECK ((rank = 0) = (review_us IS NULL))
    ) WITHOUT ROWID;
    CREATE INDEX loyalty_account_tiers_review ON loyalty_account_tiers (review_us) WHERE review_us IS NOT NULL;
    CREATE TABLE loyalty_tier_changes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        program_id INTEGER NOT NULL REFERENCES loyalty_programs (id),
        from_rank INTEGER NOT NULL,
        from_name TEXT NOT NULL,
        to_rank INTEGER NOT NULL,
        to_name TEXT NOT NULL,
        reason INTEGER NOT NULL,
        qualifying_value INTEGER NOT NULL,
        window_start_us INTEGER NOT NULL,
        window_end_us INTEGER NOT NULL,
        order_id INTEGER,
        note TEXT NOT NULL DEFAULT '',
        review_us INTEGER,
        created_by TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_tier_changes_account ON loyalty_tier_changes (account_id, id);
    ALTER TABLE loyalty_orders ADD COLUMN tier_percent INTEGER NOT NULL DEFAULT 100;
    """

    static func setLadder(_ ctx: CallContext, _ req: Crm_Loyalty_V1_SetTierLadderRequest) throws -> TierLadder {
        try Check.id(req.programID, "program_id")
        var ladder = try validated(req.ladder)
        let db = try ctx.database
        guard let program = try Programs.load(db, req.programID) else { throw PluginError.notFound("no program \(req.programID) (program_id)") }
        guard program.status == .active else { throw PluginError.failedPrecondition("program \(program.id) is retired") }
        let old = try load(db, program.id)
        ladder.programID = program.id
        if let old {
            var unchanged = old
            (unchanged.version, unchanged.createdUnixUs, unchanged.updatedUnixUs) = (0, 0, 0)
            // A repeat records nothing and answers the ladder, whatever version it
            // expected: the retry of a call whose answer was lost is safe.
            if unchanged == ladder { return old }
        }
        try Validate.expectedVersion(req.expectedVersion, old?.version ?? 0, noun: "the tier ladder of program \(program.id)")
        let now = UTCClock.nowMicros()
        ladder.version = (old?.version ?? 0) &+ 1  // a count of changes: far from overflow
        ladder.createdUnixUs = old?.createdUnixUs ?? now
        ladder.updatedUnixUs = now
        try db.execute("""
            INSERT INTO loyalty_tier_ladders (program_id, body, version, created_us, updated_us) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (program_id) DO UPDATE SET body = excluded.body, version = excluded.version, updated_us = excluded.updated_us
            """, [.integer(program.id), .blob(try ladder.serializedBytes()), .integer(ladder.version), .integer(ladder.createdUnixUs),
                  .integer(now)])
        try ctx.audit(AuditEntry(entity: "loyalty.tier_ladder", recordID: String(program.id), action: old == nil ? "create" : "update",
                                 changes: [FieldChange("tiers", old: old.map(summary), new: summary(ladder)),
                                           FieldChange("version", old: old.map { String($0.version) }, new: String(ladder.version))]))
        return ladder
    }

    static func getLadder(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetTierLadderRequest) throws -> TierLadder {
        try Check.id(req.programID, "program_id")
        return try program(try ctx.database, req.programID).ladder
    }

    static func load(_ db: Database, _ program: Int64) throws -> TierLadder? {
        guard let row = try db.query("SELECT body FROM loyalty_tier_ladders WHERE program_id = ?", [.integer(program)]).first else { return nil }
        return try TierLadder(serializedBytes: row[0].bytes ?? [])
    }

    /// A program and its ladder, or NOT_FOUND naming program_id.
    static func program(_ db: Database, _ id: Int64) throws -> (program: Program, ladder: TierLadder) {
        guard let program = try Programs.load(db, id) else { throw PluginError.notFound("no program \(id) (program_id)") }
        guard let ladder = try load(db, id) else { throw PluginError.notFound("program \(id) has no tier ladder (program_id)") }
        return (program, ladder)
    }

    /// The POINTS account and the program (with its ladder) a request names, checked.
    static func subject(_ ctx: CallContext, _ db: Database, account: Int64, program: Int64,
                        write: Bool) throws -> (account: Account, program: Program, ladder: TierLadder) {
        try Check.id(account, "account_id")
        try Check.id(program, "program_id")
        let points = try PointExpiry.pointsAccount(ctx, db, account, write: write)
        let (found, ladder) = try Tiers.program(db, program)
        return (points, found, ladder)
    }

    /// The tier of `rank` (a rank above the top reads as the top; 0 as no tier).
    static func tier(_ ladder: TierLadder, rank: Int64) -> Tier {
        guard rank > 0, let top = ladder.tiers.last else { return Tier() }
        return rank > Int64(ladder.tiers.count) ? top : ladder.tiers[Int(rank) - 1]
    }

    /// The highest rank `value` reaches (0: none).
    static func rank(_ ladder: TierLadder, reachedBy value: Int64) -> Int64 {
        Int64(ladder.tiers.lastIndex { $0.threshold <= value }.map { $0 + 1 } ?? 0)
    }

    static func summary(_ l: TierLadder) -> String {
        "\(l.basis) per \(l.window) \(l.windowLength): "
            + l.tiers.map { "\($0.name) ≥ \($0.threshold) ×\($0.earnMultiplierPercent)%" }.joined(separator: ", ")
    }

    /// The ladder of a request, checked, ranks filled in; each error names its field.
    static func validated(_ l: TierLadder) throws -> TierLadder {
        var out = TierLadder()
        switch l.basis {
        case .pointsEarned, .spend: out.basis = l.basis
        default: throw PluginError.invalidArgument("ladder.basis must be TIER_BASIS_POINTS_EARNED or TIER_BASIS_SPEND")
        }
        switch l.window {
        case .calendarYear:
            guard l.windowLength == 0 else { throw PluginError.invalidArgument("ladder.window_length must be 0 with TIER_WINDOW_CALENDAR_YEAR") }
        case .rollingMonths:
            guard (1...36).contains(l.windowLength) else {
                throw PluginError.invalidArgument("ladder.window_length must be 1 to 36 months, got \(l.windowLength)")
            }
        case .rollingDays:
            guard (1...1095).contains(l.windowLength) else {
                throw PluginError.invalidArgument("ladder.window_length must be 1 to 1095 days, got \(l.windowLength)")
            }
        default: throw PluginError.invalidArgument("ladder.window must be CALENDAR_YEAR, ROLLING_MONTHS or ROLLING_DAYS")
        }
        out.window = l.window
        out.windowLength = l.windowLength
        guard !l.tiers.isEmpty else { throw PluginError.invalidArgument("ladder.tiers must hold at least one tier") }
        guard l.tiers.count <= maxTiers else { throw PluginError.invalidArgument("ladder.tiers holds more than \(maxTiers) tiers") }
        var names = Set<String>()
        for (i, tier) in l.tiers.enumerated() {
            let field = "ladder.tiers[\(i)]"
            let name = try Check.text(tier.name, "\(field).name", max: 50, required: true)
            guard names.insert(name.lowercased()).inserted else { throw PluginError.invalidArgument("\(field).name \"\(name)\" is repeated") }
            guard (1...Check.maxAmount).contains(tier.threshold) else {
                throw PluginError.invalidArgument("\(field).threshold must be 1 to \(Check.maxAmount), got \(tier.threshold)")
            }
            if let before = out.tiers.last, tier.threshold <= before.threshold {
                throw PluginError.invalidArgument("\(field).threshold must be above the tier before it (\(before.threshold))")
            }
            let percent = tier.earnMultiplierPercent == 0 ? 100 : tier.earnMultiplierPercent
            guard (100...1000).contains(percent) else {
                throw PluginError.invalidArgument("\(field).earn_multiplier_percent must be 100 to 1000, got \(tier.earnMultiplierPercent)")
            }
            let benefits = try Check.text(tier.benefits, "\(field).benefits", max: 1000)
            out.tiers.append(.with {
                $0.rank = Int32(i + 1)
                $0.name = name
                $0.threshold = tier.threshold
                $0.earnMultiplierPercent = percent
                $0.benefits = benefits
            })
        }
        return out
    }
}
