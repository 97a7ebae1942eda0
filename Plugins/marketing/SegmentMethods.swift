import CRMPluginKit
import Foundation
import MarketingContract

typealias Segment = Crm_Marketing_V1_Segment

/// Create, read, update, delete and list segments, and rebuild one.
/// Segments are shared configuration (no owner); every write is audited
/// as entity marketing.segment.
enum SegmentMethods {
    static let entity = "marketing.segment"
    static let columns = "id, name, description, kind, rule, version, member_count, created_us, updated_us, rebuilt_us, "
        + SegmentBuild.columns

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "CreateSegment", create)
        def.unary(Marketing.service + "GetSegment", get)
        def.unary(Marketing.service + "UpdateSegment", update)
        def.unary(Marketing.service + "DeleteSegment", delete)
        def.unary(Marketing.service + "ListSegments", list)
        def.unary(Marketing.service + "RebuildSegment", rebuild)
        SegmentBuild.register(on: def)
    }

    static let mask = UpdateMask(fields: ["name": 2, "description": 3, "rule": 5],
                                 elsewhere: ["kind": "CreateSegment (a segment's kind is fixed)",
                                             "member_count": "AddListMembers, RemoveListMembers or RebuildSegment"])

    static func checkName(_ name: inout String, _ field: String) throws {
        name = name.trimmedSpacesAndNewlines
        try Validate.required(name, field)
        try Validate.maxLength(name, field, 200)
    }

    static func checkDescription(_ text: inout String, _ field: String) throws {
        text = text.trimmedSpacesAndNewlines
        try Validate.maxLength(text, field, 2000)
    }

    static func requireNameFree(_ db: Database, _ key: String, _ name: String, except id: Int64 = 0) throws {
        if let existing = try db.query("SELECT id FROM marketing_segments WHERE name_key = ? AND id <> ?",
                                       [.text(key), .integer(id)]).first?.first?.int {
            throw PluginError.alreadyExists("name: segment \(existing) is already called \"\(name)\"")
        }
    }

    static func create(_ ctx: CallContext, _ req: Crm_Marketing_V1_CreateSegmentRequest) throws -> Segment {
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "CreateSegment", req, key: \.idempotencyKey)
        if let id = previous { return try require(ctx, db, id) }
        var name = req.name
        var description = req.description_p
        try checkName(&name, "name")
        try checkDescription(&description, "description")
        var compiled: CompiledRule?
        switch req.kind {
        case .rule:
            guard req.hasRule else { throw PluginError.invalidArgument("rule is required for a RULE segment") }
            compiled = try SegmentRules.compile(req.rule)
        case .list:
            guard !req.hasRule else { throw PluginError.invalidArgument("rule: a LIST segment has no rule") }
        default:
            throw PluginError.invalidArgument("kind must be SEGMENT_KIND_RULE or SEGMENT_KIND_LIST")
        }
        let key = Normalize.name(name)
        try requireNameFree(db, key, name)
        let now = UTCClock.nowMicros()
        let ruleBytes: [UInt8] = req.hasRule ? try req.rule.serializedBytes() : []
        let id = try db.execute("""
            INSERT INTO marketing_segments (name, name_key, description, kind, rule, version, member_count,
                created_us, updated_us, rebuilt_us)
            VALUES (?, ?, ?, ?, ?, 1, 0, ?, ?, 0)
            """, [.text(name), .text(key), .text(description), .integer(Int64(req.kind.rawValue)), .blob(ruleBytes),
                  .integer(now), .integer(now)]).lastInsertID
        if compiled != nil {
            // The first chunk now (all of a small data set); the job does the rest.
            try SegmentBuild.start(db, segment: id, announce: false)
            _ = try SegmentBuild.advance(ctx, db, segment: id)
        }
        try Marketing.idempotency.record(db, claim, resultID: id)
        let segment = try require(ctx, db, id)
        try audit(ctx, "create", old: nil, new: segment)
        return segment
    }

    static func get(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetSegmentRequest) throws -> Segment {
        try require(ctx, try ctx.database, req.id)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Marketing_V1_UpdateSegmentRequest) throws -> Segment {
        let db = try ctx.database
        let before = try require(ctx, db, req.segment.id, field: "segment.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "segment \(before.id)")
        let selection = try mask.resolve(req.updateMask, req.segment)
        var after = before
        if selection.contains("name") {
            after.name = req.segment.name
            try checkName(&after.name, "segment.name")
        }
        if selection.contains("description") {
            after.description_p = req.segment.description_p
            try checkDescription(&after.description_p, "segment.description")
        }
        var compiled: CompiledRule?
        if selection.contains("rule") {
            guard before.kind == .rule else {
                throw PluginError.failedPrecondition("segment.rule: segment \(before.id) is a LIST; it has no rule")
            }
            guard req.segment.hasRule else { throw PluginError.invalidArgument("segment.rule is required for a RULE segment") }
            compiled = try SegmentRules.compile(req.segment.rule, path: "segment.rule")
            after.rule = req.segment.rule
        }
        guard after.name != before.name || after.description_p != before.description_p || after.rule != before.rule else {
            return before
        }
        let key = Normalize.name(after.name)
        try requireNameFree(db, key, after.name, except: before.id)
        after.version = before.version + 1
        after.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("""
            UPDATE marketing_segments SET name = ?, name_key = ?, description = ?, rule = ?, version = ?, updated_us = ?
            WHERE id = ?
            """, [.text(after.name), .text(key), .text(after.description_p),
                  .blob(after.kind == .rule ? try after.rule.serializedBytes() : []), .integer(after.version),
                  .integer(after.updatedUnixUs), .integer(after.id)])
        if compiled != nil, after.rule != before.rule {
            try SegmentBuild.start(db, segment: after.id, announce: true)
            _ = try SegmentBuild.advance(ctx, db, segment: after.id)
        }
        let segment = try require(ctx, db, after.id)
        try audit(ctx, "update", old: before, new: segment)
        return segment
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Marketing_V1_DeleteSegmentRequest) throws -> Segment {
        let db = try ctx.database
        let segment = try require(ctx, db, req.id)
        try db.execute("DELETE FROM marketing_segment_members WHERE segment_id = ?", [.integer(segment.id)])
        try db.execute("DELETE FROM marketing_segments WHERE id = ?", [.integer(segment.id)])
        try ctx.audit(AuditEntry(entity: entity, recordID: String(segment.id), action: "delete",
                                 changes: FieldChange.between(old: fields(segment), new: [:])))
        return segment
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListSegmentsRequest) throws -> Crm_Marketing_V1_ListSegmentsResponse {
        let db = try ctx.database
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("id > ?", after[0]) }
        switch req.kind {
        case .rule, .list: filter.add("kind = ?", .integer(Int64(req.kind.rawValue)))
        case .unspecified: break
        default: throw PluginError.invalidArgument("kind: unknown segment kind \(req.kind.rawValue)")
        }
        let rows = try db.query("SELECT \(columns) FROM marketing_segments \(filter.clause) ORDER BY id LIMIT ?",
                                filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListSegmentsResponse()
        let scope = ctx.scope(for: SegmentMemberMethods.peoplePermission)
        response.segments = try page.rows.map { try decode(db, $0, scope: scope) }
        response.nextPageToken = page.nextToken
        return response
    }

    /// Chunk after chunk, each an in-process AdvanceSegmentBuild (its own
    /// transaction), until the build is complete. This method does not
    /// write itself: between chunks the writer serves everyone else.
    static func rebuild(_ ctx: CallContext, _ req: Crm_Marketing_V1_RebuildSegmentRequest) throws -> Crm_Marketing_V1_RebuildSegmentResponse {
        let started = Date()
        let segment = try require(ctx, try ctx.database, req.segmentID, field: "segment_id")
        guard segment.kind == .rule else {
            throw PluginError.failedPrecondition("segment_id: segment \(segment.id) is a LIST; only RULE segments rebuild")
        }
        var response = Crm_Marketing_V1_RebuildSegmentResponse()
        var step = Crm_Marketing_V1_AdvanceSegmentBuildRequest.with { $0.segmentID = segment.id; $0.restart = true }
        // A bound far past any data set (a million people is 40 chunks by
        // default): a build that never ends is a defect, not a wait.
        for _ in 0..<100_000 {
            let bytes = try ctx.host.invoke(Marketing.service + "AdvanceSegmentBuild",
                                            request: try step.serializedBytes(), parent: ctx)
            let state = try Crm_Marketing_V1_AdvanceSegmentBuildResponse(serializedBytes: bytes)
            response.chunks += 1
            step.restart = false
            guard state.build.state == .building else {
                response.added = state.build.added
                response.removed = state.build.removed
                response.memberCount = state.memberCount
                response.tookUs = Int64(Date().timeIntervalSince(started) * 1_000_000)
                return response
            }
        }
        throw PluginError(.internal, "segment \(segment.id): the build did not end after 100,000 chunks")
    }

    // MARK: - Reading

    static func require(_ ctx: CallContext, _ db: Database, _ id: Int64, field: String = "id") throws -> Segment {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT \(columns) FROM marketing_segments WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): segment \(id) does not exist")
        }
        return try decode(db, row, scope: ctx.scope(for: SegmentMemberMethods.peoplePermission))
    }

    /// A row of `columns`; member_count counts the members in `scope`.
    static func decode(_ db: Database, _ row: [SQLValue], scope: RecordScope) throws -> Segment {
        var segment = Segment()
        segment.id = row[0].int ?? 0
        segment.name = row[1].string ?? ""
        segment.description_p = row[2].string ?? ""
        segment.kind = Crm_Marketing_V1_SegmentKind(rawValue: Int(row[3].int ?? 0)) ?? .unspecified
        if segment.kind == .rule, let bytes = row[4].bytes, !bytes.isEmpty { segment.rule = try SegmentRule(serializedBytes: bytes) }
        segment.version = row[5].int ?? 0
        segment.memberCount = row[6].int ?? 0
        segment.createdUnixUs = row[7].int ?? 0
        segment.updatedUnixUs = row[8].int ?? 0
        segment.rebuiltUnixUs = row[9].int ?? 0
        if segment.kind == .rule { segment.build = SegmentBuild.decode(row[10..<16]) }
        if scope.reach != .all {
            let inScope = scope.condition(ownerColumn: "p.owner")
            segment.memberCount = try db.query("""
                SELECT COUNT(*) FROM marketing_segment_members m JOIN marketing_people p ON p.person_id = m.person_id
                WHERE m.segment_id = ? AND \(inScope.sql)
                """, [.integer(segment.id)] + inScope.parameters).first?.first?.int ?? 0
        }
        return segment
    }

    // MARK: - Audit

    static func fields(_ s: Segment) -> [String: String] {
        var out: [String: String] = ["name": s.name, "kind": SegmentRules.protoName(s.kind, prefix: "SEGMENT_KIND_")]
        if !s.description_p.isEmpty { out["description"] = s.description_p }
        if s.hasRule, let json = try? s.rule.jsonString() { out["rule"] = json }
        return out
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Segment?, new: Segment) throws {
        try ctx.audit(AuditEntry(entity: entity, recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}
