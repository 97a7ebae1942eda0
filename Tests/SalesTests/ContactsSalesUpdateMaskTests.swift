import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Update masks (AIP-134) on every Update method of contacts and sales: no
/// mask means the fields the request sets, `*` replaces everything, paths
/// in snake_case or lowerCamelCase.
@Suite struct ContactsSalesUpdateMaskTests {
    @Test func personAndOrganizationUpdatesFollowTheMaskRule() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let ada = try await contacts.createPerson("Ada", "Lovelace", email: "ada@example.com", tags: ["vip"])
        func update(_ mask: [String], _ fill: (inout CPerson) -> Void) async throws -> CPerson {
            try await contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
                $0.person.id = ada.id
                fill(&$0.person)
                $0.updateMask = mask
            })
        }
        // {"person":{"id":"1","jobTitle":"CTO"}}: only the job title changes.
        let cto = try await update([]) { $0.jobTitle = "CTO" }
        #expect(cto.jobTitle == "CTO" && cto.lastName == "Lovelace" && cto.emails == ada.emails && cto.tags == ["vip"])
        let king = try await update(["lastName"]) { $0.lastName = "King" }  // FieldMask JSON names
        #expect(king.lastName == "King" && king.jobTitle == "CTO")
        let untagged = try await update(["tags", "job_title"]) { _ in }  // clearing takes naming the field
        #expect(untagged.tags.isEmpty && untagged.jobTitle.isEmpty && untagged.lastName == "King")
        let replaced = try await update(["*"]) { $0.firstName = "Augusta" }
        #expect(replaced.firstName == "Augusta" && replaced.lastName.isEmpty && replaced.emails.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "\"*\"") { try await update(["*", "tags"]) { _ in } }
        await expectRPCError(.invalidArgument, mentioning: "\"shoeSize\"") { try await update(["shoeSize"]) { _ in } }

        let acme = try await contacts.createOrganization("Acme", domain: "acme.example")
        let renamed: COrganization = try await contacts.call("UpdateOrganization", Crm_Contacts_V1_UpdateOrganizationRequest.with {
            $0.organization.id = acme.id
            $0.organization.industry = "Engines"
        })
        #expect(renamed.industry == "Engines" && renamed.name == "Acme" && renamed.domain == "acme.example")
        let cleared: COrganization = try await contacts.call("UpdateOrganization", Crm_Contacts_V1_UpdateOrganizationRequest.with {
            $0.organization.id = acme.id
            $0.updateMask = ["domain"]
        })
        #expect(cleared.domain.isEmpty && cleared.industry == "Engines")
    }

    @Test func leadAndOpportunityUpdatesFollowTheMaskRule() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let lead = try await sales.createLead(first: "Ada", last: "Lovelace", company: "Engines", email: "ada@example.com")
        let called: SLead = try await sales.call("UpdateLead", Crm_Sales_V1_UpdateLeadRequest.with {
            $0.lead.id = lead.id
            $0.lead.phone = "+44 20 7946 0000"
        })
        #expect(called.phone == "+44 20 7946 0000" && called.company == "Engines" && called.email == "ada@example.com"
            && called.status == .new)
        let titled: SLead = try await sales.call("UpdateLead", Crm_Sales_V1_UpdateLeadRequest.with {
            $0.lead.id = lead.id
            $0.lead.jobTitle = "Countess"
            $0.updateMask = ["jobTitle", "email"]
        })
        #expect(titled.jobTitle == "Countess" && titled.email.isEmpty && titled.phone == called.phone)

        let deal = try await sales.createOpportunity("Engine order", amount: 250_000, currency: "GBP",
                                                     closeDate: "2026-12-15", owner: "sam")
        let renamed: SOpportunity = try await sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = deal.id
            $0.opportunity.name = "Difference engine order"
        })
        #expect(renamed.name == "Difference engine order" && renamed.amount == deal.amount && renamed.owner == "sam"
            && renamed.expectedCloseDate == "2026-12-15")
        let undated: SOpportunity = try await sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = deal.id
            $0.updateMask = ["expectedCloseDate"]
        })
        #expect(undated.expectedCloseDate.isEmpty && undated.amount == deal.amount)
        await expectRPCError(.invalidArgument, mentioning: "MoveOpportunity") {
            let _: SOpportunity = try await sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
                $0.opportunity.id = deal.id
                $0.updateMask = ["stageId"]
            })
        }
    }
}
