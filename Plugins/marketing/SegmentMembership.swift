import CRMPluginKit
import Foundation
import MarketingContract

/// Keeps `marketing_segment_members` true: per person as their data changes
/// (incremental), or for a whole segment (rebuild). Every change publishes
/// marketing.segment.entered or .left in the same transaction; membership
/// changes are events, not audit entries.
enum SegmentMembership {
    static let memberEntity = "marketing.segment_member"

    /// A rule segment's compiled rule, cached by id and version (a segment's
    /// rule changes only with its version).
    struct RuleSegment {
        var id: Int64
        var name: String
        var rule: CompiledRule
    }

    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var rules: [Int64: (version: Int64, rule: CompiledRule)] = [:]
    }
    private static let cache = Cache()

    static func compiled(id: Int64, version: Int64, blob: [UInt8]) throws -> CompiledRule {
        if let hit = cache.lock.withLock({ cache.rules[id] }), hit.version == version { return hit.rule }
        let rule = try SegmentRules.compile(try SegmentRule(serializedBytes: blob))
        cache.lock.withLock { cache.rules[id] = (version, rule) }
        return rule
    }

    static func ruleSegments(_ db: Database) throws -> [RuleSegment] {
        try db.query("SELECT id, name, version, rule FROM marketing_segments WHERE kind = 1 ORDER BY id").map { row in
            let id = row[0].int ?? 0
            return RuleSegment(id: id, name: row[1].string ?? "",
                               rule: try compiled(id: id, version: row[2].int ?? 0, blob: row[3].bytes ?? []))
        }
    }

    static func matchSQL(_ rule: CompiledRule) -> String {
        "SELECT EXISTS (SELECT 1 FROM marketing_people p WHERE p.person_id = ? AND p.live = 1 AND (\(rule.sql)))"
    }

    /// Re-evaluates every rule segment for one person (and, if they are no
    /// longer live, takes them out of every list too). Returns (entered, left).
    @discardableResult
    static func reevaluate(_ ctx: CallContext, _ db: Database, personID: Int64) throws -> (Int64, Int64) {
        guard personID > 0 else { return (0, 0) }
        let state = try SegmentPeople.state(db, personID)
        let current = Set(try db.query("SELECT segment_id FROM marketing_segment_members WHERE person_id = ?",
                                       [.integer(personID)]).compactMap { $0[0].int })
        guard let state, state.live else {
            return (0, try leaveAll(ctx, db, personID: personID, owner: state?.owner ?? ""))
        }
        var entered: Int64 = 0
        var left: Int64 = 0
        let now = UTCClock.nowMicros()
        for segment in try ruleSegments(db) {
            let matches = try db.query(matchSQL(segment.rule), [.integer(personID)] + segment.rule.parameters)
                .first?.first?.int == 1
            let member = current.contains(segment.id)
            if matches && !member {
                try add(ctx, db, segment: segment.id, name: segment.name, personID: personID, owner: state.owner, now: now)
                entered += 1
            } else if !matches && member {
                try remove(ctx, db, segment: segment.id, name: segment.name, personID: personID, owner: state.owner)
                left += 1
            }
        }
        return (entered, left)
    }

    /// Takes a person out of every segment and list; returns how many.
    @discardableResult
    static func leaveAll(_ ctx: CallContext, _ db: Database, personID: Int64, owner: String, publish: Bool = true) throws -> Int64 {
        let rows = try db.query("""
            DELETE FROM marketing_segment_members WHERE person_id = ? RETURNING segment_id
            """, [.integer(personID)])
        for row in rows {
            let segment = row[0].int ?? 0
            try db.execute("UPDATE marketing_segments SET member_count = member_count - 1 WHERE id = ?", [.integer(segment)])
            if publish { try self.publish(ctx, db, "left", segment: segment, name: nil, personID: personID, owner: owner) }
        }
        return Int64(rows.count)
    }

    static func add(_ ctx: CallContext, _ db: Database, segment: Int64, name: String?, personID: Int64, owner: String,
                    now: Int64) throws {
        try db.execute("INSERT INTO marketing_segment_members (segment_id, person_id, since_us) VALUES (?, ?, ?)",
                       [.integer(segment), .integer(personID), .integer(now)])
        try db.execute("UPDATE marketing_segments SET member_count = member_count + 1 WHERE id = ?", [.integer(segment)])
        try publish(ctx, db, "entered", segment: segment, name: name, personID: personID, owner: owner)
    }

    static func remove(_ ctx: CallContext, _ db: Database, segment: Int64, name: String?, personID: Int64, owner: String) throws {
        try db.execute("DELETE FROM marketing_segment_members WHERE segment_id = ? AND person_id = ?",
                       [.integer(segment), .integer(personID)])
        try db.execute("UPDATE marketing_segments SET member_count = member_count - 1 WHERE id = ?", [.integer(segment)])
        try publish(ctx, db, "left", segment: segment, name: name, personID: personID, owner: owner)
    }

    /// Publishes one membership change; an entry also enrolls the person in
    /// the segment's entry journeys (`journeys`, when the caller read them
    /// already for many people; nil reads them here).
    static func publish(_ ctx: CallContext, _ db: Database, _ action: String, segment: Int64, name: String?,
                        personID: Int64, owner: String, journeys: [Journeys.EntryJourney]? = nil) throws {
        if action == "entered" {
            try Journeys.onSegmentEntered(ctx, db, journeys: try journeys ?? Journeys.entryJourneys(db, segmentID: segment),
                                          personID: personID)
        }
        var event = Crm_Marketing_V1_SegmentMembershipEvent()
        event.segmentID = segment
        event.segmentName = try name ?? (db.query("SELECT name FROM marketing_segments WHERE id = ?",
                                                  [.integer(segment)]).first?.first?.string ?? "")
        event.personID = personID
        event.about.personIds = [personID]
        event.about.summary = action == "entered" ? "Entered segment \"\(event.segmentName)\""
            : "Left segment \"\(event.segmentName)\""
        try ctx.publish("marketing.segment.\(action)", event,
                        about: EventSubject(entity: memberEntity, recordID: String(personID), owner: ownerOrNil(owner)))
    }
}
