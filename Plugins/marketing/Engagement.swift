import CRMPluginKit
import MarketingContract

typealias EngagementKind = Crm_Marketing_V1_EngagementKind

/// What happened to each message after it was queued, one row per event
/// (sent, delivered, bounced, opened, clicked, unsubscribed, converted,
/// complained), written by delivery and tracking and read by campaign
/// results, A/B winners, journeys' engagement waits and segments'
/// engagement rules. Opens and clicks a machine made (image proxies, link
/// scanners) are kept with `machine` = 1 and never counted as human.
enum Engagement {
    static let schema = """
        CREATE TABLE marketing_engagement (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            campaign_id INTEGER NOT NULL,
            variant_id INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            machine INTEGER NOT NULL,
            machine_reason TEXT NOT NULL DEFAULT '',
            at_us INTEGER NOT NULL,
            detail TEXT NOT NULL,
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL);
        CREATE INDEX marketing_engagement_campaign ON marketing_engagement (campaign_id, variant_id, kind, person_id);
        CREATE INDEX marketing_engagement_person ON marketing_engagement (person_id, at_us);
        CREATE INDEX marketing_engagement_outbox ON marketing_engagement (outbox_id, kind);
        """

    struct Entry {
        var outboxID: Int64
        var personID: Int64
        var campaignID: Int64
        var variantID: Int64 = 0
        var kind: EngagementKind
        var machine = false
        var atUs: Int64 = UTCClock.nowMicros()
        /// The clicked URL, the SMTP reply of a bounce, the won opportunity of a conversion.
        var detail = ""
        var amountMinor: Int64 = 0
        var currency = ""
        /// Why a machine event was judged one.
        var machineReason = ""
    }

    /// Records `entry` in the caller's transaction; returns its id.
    @discardableResult
    static func record(_ db: Database, _ entry: Entry) throws -> Int64 {
        try db.execute("""
            INSERT INTO marketing_engagement (outbox_id, person_id, campaign_id, variant_id, kind, machine, machine_reason,
                at_us, detail, amount_minor, currency)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(entry.outboxID), .integer(entry.personID), .integer(entry.campaignID),
                  .integer(entry.variantID), .integer(Int64(entry.kind.rawValue)), .integer(entry.machine ? 1 : 0),
                  .text(entry.machineReason), .integer(entry.atUs), .text(entry.detail), .integer(entry.amountMinor), .text(entry.currency)])
        return db.lastInsertID
    }

    /// Distinct people per variant and kind of a campaign, human events only:
    /// the funnel A/B winners and results are computed from.
    static func peopleCounts(_ db: Database, campaignID: Int64) throws -> [Int64: [EngagementKind: Int64]] {
        var counts: [Int64: [EngagementKind: Int64]] = [:]
        for row in try db.query("""
            SELECT variant_id, kind, COUNT(DISTINCT person_id) FROM marketing_engagement
            WHERE campaign_id = ? AND machine = 0 GROUP BY variant_id, kind
            """, [.integer(campaignID)]) {
            guard let variant = row[0].int, let raw = row[1].int, let kind = Int(exactly: raw).flatMap(EngagementKind.init(rawValue:)),
                  let n = row[2].int else { continue }
            counts[variant, default: [:]][kind] = n
        }
        return counts
    }

    /// Whether outbox message `outboxID` had a human event of `kind` (a
    /// journey waiting for an open or click of the message it sent).
    static func happened(_ db: Database, outboxID: Int64, kind: EngagementKind) throws -> Bool {
        try !db.query("SELECT 1 FROM marketing_engagement WHERE outbox_id = ? AND kind = ? AND machine = 0 LIMIT 1",
                      [.integer(outboxID), .integer(Int64(kind.rawValue))]).isEmpty
    }
}
