import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Point lots: spends take the soonest-expiring points first, expiry runs
/// as ledger postings on what is left, holds reserve from lots and give
/// them back, a reversal returns points to the lots they came from.
@Suite struct PointLotTests {
    @Test func spendsTakeTheSoonestExpiringPointsFirstAndAReversalGivesThemBack() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Ivy")
        let hour: Int64 = 3_600_000_000
        let never = try await world.loyalty.earn(account, 100, key: "never").posting.id
        let later = try await world.loyalty.earn(account, 50, expires: nowMicros() + 5 * hour, key: "later").posting.id
        let soon = try await world.loyalty.earn(account, 30, expires: nowMicros() + hour, key: "soon").posting.id
        var lots = try await world.loyalty.lots(account).lots
        #expect(lots.map(\.postingID) == [soon, later, never] && lots.map(\.remaining) == [30, 50, 100])
        #expect(lots.last?.expiresUnixUs == 0)

        let spend = try await world.loyalty.redeemPoints(account, 40, key: "r1")
        lots = try await world.loyalty.lots(account).lots
        #expect(lots.map(\.postingID) == [later, never] && lots.map(\.remaining) == [40, 100])
        _ = try await world.loyalty.redeemPoints(account, 50, key: "r2")
        lots = try await world.loyalty.lots(account).lots
        #expect(lots.map(\.remaining) == [90], "the later lot went first, then the never-expiring one: \(lots)")

