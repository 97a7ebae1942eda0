import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Integer extremes on the wire: each gets a status or a correct answer,
/// never a trap (a trap in a plugin is a crash of crmd).
@Suite struct ContactsSalesExtremeValuesTests {
    @Test func extremeIntegersGetAStatusAndCrmdKeepsAnswering() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let contacts = ContactsClient(connection: connection)
        let sales = SalesClient(connection: connection)

        await expectRPCError(.notFound, mentioning: "person \(Int64.max) does not exist") { try await contacts.getPerson(.max) }
        await expectRPCError(.invalidArgument, mentioning: "positive id") { try await contacts.getPerson(.min) }
        // 2^64-1 sent as a varint is the int64 -1: the same bytes on the wire.
        await expectRPCError(.invalidArgument, mentioning: "positive id") { try await contacts.getPerson(-1) }
        await expectRPCError(.notFound, mentioning: "does not exist") { try await contacts.timeline(person: .max) }
        let page = try await contacts.search("x", pageSize: .max)
        #expect(page.people.isEmpty)
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await contacts.search("x", pageSize: .min) }

        // Row numbers are first_row_number + index: Int64.max + 1 trapped.
        await expectRPCError(.invalidArgument, mentioning: "first_row_number") {
            let _: Crm_Contacts_V1_ImportPeopleResponse = try await contacts.call("ImportPeople", Crm_Contacts_V1_ImportPeopleRequest.with {
                $0.header = ["last_name"]
                $0.csv = "Lovelace\nHopper\n"
                $0.firstRowNumber = .max
            })
        }
        // The largest first_row_number, and a parse error 6,000 rows on (found before the row count is).
        await expectRPCError(.invalidArgument, mentioning: "csv row \(Int64.max)") {
            let _: Crm_Contacts_V1_ImportPeopleResponse = try await contacts.call("ImportPeople", Crm_Contacts_V1_ImportPeopleRequest.with {
                $0.header = ["last_name"]
                $0.csv = String(repeating: "Lovelace\n", count: 6_000) + "\"unclosed\n"
                $0.firstRowNumber = Int64.max - 5_000
            })
        }
        let ids = try await contacts.importRows(["id", "last_name"], "18446744073709551615,A\n\(Int64.max),B\n\(Int64.min),C\n")
        try #require(ids.errors.count == 3)
        #expect(ids.failed == 3 && ids.errors[0].message.contains("not a positive id")
            && ids.errors[1].message.contains("does not exist") && ids.errors[2].message.contains("not a positive id"))

        for amount in [Int64.max, Int64.min] {
            await expectRPCError(.invalidArgument, mentioning: "amount.amount_minor") {
                try await sales.createOpportunity("Too much", amount: amount)
            }
        }
        let deal = try await sales.createOpportunity("Deal", amount: 1)
        await expectRPCError(.invalidArgument, mentioning: "probability") { try await sales.move(deal.id, to: 1, probability: .max) }
        await expectRPCError(.invalidArgument, mentioning: "probability") { try await sales.move(deal.id, to: 1, probability: .min) }
        await expectRPCError(.invalidArgument, mentioning: "stages[0].probability") {
            try await sales.createPipeline("Odd", [("Open", .min)])
        }
        await expectRPCError(.invalidArgument, mentioning: "due_unix_us") {
            try await sales.createActivity(.call, "Call", due: .min, opportunity: deal.id)
        }

        let cap: Int64 = 1_000_000_000_000_000  // 10^15, the documented maximum
        await expectRPCError(.invalidArgument, mentioning: "amount.amount_minor") {
            try await sales.createOpportunity("Too much", amount: cap + 1)
        }
        _ = try await sales.createOpportunity("Big", amount: cap - 1, closeDate: "2026-11-30", owner: "big", probability: 61)
        let big: Crm_Sales_V1_GetForecastResponse = try await sales.call("GetForecast", Crm_Sales_V1_GetForecastRequest.with {
            $0.owner = "big"
        })
        #expect(big.rows.map(\.weightedMinor) == [(cap - 1) * 61 / 100] && big.rows.map(\.unweightedMinor) == [cap - 1])
        #expect(crmd.isRunning)
        #expect(try await contacts.createPerson("Still", "Here").id > 0, "crmd still answers")
        #expect(try await sales.getOpportunity(deal.id).id == deal.id)
    }

    /// 9,300 opportunities at the maximum amount in one forecast row: a sum
    /// beyond int64. Seeded in the file, as 9,300 creates would be slow.
    @Test func aForecastSumBeyondInt64IsOutOfRange() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        var crmd = try CrmdProcess(plugins: ["contacts", "sales"], dataDir: dataDir)
        var sales = SalesClient(connection: try crmd.connect())
        _ = try await sales.createOpportunity("Max", amount: 1_000_000_000_000_000, closeDate: "2026-12-01", owner: "max")
        #expect(try crmd.stop() == 0)
        let columns = """
            name, pipeline_id, stage_id, probability, status, amount_minor, currency, expected_close_date, owner, person_id,
            organization_id, lead_id, lost_reason, closed_us, version, created_us, updated_us
            """
        try DatabaseFile(dataDir: dataDir).execute("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9300)
            INSERT INTO sales_opportunities (\(columns)) SELECT \(columns) FROM sales_opportunities, n WHERE owner = 'max';
            """)
        crmd = try CrmdProcess(plugins: ["contacts", "sales"], dataDir: dataDir)
        sales = SalesClient(connection: try crmd.connect())
        await expectRPCError(.outOfRange, mentioning: "int64") {
            let _: Crm_Sales_V1_GetForecastResponse = try await sales.call("GetForecast", Crm_Sales_V1_GetForecastRequest.with {
                $0.owner = "max"
            })
        }
        let _: Crm_Sales_V1_GetForecastResponse = try await sales.call("GetForecast", Crm_Sales_V1_GetForecastRequest.with {
            $0.owner = "nobody"
        })
        #expect(crmd.isRunning, "crmd still answers")
    }
}
