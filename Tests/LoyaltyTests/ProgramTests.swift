import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import LoyaltyTestClient
import Testing

/// A café's program: earn rules per currency, one active at a time,
/// versioned updates, retirement.
func cafeProgram(_ configure: (inout LProgram) -> Void = { _ in }) -> LProgram {
    var program = LProgram()
    program.name = "Café club"
    program.currency = "EUR"
    program.pointsPerStep = 1
    program.spendStep = 100
    configure(&program)
    return program
}

@Suite struct ProgramTests {
    @Test func aProgramIsCreatedOncePerCurrencyVersionedAndRetired() async throws {
        let world = try LoyaltyWorld()
        let created = try await world.loyalty.createProgram(cafeProgram { $0.timeZone = "Europe/Paris"; $0.spendStep = 0 }, key: "p1")
        #expect(created.status == .active && created.version == 1 && created.spendStep == 100 && created.timeZone == "Europe/Paris")
        #expect(try await world.loyalty.createProgram(cafeProgram { $0.timeZone = "Europe/Paris"; $0.spendStep = 0 }, key: "p1") == created)
        await expectRPCError(.alreadyExists, mentioning: "currency EUR already has active program \(created.id)") {
            _ = try await world.loyalty.createProgram(cafeProgram())
        }
        let usd = try await world.loyalty.createProgram(cafeProgram { $0.currency = "USD"; $0.timeZone = "America/New_York" })

        let updated = try await world.loyalty.updateProgram(created.id, cafeProgram { $0.pointsPerVisit = 5 }, expectedVersion: 1)
        #expect(updated.version == 2 && updated.pointsPerVisit == 5 && updated.timeZone == "UTC")
        #expect(try await world.loyalty.updateProgram(created.id, cafeProgram { $0.pointsPerVisit = 5 }) == updated, "a repeat changes nothing")
        await expectRPCError(.aborted, mentioning: "version 2") {
            _ = try await world.loyalty.updateProgram(created.id, cafeProgram(), expectedVersion: 1)
        }
        let retired = try await world.loyalty.updateProgram(created.id, retire: true)
        #expect(retired.status == .retired && retired.version == 3)
        #expect(try await world.loyalty.updateProgram(created.id, retire: true) == retired)
        await expectRPCError(.failedPrecondition, mentioning: "retired") {
            _ = try await world.loyalty.updateProgram(created.id, cafeProgram())
        }
        let again = try await world.loyalty.createProgram(cafeProgram())
        #expect(try await world.loyalty.programs().programs.map(\.id) == [usd.id, again.id])
        let all = try await world.loyalty.programs(includeRetired: true, pageSize: 2)
        #expect(all.programs.map(\.id) == [created.id, usd.id] && !all.nextPageToken.isEmpty)
        #expect(try await world.loyalty.programs(includeRetired: true, pageSize: 2, token: all.nextPageToken).programs.map(\.id) == [again.id])
        #expect(try await world.loyalty.program(usd.id) == usd)
    }

