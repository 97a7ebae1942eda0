import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// The sales plugin over the real socket, with contacts: leads, their
/// conversion, round-robin assignment, paging, and loading rules.
@Suite struct SalesTests {
    @Test func createLeadDefaultsValidatesAndIsIdempotent() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let lead = try await sales.createLead(first: " Ada ", last: "Lovelace", company: "Engines Ltd", email: "ada@example.com",
                                              phone: "+44 20 7946 0000", owner: "alice", source: "web")
        #expect(lead.id > 0 && lead.version == 1 && lead.createdUnixUs > 0 && lead.updatedUnixUs == lead.createdUnixUs)
        #expect(lead.status == .new && lead.firstName == "Ada" && lead.owner == "alice")
        #expect(try await sales.getLead(lead.id) == lead)

        let companyOnly = try await sales.createLead(company: "Nameless GmbH")
        #expect(companyOnly.status == .new)

        await expectRPCError(.invalidArgument, mentioning: "lead.last_name or lead.company") {
            try await sales.createLead(first: "Only")
        }
        await expectRPCError(.invalidArgument, mentioning: "lead.email") {
            try await sales.createLead(last: "Bad", email: "not-an-email")
        }
        await expectRPCError(.invalidArgument, mentioning: "lead.phone") {
            try await sales.createLead(last: "Bad", phone: "call me")
        }
        await expectRPCError(.invalidArgument, mentioning: "lead.company") {
            try await sales.createLead(company: String(repeating: "x", count: 201))
        }
        await expectRPCError(.invalidArgument, mentioning: "lead.status") {
            let _: SLead = try await sales.call("CreateLead", Crm_Sales_V1_CreateLeadRequest.with {
                $0.lead.lastName = "Early"
                $0.lead.status = .converted
            })
        }
        await expectRPCError(.notFound, mentioning: "lead 4242") { try await sales.getLead(4242) }
        await expectRPCError(.invalidArgument, mentioning: "id") { try await sales.getLead(0) }

