import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Roles, the customer timeline, the audit trail, GDPR and merges.
@Suite struct LoyaltyAccessTests {
    @Test func aCashierChargesAndRedeemsButMayNotAdjustReverseOrVoid() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"], arguments: ["--enable", "contacts,loyalty"])
        try await AccessSupport.createUser(crmd, "tess", roles: ["cashier"])
        let connection = try crmd.connect()
        let till = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("tess"))
        let account = try await till.pointsAccount().id
        let earned = try await till.earn(account, 40, key: "e")
        _ = try await till.redeemPoints(account, 10, key: "r")
        let card = try #require(try await till.issueDigital(2000, key: "sell").cards.first)
        let hold = try await till.authorize(card: card.id, 500, key: "auth")
        _ = try await till.capture(hold.id, key: "cap")
        _ = try await till.redeem(card: card.id, 100, key: "spend")
        await expectRPCError(.permissionDenied, mentioning: "loyalty.balance.adjust") { try await till.adjust(account, 1000, key: "a") }
        await expectRPCError(.permissionDenied, mentioning: "loyalty.posting.reverse") { try await till.reverse(earned.posting.id, key: "v") }
        await expectRPCError(.permissionDenied, mentioning: "loyalty.gift_card.void") { try await till.voidCard(card.id, key: "v") }
        await expectRPCError(.permissionDenied, mentioning: "loyalty.ledger.reconcile") { try await till.reconcile() }
        #expect(try await till.account(account).balance == 30)
        // An administrator may adjust; the adjustment names its reason.
        let admin = LoyaltyClient(connection: connection)
        let adjusted = try await admin.adjust(account, -5, reason: "goodwill correction", key: "a")
        #expect(adjusted.account.balance == 25 && adjusted.posting.reason == "goodwill correction")
        // The trail says who moved what.
        let trail: Crm_Kernel_V1_ListAuditResponse = try await connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "loyalty.account"; $0.recordID = "\(account)" },
            as: Crm_Kernel_V1_ListAuditResponse.self)
        #expect(trail.entries.map(\.action).sorted() == ["adjust", "create", "earn", "redeem"])
        #expect(trail.entries.first { $0.action == "earn" }?.user == "tess")
    }

    @Test func ledgerEventsLandOnTheCardHoldersTimeline() async throws {
        let world = try LoyaltyWorld()
        let person = try await world.person("Lou")
        let account = try await world.loyalty.pointsAccount(person: person).id
        _ = try await world.loyalty.earn(account, 25, key: "e")
        let card = try #require(try await world.loyalty.issueDigital(1500, person: person, key: "gift").cards.first)
        _ = try await world.loyalty.redeem(card: card.id, 250, key: "r")
        // The timeline fills after commit, in no promised order across topics: wait for the last one.
        var entries = try await world.contacts.timeline(person: person, atLeast: 4)
        let until = Date().addingTimeInterval(20)
        while !entries.contains(where: { $0.topic == "loyalty.gift_card.redeemed" }) && Date() < until {
            try await Task.sleep(for: .milliseconds(20))
            entries = try await world.contacts.timeline(person: person, atLeast: 4)
        }
        let topics = entries.map(\.topic)
        #expect(topics.contains("loyalty.account.created") && topics.contains("loyalty.points.earned"))
        #expect(topics.contains("loyalty.gift_card.issued") && topics.contains("loyalty.gift_card.redeemed"))
        let redeemed = try #require(entries.first { $0.topic == "loyalty.gift_card.redeemed" })
        #expect(redeemed.summary.contains("2.50 EUR redeemed"))
        let event = try Crm_Loyalty_V1_LedgerEvent(serializedBytes: redeemed.payload)
        #expect(event.about.personIds == [person] && event.account.id == card.id && event.posting.kind == .redeem)
    }

    @Test func gdprExportHoldsTheAccountsAndErasureKeepsTheLedgerBalanced() async throws {
        let world = try LoyaltyWorld()
        let person = try await world.person("Mo")
        let account = try await world.loyalty.pointsAccount(person: person).id
        _ = try await world.loyalty.earn(account, 60, key: "e", reason: "order for Mo Regular")
        let card = try #require(try await world.loyalty.issueDigital(800, person: person, key: "gift").cards.first)
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = person })
        let part = try #require(export.modules.first { $0.module == "loyalty" })
        #expect(part.records.map(\.typeName) == ["crm.loyalty.v1.Account", "crm.loyalty.v1.Entry", "crm.loyalty.v1.PointLot",
                                                 "crm.loyalty.v1.Account", "crm.loyalty.v1.GiftCard", "crm.loyalty.v1.Entry"])
        let exportedCard = try Crm_Loyalty_V1_GiftCard(serializedBytes: part.records[4].payload)
        #expect(exportedCard.balance == 800 && exportedCard.code.isEmpty)

        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = person; $0.reason = "request 9" })
        #expect(try await eventually { try await world.loyalty.account(account).personID == 0 })
        #expect(try await world.loyalty.account(card.id).personID == 0)
        // The amounts stay, balanced; what named the person is gone.
        #expect(try await world.loyalty.account(account).balance == 60)
        #expect(try await world.loyalty.entries(account).entries.count == 1)
        #expect(try world.database.rows("SELECT count(*) FROM loyalty_postings WHERE reason LIKE '%Mo Regular%'") == [["0"]])
        try await world.expectClean()
    }

    @Test func aPersonMergeMovesTheirAccountsToTheSurvivor() async throws {
        let world = try LoyaltyWorld()
        let survivor = try await world.person("Ned")
        let merged = try await world.person("Ned2")
        let account = try await world.loyalty.pointsAccount(person: merged).id
        _ = try await world.loyalty.earn(account, 15, key: "e")
        let _: CPerson = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor
            $0.mergedID = merged
        })
        #expect(try await eventually { try await world.loyalty.account(account).personID == survivor })
        let listed: Crm_Loyalty_V1_ListAccountsResponse = try await world.loyalty.call(
            "ListAccounts", Crm_Loyalty_V1_ListAccountsRequest.with { $0.personID = survivor })
        #expect(listed.accounts.map(\.id) == [account] && listed.accounts[0].balance == 15)
    }
}

