import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// House accounts: deposits and a credit limit, members and their monthly
/// limits, statements and aging, and the checks on what comes in.
@Suite struct HouseAccountTests {
    @Test func aChargePastTheCreditLimitIsRefusedWithFailedPrecondition() async throws {
        let world = try LoyaltyWorld()
        let vip = try await world.person("Vera")
        let account = try await world.loyalty.houseAccount(person: vip).id
        let deposit = try await world.loyalty.payIn(account, 5000, tender: "card", reference: "R-1", key: "dep")
        #expect(deposit.posting.kind == .payIn && deposit.account.balance == 5000 && deposit.account.available == 5000)
        // Prepaid only: the deposit is all she may spend.
        await expectRPCError(.failedPrecondition, mentioning: "credit limit: house account \(account) has 50.00 EUR available") {
            try await world.loyalty.charge(account, 5001, key: "c0")
        }
        #expect(try await world.loyalty.setCreditLimit(account, 10_000).available == 15_000)
        let first = try await world.loyalty.charge(account, 12_000, order: "T4-118", key: "c1")
        #expect(first.posting.kind == .charge && first.account.balance == -7000 && first.account.available == 3000)
        #expect(try await world.loyalty.charge(account, 12_000, order: "T4-118", key: "c1") == first, "a retry is answered, not charged")
        await expectRPCError(.failedPrecondition, mentioning: "credit limit: house account \(account) has 30.00 EUR available (credit limit 100.00 EUR), 30.01 EUR needed") {
            try await world.loyalty.charge(account, 3001, key: "c2")
        }
        #expect(try await world.loyalty.charge(account, 3000, key: "c3").account.balance == -10_000)
        // She owes 100.00: the limit cannot drop below that.
        await expectRPCError(.failedPrecondition, mentioning: "owes 100.00 EUR; a credit limit of 50.00 EUR is below it") {
            try await world.loyalty.setCreditLimit(account, 5000)
        }
        #expect(try await world.loyalty.payIn(account, 4000, key: "pay").account.balance == -6000)
        #expect(try await world.loyalty.setCreditLimit(account, 6000).available == 0)
        #expect(try world.database.rows("SELECT count(*) FROM loyalty_postings WHERE kind = 10") == [["2"]])
        try await world.expectClean()
    }

    @Test func membersChargeWithinTheirMonthlyLimitAndOnlyWhileAuthorised() async throws {
        let world = try LoyaltyWorld()
        let firm = try await world.contacts.createOrganization("Acme").id
        let ann = try await world.person("Ann")
        let bob = try await world.person("Bob")
        let cid = try await world.person("Cid")
        let account = try await world.loyalty.houseAccount(organization: firm).id
        _ = try await world.loyalty.setCreditLimit(account, 50_000)
        #expect(try await world.loyalty.setMember(account, ann, monthlyLimit: 3000).monthlyLimit == 3000)
        _ = try await world.loyalty.setMember(account, bob)
        await expectRPCError(.invalidArgument, mentioning: "person_id is required") { try await world.loyalty.charge(account, 100, key: "x") }
        await expectRPCError(.failedPrecondition, mentioning: "person \(cid) is not an authorised member of house account \(account)") {
            try await world.loyalty.charge(account, 100, by: cid, key: "x")
        }
        let lunch = try await world.loyalty.charge(account, 2000, by: ann, order: "A-1", key: "a1")
        await expectRPCError(.failedPrecondition, mentioning: "monthly limit: person \(ann) has 10.00 EUR left of 30.00 EUR this month") {
            try await world.loyalty.charge(account, 1500, by: ann, key: "a2")
        }
        #expect(try await world.loyalty.members(account).members.map(\.spentThisMonth) == [2000, 0])
        // A reversed charge no longer counts against her limit.
        _ = try await world.loyalty.reverse(lunch.posting.id, reason: "wrong table", key: "rv")
        _ = try await world.loyalty.charge(account, 3000, by: ann, key: "a3")
        _ = try await world.loyalty.charge(account, 20_000, by: bob, key: "b1")
        #expect(try await world.loyalty.removeMember(account, bob).active == false)
        #expect(try await world.loyalty.removeMember(account, bob).active == false, "removing again answers the same")
        await expectRPCError(.failedPrecondition, mentioning: "person \(bob) is not an authorised member") {
            try await world.loyalty.charge(account, 100, by: bob, key: "b2")
        }
        #expect(try await world.loyalty.members(account).members.map(\.personID) == [ann])
        let all = try await world.loyalty.members(account, includeRemoved: true, pageSize: 1)
        #expect(all.members.map(\.personID) == [ann] && !all.nextPageToken.isEmpty)
        let rest = try await world.loyalty.members(account, includeRemoved: true, pageSize: 1, token: all.nextPageToken)
        #expect(rest.members.map(\.personID) == [bob] && rest.members[0].spentThisMonth == 20_000 && !rest.members[0].active)
        // Authorised again, Bob charges again.
        _ = try await world.loyalty.setMember(account, bob, monthlyLimit: 25_000)
        await expectRPCError(.failedPrecondition, mentioning: "monthly limit") { try await world.loyalty.charge(account, 5001, by: bob, key: "b3") }
        #expect(try await world.loyalty.account(account).balance == -23_000)
        await expectRPCError(.notFound, mentioning: "person \(cid) is not a member") { try await world.loyalty.removeMember(account, cid) }
        try await world.expectClean()
    }

