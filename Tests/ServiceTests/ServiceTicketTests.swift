import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Tickets: create, read, update, the status workflow and custom fields,
/// over the real socket, with each bad input's status.
@Suite struct ServiceTicketTests {
    @Test func aTicketTakesItsRequestersOrganizationAndReadsBackAsCreated() async throws {
        let world = try await ServiceWorld.start()
        let acme = try await world.contacts.createOrganization("Acme")
        let ada = try await world.person("Ada", "Lovelace", organization: acme.id)
        let ticket = try await world.admin.create("Printer on fire", requester: ada, description: "Smoke everywhere",
                                                  channel: .phone, type: .incident, tags: ["Hardware", "urgent", "hardware"],
                                                  team: "billing", followers: ["mia", "ana", "mia"])
        #expect(ticket.id > 0)
        #expect(ticket.status == .new)
        #expect(ticket.priority == .normal)
        #expect(ticket.organizationID == acme.id)
        #expect(ticket.tags == ["hardware", "urgent"])
        #expect(ticket.followers == ["ana", "mia"])
        #expect(ticket.version == 1)
        #expect(ticket.assignee.isEmpty && ticket.team == "billing")
        #expect(try await world.admin.get(ticket.id) == ticket)
        let assigned = try await world.admin.create("Refund", requester: ada, assignee: "ben", team: "billing")
        #expect(assigned.status == .open, "a ticket created with an assignee is being worked")
    }

