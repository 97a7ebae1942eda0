import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SalesTestClient
import Testing

/// The sales forecast and stage statistics on small known data sets.
@Suite struct SalesReportsTests {

    func forecast(_ sales: SalesClient, _ period: Crm_Sales_V1_Period, pipeline: Int64 = 0, owner: String = "",
                  from: String = "", to: String = "") async throws -> [String] {
        let response: Crm_Sales_V1_GetForecastResponse = try await sales.call("GetForecast", Crm_Sales_V1_GetForecastRequest.with {
            $0.period = period
            $0.pipelineID = pipeline
            $0.owner = owner
            $0.fromDate = from
            $0.toDate = to
        })
        return response.rows.map { "\($0.period) \($0.owner) \($0.currency) \($0.openCount) \($0.unweightedMinor) \($0.weightedMinor) \($0.wonMinor)" }
    }

    @Test func forecastSumsOpenAndWonPerPeriodOwnerAndCurrency() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let pipeline = try await sales.createPipeline("Forecast", [("A", 33), ("B", 50)])
        let a = pipeline.stages[0].id, b = pipeline.stages[1].id
        let p = pipeline.id
        // Weighted amounts round down per opportunity: 1003 × 33 % = 330.99 → 330, twice.
        _ = try await sales.createOpportunity("o1", amount: 1003, closeDate: "2026-01-15", owner: "ann", pipeline: p, stage: a)
        _ = try await sales.createOpportunity("o2", amount: 1003, closeDate: "2026-01-31", owner: "ann", pipeline: p, stage: a)
        _ = try await sales.createOpportunity("o3", amount: 2000, closeDate: "2026-01-02", owner: "ann", pipeline: p, stage: b)
        _ = try await sales.createOpportunity("o4", amount: 500, currency: "USD", closeDate: "2026-02-10", owner: "ann",
                                              pipeline: p, stage: a)
        _ = try await sales.createOpportunity("o5", amount: 999, closeDate: "2026-03-01", owner: "bob", pipeline: p, stage: a,
                                              probability: 7)
        let won = try await sales.createOpportunity("o6", amount: 3000, closeDate: "2026-01-20", owner: "ann", pipeline: p, stage: b)
        _ = try await sales.win(won.id)
        let lost = try await sales.createOpportunity("o7", amount: 400, closeDate: "2026-03-05", owner: "bob", pipeline: p)
        _ = try await sales.lose(lost.id, reason: "budget")
        _ = try await sales.createOpportunity("o8", amount: 100, owner: "ann", pipeline: p)  // no close date: no period
        _ = try await sales.createOpportunity("o9", amount: 200, closeDate: "2026-11-30", owner: "bob", pipeline: p, stage: b)
        _ = try await sales.createOpportunity("other", amount: 5000, closeDate: "2026-01-10", owner: "ann")  // default pipeline, 10 %

        #expect(try await forecast(sales, .month, pipeline: p) == [
            "2026-01 ann EUR 3 4006 1660 3000",
            "2026-02 ann USD 1 500 165 0",
            "2026-03 bob EUR 1 999 69 0",
            "2026-11 bob EUR 1 200 100 0",
        ])
        #expect(try await forecast(sales, .quarter, pipeline: p) == [
            "2026-Q1 ann EUR 3 4006 1660 3000",
            "2026-Q1 ann USD 1 500 165 0",
            "2026-Q1 bob EUR 1 999 69 0",
            "2026-Q4 bob EUR 1 200 100 0",
        ])
        #expect(try await forecast(sales, .month).first == "2026-01 ann EUR 4 9006 2160 3000")
        #expect(try await forecast(sales, .month, owner: "bob", from: "2026-03-02") == ["2026-11 bob EUR 1 200 100 0"])
        #expect(try await forecast(sales, .quarter, owner: "bob", to: "2026-03-01") == ["2026-Q1 bob EUR 1 999 69 0"])
        await expectRPCError(.invalidArgument, mentioning: "from_date") { try await forecast(sales, .month, from: "2026-13-01") }
        await expectRPCError(.invalidArgument, mentioning: "to_date") {
            try await forecast(sales, .month, from: "2026-05-01", to: "2026-04-30")
        }
        await expectRPCError(.notFound, mentioning: "pipeline_id") { try await forecast(sales, .month, pipeline: 999) }
    }

    @Test func stageStatsCountEntriesOutcomesAndTimeInStage() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let sales = SalesClient(connection: try crmd.connect())
        let pipeline = try await sales.createPipeline("Stats", [("S1", 10), ("S2", 50), ("S3", 80)])
        let s = pipeline.stages.map(\.id)
        var ids: [Int64] = []
        for name in ["a", "b", "c", "d"] { ids.append(try await sales.createOpportunity(name, pipeline: pipeline.id).id) }
        _ = try await sales.move(ids[0], to: s[1])
        _ = try await sales.move(ids[2], to: s[1])
        _ = try await sales.lose(ids[1], reason: "no fit")
        try await Task.sleep(for: .milliseconds(1100))
        _ = try await sales.win(ids[0])
        _ = try await sales.move(ids[2], to: s[2])

        let response: Crm_Sales_V1_GetStageStatsResponse = try await sales.call(
            "GetStageStats", Crm_Sales_V1_GetStageStatsRequest.with { $0.pipelineID = pipeline.id })
        let stats = response.stages
        #expect(stats.map(\.stageName) == ["S1", "S2", "S3"])
        #expect(stats.map(\.entered) == [4, 2, 1])
        #expect(stats.map(\.won) == [1, 1, 0])
        #expect(stats.map(\.lost) == [1, 0, 0])
        #expect(stats.map(\.winRateBp) == [5000, 10000, 0])
        #expect(stats[0].averageSecondsInStage <= 1)
        #expect((1...10).contains(stats[1].averageSecondsInStage), "\(stats[1])")
        #expect(stats[2].averageSecondsInStage == 0)

        let defaults: Crm_Sales_V1_GetStageStatsResponse = try await sales.call("GetStageStats", Crm_Sales_V1_GetStageStatsRequest())
        #expect(defaults.stages.map(\.stageName) == ["Qualification", "Needs analysis", "Proposal", "Negotiation"])
        #expect(defaults.stages.allSatisfy { $0.entered == 0 && $0.winRateBp == 0 })
        await expectRPCError(.notFound, mentioning: "pipeline_id") {
            let _: Crm_Sales_V1_GetStageStatsResponse = try await sales.call(
                "GetStageStats", Crm_Sales_V1_GetStageStatsRequest.with { $0.pipelineID = 999 })
        }
    }
}
