import CRMPluginKit
import Foundation
import MarketingContract

/// A RULE segment's membership computed whole, in chunks of people by id,
/// each chunk its own short write transaction: a segment of a million
/// people never holds crmd's one writer for seconds (every other write
/// waits behind it) nor runs into a call's SQL budget. Between chunks the
/// incremental upkeep goes on; it computes the same function of a person's
/// data, so the two never disagree about a person.
///
/// State lives in the segment's row (build_* columns), so a build survives
/// a restart: the RunSegmentBuilds job resumes at the stored cursor.
enum SegmentBuild {
    static let schema = """
        ALTER TABLE marketing_segments ADD COLUMN build_state INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE marketing_segments ADD COLUMN build_cursor INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE marketing_segments ADD COLUMN build_announce INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE marketing_segments ADD COLUMN build_started_us INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE marketing_segments ADD COLUMN build_checked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE marketing_segments ADD COLUMN build_added INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE marketing_segments ADD COLUMN build_removed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE marketing_segments ADD COLUMN build_count_before INTEGER NOT NULL DEFAULT 0;
        """
    static let columns = "build_state, build_started_us, build_checked, build_added, build_removed, build_announce"

    static let builtTopic = "marketing.segment.built"

    /// People per chunk (`segment_build_chunk`, 100 to 1,000,000, default
    /// 25,000: about a tenth of a second of the writer per chunk).
    static func chunkSize(_ host: CRMPluginKit.Host) -> Int {
        guard let text = host.config("segment_build_chunk"), let n = Int(text.trimmedSpaces) else { return 25_000 }
        return min(max(n, 100), 1_000_000)
    }

    static func decode(_ row: ArraySlice<SQLValue>) -> Crm_Marketing_V1_SegmentBuild {
        var build = Crm_Marketing_V1_SegmentBuild()
        let values = Array(row)
        build.state = Crm_Marketing_V1_SegmentBuildState(rawValue: Int(values[0].int ?? 1)) ?? .built
        build.startedUnixUs = values[1].int ?? 0
        build.checked = values[2].int ?? 0
        build.added = values[3].int ?? 0
        build.removed = values[4].int ?? 0
        build.announcesChanges = values[5].int == 1
        return build
    }

    /// Starts (or starts again) a build from the first person, in the
    /// caller's transaction. `announce`: publish entered/left per change
    /// (false only for a new segment, whose members did not "enter").
    static func start(_ db: Database, segment: Int64, announce: Bool) throws {
        try db.execute("""
            UPDATE marketing_segments SET build_state = 2, build_cursor = 0, build_announce = ?, build_started_us = ?,
                build_checked = 0, build_added = 0, build_removed = 0, build_count_before = member_count
            WHERE id = ?
            """, [.integer(announce ? 1 : 0), .integer(UTCClock.nowMicros()), .integer(segment)])
    }

    /// One chunk of the segment's build, in the caller's transaction; the
    /// last one marks it BUILT, audits the count and publishes
    /// marketing.segment.built. Nothing to do for a BUILT segment.
    static func advance(_ ctx: CallContext, _ db: Database, segment: Int64) throws -> Crm_Marketing_V1_AdvanceSegmentBuildResponse {
        guard let row = try db.query("""
            SELECT name, rule, version, build_state, build_cursor, build_announce, build_started_us, build_checked,
                build_count_before, member_count
            FROM marketing_segments WHERE id = ? AND kind = 1
            """, [.integer(segment)]).first else {
            throw PluginError.notFound("segment_id: segment \(segment) does not exist or is a LIST")
        }
        if row[3].int == 2 {
            let name = row[0].string ?? ""
            let rule = try SegmentMembership.compiled(id: segment, version: row[2].int ?? 0, blob: row[1].bytes ?? [])
            let cursor = row[4].int ?? 0
            let chunk = chunkSize(ctx.host)
            // The chunk's last person id: the chunk-th live-or-not person after the cursor, or the end.
            let ids = try db.query("""
                SELECT COUNT(*), MAX(person_id) FROM (SELECT person_id FROM marketing_people WHERE person_id > ?
                ORDER BY person_id LIMIT ?)
                """, [.integer(cursor), .integer(Int64(chunk))]).first
            let people = ids?[0].int ?? 0
            let last = people < Int64(chunk) ? Int64.max : (ids?[1].int ?? Int64.max)
            let change = try apply(ctx, db, segment: segment, name: name, rule: rule, after: cursor, through: last,
                                   announce: row[5].int == 1)
            let checked = (row[7].int ?? 0).addingReportingOverflow(people).partialValue
            let count = (row[9].int ?? 0) &+ change.added &- change.removed
            try db.execute("""
                UPDATE marketing_segments SET build_cursor = ?, build_checked = ?, build_added = build_added + ?,
                    build_removed = build_removed + ?, member_count = ? WHERE id = ?
                """, [.integer(last), .integer(checked), .integer(change.added), .integer(change.removed),
                      .integer(count), .integer(segment)])
            if last == Int64.max {
                try finish(ctx, db, segment: segment, name: name, startedUs: row[6].int ?? 0,
                           countBefore: row[8].int ?? 0, count: count, firstBuild: row[5].int != 1)
            }
        }
        let state = try db.query("SELECT \(columns), member_count FROM marketing_segments WHERE id = ?",
                                 [.integer(segment)]).first ?? []
        var response = Crm_Marketing_V1_AdvanceSegmentBuildResponse()
        response.build = decode(state[0..<6])
        response.memberCount = state[6].int ?? 0
        return response
    }