    @Test func badRulesAreRefusedWithTheFieldNamed() async throws {
        let world = try LoyaltyWorld()
        let cases: [(String, (inout LProgram) -> Void)] = [
            ("program.name", { $0.name = " " }),
            ("program.currency", { $0.currency = "euro" }),
            ("program.points_per_step", { $0.pointsPerStep = -1 }),
            ("program.spend_step", { $0.spendStep = 2_000_000_000 }),
            ("program.max_points_per_day", { $0.maxPointsPerDay = -5 }),
            ("program.pending_seconds", { $0.pendingSeconds = 40_000_000 }),
            ("program.expiry_seconds", { $0.expirySeconds = -1 }),
            ("program.time_zone", { $0.timeZone = "Mars/Olympus" }),
            ("program.item_rules[0]: exactly one", { $0.itemRules = [.with { $0.itemID = "latte"; $0.category = "coffee" }] }),
            ("program.item_rules[1] repeats", { $0.itemRules = [.with { $0.itemID = "latte" }, .with { $0.itemID = "latte" }] }),
            ("program.item_rules[0].points_per_unit", { $0.itemRules = [.with { $0.category = "cake"; $0.pointsPerUnit = 2_000_000 }] }),
            ("program.bonus_windows[0].days", { $0.bonusWindows = [.with { $0.days = [8]; $0.endMinute = 60; $0.multiplierPercent = 200 }] }),
            ("program.bonus_windows[0].days", { $0.bonusWindows = [.with { $0.days = [1, 1]; $0.endMinute = 60; $0.multiplierPercent = 200 }] }),
            ("program.bonus_windows[0]: start_minute", { $0.bonusWindows = [.with { $0.days = [1]; $0.startMinute = 600; $0.endMinute = 600; $0.multiplierPercent = 200 }] }),
            ("program.bonus_windows[0].multiplier_percent", { $0.bonusWindows = [.with { $0.days = [1]; $0.endMinute = 60; $0.multiplierPercent = 100 }] }),
            ("program.redeem_points and program.redeem_value", { $0.redeemPoints = 100 }),
            ("program.redeem_value", { $0.redeemPoints = 1; $0.redeemValue = 2_000_000 }),
            ("program.birthday_field and program.birthday_bonus", { $0.birthdayBonus = 50 }),
            ("program.birthday_field must be", { $0.birthdayField = "Birth Day"; $0.birthdayBonus = 50 }),
            ("program.birthday_window_days", { $0.birthdayField = "born"; $0.birthdayBonus = 50; $0.birthdayWindowDays = 32 }),
        ]
        for (field, change) in cases {
            await expectRPCError(.invalidArgument, mentioning: field) { _ = try await world.loyalty.createProgram(cafeProgram(change)) }
        }
        await expectRPCError(.notFound, mentioning: "no program 77") { _ = try await world.loyalty.program(77) }
        await expectRPCError(.notFound, mentioning: "no program 77") { _ = try await world.loyalty.updateProgram(77, cafeProgram()) }
        await expectRPCError(.invalidArgument, mentioning: "id") { _ = try await world.loyalty.program(-1) }
        #expect(try await world.loyalty.programs().programs.isEmpty)
    }

    /// A birthday bonus once per birthday, in the days after it, read from
    /// a contacts date field; a refund takes it back with the order.
    @Test func theBirthdayBonusIsPaidOncePerBirthdayWindow() async throws {
        let world = try LoyaltyWorld()
        _ = try await world.contacts.call("DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
            $0.definition = .with { $0.entity = .person; $0.key = "born"; $0.type = .date }
        }, as: Crm_Contacts_V1_CustomFieldDefinition.self)
        _ = try await world.loyalty.createProgram(cafeProgram { $0.birthdayField = "born"; $0.birthdayBonus = 100; $0.birthdayWindowDays = 6 })
        func born(_ first: String, daysAgo: Int) async throws -> Int64 {
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            let day = utc.date(byAdding: .day, value: -daysAgo, to: Date())!
            let parts = utc.dateComponents([.month, .day], from: day)
            let text = String(format: "1990-%02d-%02d", parts.month!, parts.day!)
            let person = try await world.contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
                $0.person.firstName = first; $0.person.lastName = "Born"; $0.person.customFields = ["born": .with { $0.date = text }]
            }, as: Crm_Contacts_V1_Person.self).id
            _ = try await world.loyalty.pointsAccount(person: person)
            return person
        }
        let today = try await born("Today", daysAgo: 0)
        let lastWeek = try await born("Week", daysAgo: 3)
        let longAgo = try await born("Past", daysAgo: 40)
        let lines = [orderLine("tea", 1, 300)]
        let first = try await world.loyalty.postOrder(person: today, lines: lines, key: "t1")
        let second = try await world.loyalty.postOrder(person: today, lines: lines, key: "t2")
        #expect(first.order.birthdayBonus && first.order.pointsEarned == 103)
        #expect(!second.order.birthdayBonus && second.order.pointsEarned == 3)
        #expect(try await world.loyalty.postOrder(person: lastWeek, lines: lines, key: "w1").order.pointsEarned == 103)
        #expect(try await world.loyalty.postOrder(person: longAgo, lines: lines, key: "p1").order.pointsEarned == 3)
        let anonymous = try await world.person("Nobody")
        _ = try await world.loyalty.pointsAccount(person: anonymous)
        #expect(try await world.loyalty.postOrder(person: anonymous, lines: lines, key: "n1").order.pointsEarned == 3)
        // The refund takes the bonus back with the order; the bonus stays paid for this birthday.
        let refund = try await world.loyalty.refundOrder(first.order.id, key: "r")
        #expect(refund.refund.pointsClawedBack == 103)
        #expect(try await world.loyalty.postOrder(person: today, lines: lines, key: "t3").order.pointsEarned == 3)
        try await world.expectClean()
    }
}
