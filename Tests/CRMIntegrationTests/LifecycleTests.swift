import CRMClient
import CRMProto
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
        try #"{"limits": {"max_message_bytes": 2048}, "plugins": {"probe": {"greeting": "from config"}}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let crmd = try CrmdProcess(arguments: ["--config", config])
        let client = try crmd.connect()
        let echo = try await client.call("/crm.testing.v1.Probe/Echo", Crm_Testing_V1_EchoRequest(),
                                         as: Crm_Testing_V1_EchoResponse.self)
        #expect(echo.configGreeting == "from config")
        let big: [UInt8] = try Crm_Testing_V1_EchoRequest.with { $0.payload = Data(count: 4000) }.serializedBytes()
        await #expect(throws: RPCError.self) { _ = try await client.call("/crm.testing.v1.Probe/Echo", big) }
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
