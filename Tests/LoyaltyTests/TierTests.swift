import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import LoyaltyTestClient
import Testing

let hourUs: Int64 = 3_600_000_000
let dayUs: Int64 = 24 * hourUs

func ladder(_ basis: Crm_Loyalty_V1_TierBasis, _ window: Crm_Loyalty_V1_TierWindow, length: Int32 = 0,
            _ tiers: [LTier]) -> LTierLadder {
    .with { $0.basis = basis; $0.window = window; $0.windowLength = length; $0.tiers = tiers }
}

/// Points earned in the calendar year.
func ladder(_ tiers: [LTier]) -> LTierLadder { ladder(.pointsEarned, .calendarYear, tiers) }

/// The start of the calendar year `offset` years from now's, in `zone`.
func yearStart(_ offset: Int, zone: String) -> Int64 {
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = TimeZone(identifier: zone)!
    let start = cal.dateInterval(of: .year, for: Date())!.start
    return Int64(cal.date(byAdding: .year, value: offset, to: start)!.timeIntervalSince1970) * 1_000_000
}

/// Tiers: a multiplier on what orders earn (and what refunds take back),
/// upgrades at once, reviews at the end of a window, manual tiers, history.
@Suite struct TierTests {
    @Test func aTiersMultiplierIsAppliedAndARefundTakesBackExactlyTheMultipliedPoints() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        _ = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 100, percent: 150), tier("Gold", 100_000, percent: 200)]))
        let (person, account) = try await world.member("Ada")
        // At no tier, 120 points as they are; they reach Silver for the next order.
        let feast = try await world.loyalty.postOrder(person: person, lines: [orderLine("feast", 1, 12_000)], key: "o1")
        #expect(feast.order.pointsEarned == 120)
        #expect(try await world.loyalty.tier(account, program: program.id).tier.name == "Silver")
        // Spend 2 × 450 + 333 = 1233: 12 points × 150% = 18.
        let lunch = try await world.loyalty.postOrder(person: person, lines: [orderLine("latte", 2, 450), orderLine("cake", 1, 333)], key: "o2")
        #expect(lunch.order.pointsEarned == 18 && lunch.pointsAccount.balance == 138)
        #expect(try world.database.rows("SELECT tier_percent FROM loyalty_orders ORDER BY id") == [["100"], ["150"]])
        // The ladder changes; the order keeps the multiplier it earned with.
        _ = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 100, percent: 300), tier("Gold", 100_000, percent: 200)]))
        // One latte back: the rest (783) earns 7 × 150% = 10, so 8 come back (at 300% it would be none).
        let one = try await world.loyalty.refundOrder(lunch.order.id, lines: [(1, 1)], key: "r1")
        #expect(one.refund.pointsClawedBack == 8 && one.pointsAccount.balance == 130)
        let rest = try await world.loyalty.refundOrder(lunch.order.id, key: "r2")
        #expect(rest.refund.pointsClawedBack == 10 && rest.pointsAccount.balance == 120 && rest.order.pointsClawedBack == 18)
        // The next order earns at the ladder's new 300%: 4 × 3 = 12.
        let latte = try await world.loyalty.postOrder(person: person, lines: [orderLine("latte", 1, 450)], key: "o3")
        #expect(latte.order.pointsEarned == 12)
        try await world.expectClean()
    }

    @Test func anOrderUpgradesAtOnceAndARefundNeverDowngrades() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        _ = try await world.loyalty.setLadder(program.id, ladder(.spend, .rollingMonths, length: 12,
                                                                 [tier("Silver", 5000, benefits: "free refills"), tier("Gold", 20_000)]))
        let (person, account) = try await world.member("Bea")
        let before = try await world.loyalty.tier(account, program: program.id)
        #expect(before.tier.rank == 0 && before.nextTier.name == "Silver" && before.missing == 5000 && before.reviewUnixUs == 0)
        let first = try await world.loyalty.postOrder(person: person, lines: [orderLine("dinner", 1, 6000)], key: "o1")
        let silver = try await world.loyalty.tier(account, program: program.id)
        #expect(silver.tier.name == "Silver" && silver.tier.benefits == "free refills" && silver.qualifyingValue == 6000)
        #expect(silver.nextTier.name == "Gold" && silver.missing == 14_000 && silver.basis == .spend)
        #expect(silver.reviewUnixUs > nowMicros() + 360 * dayUs && silver.reviewUnixUs < nowMicros() + 370 * dayUs)
        let big = try await world.loyalty.postOrder(person: person, lines: [orderLine("banquet", 1, 15_000)], key: "o2")
        let gold = try await world.loyalty.tier(account, program: program.id)
        #expect(gold.tier.name == "Gold" && gold.qualifyingValue == 21_000 && !gold.hasNextTier && gold.missing == 0)
        let history = try await world.loyalty.tierChanges(account).changes
        #expect(history.map(\.reason) == [.upgrade, .upgrade] && history.map(\.orderID) == [big.order.id, first.order.id])
        #expect(history[0].fromName == "Silver" && history[0].toName == "Gold" && history[0].qualifyingValue == 21_000)
        // A refund lowers the value, never the tier before its review.
        _ = try await world.loyalty.refundOrder(big.order.id, key: "r")
        let after = try await world.loyalty.tier(account, program: program.id)
        #expect(after.tier.name == "Gold" && after.qualifyingValue == 6000 && after.reviewUnixUs == gold.reviewUnixUs)
        #expect(try await world.loyalty.reviewTier(account, program: program.id).tier.name == "Gold", "nothing is due")
        #expect(try await world.loyalty.tierChanges(account).changes.count == 2)
        // The timeline shows the moves.
        let entries = try await world.contacts.timeline(person: person, atLeast: 7)
        let moves = entries.filter { $0.topic == "loyalty.tier.changed" }
        #expect(moves.map(\.summary) == ["Tier up: Silver → Gold (Café club)", "Tier up: none → Silver (Café club)"])
        let event = try Crm_Loyalty_V1_TierEvent(serializedBytes: try #require(moves.first).payload)
        #expect(event.about.personIds == [person] && event.change.toRank == 2 && event.tier.tier.name == "Gold")
    }

    /// A one-day rolling window, with orders placed in the past: the job
    /// reviews each window that ended, one after the other.
    @Test func aReviewAtTheWindowsEndKeepsThenDowngrades() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        let (person, account) = try await world.member("Cy")
        let p = nowMicros() - 3 * dayUs + 2 * hourUs
        // Posted before the ladder exists: they count, they upgrade nothing.
        _ = try await world.loyalty.postOrder(person: person, lines: [orderLine("dinner", 1, 6000)], placed: p + 12 * hourUs, key: "o2")
        _ = try await world.loyalty.postOrder(person: person, lines: [orderLine("lunch", 1, 2000)], placed: p + 36 * hourUs, key: "o3")
        _ = try await world.loyalty.setLadder(program.id, ladder(.spend, .rollingDays, length: 1, [tier("Silver", 1000), tier("Gold", 5000)]))
        let first = try await world.loyalty.postOrder(person: person, lines: [orderLine("dinner", 1, 6000)], placed: p, key: "o1")
        // Gold on the day up to p, held to p + 1 day; kept on (p, p + 1 day]
        // (6000), down to Silver on the next day (2000), held to p + 3 days.
        #expect(try await eventually { try await world.loyalty.tierChanges(account).changes.count == 3 })
        let history = try await world.loyalty.tierChanges(account).changes
        #expect(history.map(\.reason) == [.downgrade, .kept, .upgrade])
        #expect(history.map(\.toName) == ["Silver", "Gold", "Gold"] && history.map(\.qualifyingValue) == [2000, 6000, 6000])
        #expect(history[2].orderID == first.order.id && history[2].reviewUnixUs == p + dayUs)
        #expect(history[1].windowStartUnixUs == p + 1 && history[1].windowEndUnixUs == p + dayUs + 1)
        let now = try await world.loyalty.tier(account, program: program.id)
        #expect(now.tier.name == "Silver" && now.reviewUnixUs == p + 3 * dayUs)
        func moves() async throws -> [String] {
            try await world.contacts.timeline(person: person, pageSize: 500).entries.filter { $0.topic == "loyalty.tier.changed" }.map(\.summary)
        }
        #expect(try await eventually { try await moves().count == 2 })
        #expect(try await moves() == ["Tier down: Gold → Silver (Café club)", "Tier up: none → Gold (Café club)"])
    }

    /// Calendar year: a tier reached this year holds through the end of the
    /// next; a manual tier's review decides on the year it falls in.
    @Test func aCalendarYearTierHoldsThroughNextYearAndAManualOneIsReviewed() async throws {
        let world = try LoyaltyWorld()
        let zone = "Europe/Paris"
        let program = try await world.loyalty.createProgram(cafeProgram { $0.timeZone = zone })
        _ = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 100), tier("Gold", 1000, percent: 200)]))
        let (person, account) = try await world.member("Di")
        _ = try await world.loyalty.postOrder(person: person, lines: [orderLine("feast", 1, 15_000)], key: "o1")
        let silver = try await world.loyalty.tier(account, program: program.id)
        #expect(silver.tier.name == "Silver" && silver.reviewUnixUs == yearStart(2, zone: zone))
        #expect(silver.windowStartUnixUs == yearStart(0, zone: zone) && silver.windowEndUnixUs == yearStart(1, zone: zone))
        let hold = nowMicros() + 1_500_000
        let gold = try await world.loyalty.setTier(account, program: program.id, rank: 2, reason: "status match", holdUntil: hold, key: "m")
        #expect(gold.tier.name == "Gold" && gold.reviewUnixUs == hold)
        // Reviewed on this year (150 points: Silver), which then holds through next year.
        #expect(try await eventually { try await world.loyalty.tierChanges(account).changes.count == 3 })
        let history = try await world.loyalty.tierChanges(account).changes
        #expect(history.map(\.reason) == [.downgrade, .manual, .upgrade] && history[1].note == "status match")
        #expect(history[0].toName == "Silver" && history[0].qualifyingValue == 150 && history[0].reviewUnixUs == yearStart(2, zone: zone))
        #expect(try await world.loyalty.tier(account, program: program.id).tier.name == "Silver")
    }

    @Test func theHistoryPaginatesNewestFirst() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        _ = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 100), tier("Gold", 1000)]))
        let account = try await world.loyalty.pointsAccount().id
        for (i, rank) in [1, 2, 0, 2, 1].enumerated() {
            _ = try await world.loyalty.setTier(account, program: program.id, rank: Int32(rank), reason: "change \(i)", key: "m\(i)")
        }
        var notes: [String] = []
        var token = ""
        var pages = 0
        repeat {
            let page = try await world.loyalty.tierChanges(account, pageSize: 2, token: token)
            notes += page.changes.map(\.note)
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty
        #expect(notes == ["change 4", "change 3", "change 2", "change 1", "change 0"] && pages == 3)
        #expect(try await world.loyalty.tierChanges(account, program: program.id + 1).changes.isEmpty)
        let now = try await world.loyalty.tier(account, program: program.id)
        #expect(now.tier.name == "Silver" && now.reviewUnixUs > nowMicros())
        let none = try await world.loyalty.setTier(account, program: program.id, rank: 0, reason: "fraud", key: "m9")
        #expect(none.tier.rank == 0 && none.reviewUnixUs == 0 && none.nextTier.name == "Silver")
    }

    @Test func badInputIsRefusedWithTheFieldNamed() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        let good = [tier("Silver", 100), tier("Gold", 1000)]
        let cases: [(String, LTierLadder)] = [
            ("ladder.basis", ladder(.unspecified, .calendarYear, good)),
            ("ladder.window", ladder(.spend, .unspecified, good)),
            ("ladder.window_length must be 1 to 36", ladder(.spend, .rollingMonths, length: 0, good)),
            ("ladder.window_length must be 1 to 1095", ladder(.spend, .rollingDays, length: 1096, good)),
            ("ladder.window_length must be 0", ladder(.spend, .calendarYear, length: 3, good)),
            ("ladder.tiers must hold", ladder([])),
            ("ladder.tiers holds more than 20", ladder((1...21).map { tier("T\($0)", Int64($0)) })),
            ("ladder.tiers[0].name", ladder([tier(" ", 100)])),
            ("ladder.tiers[1].name \"silver\" is repeated", ladder([tier("Silver", 100), tier("silver", 200)])),
            ("ladder.tiers[0].threshold", ladder([tier("Silver", 0)])),
            ("ladder.tiers[1].threshold must be above", ladder([tier("Silver", 100), tier("Gold", 100)])),
            ("ladder.tiers[0].earn_multiplier_percent", ladder([tier("Silver", 100, percent: 50)])),
            ("ladder.tiers[0].earn_multiplier_percent", ladder([tier("Silver", 100, percent: 1001)])),
            ("ladder.tiers[0].benefits", ladder([tier("Silver", 100, benefits: String(repeating: "b", count: 1001))])),
        ]
        for (field, bad) in cases {
            await expectRPCError(.invalidArgument, mentioning: field) { try await world.loyalty.setLadder(program.id, bad) }
        }
        await expectRPCError(.invalidArgument, mentioning: "program_id") { try await world.loyalty.setLadder(-1, ladder(good)) }
        await expectRPCError(.notFound, mentioning: "no program 77") { try await world.loyalty.setLadder(77, ladder(good)) }
        await expectRPCError(.notFound, mentioning: "has no tier ladder") { try await world.loyalty.ladder(program.id) }
        let set = try await world.loyalty.setLadder(program.id, ladder(good), expectedVersion: 0)
        #expect(set.version == 1 && set.tiers.map(\.rank) == [1, 2] && set.tiers.map(\.earnMultiplierPercent) == [100, 100])
        #expect(try await world.loyalty.setLadder(program.id, ladder(good)) == set, "a repeat changes nothing")
        #expect(try await world.loyalty.ladder(program.id) == set)
        #expect(try await world.loyalty.setLadder(program.id, ladder(good), expectedVersion: 4) == set, "a repeat is answered, whatever it expected")
        await expectRPCError(.aborted, mentioning: "version 1") {
            try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 150)]), expectedVersion: 4)
        }

        let account = try await world.loyalty.pointsAccount().id
        let house = try await world.loyalty.houseAccount(label: "Team lunch").id
        await expectRPCError(.invalidArgument, mentioning: "account_id") { try await world.loyalty.tier(0, program: program.id) }
        await expectRPCError(.invalidArgument, mentioning: "program_id") { try await world.loyalty.tier(account, program: -2) }
        await expectRPCError(.notFound, mentioning: "no account 999") { try await world.loyalty.tier(999, program: program.id) }
        await expectRPCError(.notFound, mentioning: "no program 55") { try await world.loyalty.tier(account, program: 55) }
        await expectRPCError(.failedPrecondition, mentioning: "not a POINTS account") { try await world.loyalty.tier(house, program: program.id) }
        await expectRPCError(.failedPrecondition, mentioning: "not a POINTS account") { try await world.loyalty.tierChanges(house) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await world.loyalty.tierChanges(account, token: "junk") }
        await expectRPCError(.invalidArgument, mentioning: "program_id") { try await world.loyalty.tierChanges(account, program: -1) }

        await expectRPCError(.invalidArgument, mentioning: "rank must be 0 to 2") {
            try await world.loyalty.setTier(account, program: program.id, rank: 3, key: "k1")
        }
        await expectRPCError(.invalidArgument, mentioning: "rank must not be negative") {
            try await world.loyalty.setTier(account, program: program.id, rank: -1, key: "k1")
        }
        await expectRPCError(.invalidArgument, mentioning: "reason") {
            try await world.loyalty.setTier(account, program: program.id, rank: 1, reason: "", key: "k1")
        }
        await expectRPCError(.invalidArgument, mentioning: "hold_until_unix_us") {
            try await world.loyalty.setTier(account, program: program.id, rank: 1, holdUntil: nowMicros() - 1, key: "k1")
        }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key") {
            try await world.loyalty.setTier(account, program: program.id, rank: 1, key: "")
        }
        let first = try await world.loyalty.setTier(account, program: program.id, rank: 1, key: "k1")
        #expect(try await world.loyalty.setTier(account, program: program.id, rank: 1, key: "k1") == first, "a retry answers the first answer")
        #expect(try await world.loyalty.tierChanges(account).changes.count == 1)
        await expectRPCError(.failedPrecondition, mentioning: "k1") {
            try await world.loyalty.setTier(account, program: program.id, rank: 2, key: "k1")
        }
        _ = try await world.loyalty.updateProgram(program.id, retire: true)
        await expectRPCError(.failedPrecondition, mentioning: "retired") { try await world.loyalty.setLadder(program.id, ladder(good)) }
    }

    @Test func aCashierReadsTiersAndOnlyAManagerSetsThem() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "loyalty"], arguments: ["--enable", "contacts,loyalty"])
        try await AccessSupport.createUser(crmd, "tess", roles: ["cashier"])
        try await AccessSupport.createUser(crmd, "mia", roles: ["loyalty_manager"])
        let connection = try crmd.connect()
        let admin = LoyaltyClient(connection: connection)
        let till = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("tess"))
        let manager = LoyaltyClient(connection: connection, metadata: AccessSupport.actingAs("mia"))
        let program = try await admin.createProgram(cafeProgram())
        let good = ladder([tier("Silver", 100), tier("Gold", 1000)])
        await expectRPCError(.permissionDenied, mentioning: "loyalty.program.write") { try await till.setLadder(program.id, good) }
        _ = try await manager.setLadder(program.id, good)
        let account = try await till.pointsAccount().id
        #expect(try await till.tier(account, program: program.id).tier.rank == 0)
        await expectRPCError(.permissionDenied, mentioning: "loyalty.tier.set") {
            try await till.setTier(account, program: program.id, rank: 2, key: "t")
        }
        await expectRPCError(.permissionDenied, mentioning: "loyalty.tier.review") { try await till.reviewTier(account, program: program.id) }
        _ = try await manager.setTier(account, program: program.id, rank: 2, reason: "regular since 2019", key: "m")
        #expect(try await till.tierChanges(account).changes.map(\.createdBy) == ["mia"])
        let trail: Crm_Kernel_V1_ListAuditResponse = try await connection.call(
            "/crm.kernel.v1.Audit/List",
            Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "loyalty.account_tier"; $0.recordID = "\(account):\(program.id)" },
            as: Crm_Kernel_V1_ListAuditResponse.self)
        #expect(trail.entries.map(\.action) == ["set"] && trail.entries.first?.user == "mia")
    }

    @Test func tiersAreExportedErasedAndFollowAMerge() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        _ = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 100), tier("Gold", 1000)]))
        let (survivor, kept) = try await world.member("Ed")
        let (merged, other) = try await world.member("Ed2")
        _ = try await world.loyalty.setTier(other, program: program.id, rank: 2, reason: "VIP, cousin of the owner", key: "m")
        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = merged })
        let part = try #require(export.modules.first { $0.module == "loyalty" })
        #expect(part.records.map(\.typeName) == ["crm.loyalty.v1.Account", "crm.loyalty.v1.AccountTier", "crm.loyalty.v1.TierChange"])
        #expect(try Crm_Loyalty_V1_TierChange(serializedBytes: part.records[2].payload).note == "VIP, cousin of the owner")

        let _: CPerson = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor
            $0.mergedID = merged
        })
        #expect(try await eventually { try await world.loyalty.tier(kept, program: program.id).tier.name == "Gold" })
        #expect(try await world.loyalty.tierChanges(kept).changes.map(\.reason) == [.merge])
        #expect(try world.database.rows("SELECT count(*) FROM loyalty_account_tiers WHERE account_id = \(other)") == [["0"]])

        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = survivor; $0.reason = "request 12" })
        #expect(try await eventually { try await world.loyalty.account(kept).personID == 0 })
        #expect(try world.database.rows("SELECT count(*) FROM loyalty_tier_changes WHERE note LIKE '%cousin%'") == [["0"]])
        #expect(try await world.loyalty.tier(kept, program: program.id).tier.name == "Gold", "the tier stays with the account")
    }

    /// A merge leaves the merged person's points account (and its orders)
    /// beside the survivor's: their spend counts together, at once.
    @Test func aMergeCountsBothPeoplesOrdersAndUpgradesOnTheirSum() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        _ = try await world.loyalty.setLadder(program.id, ladder(.spend, .calendarYear, [tier("Silver", 1_000), tier("Gold", 2_000)]))
        let (survivor, kept) = try await world.member("Fay")
        let (merged, _) = try await world.member("Fay2")
        _ = try await world.loyalty.postOrder(person: survivor, lines: [orderLine("menu", 1, 1_200)], key: "a")
        _ = try await world.loyalty.postOrder(person: merged, lines: [orderLine("menu", 1, 1_200)], key: "b")
        #expect(try await world.loyalty.tier(kept, program: program.id).tier.name == "Silver")
        let _: CPerson = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = survivor
            $0.mergedID = merged
        })
        #expect(try await eventually { try await world.loyalty.tier(kept, program: program.id).tier.name == "Gold" })
        let view = try await world.loyalty.tier(kept, program: program.id)
        #expect(view.qualifyingValue == 2_400)
    }

    /// Retrying a ladder change whose answer was lost, with the version it
    /// expected, is answered, not ABORTED.
    @Test func aRetriedLadderChangeWithItsExpectedVersionIsAnswered() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        let first = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 100)]))
        let second = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 200)]), expectedVersion: first.version)
        let retry = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 200)]), expectedVersion: first.version)
        #expect(second.version == 2 && retry == second)
        await expectRPCError(.aborted, mentioning: "version") {
            _ = try await world.loyalty.setLadder(program.id, ladder([tier("Silver", 300)]), expectedVersion: first.version)
        }
    }

    /// An order to an account whose review is overdue (the job had no time
    /// yet) runs the review first and earns at the tier held after it.
    @Test func anOrderRunsAnOverdueReviewBeforeItEarns() async throws {
        let world = try LoyaltyWorld()
        let program = try await world.loyalty.createProgram(cafeProgram())
        _ = try await world.loyalty.setLadder(program.id, ladder(.spend, .rollingDays, length: 1, [tier("Silver", 1000, percent: 200)]))
        let (person, account) = try await world.member("Dov")
        let p = nowMicros() - 3 * dayUs
        // Silver at p, held until p + 1 day: two days overdue at once.
        let first = try await world.loyalty.postOrder(person: person, lines: [orderLine("dinner", 1, 1500)], placed: p, key: "o1")
        let second = try await world.loyalty.postOrder(person: person, lines: [orderLine("tea", 1, 300)], key: "o2")
        #expect(first.order.pointsEarned == 15)
        // The review on (p, p + 1 day] finds nothing: no tier, so 3 points, not Silver's 6.
        #expect(second.order.pointsEarned == 3)
        let history = try await world.loyalty.tierChanges(account).changes
        #expect(history.map(\.reason) == [.downgrade, .upgrade] && history.map(\.toRank) == [0, 1])
    }
}
