import CRMPluginKit
import Foundation
import MarketingContract
import Synchronization

/// One engagement window a rule reads: a human open or click (`kind`) of
/// campaign `campaignID` (0: any) within the last `days` days.
struct EngagementWindow: Hashable, Sendable {
    var kind: Int64
    var campaignID: Int64
    var days: Int32
}

/// Keeps engagement windows true as time passes. A person is in "opened in
/// the last N days" while some open of theirs has at_us >= now - N days;
/// the moment the last one ages out, nothing about them changes, so no
/// event re-checks them. The RunEngagementWindows job does: it keeps the
/// time T up to which windows are exact (marketing_engagement_windows), and
/// each step re-evaluates the people with an open or click that crossed a
/// window's edge in [T, now) (at_us in [T - N days, now - N days), an index
/// range on (kind, at_us)), at most `limit` rows per window a step, then
/// moves T to where it got. Those are the only people whose membership
/// time alone can change, whether the window is under `not` or not.
enum EngagementWindows {
    static let schema = """
        CREATE TABLE marketing_engagement_windows (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            checked_through_us INTEGER NOT NULL);
        CREATE INDEX marketing_engagement_kind_at ON marketing_engagement (kind, at_us);
        """

    static let defaultLimit = 1000
    static let maxLimit = 5000
    static let defaultDayUs: Int64 = 86_400_000_000
    /// The length of a "day" of within_days (`engagement_day_ms`; tests and
    /// demos shorten it to watch a window pass).
    static let dayUs = Atomic<Int64>(defaultDayUs)

    static func configure(_ host: CRMPluginKit.Host) {
        guard let text = host.config("engagement_day_ms"), let ms = Int64(text.trimmedSpaces) else { return }
        dayUs.store(min(max(ms, 1000), 86_400_000) * 1000, ordering: .relaxed)
    }

    /// The earliest at_us still inside a window of `days` days at `now`.
    static func start(days: Int32, now: Int64) -> Int64 {
        // days is 1 to 3650 (checked at compile) and a day at most 86,400 s: no overflow.
        now - Int64(days) * dayUs.load(ordering: .relaxed)
    }

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "RunEngagementWindows", run)
        def.unary(Marketing.service + "AdvanceEngagementWindows", advance)
    }

    /// Every window some rule segment reads.
    static func active(_ db: Database) throws -> [EngagementWindow] {
        var all = Set<EngagementWindow>()
        for segment in try SegmentMembership.ruleSegments(db) { all.formUnion(segment.rule.windows) }
        return all.sorted { ($0.kind, $0.campaignID, $0.days) < ($1.kind, $1.campaignID, $1.days) }
    }

    static func checkedThrough(_ db: Database) throws -> Int64? {
        try db.query("SELECT checked_through_us FROM marketing_engagement_windows WHERE id = 1").first?.first?.int
    }

    /// The rows of `window` whose edge falls in [from, to), oldest first.
    static func crossing(_ db: Database, _ w: EngagementWindow, from: Int64, to: Int64, limit: Int) throws -> [(person: Int64, at: Int64)] {
        var sql = "SELECT person_id, at_us FROM marketing_engagement WHERE kind = ? AND at_us >= ? AND at_us < ? AND machine = 0"
        var parameters: [SQLValue] = [.integer(w.kind), .integer(start(days: w.days, now: from)), .integer(start(days: w.days, now: to))]
        if w.campaignID > 0 {
            sql += " AND campaign_id = ?"
            parameters.append(.integer(w.campaignID))
        }
        sql += " ORDER BY at_us LIMIT ?"
        return try db.query(sql, parameters + [.integer(Int64(limit))]).map { ($0[0].int ?? 0, $0[1].int ?? 0) }
    }

    /// The job: reads whether anything crossed an edge, and only then
    /// writes (AdvanceEngagementWindows in-process), for about 2 s a run.
    static func run(_ ctx: CallContext, _ req: Crm_Marketing_V1_RunEngagementWindowsRequest) throws
        -> Crm_Marketing_V1_RunEngagementWindowsResponse {
        var response = Crm_Marketing_V1_RunEngagementWindowsResponse()
        let db = try ctx.database
        let windows = try active(db)
        guard !windows.isEmpty else { return response }
        if let through = try checkedThrough(db) {
            let now = UTCClock.nowMicros()
            var due = false
            for w in windows where !due { due = try !crossing(db, w, from: through, to: now, limit: 1).isEmpty }
            guard due else { return response }
        }
        let started = Date()
        repeat {
            let bytes = try ctx.host.invoke(Marketing.service + "AdvanceEngagementWindows",
                                            request: try Crm_Marketing_V1_AdvanceEngagementWindowsRequest().serializedBytes(),
                                            parent: ctx)
            let step = try Crm_Marketing_V1_AdvanceEngagementWindowsResponse(serializedBytes: bytes)
            response.people += step.people
            response.entered += step.entered
            response.left += step.left
            if !step.more { break }
        } while Date().timeIntervalSince(started) < 2
        return response
    }

    static func advance(_ ctx: CallContext, _ req: Crm_Marketing_V1_AdvanceEngagementWindowsRequest) throws
        -> Crm_Marketing_V1_AdvanceEngagementWindowsResponse {
        guard req.limit >= 0 && req.limit <= Int32(maxLimit) else {
            throw PluginError.invalidArgument("limit must be 0 to \(maxLimit)")
        }
        let limit = req.limit == 0 ? defaultLimit : Int(req.limit)
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        var response = Crm_Marketing_V1_AdvanceEngagementWindowsResponse()
        // The first run: memberships were computed up to now.
        guard let through = try checkedThrough(db), through < now else {
            try store(db, now)
            response.checkedThroughUnixUs = now
            return response
        }
        var edge = now
        var rows: [(window: EngagementWindow, person: Int64, at: Int64)] = []
        for w in try active(db) {
            var found = try crossing(db, w, from: through, to: edge, limit: limit + 1)
            if found.count > limit {
                // Exact only below the first row left out (rows of one microsecond stay together).
                var cut = found[limit].at
                found.removeLast()
                if cut == found[0].at {
                    // Every row fetched shares one at_us: take all of that microsecond.
                    let day = now - start(days: w.days, now: now)
                    found = try crossing(db, w, from: cut + day, to: cut + day + 1, limit: Int.max)
                    cut += 1
                }
                found = found.filter { $0.at < cut }
                // The time at which that row crosses: at + N days.
                edge = min(edge, cut + (now - start(days: w.days, now: now)))
            }
            rows += found.map { (window: w, person: $0.person, at: $0.at) }
        }
        // A row is due when it crossed before the edge this step reached.
        var people: [Int64] = []
        var seen = Set<Int64>()
        for row in rows where row.at < start(days: row.window.days, now: edge) && seen.insert(row.person).inserted {
            people.append(row.person)
        }
        for person in people {
            let (entered, left) = try SegmentMembership.reevaluate(ctx, db, personID: person)
            response.entered += entered
            response.left += left
        }
        try store(db, edge)
        response.people = Int64(people.count)
        response.checkedThroughUnixUs = edge
        response.more = edge < now
        return response
    }

    static func store(_ db: Database, _ through: Int64) throws {
        try db.execute("""
            INSERT INTO marketing_engagement_windows (id, checked_through_us) VALUES (1, ?)
            ON CONFLICT (id) DO UPDATE SET checked_through_us = excluded.checked_through_us
            """, [.integer(through)])
    }
}
