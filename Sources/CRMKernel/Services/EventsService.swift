import CRMKernelContract

/// crm.kernel.v1.Events: Subscribe is a stream of the outbox's events,
/// served by the connection handler (see EventStream).
struct EventsService: KernelService {
    static let name = "crm.kernel.v1.Events"

    var methods: [KernelMethod] {
        [KernelMethod(
            fullName: EventStream.methodName, service: Self.name,
            requestType: Crm_Kernel_V1_SubscribeRequest.protoMessageName,
            responseType: Crm_Kernel_V1_Event.protoMessageName,
            serverStreaming: true, unary: nil)]
    }
}
