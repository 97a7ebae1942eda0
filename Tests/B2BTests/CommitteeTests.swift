import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Item 3 of issue 16: the buying committee, its coverage, the deals
/// missing a role, and contacts' merges and erasures followed.
@Suite struct CommitteeTests {
    func seat(_ world: B2BWorld, _ deal: Int64, _ person: Int64, _ roles: [Crm_B2b_V1_CommitteeRole], primary: Bool = false,
              as client: B2BClient? = nil) async throws -> Crm_B2b_V1_CommitteeMember {
        try await (client ?? world.admin).call("SetCommitteeMember", Crm_B2b_V1_SetCommitteeMemberRequest.with {
            $0.dealID = deal
            $0.personID = person
            $0.roles = roles
            $0.influence = .high
            $0.stance = .supporter
            $0.primary = primary
        })
    }

    func coverage(_ world: B2BWorld, _ deal: Int64) async throws -> Crm_B2b_V1_Coverage {
        try await world.admin.call("CheckCoverage", Crm_B2b_V1_CheckCoverageRequest.with { $0.dealID = deal })
    }

    func committee(_ world: B2BWorld, _ deal: Int64) async throws -> [Crm_B2b_V1_CommitteeMember] {
        let page: Crm_B2b_V1_ListCommitteeResponse = try await world.admin.call("ListCommittee",
                                                                                Crm_B2b_V1_ListCommitteeRequest.with { $0.dealID = deal })
        return page.members
    }

    func missing(_ world: B2BWorld, _ role: Crm_B2b_V1_CommitteeRole, pageSize: Int32 = 0, token: String = "",
                 as client: B2BClient? = nil) async throws -> Crm_B2b_V1_ListDealsResponse {
        try await (client ?? world.admin).call("ListDealsMissingRole", Crm_B2b_V1_ListDealsMissingRoleRequest.with {
            $0.role = role; $0.pageSize = pageSize; $0.pageToken = token
        })
    }

