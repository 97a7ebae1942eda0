import CRMPluginKit
import ContactsContract
import MarketingContract
import ContactsLinkKit

/// Static list membership, member pages, counts and previews of unsaved
/// rules, and SyncPeople (filling the projection from contacts).
enum SegmentMemberMethods {
    /// Members are people: lists and counts of them follow the caller's
    /// contacts scope.
    static let peoplePermission = "contacts.person.read"
    static let maxPeoplePerCall = 1000

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "AddListMembers", addMembers)
        def.unary(Marketing.service + "RemoveListMembers", removeMembers)
        def.unary(Marketing.service + "ListSegmentMembers", listMembers)
        def.unary(Marketing.service + "CountRule", count)
        def.unary(Marketing.service + "PreviewRule", preview)
        def.unary(Marketing.service + "SyncPeople", sync)
    }

    /// The LIST segment a list write names, and the ids, checked.
    private static func listTarget(_ ctx: CallContext, _ db: Database,
                                   _ req: Crm_Marketing_V1_ListMembersRequest) throws -> (Segment, [Int64]) {
        let segment = try SegmentMethods.require(ctx, db, req.segmentID, field: "segment_id")
        guard segment.kind == .list else {
            throw PluginError.failedPrecondition(
                "segment_id: segment \(segment.id) is a RULE segment; its members follow its rule")
        }
        guard !req.personIds.isEmpty, req.personIds.count <= maxPeoplePerCall else {
            throw PluginError.invalidArgument("person_ids takes 1 to \(maxPeoplePerCall) ids, not \(req.personIds.count)")
        }
        var seen = Set<Int64>()
        var ids: [Int64] = []
        for (i, id) in req.personIds.enumerated() {
            try Validate.positiveID(id, "person_ids[\(i)]")
            if seen.insert(id).inserted { ids.append(id) }
        }
        return (segment, ids)
    }

    private static func memberTotal(_ db: Database, _ id: Int64) throws -> Int64 {
        try db.query("SELECT member_count FROM marketing_segments WHERE id = ?", [.integer(id)]).first?.first?.int ?? 0
    }

    static func addMembers(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListMembersRequest) throws -> Crm_Marketing_V1_ListMembersResponse {
        let db = try ctx.database
        let (segment, ids) = try listTarget(ctx, db, req)
        let scope = ctx.scope(for: peoplePermission)
        var owners: [Int64: String] = [:]
        for (i, id) in ids.enumerated() {
            // The projection may lag contacts by an event delivery: a person
            // it lacks (or holds as gone) is asked of contacts, and kept.
            if let state = try SegmentPeople.state(db, id), state.live, scope.includes(owner: ownerOrNil(state.owner)) {
                owners[id] = state.owner
                continue
            }
            guard let person = try ContactsLink.person(ctx, id), SegmentPeople.isLive(person) else {
                throw PluginError.notFound("person_ids[\(i)]: person \(id) does not exist")
            }
            try SegmentPeople.upsert(db, person)
            owners[id] = person.owner
        }
        let before = try memberTotal(db, segment.id)
        let now = UTCClock.nowMicros()
        var added: Int64 = 0
        for id in ids {
            let exists = try db.query("SELECT 1 FROM marketing_segment_members WHERE segment_id = ? AND person_id = ?",
                                      [.integer(segment.id), .integer(id)]).isEmpty == false
            if exists { continue }
            try SegmentMembership.add(ctx, db, segment: segment.id, name: segment.name, personID: id, owner: owners[id] ?? "", now: now)
            added += 1
        }
        var response = Crm_Marketing_V1_ListMembersResponse()
        response.added = added
        response.memberCount = try memberTotal(db, segment.id)
        if added > 0 {
            try ctx.audit(AuditEntry(entity: SegmentMethods.entity, recordID: String(segment.id), action: "add_members",
                                     changes: [FieldChange("member_count", old: String(before), new: String(response.memberCount))]))
        }
        return response
    }

    static func removeMembers(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListMembersRequest) throws -> Crm_Marketing_V1_ListMembersResponse {
        let db = try ctx.database
        let (segment, ids) = try listTarget(ctx, db, req)
        let before = try memberTotal(db, segment.id)
        var removed: Int64 = 0
        for id in ids {
            let exists = try db.query("SELECT 1 FROM marketing_segment_members WHERE segment_id = ? AND person_id = ?",
                                      [.integer(segment.id), .integer(id)]).isEmpty == false
            guard exists else { continue }
            let owner = try SegmentPeople.state(db, id)?.owner ?? ""
            try SegmentMembership.remove(ctx, db, segment: segment.id, name: segment.name, personID: id, owner: owner)
            removed += 1
        }
        var response = Crm_Marketing_V1_ListMembersResponse()
        response.removed = removed
        response.memberCount = try memberTotal(db, segment.id)
        if removed > 0 {
            try ctx.audit(AuditEntry(entity: SegmentMethods.entity, recordID: String(segment.id), action: "remove_members",
                                     changes: [FieldChange("member_count", old: String(before), new: String(response.memberCount))]))
        }
        return response
    }

    private static func member(_ row: [SQLValue]) -> Crm_Marketing_V1_SegmentMember {
        var m = Crm_Marketing_V1_SegmentMember()
        m.personID = row[0].int ?? 0
        m.firstName = row[1].string ?? ""
        m.lastName = row[2].string ?? ""
        m.email = row[3].string ?? ""
        m.sinceUnixUs = row[4].int ?? 0
        return m
    }

    static func listMembers(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListSegmentMembersRequest) throws -> Crm_Marketing_V1_SegmentMembersResponse {
        let db = try ctx.database
        let segment = try SegmentMethods.require(ctx, db, req.segmentID, field: "segment_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let inScope = ctx.scope(for: peoplePermission).condition(ownerColumn: "p.owner")
        let rows = try db.query("""
            SELECT m.person_id, p.first_name, p.last_name, p.email, m.since_us
            FROM marketing_segment_members m JOIN marketing_people p ON p.person_id = m.person_id
            WHERE m.segment_id = ? AND m.person_id > ? AND \(inScope.sql) ORDER BY m.person_id LIMIT ?
            """, [.integer(segment.id), paging.after?[0] ?? .integer(0)] + inScope.parameters
                + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_SegmentMembersResponse()
        response.members = page.rows.map(member)
        response.nextPageToken = page.nextToken
        return response
    }

    static func count(_ ctx: CallContext, _ req: Crm_Marketing_V1_CountRuleRequest) throws -> Crm_Marketing_V1_CountRuleResponse {
        guard req.hasRule else { throw PluginError.invalidArgument("rule is required") }
        let rule = try SegmentRules.compile(req.rule)
        let inScope = ctx.scope(for: peoplePermission).condition(ownerColumn: "p.owner")
        let now = UTCClock.nowMicros()
        let (sql, parameters) = countSQL(rule, now: now)
        var response = Crm_Marketing_V1_CountRuleResponse()
        response.count = try ctx.database.query("\(sql) AND \(inScope.sql)", parameters + inScope.parameters)
            .first?.first?.int ?? 0
        return response
    }

    /// The count of live people the rule matches, to be followed by "AND
    /// <scope>" on `p`. A rule with a driver (a tag or custom-field EQUALS
    /// it requires) starts from that index's rows, at most one per person,
    /// and joins each to its person: a seventh of a million rows for a tag
    /// of seven instead of a scan of every person (0.12 s against 0.77 s
    /// on a synthetic million, EXPLAIN QUERY PLAN "SEARCH d USING COVERING
    /// INDEX marketing_person_tags_tag (tag=?)" then the person by id).
    /// The same people match either way: live, the rule, the scope.
    static func countSQL(_ rule: CompiledRule, now: Int64) -> (sql: String, parameters: [SQLValue]) {
        guard let driver = rule.driver else {
            return ("SELECT COUNT(*) FROM marketing_people p WHERE p.live = 1 AND (\(rule.sql))", rule.parameters(now: now))
        }
        let check = driver.exact ? "" : " AND (\(rule.sql))"
        return ("SELECT COUNT(*) FROM \(driver.table) JOIN marketing_people p ON p.person_id = d.person_id "
                    + "WHERE \(driver.condition) AND p.live = 1\(check)",
                CompiledRule.values(driver.bindings, now: now) + (driver.exact ? [] : rule.parameters(now: now)))
    }

    static func preview(_ ctx: CallContext, _ req: Crm_Marketing_V1_PreviewRuleRequest) throws -> Crm_Marketing_V1_SegmentMembersResponse {
        guard req.hasRule else { throw PluginError.invalidArgument("rule is required") }
        let rule = try SegmentRules.compile(req.rule)
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let inScope = ctx.scope(for: peoplePermission).condition(ownerColumn: "p.owner")
        let rows = try ctx.database.query("""
            SELECT p.person_id, p.first_name, p.last_name, p.email, 0 FROM marketing_people p
            WHERE p.live = 1 AND (\(rule.sql)) AND p.person_id > ? AND \(inScope.sql) ORDER BY p.person_id LIMIT ?
            """, rule.parameters + [paging.after?[0] ?? .integer(0)] + inScope.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_SegmentMembersResponse()
        response.members = page.rows.map(member)
        response.nextPageToken = page.nextToken
        return response
    }

    /// One page of contacts' ListPeople (deleted people too) into the
    /// projection, each person re-evaluated. The page token is contacts'.
    static func sync(_ ctx: CallContext, _ req: Crm_Marketing_V1_SyncPeopleRequest) throws -> Crm_Marketing_V1_SyncPeopleResponse {
        let db = try ctx.database
        let page: Crm_Contacts_V1_ListPeopleResponse = try ContactsLink.call(ctx, "ListPeople", Crm_Contacts_V1_ListPeopleRequest.with {
            $0.pageSize = req.pageSize
            $0.pageToken = req.pageToken
            $0.includeDeleted = true
            $0.sort = .created
        })
        var response = Crm_Marketing_V1_SyncPeopleResponse()
        for person in page.people {
            response.synced += 1
            try SegmentPeople.upsert(db, person)
            let (entered, left) = try SegmentMembership.reevaluate(ctx, db, personID: person.id)
            response.entered += entered
            response.left += left
        }
        response.nextPageToken = page.nextPageToken
        return response
    }
}
