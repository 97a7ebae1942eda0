import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Runaway statements: stopped at the call's deadline (or budget), so the
/// writer and the readers keep answering every other plugin.
@Suite struct StorageIsolationRunawayTests {
    /// Counts to a billion: minutes of one core without an interrupt. (The
    /// CTEs carry the prefix, which this test does not depend on.)
    static let forever = """
        WITH RECURSIVE hostile_c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM hostile_c WHERE x < 1000000000)
        SELECT count(*) FROM hostile_c
        """

    @Test func aRunawayQueryOnTheWriterStopsAtItsDeadline() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        await expectRPCError(.deadlineExceeded, mentioning: "deadline") {
            try await hostile(client, Self.forever, timeout: .milliseconds(300))
        }
        // Another plugin's write is answered within its own deadline (earlier
        // than the default 5 s budget would have freed the writer).
        let after = try await client.call(probeService + "Put", PutRequest.with { $0.key = "after" },
                                          as: PutResponse.self, timeout: .seconds(3))
        #expect(after.key == "after")
    }

    @Test func aRunawayWriteIsStoppedAndTheCallsBesideItCommit() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        try await hostile(client, "CREATE TABLE hostile_sink (x INTEGER)")
        // SQLite rolls the whole transaction back when it interrupts a write:
        // the calls that shared it are run again, each on its own.
        let results = await withTaskGroup(of: RPCError?.self) { group in
            for i in 0..<40 {
                if i == 10 {
                    group.addTask {
                        do {
                            try await hostile(client, """
                                WITH RECURSIVE hostile_c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM hostile_c WHERE x < 100000000)
                                INSERT INTO hostile_sink SELECT x FROM hostile_c
                                """, timeout: .milliseconds(300))
                            return RPCError(.ok, "the runaway write succeeded")
                        } catch let error as RPCError {
                            return error.code == .deadlineExceeded ? nil : error
                        } catch { return RPCError(.internal, "\(error)") }
                    }
                }
                group.addTask {
                    do {
                        _ = try await client.call(probeService + "Put", PutRequest.with { $0.key = "k\(i)" },
                                                  as: PutResponse.self, timeout: .seconds(10))
                        return nil
                    } catch let error as RPCError { return error } catch { return RPCError(.internal, "\(error)") }
                }
            }
            var errors: [RPCError?] = []
            for await result in group { errors.append(result) }
            return errors
        }
        #expect(results.compactMap { $0 }.isEmpty, "\(results.compactMap { $0 })")
        let file = DatabaseFile(dataDir: crmd.dir + "/data")
        #expect(try file.rows("SELECT count(*) FROM probe_items") == [["40"]])
        #expect(try file.rows("SELECT count(*) FROM hostile_sink") == [["0"]])
    }

    @Test func aRunawayQueryOnAReaderStopsAtItsDeadline() async throws {
        // One reader: held by the runaway, every other read would wait for it.
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"], arguments: ["--readers", "1"])
        let client = try crmd.connect()
        await expectRPCError(.deadlineExceeded, mentioning: "deadline") {
            try await hostile(client, Self.forever, "Query", timeout: .milliseconds(300))
        }
        let found = try await client.call(probeService + "Get", Crm_Testing_V1_GetRequest.with { $0.key = "none" },
                                          as: Crm_Testing_V1_GetResponse.self, timeout: .seconds(3))
        #expect(!found.found)
    }

    @Test func aCancelledRunawayQueryFreesItsReader() async throws {
        // No budget to speak of: only the cancellation can stop it.
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"], arguments: ["--readers", "1", "--sql-timeout-ms", "600000"])
        let client = try crmd.connect()
        let runaway = Task { try await hostile(client, Self.forever, "Query") }
        try await Task.sleep(for: .milliseconds(300))
        runaway.cancel()
        await #expect(throws: (any Error).self) { try await runaway.value }
        let found = try await client.call(probeService + "Get", Crm_Testing_V1_GetRequest.with { $0.key = "none" },
                                          as: Crm_Testing_V1_GetResponse.self, timeout: .seconds(3))
        #expect(!found.found)
    }

    @Test func aCallWithoutADeadlineGetsTheDefaultBudget() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"], arguments: ["--sql-timeout-ms", "300"])
        let client = try crmd.connect()
        await expectRPCError(.deadlineExceeded, mentioning: "300 ms budget") { try await hostile(client, Self.forever) }
        await expectRPCError(.deadlineExceeded, mentioning: "300 ms budget") { try await hostile(client, Self.forever, "Query") }
        _ = try await put(client, key: "after")
    }

    @Test func oneStatementCannotBuildAHugeValue() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "hostile"])
        let client = try crmd.connect()
        let before = peakResidentMiB(crmd.pid)
        for method in ["Query", "Exec"] {
            // printf's precision loop runs inside one VM step, past any interrupt: denied outright.
            await expectDenied(client, "SELECT length(printf('%.*c', 2147483647, 'x'))", method, mentioning: "printf")
            await expectDenied(client, "SELECT length(format('%.*c', 2147483647, 'x'))", method, mentioning: "format")
            for text in ["SELECT length(zeroblob(2000000000))", "SELECT length(randomblob(2000000000))",
                         "SELECT length(group_concat(hex(zeroblob(500000)))) FROM (\(Self.upTo(100)))",
                         "WITH RECURSIVE hostile_s(x, n) AS (SELECT 'x', 0 UNION ALL SELECT x || x, n + 1 FROM hostile_s WHERE n < 40) SELECT max(length(x)) FROM hostile_s"] {
                await expectRPCError(.resourceExhausted, mentioning: "too big") { try await hostile(client, text, method) }
            }
        }
        let after = peakResidentMiB(crmd.pid)
        print("crmd peak RSS: \(before) MiB at start, \(after) MiB after the oversized statements")
        #expect(after - before < 200)
        _ = try await put(client, key: "after")
    }

    static func upTo(_ n: Int) -> String {
        "WITH RECURSIVE hostile_c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM hostile_c WHERE x < \(n)) SELECT x FROM hostile_c"
    }
}

/// The highest resident set size of process `pid` so far (VmHWM), in MiB.
func peakResidentMiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kib / 1024
}
