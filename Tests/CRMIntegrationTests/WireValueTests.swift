import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Request values at the edges of their types get a status, never a trap:
/// a trap in a plugin (or the kernel) is a crash of crmd.
@Suite struct WireValueTests {
    @Test func subscribePastTheNewestEventReplaysNothing() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        for i in 0..<3 { _ = try await put(client, key: "e\(i)", publish: true) }
        #expect(try await replay(client).map(\.sequence) == [1, 2, 3])
        // 2^63 and 2^64-2 once wrapped to negative sequences and replayed everything;
        // 2^64-1 trapped on `after + 1`.
        for after: UInt64 in [3, 4, 1 << 63, UInt64.max - 1, UInt64.max] {
            #expect(try await replay(client, after: after).isEmpty, "after_sequence \(after)")
        }
        #expect(crmd.isRunning)
    }

    @Test func outOfRangeIntegersInThePluginKitAreInvalidArgument() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        let big = UInt32(1) << 31
        await expectRPCError(.invalidArgument, mentioning: "fail_with") { _ = try await put(client, key: "big", failWith: big) }
        await expectRPCError(.invalidArgument, mentioning: "code") {
            let _: Crm_Testing_V1_FailResponse = try await client.call(
                probeService + "Fail", Crm_Testing_V1_FailRequest.with { $0.code = UInt32.max })
        }
        await expectRPCError(.invalidArgument, mentioning: "interval_millis") {
            let request = Crm_Testing_V1_CountRequest.with { $0.count = 2; $0.intervalMillis = 4_294_968 }
            for try await _ in try client.stream(probeService + "Count", request, as: Crm_Testing_V1_CountResponse.self) {}
        }
        await expectRPCError(.invalidArgument, mentioning: "after_sequence") {
            let _: Crm_Testing_V1_SeenResponse = try await client.call(
                probeService + "Seen", Crm_Testing_V1_SeenRequest.with { $0.afterSequence = UInt64.max })
        }
        // Nothing was stored by the refused Put, and crmd still serves.
        let got: Crm_Testing_V1_GetResponse = try await client.call(
            probeService + "Get", Crm_Testing_V1_GetRequest.with { $0.key = "big" })
        #expect(!got.found)
        #expect(crmd.isRunning)
    }

}
