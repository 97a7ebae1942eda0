import CRMKernelContract

/// crm.kernel.v1.Storage: Backup copies the database while crmd serves. It
/// may take long, so it runs off the event loop with the caller's credentials.
struct StorageService: KernelService {
    static let name = "crm.kernel.v1.Storage"
    let storage: Storage

    var methods: [KernelMethod] {
        var backup = KernelMethod(
            fullName: "/\(Self.name)/Backup", service: Self.name,
            requestType: Crm_Kernel_V1_BackupRequest.protoMessageName,
            responseType: Crm_Kernel_V1_BackupResponse.protoMessageName, serverStreaming: false, unary: nil)
        backup.blocking = { [storage] payload, caller in
            let request = try decodeRequest(Crm_Kernel_V1_BackupRequest.self, payload)
            return try Backup.run(storage: storage, request: request, caller: caller).serializedBytes()
        }
        return [backup]
    }
}
