import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

/// Gift cards on the ledger: issue, activate, load, partial redemption,
/// refund, void, expiry, and codes that cannot be guessed or told apart.
@Suite struct GiftCardTests {
    @Test func aDigitalCardIsLoadedRedeemedInPartsReloadedAndRefunded() async throws {
        let world = try LoyaltyWorld()
        let issued = try await world.loyalty.issueDigital(5000, key: "sell-1")
        let card = try #require(issued.cards.first)
        #expect(issued.cards.count == 1 && card.status == .active && card.balance == 5000 && card.currency == "EUR")
        #expect(issued.posting.kind == .load && issued.posting.entries.map(\.amount).sorted() == [-5000, 5000])
        let first = try await world.loyalty.redeem(card: card.id, 1200, key: "lunch")
        #expect(first.account.balance == 3800 && first.posting.kind == .redeem)
        let byCode = try await world.loyalty.redeem(code: card.code, 800, key: "coffee")
        #expect(byCode.account.balance == 3000)
        #expect(try await world.loyalty.load(card.id, 2000, key: "reload").account.balance == 5000)
        // Refunds give back at most what the redemption took, in parts.
        let part = try await world.loyalty.refund(card.id, posting: first.posting.id, 200, key: "ref-1")
        #expect(part.account.balance == 5200 && part.posting.refundsPostingID == first.posting.id)
        let rest = try await world.loyalty.refund(card.id, posting: first.posting.id, key: "ref-2")
        #expect(rest.account.balance == 6200)
        #expect(try await world.loyalty.refund(card.id, posting: first.posting.id, key: "ref-2") == rest)
        await expectRPCError(.failedPrecondition, mentioning: "refunded in full") {
            try await world.loyalty.refund(card.id, posting: first.posting.id, key: "ref-3")
        }
        await expectRPCError(.invalidArgument, mentioning: "more than the 800 left to refund") {
            try await world.loyalty.refund(card.id, posting: byCode.posting.id, 801, key: "ref-4")
        }
        await expectRPCError(.notFound, mentioning: "no redemption \(issued.posting.id) of gift card") {
            try await world.loyalty.refund(card.id, posting: issued.posting.id, key: "ref-5")
        }
        await expectRPCError(.failedPrecondition, mentioning: "has refund") {
            try await world.loyalty.reverse(first.posting.id, key: "rev")
        }
        let got = try await world.loyalty.card(card.id)
        #expect(got.balance == 6200 && got.code.isEmpty && got.codeHint == String(card.code.suffix(4)))
        try await world.expectClean()
    }

    /// Odoo #79235: one gift card spent any number of times. Here a card
    /// pays only what is on it.
    @Test func aCardCannotBeSpentPastItsBalance() async throws {
        let world = try LoyaltyWorld()
        let (id, code) = try await world.card(1000)
        _ = try await world.loyalty.redeem(card: id, 1000, key: "all")
        await expectRPCError(.failedPrecondition, mentioning: "insufficient balance: account \(id) has 0 EUR available, 1 needed") {
            try await world.loyalty.redeem(code: code, 1, key: "again")
        }
        #expect(try await world.loyalty.lookup(code).balance == 0)
    }

    @Test func aPrintedBatchIsInactiveUntilActivated() async throws {
        let world = try LoyaltyWorld()
        let batch = try await world.loyalty.issuePrinted(25, key: "batch-1")
        #expect(batch.cards.count == 25 && Set(batch.cards.map(\.code)).count == 25)
        #expect(batch.cards.allSatisfy { $0.status == .inactive && $0.balance == 0 && $0.batchID == batch.batchID })
        // The retry answers with the same codes (kept encrypted, never in clear).
        #expect(try await world.loyalty.issuePrinted(25, key: "batch-1") == batch)
        let card = batch.cards[3]
        await expectRPCError(.failedPrecondition, mentioning: "is not activated") { try await world.loyalty.redeem(card: card.id, 1, key: "x") }
        await expectRPCError(.failedPrecondition, mentioning: "is not activated") { try await world.loyalty.load(card.id, 1, key: "x") }
        let activated = try await world.loyalty.activate(card.id, 2500, key: "sold")
        #expect(activated.account.balance == 2500 && activated.account.status == .active)
        await expectRPCError(.failedPrecondition, mentioning: "already active") { try await world.loyalty.activate(card.id, 0, key: "sold-2") }
        #expect(try await world.loyalty.lookup(card.code).balance == 2500)
        await expectRPCError(.invalidArgument, mentioning: "count is 1001") { try await world.loyalty.issuePrinted(1001, key: "b2") }
        await expectRPCError(.invalidArgument, mentioning: "currency is not an ISO 4217") {
            try await world.loyalty.issuePrinted(1, currency: "eur", key: "b3")
        }
        await expectRPCError(.invalidArgument, mentioning: "initial_amount must be positive") {
            try await world.loyalty.issueDigital(-1, key: "b4")
        }
        await expectRPCError(.invalidArgument, mentioning: "expires_unix_us: gift cards do not expire here") {
            try await world.loyalty.issueDigital(1, expires: nowMicros() + 10_000_000, key: "b5")
        }
        try await world.expectClean()
    }

