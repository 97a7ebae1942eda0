import CRMClient
import CRMProto
import CRMWire
import Foundation
import Testing

/// Asserts that `body` fails with `code` and a message containing `mentioning`.
public func expectRPCError(_ code: Crm_Rpc_V1_StatusCode, mentioning: String, sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () async throws -> some Any) async {
    do {
        _ = try await body()
        Issue.record("expected \(code.name), the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(mentioning), "\(error.message) should mention \(mentioning)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// Polls `body` until it returns true or `timeout` passes; returns the last answer.
public func eventually(timeout: Double = 20, _ body: () async throws -> Bool) async throws -> Bool {
    let until = Date().addingTimeInterval(timeout)
    while true {
        if try await body() { return true }
        if Date() > until { return false }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public func nowMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

/// Every plugin crmd loaded, from the kernel's Plugins service.
public func allPlugins(_ client: Connection) async throws -> [Crm_Kernel_V1_PluginInfo] {
    try await client.call("/crm.kernel.v1.Plugins/List", Crm_Kernel_V1_ListPluginsRequest(),
                          as: Crm_Kernel_V1_ListPluginsResponse.self).plugins
}
