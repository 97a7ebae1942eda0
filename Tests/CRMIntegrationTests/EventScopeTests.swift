import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SwiftProtobuf
import Testing

/// Events/Subscribe sends only what the caller may read: the topic's read
/// permission, then the owner of the record an event is about; an open
/// stream follows Access changes. Real crmd, socket and probe plugin; users
/// act through the trusted proxy (AccessSupport) or as OS uids (crmctl).
@Suite(.serialized) struct EventScopeTests {
    static let bound: UInt32 = 40_101

    /// A probe item published about record "probe.item" <id> owned by `owner`
    /// (plainly, about no record, when nil); returns its sequence.
    @discardableResult
    func publish(_ admin: Connection, owner: String?) async throws -> UInt64 {
        try await admin.call(probeService + "Put", PutRequest.with {
            $0.publish = true
            $0.owner = owner ?? ""
        }, as: PutResponse.self).sequence
    }

    /// abi10's Ping publishes abi10.thing.pinged, a topic declared nowhere:
    /// no read permission, so for administrators only.
    func publishUndeclared(_ admin: Connection) async throws {
        _ = try await admin.call("/crm.testing.v1.abi10/Ping", [])
    }

    func replay(_ crmd: CrmdProcess, as user: String?, after: UInt64 = 0) async throws -> [Crm_Kernel_V1_Event] {
        let request = Crm_Kernel_V1_SubscribeRequest.with { $0.afterSequence = after; $0.replayOnly = true }
        var events: [Crm_Kernel_V1_Event] = []
        let connection = try crmd.connect()
        defer { connection.close() }  // and keeps it open until then
        for try await event in try connection.stream(
            "/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self,
            metadata: user.map(AccessSupport.actingAs) ?? [:]) {
            events.append(event)
        }
        return events
    }

    @Test func eachCallerReceivesOnlyTheTopicsItMayRead() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe", "abi10"])
        let admin = try crmd.connect()
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        try await AccessSupport.createUser(crmd, "nora")
        let first = try await publish(admin, owner: nil)
        try await publishUndeclared(admin)
        let third = try await publish(admin, owner: "someone")

        // crmd's own uid sees every event; read_only (*.read at scope all)
        // every probe event, owned or not, but not the undeclared topic.
        let everything = try await replay(crmd, as: nil)
        #expect(everything.map(\.topic) == ["probe.item.created", "abi10.thing.pinged", "probe.item.created"])
        let rita = try await replay(crmd, as: "rita")
        #expect(rita.map(\.sequence) == [first, third], "a gap where abi10's event was")
        // Resuming after the last sequence seen skips the left-out one again.
        #expect(try await replay(crmd, as: "rita", after: first).map(\.sequence) == [third])

