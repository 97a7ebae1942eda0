import CRMPluginABI
import Foundation
import SwiftProtobuf

/// Describes a Swift plugin: its manifest and typed handlers. `export`
/// turns it into the C `crm_plugin_def` the host reads.
///
/// A plugin exports its entry point like this:
/// ```swift
/// @_cdecl("crm_plugin_entry")
/// public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
///     MyPlugin.definition.export(hostABI: abi, host: host)
/// }
/// ```
/// Build the definition once; everything it allocates lives until exit,
/// as the plugin itself does (plugins are never unloaded).
public final class PluginDefinition: @unchecked Sendable {
    public let name: String
    public let version: String
    public let summary: String
    /// Serialized FileDescriptorSet of the plugin's services (its contract
    /// target's `<prefix>DescriptorSet`). crmd reads each method's semantics
    /// (writes, idempotent, permission) and the topics the plugin may publish
    /// from the options in it, and serves it through Reflection.
    public var descriptorSet: [UInt8] = []
    /// Runs once the host has loaded the plugin; throw to be kept out.
    public var onInit: ((Host) throws -> Void)?
    /// Runs at shutdown, after the last call.
    public var onShutdown: (() -> Void)?
    /// Receives the events of the topics passed to `subscribes`, in order,
    /// in a write transaction of its own: throw to have the event retried.
    public var onEvent: ((CallContext, Event) throws -> Void)?

    private var methods: [crm_method_def] = []
    private var dependencies: [crm_dependency_def] = []
    private var migrations: [crm_migration_def] = []
    private var subscribes: [UnsafePointer<CChar>?] = []
    private var exported: UnsafePointer<crm_plugin_def>?

    public init(name: String, version: String, summary: String = "") {
        self.name = name
        self.version = version
        self.summary = summary
    }

    public func dependsOn(_ plugin: String, _ versionRange: String) {
        dependencies.append(crm_dependency_def(struct_size: UInt32(MemoryLayout<crm_dependency_def>.size),
                                               name: keep(plugin), version_range: keep(versionRange)))
    }

    public func subscribes(_ pattern: String) { subscribes.append(keep(pattern)) }

    public func migration(_ version: UInt32, _ name: String, _ sql: String) {
        migrations.append(crm_migration_def(struct_size: UInt32(MemoryLayout<crm_migration_def>.size),
                                            version: version, name: keep(name), sql: keep(sql)))
    }

    /// Registers a unary method. `fullName` is "/package.Service/Method"; it
    /// runs in the write transaction when its .proto declares `writes`.
    public func unary<Request: Message, Response: Message>(
        _ fullName: String,
        _ handler: @escaping (CallContext, Request) throws -> Response
    ) {
        add(fullName, kind: CRM_METHOD_UNARY, Request.self, Response.self) { context, request in
            let response = try handler(context, request)
            let bytes: [UInt8] = try response.serializedBytes()
            bytes.withUnsafeBufferPointer { context.host.table.pointee.call_respond!(context.call, $0.baseAddress, $0.count) }
        }
    }

    /// Registers a unary method whose handler returns the response already
    /// serialized as `Response`: a record kept as protobuf bytes goes out
    /// without being decoded and encoded again.
    public func unaryBytes<Request: Message, Response: Message>(
        _ fullName: String, responds: Response.Type,
        _ handler: @escaping (CallContext, Request) throws -> [UInt8]
    ) {
        add(fullName, kind: CRM_METHOD_UNARY, Request.self, Response.self) { context, request in
            let bytes = try handler(context, request)
            bytes.withUnsafeBufferPointer { context.host.table.pointee.call_respond!(context.call, $0.baseAddress, $0.count) }
        }
    }

    /// Registers a server-streaming method; the handler calls `send` once per message.
    public func serverStream<Request: Message, Response: Message>(
        _ fullName: String,
        _ handler: @escaping (CallContext, Request, _ send: (Response) throws -> Void) throws -> Void
    ) {
        add(fullName, kind: CRM_METHOD_SERVER_STREAMING, Request.self, Response.self) { context, request in
            try handler(context, request) { message in
                let bytes: [UInt8] = try message.serializedBytes()
                let status = bytes.withUnsafeBufferPointer {
                    context.host.table.pointee.call_send!(context.call, $0.baseAddress, $0.count)
                }
                if status != 0 {
                    throw PluginError(StatusCode(rawValue: status) ?? .unknown, "stream ended by the host")
                }
            }
        }
    }

