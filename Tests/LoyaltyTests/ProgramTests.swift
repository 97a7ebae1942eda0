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
        ]
        for (field, change) in cases {
            await expectRPCError(.invalidArgument, mentioning: field) { _ = try await world.loyalty.createProgram(cafeProgram(change)) }
        }
        await expectRPCError(.notFound, mentioning: "no program 77") { _ = try await world.loyalty.program(77) }
        await expectRPCError(.notFound, mentioning: "no program 77") { _ = try await world.loyalty.updateProgram(77, cafeProgram()) }
        await expectRPCError(.invalidArgument, mentioning: "id") { _ = try await world.loyalty.program(-1) }
        #expect(try await world.loyalty.programs().programs.isEmpty)
    }
}