        // A user who may not subscribe at all is refused at the start.
        await #expect(throws: RPCError(.permissionDenied, "user nora lacks permission kernel.events.read")) {
            _ = try await replay(crmd, as: "nora")
        }
    }

    @Test func anEventCarriesItsSubjectAndOwner() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        let admin = try crmd.connect()
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        let put = try await admin.call(probeService + "Put", PutRequest.with {
            $0.key = "owned"
            $0.publish = true
            $0.owner = "olga"
        }, as: PutResponse.self)
        try await publish(admin, owner: nil)
        let events = try await replay(crmd, as: "rita")
        #expect(events.count == 2)
        let about = try #require(events.first)
        #expect(about.entity == "probe.item" && about.recordID == "\(put.id)" && about.owner == "olga")
        #expect(!about.redacted)
        #expect(try PutRequest(serializedBytes: about.payload).key == "owned")
        let plain = try #require(events.last)
        #expect(plain.entity.isEmpty && plain.recordID.isEmpty && plain.owner.isEmpty && !plain.redacted)
        #expect(!plain.payload.isEmpty)
        // crmd writes these frames by hand: byte for byte what swift-protobuf writes.
        let raw = try await rawReplay(crmd)
        #expect(raw.count == 2)
        for bytes in raw {
            #expect(try Crm_Kernel_V1_Event(serializedBytes: bytes).serializedBytes() == bytes)
        }
    }

    func rawReplay(_ crmd: CrmdProcess) async throws -> [[UInt8]] {
        let connection = try crmd.connect()
        defer { connection.close() }
        let request = try Crm_Kernel_V1_SubscribeRequest.with { $0.replayOnly = true }.serializedBytes() as [UInt8]
        var frames: [[UInt8]] = []
        for try await bytes in connection.stream("/crm.kernel.v1.Events/Subscribe", request).messages { frames.append(bytes) }
        return frames
    }

    @Test func aRedactedEventArrivesMarkedAndWithoutItsPayload() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let arguments = ["--trusted-proxy-uid", "\(getuid())"]
        let before = try CrmdProcess(plugins: ["probe"], arguments: arguments, dataDir: dataDir)
        let admin = try before.connect()
        let erased = try await publish(admin, owner: "olga")
        let kept = try await publish(admin, owner: "olga")
        _ = try before.stop()
        // The mark crm_access_api.redact leaves on a stored event (redact is
        // the audit trail's; here the row keeps its payload bytes, and the
        // stream must still send none).
        try DatabaseFile(dataDir: dataDir).execute("UPDATE kernel_outbox SET redacted = 1 WHERE sequence = \(erased)")
        let crmd = try CrmdProcess(plugins: ["probe"], arguments: arguments, dataDir: dataDir)
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        for user in [nil, "rita"] {
            let events = try await replay(crmd, as: user)
            #expect(events.map(\.sequence) == [erased, kept])
            let redacted = try #require(events.first)
            #expect(redacted.redacted && redacted.payload.isEmpty && redacted.topic == "probe.item.created")
            #expect(redacted.owner == "olga" && redacted.entity == "probe.item")
            #expect(events.last.map { !$0.redacted && !$0.payload.isEmpty } == true)
        }
        for bytes in try await rawReplay(crmd) {
            #expect(try Crm_Kernel_V1_Event(serializedBytes: bytes).serializedBytes() == bytes)
        }
    }

    @Test func aRoleChangeWhileTheStreamIsOpenChangesWhatItDeliversFromThenOn() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe", "abi10"])
        let admin = try crmd.connect()
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        let stream = EventCollector(try crmd.connect(), as: "rita")

        // read_only: the probe's events only.
        try await publishUndeclared(admin)
        let p1 = try await publish(admin, owner: nil)
        #expect(try await stream.sequences(count: 1) == [p1])

        // Granted administrator: the undeclared topic too, from the next event on.
        try await AccessSupport.grant(crmd, "rita", "administrator")
        try await publishUndeclared(admin)
        let p2 = try await publish(admin, owner: nil)
        let afterGrant = try await stream.events(count: 3)
        #expect(afterGrant.map(\.topic) == ["probe.item.created", "abi10.thing.pinged", "probe.item.created"])
        #expect(afterGrant.last?.sequence == p2)

        // Revoked again: back to the probe's events.
        try await AccessSupport.revoke(crmd, "rita", "administrator")
        try await publishUndeclared(admin)
        let p3 = try await publish(admin, owner: nil)
        #expect(try await stream.sequences(count: 4) == [p1, p2 - 1, p2, p3])

        // Without read_only the user may not subscribe at all: the stream ends.
        try await AccessSupport.revoke(crmd, "rita", "read_only")
        let end = try await stream.end()
        #expect(end == RPCError(.permissionDenied, "user rita lacks permission kernel.events.read"))
    }

    @Test func unbindingTheCallersUidEndsItsStreamWithPermissionDenied() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        let admin = try crmd.connect()
        try await AccessSupport.createUser(crmd, "olga", uids: [Self.bound], roles: ["read_only"])
        let sequence = try await publish(admin, owner: "olga")
        let follower = try FollowingCrmctl(socket: crmd.socketPath, uid: Self.bound)
        defer { follower.stop() }
        // Its first line is the stored event: the stream is open as olga.
        let line = try #require(try follower.firstLine(timeout: 20))
        #expect(line.hasPrefix("\(sequence) "))

        _ = try await admin.call("/crm.kernel.v1.Access/UnbindUid",
                                 Crm_Kernel_V1_UnbindUidRequest.with { $0.uid = Self.bound }, as: Crm_Kernel_V1_User.self)
        // No event needed: an idle stream notices too.
        let exit = try #require(follower.wait(timeout: 20), "crmctl events --follow kept running after the unbinding")
        #expect(exit.status == Int32(Crm_Rpc_V1_StatusCode.permissionDenied.rawValue))
        #expect(exit.stderr == "crmctl: PERMISSION_DENIED: uid \(Self.bound) is not bound to a CRM user; an administrator must bind it\n")
    }

    @Test func echoReportsTheCallersRecordScope() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        // read_only lets the user call Echo (probe.item.read); sales_rep
        // reaches its own leads, service_agent its team's tickets.
        try await AccessSupport.createUser(crmd, "ann", roles: ["read_only", "sales_rep", "service_agent"])
        try await AccessSupport.createUser(crmd, "bob")
        try await AccessSupport.createUser(crmd, "cat")
        try await AccessSupport.createUser(crmd, "dan")
        try await AccessSupport.createTeam(crmd, "desk", members: ["cat", "ann", "bob"])
        try await AccessSupport.createTeam(crmd, "floor", members: ["dan", "ann"])
        let client = try crmd.connect()
        func scope(_ permission: String) async throws -> (reach: Int32, owners: [String]) {
            let echo = try await client.call(probeService + "Echo", Crm_Testing_V1_EchoRequest.with {
                $0.scopePermission = permission
            }, as: Crm_Testing_V1_EchoResponse.self, metadata: AccessSupport.actingAs("ann"))
            return (echo.scopeReach, echo.scopeOwners)
        }
        let own = try await scope("sales.lead.write")
        #expect(own.reach == 1 && own.owners == ["ann"])
        let team = try await scope("service.ticket.write")
        #expect(team.reach == 2 && team.owners.first == "ann", "the user first")
        #expect(Set(team.owners) == ["ann", "bob", "cat", "dan"] && team.owners.count == 4, "then every team-mate once")
        let all = try await scope("contacts.person.read")
        #expect(all.reach == 3 && all.owners.isEmpty)
        let none = try await scope("loyalty.card.write")
        #expect(none.reach == 0 && none.owners.isEmpty)
    }
}

