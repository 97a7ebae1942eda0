import CRMPluginKit
import MarketingContract

/// A journey's enrollments and step log, paginated by id. They are about
/// people: only those in the caller's contacts.person.read scope are listed
/// (as segment members are).
enum JourneyLists {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "ListJourneyEnrollments", enrollments)
        def.unary(Marketing.service + "ListJourneyStepLog", stepLog)
    }

    static let enrollmentColumns = "id, journey_id, person_id, current_step, state, due_us, entered_us, ended_us"
    static let stepLogColumns = "id, journey_id, enrollment_id, person_id, step, outcome, detail, outbox_id, next_step, at_us"

    /// The scope condition on rows `alias` (with a person_id column): the
    /// person's owner as marketing's projection has it.
    static func inScope(_ ctx: CallContext, alias: String) -> (sql: String, parameters: [SQLValue]) {
        let scope = ctx.scope(for: SegmentMemberMethods.peoplePermission)
        guard scope.reach != .all else { return ("1", []) }
        let owner = scope.condition(ownerColumn: "p.owner")
        return ("EXISTS (SELECT 1 FROM marketing_people p WHERE p.person_id = \(alias).person_id AND \(owner.sql))",
                owner.parameters)
    }

    static func decodeEnrollment(_ row: [SQLValue]) -> Crm_Marketing_V1_JourneyEnrollment {
        var e = Crm_Marketing_V1_JourneyEnrollment()
        e.id = row[0].int ?? 0
        e.journeyID = row[1].int ?? 0
        e.personID = row[2].int ?? 0
        e.currentStep = row[3].string ?? ""
        e.state = Crm_Marketing_V1_JourneyEnrollmentState(rawValue: Int(row[4].int ?? 0)) ?? .unspecified
        e.dueUnixUs = e.state == .active ? row[5].int ?? 0 : 0
        e.enteredUnixUs = row[6].int ?? 0
        e.endedUnixUs = row[7].int ?? 0
        return e
    }

    static func enrollment(_ db: Database, _ id: Int64) throws -> Crm_Marketing_V1_JourneyEnrollment {
        guard let row = try db.query("SELECT \(enrollmentColumns) FROM marketing_journey_enrollments WHERE id = ?",
                                     [.integer(id)]).first else {
            throw PluginError.notFound("enrollment \(id) does not exist")
        }
        return decodeEnrollment(row)
    }

    static func enrollments(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListJourneyEnrollmentsRequest) throws
        -> Crm_Marketing_V1_ListJourneyEnrollmentsResponse {
        let db = try ctx.database
        _ = try JourneyStore.require(db, req.journeyID, field: "journey_id")
        try Validate.optionalID(req.personID, "person_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        filter.add("journey_id = ?", .integer(req.journeyID))
        if req.personID > 0 { filter.add("person_id = ?", .integer(req.personID)) }
        switch req.state {
        case .unspecified: break
        case .active, .completed, .exited: filter.add("state = ?", .integer(Int64(req.state.rawValue)))
        default: throw PluginError.invalidArgument("state: unknown enrollment state \(req.state.rawValue)")
        }
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let scope = inScope(ctx, alias: "e")
        filter.add(scope.sql, scope.parameters)
        let rows = try db.query("""
            SELECT \(enrollmentColumns) FROM marketing_journey_enrollments e \(filter.clause) ORDER BY id LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListJourneyEnrollmentsResponse()
        response.enrollments = page.rows.map(decodeEnrollment)
        response.nextPageToken = page.nextToken
        return response
    }

    static func stepLog(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListJourneyStepLogRequest) throws
        -> Crm_Marketing_V1_ListJourneyStepLogResponse {
        let db = try ctx.database
        _ = try JourneyStore.require(db, req.journeyID, field: "journey_id")
        try Validate.optionalID(req.enrollmentID, "enrollment_id")
        try Validate.optionalID(req.personID, "person_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        filter.add("journey_id = ?", .integer(req.journeyID))
        if req.enrollmentID > 0 { filter.add("enrollment_id = ?", .integer(req.enrollmentID)) }
        if req.personID > 0 { filter.add("person_id = ?", .integer(req.personID)) }
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let scope = inScope(ctx, alias: "l")
        filter.add(scope.sql, scope.parameters)
        let rows = try db.query("""
            SELECT \(stepLogColumns) FROM marketing_journey_step_log l \(filter.clause) ORDER BY id LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListJourneyStepLogResponse()
        response.entries = page.rows.map(decodeStep)
        response.nextPageToken = page.nextToken
        return response
    }

    static func decodeStep(_ row: [SQLValue]) -> Crm_Marketing_V1_JourneyStepLogEntry {
        var e = Crm_Marketing_V1_JourneyStepLogEntry()
        e.id = row[0].int ?? 0
        e.journeyID = row[1].int ?? 0
        e.enrollmentID = row[2].int ?? 0
        e.personID = row[3].int ?? 0
        e.step = row[4].string ?? ""
        e.outcome = row[5].string ?? ""
        e.detail = row[6].string ?? ""
        e.outboxID = row[7].int ?? 0
        e.nextStep = row[8].string ?? ""
        e.atUnixUs = row[9].int ?? 0
        return e
    }
}
