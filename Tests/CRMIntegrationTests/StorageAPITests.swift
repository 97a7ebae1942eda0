import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

typealias PutRequest = Crm_Testing_V1_PutRequest
typealias PutResponse = Crm_Testing_V1_PutResponse
typealias SqlRequest = Crm_Testing_V1_SqlRequest
typealias SqlResponse = Crm_Testing_V1_SqlResponse

let probeService = "/crm.testing.v1.Probe/"

func put(_ client: Connection, key: String = "", value: String = "v", publish: Bool = false,
         failWith: UInt32 = 0) async throws -> PutResponse {
    try await client.call(probeService + "Put", PutRequest.with {
        $0.key = key
        $0.value = value
        $0.publish = publish
        $0.failWith = failWith
    }, as: PutResponse.self)
}

func sql(_ client: Connection, _ text: String, writing: Bool) async throws -> SqlResponse {
    try await client.call(probeService + (writing ? "ExecSql" : "QuerySql"), SqlRequest.with { $0.sql = text },
                          as: SqlResponse.self)
}

/// Events stored in the outbox after `after`, replayed over the socket.
func replay(_ client: Connection, after: UInt64 = 0, patterns: [String] = []) async throws -> [Crm_Kernel_V1_Event] {
    var events: [Crm_Kernel_V1_Event] = []
    let request = Crm_Kernel_V1_SubscribeRequest.with {
        $0.afterSequence = after
        $0.topicPatterns = patterns
        $0.replayOnly = true
    }
    for try await event in try client.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
        events.append(event)
    }
    return events
}