    @Test func aStatementTotalsThePeriodAndAgesWhatIsOwedOldestPaidFirst() async throws {
        let world = try LoyaltyWorld()
        let ann = try await world.person("Ann")
        let account = try await world.loyalty.houseAccount(label: "Chess club").id
        _ = try await world.loyalty.setCreditLimit(account, 100_000)
        _ = try await world.loyalty.setMember(account, ann)
        let c1 = try await world.loyalty.charge(account, 1000, by: ann, order: "O-1", memo: "tea", key: "c1")
        let c2 = try await world.loyalty.charge(account, 2000, by: ann, order: "O-2", key: "c2")
        let middle = c2.posting.createdUnixUs + 1
        let paid = try await world.loyalty.payIn(account, 1500, tender: "transfer", reference: "IBAN ref 77", key: "p1")
        let c3 = try await world.loyalty.charge(account, 700, by: ann, key: "c3")
        _ = try await world.loyalty.adjust(account, 200, reason: "goodwill", key: "adj")

        let first = try await world.loyalty.statement(account, from: 0, to: middle)
        #expect(first.openingBalance == 0 && first.charges == 3000 && first.payments == 0 && first.lineCount == 2)
        #expect(first.closingBalance == -3000 && first.lineCount == 2 && first.currency == "EUR")
        #expect(first.lines.map(\.orderRef) == ["O-1", "O-2"] && first.lines[0].reason == "tea" && first.lines[0].personID == ann)
        let second = try await world.loyalty.statement(account, from: middle)
        #expect(second.openingBalance == -3000 && second.charges == 700 && second.payments == 1500 && second.other == 200)
        #expect(second.closingBalance == -2000 && second.closingBalance == second.openingBalance - second.charges + second.payments + second.other)
        #expect(second.closingBalance == (try await world.loyalty.account(account).balance))
        // Lines a page at a time, in ledger order, every one once.
        var lines: [Crm_Loyalty_V1_StatementLine] = []
        var token = ""
        repeat {
            let page = try await world.loyalty.statement(account, pageSize: 2, token: token)
            #expect(page.closingBalance == -2000 && page.lineCount == 5)
            lines += page.lines
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(lines.map(\.kind) == [.charge, .charge, .payIn, .charge, .adjust])
        #expect(lines.map(\.amount) == [-1000, -2000, 1500, -700, 200] && lines.map(\.balanceAfter) == [-1000, -3000, -1500, -2200, -2000])
        #expect(lines[2].tender == "transfer" && lines[2].reference == "IBAN ref 77" && lines[2].postingID == paid.posting.id)
        // Aging: the 1,500 paid settled c1 and half of c2, the 200 credit
        // took from c2 too, so 2,000 owed is 1,300 of c2 and c3's 700. At
        // 30 days after c2, c2's part is 30 days old and c3's is current.
        let day: Int64 = 86_400_000_000
        let aged = try await world.loyalty.statement(account, to: c2.posting.createdUnixUs + 30 * day)
        #expect(aged.aging.owed == 2000 && aged.aging.days30 == 1300 && aged.aging.current == 700, "\(aged.aging)")
        let later = try await world.loyalty.statement(account, to: c1.posting.createdUnixUs + 65 * day)
        #expect(later.aging.days90Plus == 0 && later.aging.days60 == 2000, "\(later.aging)")
        let overdue = try await world.loyalty.statement(account, to: c3.posting.createdUnixUs + 90 * day)
        #expect(overdue.aging.days90Plus == 2000 && overdue.aging.current == 0, "\(overdue.aging)")
        #expect(c3.posting.createdUnixUs > c2.posting.createdUnixUs)
    }

    /// Statements read the running totals kept on each entry; Reconcile
    /// checks them against the entries, so an edit behind the ledger's
    /// back shows.
    @Test func reconcileFindsARunningTotalEditedBehindTheLedgersBack() async throws {
        let world = try LoyaltyWorld()
        let account = try await world.loyalty.houseAccount(person: try await world.person("Ray")).id
        _ = try await world.loyalty.setCreditLimit(account, 5000)
        let charge = try await world.loyalty.charge(account, 1200, key: "c")
        _ = try await world.loyalty.payIn(account, 200, key: "p")
        try await world.expectClean()
        try world.database.execute("""
            DROP TRIGGER loyalty_entries_immutable;
            UPDATE loyalty_entries SET charged_after = 1100 WHERE posting_id = \(charge.posting.id) AND account_id = \(account);
            """)
        let report = try await world.loyalty.reconcile()
        #expect(report.mismatches.map(\.check) == ["running_totals"] && report.mismatches[0].accountID == account)
        #expect(report.mismatches[0].expected == 1200 && report.mismatches[0].actual == 1100)
    }

    /// A mistaken charge put right with ReversePosting is no payment of the
    /// oldest debt: what is owed stays the older charge's, aged as such.
    @Test func aReversedChargeLeavesTheAgingOfTheOlderDebtAsItWas() async throws {
        let world = try LoyaltyWorld()
        let account = try await world.loyalty.houseAccount(person: try await world.person("Ola")).id
        _ = try await world.loyalty.setCreditLimit(account, 10_000)
        let older = try await world.loyalty.charge(account, 1000, key: "a")
        let mistake = try await world.loyalty.charge(account, 500, key: "b")
        _ = try await world.loyalty.reverse(mistake.posting.id, reason: "wrong account", key: "r")
        let day: Int64 = 86_400_000_000
        let aged = try await world.loyalty.statement(account, to: older.posting.createdUnixUs + 30 * day)
        #expect(aged.closingBalance == -1000 && aged.other == 500 && aged.charges == 1500)
        #expect(aged.aging.owed == 1000 && aged.aging.days30 == 1000 && aged.aging.current == 0, "\(aged.aging)")
        try await world.expectClean()
    }

    @Test func badInputGetsAClearErrorAndTheRightStatus() async throws {
        let world = try LoyaltyWorld()
        let person = try await world.person("Ida")
        let firm = try await world.contacts.createOrganization("Ida Ltd").id
        await expectRPCError(.invalidArgument, mentioning: "not both") {
            try await world.loyalty.houseAccount(person: person, organization: firm)
        }
        await expectRPCError(.invalidArgument, mentioning: "label is required for a group house account") {
            try await world.loyalty.houseAccount()
        }
        let account = try await world.loyalty.houseAccount(person: person).id
        let points = try await world.loyalty.pointsAccount(person: person).id
        await expectRPCError(.failedPrecondition, mentioning: "account \(points) is not a house account") {
            try await world.loyalty.charge(points, 100, key: "k")
        }
        await expectRPCError(.invalidArgument, mentioning: "amount must be positive") { try await world.loyalty.charge(account, 0, key: "k") }
        await expectRPCError(.invalidArgument, mentioning: "person_id") { try await world.loyalty.charge(account, 1, by: -4, key: "k") }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key is required") { try await world.loyalty.charge(account, 1, key: "") }
        await expectRPCError(.invalidArgument, mentioning: "order_ref") {
            try await world.loyalty.charge(account, 1, order: String(repeating: "x", count: 101), key: "k")
        }
        await expectRPCError(.notFound, mentioning: "no account 999") { try await world.loyalty.payIn(999, 1, key: "k") }
        await expectRPCError(.invalidArgument, mentioning: "credit_limit must be 0 to") { try await world.loyalty.setCreditLimit(account, -1) }
        await expectRPCError(.invalidArgument, mentioning: "reason is required") { try await world.loyalty.setCreditLimit(account, 1, reason: "") }
        await expectRPCError(.failedPrecondition, mentioning: "holds house account \(account) and needs no membership") {
            try await world.loyalty.setMember(account, person)
        }
        await expectRPCError(.notFound, mentioning: "no person 4242") { try await world.loyalty.setMember(account, 4242) }
        await expectRPCError(.invalidArgument, mentioning: "monthly_limit must be 0 to") {
            try await world.loyalty.setMember(account, person, monthlyLimit: -5)
        }
        await expectRPCError(.invalidArgument, mentioning: "period_end_unix_us must be after period_start_unix_us") {
            try await world.loyalty.statement(account, from: 2000, to: 1000)
        }
        await expectRPCError(.invalidArgument, mentioning: "period_start_unix_us must not be negative") {
            try await world.loyalty.statement(account, from: -1)
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await world.loyalty.statement(account, token: "nonsense") }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await world.loyalty.members(account, token: "nonsense") }
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await world.loyalty.members(account, pageSize: -1) }
        await expectRPCError(.failedPrecondition, mentioning: "account \(points) is not a house account") {
            try await world.loyalty.members(points)
        }
        await expectRPCError(.failedPrecondition, mentioning: "is a house account: charge it with ChargeHouseAccount") {
            try await world.loyalty.authorize(account: account, 100, key: "h")
        }
        // The holder charges their own account without naming themselves.
        _ = try await world.loyalty.payIn(account, 500, key: "p")
        #expect(try await world.loyalty.charge(account, 500, key: "own").account.balance == 0)
        try await world.expectClean()
    }
}
