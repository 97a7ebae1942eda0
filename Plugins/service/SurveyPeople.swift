import CRMPluginKit
import ServiceContract

/// Surveys' part in GDPR and contacts' merges. Answers are data about the
/// requester: exported with their tickets, blanked on erasure (free text;
/// the scores stay for the figures, about nobody once contacts has erased
/// the person), moved to the survivor on a merge.
enum SurveyPeople {
    /// The invitations of a ticket with their answers, without the link
    /// (a bearer credential, not data about the person).
    static func export(_ db: Database, ticketID: Int64) throws -> [SurveyInvitation] {
        try db.query("SELECT \(SurveyInvitations.columns) FROM service_survey_invitations WHERE ticket_id = ? ORDER BY id",
                     [.integer(ticketID)]).map { r in
            var i = SurveyInvitations.decode(r).invitation
            i.answers = try SurveyInvitations.answers(db, i)
            return i
        }
    }

    /// Erasure: free-text answers deleted, pending invitations cancelled (never
    /// sent), every link of the person dead (NOT_FOUND). Each invitation is
    /// audited, then its audit values and stored events are redacted.
    static func erase(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        let rows = try db.query("SELECT \(SurveyInvitations.columns) FROM service_survey_invitations WHERE requester_id = ? AND erased = 0",
                                [.integer(person)]).map(SurveyInvitations.decode)
        for row in rows {
            var before = row.invitation
            before.answers = try SurveyInvitations.answers(db, before)
            let id = SQLValue.integer(before.id)
            try db.execute("DELETE FROM service_survey_answers WHERE invitation_id = ? AND kind = ?",
                           [id, .integer(Int64(Crm_Service_V1_SurveyQuestionKind.text.rawValue))])
            try db.execute("""
                UPDATE service_survey_invitations SET erased = 1, dispatch = CASE WHEN dispatch = ? THEN ? ELSE dispatch END WHERE id = ?
                """, [.integer(Int64(Crm_Service_V1_SurveyDispatch.pending.rawValue)),
                      .integer(Int64(Crm_Service_V1_SurveyDispatch.cancelled.rawValue)), id])
            guard var after = try SurveyInvitations.load(db, before.id)?.invitation else { continue }
            after.answers = try SurveyInvitations.answers(db, after)
            try SurveyEvents.audit(ctx, "erase", old: before, new: after)
            try ctx.redact(entity: SurveyEvents.entity, recordID: String(before.id))
        }
    }

    /// A merge of people: the merged person's invitations become the survivor's.
    static func repoint(_ ctx: CallContext, _ db: Database, from merged: Int64, to survivor: Int64) throws {
        let rows = try db.query("SELECT \(SurveyInvitations.columns) FROM service_survey_invitations WHERE requester_id = ? ORDER BY id",
                                [.integer(merged)]).map(SurveyInvitations.decode)
        for row in rows {
            var after = row.invitation
            after.requesterID = survivor
            try SurveyEvents.audit(ctx, "reassign_person", old: row.invitation, new: after)
        }
        try db.execute("UPDATE service_survey_invitations SET requester_id = ? WHERE requester_id = ?",
                       [.integer(survivor), .integer(merged)])
    }
}
