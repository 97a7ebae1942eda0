import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Rewards: what points buy at the till, an amount or a percentage off or
/// a free item, taken off the order's lines before it is totalled, paid
/// for in points, and given back once what they were used on is refunded.
@Suite struct RewardTests {
    @Test func rewardsAreCheckedListedUpdatedAndRetired() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram()).id
        let cases: [(LReward, String)] = [
            (.freeItem(program, "", 100), "reward.item_id"),
            (.freeItem(0, "latte", 100), "reward.program_id"),
            (.freeItem(program, "latte", 0), "reward.points_cost must be 1 to 10^9"),
            (.with { $0.programID = program; $0.name = "x"; $0.pointsCost = 1 }, "reward.kind"),
            (.with { $0.programID = program; $0.name = "x"; $0.pointsCost = 1; $0.kind = .percentOff; $0.percentOff = 101 }, "reward.percent_off"),
            (.with { $0.programID = program; $0.name = "x"; $0.pointsCost = 1; $0.kind = .amountOff; $0.amountOff = 5; $0.itemID = "latte" },
             "reward.item_id is not for a AMOUNT_OFF reward"),
            (.with { $0.programID = program; $0.pointsCost = 1; $0.kind = .amountOff; $0.amountOff = 5 }, "reward.name"),
        ]
        for (reward, message) in cases {
            await expectRPCError(.invalidArgument, mentioning: message) { _ = try await world.loyalty.createReward(reward) }
        }
        await expectRPCError(.notFound, mentioning: "no program 99") { _ = try await world.loyalty.createReward(.freeItem(99, "latte", 1)) }
        let latte = try await world.loyalty.createReward(.freeItem(program, "latte", 100), key: "r1")
        #expect(try await world.loyalty.createReward(.freeItem(program, "latte", 100), key: "r1") == latte)
        let fiver = try await world.loyalty.createReward(.amountOff(program, 500, 250))
        #expect(latte.status == .active && latte.version == 1 && latte.kind == .freeItem && latte.name == "Free latte")
        var cheaper = latte
        cheaper.pointsCost = 80
        let updated = try await world.loyalty.updateReward(latte.id, cheaper, expectedVersion: 1)
        #expect(updated.pointsCost == 80 && updated.version == 2 && updated.kind == .freeItem)
        #expect(try await world.loyalty.updateReward(latte.id, cheaper, expectedVersion: 1) == updated, "a retry is answered")
        cheaper.pointsCost = 70
        await expectRPCError(.aborted, mentioning: "version") { _ = try await world.loyalty.updateReward(latte.id, cheaper, expectedVersion: 1) }
        let retired = try await world.loyalty.updateReward(fiver.id, retire: true)
        #expect(retired.status == .retired)
        await expectRPCError(.failedPrecondition, mentioning: "retired") { _ = try await world.loyalty.updateReward(fiver.id, cheaper) }
        #expect(try await world.loyalty.rewards(program: program).rewards.map(\.id) == [latte.id])
        let first = try await world.loyalty.rewards(includeRetired: true, pageSize: 1)
        let second = try await world.loyalty.rewards(includeRetired: true, pageSize: 1, token: first.nextPageToken)
        #expect(first.rewards.map(\.id) == [latte.id] && second.rewards.map(\.id) == [fiver.id] && second.nextPageToken.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "program_id") { _ = try await world.loyalty.rewards(program: -1) }
    }

    @Test func rewardsComeOffTheLinesBeforeTheOrderIsTotalledPaidAndEarned() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram()).id
        let latte = try await world.loyalty.createReward(.freeItem(program, "latte", 100))
        let fiver = try await world.loyalty.createReward(.amountOff(program, 500, 250))
        let tenth = try await world.loyalty.createReward(.percentOff(program, 10, max: 150, 50))
        let (person, points) = try await world.member("Gus", points: 1_000)
        let lines = [orderLine("latte", 2, 350, tax: 70), orderLine("bagel", 1, 1_000), orderLine("cake", 1, 3_000)]
        let posted = try await world.loyalty.postOrder(person: person, lines: lines,
                                                       rewards: [.use(latte.id, line: 1), .use(fiver.id), .use(tenth.id, line: 3)],
                                                       tenders: [.external("card", 3_770)], key: "o")
        let order = posted.order
        // Latte: one of two free (350). Then 500 over the 350 : 1,000 : 3,000 left, rounded down (40, 114, 344) and the
        // remainder to the last line (346); then 10% of the cake's 2,654, capped at 150.
        let rewardDiscounts: [Int64] = order.lines.map(\.rewardDiscount)
        let lineTotals: [Int64] = order.lines.map(\.total)
        #expect(rewardDiscounts == [390, 114, 496])
        #expect(lineTotals == [380, 886, 2_504] && order.total == 3_770)
        let discounts: [Int64] = order.rewards.map(\.discount)
        let costs: [Int64] = order.rewards.map(\.points)
        #expect(discounts == [350, 500, 150] && costs == [100, 250, 50])
        #expect(order.discountTotal == 1_000 && order.subtotal == 4_700)
        // Earned on the discounted spend before tax, 4,700 − 1,000: 37.
        #expect(order.pointsEarned == 37)
        #expect(try await world.loyalty.account(points).balance == 1_000 - 400 + 37)
        for reward in order.rewards {
            let posting = try await world.loyalty.posting(reward.postingID)
            #expect(posting.kind == .redeem && posting.entries.contains { $0.accountID == points && $0.amount == -reward.points })
        }
        #expect(try await world.loyalty.order(order.id).rewards == order.rewards)
        try await world.expectClean()
    }

    @Test func aRewardThatCannotApplyRefusesTheOrderAndSpendsNothing() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram()).id
        let dollars = try await world.loyalty.createProgram(cafeProgram { $0.currency = "USD" }).id
        let latte = try await world.loyalty.createReward(.freeItem(program, "latte", 100))
        let elsewhere = try await world.loyalty.createReward(.freeItem(dollars, "latte", 1))
        let gone = try await world.loyalty.createReward(.amountOff(program, 100, 1))
        _ = try await world.loyalty.updateReward(gone.id, retire: true)
        let (person, points) = try await world.member("Hal", points: 99)
        let lines = [orderLine("latte", 1, 350), orderLine("tea", 1, 250)]
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(latte.id, line: 1)], key: "a")
        }
        await expectRPCError(.invalidArgument, mentioning: "line 2 is tea, reward \(latte.id) is a free latte") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(latte.id, line: 2)], key: "b")
        }
        await expectRPCError(.invalidArgument, mentioning: "line_number must name the line") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(latte.id)], key: "c")
        }
        await expectRPCError(.invalidArgument, mentioning: "rewards[0].line_number 3 is not a line") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(latte.id, line: 3)], key: "d")
        }
        await expectRPCError(.failedPrecondition, mentioning: "is retired") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(gone.id)], key: "e")
        }
        await expectRPCError(.failedPrecondition, mentioning: "not of program \(program)") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(elsewhere.id, line: 1)], key: "f")
        }
        await expectRPCError(.notFound, mentioning: "no reward 999") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(999)], key: "g")
        }
        await expectRPCError(.invalidArgument, mentioning: "rewards need the order's person_id") {
            _ = try await world.loyalty.postOrder(lines: lines, rewards: [.use(latte.id, line: 1)], key: "h")
        }
        // Two free lattes on a line of one: the second finds no unit's price left.
        await expectRPCError(.invalidArgument, mentioning: "no whole unit's price left") {
            _ = try await world.loyalty.postOrder(person: person, lines: lines, rewards: [.use(latte.id, line: 1), .use(latte.id, line: 1)],
                                                  key: "i")
        }
        #expect(try await world.loyalty.account(points).balance == 99)
        #expect(try await world.loyalty.orders().orders.isEmpty)
    }

    /// A reward's points come back once what it was used on is refunded in
    /// full, and only once.
    @Test func aRefundGivesARewardsPointsBackOnceItsLineIsRefundedInFull() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram { $0.spendStep = 1_000_000 }).id  // earns nothing: clearer sums
        let latte = try await world.loyalty.createReward(.freeItem(program, "latte", 100))
        let fiver = try await world.loyalty.createReward(.amountOff(program, 500, 250))
        let (person, points) = try await world.member("Ida", points: 1_000)
        let posted = try await world.loyalty.postOrder(person: person, lines: [orderLine("latte", 2, 350), orderLine("cake", 1, 3_000)],
                                                       rewards: [.use(latte.id, line: 1), .use(fiver.id)], key: "o")
        #expect(try await world.loyalty.account(points).balance == 650)
        let one = try await world.loyalty.refundOrder(posted.order.id, lines: [(1, 1)], key: "r1")
        #expect(one.refund.rewardPointsReturned == 0)
        let two = try await world.loyalty.refundOrder(posted.order.id, lines: [(1, 1)], key: "r2")
        #expect(two.refund.rewardPointsReturned == 100 && two.order.rewards[0].returnPostingID > 0 && two.order.rewards[1].returnPostingID == 0)
        #expect(try await world.loyalty.refundOrder(posted.order.id, lines: [(1, 1)], key: "r2") == two)
        #expect(try await world.loyalty.account(points).balance == 750)
        let rest = try await world.loyalty.refundOrder(posted.order.id, key: "r3")
        #expect(rest.refund.rewardPointsReturned == 250 && rest.order.status == .refunded)
        #expect(try await world.loyalty.account(points).balance == 1_000)
        let back = try await world.loyalty.posting(rest.order.rewards[1].returnPostingID)
        #expect(back.kind == .refund && back.refundsPostingID == rest.order.rewards[1].postingID)
        // A reward's posting is the order's: put right by refunding the order only.
        await expectRPCError(.failedPrecondition, mentioning: "pays order \(posted.order.id)") {
            _ = try await world.loyalty.reverse(posted.order.rewards[0].postingID, key: "rev")
        }
        try await world.expectClean()
    }
}