/// The storage host API over the real socket: the probe plugin (Swift kit)
/// writes through crmd's writer and reads on its readers.
@Suite struct StorageAPITests {
    @Test func pluginIsDeniedEverythingOutsideItsOwnTables() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "goodmig"])
        let client = try crmd.connect()
        // goodmig's table exists (its migration ran), but is not the probe's.
        for (text, writing) in [
            ("SELECT * FROM goodmig_items", false),
            ("INSERT INTO goodmig_items (name) VALUES ('x')", true),
            ("SELECT * FROM kernel_outbox", false),
            ("DELETE FROM kernel_migrations", true),
            ("UPDATE sqlite_sequence SET seq = 0", true),
            ("ATTACH DATABASE '/tmp/x.db' AS other", true),
            ("PRAGMA synchronous = OFF", true),
            ("SELECT load_extension('/tmp/nothing.so')", false),
            ("CREATE TABLE goodmig_evil (x)", true),
        ] {
            await #expect(throws: RPCError.self, "\(text)") {
                do { _ = try await sql(client, text, writing: writing) } catch let error as RPCError {
                    #expect(error.code == .permissionDenied, "\(text): \(error)")
                    throw error
                }
            }
        }
        // Its own tables are fine, reading and writing.
        _ = try await sql(client, "CREATE TABLE probe_notes (x TEXT)", writing: true)
        let inserted = try await sql(client, "INSERT INTO probe_notes VALUES ('a')", writing: true)
        #expect(inserted.changes == 1)
        #expect(try await sql(client, "SELECT x FROM probe_notes", writing: false).rows == ["a"])
    }

    @Test func failingHandlerLeavesNeitherRowsNorEvents() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        await #expect(throws: RPCError(.failedPrecondition, "failing after the write, as asked")) {
            _ = try await put(client, key: "doomed", publish: true, failWith: 9)
        }
        let found = try await client.call(probeService + "Get", Crm_Testing_V1_GetRequest.with { $0.key = "doomed" },
                                          as: Crm_Testing_V1_GetResponse.self)
        #expect(!found.found)
        #expect(try await replay(client).isEmpty)
        // The rolled-back event left no gap: the next one is number 1.
        let kept = try await put(client, key: "kept", publish: true)
        #expect(kept.sequence == 1)
        #expect(try DatabaseFile(dataDir: crmd.dir + "/data").rows("SELECT key FROM probe_items") == [["kept"]])
    }

    @Test func constraintAndReadOnlyViolationsHaveTheirStatus() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        _ = try await put(client, key: "same")
        await #expect(throws: RPCError(.alreadyExists, "UNIQUE constraint failed: probe_items.key")) {
            _ = try await put(client, key: "same")
        }
        await #expect(throws: RPCError.self) {
            do { _ = try await sql(client, "DELETE FROM probe_items", writing: false) } catch let error as RPCError {
                #expect(error.code == .failedPrecondition)
                #expect(error.message.contains("not declared as writing"))
                throw error
            }
        }
        await #expect(throws: RPCError.self) {
            do { _ = try await sql(client, "SELEC nonsense", writing: false) } catch let error as RPCError {
                #expect(error.code == .internal && error.message.contains("syntax error"))
                throw error
            }
        }
        #expect(try await sql(client, "SELECT count(*) FROM probe_items", writing: false).rows == ["1"])
    }

    @Test func concurrentWritesAllCommitWithGapFreeSequences() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let sequences = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for i in 0..<200 {
                group.addTask { try await put(client, key: "k\(i)", publish: true, failWith: i % 10 == 0 ? 10 : 0).sequence }
            }
            var out: [UInt64] = []
            while let next = await group.nextResult() {
                if case .success(let sequence) = next { out.append(sequence) }
            }
            return out
        }
        // Every tenth call failed and rolled back inside a shared group commit.
        #expect(sequences.count == 180)
        #expect(sequences.sorted() == Array(1...180))
        #expect(try await sql(client, "SELECT count(*) FROM probe_items", writing: false).rows == ["180"])
        #expect(try await replay(client).map(\.sequence) == Array(1...180))
    }

    @Test func walIsCheckpointedInTheBackground() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        for i in 0..<300 { _ = try await put(client, key: "c\(i)", value: String(repeating: "x", count: 500)) }
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: crmd.dir + "/data/" + file))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let until = Date().addingTimeInterval(5)
        while size("crm.db") < 150_000 && Date() < until { try await Task.sleep(for: .milliseconds(50)) }
        // With checkpoints off the commit path, the rows reach the main file anyway.
        #expect(size("crm.db") >= 150_000)
    }

    @Test func backupTakenDuringWritesHoldsEveryAcknowledgedRow() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let backupPath = crmd.dir + "/backup.db"
        let writer = Task {
            var acknowledged: [String] = []
            for i in 0..<3000 {
                if Task.isCancelled { break }
                acknowledged.append(try await put(client, key: "row\(i)", publish: true).key)
            }
            return acknowledged
        }
        try await Task.sleep(for: .milliseconds(300))
        let ackedBefore = try await sql(client, "SELECT count(*) FROM probe_items", writing: false).rows.first.flatMap { Int($0) } ?? 0
        let response = try await client.call("/crm.kernel.v1.Storage/Backup",
                                             Crm_Kernel_V1_BackupRequest.with { $0.path = backupPath },
                                             as: Crm_Kernel_V1_BackupResponse.self)
        let written = try await writer.value
        #expect(ackedBefore > 0)
        let backup = DatabaseFile(path: backupPath)
        #expect(try backup.rows("PRAGMA integrity_check") == [["ok"]])
        let keys = Set(try backup.rows("SELECT key FROM probe_items").map { $0[0] })
        // Everything acknowledged before the backup began is in it, and the
        // copy is a prefix of the acknowledged writes (one snapshot).
        #expect(keys.count >= ackedBefore)
        #expect(keys == Set(written.prefix(keys.count)))
        #expect(try backup.rows("SELECT count(*) FROM kernel_outbox") == [[String(keys.count)]])
        #expect(response.lastEventSequence == UInt64(keys.count))
        await #expect(throws: RPCError.self) {
            do {
                _ = try await client.call("/crm.kernel.v1.Storage/Backup",
                                          Crm_Kernel_V1_BackupRequest.with { $0.path = backupPath },
                                          as: Crm_Kernel_V1_BackupResponse.self)
            } catch let error as RPCError {
                #expect(error.code == .alreadyExists)
                throw error
            }
        }
    }
}