        // The first spend took 30 from the soonest lot and 10 from the later one: it gets exactly those back.
        _ = try await world.loyalty.reverse(spend.posting.id, key: "undo")
        lots = try await world.loyalty.lots(account).lots
        #expect(lots.map(\.postingID) == [soon, later, never] && lots.map(\.remaining) == [30, 10, 90])
        #expect(try await world.loyalty.account(account).balance == 130)
        // Upcoming expiries: only the lots expiring in the next two hours.
        let soonOnly = try await world.loyalty.lots(account, expiringBefore: nowMicros() + 2 * hour).lots
        #expect(soonOnly.map(\.postingID) == [soon])
        try await world.expectClean()
    }

    /// What expires is what is left of a lot: points spent from it first
    /// (the soonest-expiring) are not expired a second time.
    @Test func expiryPostsWhatIsLeftOfDueLotsAndTheJobRunsIt() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Jo")
        _ = try await world.loyalty.earn(account, 70, expires: nowMicros() + 3_000_000, key: "short")
        _ = try await world.loyalty.earn(account, 20, key: "long")
        _ = try await world.loyalty.redeemPoints(account, 50, key: "spend")
        let lots = try await world.loyalty.lots(account).lots
        #expect(lots.map(\.remaining) == [20, 20])
        // crmd runs RunPointExpiry every second.
        #expect(try await eventually(timeout: 10) { try await world.loyalty.account(account).balance == 20 })
        let entries = try await world.loyalty.entries(account).entries
        #expect(entries.first?.amount == -20)
        let expiry = try await world.loyalty.posting(try #require(entries.first).postingID)
        #expect(expiry.kind == .expiry)
        let breakage = try #require(expiry.entries.first { $0.accountID != account })
        #expect(breakage.amount == 20)
        #expect(try await world.loyalty.lots(account).lots.map(\.remaining) == [20])
        // Nothing more is due: a call by hand posts nothing.
        #expect(try await world.loyalty.expirePoints(account).posting.id == 0)
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance: account \(account) has 20 points available, 21 needed") {
            _ = try await world.loyalty.redeemPoints(account, 21, key: "too-much")
        }
        try await world.expectClean()
    }

    @Test func aHoldReservesPointsFromLotsAndGivesBackWhatItDoesNotCapture() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Kai")
        let soon = try await world.loyalty.earn(account, 60, expires: nowMicros() + 3_600_000_000, key: "soon").posting.id
        _ = try await world.loyalty.earn(account, 40, key: "never")
        let hold = try await world.loyalty.authorize(account: account, 70, key: "h1")
        #expect(try await world.loyalty.lots(account).lots.map(\.remaining) == [30])
        #expect(try await world.loyalty.account(account).available == 30)
        _ = try await world.loyalty.voidHold(hold.id, key: "v1")
        #expect(try await world.loyalty.lots(account).lots.map(\.remaining) == [60, 40])

        let second = try await world.loyalty.authorize(account: account, 50, key: "h2")
        _ = try await world.loyalty.capture(second.id, 20, key: "c2")
        let lots = try await world.loyalty.lots(account).lots
        #expect(lots.first?.postingID == soon && lots.map(\.remaining) == [40, 40])
        #expect(try await world.loyalty.account(account).balance == 80)
        try await world.expectClean()
    }

    /// A hold past its time stops reserving at once for a reader, before
    /// any write releases it; a live one still reserves.
    @Test func aLapsedHoldStopsReservingItsPointsForAReader() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Ola", points: 100)
        _ = try await world.loyalty.authorize(account: account, 30, expires: nowMicros() + 1_000_000, key: "short")
        _ = try await world.loyalty.authorize(account: account, 20, key: "long")
        #expect(try await world.loyalty.account(account).available == 50)
        #expect(try await eventually(timeout: 10) { try await world.loyalty.account(account).available == 80 })
        let seen = try await world.loyalty.account(account)
        #expect(seen.held == 20 && seen.balance == 100)
        try await world.expectClean()
    }

    /// An earn whose points expired cannot be reversed: they are in
    /// breakage already, and taking them from other lots would take twice.
    @Test func anExpiredEarnCannotBeReversed() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Pia", points: 100)
        let brief = try await world.loyalty.earn(account, 20, expires: nowMicros() + 1_000_000, key: "brief")
        #expect(try await eventually(timeout: 10) { try await world.loyalty.account(account).balance == 100 })
        await expectRPCError(.failedPrecondition, mentioning: "expired") {
            _ = try await world.loyalty.reverse(brief.posting.id, key: "undo")
        }
        #expect(try await world.loyalty.account(account).balance == 100)
        try await world.expectClean()
    }

    @Test func aReversedEarnTakesItsOwnLotAndRefusesWhenItsPointsAreSpent() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Lu")
        let first = try await world.loyalty.earn(account, 30, key: "a")
        let second = try await world.loyalty.earn(account, 30, key: "b")
        _ = try await world.loyalty.reverse(first.posting.id, key: "undo-a")
        #expect(try await world.loyalty.lots(account).lots.map(\.postingID) == [second.posting.id])
        _ = try await world.loyalty.redeemPoints(account, 25, key: "spend")
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance") {
            _ = try await world.loyalty.reverse(second.posting.id, key: "undo-b")
        }
        try await world.expectClean()
    }

    @Test func reconcileFindsALotEditedBehindTheLedgersBack() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Nia", points: 25)
        try await world.expectClean()
        try world.database.execute("UPDATE loyalty_point_lots SET remaining = remaining - 5 WHERE account_id = \(account)")
        let report = try await world.loyalty.reconcile()
        #expect(!report.clean && report.mismatchCount == 1)
        let mismatch = try #require(report.mismatches.first)
        #expect(mismatch.check == "point_lots" && mismatch.accountID == account && mismatch.expected == 25 && mismatch.actual == 20)
    }

    @Test func badInputToLotsAndExpiryIsRefusedWithTheFieldNamed() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Mia")
        await expectRPCError(.invalidArgument, mentioning: "expires_unix_us must be after now") {
            _ = try await world.loyalty.earn(account, 5, expires: nowMicros() - 1_000_000, key: "past")
        }
        await expectRPCError(.invalidArgument, mentioning: "expires_unix_us is for EarnPoints only") {
            let _: LPostingResult = try await world.loyalty.call("RedeemPoints", Crm_Loyalty_V1_PointsRequest.with {
                $0.accountID = account; $0.points = 1; $0.expiresUnixUs = nowMicros() + 1_000_000; $0.idempotencyKey = "x"
            })
        }
        await expectRPCError(.invalidArgument, mentioning: "expiring_before_unix_us") {
            _ = try await world.loyalty.lots(account, expiringBefore: -1)
        }
        await expectRPCError(.invalidArgument, mentioning: "account_id") { _ = try await world.loyalty.lots(-4) }
        await expectRPCError(.notFound, mentioning: "no account 999") { _ = try await world.loyalty.expirePoints(999) }
        let card = try await world.card(500)
        await expectRPCError(.failedPrecondition, mentioning: "not a POINTS account") { _ = try await world.loyalty.lots(card.id) }
        await expectRPCError(.failedPrecondition, mentioning: "not a POINTS account") { _ = try await world.loyalty.expirePoints(card.id) }
    }
}
