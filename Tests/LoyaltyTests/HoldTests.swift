import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Holds: authorize at the till, capture on payment or void.
@Suite struct HoldTests {
    @Test func aHoldReservesAndACaptureTakesPartAndReleasesTheRest() async throws {
        let world = try LoyaltyWorld()
        let (card, code) = try await world.card(5000)
        let hold = try await world.loyalty.authorize(code: code, 3000, key: "auth")
        #expect(hold.status == .active && hold.amount == 3000 && hold.accountID == card)
        var account = try await world.loyalty.account(card)
        #expect(account.balance == 5000 && account.held == 3000 && account.available == 2000)
        await expectRPCError(.failedPrecondition, mentioning: "has 2000 EUR available, 2500 needed") {
            try await world.loyalty.redeem(card: card, 2500, key: "too-much")
        }
        let captured = try await world.loyalty.capture(hold.id, 2400, key: "pay")
        #expect(captured.posting.kind == .capture && captured.posting.holdID == hold.id)
        #expect(captured.account.balance == 2600 && captured.account.held == 0 && captured.account.available == 2600)
        #expect(try await world.loyalty.capture(hold.id, 2400, key: "pay") == captured)
        await expectRPCError(.failedPrecondition, mentioning: "is captured, not active") {
            try await world.loyalty.capture(hold.id, key: "pay-2")
        }
        await expectRPCError(.failedPrecondition, mentioning: "is captured") { try await world.loyalty.voidHold(hold.id, key: "v") }
        // A capture is refunded like a redemption.
        let refund = try await world.loyalty.refund(card, posting: captured.posting.id, 400, key: "ref")
        #expect(refund.account.balance == 3000)

        let second = try await world.loyalty.authorize(card: card, 1000, key: "auth-2")
        await expectRPCError(.invalidArgument, mentioning: "more than hold \(second.id)'s 1000") {
            try await world.loyalty.capture(second.id, 1001, key: "pay-3")
        }
        let voided = try await world.loyalty.voidHold(second.id, key: "void")
        #expect(voided.status == .voided)
        account = try await world.loyalty.account(card)
        #expect(account.held == 0 && account.available == 3000)
        await expectRPCError(.failedPrecondition, mentioning: "is voided") { try await world.loyalty.capture(second.id, key: "pay-4") }
        try await world.expectClean()
    }

    /// Odoo PR #205057: two POS orders debited the same eWallet. Two
    /// authorizations here never reserve more than is there.
    @Test func twoAuthorizationsCannotOverspend() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Jo", points: 100)
        let connection = world.loyalty
        async let a = try? connection.authorize(account: account, 70, key: "till-a")
        async let b = try? connection.authorize(account: account, 70, key: "till-b")
        let holds = await [a, b].compactMap { $0 }
        #expect(holds.count == 1)
        let after = try await world.loyalty.account(account)
        #expect(after.held == 70 && after.available == 30)
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance") {
            try await world.loyalty.redeemPoints(account, 31, key: "spend")
        }
        _ = try await world.loyalty.capture(holds[0].id, key: "take")
        #expect(try await world.loyalty.account(account).balance == 30)
        try await world.expectClean()
    }

    @Test func anExpiredHoldStopsReservingAndCannotBeCaptured() async throws {
        let world = try LoyaltyWorld()
        let (card, _) = try await world.card(1000)
        let hold = try await world.loyalty.authorize(card: card, 900, expires: nowMicros() + 1_000_000, key: "short")
        #expect(try await world.loyalty.account(card).available == 100)
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await world.loyalty.account(card).available == 1000)
        await expectRPCError(.failedPrecondition, mentioning: "is expired, not active") { try await world.loyalty.capture(hold.id, key: "late") }
        // A redemption releases it for good.
        _ = try await world.loyalty.redeem(card: card, 1000, key: "all")
        let released: LHold = try await world.loyalty.call("GetHold", Crm_Loyalty_V1_GetHoldRequest.with { $0.id = hold.id })
        #expect(released.status == .expired)
        try await world.expectClean()
    }

    @Test func badHoldRequestsAreRefused() async throws {
        let world = try LoyaltyWorld()
        let (card, code) = try await world.card(100)
        await expectRPCError(.invalidArgument, mentioning: "exactly one names the account") {
            try await world.loyalty.authorize(card: card, code: code, 10, key: "x")
        }
        await expectRPCError(.invalidArgument, mentioning: "exactly one names the account") { try await world.loyalty.authorize(10, key: "x") }
        await expectRPCError(.invalidArgument, mentioning: "amount must be positive") { try await world.loyalty.authorize(card: card, 0, key: "x") }
        await expectRPCError(.invalidArgument, mentioning: "expires_unix_us must be after now") {
            try await world.loyalty.authorize(card: card, 10, expires: 1, key: "x")
        }
        await expectRPCError(.notFound, mentioning: "no hold 55") { try await world.loyalty.capture(55, key: "x") }
        await expectRPCError(.invalidArgument, mentioning: "hold_id") { try await world.loyalty.voidHold(0, key: "x") }
        await expectRPCError(.invalidArgument, mentioning: "hold_id must be a positive id") { try await world.loyalty.voidHold(-3, key: "x") }
        _ = try await world.loyalty.authorize(card: card, 60, key: "keep")
        await expectRPCError(.failedPrecondition, mentioning: "has an active hold") { try await world.loyalty.voidCard(card, key: "v") }
    }
}
