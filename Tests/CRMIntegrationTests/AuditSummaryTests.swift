import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Implicit entries are written one per group commit, method and principal
/// (docs/AUDIT.md "What is recorded"): the counts must add up to exactly the
/// calls that committed, whatever the grouping.
@Suite struct AuditSummaryTests {
    @Test func concurrentWritesAreCountedOnceEachAndFailedOnesNotAtAll() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let rounds = 4, perRound = 60
        var committed = 0
        for round in 0..<rounds {
            // Every third call fails after its write: it must not be counted.
            let succeeded = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<perRound {
                    group.addTask {
                        do {
                            _ = try await put(client, key: "k\(round)-\(i)", failWith: i % 3 == 0 ? 10 : 0)
                            return true
                        } catch let error as RPCError where error.code == .aborted {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(succeeded == perRound - perRound / 3)
            committed += succeeded
        }
        let entries = try await listAll(client) { $0.method = probeService + "Put" }
        #expect(entries.reduce(0) { $0 + Int($1.calls) } == committed)
        #expect(entries.allSatisfy { $0.calls >= 1 && $0.calls <= 256 && $0.entity.isEmpty && $0.plugin == "probe" })
        #expect(entries.count <= committed)
        // The rows in the table say the same (no entry hides elsewhere).
        let rows = try DatabaseFile(dataDir: crmd.dir + "/data")
            .rows("SELECT count(*), sum(calls) FROM kernel_audit WHERE method = '\(probeService)Put'")
        #expect(rows == [["\(entries.count)", "\(committed)"]])
    }

    @Test func anEntryARecordingPluginWritesStandsForOneCall() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        _ = try await client.call(probeService + "Record", Crm_Testing_V1_RecordRequest.with {
            $0.entries = [.with { $0.entity = "probe.item"; $0.recordID = "1"; $0.action = "create" },
                          .with { $0.entity = "probe.item"; $0.recordID = "2"; $0.action = "create" }]
        }, as: Crm_Testing_V1_RecordResponse.self)
        let entries = try await client.call("/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest(),
                                            as: Crm_Kernel_V1_ListAuditResponse.self).entries
        #expect(entries.map(\.recordID) == ["2", "1"])
        #expect(entries.allSatisfy { $0.calls == 1 })
    }
}
