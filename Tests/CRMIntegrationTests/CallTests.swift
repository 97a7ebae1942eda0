import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Calls over the real socket to the Swift probe plugin, loaded with dlopen.
@Suite struct CallTests {
    let echo = "/crm.testing.v1.Probe/Echo"
    let sleep = "/crm.testing.v1.Probe/Sleep"

    @Test func concurrentCallsOnOneConnectionAreAnsweredOutOfOrder() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let order = OrderLog()
        async let slow: Void = {
            _ = try await client.call(sleep, Crm_Testing_V1_SleepRequest.with { $0.millis = 400 },
                                      as: Crm_Testing_V1_SleepResponse.self)
            order.append("sleep")
        }()
        try await Task.sleep(for: .milliseconds(50))  // the Sleep request goes out first
        async let fast: Void = {
            _ = try await client.call(echo, Crm_Testing_V1_EchoRequest(), as: Crm_Testing_V1_EchoResponse.self)
            order.append("echo")
        }()
        _ = try await (slow, fast)
        #expect(order.entries == ["echo", "sleep"])
    }

    /// Only as many handlers as there are cores run at once, but handlers
    /// that block stop counting: more sleeping calls than cores (and than
    /// the 2 cores CI has) still leave room for an Echo behind them.
    @Test func blockedHandlersDoNotHoldUpTheCallsBehindThem() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let blocked = ProcessInfo.processInfo.activeProcessorCount + 2
        let order = OrderLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<blocked {
                group.addTask {
                    _ = try await client.call(sleep, Crm_Testing_V1_SleepRequest.with { $0.millis = 1500 },
                                              as: Crm_Testing_V1_SleepResponse.self)
                    order.append("sleep")
                }
            }
            try await Task.sleep(for: .milliseconds(100))  // every Sleep is running or queued
            group.addTask {
                _ = try await client.call(echo, Crm_Testing_V1_EchoRequest(), as: Crm_Testing_V1_EchoResponse.self)
                order.append("echo")
            }
            try await group.waitForAll()
        }
        #expect(order.entries == ["echo"] + Array(repeating: "sleep", count: blocked))
    }

    @Test func manyCallsInFlightAllGetTheirOwnAnswers() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let payload = Data("call-\(i)".utf8)
                    let response = try await client.call(echo, Crm_Testing_V1_EchoRequest.with { $0.payload = payload },
                                                         as: Crm_Testing_V1_EchoResponse.self)
                    #expect(response.payload == payload)
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func handlerSeesCallerCredentialsMetadataAndDeadline() async throws {
        let crmd = try CrmdProcess(environment: ["CRM_PLUGIN_PROBE_GREETING": "hello from env"])
        let client = try crmd.connect()
        let before = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        let response = try await client.call(echo, Crm_Testing_V1_EchoRequest(), as: Crm_Testing_V1_EchoResponse.self,
                                             metadata: ["tenant": "acme"], timeout: .seconds(30))
        #expect(response.callerPid == Int64(getpid()))
        #expect(response.callerUid == Int64(getuid()))
        #expect(response.callerGid == Int64(getgid()))
        #expect(response.method == echo)
        #expect(response.metadata == ["tenant": "acme"])
        #expect(response.deadlineUnixUs > before + 29_000_000 && response.deadlineUnixUs < before + 31_000_000)
        #expect(response.configGreeting == "hello from env")
    }

    @Test func pluginErrorStatusAndMessageReachTheClient() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        await #expect(throws: RPCError(.notFound, "contact 42 not found")) {
            _ = try await client.call("/crm.testing.v1.Probe/Fail",
                                      Crm_Testing_V1_FailRequest.with { $0.code = 5; $0.message = "contact 42 not found" },
                                      as: Crm_Testing_V1_FailResponse.self)
        }
    }

    @Test func serverStreamDeliversEveryMessageThenEnds() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let request: [UInt8] = try Crm_Testing_V1_CountRequest.with { $0.count = 25 }.serializedBytes()
        var seen: [UInt32] = []
        for try await bytes in client.stream("/crm.testing.v1.Probe/Count", request).messages {
            seen.append(try Crm_Testing_V1_CountResponse(serializedBytes: bytes).n)
        }
        #expect(seen == Array(1...25))
    }

    @Test func cancellingAStreamEndsItAndReachesThePlugin() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let request: [UInt8] = try Crm_Testing_V1_CountRequest.with { $0.count = 10_000; $0.intervalMillis = 10 }.serializedBytes()
        let (id, messages) = client.stream("/crm.testing.v1.Probe/Count", request)
        var received = 0
        do {
            for try await _ in messages {
                received += 1
                if received == 3 { client.cancel(callID: id) }
            }
            Issue.record("stream ended without CANCELLED")
        } catch let error as RPCError {
            #expect(error.code == .cancelled)
        }
        #expect(received >= 3 && received < 100)
        try await expectCancellationSeen(client)
    }

    @Test func cancellingAUnaryCallAnswersCancelledAndThePluginSeesIt() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let task = Task {
            try await client.call(sleep, Crm_Testing_V1_SleepRequest.with { $0.millis = 10_000 },
                                  as: Crm_Testing_V1_SleepResponse.self)
        }
        try await Task.sleep(for: .milliseconds(200))
        let started = Date()
        task.cancel()
        await #expect(throws: RPCError(.cancelled, "cancelled by the client")) { _ = try await task.value }
        #expect(Date().timeIntervalSince(started) < 5)
        try await expectCancellationSeen(client)
    }

    @Test func deadlinePassedAnswersDeadlineExceeded() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        do {
            _ = try await client.call(sleep, Crm_Testing_V1_SleepRequest.with { $0.millis = 10_000 },
                                      as: Crm_Testing_V1_SleepResponse.self, timeout: .milliseconds(150))
            Issue.record("call outlived its deadline")
        } catch let error as RPCError {
            #expect(error.code == .deadlineExceeded)
        }
        try await expectCancellationSeen(client)
    }

    @Test func inProcessCallReachesAnotherMethodThroughTheHost() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let inner: [UInt8] = try Crm_Testing_V1_EchoRequest.with { $0.payload = Data("inner".utf8) }.serializedBytes()
        let relayed = try await client.call("/crm.testing.v1.Probe/Relay",
                                            Crm_Testing_V1_RelayRequest.with { $0.method = echo; $0.payload = Data(inner) },
                                            as: Crm_Testing_V1_RelayResponse.self)
        #expect(relayed.status == 0)
        let echoed = try Crm_Testing_V1_EchoResponse(serializedBytes: relayed.payload)
        #expect(echoed.payload == Data("inner".utf8))
        #expect(echoed.callerPid == -1)  // in-process calls carry no socket identity

        let missing = try await client.call("/crm.testing.v1.Probe/Relay",
                                            Crm_Testing_V1_RelayRequest.with { $0.method = "/no.Such/Method" },
                                            as: Crm_Testing_V1_RelayResponse.self)
        #expect(missing.status == 12)
    }

    @Test func pingIsAnsweredWithTheSamePayload() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        #expect(try await client.ping([1, 2, 3]) == [1, 2, 3])
    }

    private func expectCancellationSeen(_ client: Connection) async throws {
        for _ in 0..<100 {
            let stats = try await client.call("/crm.testing.v1.Probe/Stats", Crm_Testing_V1_StatsRequest(),
                                              as: Crm_Testing_V1_StatsResponse.self)
            if stats.cancellationsSeen > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the plugin never saw the cancellation")
    }
}

final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.withLock { items.append(item) } }
    var entries: [String] { lock.withLock { items } }
}
