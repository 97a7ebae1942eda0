import CRMPluginKit
import ServiceContract

/// service.survey.* events and the service.survey_invitation audit trail.
/// An event carries the invitation without its link (a bearer credential)
/// and without free text (the customer's words stay out of stored events
/// and timelines); About names the requester and organization.
enum SurveyEvents {
    static let entity = "service.survey_invitation"

    static func publish(_ ctx: CallContext, _ action: String, _ row: SurveyInvitations.Row, summary: String) throws {
        var event = Crm_Service_V1_SurveyEvent()
        var invitation = row.invitation
        invitation.link = ""
        invitation.answers = invitation.answers.map { answer in
            var a = answer
            a.text = ""
            return a
        }
        event.invitation = invitation
        var about = About()
        if invitation.requesterID > 0 { about.personIds = [invitation.requesterID] }
        if row.organizationID > 0 { about.organizationIds = [row.organizationID] }
        about.summary = summary
        event.about = about
        _ = try ctx.publish("service.survey.\(action)", event,
                            about: EventSubject(entity: entity, recordID: String(invitation.id), owner: ownerOrNil(invitation.agent)))
    }

    static func audit(_ ctx: CallContext, _ action: String, old: SurveyInvitation?, new: SurveyInvitation) throws {
        try ctx.audit(AuditEntry(entity: entity, recordID: String(new.id), action: action, owner: ownerOrNil(new.agent),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func fields(_ i: SurveyInvitation) -> [String: String] {
        var f: [String: String] = [
            "ticket_id": String(i.ticketID), "survey_id": String(i.surveyID), "requester_id": String(i.requesterID),
            "dispatch": "\(i.dispatch)".uppercased(), "sla_outcome": "\(i.slaOutcome)".uppercased(),
        ]
        if !i.agent.isEmpty { f["agent"] = i.agent }
        if !i.team.isEmpty { f["team"] = i.team }
        if i.deliveryID > 0 { f["delivery_id"] = String(i.deliveryID) }
        if !i.linkOnlyReason.isEmpty { f["link_only_reason"] = i.linkOnlyReason }
        for a in i.answers {
            let value = a.kind == .text ? a.text : String(a.score)
            if !value.isEmpty { f["answers.\(a.questionKey)"] = value }
        }
        return f
    }
}
