import CRMPluginKit
import MarketingContract
import ServiceContract
import Synchronization

/// The dispatch job: pending invitations go to marketing's outbox, off the
/// solve's transaction. The job itself only reads; each email is queued by
/// an in-process QueueTransactionalEmail (marketing's own transaction) and
/// the outcomes are recorded by RecordSurveyDispatch (service's). A crash
/// between the two leaves the invitation pending; the next run asks
/// marketing again under the same idempotency key and gets the delivery it
/// queued the first time, so no email is queued twice.
enum SurveyDispatch {
    static let running = Atomic<Bool>(false)
    static let batch = 50
    static let marketing = "/crm.marketing.v1.Marketing/QueueTransactionalEmail"

    static func register(on def: PluginDefinition) {
        def.unary(SurveyDefinitions.surveys + "RunSurveyDispatch", run)
        def.unary(SurveyDefinitions.surveys + "RecordSurveyDispatch", record)
    }

    static func run(_ ctx: CallContext, _ req: Crm_Service_V1_RunSurveyDispatchRequest) throws -> Crm_Service_V1_RunSurveyDispatchResponse {
        // A "run now" call beside the scheduled run does nothing.
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return .init() }
        defer { running.store(false, ordering: .releasing) }
        var response = Crm_Service_V1_RunSurveyDispatchResponse()
        let db = try ctx.database
        let started = UTCClock.nowMicros()
        var after: Int64 = 0
        // At most a second per run, so shutdown never waits long.
        while UTCClock.nowMicros() - started < 1_000_000 {
            let rows = try db.query("""
                SELECT \(SurveyInvitations.columns) FROM service_survey_invitations WHERE dispatch = ? AND id > ? ORDER BY id LIMIT ?
                """, [.integer(Int64(Crm_Service_V1_SurveyDispatch.pending.rawValue)), .integer(after), .integer(Int64(batch))])
                .map(SurveyInvitations.decode)
            guard let last = rows.last else { break }
            after = last.invitation.id
            var outcomes: [Crm_Service_V1_SurveyDispatchOutcome] = []
            for row in rows {
                if let outcome = try dispatch(ctx, db, row) {
                    outcomes.append(outcome)
                    if outcome.deliveryID > 0 { response.emailQueued += 1 } else { response.linkOnly += 1 }
                } else {
                    response.deferred += 1
                }
            }
            if !outcomes.isEmpty {
                let request = Crm_Service_V1_RecordSurveyDispatchRequest.with { $0.outcomes = outcomes }
                _ = try ctx.host.invoke(SurveyDefinitions.surveys + "RecordSurveyDispatch", request: try request.serializedBytes(), parent: ctx)
            }
            if rows.count < batch { break }
        }
        return response
    }

    /// Marketing's answer for one invitation: a delivery, link only (with
    /// why), or nil to try again next run.
    static func dispatch(_ ctx: CallContext, _ db: Database, _ row: SurveyInvitations.Row) throws -> Crm_Service_V1_SurveyDispatchOutcome? {
        let i = row.invitation
        var outcome = Crm_Service_V1_SurveyDispatchOutcome()
        outcome.invitationID = i.id
        let email = try SurveyEmail.render(ctx, db, i)
        let request = Crm_Marketing_V1_QueueTransactionalEmailRequest.with {
            $0.personID = i.requesterID
            $0.subject = email.subject
            $0.htmlBody = email.html
            $0.textBody = email.text
            $0.purpose = "service.survey"
            $0.idempotencyKey = "service.survey.invitation:\(i.id)"
        }
        do {
            let bytes = try ctx.host.invoke(marketing, request: try request.serializedBytes(), parent: ctx)
            outcome.deliveryID = try Crm_Marketing_V1_Delivery(serializedBytes: bytes).id
            guard outcome.deliveryID > 0 else { return nil }
        } catch let error as PluginError {
            switch error.status {
            case .unimplemented:
                outcome.reason = "marketing is not enabled"
            case .notFound, .failedPrecondition, .invalidArgument:
                outcome.reason = String("marketing refused the email: \(error.message)".prefix(500))
            default:
                ctx.host.log(.warning, "survey invitation \(i.id): marketing answered \(error.status): \(error.message.prefix(200)); retrying later")
                return nil
            }
        }
        return outcome
    }

    static func record(_ ctx: CallContext, _ req: Crm_Service_V1_RecordSurveyDispatchRequest) throws -> Crm_Service_V1_RecordSurveyDispatchResponse {
        guard req.outcomes.count <= 500 else { throw PluginError.invalidArgument("outcomes: at most 500 per call") }
        for (n, o) in req.outcomes.enumerated() {
            try Validate.positiveID(o.invitationID, "outcomes[\(n)].invitation_id")
            guard o.deliveryID >= 0 else { throw PluginError.invalidArgument("outcomes[\(n)].delivery_id must not be negative") }
            try Validate.maxLength(o.reason, "outcomes[\(n)].reason", 500)
        }
        guard ctx.scope.reach == .all else {
            throw PluginError(.permissionDenied, "recording survey dispatch needs service.survey.run at scope all")
        }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        var response = Crm_Service_V1_RecordSurveyDispatchResponse()
        for o in req.outcomes {
            guard let before = try SurveyInvitations.load(db, o.invitationID), before.invitation.dispatch == .pending else {
                response.ignored += 1
                continue
            }
            let state: Crm_Service_V1_SurveyDispatch = o.deliveryID > 0 ? .emailQueued : .linkOnly
            try db.execute("""
                UPDATE service_survey_invitations SET dispatch = ?, delivery_id = ?, link_only_reason = ?, dispatched_us = ? WHERE id = ?
                """, [.integer(Int64(state.rawValue)), .integer(o.deliveryID), .text(o.deliveryID > 0 ? "" : o.reason), .integer(now),
                      .integer(o.invitationID)])
            guard let after = try SurveyInvitations.load(db, o.invitationID) else { continue }
            try SurveyEvents.audit(ctx, "dispatch", old: before.invitation, new: after.invitation)
            let how = state == .emailQueued ? "emailed" : "ready to share as a link"
            try SurveyEvents.publish(ctx, "sent", after, summary: "Satisfaction survey for ticket #\(after.invitation.ticketID) \(how)")
            response.recorded += 1
        }
        return response
    }
}
