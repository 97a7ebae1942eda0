import CRMPluginKit
import ServiceContract
import SwiftProtobuf

typealias SurveyInvitation = Crm_Service_V1_SurveyInvitation

/// Invitations: made in the transaction that solves a ticket, read by
/// agents (with the link, to share it) and by the web edge's form.
enum SurveyInvitations {
    static let columns = """
        id, ticket_id, survey_id, survey_version, requester_id, organization_id, agent, team, sla_outcome, dispatch, \
        delivery_id, link_only_reason, questions, created_us, dispatched_us, expires_us, answered_us, changed_us, erased
        """

    struct Row {
        var invitation: SurveyInvitation
        var organizationID: Int64
        var erased: Bool
    }

    static func register(on def: PluginDefinition) {
        def.unary(SurveyDefinitions.surveys + "GetSurveyInvitation", get)
        def.unary(SurveyDefinitions.surveys + "ListSurveyInvitations", list)
    }

    static func decode(_ r: [SQLValue]) -> Row {
        var i = SurveyInvitation()
        i.id = r.int(0)
        i.ticketID = r.int(1)
        i.surveyID = r.int(2)
        i.surveyVersion = r.int(3)
        i.requesterID = r.int(4)
        i.agent = r.text(6)
        i.team = r.text(7)
        i.slaOutcome = Crm_Service_V1_SurveySlaOutcome(rawValue: Int(truncatingIfNeeded: r.int(8))) ?? .unspecified
        i.dispatch = Crm_Service_V1_SurveyDispatch(rawValue: Int(truncatingIfNeeded: r.int(9))) ?? .unspecified
        i.deliveryID = r.int(10)
        i.linkOnlyReason = r.text(11)
        i.questions = ((try? Survey(serializedBytes: r[12].bytes ?? [])) ?? Survey()).questions
        i.createdUnixUs = r.int(13)
        i.dispatchedUnixUs = r.int(14)
        i.expiresUnixUs = r.int(15)
        i.answeredUnixUs = r.int(16)
        i.answersChangedUnixUs = r.int(17)
        return Row(invitation: i, organizationID: r.int(5), erased: r.int(18) != 0)
    }

    static func load(_ db: Database, _ id: Int64) throws -> Row? {
        guard id > 0 else { return nil }
        return try db.query("SELECT \(columns) FROM service_survey_invitations WHERE id = ?", [.integer(id)]).first.map(decode)
    }

