import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Start-up and shutdown of the daemon: the socket file, signals, grace.
@Suite struct LifecycleTests {
    @Test func gracefulShutdownFinishesTheCallInFlightThenRunsShutdownHooks() async throws {
        let marker = NSTemporaryDirectory() + "/probe-shutdown-\(UUID().uuidString)"
        let crmd = try CrmdProcess(environment: ["CRM_PROBE_SHUTDOWN_MARKER": marker])
        let client = try crmd.connect()
        let call = Task {
            try await client.call("/crm.testing.v1.Probe/Sleep", Crm_Testing_V1_SleepRequest.with { $0.millis = 700 },
                                  as: Crm_Testing_V1_SleepResponse.self)
        }
        try await Task.sleep(for: .milliseconds(150))
        kill(crmd.pid, SIGTERM)
        try await Task.sleep(for: .milliseconds(150))
        // Shutting down: no new connections, and the call in flight still finishes.
        #expect(throws: (any Error).self) { _ = try Connection(path: crmd.socketPath) }
        #expect(!FileManager.default.fileExists(atPath: marker))
        let response = try await call.value
        #expect(response.sleptMillis >= 700 && !response.cancelled)
        #expect(crmd.waitForExit() == 0)
        #expect(FileManager.default.fileExists(atPath: marker))
        #expect(client.goAway?.code == .unavailable)
        try? FileManager.default.removeItem(atPath: marker)
    }

    @Test func graceOverAnswersUnavailableAndExits() async throws {
        let crmd = try CrmdProcess(arguments: ["--shutdown-grace-ms", "200"])
        let client = try crmd.connect()
        let call = Task {
            try await client.call("/crm.testing.v1.Probe/Sleep", Crm_Testing_V1_SleepRequest.with { $0.millis = 3000 },
                                  as: Crm_Testing_V1_SleepResponse.self)
        }
        try await Task.sleep(for: .milliseconds(150))
        kill(crmd.pid, SIGINT)
        do {
            _ = try await call.value
            Issue.record("call outlived the grace period")
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
        }
        #expect(crmd.waitForExit() == 0)
    }

    @Test func healthWatchStreamsServingThenNotServingAtShutdown() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let (_, messages) = client.stream("/crm.kernel.v1.Health/Watch", [])
        var statuses: [Crm_Kernel_V1_ServingStatus] = []
        do {
            for try await bytes in messages {
                statuses.append(try Crm_Kernel_V1_HealthCheckResponse(serializedBytes: bytes).status)
                if statuses.count == 1 { kill(crmd.pid, SIGTERM) }
            }
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
        }
        #expect(statuses == [.serving, .notServing])
    }

    @Test func socketIsCreatedWithMode0600ByDefaultOrTheConfiguredMode() throws {
        let crmd = try CrmdProcess()
        #expect(try mode(of: crmd.socketPath) == 0o600)
        let shared = try CrmdProcess(arguments: ["--socket-mode", "0660"])
        #expect(try mode(of: shared.socketPath) == 0o660)
    }

    @Test func refusesToStartOnALiveServersSocket() throws {
        let first = try CrmdProcess()
        let second = try CrmdProcess(socketPath: first.socketPath, waitForSocket: false)
        #expect(second.waitForExit() == 1)
        #expect(second.log.contains("another server is already listening"))
        try first.connect().close()  // the first is untouched
    }

    @Test func removesAStaleSocketFileAndStarts() throws {
        let dir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/crm.sock"
        let killed = try CrmdProcess(socketPath: path)
        try killed.stop(signal: SIGKILL)
        #expect(FileManager.default.fileExists(atPath: path))  // left behind by kill -9
        let fresh = try CrmdProcess(socketPath: path)
        try fresh.connect().close()
    }

    @Test func configFileIsReadAndFlagsOverrideIt() async throws {
        let dir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/crmd.json"
        try #"{"limits": {"max_message_bytes": 2048, "max_in_flight_per_connection": 1}, "plugins": {"probe": {"greeting": "from config"}}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        // The flag overrides the file's in-flight limit; the file's message limit stays.
        let crmd = try CrmdProcess(arguments: ["--config", config, "--max-in-flight", "8"])
        let client = try crmd.connect()
        let echo = try await client.call("/crm.testing.v1.Probe/Echo", Crm_Testing_V1_EchoRequest(),
                                         as: Crm_Testing_V1_EchoResponse.self)
        #expect(echo.configGreeting == "from config")
        let big: [UInt8] = try Crm_Testing_V1_EchoRequest.with { $0.payload = Data(count: 4000) }.serializedBytes()
        await #expect(throws: RPCError(.resourceExhausted, "message of \(big.count) bytes is over the 2048-byte limit")) {
            _ = try await client.call("/crm.testing.v1.Probe/Echo", big)
        }
        // Two calls at once are admitted: the file's limit of 1 was overridden.
        let sleep: [UInt8] = try Crm_Testing_V1_SleepRequest.with { $0.millis = 300 }.serializedBytes()
        async let first = client.call("/crm.testing.v1.Probe/Sleep", sleep)
        async let second = client.call("/crm.testing.v1.Probe/Sleep", sleep)
        _ = try await (first, second)
    }

    @Test func outOfRangeLimitsAreRefusedAtStart() throws {
        let dir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"limits": {"read_timeout_ms": -5}}"#.write(toFile: dir + "/neg.json", atomically: true, encoding: .utf8)
        let fromFile = try CrmdProcess(arguments: ["--config", dir + "/neg.json"], waitForSocket: false)
        #expect(fromFile.waitForExit() != 0)
        #expect(fromFile.log.contains("read_timeout_ms is -5"))
        let fromFlag = try CrmdProcess(arguments: ["--max-message-bytes", "99999999999"], waitForSocket: false)
        #expect(fromFlag.waitForExit() != 0)
        #expect(fromFlag.log.contains("max_message_bytes is 99999999999"))
    }

    @Test func secondCrmdOnTheSameDataDirectoryIsRefusedBeforeTouchingIt() throws {
        let first = try CrmdProcess()
        let second = try CrmdProcess(socketPath: first.dir + "/other.sock", dataDir: first.dir + "/data",
                                     waitForSocket: false)
        #expect(second.waitForExit() != 0)
        #expect(second.log.contains("another crmd is using the data directory"))
        #expect(!second.log.contains("migration"))
    }

    @Test func invalidConfigFileStopsStartWithAClearMessage() throws {
        let dir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{ nope".write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let crmd = try CrmdProcess(arguments: ["--config", dir + "/bad.json"], waitForSocket: false)
        #expect(crmd.waitForExit() != 0)
        #expect(crmd.log.contains("is not valid"))
    }

    private func mode(of path: String) throws -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { throw TestFailure("stat \(path) failed") }
        return info.st_mode & 0o777
    }
}
