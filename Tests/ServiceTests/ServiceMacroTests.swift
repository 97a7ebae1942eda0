import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient
import Testing

/// Macros: saved actions with a mustache reply or note, checked when
/// saved, applied to one ticket or to many (each in its own savepoint).
@Suite struct ServiceMacroTests {
    static let greeting = """
        Hello {{requester.first_name}},

        ticket #{{ticket.id}} ({{ticket.subject}}) is with {{agent.name}}.{{#organization.name}} ({{organization.name}}){{/organization.name}}
        Plan: {{ticket.fields.plan}}
        """

    @Test func aMacroRepliesFromItsTemplateAndSetsPriorityTagsAssigneeAndStatus() async throws {
        let world = try await ServiceWorld.start()
        try await world.admin.setField("plan", .text, label: "Plan")
        let macro = try await world.mia.createMacro("Need logs", key: "m-1") {
            $0.status = .pending
            $0.priority = .high
            $0.addTags = ["needs-logs"]
            $0.removeTags = ["fresh"]
            $0.assignToCaller = true
            $0.messageKind = .public
            $0.messageTemplate = Self.greeting
        }
        #expect(macro.version == 1 && macro.mergeFields == ["agent.name", "organization.name", "requester.first_name",
                                                            "ticket.fields.plan", "ticket.id", "ticket.subject"])
        // The same key and request: the same macro.
        #expect(try await world.mia.createMacro("Need logs", key: "m-1") { $0.status = .pending; $0.priority = .high
            $0.addTags = ["needs-logs"]; $0.removeTags = ["fresh"]; $0.assignToCaller = true; $0.messageKind = .public
            $0.messageTemplate = Self.greeting }.id == macro.id)
        let acme = try await world.contacts.createOrganization("Acme")
        let ada = try await world.person("Ada", "Lovelace", organization: acme.id)
        let t = try await world.admin.create("Printer on fire", requester: ada, tags: ["fresh", "printer"], fields: ["plan": "gold"],
                                             team: "billing")
        let applied = try await world.ana.applyMacro(macro.id, to: t.id, key: "apply-1")
        let after = applied.ticket
        #expect(after.status == .pending && after.priority == .high && after.assignee == "ana")
        #expect(after.tags == ["needs-logs", "printer"] && after.firstResponseUnixUs > 0)
        #expect(applied.message.body == "Hello Ada,\n\nticket #\(t.id) (Printer on fire) is with ana. (Acme)\nPlan: gold")
        #expect(applied.message.kind == .public && applied.message.authorUser == "ana" && applied.macroVersion == 1)
        #expect(try await world.admin.messages(t.id).messages.map(\.id) == [applied.message.id])
        // A retry with the key gets the first answer and writes nothing.
        let again = try await world.ana.applyMacro(macro.id, to: t.id, key: "apply-1")
        #expect(again == applied)
        #expect(try await world.admin.messages(t.id).messages.count == 1)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"apply-1\" was already used") {
            try await world.ana.applyMacro(macro.id, to: t.id + 1, key: "apply-1")
        }
        // An internal note from a macro is a note, and a CLOSED status comes after it.
        let close = try await world.mia.createMacro("Close quietly") {
            $0.messageKind = .internal; $0.messageTemplate = "Closed for {{requester.name}}"; $0.status = .closed
        }
        let closed = try await world.ana.applyMacro(close.id, to: t.id)
        #expect(closed.ticket.status == .closed && closed.message.kind == .internal && closed.message.body == "Closed for Ada Lovelace")
        await expectRPCError(.failedPrecondition, mentioning: "closed is final") { try await world.ana.applyMacro(close.id, to: t.id) }
        // Out of the caller's write scope: tech's queue is not ana's.
        let techs = try await world.admin.create("Tech's", requester: ada, team: "tech")
        await expectRPCError(.permissionDenied, mentioning: "outside your record scope") { try await world.ana.applyMacro(macro.id, to: techs.id) }
        await expectRPCError(.permissionDenied, mentioning: "service.macro.apply") { try await world.pat.applyMacro(macro.id, to: techs.id) }
        await expectRPCError(.notFound, mentioning: "macro 999 does not exist") { try await world.ana.applyMacro(999, to: techs.id) }
    }

    @Test func aMacroIsCheckedWhenSavedAndAnUnknownMergeFieldIsNamed() async throws {
        let world = try await ServiceWorld.start()
        let mia = world.mia
        func template(_ text: String) async throws -> SMacro {
            try await mia.createMacro("T") { $0.messageKind = .public; $0.messageTemplate = text }
        }
        await expectRPCError(.invalidArgument, mentioning: "macro.actions.message_template: unknown merge field \"requester.frist_name\"") {
            try await template("Hi {{requester.frist_name}}")
        }
        await expectRPCError(.invalidArgument, mentioning: "unknown merge field \"ticket.fields.plan\" (no custom field has that key") {
            try await template("{{ticket.fields.plan}}")
        }
        try await world.admin.setField("plan", .text, label: "Plan")
        #expect(try await template("{{ticket.fields.plan}}").mergeFields == ["ticket.fields.plan"])
        await expectRPCError(.invalidArgument, mentioning: "line 2, column 1: partials ({{>name}}) are not supported") {
            try await template("Hi\n{{> footer}}")
        }
        await expectRPCError(.invalidArgument, mentioning: "not a template") { try await template("{{#ticket.team}}open") }
        await expectRPCError(.invalidArgument, mentioning: "unknown transform \"reversed\"") { try await template("{{reversed(ticket.subject)}}") }
        await expectRPCError(.invalidArgument, mentioning: "message_template is required with message_kind") { try await template("  ") }
        await expectRPCError(.invalidArgument, mentioning: "message_template is given without message_kind") {
            try await mia.createMacro("T") { $0.messageTemplate = "Hi" }
        }
        await expectRPCError(.invalidArgument, mentioning: "a macro needs at least one action") { try await mia.createMacro("T") { _ in } }
        await expectRPCError(.invalidArgument, mentioning: "macro.name is required") { try await mia.createMacro(" ") { $0.priority = .low } }
        await expectRPCError(.invalidArgument, mentioning: "nothing goes back to NEW") { try await mia.createMacro("T") { $0.status = .new } }
        await expectRPCError(.invalidArgument, mentioning: "\"vip\" is also in add_tags") {
            try await mia.createMacro("T") { $0.addTags = ["vip"]; $0.removeTags = ["VIP"] }
        }
        await expectRPCError(.invalidArgument, mentioning: "only one of them") {
            try await mia.createMacro("T") { $0.assignee = "ana"; $0.assignToCaller = true }
        }
        await expectRPCError(.failedPrecondition, mentioning: "cy is not an agent of team \"billing\"") {
            try await mia.createMacro("T") { $0.team = "billing"; $0.assignee = "cy" }
        }
        await expectRPCError(.notFound, mentioning: "team \"nowhere\" does not exist") { try await mia.createMacro("T") { $0.team = "nowhere" } }
        await expectRPCError(.permissionDenied, mentioning: "service.macro.write at scope all") {
            try await world.ana.createMacro("Mine") { $0.priority = .low }
        }
        // Update (mask, version), list by name, delete.
        let b = try await mia.createMacro("B macro") { $0.priority = .low }
        let a = try await mia.createMacro("A macro") { $0.priority = .urgent }
        var changed = b
        changed.actions.messageKind = .public
        changed.actions.messageTemplate = "{{ticket.sujbect}}"
        await expectRPCError(.invalidArgument, mentioning: "unknown merge field \"ticket.sujbect\"") {
            let _: SMacro = try await mia.call("UpdateMacro", Crm_Service_V1_UpdateMacroRequest.with { $0.macro = changed; $0.updateMask = ["actions"] })
        }
        changed.actions.messageTemplate = "{{ticket.subject}}"
        await expectRPCError(.aborted, mentioning: "expected_version") {
            let _: SMacro = try await mia.call("UpdateMacro", Crm_Service_V1_UpdateMacroRequest.with {
                $0.macro = changed; $0.updateMask = ["actions"]; $0.expectedVersion = 7 })
        }
        let updated: SMacro = try await mia.call("UpdateMacro", Crm_Service_V1_UpdateMacroRequest.with {
            $0.macro = changed; $0.updateMask = ["actions"]; $0.expectedVersion = 1 })
        #expect(updated.version == 2 && updated.mergeFields == ["ticket.subject"])
        let page1 = try await world.ana.macros(pageSize: 2)
        #expect(page1.macros.map(\.name) == ["A macro", "B macro"] && !page1.nextPageToken.isEmpty)
        let page2 = try await world.ana.macros(pageSize: 2, token: page1.nextPageToken)
        #expect(page2.macros.map(\.name) == ["T"] && page2.nextPageToken.isEmpty)
        let _: Crm_Service_V1_DeleteMacroResponse = try await mia.call("DeleteMacro", Crm_Service_V1_DeleteMacroRequest.with { $0.id = a.id })
        await expectRPCError(.notFound, mentioning: "macro \(a.id) does not exist") {
            let _: SMacro = try await mia.call("GetMacro", Crm_Service_V1_GetMacroRequest.with { $0.id = a.id })
        }
        #expect(try await world.ana.macros().macros.map(\.name) == ["B macro", "T"])
    }

    @Test func aMacroAppliedToManyTicketsRollsBackOnlyTheOnesThatFail() async throws {
        let world = try await ServiceWorld.start()
        let macro = try await world.mia.createMacro("Org notice") {
            $0.priority = .high
            $0.addTags = ["bulk"]
            $0.messageKind = .public
            $0.messageTemplate = "{{#organization.name}}{{organization.name}} is looked after.{{/organization.name}}"
        }
        let acme = try await world.contacts.createOrganization("Acme")
        let ada = try await world.person("Ada", "Lovelace", organization: acme.id)
        let bob = try await world.person("Bob", "Alone")
        let withOrg = try await world.admin.create("Has an org", requester: ada, team: "billing")
        let without = try await world.admin.create("No org", requester: bob, team: "billing")
        let closed = try await world.admin.setStatus(try await world.admin.create("Done", requester: ada, team: "billing").id, .closed)
        let techs = try await world.admin.create("Tech's", requester: ada, team: "tech")
        let ids = [withOrg.id, without.id, closed.id, techs.id, 999_999]
        let r = try await world.ana.applyMacro(macro.id, to: ids, key: "bulk-1")
        #expect(r.results.map(\.ticketID) == ids)
        #expect(r.results.map(\.code) == [0, 9, 9, 7, 5])
        #expect(r.applied == 1 && r.failed == 4)
        #expect(r.results[1].error.contains("renders an empty message"))
        #expect(r.results[2].error.contains("closed is final"))
        #expect(r.results[4].error.contains("ticket 999999 does not exist"))
        #expect(r.results[0].ticket.priority == .high && r.results[0].message.body == "Acme is looked after.")
        // The one that failed after its priority and tags were set kept neither.
        let rolledBack = try await world.admin.get(without.id)
        #expect(rolledBack.priority == .normal && rolledBack.tags.isEmpty && rolledBack.version == without.version)
        let kept = try await world.admin.get(withOrg.id)
        #expect(kept.priority == .high && kept.tags == ["bulk"])
        // The retry gets the first answer, failures included, and changes nothing.
        #expect(try await world.ana.applyMacro(macro.id, to: ids, key: "bulk-1") == r)
        #expect(try await world.admin.get(withOrg.id).version == kept.version)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"bulk-1\" was already used") {
            try await world.ana.applyMacro(macro.id, to: [withOrg.id], key: "bulk-1")
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket_ids[1] repeats ticket") {
            try await world.ana.applyMacro(macro.id, to: [withOrg.id, withOrg.id])
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket_ids: at least one ticket is required") {
            try await world.ana.applyMacro(macro.id, to: [Int64]())
        }
        await expectRPCError(.invalidArgument, mentioning: "ticket_ids has more than 100 entries") {
            try await world.ana.applyMacro(macro.id, to: Array(1...101).map(Int64.init))
        }
    }
}
