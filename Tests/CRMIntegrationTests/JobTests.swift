import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Background jobs (job_every_ms): crmd runs them on their own thread, one
/// run at a time, the interval apart; stops them before plugins shut down;
/// refuses a plugin whose job breaks a rule.
@Suite struct JobTests {
    private static func tickLog() -> String { NSTemporaryDirectory() + "/probe-ticks-\(UUID().uuidString)" }

    private static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func aJobRunsRepeatedlyTheIntervalApartNeverOverlappingAndWritesThroughItsOwnMethod() async throws {
        let log = Self.tickLog()
        defer { try? FileManager.default.removeItem(atPath: log) }
        // Each run takes 30 ms; the interval (50 ms) counts from a run's end.
        let crmd = try CrmdProcess(environment: ["CRM_PROBE_TICK_LOG": log, "CRM_PROBE_TICK_MILLIS": "30"])
        let client = try crmd.connect()
        let started = Date()
        try await Task.sleep(for: .milliseconds(1200))
        let stats = try await client.call("/crm.testing.v1.Probe/Stats", Crm_Testing_V1_StatsRequest(),
                                          as: Crm_Testing_V1_StatsResponse.self)
        let elapsed = Date().timeIntervalSince(started) + 0.3  // the socket came up a little after the first wait began
        #expect(stats.ticks >= 5, "\(stats.ticks) runs in \(elapsed) s")
        // Start to start is at least 80 ms: never more than elapsed / 0.08 runs.
        #expect(Double(stats.ticks) <= elapsed / 0.08 + 1, "\(stats.ticks) runs in \(elapsed) s")
        #expect(stats.maxConcurrentTicks == 1)
        // The log alternates start n / end n: no run began before the last ended.
        let entries = Self.lines(log)
        for (i, line) in entries.enumerated() {
            let n = i / 2 + 1
            #expect(line == (i % 2 == 0 ? "start \(n)" : "end \(n)"), "line \(i): \(line)")
        }
        // Each run's in-process write (Put, through the writer) committed.
        let rows = try await client.call("/crm.testing.v1.Probe/QuerySql",
                                         Crm_Testing_V1_SqlRequest.with { $0.sql = "SELECT COUNT(*) FROM probe_items WHERE key LIKE 'tick-%'" },
                                         as: Crm_Testing_V1_SqlResponse.self)
        #expect((Int(rows.rows.first ?? "") ?? 0) >= 5)
        #expect(crmd.log.contains("background job failed") == false)
    }

    @Test func theJobMethodStaysCallableOverTheSocketForRunNow() async throws {
        let log = Self.tickLog()
        defer { try? FileManager.default.removeItem(atPath: log) }
        let crmd = try CrmdProcess(environment: ["CRM_PROBE_TICK_LOG": log])
        let client = try crmd.connect()
        let response = try await client.call("/crm.testing.v1.Probe/Tick", Crm_Testing_V1_TickRequest(),
                                             as: Crm_Testing_V1_TickResponse.self)
        #expect(response.n > 0)
        #expect(Self.lines(log).contains("end \(response.n)"))
    }

    @Test func sigtermStartsNoNewRunAndWaitsForTheRunInProgress() async throws {
        let log = Self.tickLog()
        let marker = NSTemporaryDirectory() + "/probe-shutdown-\(UUID().uuidString)"
        defer { [log, marker].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let crmd = try CrmdProcess(environment: ["CRM_PROBE_TICK_LOG": log, "CRM_PROBE_TICK_MILLIS": "800",
                                                 "CRM_PROBE_SHUTDOWN_MARKER": marker])
        let deadline = Date().addingTimeInterval(10)
        while !Self.lines(log).contains("start 1") && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(Self.lines(log) == ["start 1"])
        kill(crmd.pid, SIGTERM)
        #expect(crmd.waitForExit(timeout: 15) == 0)
        // The run in progress finished, its write committed, and nothing started after it.
        #expect(Self.lines(log) == ["start 1", "end 1"])
        #expect(FileManager.default.fileExists(atPath: marker))
        #expect(!crmd.log.contains("background job failed"))
    }

    @Test func jobsThatWriteHaveARequestWithFieldsOrABadIntervalAreRefusedWithTheReason() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "jobwrites", "jobfields", "jobfast", "jobslow"])
        let plugins = try await allPlugins(try crmd.connect())
        func reason(_ name: String) throws -> String {
            let plugin = try #require(plugins.first { $0.name == name }, "\(name) missing from Plugins.List")
            #expect(plugin.state == .failed, "\(name)")
            return plugin.reason
        }
        #expect(try reason("jobwrites").contains(
            "method /crm.testing.v1.jobwrites/Ping declares job_every_ms and writes; a job must not hold the write transaction"))
        #expect(try reason("jobfields").contains(
            "method /crm.testing.v1.jobfields/Ping declares job_every_ms but crm.testing.v1.Empty has fields"))
        #expect(try reason("jobfast").contains(
            "method /crm.testing.v1.jobfast/Ping declares job_every_ms 5; it must be 10 to 86400000 (a day)"))
        #expect(try reason("jobslow").contains(
            "method /crm.testing.v1.jobslow/Ping declares job_every_ms 86400001; it must be 10 to 86400000"))
        #expect(plugins.first { $0.name == "probe" }?.state == .loaded)
    }
}
