import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// House accounts at many tills at once, in the cashier's hands, on the
/// timeline, and through GDPR export, erasure and merges.
@Suite struct HouseAccountAccessTests {
    /// Two POS orders debited the same eWallet (Odoo PR #205057). Here 64
    /// charges at once by two members never pass either member's monthly
    /// limit or the account's credit limit.
    @Test func sixtyFourConcurrentChargesNeverPassTheCreditOrAMembersLimit() async throws {
        let world = try LoyaltyWorld()
        let firm = try await world.contacts.createOrganization("Busy Co").id
        let ann = try await world.person("Ann")
        let bob = try await world.person("Bob")
        let account = try await world.loyalty.houseAccount(organization: firm).id
        _ = try await world.loyalty.setCreditLimit(account, 6000)
        _ = try await world.loyalty.setMember(account, ann, monthlyLimit: 4000)
        _ = try await world.loyalty.setMember(account, bob, monthlyLimit: 4000)
        let loyalty = world.loyalty
        let accepted = await withTaskGroup(of: (Int64, Int64)?.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let member = i % 2 == 0 ? ann : bob
                    do {
                        let result = try await loyalty.charge(account, 300, by: member, key: "c\(i)")
                        #expect(result.account.balance >= -6000)
                        return (member, 300)
                    } catch let error as RPCError {
                        #expect(error.code == .failedPrecondition && (error.message.contains("monthly limit")
                            || error.message.contains("credit limit")), "\(error)")
                        return nil
                    } catch {
                        Issue.record("\(error)")
                        return nil
                    }
                }
            }
            var all: [(Int64, Int64)] = []
            for await result in group { if let result { all.append(result) } }
            return all
        }
        let byAnn = accepted.filter { $0.0 == ann }.map(\.1).reduce(0, +)
        let byBob = accepted.filter { $0.0 == bob }.map(\.1).reduce(0, +)
        #expect(byAnn <= 4000 && byBob <= 4000 && byAnn + byBob <= 6000)
        #expect(byAnn + byBob == 6000, "the tills together should exhaust the credit limit (20 charges of 300)")
        #expect(try await world.loyalty.account(account).balance == -(byAnn + byBob))
        let spent = try await world.loyalty.members(account).members.map(\.spentThisMonth)
        #expect(spent == [byAnn, byBob])
        try await world.expectClean()
    }

    @Test func aCashierChargesAndTakesPaymentsButMayNotSetLimitsOrMembers() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"], arguments: ["--enable", "contacts,loyalty"])
        try await AccessSupport.createUser(crmd, "tess", roles: ["cashier"])
        let connection = try crmd.connect()
        let till = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("tess"))
        let admin = LoyaltyClient(connection: connection)
        let guest = try await ContactsClient(connection: connection).createPerson("Gus", "Guest").id
        let account = try await till.houseAccount(person: guest).id
        _ = try await till.payIn(account, 2000, key: "dep")
        _ = try await till.charge(account, 1500, order: "T1", key: "c1")
        #expect(try await till.statement(account).charges == 1500)
        await expectRPCError(.permissionDenied, mentioning: "loyalty.house_account.credit") { try await till.setCreditLimit(account, 100_000) }
        let other = try await ContactsClient(connection: connection).createPerson("Oli", "Other").id
        await expectRPCError(.permissionDenied, mentioning: "loyalty.house_account.manage") { try await till.setMember(account, other) }
        await expectRPCError(.failedPrecondition, mentioning: "credit limit") { try await till.charge(account, 600, key: "c2") }
        // The manager's part, then the till's again.
        _ = try await admin.setCreditLimit(account, 1000, reason: "regular since 2019")
        _ = try await till.charge(account, 600, key: "c2")
        let trail: Crm_Kernel_V1_ListAuditResponse = try await connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "loyalty.account"; $0.recordID = "\(account)" },
            as: Crm_Kernel_V1_ListAuditResponse.self)
        #expect(trail.entries.map(\.action).sorted() == ["charge", "charge", "create", "pay_in", "set_credit_limit"])
        #expect(trail.entries.first { $0.action == "pay_in" }?.user == "tess")
    }

    @Test func chargesLandOnTheMembersAndTheCompanysTimelines() async throws {
        let world = try LoyaltyWorld()
        let firm = try await world.contacts.createOrganization("Timeline Ltd").id
        let ann = try await world.person("Ann")
        let account = try await world.loyalty.houseAccount(organization: firm).id
        _ = try await world.loyalty.setCreditLimit(account, 10_000)
        _ = try await world.loyalty.setMember(account, ann)
        _ = try await world.loyalty.charge(account, 1250, by: ann, order: "B-9", key: "c")
        // Her own creation, the membership and the charge.
        let mine = try await world.contacts.timeline(person: ann, atLeast: 3)
        let charged = try #require(mine.first { $0.topic == "loyalty.house_account.charged" })
        #expect(charged.summary == "12.50 EUR charged to the house account (order B-9)")
        let event = try Crm_Loyalty_V1_HouseAccountEvent(serializedBytes: charged.payload)
        #expect(event.member.personID == ann && event.member.spentThisMonth == 1250 && event.posting.kind == .charge)
        #expect(event.about.organizationIds == [firm] && event.about.personIds == [ann])
        let company = try await world.contacts.timeline(organization: firm, atLeast: 4)
        #expect(company.map(\.topic).contains("loyalty.house_account.charged"))
    }

    @Test func exportErasureAndMergeFollowTheMember() async throws {
        let world = try LoyaltyWorld()
        let firm = try await world.contacts.createOrganization("Merge Inc").id
        let ann = try await world.person("Ann")
        let ann2 = try await world.person("Ann2")
        let bea = try await world.person("Bea")
        let account = try await world.loyalty.houseAccount(organization: firm).id
        _ = try await world.loyalty.setCreditLimit(account, 10_000)
        _ = try await world.loyalty.setMember(account, ann2, monthlyLimit: 2000)
        _ = try await world.loyalty.setMember(account, bea)
        _ = try await world.loyalty.charge(account, 800, by: ann2, order: "M-1", key: "a")
        _ = try await world.loyalty.charge(account, 300, by: bea, memo: "for Bea Regular's birthday", key: "b")
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = bea })
        let part = try #require(export.modules.first { $0.module == "loyalty" })
        #expect(part.records.map(\.typeName) == ["crm.loyalty.v1.HouseMember", "crm.loyalty.v1.StatementLine"])
        #expect(try Crm_Loyalty_V1_StatementLine(serializedBytes: part.records[1].payload).amount == -300)

        // Ann2 merged into Ann: the membership, its limit and its spending follow.
        let _: CPerson = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = ann; $0.mergedID = ann2
        })
        #expect(try await eventually { try await world.loyalty.members(account).members.map(\.personID).contains(ann) })
        let moved = try #require(try await world.loyalty.members(account).members.first { $0.personID == ann })
        #expect(moved.monthlyLimit == 2000 && moved.spentThisMonth == 800)
        await expectRPCError(.failedPrecondition, mentioning: "monthly limit") { try await world.loyalty.charge(account, 1300, by: ann, key: "a2") }

        // Bea erased: no membership, her charge keeps its amount, not her name.
        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = bea; $0.reason = "request 12" })
        #expect(try await eventually { try await world.loyalty.members(account, includeRemoved: true).members.map(\.personID) == [ann] })
        let lines = try await world.loyalty.statement(account).lines
        #expect(lines.map(\.amount) == [-800, -300] && lines[1].personID == 0 && lines[1].reason.isEmpty)
        #expect(lines[0].personID == ann)
        try await world.expectClean()
    }
}
