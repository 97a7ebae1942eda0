import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import NIOCore
import SwiftProtobuf
import Testing

/// Bounded fuzzing of a live crmd with every first-party plugin: request
/// payloads for every method it serves (built from the method's request
/// type, then mutated, or random), and mutated frame streams on fresh
/// connections. A crash, a call left unanswered or memory that keeps
/// growing fails the test and prints the seed: `CRM_FUZZ_SEED=<seed>`
/// replays the same inputs. `CRM_FUZZ_SECONDS` sets the length (make test:
/// 30 s in all; make fuzz: 600 s).
@Suite(.serialized) struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seconds = Double(environment["CRM_FUZZ_SECONDS"] ?? "") ?? 30
    static let seed = UInt64(environment["CRM_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
    /// Writes outside crmd's database (Storage/Backup writes a file anywhere root may).
    static let excluded: Set<String> = ["/crm.kernel.v1.Storage/Backup"]

    @Test func everyMethodSurvivesRandomAndMutatedRequests() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales", "marketing", "service", "b2b", "loyalty", "probe", "tablebooking"])
        let methods = try await Self.methods(crmd)
        #expect(methods.count > 60, "reflection listed only \(methods.count) methods")
        var random = FuzzRandom(seed: Self.seed)
        let generator = MessageGenerator(try await Self.descriptorSets(crmd, methods))
        let rssBefore = try crmd.residentBytes()
        let until = Date().addingTimeInterval(Self.seconds * 2 / 3)
        var raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        var sent = 0, nextID: UInt64 = 1
        while Date() < until {
            var batch: [(id: UInt64, method: String, payload: [UInt8])] = []
            for _ in 0..<200 {
                let method = random.pick(methods)
                let valid = generator.encode(method.requestType, &random)
                let payload: [UInt8]
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5: payload = valid
                case 5..<9: payload = FuzzMutation.mutate(valid, &random)
                default: payload = random.bytes(Int.random(in: 0...200, using: &random))
                }
                batch.append((nextID, method.name, payload))
                nextID += 1
            }
            for call in batch { try raw.request(call.id, call.method, call.payload, timeoutMicros: 300_000) }
            let answered = Self.responses(raw, expecting: batch.count)
            sent += batch.count
            guard answered == batch.count, crmd.isRunning else {
                let inputs = batch.map { "\($0.method) \(Self.hex($0.payload))" }.joined(separator: "\n")
                Issue.record("""
                    seed \(Self.seed): \(answered) of \(batch.count) calls answered, crmd \(crmd.isRunning ? "running" : "dead");
                    inputs:\n\(inputs)\n\(crmd.log.suffix(3000))
                    """)
                return
            }
            // A server that ended the connection for a payload would be a bug too, but fresh connections keep going.
            if nextID > 1_000_000 { raw = try RawClient(path: crmd.socketPath); try raw.handshake(); nextID = 1 }
        }
        let rssAfter = try crmd.residentBytes()
        print("fuzz seed \(Self.seed): \(sent) requests to \(methods.count) methods; crmd RSS \(rssBefore / 1024) -> \(rssAfter / 1024) KiB")
        #expect(rssAfter - rssBefore < 96 << 20, "seed \(Self.seed): RSS grew from \(rssBefore) to \(rssAfter)")
    }

    @Test func mutatedFrameStreamsNeverCrashOrHangCrmd() async throws {
        let crmd = try CrmdProcess(plugins: ["probe"], arguments: ["--read-timeout-ms", "500"])
        var random = FuzzRandom(seed: Self.seed ^ 0x5eed)
        let until = Date().addingTimeInterval(Self.seconds / 3)
        var connections = 0
        while Date() < until {
            let stream = Self.frameStream(&random)
            let bytes = random.chance(85) ? FuzzMutation.mutate(stream, &random) : stream
            let raw = try RawClient(path: crmd.socketPath)
            raw.sendUntilRefused(bytes)
            // Whatever the server makes of it, it must answer or close, never stall the others.
            _ = try? raw.readSome(timeout: 0.05)
            raw.closeAbruptly()
            connections += 1
            if connections % 200 == 0 {
                guard crmd.isRunning else {
                    Issue.record("seed \(Self.seed): crmd died after \(connections) connections; last input \(Self.hex(bytes))\n\(crmd.log.suffix(3000))")
                    return
                }
                let client = try crmd.connect()
                _ = try await client.call("/crm.kernel.v1.Health/Check", [], timeout: .seconds(5))
                client.close()
            }
        }
        print("frame fuzz seed \(Self.seed): \(connections) mutated connection streams")
        #expect(crmd.isRunning)
    }

    /// A plausible client stream: the preface, then requests, pings, cancels.
    static func frameStream(_ random: inout FuzzRandom) -> [UInt8] {
        var out = ByteBuffer(bytes: random.chance(90) ? Preface.clientBytes() : random.bytes(8))
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            var header = Crm_Rpc_V1_FrameHeader()
            header.kind = Crm_Rpc_V1_FrameKind(rawValue: Int.random(in: 0...8, using: &random)) ?? .request
            header.callID = random.chance(80) ? UInt64.random(in: 0...4, using: &random) : random.edgeInteger()
            header.method = random.pick(["/crm.testing.v1.Probe/Echo", "/crm.kernel.v1.Health/Watch",
                                         "/crm.testing.v1.Probe/Sleep", "/crm.kernel.v1.Events/Subscribe", "", "/x"])
            header.timeoutUs = random.chance(50) ? 0 : random.edgeInteger()
            if random.chance(20) { header.metadata = [.with { $0.key = "k"; $0.value = "v" }] }
            FrameEncoder.write(header, payloadBytes: random.bytes(Int.random(in: 0...32, using: &random)), into: &out)
        }
        return Array(out.readableBytesView)
    }

    /// Reads until `count` RESPONSE frames arrived; fewer if the stream stalls for 15 s or ends.
    static func responses(_ raw: RawClient, expecting count: Int) -> Int {
        var seen = 0
        while seen < count {
            guard let frame = try? raw.readFrame(timeout: 15) else { return seen }
            if frame.header.kind == .response { seen += 1 }
            if frame.header.kind == .goaway { return seen }
        }
        return seen
    }

    struct Method { var name: String; var requestType: String }

    static func methods(_ crmd: CrmdProcess) async throws -> [Method] {
        let client = try crmd.connect()
        let list: Crm_Kernel_V1_ListServicesResponse = try await client.call(
            "/crm.kernel.v1.Reflection/ListServices", Crm_Kernel_V1_ListServicesRequest.with { $0.pageSize = 1000 })
        return list.services.flatMap(\.methods).filter { !excluded.contains($0.fullName) }
            .map { Method(name: $0.fullName, requestType: $0.requestType) }
    }

    static func descriptorSets(_ crmd: CrmdProcess, _ methods: [Method]) async throws -> [Google_Protobuf_FileDescriptorSet] {
        let client = try crmd.connect()
        let services = Set(methods.map { String($0.name.dropFirst().split(separator: "/")[0]) })
        var sets: [Google_Protobuf_FileDescriptorSet] = []
        for service in services.sorted() {
            let response: Crm_Kernel_V1_GetFileDescriptorSetResponse = try await client.call(
                "/crm.kernel.v1.Reflection/GetFileDescriptorSet", Crm_Kernel_V1_GetFileDescriptorSetRequest.with { $0.service = service })
            sets.append(try Google_Protobuf_FileDescriptorSet(serializedBytes: response.fileDescriptorSet))
        }
        return sets
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.prefix(512).map { String(format: "%02x", $0) }.joined() }
}