    /// Codes: 17 characters of Crockford base 32 with a Luhn mod 32 check
    /// character; only an HMAC of the code is stored.
    @Test func codesAreLongCheckedAndStoredOnlyAsAKeyedHash() async throws {
        let world = try LoyaltyWorld()
        let batch = try await world.loyalty.issuePrinted(200, key: "codes")
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        for card in batch.cards {
            let plain = card.code.replacingOccurrences(of: "-", with: "")
            #expect(plain.count == 17 && plain.allSatisfy { alphabet.contains($0) } && card.code.count == 20)
            #expect(luhn32(plain))
        }
        // Every symbol position takes many values: the codes are not sequential.
        for position in 0..<16 {
            let symbols = Set(batch.cards.map { Array($0.code.replacingOccurrences(of: "-", with: ""))[position] })
            #expect(symbols.count > 20)
        }
        let stored = try world.database.rows("SELECT hex(code_hash), length(code_hash), code_hint FROM loyalty_gift_cards")
        #expect(stored.count == 200 && stored.allSatisfy { $0[1] == "32" })
        let dump = try world.database.rows("SELECT quote(response) FROM loyalty_idempotency").map { $0[0] }.joined()
            + stored.map { $0[0] }.joined()
        for card in batch.cards.prefix(20) {
            let plain = card.code.replacingOccurrences(of: "-", with: "")
            #expect(!dump.contains(Data(plain.utf8).map { String(format: "%02X", $0) }.joined()))
        }
        // Lower case, spaces and look-alikes read as the code.
        let card = batch.cards[0]
        let typed = card.code.lowercased().replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "0", with: "o")
        #expect(try await world.loyalty.lookup(typed).id == card.id)
        await expectRPCError(.invalidArgument, mentioning: "code must be 17 characters") { try await world.loyalty.lookup("ABC") }
        await expectRPCError(.invalidArgument, mentioning: "code must be 17 characters") {
            try await world.loyalty.lookup(String(card.code.dropLast()) + "U")
        }
        await expectRPCError(.invalidArgument, mentioning: "code is required") { try await world.loyalty.lookup(" - ") }
    }

    /// A wrong code (a typo the check character catches), a well-formed
    /// code of no card and a voided card's code get one answer.
    @Test func aWrongCodeAVoidedCardAndAnUnknownCodeAreIndistinguishable() async throws {
        let world = try LoyaltyWorld()
        let (voidedID, voided) = try await world.card(700)
        let (_, live) = try await world.card(300)
        let voiding = try await world.loyalty.voidCard(voidedID, key: "void")
        #expect(voiding.posting.kind == .void && voiding.account.balance == 0 && voiding.account.status == .closed)
        let plain = Array(live.replacingOccurrences(of: "-", with: ""))
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var typo = plain
        typo[2] = alphabet[(alphabet.firstIndex(of: typo[2])! + 1) % 32]
        var unknown = Array(typo.prefix(16))
        unknown.append(luhnCheck(String(unknown)))
        var answers: [String] = []
        for code in [String(typo), String(unknown), voided] {
            do {
                _ = try await world.loyalty.lookup(code)
                Issue.record("\(code) was found")
            } catch let error as RPCError {
                answers.append("\(error.code) \(error.message)")
            }
        }
        #expect(answers.count == 3 && Set(answers).count == 1 && answers[0] == "notFound no gift card with that code")
        // The same answer when the code is spent, too.
        do {
            _ = try await world.loyalty.redeem(code: voided, 1, key: "spend-voided")
            Issue.record("a voided card was spent")
        } catch let error as RPCError {
            #expect("\(error.code) \(error.message)" == answers[0])
        }
        #expect(try await world.loyalty.lookup(live).balance == 300)
        await expectRPCError(.failedPrecondition, mentioning: "already voided") { try await world.loyalty.voidCard(voidedID, key: "void-2") }
        try await world.expectClean()
    }

    @Test func codeLookupsAreRateLimitedPerCaller() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"])
        _ = crmd
        try await AccessSupport.createUser(crmd, "till1", roles: ["cashier"])
        try await AccessSupport.createUser(crmd, "till2", roles: ["cashier"])
        let connection = try crmd.connect()
        let till1 = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("till1"))
        let till2 = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("till2"))
        let code = try #require(try await till1.issueDigital(100, key: "c").cards.first).code
        var refused = 0
        for _ in 0..<60 {
            do { _ = try await till1.lookup(code) } catch let error as RPCError {
                #expect(error.code == .resourceExhausted && error.message.contains("too many gift card code lookups by till1"))
                refused += 1
            }
        }
        // A burst of 20 and 5 a second: 60 quick lookups cannot all pass.
        #expect(refused > 0)
        #expect(try await till2.lookup(code).balance == 100)
    }

    @Test func anExpiredCardCannotBeSpentAndItsRestGoesToBreakage() async throws {
        let world = try LoyaltyWorld(environment: ["CRM_PLUGIN_LOYALTY_GIFT_CARD_EXPIRY_DAYS": "365"])
        let person = try await world.person("Ida")
        let issued = try await world.loyalty.issueDigital(900, person: person, expires: nowMicros() + 1_500_000, key: "short")
        let card = try #require(issued.cards.first)
        #expect(card.expiresUnixUs > 0 && !card.expired && card.personID == person)
        await expectRPCError(.failedPrecondition, mentioning: "has not expired") { try await world.loyalty.expire(card.id, key: "exp-0") }
        _ = try await world.loyalty.redeem(card: card.id, 100, key: "before")
        try await Task.sleep(for: .milliseconds(1700))
        #expect(try await world.loyalty.card(card.id).expired)
        await expectRPCError(.failedPrecondition, mentioning: "expired") { try await world.loyalty.redeem(card: card.id, 1, key: "after") }
        await expectRPCError(.failedPrecondition, mentioning: "expired") { try await world.loyalty.load(card.id, 1, key: "after") }
        let expiry = try await world.loyalty.expire(card.id, key: "exp")
        #expect(expiry.posting.kind == .expiry && expiry.account.balance == 0)
        let breakage = try #require(expiry.posting.entries.first { $0.accountID != card.id })
        #expect(breakage.amount == 800)
        #expect(try world.database.rows("SELECT system_name FROM loyalty_accounts WHERE id = \(breakage.accountID)") == [["breakage"]])
        // A default expiry comes from the setting; beyond it is refused.
        let later = try #require(try await world.loyalty.issueDigital(1, key: "default").cards.first)
        #expect(later.expiresUnixUs > nowMicros() + 364 * 86_400_000_000)
        await expectRPCError(.invalidArgument, mentioning: "at most 365 days ahead") {
            try await world.loyalty.issueDigital(1, expires: nowMicros() + 400 * 86_400_000_000, key: "too-far")
        }
        try await world.expectClean()
    }
}

/// The Luhn mod 32 check over Crockford's alphabet, written from the docs.
func luhnCheck(_ payload: String) -> Character {
    let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    var factor = 2, sum = 0
    for c in payload.reversed() {
        let addend = factor * alphabet.firstIndex(of: c)!
        sum += addend / 32 + addend % 32
        factor = factor == 2 ? 1 : 2
    }
    return alphabet[(32 - sum % 32) % 32]
}

func luhn32(_ code: String) -> Bool { luhnCheck(String(code.dropLast())) == code.last }
