import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

typealias AuditEntry = Crm_Kernel_V1_AuditEntry
typealias ProbeEntry = Crm_Testing_V1_ProbeAuditEntry

private let auditList = "/crm.kernel.v1.Audit/List"
private let recordMethod = probeService + "Record"

/// One Audit/List page.
private func list(_ client: Connection, metadata: [String: String] = [:],
                  _ configure: (inout Crm_Kernel_V1_ListAuditRequest) -> Void = { _ in }) async throws -> Crm_Kernel_V1_ListAuditResponse {
    var request = Crm_Kernel_V1_ListAuditRequest()
    configure(&request)
    return try await client.call(auditList, request, as: Crm_Kernel_V1_ListAuditResponse.self, metadata: metadata)
}

/// Every entry matching the request's filters, following page tokens.
func listAll(_ client: Connection, pageSize: UInt32 = 1000,
                     _ configure: (inout Crm_Kernel_V1_ListAuditRequest) -> Void = { _ in }) async throws -> [AuditEntry] {
    var request = Crm_Kernel_V1_ListAuditRequest()
    configure(&request)
    request.pageSize = pageSize
    var entries: [AuditEntry] = []
    repeat {
        let page = try await client.call(auditList, request, as: Crm_Kernel_V1_ListAuditResponse.self)
        entries += page.entries
        request.pageToken = page.nextPageToken
    } while !request.pageToken.isEmpty
    return entries
}

/// Probe/Record: audits each entry, redacts each "entity:record_id", then fails if asked.
private func record(_ client: Connection, _ entries: [ProbeEntry], redact: [String] = [], failWith: UInt32 = 0,
                    metadata: [String: String] = [:]) async throws {
    _ = try await client.call(recordMethod, Crm_Testing_V1_RecordRequest.with {
        $0.entries = entries
        $0.redact = redact
        $0.failWith = failWith
    }, as: Crm_Testing_V1_RecordResponse.self, metadata: metadata)
}

private func entry(_ recordID: String, action: String = "update", owner: String = "",
                   _ changes: [(String, String?, String?)] = []) -> ProbeEntry {
    .with {
        $0.entity = "probe.item"
        $0.recordID = recordID
        $0.action = action
        $0.owner = owner
        $0.changes = changes.map { field, old, new in
            .with { change in
                change.field = field
                if let old { change.oldValue = old }
                if let new { change.newValue = new }
            }
        }
    }
}

/// The audit trail against a real crmd with the probe plugin.
@Suite struct AuditTests {
    @Test func entriesCarryWhoWhenWhichMethodAndTheFieldChanges() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        try await AccessSupport.createUser(crmd, "alice", roles: ["administrator"])
        let client = try crmd.connect()
        let before = nowMicros()
        try await record(client, [entry("7", owner: "bob", [("name", "Ada", "Ada L."), ("email", nil, "ada@example.com")])],
                         metadata: AccessSupport.actingAs("alice"))
        try await record(client, [entry("7", action: "delete", [("name", "Ada L.", nil)])])
        let after = nowMicros()

