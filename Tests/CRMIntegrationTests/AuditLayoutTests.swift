import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import Testing

/// An entry's id is its time: unique, increasing, the range a time filter
/// reads; and a trail of the first layout is upgraded to it at start-up.
@Suite struct AuditLayoutTests {
    private func listAll(_ client: Connection, sinceUs: Int64 = 0, untilUs: Int64 = 0) async throws -> [Crm_Kernel_V1_AuditEntry] {
        var request = Crm_Kernel_V1_ListAuditRequest.with {
            $0.pageSize = 2
            $0.sinceUs = sinceUs
            $0.untilUs = untilUs
        }
        var entries: [Crm_Kernel_V1_AuditEntry] = []
        repeat {
            let page = try await client.call("/crm.kernel.v1.Audit/List", request, as: Crm_Kernel_V1_ListAuditResponse.self)
            entries += page.entries
            request.pageToken = page.nextPageToken
        } while !request.pageToken.isEmpty
        return entries
    }

    private func record(_ client: Connection, _ recordIDs: [String]) async throws {
        _ = try await client.call(probeService + "Record", Crm_Testing_V1_RecordRequest.with {
            $0.entries = recordIDs.map { id in .with { $0.entity = "probe.item"; $0.recordID = id; $0.action = "update" } }
        }, as: Crm_Testing_V1_RecordResponse.self)
    }

    @Test func entriesOfOneCallGetDistinctIncreasingTimesThatTimeFiltersSelectExactly() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let before = nowMicros()
        // Forty entries in one call: many share a microsecond on the clock.
        try await record(client, (1...40).map(String.init))
        let entries = try await listAll(client)
        try #require(entries.count == 40)
        #expect(entries.map(\.recordID) == (1...40).reversed().map(String.init))
        #expect(entries.allSatisfy { UInt64($0.atUs) == $0.id })
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.atUs > $1.atUs })
        #expect(entries.last!.atUs >= before)
        // [since, until) over the 10th..20th entries, written in the same call.
        let oldestFirst = Array(entries.reversed())
        let window = try await listAll(client, sinceUs: oldestFirst[9].atUs, untilUs: oldestFirst[20].atUs)
        #expect(window.map(\.recordID) == (10...20).reversed().map(String.init))
    }

    @Test func aTrailOfTheFirstLayoutIsUpgradedKeepingEveryEntryItsOrderAndChanges() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let t = nowMicros() - 3_600_000_000
        let db = DatabaseFile(dataDir: dataDir)
        // The layout crmd wrote before ids were times, with three entries:
        // two in one microsecond, then one while the clock stood 10 µs behind.
        try db.execute("""
            CREATE TABLE kernel_audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT, at_us INTEGER NOT NULL, user TEXT, uid INTEGER NOT NULL,
                proxy_uid INTEGER NOT NULL DEFAULT -1, method TEXT NOT NULL, plugin TEXT NOT NULL,
                entity TEXT, record_id TEXT, action TEXT, owner TEXT, redacted INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX kernel_audit_record ON kernel_audit (entity, record_id, id) WHERE entity IS NOT NULL;
            CREATE INDEX kernel_audit_user ON kernel_audit (user, id) WHERE user IS NOT NULL;
            CREATE INDEX kernel_audit_time ON kernel_audit (at_us);
            CREATE TABLE kernel_audit_changes (
                audit_id INTEGER NOT NULL REFERENCES kernel_audit (id) ON DELETE CASCADE,
                field TEXT NOT NULL, old_value TEXT, new_value TEXT,
                PRIMARY KEY (audit_id, field)) WITHOUT ROWID;
            INSERT INTO kernel_audit (at_us, user, uid, method, plugin, entity, record_id, action, owner) VALUES
                (\(t), 'alice', 501, '/m', 'probe', 'probe.item', '1', 'create', 'alice'),
                (\(t), NULL, 0, '/m', 'probe', NULL, NULL, NULL, NULL),
                (\(t - 10), 'bob', 502, '/m', 'probe', 'probe.item', '2', 'update', NULL);
            INSERT INTO kernel_audit_changes VALUES (1, 'name', NULL, 'Ada'), (1, 'email', NULL, 'a@b'), (3, 'name', 'B', 'C');
            """)

        let crmd = try CrmdProcess(dataDir: dataDir)
        let client = try crmd.connect()
        let entries = try await listAll(client)
        #expect(entries.map(\.recordID) == ["2", "", "1"])
        #expect(entries.map(\.atUs) == [t + 2, t + 1, t])
        #expect(entries.allSatisfy { UInt64($0.atUs) == $0.id })
        #expect(entries.map(\.user) == ["bob", "", "alice"] && entries[2].owner == "alice" && entries[0].uid == 502)
        #expect(entries[2].changes.map(\.field) == ["email", "name"] && entries[2].changes[1].newValue == "Ada")
        #expect(entries[0].changes.count == 1 && entries[0].changes[0].oldValue == "B" && entries[1].changes.isEmpty)

        // A new entry sorts after the upgraded ones; the old time index is gone.
        try await record(client, ["3"])
        let newest = try await listAll(client, sinceUs: t + 1)
        #expect(newest.map(\.recordID) == ["3", "2", ""])
        #expect(try db.rows("SELECT name FROM sqlite_master WHERE tbl_name = 'kernel_audit' AND type = 'index' ORDER BY name")
                == [["kernel_audit_record"], ["kernel_audit_user"]])
        #expect(try db.rows("SELECT count(*) FROM sqlite_master WHERE name = 'kernel_audit' AND sql LIKE '%AUTOINCREMENT%'") == [["0"]])
    }
}