    /// The answers of an invitation, in the order of its questions.
    static func answers(_ db: Database, _ invitation: SurveyInvitation) throws -> [Crm_Service_V1_SurveyAnswer] {
        let order = Dictionary(invitation.questions.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
        return try db.query("SELECT question_key, kind, score, text FROM service_survey_answers WHERE invitation_id = ?",
                            [.integer(invitation.id)]).map { r in
            Crm_Service_V1_SurveyAnswer.with {
                $0.questionKey = r.text(0)
                $0.kind = Crm_Service_V1_SurveyQuestionKind(rawValue: Int(truncatingIfNeeded: r.int(1))) ?? .unspecified
                $0.score = Int32(truncatingIfNeeded: r.int(2))
                $0.text = r.text(3)
            }
        }.sorted { (order[$0.questionKey] ?? .max) < (order[$1.questionKey] ?? .max) }
    }

    /// The invitation as an agent reads it: answers and link included (none once erased).
    static func full(_ ctx: CallContext, _ db: Database, _ row: Row) throws -> SurveyInvitation {
        var i = row.invitation
        i.answers = try answers(db, i)
        if !row.erased {
            i.link = "\(SurveyConfig.url(ctx.host))?t=\(SurveyTokens.make(try SurveyTokens.secret(db), invitation: i.id))"
        }
        return i
    }

    /// Called by every write that changes a ticket's status, after the
    /// ticket is saved (its SLA clocks are stopped by then): a move to
    /// SOLVED invites, in the same transaction.
    static func afterStatusChange(_ ctx: CallContext, _ db: Database, from previous: TicketStatus, _ ticket: Ticket) throws {
        guard ticket.status == .solved, previous != .solved, ticket.mergedIntoID == 0, ticket.requesterID > 0 else { return }
        // An erased requester's tickets carry erasure's subject: nobody to ask.
        if ticket.subject == ContactEvents.erased && ticket.description_p.isEmpty { return }
        guard let survey = try SurveyDefinitions.chosen(db, team: ticket.team) else { return }
        let now = UTCClock.nowMicros()
        // A reopen and re-solve invites again, but not within the cool-down.
        if let last = try db.query("SELECT created_us FROM service_survey_invitations WHERE ticket_id = ? ORDER BY id DESC LIMIT 1",
                                   [.integer(ticket.id)]).first?.int(0),
           now.subtractingReportingOverflow(last).partialValue < SurveyConfig.cooldownMicros.load(ordering: .relaxed) {
            return
        }
        var asked = Survey()
        asked.questions = survey.questions
        let ttl = SurveyConfig.linkTTLMicros.load(ordering: .relaxed)
        let id = try db.execute("""
            INSERT INTO service_survey_invitations (ticket_id, survey_id, survey_version, requester_id, organization_id, agent, team,
                sla_outcome, dispatch, delivery_id, link_only_reason, questions, created_us, dispatched_us, expires_us, answered_us,
                changed_us, erased)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, 0, ?, 0, 0, 0)
            """, [.integer(ticket.id), .integer(survey.id), .integer(survey.version), .integer(ticket.requesterID),
                  .integer(ticket.organizationID), .text(ticket.assignee), .text(ticket.team),
                  .integer(Int64(try slaOutcome(db, ticket.id).rawValue)), .integer(Int64(Crm_Service_V1_SurveyDispatch.pending.rawValue)),
                  .blob(try asked.serializedBytes()), .integer(now), .integer(now &+ ttl)]).lastInsertID
        guard let row = try load(db, id) else { return }
        try SurveyEvents.audit(ctx, "create", old: nil, new: row.invitation)
        try SurveyEvents.publish(ctx, "invited", row, summary: "Satisfaction survey for ticket #\(ticket.id) is on its way")
    }

    /// BREACHED when any clock cycle of the ticket breached, MET when some
    /// had a target and none breached, NONE otherwise.
    static func slaOutcome(_ db: Database, _ ticketID: Int64) throws -> Crm_Service_V1_SurveySlaOutcome {
        let r = try db.query("""
            SELECT COALESCE(MAX(breached), 0), COALESCE(MAX(CASE WHEN target_minutes > 0 THEN 1 ELSE 0 END), 0)
            FROM service_sla_clocks WHERE ticket_id = ?
            """, [.integer(ticketID)]).first ?? [.integer(0), .integer(0)]
        if r.int(0) != 0 { return .breached }
        return r.int(1) != 0 ? .met : .none
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetSurveyInvitationRequest) throws -> SurveyInvitation {
        try Validate.positiveID(req.id, "id")
        let db = try ctx.database
        guard let row = try load(db, req.id), ctx.scope.includes(owner: ownerOrNil(row.invitation.agent)) else {
            throw PluginError.notFound("id: survey invitation \(req.id) does not exist")
        }
        return try full(ctx, db, row)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListSurveyInvitationsRequest) throws
        -> Crm_Service_V1_ListSurveyInvitationsResponse {
        try Validate.optionalID(req.ticketID, "ticket_id")
        try Validate.optionalID(req.requesterID, "requester_id")
        guard (req.ticketID > 0) != (req.requesterID > 0) else {
            throw PluginError.invalidArgument("ticket_id or requester_id: exactly one of them is needed")
        }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        var filter = SQLFilter()
        if req.ticketID > 0 {
            _ = try TicketStore(db: db).require(req.ticketID, field: "ticket_id", readableIn: ctx.scope)
            filter.add("ticket_id = ?", .integer(req.ticketID))
        } else {
            filter.add("requester_id = ?", .integer(req.requesterID))
        }
        ctx.scope.apply(to: &filter, ownerColumn: "agent")
        if let after = paging.after { filter.add("id < ?", try tokenInt(after[0])) }
        let (rows, next) = try fetchPage(db, "SELECT \(columns) FROM service_survey_invitations \(filter.clause) ORDER BY id DESC LIMIT ?",
                                         filter.parameters, paging, decode: decode, key: { [$0[0]] })
        var response = Crm_Service_V1_ListSurveyInvitationsResponse()
        response.invitations = try rows.map { try full(ctx, db, $0) }
        response.nextPageToken = next
        return response
    }
}
