import CRMPluginKit
import ServiceContract

typealias SurveyAnswer = Crm_Service_V1_SurveyAnswer

/// The web edge's two methods. A token that does not verify, an expired
/// link, a cancelled invitation and an erased person's all answer the same
/// NOT_FOUND, so a caller learns nothing from trying tokens. Answers can be
/// changed until the link expires: a submission replaces them as a whole.
enum SurveyAnswers {
    static let noSuchLink = PluginError.notFound("token: no such survey link")

    static func register(on def: PluginDefinition) {
        def.unary(SurveyDefinitions.surveys + "GetSurveyByToken", form)
        def.unary(SurveyDefinitions.surveys + "SubmitSurveyAnswers", submit)
    }

    /// The live invitation a token names, or NOT_FOUND.
    static func invitation(_ db: Database, token: String, now: Int64) throws -> SurveyInvitations.Row {
        try Validate.required(token, "token")
        guard let id = SurveyTokens.decode(try SurveyTokens.secret(db), token), let row = try SurveyInvitations.load(db, id),
              !row.erased, row.invitation.dispatch != .cancelled, now < row.invitation.expiresUnixUs else { throw noSuchLink }
        return row
    }

    static func makeForm(_ db: Database, _ row: SurveyInvitations.Row) throws -> Crm_Service_V1_SurveyForm {
        let i = row.invitation
        var form = Crm_Service_V1_SurveyForm()
        form.invitationID = i.id
        form.ticketID = i.ticketID
        form.ticketSubject = try TicketStore(db: db).load(i.ticketID)?.subject ?? ""
        form.surveyName = try SurveyDefinitions.load(db, i.surveyID)?.name ?? ""
        form.questions = i.questions
        form.answers = try SurveyInvitations.answers(db, i)
        form.expiresUnixUs = i.expiresUnixUs
        form.answeredUnixUs = i.answeredUnixUs
        return form
    }

    static func form(_ ctx: CallContext, _ req: Crm_Service_V1_GetSurveyByTokenRequest) throws -> Crm_Service_V1_SurveyForm {
        let db = try ctx.database
        return try makeForm(db, try invitation(db, token: req.token, now: UTCClock.nowMicros()))
    }

    /// The answers checked against the invitation's questions, in their order.
    static func validate(_ given: [SurveyAnswer], _ questions: [SurveyQuestion]) throws -> [SurveyAnswer] {
        guard !given.isEmpty else { throw PluginError.invalidArgument("answers: at least one answer is needed") }
        guard given.count <= 10 else { throw PluginError.invalidArgument("answers: at most 10") }
        let byKey = Dictionary(questions.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var seen: [String: SurveyAnswer] = [:]
        for (n, answer) in given.enumerated() {
            let f = "answers[\(n)]"
            guard let q = byKey[answer.questionKey] else {
                throw PluginError.invalidArgument("\(f).question_key \"\(answer.questionKey.prefix(60))\" is not a question of this survey")
            }
            guard seen[q.key] == nil else { throw PluginError.invalidArgument("\(f).question_key \"\(q.key)\" is repeated") }
            var a = SurveyAnswer()
            a.questionKey = q.key
            a.kind = q.kind
            switch q.kind {
            case .csat, .ces:
                let top: Int32 = q.kind == .csat ? 5 : 7
                guard (1...top).contains(answer.score) else {
                    throw PluginError.invalidArgument("\(f).score \(answer.score) is not 1-\(top) (\(q.kind == .csat ? "CSAT" : "CES"))")
                }
                guard answer.text.isEmpty else { throw PluginError.invalidArgument("\(f).text: question \"\(q.key)\" takes a score") }
                a.score = answer.score
            default:
                guard answer.score == 0 else { throw PluginError.invalidArgument("\(f).score: question \"\(q.key)\" takes text") }
                var text = answer.text
                try Check.text(&text, "\(f).text", max: 2000)
                a.text = text
            }
            // An empty text answer is no answer.
            if a.kind == .text && a.text.isEmpty { continue }
            seen[q.key] = a
        }
        for q in questions where q.required && seen[q.key] == nil {
            throw PluginError.invalidArgument("answers: question \"\(q.key)\" is required")
        }
        guard !seen.isEmpty else { throw PluginError.invalidArgument("answers: at least one answer is needed") }
        return questions.compactMap { seen[$0.key] }
    }

    static func submit(_ ctx: CallContext, _ req: Crm_Service_V1_SubmitSurveyAnswersRequest) throws -> Crm_Service_V1_SurveyForm {
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        let row = try invitation(db, token: req.token, now: now)
        let answers = try validate(req.answers, row.invitation.questions)
        var before = row.invitation
        before.answers = try SurveyInvitations.answers(db, before)
        guard before.answers != answers else { return try makeForm(db, row) }
        let id = SQLValue.integer(before.id)
        try db.execute("DELETE FROM service_survey_answers WHERE invitation_id = ?", [id])
        for a in answers {
            try db.execute("""
                INSERT INTO service_survey_answers (invitation_id, question_key, kind, score, text, changed_us) VALUES (?, ?, ?, ?, ?, ?)
                """, [id, .text(a.questionKey), .integer(Int64(a.kind.rawValue)), .integer(Int64(a.score)), .text(a.text), .integer(now)])
        }
        try db.execute("""
            UPDATE service_survey_invitations SET answered_us = CASE WHEN answered_us = 0 THEN ? ELSE answered_us END, changed_us = ?
            WHERE id = ?
            """, [.integer(now), .integer(now), id])
        guard var after = try SurveyInvitations.load(db, before.id) else { throw noSuchLink }
        after.invitation.answers = answers
        try SurveyEvents.audit(ctx, "answer", old: before, new: after.invitation)
        let csat = answers.first { $0.kind == .csat }.map { " (CSAT \($0.score)/5)" } ?? ""
        try SurveyEvents.publish(ctx, "answered", after, summary: "Answered the satisfaction survey for ticket #\(before.ticketID)\(csat)")
        return try makeForm(db, after)
    }
}
