import CRMKernelContract
import CRMWire
import Foundation

/// crm.kernel.v1.Reflection: the services served here, their methods and
/// descriptors, and the server's limits.
struct ReflectionService: KernelService {
    static let name = "crm.kernel.v1.Reflection"
    let router: Router
    let plugins: PluginHost
    let limits: KernelConfig.Limits
    private static let kernelDescriptors = Data(kernelDescriptorSet)

    var methods: [KernelMethod] {
        [
            .unary(Self.name, "ListServices", Crm_Kernel_V1_ListServicesRequest.self,
                   Crm_Kernel_V1_ListServicesResponse.self) { [router] req in
                let all = router.services.map { service in
                    Crm_Kernel_V1_ServiceInfo.with {
                        $0.name = service.name
                        $0.plugin = service.plugin
                        $0.methods = service.methods.map(Self.methodInfo).sorted { $0.fullName < $1.fullName }
                    }
                }
                let (page, next) = try PageToken.page(all, list: "services", size: req.pageSize, token: req.pageToken)
                return .with { $0.services = page; $0.nextPageToken = next }
            },
            .unary(Self.name, "GetFileDescriptorSet", Crm_Kernel_V1_GetFileDescriptorSetRequest.self,
                   Crm_Kernel_V1_GetFileDescriptorSetResponse.self) { [router, plugins] req in
                try Self.fileDescriptorSet(of: req.service, router: router, plugins: plugins)
            },
            .unary(Self.name, "GetServerInfo", Crm_Kernel_V1_GetServerInfoRequest.self,
                   Crm_Kernel_V1_GetServerInfoResponse.self) { [serverInfo] _ in serverInfo },
        ]
    }

    /// What ListServices says about one method.
    private static func methodInfo(_ route: Route) -> Crm_Kernel_V1_MethodInfo {
        .with {
            $0.fullName = route.fullName
            $0.name = String(route.fullName.split(separator: "/").last ?? "")
            switch route {
            case .kernel(let m):
                $0.requestType = m.requestType
                $0.responseType = m.responseType
                $0.serverStreaming = m.serverStreaming
            case .plugin(let m):
                $0.requestType = m.requestType
                $0.responseType = m.responseType
                $0.serverStreaming = m.serverStreaming
            }
            let semantics = route.semantics
            $0.writes = semantics.writes
            $0.idempotent = semantics.idempotent
            $0.permission = semantics.permission
            $0.declared = semantics.declared
        }
    }

    private static func fileDescriptorSet(of name: String, router: Router, plugins: PluginHost) throws
        -> Crm_Kernel_V1_GetFileDescriptorSetResponse {
        guard let service = router.services.first(where: { $0.name == name }) else {
            throw RPCError(.notFound, "service \(name) is not served here")
        }
        let descriptors: Data
        if service.plugin == "kernel" {
            descriptors = kernelDescriptors
        } else {
            descriptors = plugins.plugins.first { $0.name == service.plugin }?.descriptorSet ?? Data()
        }
        guard !descriptors.isEmpty else {
            throw RPCError(.notFound, "plugin \(service.plugin) shipped no descriptors for \(name)")
        }
        return .with { $0.service = service.name; $0.plugin = service.plugin; $0.fileDescriptorSet = descriptors }
    }

    private var serverInfo: Crm_Kernel_V1_GetServerInfoResponse {
        .with {
            $0.protocolVersion = UInt32(Preface.version)
            $0.maxMessageBytes = UInt64(max(0, limits.maxMessageBytes))
            $0.maxHeaderBytes = UInt32(FrameParser.defaultMaxHeaderBytes)
            $0.maxInFlightPerConnection = UInt32(clamping: limits.maxInFlightPerConnection)
            $0.readTimeoutMs = UInt64(max(0, limits.readTimeoutMillis))
            $0.idleTimeoutMs = UInt64(max(0, limits.idleTimeoutMillis))
            $0.shutdownGraceMs = UInt64(max(0, limits.shutdownGraceMillis))
            $0.maxEventSubscriptions = UInt32(EventStream.maxActive)
        }
    }
}