/// Record scope: a role whose loyalty grants reach its own accounts only.
@Suite struct LoyaltyScopeTests {
    @Test func anAccountOutOfScopeIsNotFoundToReadAndRefusedToWrite() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"])
        let connection = try crmd.connect()
        _ = try await connection.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "front_desk"
            $0.permissions = ["loyalty.account.*", "loyalty.points.*", "loyalty.ledger.read", "loyalty.gift_card.*"].map { name in
                .with { $0.permission = name; $0.scope = .own }
            }
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(crmd, "ann", roles: ["front_desk"])
        try await AccessSupport.createUser(crmd, "ben", roles: ["front_desk"])
        let ann = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("ann"))
        let ben = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("ben"))
        let account = try await ann.pointsAccount()
        #expect(account.owner == "ann")
        let earned = try await ann.earn(account.id, 10, key: "e")
        await expectRPCError(.notFound, mentioning: "no account \(account.id)") { try await ben.account(account.id) }
        await expectRPCError(.notFound, mentioning: "no account \(account.id)") { try await ben.entries(account.id) }
        await expectRPCError(.notFound, mentioning: "no posting \(earned.posting.id)") { try await ben.posting(earned.posting.id) }
        await expectRPCError(.permissionDenied, mentioning: "outside your record scope") { try await ben.earn(account.id, 5, key: "b") }
        let listed: Crm_Loyalty_V1_ListAccountsResponse = try await ben.call("ListAccounts", Crm_Loyalty_V1_ListAccountsRequest())
        #expect(listed.accounts.isEmpty)
        let card = try #require(try await ann.issueDigital(500, key: "c").cards.first)
        await expectRPCError(.notFound, mentioning: "no gift card \(card.id)") { try await ben.card(card.id) }
        await expectRPCError(.permissionDenied, mentioning: "outside your record scope") { try await ben.redeem(card: card.id, 1, key: "r") }
        // By code, a card out of scope is one more unknown code.
        await expectRPCError(.notFound, mentioning: "no gift card with that code") { try await ben.lookup(card.code) }
        #expect(try await ann.account(account.id).balance == 10)
    }
}
