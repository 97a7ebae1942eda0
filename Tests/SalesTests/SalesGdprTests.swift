import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// GDPR across modules: contacts gathers sales' records in an export, and an
/// erasure in contacts reaches sales through the bus.
@Suite struct SalesGdprTests {
    @Test func exportGathersSalesRecordsAndErasureBlanksThem() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let sales = SalesClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let lead = try await sales.createLead(first: "Greta", last: "Private", company: "Privacy AB",
                                              email: "greta@privacy.example", phone: "+46 8 123 456")
        let converted = try await sales.convert(lead.id, key: "gdpr-1", amount: 50_000, currency: "SEK")
        let person = converted.person.id
        _ = try await sales.createActivity(.call, "Call Greta about her account", person: person)

        let export: Crm_Contacts_V1_PersonDataExport = try await contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = person })
        #expect(export.person.emails.map(\.address) == ["greta@privacy.example"])
        let salesPart = try #require(export.modules.first { $0.module == "sales" })
        #expect(salesPart.records.map(\.typeName) == ["crm.sales.v1.Lead", "crm.sales.v1.Opportunity", "crm.sales.v1.Activity"])
        let exportedLead = try Crm_Sales_V1_Lead(serializedBytes: salesPart.records[0].payload)
        #expect(exportedLead.email == "greta@privacy.example")

        let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = person; $0.reason = "request 7" })
        #expect(try await eventually { try await sales.getLead(lead.id).lastName == "(erased)" })
        let erasedLead = try await sales.getLead(lead.id)
        #expect(erasedLead.firstName.isEmpty && erasedLead.email.isEmpty && erasedLead.phone.isEmpty)
        let activities: Crm_Sales_V1_ListActivitiesResponse = try await sales.call(
            "ListActivities", Crm_Sales_V1_ListActivitiesRequest.with { $0.personID = person })
        #expect(activities.activities.map(\.subject) == ["(erased)"])
        // The opportunity, a company deal, keeps its figures.
        #expect(try await sales.getOpportunity(converted.opportunity.id).amount.amountMinor == 50_000)
    }
}

/// Merging organizations in contacts reaches sales through the bus.
@Suite struct OrganizationMergeTests {
    @Test func mergedOrganizationsMoveTheirPeopleTimelineAndDeals() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let sales = SalesClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let acme = try await contacts.createOrganization("Acme", domain: "acme.example")
        let acmeInc = try await contacts.createOrganization("ACME Inc.")
        let worker = try await contacts.createPerson("Wile", "Coyote", organization: acmeInc.id)
        let deal = try await sales.createOpportunity("Rockets", amount: 1_000, currency: "USD", organization: acmeInc.id)
        _ = try await contacts.timeline(organization: acmeInc.id, atLeast: 3)

        let survivor: COrganization = try await contacts.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
            $0.survivorID = acme.id
            $0.mergedID = acmeInc.id
        })
        #expect(survivor.domain == "acme.example" && survivor.version == 2)
        #expect(try await contacts.getPerson(worker.id).organizationID == acme.id)
        let gone: COrganization = try await contacts.call("GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = acmeInc.id })
        #expect(gone.mergedIntoID == acme.id && gone.deletedUnixUs > 0)
        #expect(try await eventually { try await sales.getOpportunity(deal.id).organizationID == acme.id })
        // Both organizations' events, and the merge, on one timeline.
        let topics = try await contacts.timeline(organization: acme.id, atLeast: 5).map(\.topic)
        #expect(topics.count == 5 && topics.first == "contacts.organization.merged")
        #expect(topics.filter { $0 == "contacts.organization.created" }.count == 2 && topics.contains("sales.opportunity.created"))
        await expectRPCError(.failedPrecondition, mentioning: "was merged into") {
            try await contacts.createPerson("New", "Hire", organization: acmeInc.id)
        }
    }
}
