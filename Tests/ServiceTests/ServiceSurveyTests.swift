import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import ServiceTestClient
import Testing

/// Satisfaction surveys: one invitation per solve (in the solve's
/// transaction), the link-only path without marketing, answers through a
/// signed token until it expires, and the statuses of bad tokens and answers.
@Suite struct ServiceSurveyTests {
    @Test func aSolveInvitesOnceAndARepeatedSolveOnlyAfterTheCooldown() async throws {
        let s = try await SurveyWorld.start()
        let w = s.world
        let survey = try await w.mia.createSurvey("After solve", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        var ticket = try await w.ana.solvedTicket("Invoice wrong", requester: ada)
        // A retried solve is no change: still one invitation.
        ticket = try await w.ana.setStatus(ticket.id, .solved)
        let invitations = try await w.admin.invitations(ticket: ticket.id)
        #expect(invitations.count == 1)
        let first = try #require(invitations.first)
        #expect(first.surveyID == survey.id && first.surveyVersion == 1 && first.requesterID == ada)
        #expect(first.agent == "ana" && first.team == "billing" && first.slaOutcome == .none)
        #expect(first.questions.map(\.key) == ["csat", "effort", "comment"])
        #expect(first.link.hasPrefix("http://127.0.0.1:8080/service/survey?t="))
        #expect(first.expiresUnixUs - first.createdUnixUs == 30 * 86_400_000_000)
        // A reopen and a new solve within the cool-down (default a day) invites nobody.
        _ = try await w.ana.setStatus(ticket.id, .open)
        _ = try await w.ana.setStatus(ticket.id, .solved)
        #expect(try await w.admin.invitations(ticket: ticket.id).count == 1)
        // Without marketing the job makes it link-only, saying why.
        let dispatched = try await s.dispatched(ticket.id)
        #expect(dispatched.dispatch == .linkOnly && dispatched.linkOnlyReason == "marketing is not enabled")
        #expect(dispatched.deliveryID == 0 && dispatched.dispatchedUnixUs > 0 && dispatched.link == first.link)

        // A reply that solves invites too; a closed ticket never solved does not.
        let replied = try await w.ana.create("Reply and solve", requester: ada, assignee: "ana", team: "billing")
        try await w.ana.reply(replied.id, "Done, closing", status: .solved)
        #expect(try await w.admin.invitations(ticket: replied.id).count == 1)
        // So does a macro that solves, with a reply or without.
        let solveMacro = try await w.mia.createMacro("Solve") { $0.status = .solved }
        let replyMacro = try await w.mia.createMacro("Reply and solve") {
            $0.status = .solved
            $0.messageKind = .public
            $0.messageTemplate = "Fixed, {{requester.first_name}}."
        }
        for macro in [solveMacro, replyMacro] {
            let viaMacro = try await w.ana.create("Macro \(macro.name)", requester: ada, assignee: "ana", team: "billing")
            _ = try await w.ana.applyMacro(macro.id, to: viaMacro.id)
            #expect(try await w.admin.invitations(ticket: viaMacro.id).count == 1, "\(macro.name)")
        }
        let closed = try await w.ana.create("Closed directly", requester: ada, assignee: "ana", team: "billing")
        _ = try await w.ana.setStatus(closed.id, .closed)
        #expect(try await w.admin.invitations(ticket: closed.id).isEmpty)
    }

    @Test func aTeamsOwnSurveyWinsOverTheDefaultAndNoSurveyMeansNoInvitation() async throws {
        let s = try await SurveyWorld.start(environment: ["CRM_PLUGIN_SERVICE_SURVEY_COOLDOWN_SECONDS": "0"])
        let w = s.world
        let ada = try await w.person("Ada", "Lovelace")
        // No survey yet: a solve invites nobody.
        let early = try await w.ana.solvedTicket("Before surveys", requester: ada)
        #expect(try await w.admin.invitations(ticket: early.id).isEmpty)
        let fallback = try await w.mia.createSurvey("Everyone", isDefault: true)
        let tech = try await w.mia.createSurvey("Tech", teams: ["tech"])
        let t1 = try await w.cy.solvedTicket("Printer", requester: ada, assignee: "cy", team: "tech")
        let t2 = try await w.ana.solvedTicket("Invoice", requester: ada)
        #expect(try await w.admin.invitations(ticket: t1.id).map(\.surveyID) == [tech.id])
        #expect(try await w.admin.invitations(ticket: t2.id).map(\.surveyID) == [fallback.id])
        // Cool-down 0: a reopen and re-solve invites again.
        _ = try await w.ana.setStatus(t2.id, .open)
        _ = try await w.ana.setStatus(t2.id, .solved)
        let again = try await w.admin.invitations(ticket: t2.id)
        #expect(again.count == 2 && again[0].id > again[1].id, "newest first")
        #expect(again[0].link != again[1].link, "each invitation has its own link")
        // Keyset pages, newest first.
        let page1: Crm_Service_V1_ListSurveyInvitationsResponse = try await w.admin.surveys("ListSurveyInvitations", Crm_Service_V1_ListSurveyInvitationsRequest.with {
            $0.requesterID = ada
            $0.pageSize = 2
        })
        let page2: Crm_Service_V1_ListSurveyInvitationsResponse = try await w.admin.surveys("ListSurveyInvitations", Crm_Service_V1_ListSurveyInvitationsRequest.with {
            $0.requesterID = ada
            $0.pageSize = 2
            $0.pageToken = page1.nextPageToken
        })
        #expect(page1.invitations.map(\.id) == again.map(\.id) && !page1.nextPageToken.isEmpty)
        #expect(page2.invitations.map(\.ticketID) == [t1.id] && page2.nextPageToken.isEmpty)
    }

    @Test func aWebEdgeAnswersThroughTheLinkAndMayChangeTheAnswersUntilItExpires() async throws {
        let s = try await SurveyWorld.start(environment: ["CRM_PLUGIN_SERVICE_SURVEY_LINK_TTL_SECONDS": "3"])
        let w = s.world
        _ = try await w.mia.createSurvey("After solve", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        let ticket = try await w.ana.solvedTicket("Invoice wrong", requester: ada)
        let invitation = try #require(try await w.admin.invitations(ticket: ticket.id).first)
        let t = token(invitation.link)
        let form = try await s.edge.form(t)
        #expect(form.invitationID == invitation.id && form.ticketID == ticket.id && form.ticketSubject == "Invoice wrong")
        #expect(form.surveyName == "After solve" && form.questions.count == 3 && form.answers.isEmpty && form.answeredUnixUs == 0)

        let answered = try await s.edge.submit(t, csat: 5, effort: 6, comment: "  Quick and kind  ")
        let scores: [Int32] = answered.answers.map(\.score)
        #expect(scores == [5, 6, 0] && answered.answers[2].text == "Quick and kind" && answered.answers[0].kind == .csat)
        let stored = try await w.ana.invitation(invitation.id)
        #expect(stored.answeredUnixUs > 0 && stored.answersChangedUnixUs == stored.answeredUnixUs)
        #expect(stored.answers.map(\.questionKey) == ["csat", "effort", "comment"])
        // The same answers again change nothing.
        try await s.edge.submit(t, csat: 5, effort: 6, comment: "Quick and kind")
        #expect(try await w.ana.invitation(invitation.id).answersChangedUnixUs == stored.answersChangedUnixUs)
        // A change replaces the answers as a whole; the first answer's time stays.
        try await s.edge.submit(t, csat: 4)
        let changed = try await w.ana.invitation(invitation.id)
        #expect(changed.answers.map(\.questionKey) == ["csat"] && changed.answers[0].score == 4)
        #expect(changed.answeredUnixUs == stored.answeredUnixUs && changed.answersChangedUnixUs > stored.answersChangedUnixUs)
        // Expired: the same NOT_FOUND as any bad token, for both methods.
        try await Task.sleep(nanoseconds: 3_200_000_000)
        await expectRPCError(.notFound, mentioning: "no such survey link") { try await s.edge.form(t) }
        await expectRPCError(.notFound, mentioning: "no such survey link") { try await s.edge.submit(t, csat: 1) }
    }

    @Test func wrongAndTamperedTokensAreNotFoundAndBadAnswersAreInvalid() async throws {
        let s = try await SurveyWorld.start()
        let w = s.world
        _ = try await w.mia.createSurvey("After solve", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        let ticket = try await w.ana.solvedTicket("Invoice wrong", requester: ada)
        let t = token(try #require(try await w.admin.invitations(ticket: ticket.id).first).link)
        #expect(t.count == 55)
        // One changed character, a shortened token, garbage, another length: all the same answer.
        let flipped = String(t.dropLast()) + (t.last == "A" ? "B" : "A")
        let middle = t.index(t.startIndex, offsetBy: 3)
        let otherID = String(t[..<middle]) + (t[middle] == "A" ? "B" : "A") + String(t[t.index(after: middle)...])
        for bad in [flipped, otherID, String(t.dropLast(2)), "not-a-token", String(repeating: "A", count: 55), t + "A"] {
            await expectRPCError(.notFound, mentioning: "token: no such survey link") { try await s.edge.form(bad) }
            await expectRPCError(.notFound, mentioning: "token: no such survey link") { try await s.edge.submit(bad, csat: 5) }
        }
        await expectRPCError(.invalidArgument, mentioning: "token is required") { try await s.edge.form("") }
        // Answers are checked against the invitation's questions.
        await expectRPCError(.invalidArgument, mentioning: "answers: at least one answer") { try await s.edge.submit(t, []) }
        await expectRPCError(.invalidArgument, mentioning: "answers[0].score 6 is not 1-5 (CSAT)") { try await s.edge.submit(t, csat: 6) }
        await expectRPCError(.invalidArgument, mentioning: "answers[1].score 8 is not 1-7 (CES)") {
            try await s.edge.submit(t, csat: 3, effort: 8)
        }
        await expectRPCError(.invalidArgument, mentioning: "answers: question \"csat\" is required") { try await s.edge.submit(t, effort: 3) }
        await expectRPCError(.invalidArgument, mentioning: "answers[1].question_key \"nps\" is not a question of this survey") {
            try await s.edge.submit(t, [.with { $0.questionKey = "csat"; $0.score = 4 }, .with { $0.questionKey = "nps"; $0.score = 9 }])
        }
        await expectRPCError(.invalidArgument, mentioning: "answers[1].question_key \"csat\" is repeated") {
            try await s.edge.submit(t, [.with { $0.questionKey = "csat"; $0.score = 4 }, .with { $0.questionKey = "csat"; $0.score = 5 }])
        }
        await expectRPCError(.invalidArgument, mentioning: "answers[1].score: question \"comment\" takes text") {
            try await s.edge.submit(t, [.with { $0.questionKey = "csat"; $0.score = 4 }, .with { $0.questionKey = "comment"; $0.score = 5 }])
        }
        await expectRPCError(.invalidArgument, mentioning: "answers[1].text is longer than 2000") {
            try await s.edge.submit(t, csat: 4, comment: String(repeating: "x", count: 2001))
        }
        // Nothing of the refused submissions was kept.
        #expect(try await s.edge.form(t).answers.isEmpty)
    }
}