    @Test func createAnswersEachBadInputWithItsStatusAndField() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let admin = world.admin
        await expectRPCError(.invalidArgument, mentioning: "ticket.subject is required") { try await admin.create(" ", requester: ada) }
        await expectRPCError(.invalidArgument, mentioning: "ticket.subject is longer than 300") {
            try await admin.create(String(repeating: "x", count: 301), requester: ada)
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.requester_id is required") { try await admin.create("s", requester: 0) }
        await expectRPCError(.invalidArgument, mentioning: "ticket.requester_id must be a positive id") {
            try await admin.create("s", requester: -3)
        }
        await expectRPCError(.notFound, mentioning: "ticket.requester_id: person 999 does not exist") {
            try await admin.create("s", requester: 999)
        }
        await expectRPCError(.notFound, mentioning: "ticket.organization_id: organization 999") {
            try await admin.create("s", requester: ada, organization: 999)
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.channel 9 is out of range") {
            try await admin.create("s", requester: ada, channel: .UNRECOGNIZED(9))
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.priority 7 is out of range") {
            try await admin.create("s", requester: ada, priority: .UNRECOGNIZED(7))
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.status") {
            try await admin.call("CreateTicket", Crm_Service_V1_CreateTicketRequest.with {
                $0.ticket.subject = "s"
                $0.ticket.requesterID = ada
                $0.ticket.status = .solved
            }, as: STicket.self)
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.tags[1] \"no spaces\"") {
            try await admin.create("s", requester: ada, tags: ["ok", "no spaces"])
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.tags has more than 50") {
            try await admin.create("s", requester: ada, tags: (0...50).map { "t\($0)" })
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.followers[0]") {
            try await admin.create("s", requester: ada, followers: ["Not A Name"])
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.custom_fields[nope]: no custom field") {
            try await admin.create("s", requester: ada, fields: ["nope": "1"])
        }
        await expectRPCError(.notFound, mentioning: "ticket.team: team \"nowhere\" does not exist") {
            try await admin.create("s", requester: ada, team: "nowhere")
        }
        await expectRPCError(.failedPrecondition, mentioning: "ticket.assignee: zed is on no team's roster") {
            try await admin.create("s", requester: ada, assignee: "zed")
        }
        await expectRPCError(.failedPrecondition, mentioning: "ticket.assignee: cy is not an agent of team \"billing\"") {
            try await admin.create("s", requester: ada, assignee: "cy", team: "billing")
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.assignee \"Cy!\" is not a CRM name") {
            try await admin.create("s", requester: ada, assignee: "Cy!")
        }
        let gone = try await world.person("Gone", "Away")
        let _: Crm_Contacts_V1_Person = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ada
            $0.mergedID = gone
        })
        await expectRPCError(.failedPrecondition, mentioning: "ticket.requester_id: person \(gone) was merged into person \(ada)") {
            try await admin.create("s", requester: gone)
        }
        #expect(try await admin.queueIDs { $0.view = .any }.isEmpty, "no failed create left a ticket")
    }

    @Test func aCreateRetriedWithItsKeyAnswersTheFirstTicketAndAnotherRequestUnderTheKeyIsRefused() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let first = try await world.ana.create("Invoice wrong", requester: ada, team: "billing", key: "k-1")
        let again = try await world.ana.create("Invoice wrong", requester: ada, team: "billing", key: "k-1")
        #expect(again == first)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k-1\" was already used") {
            try await world.ana.create("Invoice very wrong", requester: ada, team: "billing", key: "k-1")
        }
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k-1\"") {
            try await world.cy.create("Invoice wrong", requester: ada, team: "billing", key: "k-1")
        }
        #expect(try await world.admin.queueIDs { $0.view = .any } == [first.id])
    }

    @Test func statusesMoveAsAHelpdeskNeedsAndClosedIsFinal() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let admin = world.admin
        let t = try await admin.create("Broken", requester: ada, team: "billing")
        #expect(try await admin.setStatus(t.id, .new) == t, "setting the current status changes nothing")
        let pending = try await admin.setStatus(t.id, .pending)
        #expect(pending.status == .pending && pending.version == 2 && pending.statusChangedUnixUs >= t.createdUnixUs)
        await expectRPCError(.failedPrecondition, mentioning: "cannot go from PENDING to NEW") { try await admin.setStatus(t.id, .new) }
        _ = try await admin.setStatus(t.id, .onHold)
        let solved = try await admin.setStatus(t.id, .solved)
        #expect(solved.solvedUnixUs > 0)
        await expectRPCError(.failedPrecondition,
                             mentioning: "cannot go from SOLVED to PENDING (allowed from SOLVED: OPEN, CLOSED)") {
            try await admin.setStatus(t.id, .pending)
        }
        #expect(try await admin.setStatus(t.id, .open).status == .open, "an agent may reopen a solved ticket")
        await expectRPCError(.aborted, mentioning: "not the expected_version 2") {
            try await admin.setStatus(t.id, .solved, expectedVersion: 2)
        }
        let closed = try await admin.setStatus(t.id, .closed)
        #expect(closed.closedUnixUs > 0)
        await expectRPCError(.failedPrecondition, mentioning: "cannot go from CLOSED to OPEN (closed is final)") {
            try await admin.setStatus(t.id, .open)
        }
        await expectRPCError(.failedPrecondition, mentioning: "is closed; closed is final") {
            try await admin.update(STicket.with { $0.id = t.id; $0.subject = "x" })
        }
        await expectRPCError(.failedPrecondition, mentioning: "is closed; closed is final") { try await admin.assign(t.id, to: "ana") }
        await expectRPCError(.failedPrecondition, mentioning: "is closed; closed is final") { try await admin.reply(t.id, "hello?") }
        await expectRPCError(.invalidArgument, mentioning: "status is required") { try await admin.setStatus(t.id, .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "id is required") { try await admin.setStatus(0, .open) }
        await expectRPCError(.notFound, mentioning: "id: ticket 77 does not exist") { try await admin.setStatus(77, .open) }
        #expect(try await admin.get(t.id) == closed)
    }

    @Test func updateReplacesTheMaskedFieldsAndNamesTheMethodForTheOthers() async throws {
        let world = try await ServiceWorld.start()
        let ada = try await world.person("Ada", "Lovelace")
        let bea = try await world.person("Bea", "Baker")
        let t = try await world.admin.create("Slow", requester: ada, tags: ["perf"])
        let updated = try await world.admin.update(STicket.with {
            $0.id = t.id
            $0.subject = "Very slow"
            $0.priority = .urgent
            $0.tags = ["Perf", "db"]
            $0.requesterID = bea
        }, expectedVersion: 1)
        #expect(updated.subject == "Very slow" && updated.priority == .urgent && updated.tags == ["db", "perf"])
        #expect(updated.requesterID == bea && updated.version == 2 && updated.description_p == t.description_p)
        let cleared = try await world.admin.update(STicket.with { $0.id = t.id }, mask: ["tags"])
        #expect(cleared.tags.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "\"status\" cannot be updated here; use SetTicketStatus") {
            try await world.admin.update(STicket.with { $0.id = t.id }, mask: ["status"])
        }
        await expectRPCError(.invalidArgument, mentioning: "\"assignee\" cannot be updated here; use AssignTicket") {
            try await world.admin.update(STicket.with { $0.id = t.id }, mask: ["assignee"])
        }
        await expectRPCError(.aborted, mentioning: "is at version 3") {
            try await world.admin.update(STicket.with { $0.id = t.id; $0.subject = "x" }, expectedVersion: 1)
        }
        await expectRPCError(.notFound, mentioning: "ticket.requester_id: person 4242") {
            try await world.admin.update(STicket.with { $0.id = t.id; $0.requesterID = 4242 })
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.subject is required") {
            try await world.admin.update(STicket.with { $0.id = t.id }, mask: ["subject"])
        }
        #expect(try await world.admin.get(t.id) == cleared)
    }

    @Test func customFieldsAreDefinedTypedAndValidated() async throws {
        let world = try await ServiceWorld.start()
        let admin = world.admin
        let ada = try await world.person("Ada", "Lovelace")
        try await admin.setField("seats", .number, label: "Seats")
        try await admin.setField("plan", .select, label: "Plan", options: ["free", "pro", "team"])
        try await admin.setField("vip", .boolean)
        try await admin.setField("renewal", .date)
        let t = try await admin.create("Upgrade", requester: ada, fields: ["seats": "007", "plan": "pro", "vip": "true",
                                                                           "renewal": "2027-01-31"])
        #expect(t.customFields == ["seats": "7", "plan": "pro", "vip": "true", "renewal": "2027-01-31"])
        await expectRPCError(.invalidArgument, mentioning: "ticket.custom_fields[seats] \"many\" is not a whole number") {
            try await admin.create("s", requester: ada, fields: ["seats": "many"])
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.custom_fields[plan] \"gold\" is not one of its options") {
            try await admin.create("s", requester: ada, fields: ["plan": "gold"])
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.custom_fields[vip] must be \"true\" or \"false\"") {
            try await admin.create("s", requester: ada, fields: ["vip": "yes"])
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket.custom_fields[renewal]") {
            try await admin.create("s", requester: ada, fields: ["renewal": "2027-02-30"])
        }
        try await admin.setField("contract", .text, label: "Contract", required: true)
        await expectRPCError(.invalidArgument, mentioning: "ticket.custom_fields[contract] is required") {
            try await admin.create("s", requester: ada)
        }
        await expectRPCError(.failedPrecondition, mentioning: "its type cannot change") { try await admin.setField("seats", .text) }
        await expectRPCError(.failedPrecondition, mentioning: "tickets use \"pro\" of plan") {
            try await admin.setField("plan", .select, options: ["free", "team"])
        }
        #expect(try await admin.setField("plan", .select, label: "Plan", options: ["pro", "team", "enterprise"]).options
            == ["pro", "team", "enterprise"], "an option no ticket uses may go")
        await expectRPCError(.invalidArgument, mentioning: "field.key \"Bad-Key\"") { try await admin.setField("Bad-Key", .text) }
        await expectRPCError(.invalidArgument, mentioning: "field.type is required") { try await admin.setField("x", .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "field.options: a SELECT field needs options") {
            try await admin.setField("tier", .select)
        }
        await expectRPCError(.invalidArgument, mentioning: "field.options: only a SELECT field has options") {
            try await admin.setField("tier", .text, options: ["a"])
        }
        await expectRPCError(.invalidArgument, mentioning: "field.options[1] repeats \"a\"") {
            try await admin.setField("tier", .select, options: ["a", "a"])
        }
        await expectRPCError(.permissionDenied, mentioning: "needs service.custom_field.write at scope all") {
            try await world.ana.setField("tier", .text)
        }
        let list: Crm_Service_V1_ListCustomFieldsResponse = try await admin.call("ListCustomFields",
            Crm_Service_V1_ListCustomFieldsRequest.with { $0.pageSize = 2 })
        #expect(list.fields.map(\.key) == ["contract", "plan"] && !list.nextPageToken.isEmpty)
        let rest: Crm_Service_V1_ListCustomFieldsResponse = try await world.ana.call("ListCustomFields",
            Crm_Service_V1_ListCustomFieldsRequest.with { $0.pageToken = list.nextPageToken })
        #expect(rest.fields.map(\.key) == ["renewal", "seats", "vip"], "an agent reads the definitions")
    }
}