    /// Members of (after, through] made to match the rule: two set-based
    /// statements over that range of the people projection.
    private static func apply(_ ctx: CallContext, _ db: Database, segment: Int64, name: String, rule: CompiledRule,
                              after: Int64, through: Int64, announce: Bool) throws -> (added: Int64, removed: Int64) {
        let now = UTCClock.nowMicros()
        let range: [SQLValue] = [.integer(after), .integer(through)]
        let added = try db.query("""
            INSERT INTO marketing_segment_members (segment_id, person_id, since_us)
            SELECT ?, p.person_id, ? FROM marketing_people p
            WHERE p.person_id > ? AND p.person_id <= ? AND p.live = 1 AND (\(rule.sql))
              AND NOT EXISTS (SELECT 1 FROM marketing_segment_members m WHERE m.segment_id = ? AND m.person_id = p.person_id)
            RETURNING person_id
            """, [.integer(segment), .integer(now)] + range + rule.parameters + [.integer(segment)]).compactMap { $0[0].int }
        let removed = try db.query("""
            DELETE FROM marketing_segment_members AS m
            WHERE m.segment_id = ? AND m.person_id > ? AND m.person_id <= ? AND NOT EXISTS (
                SELECT 1 FROM marketing_people p WHERE p.person_id = m.person_id AND p.live = 1 AND (\(rule.sql)))
            RETURNING person_id
            """, [.integer(segment)] + range + rule.parameters).compactMap { $0[0].int }
        if announce && (!added.isEmpty || !removed.isEmpty) {
            let journeys = try Journeys.entryJourneys(db, segmentID: segment)
            let owner = try db.prepare("SELECT owner FROM marketing_people WHERE person_id = ?")
            defer { owner.finalize() }
            func ownerOf(_ id: Int64) throws -> String {
                try owner.reset()
                try owner.bind([.integer(id)])
                return try owner.step() ? owner.column(0).string ?? "" : ""
            }
            for id in added {
                try SegmentMembership.publish(ctx, db, "entered", segment: segment, name: name, personID: id,
                                              owner: try ownerOf(id), journeys: journeys)
            }
            for id in removed {
                try SegmentMembership.publish(ctx, db, "left", segment: segment, name: name, personID: id,
                                              owner: try ownerOf(id), journeys: [])
            }
        }
        return (Int64(added.count), Int64(removed.count))
    }

    private static func finish(_ ctx: CallContext, _ db: Database, segment: Int64, name: String, startedUs: Int64,
                               countBefore: Int64, count: Int64, firstBuild: Bool) throws {
        let now = UTCClock.nowMicros()
        try db.execute("UPDATE marketing_segments SET build_state = 1, rebuilt_us = ? WHERE id = ?",
                       [.integer(now), .integer(segment)])
        let totals = try db.query("SELECT build_added, build_removed FROM marketing_segments WHERE id = ?",
                                  [.integer(segment)]).first
        try ctx.audit(AuditEntry(entity: SegmentMethods.entity, recordID: String(segment), action: "rebuild",
                                 changes: countBefore == count ? [] : [FieldChange("member_count", old: String(countBefore),
                                                                                   new: String(count))]))
        var event = Crm_Marketing_V1_SegmentBuiltEvent()
        event.segmentID = segment
        event.segmentName = name
        event.added = totals?[0].int ?? 0
        event.removed = totals?[1].int ?? 0
        event.memberCount = count
        event.tookUs = max(0, now.subtractingReportingOverflow(startedUs).partialValue)
        event.firstBuild = firstBuild
        try ctx.publish(builtTopic, event)
    }

    // MARK: - Methods

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "AdvanceSegmentBuild", advanceMethod)
        def.unary(Marketing.service + "RunSegmentBuilds", run)
    }

    static func advanceMethod(_ ctx: CallContext, _ req: Crm_Marketing_V1_AdvanceSegmentBuildRequest) throws
        -> Crm_Marketing_V1_AdvanceSegmentBuildResponse {
        let db = try ctx.database
        let segment = try SegmentMethods.require(ctx, db, req.segmentID, field: "segment_id")
        guard segment.kind == .rule else {
            throw PluginError.failedPrecondition("segment_id: segment \(segment.id) is a LIST; only RULE segments rebuild")
        }
        if req.restart { try start(db, segment: segment.id, announce: true) }
        return try advance(ctx, db, segment: segment.id)
    }

    /// The job: every segment under way gets chunks in turn, about 2 s a run.
    static func run(_ ctx: CallContext, _ req: Crm_Marketing_V1_RunSegmentBuildsRequest) throws
        -> Crm_Marketing_V1_RunSegmentBuildsResponse {
        let started = Date()
        var response = Crm_Marketing_V1_RunSegmentBuildsResponse()
        var pending = try ctx.database.query("SELECT id FROM marketing_segments WHERE kind = 1 AND build_state = 2 ORDER BY id")
            .compactMap { $0[0].int }
        while !pending.isEmpty && Date().timeIntervalSince(started) < 2 {
            let segment = pending.removeFirst()
            let request = Crm_Marketing_V1_AdvanceSegmentBuildRequest.with { $0.segmentID = segment }
            let bytes = try ctx.host.invoke(Marketing.service + "AdvanceSegmentBuild", request: try request.serializedBytes(),
                                            parent: ctx)
            response.chunks += 1
            if try Crm_Marketing_V1_AdvanceSegmentBuildResponse(serializedBytes: bytes).build.state == .building {
                pending.append(segment)
            }
        }
        return response
    }
}
