import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Survey definitions (shared configuration, checked when saved) and who
/// may call what: managers configure, agents read within their scope, the
/// web edge answers and reads nothing else.
@Suite struct ServiceSurveyAccessTests {
    @Test func definitionsAreCheckedVersionedAndKeptApartPerTeam() async throws {
        let s = try await SurveyWorld.start()
        let w = s.world
        await expectRPCError(.permissionDenied, mentioning: "service.survey.write at scope all") {
            try await w.ana.createSurvey("Mine", isDefault: true)
        }
        await expectRPCError(.invalidArgument, mentioning: "survey.name is required") { try await w.mia.createSurvey(" ") }
        await expectRPCError(.invalidArgument, mentioning: "survey.questions: a survey needs a question") {
            try await w.mia.createSurvey("Empty", questions: [])
        }
        await expectRPCError(.invalidArgument, mentioning: "survey.questions[0].key \"Bad Key\" is not 1-40") {
            try await w.mia.createSurvey("Bad", questions: [.with { $0.key = "Bad Key"; $0.kind = .csat; $0.prompt = "?" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "survey.questions[0].kind is required") {
            try await w.mia.createSurvey("Bad", questions: [.with { $0.key = "q"; $0.prompt = "?" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "survey.questions[1].key \"q\" is repeated") {
            try await w.mia.createSurvey("Bad", questions: [.with { $0.key = "q"; $0.kind = .csat; $0.prompt = "?" },
                                                            .with { $0.key = "q"; $0.kind = .text; $0.prompt = "?" }])
        }
        await expectRPCError(.invalidArgument, mentioning: "survey.teams[1] \"tech\" is repeated") {
            try await w.mia.createSurvey("Bad", teams: ["tech", "tech"])
        }
        // One active default, one active survey per team.
        let fallback = try await w.mia.createSurvey("Everyone", isDefault: true, key: "everyone")
        #expect(try await w.mia.createSurvey("Everyone", isDefault: true, key: "everyone").id == fallback.id, "a retry")
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"everyone\" was already used") {
            try await w.mia.createSurvey("Someone", isDefault: true, key: "everyone")
        }
        await expectRPCError(.failedPrecondition, mentioning: "active survey \(fallback.id) \"Everyone\" is the default") {
            try await w.mia.createSurvey("Second default", isDefault: true)
        }
        let tech = try await w.mia.createSurvey("Tech", teams: ["tech"])
        await expectRPCError(.failedPrecondition, mentioning: "team \"tech\" is already in active survey \(tech.id)") {
            try await w.mia.createSurvey("Tech again", teams: ["billing", "tech"])
        }
        let draft = try await w.mia.createSurvey("Tech draft", teams: ["tech"], active: false)
        let activate = SSurvey.with { $0.id = draft.id; $0.active = true }
        let update = Crm_Service_V1_UpdateSurveyRequest.with { $0.survey = activate; $0.updateMask = ["active"]; $0.expectedVersion = 1 }
        await expectRPCError(.failedPrecondition, mentioning: "is already in active survey \(tech.id)") {
            let _: SSurvey = try await w.mia.surveys("UpdateSurvey", update)
        }

        // Invitations keep the questions they asked; a stale version is ABORTED.
        let ada = try await w.person("Ada", "Lovelace")
        let solved = try await w.cy.solvedTicket("Printer", requester: ada, assignee: "cy", team: "tech")
        let rename = Crm_Service_V1_UpdateSurveyRequest.with {
            $0.survey = .with { $0.id = tech.id; $0.name = "Tech desk"; $0.questions = [.with { $0.key = "nps"; $0.kind = .ces; $0.prompt = "?" }] }
            $0.updateMask = ["name", "questions"]
            $0.expectedVersion = 1
        }
        let renamed: SSurvey = try await w.mia.surveys("UpdateSurvey", rename)
        #expect(renamed.version == 2 && renamed.name == "Tech desk" && renamed.questions.map(\.key) == ["nps"])
        await expectRPCError(.aborted, mentioning: "version") { let _: SSurvey = try await w.mia.surveys("UpdateSurvey", rename) }
        let kept = try #require(try await w.admin.invitations(ticket: solved.id).first)
        #expect(kept.surveyVersion == 1 && kept.questions.map(\.key) == ["csat", "effort", "comment"])
        // Listed by id, in pages.
        let page: Crm_Service_V1_ListSurveysResponse = try await w.ana.surveys("ListSurveys", Crm_Service_V1_ListSurveysRequest.with { $0.pageSize = 2 })
        let next: Crm_Service_V1_ListSurveysResponse = try await w.ana.surveys("ListSurveys", Crm_Service_V1_ListSurveysRequest.with {
            $0.pageSize = 2
            $0.pageToken = page.nextPageToken
        })
        #expect(page.surveys.map(\.id) == [fallback.id, tech.id] && next.surveys.map(\.id) == [draft.id] && next.nextPageToken.isEmpty)
        await expectRPCError(.notFound, mentioning: "survey 999 does not exist") {
            let _: SSurvey = try await w.ana.surveys("GetSurvey", Crm_Service_V1_GetSurveyRequest.with { $0.id = 999 })
        }
    }

    @Test func eachCallerReachesOnlyWhatTheirRoleAndScopeAllow() async throws {
        let s = try await SurveyWorld.start()
        let w = s.world
        _ = try await w.mia.createSurvey("Everyone", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        let cys = try await w.cy.solvedTicket("Printer", requester: ada, assignee: "cy", team: "tech")
        let invitation = try #require(try await w.admin.invitations(ticket: cys.id).first)
        // ana shares kernel team "shared" with cy; ben does not.
        #expect(try await w.ana.invitation(invitation.id).id == invitation.id)
        await expectRPCError(.notFound, mentioning: "survey invitation \(invitation.id) does not exist") {
            try await w.ben.invitation(invitation.id)
        }
        #expect(try await w.ben.invitations(requester: ada).isEmpty)
        await expectRPCError(.notFound, mentioning: "ticket_id: ticket \(cys.id) does not exist") {
            try await w.ben.invitations(ticket: cys.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "exactly one of them") { try await w.ana.invitations() }
        // The web edge answers and reads nothing else; the portal and agents' clients cannot pose as it.
        await expectRPCError(.permissionDenied, mentioning: "service.survey.read") { try await s.edge.invitation(invitation.id) }
        await expectRPCError(.permissionDenied, mentioning: "service.survey.read") {
            let _: Crm_Service_V1_ListSurveysResponse = try await s.edge.surveys("ListSurveys", Crm_Service_V1_ListSurveysRequest())
        }
        await expectRPCError(.permissionDenied, mentioning: "service.survey.respond") { try await w.pat.form(token(invitation.link)) }
        await expectRPCError(.permissionDenied, mentioning: "service.survey.read") { try await w.pat.invitations(requester: ada) }
        // The job's record method is the module's, at scope all.
        await expectRPCError(.permissionDenied, mentioning: "service.survey.run at scope all") {
            let _: Crm_Service_V1_RecordSurveyDispatchResponse = try await w.ana.surveys(
                "RecordSurveyDispatch", Crm_Service_V1_RecordSurveyDispatchRequest.with { $0.outcomes = [.with { $0.invitationID = invitation.id }] })
        }
        await expectRPCError(.invalidArgument, mentioning: "outcomes[0].invitation_id is required") {
            let _: Crm_Service_V1_RecordSurveyDispatchResponse = try await w.mia.surveys(
                "RecordSurveyDispatch", Crm_Service_V1_RecordSurveyDispatchRequest.with { $0.outcomes = [.init()] })
        }
    }
}
