import CRMKernelContract
import CRMWire

/// crm.kernel.v1.Audit: List reads the audit trail (see audit.proto). It
/// queries SQLite, so it runs off the event loop on a reader snapshot.
struct AuditService: KernelService {
    static let name = "crm.kernel.v1.Audit"
    let storage: Storage?
    let limits: KernelConfig.Limits

    var methods: [KernelMethod] {
        var list = KernelMethod(
            fullName: "/\(Self.name)/List", service: Self.name,
            requestType: Crm_Kernel_V1_ListAuditRequest.protoMessageName,
            responseType: Crm_Kernel_V1_ListAuditResponse.protoMessageName, serverStreaming: false, unary: nil)
        // Half the frame limit: the page and its framing always fit.
        let budget = max(1024, limits.maxMessageBytes / 2)
        list.blocking = { [storage] payload, _ in
            let request = try decodeRequest(Crm_Kernel_V1_ListAuditRequest.self, payload)
            guard let storage else { throw RPCError(.unavailable, "this crmd runs without storage: it keeps no audit trail") }
            return try AuditQuery(request: request, byteBudget: budget).run(on: storage).serializedBytes()
        }
        return [list]
    }
}
