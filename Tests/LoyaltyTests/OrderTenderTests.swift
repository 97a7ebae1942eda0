import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Orders paid by gift card, house account, points and outside tenders,
/// in one transaction; refunds that return each tender exactly what it
/// paid, once (Odoo PR #212922: spent points came off twice on a refund).
@Suite struct OrderTenderTests {
    @Test func anOrderPaidByEveryTenderMovesEachLedgerAccountInOneTransaction() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.redeemPoints = 10; $0.redeemValue = 1 })
        let (person, points) = try await world.member("Ada", points: 500)
        let card = try await world.card(1_000)
        let house = try await world.loyalty.houseAccount(person: person).id
        _ = try await world.loyalty.setCreditLimit(house, 5_000)
        let posted = try await world.loyalty.postOrder(person: person, ref: "T-1", lines: [orderLine("lunch", 2, 1_500)], tenders: [
            .giftCard(card.id, 1_000), .house(house, 1_200), .points(25), .external("cash", 775),
        ], key: "o1")
        let tenders = posted.order.tenders
        let numbers: [Int32] = tenders.map(\.tenderNumber)
        let amounts: [Int64] = tenders.map(\.amount)
        #expect(numbers == [1, 2, 3, 4] && amounts == [1_000, 1_200, 25, 775])
        // 25 cents at 10 points a cent.
        #expect(tenders[2].points == 250 && tenders[2].accountID == points && tenders[2].kind == .points)
        #expect(tenders[0].accountID == card.id && tenders[1].houseAccountID == house && tenders[1].chargedByPersonID == person)
        #expect(tenders[3].method == "cash" && tenders[3].postingID == 0 && tenders.allSatisfy { $0.giftCardCode.isEmpty })
        #expect(try await world.loyalty.account(card.id).balance == 0)
        #expect(try await world.loyalty.account(house).balance == -1_200)
        // 500 − 250 spent, + 30 earned on 3,000 of spend: earning ignores how the order was paid.
        #expect(posted.order.pointsEarned == 30 && posted.pointsAccount.balance == 280)
        let redeem = try await world.loyalty.posting(tenders[2].postingID)
        #expect(redeem.kind == .redeem && redeem.entries.contains { $0.accountID == points && $0.amount == -250 })
        #expect(try await world.loyalty.order(posted.order.id).tenders == tenders)
        let statement = try await world.loyalty.statement(house)
        #expect(statement.charges == 1_200 && statement.lines.first?.orderRef == "T-1")
        try await world.expectClean()
    }

    @Test func oneRefusedTenderRefusesTheOrderAndMovesNothing() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.redeemPoints = 1; $0.redeemValue = 1 })
        let (person, points) = try await world.member("Bo", points: 100)
        let card = try await world.card(500)
        let house = try await world.loyalty.houseAccount(person: person).id
        _ = try await world.loyalty.setCreditLimit(house, 300)
        let lines = [orderLine("dinner", 1, 1_000)]
        await expectRPCError(.failedPrecondition, mentioning: "credit limit") {
            _ = try await world.loyalty.postOrder(person: person, ref: "D-1", lines: lines,
                                                  tenders: [.giftCard(card.id, 500), .points(100), .house(house, 400)], key: "d1")
        }
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance") {
            _ = try await world.loyalty.postOrder(person: person, ref: "D-1", lines: lines,
                                                  tenders: [.giftCard(card.id, 500), .points(101), .house(house, 399)], key: "d2")
        }
        let dollars = try await world.card(2_000, currency: "USD")
        await expectRPCError(.failedPrecondition, mentioning: "in USD, the order in EUR") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, tenders: [.giftCard(dollars.id, 1_000)], key: "d3")
        }
        await expectRPCError(.notFound, mentioning: "no gift card with that code") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, tenders: [.giftCard(code: "0000-0000-0000-0000-0", 1_000)],
                                                  key: "d4")
        }
        #expect(try await world.loyalty.account(card.id).balance == 500)
        #expect(try await world.loyalty.account(points).balance == 100)
        #expect(try await world.loyalty.account(house).balance == 0)
        #expect(try await world.loyalty.orders(person: person).orders.isEmpty)
        // The same tenders within the limits go through, by code this time.
        let paid = try await world.loyalty.postOrder(person: person, ref: "D-1", lines: lines,
                                                     tenders: [.giftCard(code: card.code, 500), .points(100), .house(house, 300), .external("card", 100)],
                                                     key: "d5")
        #expect(paid.order.tenders[0].accountID == card.id && paid.order.tenders[0].giftCardCode.isEmpty)
        try await world.expectClean()
    }

    @Test func badTendersAreRefusedWithTheFieldNamed() async throws {
        let world = try LoyaltyWorld()
        let person = try await world.person("Cy")
        let lines = [orderLine("tea", 1, 300)]
        let cases: [([LTender], String)] = [
            ([.external("cash", 200)], "tenders pay 200 in all; the order's total is 300"),
            ([.external("cash", 0)], "tenders[0].amount"),
            ([.external("", 300)], "tenders[0].method"),
            ([LTender.with { $0.amount = 300 }], "tenders[0].kind"),
            ([.with { $0.kind = .giftCard; $0.amount = 300 }], "exactly one of gift_card_id and gift_card_code"),
            ([.with { $0.kind = .giftCard; $0.amount = 300; $0.giftCardID = 1; $0.method = "cash" }],
             "tenders[0].method is not for a GIFT_CARD tender"),
            ([.with { $0.kind = .houseAccount; $0.amount = 300 }], "tenders[0].house_account_id"),
            ([.with { $0.kind = .points; $0.amount = 300; $0.houseAccountID = 4 }], "house_account_id is not for a POINTS tender"),
            ([.giftCard(code: "not a code", 300)], "tenders[0].gift_card_code"),
            ([.with { $0.kind = .giftCard; $0.amount = 300; $0.giftCardID = 1; $0.chargedByPersonID = 2 }],
             "tenders[0].charged_by_person_id is not for a GIFT_CARD tender"),
            (Array(repeating: .external("cash", 30), count: 11), "more than 10 tenders"),
        ]
        for (tenders, message) in cases {
            await expectRPCError(.invalidArgument, mentioning: message) {
                _ = try await world.loyalty.postOrder(person: person, lines: lines, tenders: tenders, key: "k-\(message)")
            }
        }
        await expectRPCError(.invalidArgument, mentioning: "needs the order's person_id") {
            _ = try await world.loyalty.postOrder(lines: lines, tenders: [.points(300)], key: "anon")
        }
        await expectRPCError(.failedPrecondition, mentioning: "no points account") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, tenders: [.points(300)], key: "no-account")
        }
        _ = try await world.loyalty.pointsAccount(person: person)
        await expectRPCError(.failedPrecondition, mentioning: "redeem_points") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, tenders: [.points(300)], key: "no-program")
        }
        #expect(try await world.loyalty.orders().orders.isEmpty)
    }

    /// Every refund splits its amount over what the tenders have left;
    /// together the refunds return each tender exactly what it paid, and
    /// a refund retried returns nothing again.
    @Test func refundsReturnEachTenderExactlyWhatItPaidOnce() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.redeemPoints = 3; $0.redeemValue = 1 })
        let (person, points) = try await world.member("Di", points: 1_000)
        let card = try await world.card(700)
        let house = try await world.loyalty.houseAccount(person: person).id
        _ = try await world.loyalty.setCreditLimit(house, 5_000)
        // 7 units of 100: paid 300 by card, 300 on account, 100 in points (300 points).
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("scone", 7, 100)],
                                                       tenders: [.giftCard(card.id, 300), .house(house, 300), .points(100)], key: "o")
        let before = try await world.loyalty.account(points).balance
        var returned: [Int64] = [0, 0, 0]
        var pointsBack: Int64 = 0
        for unit in 1...7 {
            let refund = try await world.loyalty.refundOrder(posted.order.id, lines: [(1, 1)], key: "r\(unit)")
            let amounts = refund.refund.tenderReturns.map(\.amount)
            #expect(amounts.reduce(0, +) == 100, "refund \(unit) returned \(amounts)")
            #expect(try await world.loyalty.refundOrder(posted.order.id, lines: [(1, 1)], key: "r\(unit)") == refund)
            for back in refund.refund.tenderReturns {
                returned[Int(back.tenderNumber) - 1] += back.amount
                pointsBack += back.points
                #expect(!back.payOut && back.postingID > 0)
                #expect(try await world.loyalty.posting(back.postingID).kind == .refund)
            }
            let paid: [Int64] = [300, 300, 100]
            #expect(zip(returned, paid).allSatisfy { $0 <= $1 })
        }
        #expect(returned == [300, 300, 100])
        #expect(pointsBack == 300)
        let after = try await world.loyalty.order(posted.order.id)
        let returnedAmounts: [Int64] = after.tenders.map(\.returnedAmount)
        #expect(after.status == .refunded && returnedAmounts == [300, 300, 100] && after.tenders[2].returnedPoints == 300)
        #expect(try await world.loyalty.account(card.id).balance == 700)
        #expect(try await world.loyalty.account(house).balance == 0)
        // The spent 300 came back; the 7 the order earned went back too.
        #expect(try await world.loyalty.account(points).balance == before + 300 - posted.order.pointsEarned)
        await expectRPCError(.failedPrecondition, mentioning: "fully refunded") {
            _ = try await world.loyalty.refundOrder(posted.order.id, key: "r-again")
        }
        let statement = try await world.loyalty.statement(house)
        #expect(statement.charges == 300 && statement.other == 300 && statement.closingBalance == 0)
        try await world.expectClean()
    }

    @Test func whatATenderCannotTakeBackIsAPayOut() async throws {
        let world = try LoyaltyWorld()
        let person = try await world.person("Ed")
        let card = try await world.card(1_000)
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("cake", 2, 400)],
                                                       tenders: [.giftCard(card.id, 400), .external("cash", 400, reference: "Z-9")], key: "o")
        _ = try await world.loyalty.voidCard(card.id, key: "void")
        let refund = try await world.loyalty.refundOrder(posted.order.id, key: "r")
        let returns = refund.refund.tenderReturns
        let payOuts: [Bool] = returns.map(\.payOut)
        let postings: [Int64] = returns.map(\.postingID)
        let amounts: [Int64] = returns.map(\.amount)
        #expect(payOuts == [true, true] && postings == [0, 0])
        #expect(amounts == [400, 400] && refund.order.status == .refunded)
        #expect(try await world.loyalty.account(card.id).balance == 0)
        #expect(refund.order.tenders[1].reference == "Z-9")
        try await world.expectClean()
    }

    /// A tender's posting is put right by refunding the order, never on its
    /// own: otherwise the order's refund would give it back a second time.
    @Test func aTendersPostingCannotBeReversedOrRefundedOnItsOwn() async throws {
        let world = try LoyaltyWorld()
        let person = try await world.person("Flo")
        let card = try await world.card(500)
        let house = try await world.loyalty.houseAccount(person: person).id
        _ = try await world.loyalty.setCreditLimit(house, 5_000)
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("tart", 1, 600)],
                                                       tenders: [.giftCard(card.id, 500), .house(house, 100)], key: "o")
        for tender in posted.order.tenders {
            await expectRPCError(.failedPrecondition, mentioning: "pays order \(posted.order.id); refund the order instead") {
                _ = try await world.loyalty.reverse(tender.postingID, key: "rev-\(tender.tenderNumber)")
            }
        }
        await expectRPCError(.failedPrecondition, mentioning: "refund the order instead") {
            _ = try await world.loyalty.refund(card.id, posting: posted.order.tenders[0].postingID, key: "card-refund")
        }
        #expect(try await world.loyalty.account(card.id).balance == 0)
        try await world.expectClean()
    }

    /// A till allowed only to post orders cannot spend a card, a house
    /// account or points through a tender: each needs its own permission.
    @Test func aTenderNeedsThePermissionOfTheSpendItMakes() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"], arguments: ["--enable", "contacts,loyalty"])
        let connection = try crmd.connect()
        _ = try await connection.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "kiosk"
            $0.permissions = [.with { $0.permission = "loyalty.order.post"; $0.scope = .all },
                              .with { $0.permission = "contacts.person.read"; $0.scope = .all }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(crmd, "kim", roles: ["kiosk"])
        try await AccessSupport.createUser(crmd, "tess", roles: ["cashier"])
        let admin = LoyaltyClient(connection: connection)
        let kiosk = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("kim"))
        let till = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("tess"))
        _ = try await admin.createProgram(cafeProgram { $0.redeemPoints = 1; $0.redeemValue = 1 })
        let person = try await ContactsClient(connection: connection).createPerson("Kay", "Kiosk").id
        let points = try await admin.pointsAccount(person: person).id
        _ = try await admin.earn(points, 500, key: "seed")
        let card = try #require(try await admin.issueDigital(500, key: "card").cards.first)
        let house = try await admin.houseAccount(person: person).id
        _ = try await admin.setCreditLimit(house, 5_000)
        let lines = [orderLine("tea", 1, 300)]
        for (tender, permission) in [(LTender.giftCard(card.id, 300), "loyalty.gift_card.redeem"),
                                     (.house(house, 300), "loyalty.house_account.charge"), (.points(300), "loyalty.points.redeem")] {
            await expectRPCError(.permissionDenied, mentioning: "needs the permission \(permission)") {
                _ = try await kiosk.postOrder(person: person, lines: lines, tenders: [tender], key: "k-\(permission)")
            }
        }
        _ = try await kiosk.postOrder(person: person, lines: lines, tenders: [.external("cash", 300)], key: "k-cash")
        // The cashier holds all three.
        _ = try await till.postOrder(person: person, lines: [orderLine("tea", 3, 300)],
                                     tenders: [.giftCard(card.id, 300), .house(house, 300), .points(300)], key: "t")
        let cardBalance = try await admin.account(card.id).balance
        let houseBalance = try await admin.account(house).balance
        #expect(cardBalance == 200 && houseBalance == -300)
        let report = try await admin.reconcile()
        #expect(report.clean, "\(report.mismatches)")
    }

    /// The points a refund gives back to a POINTS tender are there for the
    /// clawback of what the order earned: the customer who spent the
    /// order's points keeps no free points.
    @Test func aRefundGivesBackBeforeItTakesBack() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.redeemPoints = 1; $0.redeemValue = 1 })
        let (person, points) = try await world.member("Lee", points: 1_000)
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("menu", 1, 1_000)], tenders: [.points(1_000)], key: "o")
        #expect(posted.order.pointsEarned == 10 && posted.pointsAccount.balance == 10)
        _ = try await world.loyalty.redeemPoints(points, 10, key: "spend-them")
        let refund = try await world.loyalty.refundOrder(posted.order.id, key: "r")
        #expect(refund.refund.tenderReturns.first?.points == 1_000)
        #expect(refund.refund.pointsClawedBack == 10 && refund.refund.pointsNotRecovered == 0)
        #expect(try await world.loyalty.account(points).balance == 990)
        try await world.expectClean()
    }

    /// A member's monthly limit counts what refunds gave back; the points
    /// tender's posting, as the others', is put right only by the refund.
    @Test func aRefundFreesTheMembersMonthAndAPointsTenderIsTheOrders() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.redeemPoints = 1; $0.redeemValue = 1 })
        let firm = try await world.contacts.createOrganization("Firm").id
        let (ann, _) = try await world.member("Ann", points: 100)
        let account = try await world.loyalty.houseAccount(organization: firm).id
        _ = try await world.loyalty.setCreditLimit(account, 10_000)
        _ = try await world.loyalty.setMember(account, ann, monthlyLimit: 1_000)
        let posted = try await world.loyalty.postOrder(person: ann, lines: [orderLine("lunch", 1, 1_000)],
                                                       tenders: [.house(account, 900), .points(100)], key: "o")
        #expect(posted.order.tenders[0].chargedByPersonID == ann)
        await expectRPCError(.failedPrecondition, mentioning: "monthly limit") {
            _ = try await world.loyalty.charge(account, 200, by: ann, key: "c1")
        }
        await expectRPCError(.failedPrecondition, mentioning: "pays order \(posted.order.id)") {
            _ = try await world.loyalty.reverse(posted.order.tenders[1].postingID, key: "rev")
        }
        _ = try await world.loyalty.refundOrder(posted.order.id, key: "r")
        #expect(try await world.loyalty.members(account).members.first?.spentThisMonth == 0)
        _ = try await world.loyalty.charge(account, 1_000, by: ann, key: "c2")
        await expectRPCError(.invalidArgument, mentioning: "tenders[0].charged_by_person_id is required") {
            _ = try await world.loyalty.postOrder(lines: [orderLine("tea", 1, 300)], tenders: [.house(account, 300)], key: "anon")
        }
        await expectRPCError(.notFound, mentioning: "no house account \(posted.order.tenders[1].accountID) (tenders[0].house_account_id)") {
            _ = try await world.loyalty.postOrder(person: ann, lines: [orderLine("tea", 1, 300)],
                                                  tenders: [.house(posted.order.tenders[1].accountID, 300)], key: "points-as-house")
        }
        try await world.expectClean()
    }
}
