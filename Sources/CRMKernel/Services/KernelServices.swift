import CRMKernelContract
import CRMWire
import Foundation
import NIOCore
import SwiftProtobuf

/// The kernel's own services: Health, Reflection and Plugins. They answer
/// from state that is fixed after start-up, so they run on the event loop.
enum KernelServices {
    static func register(router: Router, plugins: PluginHost, health: HealthState, storage: Storage?,
                         limits: KernelConfig.Limits) {
        let kernelDescriptors = Data(kernelDescriptorSet)

        func unary<Req: Message, Resp: Message>(
            _ service: String, _ method: String, _ req: Req.Type, _ resp: Resp.Type,
            _ body: @escaping @Sendable (Req) throws -> Resp
        ) {
            let fullName = "/\(service)/\(method)"
            router.add(.kernel(KernelMethod(
                fullName: fullName, service: service,
                requestType: Req.protoMessageName, responseType: Resp.protoMessageName, serverStreaming: false,
                unary: { payload in
                    let request: Req
                    do { request = try Req(buffer: payload) } catch {
                        throw RPCError(.invalidArgument, "request does not decode as \(Req.protoMessageName)")
                    }
                    return try body(request).serializedBytes()
                })), name: fullName)
        }

        let healthService = "crm.kernel.v1.Health"
        router.add(.kernel(KernelMethod(
            fullName: "/\(healthService)/Check", service: healthService,
            requestType: Crm_Kernel_V1_HealthCheckRequest.protoMessageName,
            responseType: Crm_Kernel_V1_HealthCheckResponse.protoMessageName, serverStreaming: false,
            unary: { payload in
                // An empty request asks about the whole server: answer from the cache.
                if payload.readableBytes == 0 { return health.wholeServerAnswer }
                let request: Crm_Kernel_V1_HealthCheckRequest
                do { request = try Crm_Kernel_V1_HealthCheckRequest(buffer: payload) } catch {
                    throw RPCError(.invalidArgument, "request does not decode as crm.kernel.v1.HealthCheckRequest")
                }
                return try healthResponse(router: router, health: health, serving: health.isServing,
                                          service: request.service).serializedBytes()
            })), name: "/\(healthService)/Check")
        router.add(.kernel(KernelMethod(
            fullName: "/\(healthService)/Watch", service: healthService,
            requestType: Crm_Kernel_V1_HealthCheckRequest.protoMessageName,
            responseType: Crm_Kernel_V1_HealthCheckResponse.protoMessageName,
            serverStreaming: true, unary: nil)), name: "/\(healthService)/Watch")

        let events = "crm.kernel.v1.Events"
        router.add(.kernel(KernelMethod(
            fullName: EventStream.methodName, service: events,
            requestType: Crm_Kernel_V1_SubscribeRequest.protoMessageName,
            responseType: Crm_Kernel_V1_Event.protoMessageName,
            serverStreaming: true, unary: nil)), name: EventStream.methodName)

        if let storage {
            var backup = KernelMethod(
                fullName: "/crm.kernel.v1.Storage/Backup", service: "crm.kernel.v1.Storage",
                requestType: Crm_Kernel_V1_BackupRequest.protoMessageName,
                responseType: Crm_Kernel_V1_BackupResponse.protoMessageName, serverStreaming: false, unary: nil)
            backup.blocking = { payload, caller in
                let request: Crm_Kernel_V1_BackupRequest
                do { request = try Crm_Kernel_V1_BackupRequest(buffer: payload) } catch {
                    throw RPCError(.invalidArgument, "request does not decode as crm.kernel.v1.BackupRequest")
                }
                return try Backup.run(storage: storage, request: request, caller: caller).serializedBytes()
            }
            router.add(.kernel(backup), name: backup.fullName)
        }

        let reflection = "crm.kernel.v1.Reflection"
        unary(reflection, "ListServices", Crm_Kernel_V1_ListServicesRequest.self, Crm_Kernel_V1_ListServicesResponse.self) { req in
            let all = router.services.map { service in
                Crm_Kernel_V1_ServiceInfo.with {
                    $0.name = service.name
                    $0.plugin = service.plugin
                    $0.methods = service.methods.map(methodInfo).sorted { $0.fullName < $1.fullName }
                }
            }
            let (page, next) = try PageToken.page(all, list: "services", size: req.pageSize, token: req.pageToken)
            return .with { $0.services = page; $0.nextPageToken = next }
        }
        unary(reflection, "GetFileDescriptorSet", Crm_Kernel_V1_GetFileDescriptorSetRequest.self,
              Crm_Kernel_V1_GetFileDescriptorSetResponse.self) { req in
            guard let service = router.services.first(where: { $0.name == req.service }) else {
                throw RPCError(.notFound, "service \(req.service) is not served here")
            }
            let descriptors: Data
            if service.plugin == "kernel" {
                descriptors = kernelDescriptors
            } else {
                descriptors = plugins.plugins.first { $0.name == service.plugin }?.descriptorSet ?? Data()
            }
            guard !descriptors.isEmpty else {
                throw RPCError(.notFound, "plugin \(service.plugin) shipped no descriptors for \(req.service)")
            }
            return .with { $0.service = service.name; $0.plugin = service.plugin; $0.fileDescriptorSet = descriptors }
        }

        let serverInfo = Crm_Kernel_V1_GetServerInfoResponse.with {
            $0.protocolVersion = UInt32(Preface.version)
            $0.maxMessageBytes = UInt64(max(0, limits.maxMessageBytes))
            $0.maxHeaderBytes = UInt32(FrameParser.defaultMaxHeaderBytes)
            $0.maxInFlightPerConnection = UInt32(clamping: limits.maxInFlightPerConnection)
            $0.readTimeoutMs = UInt64(max(0, limits.readTimeoutMillis))
            $0.idleTimeoutMs = UInt64(max(0, limits.idleTimeoutMillis))
            $0.shutdownGraceMs = UInt64(max(0, limits.shutdownGraceMillis))
            $0.maxEventSubscriptions = UInt32(EventStream.maxActive)
        }
        unary(reflection, "GetServerInfo", Crm_Kernel_V1_GetServerInfoRequest.self,
              Crm_Kernel_V1_GetServerInfoResponse.self) { _ in serverInfo }

        unary("crm.kernel.v1.Plugins", "List", Crm_Kernel_V1_ListPluginsRequest.self, Crm_Kernel_V1_ListPluginsResponse.self) { req in
            let all = plugins.plugins.map(pluginInfo)
            let (page, next) = try PageToken.page(all, list: "plugins", size: req.pageSize, token: req.pageToken)
            return .with { $0.plugins = page; $0.nextPageToken = next }
        }
    }

    /// Fills the whole-server answer cache; call after the router is sealed.
    static func prepareHealth(router: Router, health: HealthState) {
        health.prepareAnswers { serving in
            (try? healthResponse(router: router, health: health, serving: serving, service: "").serializedBytes()) ?? []
        }
    }

    static func healthResponse(router: Router, health: HealthState, serving: Bool, service: String) throws -> Crm_Kernel_V1_HealthCheckResponse {
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

    private static func pluginInfo(_ record: PluginRecord) -> Crm_Kernel_V1_PluginInfo {
        .with {
            $0.name = record.name
            $0.version = record.version
            $0.state = record.state
            $0.reason = record.reason
            $0.path = record.libraryPath
            $0.abiVersion = record.abiVersion
            $0.description_p = record.summary
            $0.dependencies = record.dependencies.map { dep in .with { $0.name = dep.name; $0.versionRange = dep.range } }
            $0.services = record.services
            $0.loadOrder = UInt32(record.loadOrder)
            $0.subscribes = record.subscriptions.map(\.text)
            if let status = record.subscriber?.status {
                $0.eventPosition = status.position
                $0.eventLag = status.lag
                $0.eventError = status.error
            }
        }
    }
}
