import CRMKernelContract
import NIOCore
import SwiftProtobuf

/// crm.kernel.v1.Health: whether the server, or one service, is serving.
/// Watch is a stream the connection handler serves.
struct HealthService: KernelService {
    static let name = "crm.kernel.v1.Health"
    let router: Router
    let health: HealthState

    var methods: [KernelMethod] {
        [
            KernelMethod(
                fullName: "/\(Self.name)/Check", service: Self.name,
                requestType: Crm_Kernel_V1_HealthCheckRequest.protoMessageName,
                responseType: Crm_Kernel_V1_HealthCheckResponse.protoMessageName, serverStreaming: false,
                unary: { [router, health] payload in
                    // An empty request asks about the whole server: answer from the cache.
                    if payload.readableBytes == 0 { return health.wholeServerAnswer }
                    let request = try decodeRequest(Crm_Kernel_V1_HealthCheckRequest.self, payload)
                    return try Self.response(router: router, serving: health.isServing,
                                             service: request.service).serializedBytes()
                }),
            KernelMethod(
                fullName: "/\(Self.name)/Watch", service: Self.name,
                requestType: Crm_Kernel_V1_HealthCheckRequest.protoMessageName,
                responseType: Crm_Kernel_V1_HealthCheckResponse.protoMessageName,
                serverStreaming: true, unary: nil),
        ]
    }

    /// Fills the whole-server answer cache; call after the router is sealed.
    static func prepareAnswers(router: Router, health: HealthState) {
        health.prepareAnswers { serving in
            (try? response(router: router, serving: serving, service: "").serializedBytes()) ?? []
        }
    }

    /// The answer about `service`, or about every service when it is empty.
    static func response(router: Router, serving: Bool, service: String) -> Crm_Kernel_V1_HealthCheckResponse {
        let status: Crm_Kernel_V1_ServingStatus = serving ? .serving : .notServing
        let services = router.services
        if !service.isEmpty && !services.contains(where: { $0.name == service }) {
            return .with { $0.status = .serviceUnknown }
        }
        return .with {
            $0.status = status
            $0.services = services.filter { service.isEmpty || $0.name == service }.map { entry in
                .with { $0.service = entry.name; $0.status = status; $0.plugin = entry.plugin }
            }
        }
    }
}
