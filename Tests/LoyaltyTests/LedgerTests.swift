import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// The ledger: balanced postings, cached balances, idempotency keys bound
/// to their request, reversals once, overflow, and the database's own
/// refusal of an unbalanced or edited posting.
@Suite struct LedgerTests {
    @Test func earnAndRedeemPostBalancedLegsAgainstSystemAccounts() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Ada")
        let earned = try await world.loyalty.earn(account, 120, key: "e1", reason: "order 7")
        #expect(earned.account.balance == 120 && earned.account.available == 120 && earned.account.unit == "points")
        #expect(earned.posting.kind == .earn && earned.posting.entries.count == 2)
        #expect(earned.posting.entries.map(\.amount).reduce(0, +) == 0)
        let system = try #require(earned.posting.entries.first { $0.accountID != account })
        #expect(system.amount == -120)
        let redeemed = try await world.loyalty.redeemPoints(account, 100, key: "r1")
        #expect(redeemed.account.balance == 20)
        let entries = try await world.loyalty.entries(account).entries
        #expect(entries.map(\.amount) == [-100, 120] && entries.map(\.balanceAfter) == [20, 120])
        #expect(try await world.loyalty.posting(redeemed.posting.id) == redeemed.posting)
        try await world.expectClean()
    }

    /// ERPNext #59050: the same points redeemed forever. Here the second
    /// spend of the same points is refused; a retry of the first is a no-op.
    @Test func pointsCanBeSpentOnceAndARetriedRedemptionIsANoOp() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Bo", points: 50)
        let first = try await world.loyalty.redeemPoints(account, 50, key: "spend")
        let retry = try await world.loyalty.redeemPoints(account, 50, key: "spend")
        #expect(retry == first)
        #expect(try await world.loyalty.account(account).balance == 0)
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance: account \(account) has 0 points available, 50 needed") {
            try await world.loyalty.redeemPoints(account, 50, key: "spend-again")
        }
        #expect(try world.database.rows("SELECT count(*) FROM loyalty_postings WHERE kind = 2") == [["1"]])
        try await world.expectClean()
    }

    @Test func aKeyReusedWithAnotherRequestOrByAnotherCallerIsRefused() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"])
        try await AccessSupport.createUser(crmd, "cara", roles: ["cashier"])
        try await AccessSupport.createUser(crmd, "carl", roles: ["cashier"])
        let connection = try crmd.connect()
        let cara = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("cara"))
        let carl = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("carl"))
        let account = try await cara.pointsAccount().id
        _ = try await cara.earn(account, 10, key: "k")
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k\" was already used with a different") {
            try await cara.earn(account, 11, key: "k")
        }
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k\" was already used") {
            try await carl.earn(account, 10, key: "k")
        }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key is required") { try await cara.earn(account, 10, key: "") }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key is longer than 200 bytes") {
            try await cara.earn(account, 10, key: String(repeating: "k", count: 201))
        }
        #expect(try await cara.account(account).balance == 10)
    }

    /// ERPNext PR #12631 deleted points entries on cancel; Odoo PR #212922
    /// took spent points off twice on a refund. A reversal here is a new
    /// posting that references the original, once.
    @Test func aReversalReferencesItsPostingAndHappensOnce() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Cy")
        let earned = try await world.loyalty.earn(account, 80, key: "e")
        let reversal = try await world.loyalty.reverse(earned.posting.id, key: "rev")
        #expect(reversal.posting.kind == .reversal && reversal.posting.reversesPostingID == earned.posting.id)
        #expect(reversal.posting.entries.map(\.amount).sorted() == earned.posting.entries.map { -$0.amount }.sorted())
        #expect(reversal.account.balance == 0)
        #expect(try await world.loyalty.reverse(earned.posting.id, key: "rev") == reversal)
        await expectRPCError(.failedPrecondition, mentioning: "already reversed by posting \(reversal.posting.id)") {
            try await world.loyalty.reverse(earned.posting.id, key: "rev-2")
        }
        await expectRPCError(.failedPrecondition, mentioning: "is a reversal") {
            try await world.loyalty.reverse(reversal.posting.id, key: "rev-3")
        }
        #expect(try await world.loyalty.posting(earned.posting.id).reversedByPostingID == reversal.posting.id)
        // Both postings stay, the account's leg of each: nothing is deleted.
        #expect(try await world.loyalty.entries(account).entries.map(\.amount) == [-80, 80])
        // Points already spent cannot be taken back by reversing their earning.
        let again = try await world.loyalty.earn(account, 30, key: "e2")
        _ = try await world.loyalty.redeemPoints(account, 30, key: "spent")
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance") {
            try await world.loyalty.reverse(again.posting.id, key: "rev-4")
        }
        await expectRPCError(.notFound, mentioning: "no posting 999") { try await world.loyalty.reverse(999, key: "rev-5") }
        await expectRPCError(.invalidArgument, mentioning: "reason is required") {
            try await world.loyalty.reverse(again.posting.id, reason: " ", key: "rev-6")
        }
        try await world.expectClean()
    }

    @Test func badInputsAreRefusedNamingTheField() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Di", points: 5)
        await expectRPCError(.invalidArgument, mentioning: "points must be positive") { try await world.loyalty.earn(account, 0, key: "a") }
        await expectRPCError(.invalidArgument, mentioning: "points must be positive") { try await world.loyalty.earn(account, -5, key: "a") }
        await expectRPCError(.invalidArgument, mentioning: "points is larger than") {
            try await world.loyalty.earn(account, Int64.max, key: "a")
        }
        await expectRPCError(.invalidArgument, mentioning: "account_id must be a positive id") { try await world.loyalty.earn(-1, 5, key: "a") }
        await expectRPCError(.notFound, mentioning: "no account 4242") { try await world.loyalty.earn(4242, 5, key: "a") }
        await expectRPCError(.invalidArgument, mentioning: "amount must be non-zero") { try await world.loyalty.adjust(account, 0, key: "a") }
        await expectRPCError(.invalidArgument, mentioning: "currency must be empty") {
            let _: LAccount = try await world.loyalty.call("CreateAccount", Crm_Loyalty_V1_CreateAccountRequest.with {
                $0.kind = .points; $0.currency = "EUR"
            })
        }
        await expectRPCError(.invalidArgument, mentioning: "kind must be POINTS or HOUSE_ACCOUNT") {
            let _: LAccount = try await world.loyalty.call("CreateAccount", Crm_Loyalty_V1_CreateAccountRequest.with { $0.kind = .system })
        }
        await expectRPCError(.notFound, mentioning: "no person 777") { try await world.loyalty.pointsAccount(person: 777) }
        let person = try await world.person("Eve")
        _ = try await world.loyalty.pointsAccount(person: person)
        await expectRPCError(.alreadyExists, mentioning: "already has points account") { try await world.loyalty.pointsAccount(person: person) }
        await expectRPCError(.invalidArgument, mentioning: "page_size must not be negative") {
            try await world.loyalty.entries(account, pageSize: -1)
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await world.loyalty.entries(account, token: "nope") }
        // A system account is not a customer's: not readable as one.
        let system = try #require(try await world.loyalty.entries(account).entries.first).postingID
        let other = try #require(try await world.loyalty.posting(system).entries.first { $0.accountID != account }).accountID
        await expectRPCError(.notFound, mentioning: "no account \(other)") { try await world.loyalty.account(other) }
    }

    @Test func aBalanceThatWouldOverflowIsOutOfRange() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Fay", points: 1)
        let system = try #require(try world.database.rows("SELECT id FROM loyalty_accounts WHERE system_name = 'points_issued'").first?[0])
        // A balanced posting, sealed as the plugin seals one, takes the
        // account near Int64's limit (no request may carry that much).
        let big: Int64 = 9_223_000_000_000_000_000
        try world.database.execute("""
            BEGIN;
            INSERT INTO loyalty_entries (posting_id, account_id, unit, amount, balance_after, created_us, kind) VALUES
              (5000, \(account), 'points', \(big), \(big + 1), 1, 3), (5000, \(system), 'points', -\(big), -\(big + 1), 1, 3);
            INSERT INTO loyalty_postings (id, kind, reason, created_us) VALUES (5000, 3, 'test setup', 1);
            INSERT INTO loyalty_point_lots (account_id, posting_id, points, remaining, available_us, expires_us, created_us)
              VALUES (\(account), 5000, \(big), \(big), 0, 9223372036854775807, 1);
            UPDATE loyalty_accounts SET balance = balance + \(big) WHERE id = \(account);
            UPDATE loyalty_accounts SET balance = balance - \(big) WHERE id = \(system);
            COMMIT;
            """)
        try await world.expectClean()
        await expectRPCError(.outOfRange, mentioning: "would overflow") {
            try await world.loyalty.earn(account, 1_000_000_000_000_000, key: "over")
        }
        #expect(try await world.loyalty.account(account).balance == big + 1)
        try await world.expectClean()
    }

    @Test func entriesPaginateNewestFirst() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Gil")
        for i in 1...7 { _ = try await world.loyalty.earn(account, Int64(i), key: "p\(i)") }
        var token = "", amounts: [Int64] = []
        repeat {
            let page = try await world.loyalty.entries(account, pageSize: 3, token: token)
            #expect(page.entries.count <= 3)
            amounts += page.entries.map(\.amount)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(amounts == [7, 6, 5, 4, 3, 2, 1])
    }

    /// The ledger's invariants hold in the database too: an unbalanced
    /// posting cannot be sealed, entries cannot be edited or deleted, and
    /// a cached balance changed behind the ledger's back shows up in the
    /// reconciliation report.
    @Test func theDatabaseRefusesUnbalancedOrEditedPostingsAndReconcileFindsTampering() async throws {
        let world = try LoyaltyWorld()
        let (_, account) = try await world.member("Hal", points: 40)
        let db = world.database
        #expect(throws: (any Error).self) {
            try db.execute("""
                BEGIN;
                INSERT INTO loyalty_entries (posting_id, account_id, unit, amount, balance_after, created_us) VALUES (900, \(account), 'points', 5, 45, 0);
                INSERT INTO loyalty_postings (id, kind, created_us) VALUES (900, 3, 0);
                COMMIT;
                """)
        }
        // One leg alone is no posting either.
        #expect(throws: (any Error).self) {
            try db.execute("""
                BEGIN;
                INSERT INTO loyalty_postings (id, kind, created_us) VALUES (901, 3, 0);
                COMMIT;
                """)
        }
        #expect(throws: (any Error).self) { try db.execute("UPDATE loyalty_entries SET amount = amount + 1") }
        #expect(throws: (any Error).self) { try db.execute("DELETE FROM loyalty_entries") }
        #expect(throws: (any Error).self) { try db.execute("UPDATE loyalty_postings SET kind = 3") }
        #expect(throws: (any Error).self) { try db.execute("DELETE FROM loyalty_postings") }
        #expect(throws: (any Error).self) { try db.execute("UPDATE loyalty_accounts SET balance = -1 WHERE id = \(account)") }
        try await world.expectClean()
        try db.execute("UPDATE loyalty_accounts SET balance = balance + 1 WHERE id = \(account)")
        let report = try await world.loyalty.reconcile()
        #expect(!report.clean && report.mismatchCount == 1)
        let mismatch = try #require(report.mismatches.first)
        #expect(mismatch.check == "balance" && mismatch.accountID == account && mismatch.expected == 40 && mismatch.actual == 41)
    }
}
