import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Who may do what with journeys: each method's permission, and the
/// caller's contacts scope on the people enrollments and steps are about.
@Suite struct JourneyAccessTests {
    @Test func permissionsAndTheCallersContactsScope() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let admin = MarketingClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let mine = try await contacts.createPerson("Mine", "Scope", email: "mine@example.com", owner: "alice").id
        let theirs = try await contacts.createPerson("Theirs", "Scope", email: "theirs@example.com", owner: "bob").id
        #expect(try await eventually {
            try DatabaseFile(dataDir: crmd.dir + "/data").rows("SELECT count(*) FROM marketing_people") == [["2"]]
        })
        let j = try await admin.createJourney("Scoped", steps: [Step.tag("t", "scoped")])
        _ = try await admin.journeyState("Activate", j.id)
        for p in [mine, theirs] { _ = try await admin.enroll(j.id, p) }
        #expect(try await eventually { try await admin.stepLog(j.id).count == 2 })

        _ = try await connection.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "journey_editor"
            $0.permissions = [.with { $0.permission = "marketing.journey.read"; $0.scope = .all },
                              .with { $0.permission = "marketing.journey.write"; $0.scope = .all },
                              .with { $0.permission = "contacts.person.read"; $0.scope = .own }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(crmd, "alice", roles: ["journey_editor"])
        try await AccessSupport.createUser(crmd, "rep", roles: ["sales_rep"])
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        try await AccessSupport.createUser(crmd, "mkt", roles: ["marketing"])
        let alice = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("alice"))
        let rep = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("rep"))
        let rita = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("rita"))
        let mkt = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("mkt"))

        // No journey permission at all: every method is refused, reads too.
        let read = "marketing.journey.read", write = "marketing.journey.write", run = "marketing.journey.run"
        await expectRPCError(.permissionDenied, mentioning: read) { try await rep.getJourney(j.id) }
        await expectRPCError(.permissionDenied, mentioning: read) { try await rep.listJourneys() }
        await expectRPCError(.permissionDenied, mentioning: read) { try await rep.enrollments(j.id) }
        await expectRPCError(.permissionDenied, mentioning: read) { try await rep.stepLog(j.id) }
        await expectRPCError(.permissionDenied, mentioning: write) { try await rep.createJourney("x", steps: [Step.tag("t", "x")]) }
        await expectRPCError(.permissionDenied, mentioning: write) { try await rep.enroll(j.id, mine) }
        await expectRPCError(.permissionDenied, mentioning: write) { try await rep.journeyState("Pause", j.id) }
        // Reading is not writing, and neither is running the job's steps.
        #expect(try await rita.getJourney(j.id).id == j.id)
        await expectRPCError(.permissionDenied, mentioning: write) {
            try await rita.updateJourney(j.id, mask: ["name"]) { $0.name = "renamed" }
        }
        await expectRPCError(.permissionDenied, mentioning: write) { try await rita.journeyState("Archive", j.id) }
        for client in [rita, alice] {
            await expectRPCError(.permissionDenied, mentioning: run) {
                try await client.call("AdvanceJourneys", Crm_Marketing_V1_AdvanceJourneysRequest(),
                                      as: Crm_Marketing_V1_AdvanceJourneysResponse.self)
            }
            await expectRPCError(.permissionDenied, mentioning: run) {
                try await client.call("AdvanceJourneyVisits", Crm_Marketing_V1_AdvanceJourneyVisitsRequest.with { $0.enrollmentIds = [1] },
                                      as: Crm_Marketing_V1_AdvanceJourneysResponse.self)
            }
        }

        // Enrollments and steps are about people: only those in the caller's contacts scope.
        #expect(try await alice.enrollments(j.id).map(\.personID) == [mine])
        #expect(try await alice.stepLog(j.id).map(\.personID) == [mine])
        #expect(try await alice.enrollments(j.id, person: theirs).isEmpty)
        #expect(Set(try await mkt.enrollments(j.id).map(\.personID)) == [mine, theirs])
        #expect(Set(try await rita.stepLog(j.id).map(\.personID)) == [mine, theirs])
        // A person out of scope cannot be enrolled (NOT_FOUND, as if missing); one in scope can.
        let other = try await alice.createJourney("Alice's", steps: [Step.tag("t", "alice")])
        _ = try await alice.journeyState("Activate", other.id)
        await expectRPCError(.notFound, mentioning: "person_id: person \(theirs)") { try await alice.enroll(other.id, theirs) }
        #expect(try await alice.enroll(other.id, mine).personID == mine)
        #expect(try await mkt.enroll(other.id, theirs).personID == theirs)
    }
}
