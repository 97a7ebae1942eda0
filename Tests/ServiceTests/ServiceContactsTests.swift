import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import ServiceTestClient
import Testing

/// Living with contacts: GDPR export and erasure, merges followed, the
/// audit trail of every write, and crmctl calling the methods with JSON.
@Suite struct ServiceContactsTests {
    @Test func aPersonsExportHoldsTheirTicketsAndMessagesAndErasureBlanksThem() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let bea = try await world.person("Bea", "Baker")
        let t = try await world.admin.create("Ada's laptop", requester: ada, description: "serial 12345", team: "billing")
        try await world.admin.reply(t.id, "it will not boot", author: .customer)
        try await world.ana.reply(t.id, "ada called twice", kind: .internal)
        let other = try await world.admin.create("Bea's printer", requester: bea)
        try await world.admin.reply(other.id, "Ada here, on Bea's behalf", author: .customer)
        // The customer message on Bea's ticket is Bea's by author: Ada's own
        // words elsewhere are those an agent logged for her (follow-ups).

        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = ada })
        let part = try #require(export.modules.first { $0.module == "service" })
        #expect(part.records.map(\.typeName) == ["crm.service.v1.Ticket", "crm.service.v1.TicketMessage",
                                                 "crm.service.v1.TicketMessage"])
        #expect(try STicket(serializedBytes: part.records[0].payload).subject == "Ada's laptop")

        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = ada; $0.reason = "GDPR request 7" })
        #expect(try await eventually { try await world.admin.get(t.id).subject == "(erased)" })
        let erased = try await world.admin.get(t.id)
        #expect(erased.description_p.isEmpty && erased.status == t.status && erased.team == "billing",
                "the workflow stays for reports; the personal data goes")
        #expect(try await world.admin.messages(t.id).messages.allSatisfy { $0.body == "(erased)" })
        #expect(try await world.admin.get(other.id).subject == "Bea's printer", "another requester's ticket is untouched")
        let trail = try await world.audit("service.ticket", t.id)
        #expect(!trail.isEmpty && trail.allSatisfy(\.redacted))
        #expect(!trail.flatMap(\.changes).contains { ($0.oldValue + $0.newValue).contains("laptop") })
        let entries = try await world.contacts.timeline(person: ada, pageSize: 500).entries
        #expect(!entries.contains { $0.summary.contains("laptop") })
    }

    @Test func ticketsFollowMergedPeopleAndOrganizations() async throws {
        let world = try await ServiceWorld.start()
        let acme = try await world.contacts.createOrganization("Acme")
        let acmeToo = try await world.contacts.createOrganization("ACME Inc")
        let ada = try await world.person("Ada", "Lovelace", organization: acme.id)
        let twin = try await world.person("Ada", "L.", organization: acmeToo.id)
        let t = try await world.admin.create("Duplicate me", requester: twin)
        try await world.admin.reply(t.id, "from the twin", author: .customer)
        let _: Crm_Contacts_V1_Person = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ada
            $0.mergedID = twin
        })
        #expect(try await eventually { try await world.admin.get(t.id).requesterID == ada })
        #expect(try await world.admin.messages(t.id).messages[0].authorPersonID == ada)
        #expect(try await world.admin.queueIDs { $0.requesterID = ada } == [t.id])
        let _: Crm_Contacts_V1_Organization = try await world.contacts.call(
            "MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
                $0.survivorID = acme.id
                $0.mergedID = acmeToo.id
            })
        #expect(try await eventually { try await world.admin.get(t.id).organizationID == acme.id })
        let actions = try await world.audit("service.ticket", t.id).map(\.action)
        #expect(actions.filter { $0 == "reassign_person" }.count == 2)
    }

    @Test func everyWriteIsAuditedWithItsChangedFields() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let t = try await world.ana.create("Audit me", requester: ada, team: "billing")
        _ = try await world.ana.update(STicket.with { $0.id = t.id; $0.priority = .high })
        _ = try await world.ana.assign(t.id, to: "ben", team: "billing")
        let reply = try await world.ana.reply(t.id, "on it", status: .pending)
        let entries = Array(try await world.audit("service.ticket", t.id).reversed())  // the trail lists newest first
        #expect(entries.map(\.action) == ["create", "update", "assign", "status"])
        #expect(entries.allSatisfy { $0.user == "ana" })
        let update = entries[1].changes.map { "\($0.field): \($0.oldValue) -> \($0.newValue)" }
        #expect(update == ["priority: NORMAL -> HIGH"])
        #expect(entries[2].owner == "ben" && entries[2].changes.contains { $0.field == "assignee" && $0.newValue == "ben" })
        let message = try await world.audit("service.message", reply.message.id)
        #expect(message.map(\.action) == ["create"] && message[0].changes.contains { $0.field == "body" && $0.newValue == "on it" })
    }

    @Test func crmctlCallsTheMethodsWithJSON() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let created = try CrmctlRun.run(["call", "/crm.service.v1.Service/CreateTicket",
                                        #"{"ticket":{"subject":"From the shell","requesterId":"\#(ada)","priority":"URGENT","team":"billing"},"idempotencyKey":"sh-1"}"#],
                                       socket: world.crmd.socketPath)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("\"subject\": \"From the shell\"") || created.stdout.contains("\"subject\":\"From the shell\""))
        let listed = try CrmctlRun.run(["call", "/crm.service.v1.Service/ListTickets", #"{"team":"billing","unassigned":true}"#],
                                      socket: world.crmd.socketPath)
        #expect(listed.status == 0 && listed.stdout.contains("From the shell"), "\(listed.stderr)")
        let bad = try CrmctlRun.run(["call", "/crm.service.v1.Service/GetTicket", #"{"id":"-4"}"#], socket: world.crmd.socketPath)
        #expect(bad.status != 0 && bad.stderr.contains("id must be a positive id"))
    }

    @Test func serviceWithoutContactsIsRefusedAndSaysWhy() async throws {
        let crmd = try CrmdProcess(plugins: ["service"])
        let client = try crmd.connect()
        let service = try #require(try await allPlugins(client).first { $0.name == "service" })
        #expect(service.state == .failed)
        #expect(service.reason.contains("contacts >=1.0.0 <2.0.0") && service.reason.contains("not installed"), "\(service.reason)")
        await #expect(throws: RPCError(.unimplemented, "unknown method /crm.service.v1.Service/GetTicket")) {
            _ = try await ServiceClient(connection: client).get(1)
        }
    }
}
