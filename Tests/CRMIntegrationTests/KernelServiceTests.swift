import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SwiftProtobuf
import Testing

@Suite struct KernelServiceTests {
    @Test func healthCheckReportsEveryServiceAndUnknownOnes() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let all = try await client.call("/crm.kernel.v1.Health/Check", Crm_Kernel_V1_HealthCheckRequest(),
                                        as: Crm_Kernel_V1_HealthCheckResponse.self)
        #expect(all.status == .serving)
        #expect(all.services.map(\.service) == ["crm.kernel.v1.Access", "crm.kernel.v1.Audit", "crm.kernel.v1.Events", "crm.kernel.v1.Health",
                                                "crm.kernel.v1.Plugins", "crm.kernel.v1.Reflection", "crm.kernel.v1.Storage", "crm.testing.v1.Probe"])
        #expect(all.services.last?.plugin == "probe")
        let one = try await client.call("/crm.kernel.v1.Health/Check",
                                        Crm_Kernel_V1_HealthCheckRequest.with { $0.service = "crm.testing.v1.Probe" },
                                        as: Crm_Kernel_V1_HealthCheckResponse.self)
        #expect(one.status == .serving && one.services.count == 1)
        let unknown = try await client.call("/crm.kernel.v1.Health/Check",
                                            Crm_Kernel_V1_HealthCheckRequest.with { $0.service = "no.Such" },
                                            as: Crm_Kernel_V1_HealthCheckResponse.self)
        #expect(unknown.status == .serviceUnknown)
    }

    @Test func reflectionListsMethodsWithTypesAndServesDescriptors() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let services = try await client.call("/crm.kernel.v1.Reflection/ListServices", Crm_Kernel_V1_ListServicesRequest(),
                                             as: Crm_Kernel_V1_ListServicesResponse.self).services
        let probe = try #require(services.first { $0.name == "crm.testing.v1.Probe" })
        #expect(probe.plugin == "probe")
        let count = try #require(probe.methods.first { $0.name == "Count" })
        #expect(count.fullName == "/crm.testing.v1.Probe/Count")
        #expect(count.requestType == "crm.testing.v1.CountRequest")
        #expect(count.responseType == "crm.testing.v1.CountResponse")
        #expect(count.serverStreaming)

        for (service, file) in [("crm.testing.v1.Probe", "crm/testing/v1/probe.proto"),
                                ("crm.kernel.v1.Health", "crm/kernel/v1/health.proto")] {
            let response = try await client.call("/crm.kernel.v1.Reflection/GetFileDescriptorSet",
                                                 Crm_Kernel_V1_GetFileDescriptorSetRequest.with { $0.service = service },
                                                 as: Crm_Kernel_V1_GetFileDescriptorSetResponse.self)
            let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: response.fileDescriptorSet)
            #expect(set.file.contains { $0.name == file })
        }
        await #expect(throws: RPCError(.notFound, "service no.Such is not served here")) {
            _ = try await client.call("/crm.kernel.v1.Reflection/GetFileDescriptorSet",
                                      Crm_Kernel_V1_GetFileDescriptorSetRequest.with { $0.service = "no.Such" },
                                      as: Crm_Kernel_V1_GetFileDescriptorSetResponse.self)
        }
    }

    @Test func serverInfoTellsTheLimitsInForce() async throws {
        let crmd = try CrmdProcess(arguments: ["--max-message-bytes", "100000", "--max-in-flight", "17",
                                               "--read-timeout-ms", "1234", "--idle-timeout-ms", "56789",
                                               "--shutdown-grace-ms", "4321"])
        let client = try crmd.connect()
        let info: Crm_Kernel_V1_GetServerInfoResponse = try await client.call(
            "/crm.kernel.v1.Reflection/GetServerInfo", Crm_Kernel_V1_GetServerInfoRequest())
        #expect(info.protocolVersion == 1)
        #expect(info.maxMessageBytes == 100_000 && info.maxHeaderBytes == 65_536)
        #expect(info.maxInFlightPerConnection == 17 && info.maxEventSubscriptions == 256)
        #expect(info.readTimeoutMs == 1234 && info.idleTimeoutMs == 56789 && info.shutdownGraceMs == 4321)
    }

    @Test func aRequestWithoutAMethodIsUnimplementedAndTheConnectionStays() throws {
        let crmd = try CrmdProcess()
        let raw = try RawClient(path: crmd.socketPath)
        try raw.handshake()
        try raw.request(1, "")
        let answer = try #require(try raw.readFrame())
        #expect(answer.header.kind == .response && answer.header.callID == 1 && answer.header.status == .unimplemented)
        try raw.request(2, "/crm.kernel.v1.Health/Check")
        #expect(try raw.readFrame()?.header.status == .ok)
    }

    @Test func listServicesPaginates() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let first = try await client.call("/crm.kernel.v1.Reflection/ListServices",
                                          Crm_Kernel_V1_ListServicesRequest.with { $0.pageSize = 4 },
                                          as: Crm_Kernel_V1_ListServicesResponse.self)
        #expect(first.services.count == 4)
        #expect(!first.nextPageToken.isEmpty)
        let second = try await client.call("/crm.kernel.v1.Reflection/ListServices",
                                           Crm_Kernel_V1_ListServicesRequest.with { $0.pageSize = 4; $0.pageToken = first.nextPageToken },
                                           as: Crm_Kernel_V1_ListServicesResponse.self)
        #expect(second.services.map(\.name) == ["crm.kernel.v1.Plugins", "crm.kernel.v1.Reflection", "crm.kernel.v1.Storage",
                                                "crm.testing.v1.Probe"])
        #expect(second.nextPageToken.isEmpty)
    }
}