        let entries = try await list(client) { $0.entity = "probe.item"; $0.recordID = "7" }.entries
        try #require(entries.count == 2)
        let (deleted, updated) = (entries[0], entries[1])
        // Newest first.
        #expect(deleted.id > updated.id)
        #expect(updated.user == "alice" && updated.uid == Int64(getuid()) && updated.proxyUid == Int64(getuid()))
        #expect(deleted.user.isEmpty && deleted.uid == Int64(getuid()) && deleted.proxyUid == -1)
        for e in entries {
            #expect(e.method == recordMethod && e.plugin == "probe")
            #expect(e.atUs >= before && e.atUs <= after)
            #expect(!e.redacted)
        }
        #expect(updated.action == "update" && updated.owner == "bob")
        // By field name; an absent side is unset, not "".
        #expect(updated.changes.map(\.field) == ["email", "name"])
        #expect(!updated.changes[0].hasOldValue && updated.changes[0].newValue == "ada@example.com")
        #expect(updated.changes[1].oldValue == "Ada" && updated.changes[1].newValue == "Ada L.")
        #expect(deleted.action == "delete" && deleted.owner.isEmpty)
        #expect(deleted.changes.count == 1 && deleted.changes[0].oldValue == "Ada L." && !deleted.changes[0].hasNewValue)
        // The entries are Record's own: no implicit entry was added beside them.
        #expect(try await list(client) { $0.method = recordMethod }.entries.count == 2)
    }

    @Test func aFailingCallLeavesNoEntry() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        await expectRPCError(.failedPrecondition, mentioning: "as asked") {
            try await record(client, [entry("f1", [("name", nil, "x")])], failWith: 9)
        }
        await expectRPCError(.aborted, mentioning: "as asked") { try await put(client, key: "f2", failWith: 10) }
        #expect(try await list(client).entries.isEmpty)
        #expect(try DatabaseFile(dataDir: crmd.dir + "/data").rows("SELECT count(*) FROM kernel_audit_changes") == [["0"]])
    }

    @Test func aWriteWithoutEntriesGetsOneNamingOnlyItsMethod() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let written = try await put(client, key: "p1", publish: true)
        // A read, and a writing method that changed nothing, leave none.
        _ = try await client.call(probeService + "Get", Crm_Testing_V1_GetRequest.with { $0.key = "p1" },
                                  as: Crm_Testing_V1_GetResponse.self)
        _ = try await sql(client, "SELECT count(*) FROM probe_items", writing: true)
        _ = try await sql(client, "UPDATE probe_items SET value = 'w' WHERE key = 'p1'", writing: true)
        // The probe's own subscriber stores the event: deliveries leave no implicit entry.
        #expect(try await eventually { try await client.call(probeService + "Seen", Crm_Testing_V1_SeenRequest(),
                                                             as: Crm_Testing_V1_SeenResponse.self).sequences == [written.sequence] })
        let entries = try await list(client).entries
        #expect(entries.map(\.method) == [probeService + "ExecSql", probeService + "Put"])
        for e in entries {
            #expect(e.entity.isEmpty && e.recordID.isEmpty && e.action.isEmpty && e.changes.isEmpty)
            #expect(e.plugin == "probe" && e.uid == Int64(getuid()))
        }
    }

    @Test func filtersAndPagesWithoutDuplicatesOrGaps() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        try await AccessSupport.createUser(crmd, "carol", roles: ["administrator"])
        let client = try crmd.connect()
        for batch in 0..<3 {
            try await record(client, (0..<40).map { entry("r\(batch * 40 + $0)", [("n", nil, "\($0)")]) },
                             metadata: batch == 1 ? AccessSupport.actingAs("carol") : [:])
        }
        _ = try await put(client, key: "other")

        // Pages of 7 while more entries are written: each entry once, newest first.
        var request = Crm_Kernel_V1_ListAuditRequest.with { $0.entity = "probe.item"; $0.pageSize = 7 }
        var ids: [UInt64] = []
        var pages = 0
        repeat {
            let page = try await client.call(auditList, request, as: Crm_Kernel_V1_ListAuditResponse.self)
            #expect(page.entries.count <= 7)
            ids += page.entries.map(\.id)
            request.pageToken = page.nextPageToken
            pages += 1
            if pages == 2 { try await record(client, [entry("late")]) }
        } while !request.pageToken.isEmpty && pages < 100
        #expect(pages == 18)
        #expect(ids.count == 120 && Set(ids).count == 120)
        #expect(ids == ids.sorted(by: >))
        let all = try await listAll(client) { $0.entity = "probe.item" }
        #expect(all.count == 121 && Array(all.dropFirst().map(\.id)) == ids)

        #expect(try await listAll(client) { $0.user = "carol" }.map(\.recordID) == (40..<80).reversed().map { "r\($0)" })
        #expect(try await listAll(client) { $0.method = probeService + "Put" }.count == 1)
        #expect(try await listAll(client) { $0.recordID = "r5" }.map(\.changes.first?.newValue) == ["5"])
        // [since, until): the until bound is exclusive.
        let one = all[60]
        #expect(try await listAll(client) { $0.sinceUs = one.atUs; $0.untilUs = one.atUs + 1; $0.entity = "probe.item" }
                    .allSatisfy { $0.atUs == one.atUs })
        #expect(try await listAll(client) { $0.sinceUs = one.atUs; $0.untilUs = one.atUs + 1 }.contains { $0.id == one.id })
        #expect(try await listAll(client) { $0.untilUs = one.atUs }.allSatisfy { $0.atUs < one.atUs })
        #expect(try await list(client).entries.count == 50)

        let first = try await list(client) { $0.entity = "probe.item"; $0.pageSize = 3 }
        await expectRPCError(.invalidArgument, mentioning: "page_token") {
            try await list(client) { $0.entity = "probe.other"; $0.pageToken = first.nextPageToken }
        }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await list(client) { $0.pageToken = "12-zz" } }
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await list(client) { $0.pageSize = 1001 } }
        await expectRPCError(.invalidArgument, mentioning: "until_us") {
            try await list(client) { $0.sinceUs = 100; $0.untilUs = 100 }
        }
        await expectRPCError(.invalidArgument, mentioning: "negative") { try await list(client) { $0.sinceUs = -1 } }
    }

    @Test func pagesOfLargeEntriesStayUnderTheFrameLimit() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        // Ten entries of about 900 KiB each: fifty of them would be 9 MiB, over the 4 MiB frame limit.
        let value = String(repeating: "v", count: 60_000)
        for i in 0..<10 { try await record(client, [entry("big\(i)", (0..<15).map { ("f\($0)", nil, value) })]) }
        let first = try await list(client)
        #expect(first.entries.count >= 1 && first.entries.count < 10 && !first.nextPageToken.isEmpty)
        let all = try await listAll(client, pageSize: 50)
        #expect(all.map(\.recordID) == (0..<10).reversed().map { "big\($0)" })
        #expect(all.allSatisfy { $0.changes.count == 15 && $0.changes.allSatisfy { $0.newValue == value } })
    }

    @Test func readingTheTrailNeedsKernelAuditRead() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        try await AccessSupport.createUser(crmd, "dave", roles: ["cashier"])
        let client = try crmd.connect()
        await expectRPCError(.permissionDenied, mentioning: "kernel.audit.read") {
            try await list(client, metadata: AccessSupport.actingAs("dave"))
        }
        // "*.read" reads every record's trail whatever its scope: it must be granted by name.
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        await expectRPCError(.permissionDenied, mentioning: "user rita lacks permission kernel.audit.read") {
            try await list(client, metadata: AccessSupport.actingAs("rita"))
        }
        _ = try await client.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "auditor"; $0.permissions = [.with { $0.permission = "kernel.audit.read"; $0.scope = .all }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.grant(crmd, "rita", "auditor")
        _ = try await list(client, metadata: AccessSupport.actingAs("rita"))
    }

    @Test func redactErasesTheRecordsValuesAndEventPayloadsKeepingSequences() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        let client = try crmd.connect()
        var ids: [Int64] = []
        for key in ["a", "b", "c"] {
            let response = try await client.call(probeService + "Put", PutRequest.with {
                $0.key = key; $0.value = "secret-\(key)"; $0.publish = true; $0.owner = "alice"
            }, as: PutResponse.self)
            ids.append(response.id)
        }
        let (erased, kept) = ("\(ids[1])", "\(ids[0])")
        try await record(client, [entry(erased, action: "create", [("value", nil, "secret-b"), ("note", nil, nil)]),
                                  entry(kept, action: "create", [("value", nil, "secret-a")])])
        try await record(client, [entry(erased, action: "erase", [("value", "secret-b", nil)])],
                         redact: ["probe.item:\(erased)"])

        // The stored events: every sequence still there, only b's payload gone.
        let events = try await replay(client)
        #expect(events.map(\.sequence) == [1, 2, 3])
        #expect(events[1].payload.isEmpty && events[1].topic == "probe.item.created")
        #expect(try PutRequest(serializedBytes: events[0].payload).value == "secret-a")
        #expect(try PutRequest(serializedBytes: events[2].payload).value == "secret-c")

        let trail = try await listAll(client) { $0.entity = "probe.item"; $0.recordID = erased }
        #expect(trail.map(\.action) == ["erase", "create"])
        for e in trail {
            #expect(e.redacted)
            for change in e.changes {
                #expect(!change.hasOldValue || change.oldValue == "[erased]")
                #expect(!change.hasNewValue || change.newValue == "[erased]")
            }
        }
        // NULL stays NULL: "had no value" is kept.
        #expect(trail[1].changes.first { $0.field == "note" }.map { !$0.hasOldValue && !$0.hasNewValue } == true)
        let other = try await listAll(client) { $0.recordID = kept }
        #expect(other.count == 1 && !other[0].redacted && other[0].changes[0].newValue == "secret-a")

        // On disk: no value of b in the trail, its event empty and marked.
        let db = DatabaseFile(dataDir: crmd.dir + "/data")
        #expect(try db.rows("SELECT count(*) FROM kernel_audit_changes WHERE old_value LIKE '%secret-b%' OR new_value LIKE '%secret-b%'") == [["0"]])
        #expect(try db.rows("SELECT sequence, length(payload), redacted FROM kernel_outbox ORDER BY sequence").map { $0[1] + "/" + $0[2] }
                    == ["\(events[0].payload.count)/0", "0/1", "\(events[2].payload.count)/0"])

        await expectRPCError(.invalidArgument, mentioning: "probe.<entity>") {
            try await record(client, [], redact: ["contacts.person:1"])
        }
        await expectRPCError(.invalidArgument, mentioning: "record_id") { try await record(client, [], redact: ["probe.item:"]) }
    }

    @Test func pluginsCannotWriteOrReadTheTrail() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        try await record(client, [entry("1", [("name", "a", "b")])])
        for statement in [
            "INSERT INTO kernel_audit (id, uid, method, plugin) VALUES (1, 0, 'm', 'probe')",
            "UPDATE kernel_audit SET user = 'mallory'",
            "DELETE FROM kernel_audit",
            "UPDATE kernel_audit_changes SET new_value = 'forged'",
            "DELETE FROM kernel_audit_changes",
        ] {
            await expectRPCError(.permissionDenied, mentioning: "kernel_audit") { try await sql(client, statement, writing: true) }
        }
        await expectRPCError(.permissionDenied, mentioning: "kernel_audit") {
            try await sql(client, "SELECT count(*) FROM kernel_audit_changes", writing: false)
        }
        let entries = try await list(client).entries
        #expect(entries.count == 1 && entries[0].user.isEmpty && entries[0].changes[0].newValue == "b")
    }

    @Test func invalidEntriesAreRefusedAndRecordNothing() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let cases: [(ProbeEntry, Crm_Rpc_V1_StatusCode, String)] = [
            (.with { $0.entity = "contacts.person"; $0.recordID = "1"; $0.action = "update" }, .invalidArgument, "probe.<entity>"),
            (.with { $0.entity = "probe."; $0.recordID = "1"; $0.action = "update" }, .invalidArgument, "probe.<entity>"),
            (.with { $0.entity = "probe.Item"; $0.recordID = "1"; $0.action = "update" }, .invalidArgument, "probe.<entity>"),
            (.with { $0.entity = "probe.item"; $0.action = "update" }, .invalidArgument, "record_id"),
            (.with { $0.entity = "probe.item"; $0.recordID = "1" }, .invalidArgument, "action"),
            (entry("1", [("name", "a", "b"), ("name", "b", "c")]), .invalidArgument, "repeated"),
            (entry("1", [("", "a", "b")]), .invalidArgument, "names no field"),
            (entry("1", (0...1000).map { ("f\($0)", nil, "v") }), .resourceExhausted, "at most 1000 changes"),
            (entry("1", [("big", nil, String(repeating: "x", count: 65_537))]), .resourceExhausted, "65536-byte limit"),
        ]
        for (bad, code, mention) in cases {
            // A good entry first: the whole call rolls back with the bad one.
            await expectRPCError(code, mentioning: mention) { try await record(client, [entry("good"), bad]) }
        }
        // The limits themselves are accepted.
        try await record(client, [entry("max", (0..<1000).map { ("f\($0)", nil, "v") }),
                                  entry("big", [("big", nil, String(repeating: "x", count: 65_536))])])
        let entries = try await list(client).entries
        #expect(entries.map(\.recordID) == ["big", "max"])
        #expect(entries[1].changes.count == 1000 && entries[0].changes[0].newValue.utf8.count == 65_536)
    }

    @Test func aCPluginsEntriesAreSteppedByTheirStampAndCheckedAtTheBoundary() async throws {
        let crmd = try CrmdProcess(plugins: ["hostile"])
        let client = try crmd.connect()
        func audit(_ shape: String, method: String = "Audit") async throws {
            _ = try await client.call("/crm.testing.v1.Hostile/" + method, SqlRequest.with { $0.sql = shape }, as: SqlResponse.self)
        }
        // Elements of a newer header (48 bytes each) are read by their stamp.
        try await audit("future")
        let entries = try await list(client).entries
        try #require(entries.count == 1)
        #expect(entries[0].entity == "hostile.item" && entries[0].recordID == "1" && entries[0].method == "/crm.testing.v1.Hostile/Audit")
        #expect(entries[0].changes.map(\.field) == ["email", "name"])
        #expect(!entries[0].changes[0].hasOldValue && entries[0].changes[0].newValue == "new")
        #expect(entries[0].changes[1].oldValue == "old" && entries[0].changes[1].newValue == "new")

        await expectRPCError(.invalidArgument, mentioning: "need at least 32") { try await audit("short") }
        await expectRPCError(.invalidArgument, mentioning: "entry 1 is stamped 48 bytes, the first 32") { try await audit("mixed") }
        await expectRPCError(.resourceExhausted, mentioning: "at most 1000 changes, not 18446744073709551615") { try await audit("huge") }
        await expectRPCError(.invalidArgument, mentioning: "not valid UTF-8") { try await audit("utf8") }
        await expectRPCError(.invalidArgument, mentioning: "struct_size is 16") { try await audit("entry") }
        await expectRPCError(.failedPrecondition, mentioning: "needs a writing call") { try await audit("plain", method: "AuditRead") }
        #expect(try await list(client).entries.count == 1)
    }

    @Test func retentionPrunesOldEntriesInBatches() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var crmd = try CrmdProcess(dataDir: dataDir)
        var client = try crmd.connect()
        try await record(client, [entry("recent", [("n", nil, "1")]), entry("old", [("n", nil, "2")])])
        _ = try crmd.stop()
        // 1,200 more entries, and "old", dated ten days ago (more than two of the pruner's batches).
        let tenDaysAgo = nowMicros() - 10 * 86_400_000_000
        let db = DatabaseFile(dataDir: dataDir)
        try db.execute("""
            PRAGMA foreign_keys = ON;
            INSERT INTO kernel_audit (id, uid, method, plugin, entity, record_id, action)
            SELECT \(tenDaysAgo), uid, method, plugin, entity, record_id, action FROM kernel_audit WHERE record_id = 'old';
            UPDATE kernel_audit_changes SET audit_id = \(tenDaysAgo)
            WHERE audit_id = (SELECT id FROM kernel_audit WHERE record_id = 'old' AND id <> \(tenDaysAgo));
            DELETE FROM kernel_audit WHERE record_id = 'old' AND id <> \(tenDaysAgo);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
            INSERT INTO kernel_audit (id, uid, method, plugin, entity, record_id, action)
            SELECT \(tenDaysAgo) + i, 0, 'm', 'probe', 'probe.item', 'bulk' || i, 'update' FROM n;
            INSERT INTO kernel_audit_changes (audit_id, field, new_value)
            SELECT id, 'n', 'v' FROM kernel_audit WHERE record_id LIKE 'bulk%';
            """)
        #expect(try db.rows("SELECT count(*) FROM kernel_audit") == [["1202"]])

        // Kept forever by default: a restart without retention prunes nothing.
        crmd = try CrmdProcess(dataDir: dataDir)
        client = try crmd.connect()
        #expect(try await listAll(client).count == 1202)
        _ = try crmd.stop()

        crmd = try CrmdProcess(arguments: ["--audit-retention-days", "5"], dataDir: dataDir)
        client = try crmd.connect()
        // Pruned before crmd serves.
        #expect(try await listAll(client).map(\.recordID) == ["recent"])
        #expect(try db.rows("SELECT count(*) FROM kernel_audit_changes") == [["1"]])
        #expect(crmd.log.contains("audit entries pruned"))
    }

    @Test func crmctlAuditPrintsEntriesWithTheirChanges() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        try await record(client, [entry("9", owner: "bob", [("name", "Ada", "Ada \"L\"\nx"), ("email", nil, "a@b")])])
        try await record(client, [entry("10", action: "create")])
        let text = try CrmctlRun.run(["audit", "--entity", "probe.item", "--record", "9"], socket: crmd.socketPath)
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(text.stdout)")
        #expect(lines[0].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z  - \(uid \d+\)  /crm.testing.v1.Probe/Record  update probe.item/9  owner bob$"#,
                                options: .regularExpression) != nil, "\(lines[0])")
        #expect(lines[1] == "    email: - -> \"a@b\"")
        #expect(lines[2] == #"    name: "Ada" -> "Ada \"L\"\nx""#)

        let limited = try CrmctlRun.run(["audit", "--limit", "1", "--json"], socket: crmd.socketPath)
        #expect(limited.status == 0, "\(limited.stderr)")
        let objects = limited.stdout.split(separator: "\n")
        try #require(objects.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(objects[0].utf8)) as? [String: Any])
        #expect(object["record_id"] as? String == "10" && object["action"] as? String == "create")
        #expect((object["at"] as? String)?.hasSuffix("Z") == true)

        let future = try CrmctlRun.run(["audit", "--since", "2999-01-01T00:00:00Z"], socket: crmd.socketPath)
        #expect(future.status == 0 && future.stdout.isEmpty)
        let bad = try CrmctlRun.run(["audit", "--since", "yesterday"], socket: crmd.socketPath)
        #expect(bad.status != 0 && bad.stderr.contains("RFC 3339"))
    }
}
