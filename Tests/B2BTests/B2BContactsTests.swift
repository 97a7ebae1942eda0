import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import ContactsTestClient
import Foundation
import Testing

/// Living with contacts: quote events on the customer timeline, the GDPR
/// export part, merges followed, erasure.
@Suite struct B2BContactsTests {
    func content(_ world: B2BWorld) -> BContent { Q.content([Q.section("G", [Q.line("4", product: world.widget.id)])]) }

    @Test func quoteEventsLandOnTheTimelineOfThePersonAndOrganization() async throws {
        let world = try await B2BWorld.start(users: [])
        let deal = try await world.opportunity()
        let quote = try await world.admin.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world))
        _ = try await world.admin.send(quote.id)
        _ = try await world.admin.updateQuote(quote.id, Q.content([Q.section("G", [Q.line("5", product: world.widget.id)])]))
        var b2b: [Crm_Contacts_V1_TimelineEntry] = []
        #expect(try await eventually {
            b2b = try await world.contacts.timeline(organization: deal.organization.id, pageSize: 500).entries
                .filter { $0.topic.hasPrefix("b2b.") }
            return b2b.count == 3
        })
        #expect(b2b.map(\.topic) == ["b2b.quote.revised", "b2b.quote.sent", "b2b.quote.created"])
        #expect(b2b[1].summary == "Quote \(quote.id) revision 1 sent: 50.00 EUR")
        let sent = try Crm_B2b_V1_QuoteEvent(serializedBytes: b2b[1].payload)
        #expect(sent.contentHash.count == 64 && sent.revision == 1 && sent.total.amountMinor == 5000)
        #expect(try await eventually {
            try await world.contacts.timeline(person: deal.person.id, pageSize: 500).entries.filter { $0.topic.hasPrefix("b2b.") }.count == 3
        })
    }

    @Test func exportMergeAndErasureFollowThePerson() async throws {
        let world = try await B2BWorld.start()
        let deal = try await world.opportunity(owner: "ann")
        let quote = try await world.ann.createQuote(opportunity: deal.opportunity.id, currency: "EUR", content(world))
        // GDPR export: contacts gathers b2b's part.
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = deal.person.id })
        let part = try #require(export.modules.first { $0.module == "b2b" })
        #expect(part.records.count == 1 && part.records[0].typeName == "crm.b2b.v1.Quote")
        #expect(try BQuote(serializedBytes: part.records[0].payload).id == quote.id)
        let megsPart: Crm_Contacts_V1_ModuleData = try await world.connection.call(
            b2bService + "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = deal.person.id },
            metadata: AccessSupport.actingAs("meg"))
        #expect(megsPart.records.count == 1)
        // Merges: the quote names the survivors.
        let twin = try await world.contacts.createPerson("Grace", "Hopper")
        _ = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = twin.id; $0.mergedID = deal.person.id
        }, as: CPerson.self)
        let parent = try await world.contacts.createOrganization("Acme Holding")
        _ = try await world.contacts.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
            $0.survivorID = parent.id; $0.mergedID = deal.organization.id
        }, as: COrganization.self)
        #expect(try await eventually {
            let q = try await world.admin.getQuote(quote.id)
            return q.personID == twin.id && q.organizationID == parent.id
        })
        // Erasure: the person is unlinked; the quote stays with its organization.
        _ = try await world.contacts.call("ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with {
            $0.id = twin.id; $0.reason = "GDPR request 7"
        }, as: Crm_Contacts_V1_ErasePersonResponse.self)
        #expect(try await eventually { try await world.admin.getQuote(quote.id).personID == 0 })
        let after = try await world.admin.getQuote(quote.id)
        #expect(after.organizationID == parent.id && after.totals.totalMinor == 5000)
        let empty: Crm_Contacts_V1_ModuleData = try await world.connection.call(
            b2bService + "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = twin.id })
        #expect(empty.records.isEmpty)
        let audit: Crm_Kernel_V1_ListAuditResponse = try await world.connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "b2b.quote"; $0.recordID = "\(quote.id)" })
        #expect(Set(audit.entries.map(\.action)).isSuperset(of: ["create", "merge", "erase"]))
        await expectRPCError(.invalidArgument, mentioning: "person_id") {
            let _: Crm_Contacts_V1_ModuleData = try await world.connection.call(
                b2bService + "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = -1 })
        }
    }
}