    @Test func rolesPrimaryAndCoverage() async throws {
        let world = try await B2BWorld.start(users: [])
        let pipeline = try await world.dealPipeline()
        let seller = try await world.seller()
        let buyer = try await world.buyer()
        let deal = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id)
        let cfo = try await world.contacts.createPerson("Carla", "Finance", organization: buyer.id)
        let cto = try await world.contacts.createPerson("Tom", "Tech", organization: buyer.id)
        let fan = try await world.contacts.createPerson("Fay", "Fan", organization: buyer.id)
        var gaps = try await coverage(world, deal.id)
        #expect(!gaps.covered && gaps.gaps.map(\.message) == ["no economic buyer", "no decision maker", "no champion", "no primary contact"])
        let carla = try await seat(world, deal.id, cfo.id, [.economicBuyer, .decisionMaker], primary: true)
        #expect(carla.roles == [.decisionMaker, .economicBuyer] && carla.primary && !carla.leftOrganization)
        _ = try await seat(world, deal.id, cto.id, [.technicalEvaluator], primary: true)
        _ = try await seat(world, deal.id, fan.id, [.champion, .user])
        let members = try await committee(world, deal.id)
        #expect(members.map(\.personID) == [cfo.id, cto.id, fan.id])
        #expect(members.filter(\.primary).map(\.personID) == [cto.id], "one primary contact: the last made so")
        gaps = try await coverage(world, deal.id)
        #expect(gaps.covered && gaps.gaps.isEmpty)
        #expect(try await seat(world, deal.id, fan.id, [.champion, .user]).updatedUnixUs == members[2].updatedUnixUs,
                "the same seat again changes nothing")
        // The champion leaves the buying organization (contacts' event is followed).
        let elsewhere = try await world.contacts.createOrganization("Other Corp")
        _ = try await world.contacts.call("UpdatePerson", Crm_Contacts_V1_UpdatePersonRequest.with {
            $0.person.id = fan.id; $0.person.organizationID = elsewhere.id; $0.updateMask = ["organization_id"]
        }, as: CPerson.self)
        #expect(try await eventually { try await coverage(world, deal.id).gaps.count == 2 })
        gaps = try await coverage(world, deal.id)
        #expect(gaps.gaps.map(\.message) == ["no champion", "champion \(fan.id) has left the organization"])
        #expect(gaps.gaps[1].kind == .leftOrganization && gaps.gaps[1].personID == fan.id)
        // Bad input.
        await expectRPCError(.invalidArgument, mentioning: "roles: at least one role") { try await seat(world, deal.id, cfo.id, []) }
        await expectRPCError(.invalidArgument, mentioning: "roles[1] champion is repeated") {
            try await seat(world, deal.id, cfo.id, [.champion, .champion])
        }
        await expectRPCError(.invalidArgument, mentioning: "roles[0] is not a committee role") {
            try await seat(world, deal.id, cfo.id, [.unspecified])
        }
        await expectRPCError(.notFound, mentioning: "person_id: person 999999 does not exist") {
            try await seat(world, deal.id, 999_999, [.user])
        }
        await expectRPCError(.notFound, mentioning: "deal_id: deal 999999 does not exist") { try await seat(world, 999_999, cfo.id, [.user]) }
        await expectRPCError(.notFound, mentioning: "has no seat on deal") {
            let _: BDeal = try await world.admin.call("RemoveCommitteeMember", Crm_B2b_V1_RemoveCommitteeMemberRequest.with {
                $0.dealID = deal.id; $0.personID = 999_999
            })
        }
        let _: BDeal = try await world.admin.call("RemoveCommitteeMember", Crm_B2b_V1_RemoveCommitteeMemberRequest.with {
            $0.dealID = deal.id; $0.personID = cto.id
        })
        #expect(try await coverage(world, deal.id).gaps.map(\.kind).contains(.noPrimaryContact))
    }

    @Test func dealsMissingARolePaginated() async throws {
        let world = try await B2BWorld.start()
        let pipeline = try await world.dealPipeline()
        let seller = try await world.seller()
        let buyer = try await world.buyer()
        var deals: [BDeal] = []
        for i in 0..<5 { deals.append(try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id,
                                                                 name: "Deal \(i)", owner: i == 0 ? "ann" : "")) }
        let buyerPerson = try await world.contacts.createPerson("Ed", "Buyer", organization: buyer.id)
        let outsider = try await world.contacts.createPerson("Olga", "Outside")
        _ = try await seat(world, deals[1].id, buyerPerson.id, [.economicBuyer])
        _ = try await seat(world, deals[3].id, outsider.id, [.economicBuyer])  // not at the buyer: does not count
        _ = try await world.move(world.admin, deals[4].id, to: "lost", reason: "no budget")  // not open
        let first = try await missing(world, .economicBuyer, pageSize: 2)
        #expect(first.deals.map(\.id) == [deals[0].id, deals[2].id] && !first.nextPageToken.isEmpty)
        let second = try await missing(world, .economicBuyer, pageSize: 2, token: first.nextPageToken)
        #expect(second.deals.map(\.id) == [deals[3].id] && second.nextPageToken.isEmpty)
        #expect(try await missing(world, .economicBuyer, as: world.ann).deals.map(\.id) == [deals[0].id], "in the caller's scope")
        await expectRPCError(.invalidArgument, mentioning: "role is not a committee role") { try await missing(world, .unspecified) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await missing(world, .champion, token: "x") }
    }

    /// Merges: the survivor takes the merged person's seats, never two on
    /// one deal. Erasure: the seat goes, the deal stays. GDPR export lists seats.
    @Test func mergesErasureAndExport() async throws {
        let world = try await B2BWorld.start(users: [])
        let pipeline = try await world.dealPipeline()
        let seller = try await world.seller()
        let buyer = try await world.buyer()
        let one = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id, name: "One")
        let two = try await world.createDeal(world.admin, pipeline: pipeline.id, seller: seller.id, buyer: buyer.id, name: "Two")
        let grace = try await world.contacts.createPerson("Grace", "Hopper", organization: buyer.id)
        let twin = try await world.contacts.createPerson("Grace", "Hopper", organization: buyer.id)
        _ = try await seat(world, one.id, grace.id, [.champion], primary: true)
        _ = try await seat(world, one.id, twin.id, [.legal])
        _ = try await seat(world, two.id, twin.id, [.procurement])
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = twin.id })
        let part = try #require(export.modules.first { $0.module == "b2b" })
        #expect(part.records.filter { $0.typeName == "crm.b2b.v1.CommitteeMember" }.count == 2)
        _ = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = grace.id; $0.mergedID = twin.id
        }, as: CPerson.self)
        #expect(try await eventually { try await committee(world, two.id).map(\.personID) == [grace.id] })
        let seats = try await committee(world, one.id)
        #expect(seats.map(\.personID) == [grace.id], "one seat: no duplicate")
        #expect(seats[0].roles == [.champion, .legal] && seats[0].primary)
        // Erasure: the seats go, the deals stay.
        _ = try await world.contacts.call("ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with {
            $0.id = grace.id; $0.reason = "GDPR request 9"
        }, as: Crm_Contacts_V1_ErasePersonResponse.self)
        #expect(try await eventually {
            let first = try await committee(world, one.id)
            let second = try await committee(world, two.id)
            return first.isEmpty && second.isEmpty
        })
        #expect(try await world.getDeal(world.admin, one.id).name == "One")
        let audit: Crm_Kernel_V1_ListAuditResponse = try await world.connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "b2b.committee"; $0.recordID = "\(one.id):\(grace.id)" })
        #expect(Set(audit.entries.map(\.action)).isSuperset(of: ["seat", "merge", "erase"]))
        let empty: Crm_Contacts_V1_ModuleData = try await world.connection.call(
            b2bService + "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = grace.id })
        #expect(empty.records.isEmpty)
    }
}
