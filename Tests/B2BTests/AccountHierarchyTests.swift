import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Item 1 of issue 16: contacts' account hierarchy (a parent per
/// organization, never a cycle, subsidiaries listed, merges followed) and
/// sales' roll-up of open pipeline and won revenue over it.
@Suite struct AccountHierarchyTests {
    func organization(_ world: B2BWorld, _ name: String, parent: Int64 = 0, owner: String = "") async throws -> COrganization {
        try await world.contacts.call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = name
            $0.organization.parentID = parent
            $0.organization.owner = owner
        })
    }

    func setParent(_ client: ContactsClient, _ id: Int64, _ parent: Int64) async throws -> COrganization {
        try await client.call("UpdateOrganization", Crm_Contacts_V1_UpdateOrganizationRequest.with {
            $0.organization.id = id
            $0.organization.parentID = parent
            $0.updateMask = ["parent_id"]
        })
    }

    func subsidiaries(_ client: ContactsClient, _ id: Int64, all: Bool = false, pageSize: Int32 = 0,
                      token: String = "") async throws -> Crm_Contacts_V1_ListSubsidiariesResponse {
        try await client.call("ListSubsidiaries", Crm_Contacts_V1_ListSubsidiariesRequest.with {
            $0.organizationID = id
            $0.descendants = all
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    @Test func parentsSubsidiariesAndCyclesRefused() async throws {
        let world = try await B2BWorld.start(users: [])
        let group = try await organization(world, "Acme Group")
        let europe = try await organization(world, "Acme Europe", parent: group.id)
        let france = try await organization(world, "Acme France", parent: europe.id)
        let germany = try await organization(world, "Acme Germany", parent: europe.id)
        let asia = try await organization(world, "Acme Asia", parent: group.id)
        #expect(france.parentID == europe.id)
        #expect(try await world.contacts.call("GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = europe.id },
                                              as: COrganization.self).parentID == group.id)
        // Direct subsidiaries, and every level below, paginated by id.
        #expect(try await subsidiaries(world.contacts, group.id).organizations.map(\.id) == [europe.id, asia.id])
        let first = try await subsidiaries(world.contacts, group.id, all: true, pageSize: 3)
        #expect(first.organizations.map(\.id) == [europe.id, france.id, germany.id] && !first.nextPageToken.isEmpty)
        let second = try await subsidiaries(world.contacts, group.id, all: true, pageSize: 3, token: first.nextPageToken)
        #expect(second.organizations.map(\.id) == [asia.id] && second.nextPageToken.isEmpty)
        #expect(try await subsidiaries(world.contacts, france.id).organizations.isEmpty)
        // No cycles: the group cannot go below its own grandchild; none is its own parent.
        await expectRPCError(.failedPrecondition,
                             mentioning: "organization \(france.id) is below organization \(group.id) in the hierarchy "
                                 + "(\(france.id) -> \(europe.id) -> \(group.id))") {
            try await setParent(world.contacts, group.id, france.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "organization \(europe.id) cannot be its own parent") {
            try await setParent(world.contacts, europe.id, europe.id)
        }
        await expectRPCError(.notFound, mentioning: "organization.parent_id: organization 999999 does not exist") {
            try await organization(world, "Orphan", parent: 999_999)
        }
        await expectRPCError(.invalidArgument, mentioning: "organization.parent_id") {
            try await organization(world, "Negative", parent: -4)
        }
        await expectRPCError(.notFound, mentioning: "organization_id: organization 999999 does not exist") {
            try await subsidiaries(world.contacts, 999_999)
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token") {
            try await subsidiaries(world.contacts, group.id, token: "nonsense")
        }
        // A move is allowed where it makes no cycle; a deleted parent is refused.
        #expect(try await setParent(world.contacts, asia.id, europe.id).parentID == europe.id)
        #expect(try await setParent(world.contacts, asia.id, 0).parentID == 0)
        _ = try await world.contacts.call("DeleteOrganization", Crm_Contacts_V1_DeleteOrganizationRequest.with { $0.id = asia.id },
                                          as: COrganization.self)
        await expectRPCError(.failedPrecondition, mentioning: "organization.parent_id: organization \(asia.id) is deleted") {
            try await organization(world, "Acme Japan", parent: asia.id)
        }
    }

    /// A merged organization's subsidiaries follow the survivor, and a
    /// survivor that was below the merged one takes its place.
    @Test func mergesKeepTheTree() async throws {
        let world = try await B2BWorld.start(users: [])
        let group = try await organization(world, "Globex Group")
        let old = try await organization(world, "Globex Old", parent: group.id)
        let child = try await organization(world, "Globex Child", parent: old.id)
        let twin = try await organization(world, "Globex Twin")
        let merged: COrganization = try await world.contacts.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
            $0.survivorID = twin.id; $0.mergedID = old.id
        })
        #expect(merged.parentID == group.id, "the survivor without a parent takes the merged one's")
        #expect(try await subsidiaries(world.contacts, twin.id).organizations.map(\.id) == [child.id])
        #expect(try await subsidiaries(world.contacts, group.id).organizations.map(\.id) == [twin.id])
        // Below the merged one: the survivor moves up into its place, no cycle.
        let low = try await organization(world, "Globex Low", parent: child.id)
        let up: COrganization = try await world.contacts.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
            $0.survivorID = low.id; $0.mergedID = twin.id
        })
        #expect(up.parentID == group.id)
        let tree = try await subsidiaries(world.contacts, group.id, all: true).organizations
        #expect(tree.map(\.id) == [child.id, low.id])
        #expect(tree.first { $0.id == child.id }?.parentID == low.id)
    }

    /// The roll-up: per currency, open (and weighted) pipeline and won
    /// revenue of the organization and everything below it.
    @Test func rollupOverTheHierarchy() async throws {
        let world = try await B2BWorld.start()
        let group = try await organization(world, "Initech Group", owner: "ann")
        let east = try await organization(world, "Initech East", parent: group.id, owner: "ann")
        let west = try await organization(world, "Initech West", parent: group.id, owner: "bob")
        let plant = try await organization(world, "Initech Plant", parent: east.id, owner: "ann")
        let other = try await organization(world, "Unrelated")
        func opportunity(_ org: Int64, _ amount: Int64, _ currency: String, owner: String = "ann") async throws -> SOpportunity {
            try await world.sales.createOpportunity("Deal", amount: amount, currency: currency, owner: owner, organization: org)
        }
        _ = try await opportunity(group.id, 10_000, "EUR")
        _ = try await opportunity(east.id, 20_000, "EUR")
        let won = try await opportunity(plant.id, 5_000, "EUR")
        _ = try await world.sales.win(won.id)
        let lost = try await opportunity(plant.id, 7_000, "EUR")
        _ = try await world.sales.lose(lost.id, reason: "budget")
        _ = try await opportunity(west.id, 3_000, "USD", owner: "bob")
        let big = try await opportunity(other.id, 99_000, "EUR")
        func rollup(_ id: Int64, all: Bool = true, as user: String? = nil) async throws -> Crm_Sales_V1_AccountRollup {
            let client = user.map { world.sales(as: $0) } ?? world.sales
            return try await client.call("GetAccountRollup", Crm_Sales_V1_GetAccountRollupRequest.with {
                $0.organizationID = id
                $0.subsidiaries = all
            })
        }
        let all = try await rollup(group.id)
        #expect(all.organizationCount == 4)
        #expect(all.rows.map(\.currency) == ["EUR", "USD"], "never mixed, never converted")
        let eur = all.rows[0]
        #expect(eur.openCount == 2 && eur.openMinor == 30_000 && eur.wonCount == 1 && eur.wonMinor == 5_000)
        #expect(eur.weightedMinor > 0 && eur.weightedMinor < 30_000)
        #expect(all.rows[1].openMinor == 3_000 && all.rows[1].wonMinor == 0)
        let alone = try await rollup(group.id, all: false)
        #expect(alone.organizationCount == 1 && alone.rows.map(\.openMinor) == [10_000])
        #expect(try await rollup(east.id).rows.map(\.openMinor) == [20_000])
        // A rep's roll-up: the organizations and opportunities in their scope.
        let anns = try await rollup(group.id, as: "ann")
        #expect(anns.organizationCount == 3 && anns.rows.map(\.currency) == ["EUR"])
        await expectRPCError(.notFound, mentioning: "organization_id: organization \(west.id) does not exist") {
            try await rollup(west.id, as: "ann")
        }
        // The kept totals (what a caller of scope all reads) follow every
        // kind of write: a deal moved into the tree with a new amount, a
        // stage move's probability, a win.
        let _: SOpportunity = try await world.sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = big.id; $0.opportunity.organizationID = west.id; $0.opportunity.amount.amountMinor = 50_001
            $0.opportunity.amount.currency = "EUR"; $0.updateMask = ["organization_id", "amount"]
        })
        let stage = try #require(try await world.sales.getPipeline().stages.last)
        _ = try await world.sales.move(big.id, to: stage.id, probability: 33)
        let moved = try await rollup(group.id)
        #expect(moved.rows[0].openCount == 3 && moved.rows[0].openMinor == 80_001 && moved.rows[0].wonMinor == 5_000)
        #expect(moved.rows[0].weightedMinor == eur.weightedMinor + 50_001 * 33 / 100, "rounded down per opportunity")
        #expect(try await rollup(other.id).rows.isEmpty, "no zero rows left behind")
        _ = try await world.sales.win(big.id)
        let after = try await rollup(group.id)
        #expect(after.rows[0].openMinor == 30_000 && after.rows[0].wonCount == 2 && after.rows[0].wonMinor == 55_001)
        #expect(after.rows[0].weightedMinor == eur.weightedMinor)
        await expectRPCError(.invalidArgument, mentioning: "organization_id") { try await rollup(0) }
        await expectRPCError(.notFound, mentioning: "organization_id: organization 999999 does not exist") { try await rollup(999_999) }
    }
}
