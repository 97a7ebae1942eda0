import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// The message bus over the real socket: the outbox, the probe plugin's
/// in-process subscriber, and clients' Events/Subscribe.
@Suite struct BusTests {
    /// Waits until the probe's subscriber has stored `count` events.
    func seen(_ client: Connection, count: Int, timeout: Double = 20) async throws -> [UInt64] {
        let until = Date().addingTimeInterval(timeout)
        while true {
            let seen = try await client.call(probeService + "Seen", Crm_Testing_V1_SeenRequest.with { $0.limit = 10_000 },
                                             as: Crm_Testing_V1_SeenResponse.self)
            if seen.sequences.count >= count || Date() > until { return seen.sequences }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func subscriberGetsEveryEventInOrderOnceAcrossRestartsAndFailures() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // Its first three deliveries fail: they are retried, and no one else waits.
        let first = try CrmdProcess(environment: ["CRM_PROBE_FAIL_EVENTS": "3"], dataDir: dataDir)
        var client = try first.connect()
        for i in 0..<30 { _ = try await put(client, key: "a\(i)", publish: true) }
        #expect(try await seen(client, count: 30) == Array(1...30))
        for i in 0..<30 { _ = try await put(client, key: "b\(i)", publish: true) }
        _ = try first.stop(signal: SIGKILL)  // mid-delivery, perhaps

        let second = try CrmdProcess(dataDir: dataDir)
        client = try second.connect()
        for i in 0..<30 { _ = try await put(client, key: "c\(i)", publish: true) }
        // Exactly once and in order: the subscriber's rows commit with its position.
        #expect(try await seen(client, count: 90) == Array(1...90))
        let probe = try #require(try await allPlugins(client).first { $0.name == "probe" })
        #expect(probe.subscribes == ["probe.item.*"])
        #expect(probe.eventPosition == 90 && probe.eventLag == 0)
        #expect(first.log.contains("event delivery failed; retrying"))
    }

    @Test func subscribeReplaysAfterASequenceThenFollows() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        for i in 0..<20 { _ = try await put(client, key: "k\(i)", publish: true) }
        #expect(try await replay(client, after: 12).map(\.sequence) == Array(13...20))
        #expect(try await replay(client, patterns: ["other.>"]).isEmpty)
        let events = try await replay(client, after: 19, patterns: ["probe.item.*"])
        #expect(events.count == 1)
        let last = try #require(events.first)
        #expect(last.topic == "probe.item.created" && last.publisher == "probe")
        #expect(last.typeName == "crm.testing.v1.PutRequest")
        #expect(try PutRequest(serializedBytes: last.payload).key == "k19")

        // Following: resume after 20 and receive what commits next, nothing missed.
        let follower = try crmd.connect()
        let request = Crm_Kernel_V1_SubscribeRequest.with { $0.afterSequence = 18 }
        let stream = try follower.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self)
        let reader = Task {
            var sequences: [UInt64] = []
            for try await event in stream {
                sequences.append(event.sequence)
                if sequences.count == 7 { break }
            }
            return sequences
        }
        for i in 0..<5 { _ = try await put(client, key: "late\(i)", publish: true) }
        #expect(try await reader.value == Array(19...25))
    }

    @Test func retentionCompactsButNeverPastAnUnacknowledgedSubscriber() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // The subscriber keeps failing: it acknowledges nothing.
        let stuck = try CrmdProcess(environment: ["CRM_PROBE_FAIL_EVENTS": "1000000"], dataDir: dataDir)
        var client = try stuck.connect()
        for i in 0..<20 { _ = try await put(client, key: "k\(i)", publish: true) }
        _ = try stuck.stop()
        let held = try CrmdProcess(arguments: ["--event-retention-count", "5"],
                                   environment: ["CRM_PROBE_FAIL_EVENTS": "1000000"], dataDir: dataDir)
        client = try held.connect()
        #expect(try await replay(client).map(\.sequence) == Array(1...20))
        _ = try held.stop()

        // Once it has caught up, everything beyond the newest five goes.
        let caughtUp = try CrmdProcess(dataDir: dataDir)
        client = try caughtUp.connect()
        #expect(try await seen(client, count: 20).count == 20)
        _ = try caughtUp.stop()
        let compacting = try CrmdProcess(arguments: ["--event-retention-count", "5"], dataDir: dataDir)
        client = try compacting.connect()
        #expect(try await replay(client).map(\.sequence) == Array(16...20))
        #expect(try await replay(client, after: 17).map(\.sequence) == [18, 19, 20])
        await #expect(throws: RPCError(.outOfRange, "events up to 15 were compacted; resume from after_sequence 15 or later")) {
            _ = try await replay(client, after: 3)
        }
        // Sequences continue after compaction: no number is reused.
        #expect(try await put(client, key: "after", publish: true).sequence == 21)
    }

    @Test func subscribeRejectsBadPatterns() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        await #expect(throws: RPCError(.invalidArgument, "topic pattern \"a.>.b\" is not valid (segments, \"*\", a final \">\")")) {
            _ = try await replay(client, patterns: ["a.>.b"])
        }
    }

    @Test func killedMidWriteLosesNothingAcknowledged() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let crmd = try CrmdProcess(dataDir: dataDir)
        let acknowledged = Acknowledged()
        let writers = (0..<4).map { w in
            Task {
                let client = try crmd.connect()
                var i = 0
                while true {
                    guard let response = try? await put(client, key: "w\(w)-\(i)", publish: true) else { return }
                    acknowledged.add(response)
                    i += 1
                }
            }
        }
        try await Task.sleep(for: .milliseconds(700))
        _ = try crmd.stop(signal: SIGKILL)
        for writer in writers { _ = try? await writer.value }
        let acked = acknowledged.all
        #expect(acked.count > 50)

        let restarted = try CrmdProcess(dataDir: dataDir)
        let client = try restarted.connect()
        let keys = Set(try DatabaseFile(dataDir: dataDir).rows("SELECT key FROM probe_items").map { $0[0] })
        let stored = try await replay(client)
        let events = Set(stored.map(\.sequence))
        for response in acked {
            #expect(keys.contains(response.key), "acknowledged row \(response.key) lost")
            #expect(events.contains(response.sequence), "acknowledged event \(response.sequence) lost")
        }
        // Gap-free after a crash too.
        #expect(stored.map(\.sequence) == Array(1...UInt64(stored.count)))
    }
}

final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var responses: [PutResponse] = []
    func add(_ response: PutResponse) { lock.withLock { responses.append(response) } }
    var all: [PutResponse] { lock.withLock { responses } }
}
