import CRMPluginKit
import ServiceContract

/// ListSurveyComments: free-text answers, newest first, read as a range
/// of service_survey_answers_text (kind TEXT, by the time they last
/// changed), keyset-paginated on (changed_us, invitation_id, question_key).
enum SurveyComments {
    static func register(on def: PluginDefinition) {
        def.unary(SurveyDefinitions.surveys + "ListSurveyComments", list)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListSurveyCommentsRequest) throws -> Crm_Service_V1_ListSurveyCommentsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 3)
        try SurveyResults.checkRange(req.fromUnixUs, req.toUnixUs)
        try Check.name(req.team, "team")
        try Check.name(req.agent, "agent")
        try Validate.optionalID(req.surveyID, "survey_id")
        var filter = SQLFilter()
        filter.add("a.kind = ?", .integer(Int64(Crm_Service_V1_SurveyQuestionKind.text.rawValue)))
        filter.add("a.changed_us >= ? AND a.changed_us < ?", .integer(req.fromUnixUs), .integer(req.toUnixUs))
        filter.add("a.text <> ''")
        if !req.team.isEmpty { filter.add("i.team = ?", .text(req.team)) }
        if !req.agent.isEmpty { filter.add("i.agent = ?", .text(req.agent)) }
        if req.surveyID > 0 { filter.add("i.survey_id = ?", .integer(req.surveyID)) }
        ctx.scope.apply(to: &filter, ownerColumn: "i.agent")
        if let after = paging.after {
            let at = try tokenInt(after[0]), id = try tokenInt(after[1])
            guard case .text = after[2] else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
            filter.add("(a.changed_us < ? OR (a.changed_us = ? AND (a.invitation_id < ? OR (a.invitation_id = ? AND a.question_key < ?))))",
                       [at, at, id, id, after[2]])
        }
        let csat = Int64(Crm_Service_V1_SurveyQuestionKind.csat.rawValue)
        let (comments, next) = try fetchPage(try ctx.database, """
            SELECT a.changed_us, a.invitation_id, a.question_key, a.text, i.ticket_id, i.agent, i.team,
                (SELECT c.score FROM service_survey_answers c WHERE c.invitation_id = a.invitation_id AND c.kind = \(csat)
                 ORDER BY c.question_key LIMIT 1)
            FROM service_survey_answers a JOIN service_survey_invitations i ON i.id = a.invitation_id
            \(filter.clause) ORDER BY a.changed_us DESC, a.invitation_id DESC, a.question_key DESC LIMIT ?
            """, filter.parameters, paging, decode: { r in
                Crm_Service_V1_SurveyComment.with {
                    $0.answeredUnixUs = r.int(0)
                    $0.invitationID = r.int(1)
                    $0.questionKey = r.text(2)
                    $0.text = r.text(3)
                    $0.ticketID = r.int(4)
                    $0.agent = r.text(5)
                    $0.team = r.text(6)
                    $0.csatScore = Int32(clamping: r.int(7))
                }
            }, key: { [$0[0], $0[1], $0[2]] })
        var response = Crm_Service_V1_ListSurveyCommentsResponse()
        response.comments = comments
        response.nextPageToken = next
        return response
    }
}