        let first = try await sales.createLead(last: "Once", key: "form-17")
        let again = try await sales.createLead(last: "Once", key: "form-17")
        #expect(again == first)
    }

    @Test func updateAppliesTheMaskChecksTheVersionAndQualifies() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let lead = try await sales.createLead(first: "Alan", last: "Turing", owner: "alice")
        func update(_ mask: [String], version: Int64 = 0, _ change: (inout SLead) -> Void) async throws -> SLead {
            var changed = SLead()
            changed.id = lead.id
            change(&changed)
            return try await sales.call("UpdateLead", Crm_Sales_V1_UpdateLeadRequest.with {
                $0.lead = changed
                $0.updateMask = mask
                $0.expectedVersion = version
            })
        }
        let updated = try await update(["job_title", "status"], version: 1) {
            $0.jobTitle = "Mathematician"
            $0.status = .contacted
            $0.owner = "must not be written"
        }
        #expect(updated.jobTitle == "Mathematician" && updated.status == .contacted && updated.owner == "alice")
        #expect(updated.lastName == "Turing" && updated.version == 2)
        await expectRPCError(.aborted, mentioning: "expected_version 1") {
            try await update(["job_title"], version: 1) { $0.jobTitle = "Cryptanalyst" }
        }
        await expectRPCError(.invalidArgument, mentioning: "\"shoe_size\"") {
            try await update(["shoe_size"]) { _ in }
        }
        await expectRPCError(.invalidArgument, mentioning: "ConvertLead") {
            try await update(["person_id"]) { $0.personID = 7 }
        }
        await expectRPCError(.invalidArgument, mentioning: "lead.status") {
            try await update(["status"]) { $0.status = .qualified }
        }
        await expectRPCError(.invalidArgument, mentioning: "lead.email") {
            try await update(["email"]) { $0.email = "nope" }
        }

        func qualify(_ disqualify: Bool, _ reason: String = "") async throws -> SLead {
            try await sales.call("QualifyLead", Crm_Sales_V1_QualifyLeadRequest.with {
                $0.id = lead.id
                $0.disqualify = disqualify
                $0.reason = reason
            })
        }
        await expectRPCError(.invalidArgument, mentioning: "reason") { try await qualify(true) }
        let out = try await qualify(true, "no budget")
        #expect(out.status == .disqualified && out.disqualifiedReason == "no budget" && out.version == 3)
        let back = try await qualify(false)
        #expect(back.status == .qualified && back.disqualifiedReason.isEmpty && back.version == 4)
    }

    @Test func conversionCreatesPersonOrganizationAndOpportunityOnce() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let sales = SalesClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let lead = try await sales.createLead(first: "Grace", last: "Hopper", company: "Fleet Corp", email: "grace@fleet.example",
                                              phone: "+1 555 010 0100", owner: "bob", source: "event")
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key") { try await sales.convert(lead.id, key: "") }

        let result = try await sales.convert(lead.id, key: "convert-1", amount: 1_250_000, currency: "EUR", closeDate: "2026-11-30")
        let person = result.person, organization = result.organization, deal = result.opportunity
        #expect(result.hasOrganization && organization.id > 0 && organization.name == "Fleet Corp")
        #expect(person.id > 0 && person.firstName == "Grace" && person.lastName == "Hopper")
        #expect(person.emails.map(\.address) == ["grace@fleet.example"] && person.phones.map(\.number) == ["+1 555 010 0100"])
        #expect(person.organizationID == organization.id && person.owner == "bob" && person.source == "event")
        #expect(person.lifecycleStage == .opportunity)
        #expect(deal.name == "Fleet Corp deal" && deal.status == .open && deal.stageName == "Qualification")
        #expect(deal.probability == 10 && deal.amount.amountMinor == 1_250_000 && deal.amount.currency == "EUR")
        #expect(deal.personID == person.id && deal.organizationID == organization.id && deal.leadID == lead.id)
        #expect(deal.owner == "bob" && deal.expectedCloseDate == "2026-11-30" && deal.stageHistory.count == 1)
        #expect(result.lead.status == .converted && result.lead.personID == person.id)
        #expect(result.lead.organizationID == organization.id && result.lead.opportunityID == deal.id)
        #expect(try await contacts.getPerson(person.id) == person)

        // A retry with the same key answers with the same records and creates nothing.
        let retry = try await sales.convert(lead.id, key: "convert-1", amount: 1_250_000, currency: "EUR", closeDate: "2026-11-30")
        #expect(retry.person.id == person.id && retry.organization.id == organization.id)
        #expect(retry.opportunity.id == deal.id && retry.lead == result.lead)
        let people: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        #expect(people.people.map(\.id) == [person.id])
        let organizations: Crm_Contacts_V1_ListOrganizationsResponse = try await contacts.call(
            "ListOrganizations", Crm_Contacts_V1_ListOrganizationsRequest())
        #expect(organizations.organizations.map(\.id) == [organization.id])
        let deals: Crm_Sales_V1_ListOpportunitiesResponse = try await sales.call("ListOpportunities",
                                                                                Crm_Sales_V1_ListOpportunitiesRequest())
        #expect(deals.opportunities.map(\.id) == [deal.id])

        await expectRPCError(.failedPrecondition, mentioning: "already converted") {
            try await sales.convert(lead.id, key: "convert-2")
        }
        await expectRPCError(.failedPrecondition, mentioning: "converted") {
            let _: SLead = try await sales.call("QualifyLead", Crm_Sales_V1_QualifyLeadRequest.with { $0.id = lead.id })
        }
        let refused = try await sales.createLead(last: "Nope")
        let _: SLead = try await sales.call("QualifyLead", Crm_Sales_V1_QualifyLeadRequest.with {
            $0.id = refused.id
            $0.disqualify = true
            $0.reason = "spam"
        })
        await expectRPCError(.failedPrecondition, mentioning: "disqualified") {
            try await sales.convert(refused.id, key: "convert-3")
        }

        // The conversion is on the new person's timeline.
        let entries = try await contacts.timeline(person: person.id, atLeast: 3)
        #expect(Set(entries.map(\.topic)).isSuperset(of: ["sales.opportunity.created", "sales.lead.converted"]))
        #expect(entries.contains { $0.summary == "Lead Grace Hopper (Fleet Corp) converted: Opportunity 'Fleet Corp deal' opened" })
    }

    @Test func failedConversionLeavesNothingBehind() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let sales = SalesClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let lead = try await sales.createLead(first: "Kurt", last: "Goedel", company: "Logic AG")
        await expectRPCError(.notFound, mentioning: "pipeline_id") { try await sales.convert(lead.id, key: "k", pipeline: 999) }
        await expectRPCError(.invalidArgument, mentioning: "amount.currency") {
            try await sales.convert(lead.id, key: "k", amount: 5, currency: "euro")
        }
        await expectRPCError(.invalidArgument, mentioning: "expected_close_date") {
            try await sales.convert(lead.id, key: "k", closeDate: "2026-02-30")
        }
        let people: Crm_Contacts_V1_ListPeopleResponse = try await contacts.call("ListPeople", Crm_Contacts_V1_ListPeopleRequest())
        let organizations: Crm_Contacts_V1_ListOrganizationsResponse = try await contacts.call(
            "ListOrganizations", Crm_Contacts_V1_ListOrganizationsRequest())
        #expect(people.people.isEmpty && organizations.organizations.isEmpty)
        #expect(try await sales.getLead(lead.id) == lead)
        // The same key still works once the request is right.
        let done = try await sales.convert(lead.id, key: "k", name: "Logic renewal")
        #expect(done.opportunity.name == "Logic renewal" && !done.opportunity.hasAmount)
    }

    @Test func roundRobinGivesEachTeamMemberATurn() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        func setTeam(_ name: String, _ members: [String]) async throws -> Crm_Sales_V1_Team {
            try await sales.call("SetTeam", Crm_Sales_V1_SetTeamRequest.with { $0.name = name; $0.members = members })
        }
        await expectRPCError(.invalidArgument, mentioning: "members") { try await setTeam("inbound", []) }
        await expectRPCError(.invalidArgument, mentioning: "members[2]") { try await setTeam("inbound", ["ann", "ben", "ann"]) }
        let team = try await setTeam("inbound", ["ann", "ben", "cat"])
        #expect(team.members == ["ann", "ben", "cat"] && team.nextMember == "ann")

        var owners: [String] = []
        for i in 0..<4 { owners.append(try await sales.createLead(last: "Lead \(i)", team: "inbound").owner) }
        #expect(owners == ["ann", "ben", "cat", "ann"])
        // An owner given on the lead takes no turn.
        #expect(try await sales.createLead(last: "Given", owner: "dan", team: "inbound").owner == "dan")
        let now: Crm_Sales_V1_Team = try await sales.call("GetTeam", Crm_Sales_V1_GetTeamRequest.with { $0.name = "inbound" })
        #expect(now.nextMember == "ben")
        await expectRPCError(.notFound, mentioning: "assign_to_team") { try await sales.createLead(last: "X", team: "ghosts") }
    }

    @Test func leadListPagesWithoutGapsOrDuplicatesAndFilters() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        var created: [SLead] = []
        for i in 0..<23 {
            created.append(try await sales.createLead(last: "Lead \(i)", owner: i % 2 == 0 ? "ann" : "ben",
                                                      source: i % 3 == 0 ? "web" : "event"))
        }
        func page(_ size: Int32, _ token: String, owner: String = "", source: String = "") async throws -> Crm_Sales_V1_ListLeadsResponse {
            try await sales.call("ListLeads", Crm_Sales_V1_ListLeadsRequest.with {
                $0.pageSize = size
                $0.pageToken = token
                $0.owner = owner
                $0.source = source
            })
        }
        var seen: [Int64] = []
        var token = ""
        var pages = 0
        repeat {
            let response = try await page(5, token)
            #expect(response.leads.count <= 5)
            seen += response.leads.map(\.id)
            token = response.nextPageToken
            pages += 1
        } while !token.isEmpty && pages < 20
        #expect(pages == 5)
        #expect(seen == created.map(\.id))

        let annWeb = try await page(0, "", owner: "ann", source: "web")
        #expect(annWeb.leads.map(\.id) == created.enumerated().filter { $0.offset % 6 == 0 }.map(\.element.id))
        #expect(annWeb.nextPageToken.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await page(5, "bogus") }
    }

    @Test func salesWithoutContactsIsRefusedAndItsMethodsAreUnknown() async throws {
        let crmd = try CrmdProcess(plugins: ["sales"])
        let client = try crmd.connect()
        let plugins = try await allPlugins(client)
        let sales = try #require(plugins.first { $0.name == "sales" })
        #expect(sales.state == .failed)
        // "depends on contacts >=1.0.0 <2.0.0, which is not installed"
        #expect(sales.reason.contains("contacts >=1.0.0 <2.0.0") && sales.reason.contains("not installed"), "\(sales.reason)")
        await #expect(throws: RPCError(.unimplemented, "unknown method /crm.sales.v1.Sales/CreateLead")) {
            _ = try await SalesClient(connection: client).createLead(last: "Orphan")
        }
    }
}
