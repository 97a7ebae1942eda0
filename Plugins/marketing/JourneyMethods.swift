import CRMPluginKit
import MarketingContract
import ContactsLinkKit

/// Create, read, update, list journeys, move them through their states,
/// and enroll a person by hand.
enum JourneyMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "CreateJourney", create)
        def.unary(Marketing.service + "GetJourney", get)
        def.unary(Marketing.service + "UpdateJourney", update)
        def.unary(Marketing.service + "ListJourneys", list)
        def.unary(Marketing.service + "ActivateJourney", activate)
        def.unary(Marketing.service + "PauseJourney", pause)
        def.unary(Marketing.service + "ArchiveJourney", archive)
        def.unary(Marketing.service + "EnrollInJourney", enroll)
    }

    static let mask = UpdateMask(fields: ["name": 2, "description": 3, "entry_segment_id": 4, "allow_reentry": 5,
                                          "reentry_gap_us": 6, "steps": 7],
                                 elsewhere: ["state": "ActivateJourney, PauseJourney or ArchiveJourney"])
    static let draftOnly: Set<String> = ["entry_segment_id", "allow_reentry", "reentry_gap_us", "steps"]

    static func create(_ ctx: CallContext, _ req: Crm_Marketing_V1_CreateJourneyRequest) throws -> Journey {
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "CreateJourney", req, key: \.idempotencyKey)
        if let id = previous { return try JourneyStore.require(db, id) }
        var j = req.journey
        try JourneyValidation.check(db, &j, prefix: "journey.")
        let id = try JourneyStore.insert(db, j, now: UTCClock.nowMicros())
        try Marketing.idempotency.record(db, claim, resultID: id)
        let journey = try JourneyStore.require(db, id)
        try JourneyStore.audit(ctx, "create", old: nil, new: journey)
        return journey
    }

    static func get(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetJourneyRequest) throws -> Journey {
        try JourneyStore.require(try ctx.database, req.id)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Marketing_V1_UpdateJourneyRequest) throws -> Journey {
        let db = try ctx.database
        let before = try JourneyStore.require(db, req.journey.id, field: "journey.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "journey \(before.id)")
        let selection = try mask.resolve(req.updateMask, req.journey)
        guard before.state != .archived else {
            throw PluginError.failedPrecondition("journey.id: journey \(before.id) is archived")
        }
        var after = before
        for field in draftOnly where selection.contains(field) && before.state != .draft {
            throw PluginError.failedPrecondition("journey.\(field): only a DRAFT journey's \(field) changes")
        }
        if selection.contains("name") { after.name = req.journey.name }
        if selection.contains("description") { after.description_p = req.journey.description_p }
        if selection.contains("entry_segment_id") { after.entrySegmentID = req.journey.entrySegmentID }
        if selection.contains("allow_reentry") { after.allowReentry = req.journey.allowReentry }
        if selection.contains("reentry_gap_us") { after.reentryGapUs = req.journey.reentryGapUs }
        if selection.contains("steps") { after.steps = req.journey.steps }
        if before.state == .draft {
            try JourneyValidation.check(db, &after, prefix: "journey.")
        } else {
            // Steps are fixed; only the texts are checked again.
            var texts = after
            try JourneyValidation.checkTexts(&texts, prefix: "journey.")
            after.name = texts.name
            after.description_p = texts.description_p
        }
        guard after != before else { return before }
        after.version = before.version + 1
        after.updatedUnixUs = UTCClock.nowMicros()
        try JourneyStore.save(db, after)
        try JourneyStore.audit(ctx, "update", old: before, new: after)
        return after
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListJourneysRequest) throws -> Crm_Marketing_V1_ListJourneysResponse {
        let db = try ctx.database
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("id > ?", after[0]) }
        switch req.state {
        case .unspecified: break
        case .draft, .active, .paused, .archived: filter.add("state = ?", .integer(Int64(req.state.rawValue)))
        default: throw PluginError.invalidArgument("state: unknown journey state \(req.state.rawValue)")
        }
        let rows = try db.query("SELECT \(JourneyStore.columns) FROM marketing_journeys \(filter.clause) ORDER BY id LIMIT ?",
                                filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListJourneysResponse()
        response.journeys = try page.rows.map(JourneyStore.decode)
        response.nextPageToken = page.nextToken
        return response
    }

    static func transition(_ ctx: CallContext, _ req: Crm_Marketing_V1_JourneyStateRequest, to state: Crm_Marketing_V1_JourneyState,
                           action: String, allowed: Set<Crm_Marketing_V1_JourneyState>) throws -> Journey {
        let db = try ctx.database
        let before = try JourneyStore.require(db, req.id)
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "journey \(before.id)")
        guard allowed.contains(before.state) else {
            throw PluginError.failedPrecondition("id: journey \(before.id) is \(before.state), it cannot \(action)")
        }
        if state == .active {
            for (i, s) in before.steps.enumerated() {
                if case .send(let send) = s.action {
                    try JourneyValidation.requireTemplate(db, send.templateID, "steps[\(i)].send.template_id")
                }
            }
        }
        var after = before
        after.state = state
        after.version += 1
        after.updatedUnixUs = UTCClock.nowMicros()
        try JourneyStore.save(db, after)
        if state == .archived {
            try db.execute("""
                UPDATE marketing_journey_enrollments SET state = 3, current_step = '', ended_us = ?
                WHERE journey_id = ? AND state = 1
                """, [.integer(after.updatedUnixUs), .integer(after.id)])
        }
        try JourneyStore.audit(ctx, action, old: before, new: after)
        return after
    }

    static func activate(_ ctx: CallContext, _ req: Crm_Marketing_V1_JourneyStateRequest) throws -> Journey {
        try transition(ctx, req, to: .active, action: "activate", allowed: [.draft, .paused])
    }

    static func pause(_ ctx: CallContext, _ req: Crm_Marketing_V1_JourneyStateRequest) throws -> Journey {
        try transition(ctx, req, to: .paused, action: "pause", allowed: [.active])
    }

    static func archive(_ ctx: CallContext, _ req: Crm_Marketing_V1_JourneyStateRequest) throws -> Journey {
        try transition(ctx, req, to: .archived, action: "archive", allowed: [.draft, .active, .paused])
    }

    static func enroll(_ ctx: CallContext, _ req: Crm_Marketing_V1_EnrollInJourneyRequest) throws -> Crm_Marketing_V1_JourneyEnrollment {
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "EnrollInJourney", req, key: \.idempotencyKey)
        if let id = previous { return try JourneyLists.enrollment(db, id) }
        let journey = try JourneyStore.require(db, req.journeyID, field: "journey_id")
        try Validate.positiveID(req.personID, "person_id")
        guard let person = try ContactsLink.person(ctx, req.personID) else {
            throw PluginError.notFound("person_id: person \(req.personID) does not exist")
        }
        guard person.deletedUnixUs == 0, person.mergedIntoID == 0, person.erasedUnixUs == 0 else {
            throw PluginError.failedPrecondition("person_id: person \(person.id) is deleted, merged or erased")
        }
        guard journey.state == .active else {
            throw PluginError.failedPrecondition("journey_id: journey \(journey.id) is \(journey.state), not ACTIVE")
        }
        let result = try Journeys.enroll(ctx, db, Journeys.EntryJourney(journey), personID: person.id,
                                         now: UTCClock.nowMicros(), owner: person.owner)
        let id = try result.get()
        try Marketing.idempotency.record(db, claim, resultID: id)
        try ctx.audit(AuditEntry(entity: "marketing.journey_enrollment", recordID: String(id), action: "create",
                                 changes: [FieldChange("journey_id", old: nil, new: String(journey.id)),
                                           FieldChange("person_id", old: nil, new: String(person.id))]))
        return try JourneyLists.enrollment(db, id)
    }
}
