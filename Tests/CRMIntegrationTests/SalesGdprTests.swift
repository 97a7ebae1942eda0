import CRMClient
import CRMProto
import CRMWire
import Foundation
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