/// A following Events/Subscribe as a CRM user, read in the background.
final class EventCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [Crm_Kernel_V1_Event] = []
    private var ended: Error?
    private var finished = false
    private var task: Task<Void, Never>?

    init(_ connection: Connection, as user: String) {
        task = Task { [self] in
            do {
                for try await event in try connection.stream(
                    "/crm.kernel.v1.Events/Subscribe", Crm_Kernel_V1_SubscribeRequest(), as: Crm_Kernel_V1_Event.self,
                    metadata: AccessSupport.actingAs(user)) {
                    lock.withLock { received.append(event) }
                }
                lock.withLock { finished = true }
            } catch {
                lock.withLock { ended = error; finished = true }
            }
        }
    }

    deinit { task?.cancel() }

    /// The first `count` events received, waiting up to `timeout` seconds
    /// for them; then a little longer, so an extra one would show.
    func events(count: Int, timeout: Double = 20) async throws -> [Crm_Kernel_V1_Event] {
        let until = Date().addingTimeInterval(timeout)
        while lock.withLock({ received.count < count && !finished }) && Date() < until {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(200))
        return lock.withLock { received }
    }

    func sequences(count: Int) async throws -> [UInt64] { try await events(count: count).map(\.sequence) }

    /// How the stream ended (nil: OK, or still open after `timeout`).
    func end(timeout: Double = 20) async throws -> RPCError? {
        let until = Date().addingTimeInterval(timeout)
        while !lock.withLock({ finished }) && Date() < until { try await Task.sleep(for: .milliseconds(10)) }
        return lock.withLock { ended as? RPCError }
    }
}

/// `crmctl events --follow` run as another uid, its output read as it comes.
final class FollowingCrmctl: @unchecked Sendable {
    private let process = Process()
    private let out = Pipe(), err = Pipe()

    init(socket: String, uid: UInt32) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", CrmdProcess.buildDir + "/bin/crmctl",
                             "events", "--follow"]
        var env = ProcessInfo.processInfo.environment
        env["CRM_SOCKET"] = socket
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    /// The first line crmctl printed, or nil if none came within `timeout` seconds.
    func firstLine(timeout: Double) throws -> String? {
        let handle = out.fileHandleForReading
        let until = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
        while Date() < until {
            guard poll(&poller, 1, 100) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(handle.fileDescriptor, &byte, 1) == 1 else { return nil }
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    /// Its exit status and standard error, or nil if it still runs after `timeout` seconds.
    func wait(timeout: Double) -> (status: Int32, stderr: String)? {
        let until = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < until { usleep(10_000) }
        guard !process.isRunning else { return nil }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    func stop() { if process.isRunning { process.terminate() } }
}
