import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Orders from the till: earning by the program's rules, once per order,
/// refunds that take back exactly what the refunded part earned, pending
/// points, the order history.
@Suite struct OrderTests {
    @Test func anOrderEarnsBySpendVisitItemRulesAndTheFirstOrderBonus() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram {
            $0.pointsPerVisit = 5
            $0.firstOrderBonus = 50
            $0.itemRules = [.with { $0.itemID = "latte"; $0.pointsPerUnit = 2 },
                            .with { $0.category = "merch"; $0.excludeFromSpend = true }]
        })
        let (person, account) = try await world.member("Ada")
        let lines = [orderLine("latte", 2, 350, category: "coffee", discount: 100, tax: 60), orderLine("mug", 1, 1200, category: "merch")]
        let first = try await world.loyalty.postOrder(person: person, ref: "T1-0001", lines: lines, key: "o1")
        // Spend 2 × 350 − 100 = 600 (the mug is excluded): 6; visit 5; latte 2 × 2 = 4; first order 50.
        #expect(first.order.pointsEarned == 65 && first.posting.kind == .earn && first.pointsAccount.balance == 65)
        #expect(first.order.total == 600 + 60 + 1200 && first.order.subtotal == 1900 && first.order.discountTotal == 100)
        #expect(first.order.taxTotal == 60 && first.order.lines.map(\.lineNumber) == [1, 2] && first.order.lines[0].total == 660)
        #expect(first.order.pointsAccountID == account && first.order.earnPostingID == first.posting.id)
        let lot = try #require(try await world.loyalty.lots(account).lots.first)
        #expect(lot.orderID == first.order.id && lot.points == 65 && !lot.pending)
        let second = try await world.loyalty.postOrder(person: person, lines: lines, key: "o2")
        #expect(second.order.pointsEarned == 15)
        // Anonymous, or in a currency without a program: recorded, nothing earned.
        let anonymous = try await world.loyalty.postOrder(lines: lines, key: "o3")
        let dollars = try await world.loyalty.postOrder(person: person, currency: "USD", lines: lines, key: "o4")
        #expect(anonymous.order.pointsEarned == 0 && anonymous.order.pointsAccountID == 0 && anonymous.posting.id == 0)
        #expect(dollars.order.pointsEarned == 0 && dollars.order.status == .posted)
        #expect(try await world.loyalty.account(account).balance == 80)
        try await world.expectClean()
    }

    /// Odoo PR #257854 and the same POS order posted twice: an order earns once.
    @Test func theSameOrderPostedTwiceEarnsOnce() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram())
        let (person, account) = try await world.member("Bo")
        let lines = [orderLine("flat-white", 1, 420)]
        let first = try await world.loyalty.postOrder(person: person, ref: "T1-7", lines: lines, key: "pos-7")
        let retry = try await world.loyalty.postOrder(person: person, ref: "T1-7", lines: lines, key: "pos-7")
        #expect(retry == first)
        await expectRPCError(.alreadyExists, mentioning: "order_ref \"T1-7\" is order \(first.order.id)") {
            _ = try await world.loyalty.postOrder(person: person, ref: "T1-7", lines: lines, key: "pos-7-again")
        }
        await expectRPCError(.failedPrecondition, mentioning: "pos-7") {
            _ = try await world.loyalty.postOrder(person: person, ref: "T1-8", lines: lines, key: "pos-7")
        }
        #expect(try await world.loyalty.account(account).balance == 4)
        #expect(try await world.loyalty.orders(person: person).orders.count == 1)
        try await world.expectClean()
    }

    /// Odoo PR #257854 and #212922: points of a refunded order survive,
    /// or come off twice. Here each refund takes back what its lines
    /// earned, once; a retried refund is a no-op.
    @Test func aRefundTakesBackWhatTheRefundedLinesEarnedExactlyOnce() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.pointsPerVisit = 10 })
        let (person, account) = try await world.member("Cy")
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("cake", 3, 500, tax: 1), orderLine("tea", 1, 250)],
                                                       key: "o")
        #expect(posted.order.pointsEarned == 27)  // 1,750 / 100 = 17, + 10 for the visit
        let order = posted.order.id

        let one = try await world.loyalty.refundOrder(order, lines: [(1, 1)], reason: "dropped", key: "r1")
        // The cakes' 1,501 spread over 3: the first refunded unit gives back 500.
        #expect(one.refund.amount == 500 && one.refund.lines.map(\.quantity) == [1])
        #expect(one.refund.pointsClawedBack == 5 && one.posting.kind == .clawback && one.posting.refundsPostingID == posted.posting.id)
        #expect(one.order.status == .partiallyRefunded && one.pointsAccount.balance == 22)
        #expect(try await world.loyalty.refundOrder(order, lines: [(1, 1)], reason: "dropped", key: "r1") == one)
        #expect(try await world.loyalty.account(account).balance == 22)

        let rest = try await world.loyalty.refundOrder(order, key: "r2")
        #expect(rest.refund.amount == 1001 + 250 && rest.refund.pointsClawedBack == 22)
        #expect(rest.order.status == .refunded && rest.order.refundedAmount == 1751 && rest.order.pointsClawedBack == 27)
        #expect(rest.order.refunds.count == 2 && rest.pointsAccount.balance == 0)
        await expectRPCError(.failedPrecondition, mentioning: "fully refunded") {
            _ = try await world.loyalty.refundOrder(order, key: "r3")
        }
        await expectRPCError(.failedPrecondition, mentioning: "refund the order instead") {
            _ = try await world.loyalty.reverse(posted.posting.id, key: "rev")
        }
        try await world.expectClean()
    }

    @Test func pointsAlreadySpentAreReportedAsNotRecovered() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram())
        let (person, account) = try await world.member("Di")
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("lunch", 1, 2000)], key: "o")
        _ = try await world.loyalty.redeemPoints(account, 15, key: "spend")
        let refund = try await world.loyalty.refundOrder(posted.order.id, key: "r")
        #expect(refund.refund.pointsClawedBack == 5 && refund.refund.pointsNotRecovered == 15 && refund.refund.amount == 2000)
        #expect(refund.order.pointsClawedBack == 20 && refund.pointsAccount.balance == 0)
        try await world.expectClean()
    }

    /// Points stay pending while the order may still be refunded.
    @Test func pendingPointsAreNotSpendableUntilTheirTime() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.pendingSeconds = 2 })
        let (person, account) = try await world.member("Ed")
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("dinner", 2, 1500)], key: "o")
        #expect(posted.pointsAccount.balance == 30 && posted.pointsAccount.pending == 30 && posted.pointsAccount.available == 0)
        #expect(posted.order.pointsAvailableUnixUs > nowMicros())
        await expectRPCError(.failedPrecondition, mentioning: "has 0 points available, 1 needed") {
            _ = try await world.loyalty.redeemPoints(account, 1, key: "early")
        }
        // A refund while pending takes the points from the order's own lot.
        let refund = try await world.loyalty.refundOrder(posted.order.id, lines: [(1, 1)], key: "r")
        #expect(refund.refund.pointsClawedBack == 15 && refund.refund.pointsNotRecovered == 0)
        #expect(try await eventually(timeout: 10) { try await world.loyalty.account(account).available == 15 })
        #expect(try await world.loyalty.account(account).pending == 0)
        _ = try await world.loyalty.redeemPoints(account, 15, key: "later")
        try await world.expectClean()
    }

    /// Points of an order that expired are gone already: its refund takes
    /// none of the customer's other points for them.
    @Test func aRefundAfterTheOrdersPointsExpiredTakesNothingElse() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram { $0.expirySeconds = 1 })
        let (person, account) = try await world.member("Ray", points: 100)
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("lunch", 1, 2000)], key: "o")
        #expect(posted.pointsAccount.balance == 120)
        #expect(try await eventually(timeout: 10) { try await world.loyalty.account(account).balance == 100 })
        let refund = try await world.loyalty.refundOrder(posted.order.id, key: "r")
        #expect(refund.refund.pointsClawedBack == 0 && refund.refund.pointsNotRecovered == 20 && refund.posting.id == 0)
        #expect(try await world.loyalty.account(account).balance == 100)
        try await world.expectClean()
    }

    @Test func bonusWindowsMultiplyAndCapsLimitPerOrderAndPerDay() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.loyalty.createProgram(cafeProgram {
            $0.timeZone = "Europe/Paris"
            $0.bonusWindows = [.with { $0.days = [1, 2, 3, 4, 5, 6, 7]; $0.startMinute = 0; $0.endMinute = 1440; $0.multiplierPercent = 250 }]
            $0.maxPointsPerOrder = 30
            $0.maxPointsPerDay = 50
        })
        let (person, _) = try await world.member("Flo")
        let lines = [orderLine("brunch", 1, 1600)]  // 16 × 2.5 = 40
        // Every order at the last Paris noon, so all fall on one local day.
        var paris = Calendar(identifier: .gregorian)
        paris.timeZone = try #require(TimeZone(identifier: "Europe/Paris"))
        let today = paris.date(bySettingHour: 12, minute: 0, second: 0, of: Date())!
        let noon = today > Date() ? paris.date(byAdding: .day, value: -1, to: today)! : today
        let placed = Int64(noon.timeIntervalSince1970) * 1_000_000
        let a = try await world.loyalty.postOrder(person: person, lines: [orderLine("coffee", 1, 300)], placed: placed, key: "a")
        #expect(a.order.pointsEarned == 7, "3 × 2.5, rounded down")
        let b = try await world.loyalty.postOrder(person: person, lines: lines, placed: placed, key: "b")
        #expect(b.order.pointsEarned == 30, "capped per order")
        let c = try await world.loyalty.postOrder(person: person, lines: lines, placed: placed, key: "c")
        #expect(c.order.pointsEarned == 13, "what the day's 50 leaves")
        let d = try await world.loyalty.postOrder(person: person, lines: lines, placed: placed, key: "d")
        #expect(d.order.pointsEarned == 0 && d.posting.id == 0)
        // A refund frees the day's allowance, and takes back only what the capped order earned.
        let refund = try await world.loyalty.refundOrder(b.order.id, key: "rb")
        #expect(refund.refund.pointsClawedBack == 30)
        #expect(try await world.loyalty.postOrder(person: person, lines: lines, placed: placed, key: "e").order.pointsEarned == 30)
        try await world.expectClean()
    }

    @Test func theHistoryListsAPersonsOrdersNewestFirstAPageAtATime() async throws {
        let world = try LoyaltyWorld()
        let (person, _) = try await world.member("Gus")
        let hour: Int64 = 3_600_000_000
        let now = nowMicros()
        var ids: [Int64] = []
        for i in 1...3 {
            ids.append(try await world.loyalty.postOrder(person: person, lines: [orderLine("soup", 1, 700)],
                                                         placed: now - Int64(4 - i) * hour, location: "Rue 1", key: "h\(i)").order.id)
        }
        let anonymous = try await world.loyalty.postOrder(lines: [orderLine("soup", 1, 700)], key: "anon").order.id
        let page = try await world.loyalty.orders(person: person, pageSize: 2)
        #expect(page.orders.map(\.id) == [ids[2], ids[1]] && page.orders[0].lines.count == 1)
        let next = try await world.loyalty.orders(person: person, pageSize: 2, token: page.nextPageToken)
        #expect(next.orders.map(\.id) == [ids[0]] && next.nextPageToken.isEmpty)
        #expect(try await world.loyalty.orders(person: person, from: now - 2 * hour - 1, until: now).orders.map(\.id) == [ids[2], ids[1]])
        #expect(try await world.loyalty.orders().orders.map(\.id) == [anonymous, ids[2], ids[1], ids[0]])
        let one = try await world.loyalty.order(ids[0])
        #expect(one.location == "Rue 1" && one.personID == person && one.placedUnixUs == now - 3 * hour)
    }

    @Test func aMergeMovesTheHistoryAndAnErasureKeepsTheOrdersWithoutThePerson() async throws {
        let world = try LoyaltyWorld()
        let survivor = try await world.person("Hal")
        let merged = try await world.person("Hal2")
        let order = try await world.loyalty.postOrder(person: merged, lines: [orderLine("pie", 1, 400)],
                                                      tenders: [.external("card", 400, reference: "VISA 4242 auth 81723")], key: "o").order.id
        let _: CPerson = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor
            $0.mergedID = merged
        })
        #expect(try await eventually { try await world.loyalty.order(order).personID == survivor })
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = survivor })
        let part = try #require(export.modules.first { $0.module == "loyalty" })
        #expect(part.records.map(\.typeName) == ["crm.loyalty.v1.Order"])
        _ = try await world.loyalty.refundOrder(order, reason: "Hal said it was cold", key: "r")
        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = survivor; $0.reason = "request" })
        #expect(try await eventually { try await world.loyalty.order(order).personID == 0 })
        let kept = try await world.loyalty.order(order)
        #expect(kept.lines.count == 1 && kept.total == 400 && kept.refunds.first?.reason == "")
        #expect(kept.tenders.first?.reference == "" && kept.tenders.first?.method == "" && kept.tenders.first?.amount == 400)
    }

    /// A cashier posts and refunds orders and reads programs; changing a
    /// program and the menu report are not theirs. Orders land on the
    /// customer's timeline.
    @Test func aCashierPostsAndRefundsOrdersButMayNotChangeTheProgram() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"], arguments: ["--enable", "contacts,loyalty"])
        try await AccessSupport.createUser(crmd, "tess", roles: ["cashier"])
        let connection = try crmd.connect()
        let admin = LoyaltyClient(connection: connection)
        let till = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("tess"))
        let program = try await admin.createProgram(cafeProgram())
        let person = try await ContactsClient(connection: connection).createPerson("Tom", "Regular").id
        _ = try await till.pointsAccount(person: person)
        let posted = try await till.postOrder(person: person, lines: [orderLine("scone", 2, 300)], key: "o")
        #expect(posted.order.pointsEarned == 6 && posted.order.createdBy == "tess")
        _ = try await till.refundOrder(posted.order.id, lines: [(1, 1)], key: "r")
        #expect(try await till.program(program.id).id == program.id)
        await expectRPCError(.permissionDenied, mentioning: "loyalty.program.write") {
            _ = try await till.updateProgram(program.id, cafeProgram { $0.pointsPerVisit = 100 })
        }
        await expectRPCError(.permissionDenied, mentioning: "loyalty.report.read") {
            let _: Crm_Loyalty_V1_MenuReport = try await till.callOrders("GetMenuReport", Crm_Loyalty_V1_MenuReportRequest.with {
                $0.currency = "EUR"
            })
        }
        await expectRPCError(.permissionDenied, mentioning: "loyalty.expiry.run") {
            _ = try await till.expirePoints(posted.order.pointsAccountID)
        }
        let timeline = try await ContactsClient(connection: connection).timeline(person: person, atLeast: 4)
        let topics = timeline.map(\.topic)
        #expect(topics.contains("loyalty.order.posted") && topics.contains("loyalty.order.refunded"), "\(topics)")
    }

    @Test func badOrdersAreRefusedWithTheFieldNamed() async throws {
        let world = try LoyaltyWorld()
        let good = orderLine("tart", 2, 300)
        func expectBad(_ mentioning: String, person: Int64 = 0, currency: String = "EUR", lines: [LOrderLine], placed: Int64 = 0,
                       key: String = "k", sourceLocation: SourceLocation = #_sourceLocation) async {
            await expectRPCError(.invalidArgument, mentioning: mentioning, sourceLocation: sourceLocation) {
                _ = try await world.loyalty.postOrder(person: person, currency: currency, lines: lines, placed: placed, key: key)
            }
        }
        await expectBad("lines must hold at least one line", lines: [])
        await expectBad("lines[1].quantity", lines: [good, orderLine("tart", 0, 300)])
        await expectBad("lines[0].unit_price", lines: [orderLine("tart", 1, -1)])
        await expectBad("lines[0].discount", lines: [orderLine("tart", 2, 300, discount: 601)])
        await expectBad("lines[0].tax", lines: [orderLine("tart", 1, 300, tax: -2)])
        await expectBad("lines[0].item_id", lines: [orderLine(" ", 1, 300)])
        await expectBad("the order's total", lines: Array(repeating: orderLine("gold", 1_000_000, 1_000_000_000_000), count: 2))
        await expectBad("currency", currency: "eur", lines: [good])
        await expectBad("person_id", person: -3, lines: [good])
        await expectBad("placed_unix_us", lines: [good], placed: nowMicros() + 3_600_000_000)
        await expectBad("idempotency_key is required", lines: [good], key: "")
        await expectRPCError(.notFound, mentioning: "no person 4242") {
            _ = try await world.loyalty.postOrder(person: 4242, lines: [good], key: "ghost")
        }
        let order = try await world.loyalty.postOrder(lines: [good], key: "ok").order.id
        await expectRPCError(.invalidArgument, mentioning: "lines[0].line_number 9") {
            _ = try await world.loyalty.refundOrder(order, lines: [(9, 1)], key: "r1")
        }
        await expectRPCError(.invalidArgument, mentioning: "lines[0].quantity must be 1 to 2") {
            _ = try await world.loyalty.refundOrder(order, lines: [(1, 3)], key: "r2")
        }
        await expectRPCError(.invalidArgument, mentioning: "named twice") {
            _ = try await world.loyalty.refundOrder(order, lines: [(1, 1), (1, 1)], key: "r3")
        }
        await expectRPCError(.notFound, mentioning: "no order 999") { _ = try await world.loyalty.refundOrder(999, key: "r4") }
        await expectRPCError(.notFound, mentioning: "no order 999") { _ = try await world.loyalty.order(999) }
        await expectRPCError(.invalidArgument, mentioning: "person_id") { _ = try await world.loyalty.orders(person: -1) }
    }
}
