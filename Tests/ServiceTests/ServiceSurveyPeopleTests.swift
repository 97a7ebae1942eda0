import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Survey answers are personal data: on the customer's timeline, in their
/// GDPR export, blanked on erasure (with every link of theirs dead), and
/// moved with a merge of people.
@Suite struct ServiceSurveyPeopleTests {
    func audit(_ w: ServiceWorld, _ record: Int64) async throws -> [Crm_Kernel_V1_AuditEntry] {
        let response: Crm_Kernel_V1_ListAuditResponse = try await w.connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with {
                $0.entity = "service.survey_invitation"
                $0.recordID = String(record)
                $0.pageSize = 100
            })
        return response.entries
    }

    @Test func answersAreOnTheTimelineExportedAndErased() async throws {
        let s = try await SurveyWorld.start(environment: ["CRM_PLUGIN_SERVICE_SURVEY_COOLDOWN_SECONDS": "0"])
        let w = s.world
        _ = try await w.mia.createSurvey("Everyone", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        let ticket = try await w.ana.solvedTicket("Invoice", requester: ada)
        let invitation = try await s.dispatched(ticket.id)
        let link = token(invitation.link)
        try await s.edge.submit(link, csat: 5, comment: "Ada's private words")
        // The events land on Ada's timeline, without the words.
        #expect(try await eventually {
            try await w.contacts.timeline(person: ada, pageSize: 500).entries.contains { $0.summary.contains("(CSAT 5/5)") }
        })
        let timeline = try await w.contacts.timeline(person: ada, pageSize: 500).entries
        #expect(timeline.contains { $0.summary.contains("Satisfaction survey for ticket #\(ticket.id)") })
        #expect(!timeline.contains { $0.summary.contains("private words") })

        let export: Crm_Contacts_V1_PersonDataExport = try await w.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = ada })
        let part = try #require(export.modules.first { $0.module == "service" })
        let record = try #require(part.records.first { $0.typeName == "crm.service.v1.SurveyInvitation" })
        let exported = try SInvitation(serializedBytes: record.payload)
        #expect(exported.id == invitation.id && exported.answers.map(\.text) == ["", "Ada's private words"] && exported.link.isEmpty)

        let _: Crm_Contacts_V1_ErasePersonResponse = try await w.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = ada; $0.reason = "GDPR request 9" })
        #expect(try await eventually { try await w.admin.invitation(invitation.id).link.isEmpty })
        let erased = try await w.admin.invitation(invitation.id)
        let scores: [Int32] = erased.answers.map(\.score)
        #expect(erased.answers.allSatisfy { $0.text.isEmpty } && scores == [5], "the score stays for the figures, the words go")
        await expectRPCError(.notFound, mentioning: "no such survey link") { try await s.edge.form(link) }
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        #expect(try await w.mia.comments(from: now - 3_600_000_000, to: now + 3_600_000_000).comments.isEmpty)
        let trail = try await audit(w, invitation.id)
        #expect(trail.map(\.action).contains("erase") && trail.allSatisfy(\.redacted))
        #expect(!trail.flatMap(\.changes).contains { ($0.oldValue + $0.newValue).contains("private") })
        // The erased person's ticket solved again (no cool-down here) invites nobody.
        _ = try await w.ana.setStatus(ticket.id, .open)
        _ = try await w.ana.setStatus(ticket.id, .solved)
        #expect(try await w.admin.invitations(ticket: ticket.id).count == 1)
    }

    @Test func invitationsFollowAMergeOfPeople() async throws {
        let s = try await SurveyWorld.start()
        let w = s.world
        _ = try await w.mia.createSurvey("Everyone", isDefault: true)
        let ada = try await w.person("Ada", "Lovelace")
        let twin = try await w.person("Ada", "L.")
        let ticket = try await w.ana.solvedTicket("Invoice", requester: twin)
        let invitation = try #require(try await w.admin.invitations(ticket: ticket.id).first)
        let _: Crm_Contacts_V1_Person = try await w.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ada
            $0.mergedID = twin
        })
        #expect(try await eventually { try await w.admin.invitations(requester: ada).map(\.id) == [invitation.id] })
        #expect(try await w.admin.invitations(requester: twin).isEmpty)
        #expect(try await audit(w, invitation.id).map(\.action).contains("reassign_person"))
        // The link still works for the survivor.
        #expect(try await s.edge.form(token(invitation.link)).invitationID == invitation.id)
    }
}
