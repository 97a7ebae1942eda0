import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Where the answers must match the documented contract: a closed
/// opportunity's stage, negative ids, page sizes above the maximum.
@Suite struct ContactsSalesContractTests {
    @Test func aClosedOpportunityIsAtItsOutcomeNotItsLastStage() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let stages = try await sales.getPipeline().stages
        let deal = try await sales.createOpportunity("Engine order", amount: 100)
        _ = try await sales.move(deal.id, to: stages[2].id)
        let won = try await sales.win(deal.id)
        #expect(won.stageID == 0 && won.stageName == "Won" && won.probability == 100 && won.status == .won)
        let read = try await sales.getOpportunity(deal.id)
        #expect(read.stageID == 0 && read.stageName == "Won" && read.stageHistory.dropLast().last?.stageID == stages[2].id)
        let lost = try await sales.lose(try await sales.createOpportunity("Loom order").id, reason: "budget")
        #expect(lost.stageID == 0 && lost.stageName == "Lost" && lost.probability == 0)
        let inProposal: Crm_Sales_V1_ListOpportunitiesResponse = try await sales.call(
            "ListOpportunities", Crm_Sales_V1_ListOpportunitiesRequest.with { $0.stageID = stages[2].id })
        #expect(inProposal.opportunities.isEmpty, "a won opportunity is in no stage")
        let all: Crm_Sales_V1_ListOpportunitiesResponse = try await sales.call("ListOpportunities", Crm_Sales_V1_ListOpportunitiesRequest())
        #expect(all.opportunities.map(\.stageName) == ["Won", "Lost"])
    }

    @Test func aNegativeIDIsRefusedAsNotAPositiveID() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let contacts = ContactsClient(connection: connection)
        let sales = SalesClient(connection: connection)
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive id, not -1") { try await contacts.getPerson(-1) }
        await expectRPCError(.invalidArgument, mentioning: "id is required") { try await contacts.getPerson(0) }
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive id") {
            let _: COrganization = try await contacts.call("GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = -2 })
        }
        await expectRPCError(.invalidArgument, mentioning: "survivor_id must be a positive id") {
            let _: CPerson = try await contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
                $0.survivorID = -1
                $0.mergedID = -1
            })
        }
        await expectRPCError(.invalidArgument, mentioning: "organization_id must be a positive id (or 0 for none)") {
            let _: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call(
                "ListPeople", Crm_Contacts_V1_ListPeopleRequest.with { $0.organizationID = -7 })
        }
        await expectRPCError(.invalidArgument, mentioning: "person.organization_id must be a positive id") {
            try await contacts.createPerson("Ada", "Lovelace", organization: -3)
        }
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive id") { try await sales.getLead(-5) }
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive id") { try await sales.getOpportunity(-5) }
        await expectRPCError(.invalidArgument, mentioning: "opportunity.stage_id must be a positive id") {
            try await sales.createOpportunity("Order", stage: -1)
        }
        await expectRPCError(.invalidArgument, mentioning: "person_id must be a positive id (or 0 for none)") {
            let _: Crm_Sales_V1_ListActivitiesResponse = try await sales.call(
                "ListActivities", Crm_Sales_V1_ListActivitiesRequest.with { $0.personID = -1 })
        }
    }

    @Test func erasedPeopleAndMergedOrganizationsCannotBeRestored() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let ada = try await contacts.createPerson("Ada", "Lovelace")
        let _: Crm_Contacts_V1_ErasePersonResponse = try await contacts.call("ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with {
            $0.id = ada.id
            $0.reason = "GDPR request 1"
        })
        await expectRPCError(.failedPrecondition, mentioning: "was erased") {
            let _: CPerson = try await contacts.call("RestorePerson", Crm_Contacts_V1_RestorePersonRequest.with { $0.id = ada.id })
        }
        let acme = try await contacts.createOrganization("Acme")
        let acmeLtd = try await contacts.createOrganization("Acme Ltd")
        let _: COrganization = try await contacts.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
            $0.survivorID = acme.id
            $0.mergedID = acmeLtd.id
        })
        await expectRPCError(.failedPrecondition, mentioning: "was merged into organization \(acme.id)") {
            let _: COrganization = try await contacts.call("RestoreOrganization", Crm_Contacts_V1_RestoreOrganizationRequest.with {
                $0.id = acmeLtd.id
            })
        }
    }

    @Test func aPageSizeAboveTheMaximumIsServedAsTheMaximum() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts"])
        let contacts = ContactsClient(connection: try crmd.connect())
        let csv = (1...501).map { "Person,Number \($0)\n" }.joined()
        #expect(try await contacts.importRows(["first_name", "last_name"], csv).created == 501)
        let first: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call(
            "ListPeople", Crm_Contacts_V1_ListPeopleRequest.with { $0.pageSize = 100_000 })
        #expect(first.people.count == 500 && !first.nextPageToken.isEmpty)
        let rest: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest.with {
            $0.pageSize = .max
            $0.pageToken = first.nextPageToken
        })
        #expect(rest.people.count == 1 && rest.nextPageToken.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "page_size") {
            try await contacts.search("person", pageSize: -1)
        }
    }
}