    private func add<Request: Message, Response: Message>(
        _ fullName: String, kind: crm_method_kind, _: Request.Type, _: Response.Type,
        _ body: @escaping (CallContext, Request) throws -> Void
    ) {
        let box = MethodBox { call, requestBytes in
            guard let host = KitState.host else { return StatusCode.unavailable.rawValue }
            let context = CallContext(call: call, host: host)
            let request: Request
            do {
                let data = requestBytes.baseAddress.map {
                    Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0), count: requestBytes.count, deallocator: .none)
                } ?? Data()
                request = try Request(serializedBytes: data)
            } catch {
                return context.fail(.invalidArgument, "request does not decode as \(Request.protoMessageName)")
            }
            do {
                try body(context, request)
                return StatusCode.ok.rawValue
            } catch let error as PluginError {
                return context.fail(error.status, error.message)
            } catch {
                host.log(.error, "\(fullName) failed: \(error)")
                return context.fail(.internal, "internal error")
            }
        }
        methods.append(crm_method_def(
            struct_size: UInt32(MemoryLayout<crm_method_def>.size), full_name: keep(fullName),
            kind: kind.rawValue, handler: methodTrampoline,
            method_data: Unmanaged.passRetained(box).toOpaque(),
            request_type: keep(Request.protoMessageName), response_type: keep(Response.protoMessageName),
            flags: 0, plugin_handler: nil))
    }

    /// The C definition for the host; nil if the host speaks another ABI.
    public func export(hostABI: UInt32, host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
        guard hostABI == CRM_PLUGIN_ABI_VERSION, host != nil else { return nil }
        if let exported { return exported }
        KitState.definition = self
        let descriptor = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(descriptorSet.count, 1))
        _ = descriptor.initialize(from: descriptorSet)
        let def = UnsafeMutablePointer<crm_plugin_def>.allocate(capacity: 1)
        def.initialize(to: crm_plugin_def(
            struct_size: UInt32(MemoryLayout<crm_plugin_def>.size), abi_version: CRM_PLUGIN_ABI_VERSION,
            name: keep(name), version: keep(version), description: keep(summary),
            dependencies: forever(dependencies), dependency_count: dependencies.count,
            methods: forever(methods), method_count: methods.count,
            publishes: nil, publish_count: 0,
            subscribes: forever(subscribes), subscribe_count: subscribes.count,
            migrations: forever(migrations), migration_count: migrations.count,
            descriptor_set: UnsafePointer(descriptor.baseAddress), descriptor_set_len: descriptorSet.count,
            init: pluginInit, shutdown: pluginShutdown, on_event: eventTrampoline))
        exported = UnsafePointer(def)
        return exported
    }

    private func keep(_ string: String) -> UnsafePointer<CChar> { UnsafePointer(strdup(string)!) }

    private func forever<T>(_ values: [T]) -> UnsafePointer<T>? {
        guard !values.isEmpty else { return nil }
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: values.count)
        _ = buffer.initialize(from: values)
        return UnsafePointer(buffer.baseAddress)
    }
}

extension CallContext {
    fileprivate func fail(_ status: StatusCode, _ message: String) -> Int32 {
        host.table.pointee.call_set_message!(call, message)
        return status.rawValue
    }
}

/// This image's one plugin and its host (each plugin image has its own copy).
enum KitState {
    nonisolated(unsafe) static var definition: PluginDefinition?
    nonisolated(unsafe) static var host: Host?
    nonisolated(unsafe) static var storage: UnsafePointer<crm_storage_api>?
    nonisolated(unsafe) static var bus: UnsafePointer<crm_bus_api>?
    nonisolated(unsafe) static var access: UnsafePointer<crm_access_api>?
}

final class MethodBox {
    let run: (OpaquePointer, UnsafeRawBufferPointer) -> Int32
    init(_ run: @escaping (OpaquePointer, UnsafeRawBufferPointer) -> Int32) { self.run = run }
}

private let methodTrampoline: crm_handler_fn = { data, call, request, length in
    guard let data, let call else { return StatusCode.internal.rawValue }
    let box = Unmanaged<MethodBox>.fromOpaque(data).takeUnretainedValue()
    return box.run(call, UnsafeRawBufferPointer(start: request, count: request == nil ? 0 : length))
}

private let pluginInit: crm_init_fn = { plugin, table, errorMessage in
    guard let plugin, let table, let definition = KitState.definition else { return StatusCode.internal.rawValue }
    let host = Host(table: table, plugin: plugin)
    KitState.host = host
    KitState.storage = table.pointee.get_feature?(plugin, CRM_FEATURE_STORAGE_V1)?.assumingMemoryBound(to: crm_storage_api.self)
    KitState.bus = table.pointee.get_feature?(plugin, CRM_FEATURE_BUS_V1)?.assumingMemoryBound(to: crm_bus_api.self)
    KitState.access = table.pointee.get_feature?(plugin, CRM_FEATURE_ACCESS_V1)?.assumingMemoryBound(to: crm_access_api.self)
    do {
        try definition.onInit?(host)
        return StatusCode.ok.rawValue
    } catch {
        let status = (error as? PluginError)?.status ?? .internal
        // Kept until exit: the host reads it after init returns.
        errorMessage?.pointee = UnsafePointer(strdup("\(error)"))
        return status.rawValue
    }
}

private let pluginShutdown: crm_shutdown_fn = { _ in
    KitState.definition?.onShutdown?()
}
