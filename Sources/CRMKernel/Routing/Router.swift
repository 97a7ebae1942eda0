import CRMPluginABI
import CRMRPCContract
import Foundation
import NIOCore

/// A kernel method: runs on the connection's event loop, so it must be quick
/// and never block.
public struct KernelMethod: Sendable {
    public let fullName: String
    public let service: String
    public let requestType: String
    public let responseType: String
    public let serverStreaming: Bool
    /// Unary: the serialized response, or an error. Nil for streaming methods.
    let unary: (@Sendable (ByteBuffer) throws -> [UInt8])?
    /// A unary method that may take long (a backup): run off the event loop,
    /// with the caller's credentials.
    var blocking: (@Sendable (ByteBuffer, PeerCredentials?) throws -> [UInt8])? = nil
}

/// What a method does, from its `(crm.options.v1.method)` option, or from
/// the method definition's flags for a method whose .proto declares none.
public struct MethodSemantics: Sendable, Equatable {
    /// Runs in the write transaction.
    public var writes = false
    /// Its request carries an `idempotency_key`.
    public var idempotent = false
    /// The permission a caller needs ("sales.lead.write"); empty if undeclared.
    public var permission = ""
    /// False when taken from the flags (a .proto without options).
    public var declared = false
    /// A background job run every this many milliseconds; 0 for none.
    public var jobEveryMillis: UInt32 = 0
}

/// A method a plugin registered.
public final class PluginMethod: @unchecked Sendable {
    public let fullName: String
    public let service: String
    public let requestType: String
    public let responseType: String
    public let serverStreaming: Bool
    public let semantics: MethodSemantics
    /// Runs in a write transaction.
    public var writes: Bool { semantics.writes }
    let plugin: PluginRecord
    /// One of the two is set: `pluginHandler` when the plugin gave one.
    let handler: crm_handler_fn?
    let pluginHandler: crm_plugin_handler_fn?
    let methodData: UnsafeMutableRawPointer?
    /// Kept as a C string for `crm_call_context.method`.
    let cFullName: UnsafeMutablePointer<CChar>

    init(plugin: PluginRecord, def: crm_method_def, semantics: MethodSemantics) {
        fullName = String(cString: def.full_name)
        service = Router.serviceName(of: fullName) ?? fullName
        requestType = def.request_type.map { String(cString: $0) } ?? ""
        responseType = def.response_type.map { String(cString: $0) } ?? ""
        serverStreaming = def.kind == CRM_METHOD_SERVER_STREAMING.rawValue
        self.semantics = semantics
        self.plugin = plugin
        pluginHandler = def.plugin_handler
        handler = def.plugin_handler == nil ? def.handler : nil
        methodData = def.method_data
        cFullName = strdup(fullName)!
    }
}

extension PluginMethod {
    /// The pseudo-method event deliveries run as, so they get a call (and
    /// storage) like any handler. Never routed.
    static func eventDelivery(for plugin: PluginRecord) -> PluginMethod {
        var def = crm_method_def()
        def.struct_size = UInt32(MemoryLayout<crm_method_def>.size)
        def.handler = { _, _, _, _ in Int32(CRM_STATUS_INTERNAL.rawValue) }
        return "event:\(plugin.name)".withCString { name in
            def.full_name = name
            return PluginMethod(plugin: plugin, def: def, semantics: MethodSemantics(writes: true))
        }
    }
}

public enum Route: Sendable {
    case kernel(KernelMethod)
    case plugin(PluginMethod)
}

/// Method name -> what serves it. Built during start-up, then only read, so
/// the hot path takes no lock.
public final class Router: @unchecked Sendable {
    private(set) var routes: [String: Route] = [:]

    /// Service -> "kernel" or the plugin that first registered it: a service
    /// belongs to one owner, so no plugin can add methods to another's.
    private var serviceOwners: [String: String] = [:]

    func add(_ route: Route, name: String) {
        routes[name] = route
        let (service, owner): (String, String)
        switch route {
        case .kernel(let m): (service, owner) = (m.service, "kernel")
        case .plugin(let m): (service, owner) = (m.service, m.plugin.name)
        }
        if serviceOwners[service] == nil { serviceOwners[service] = owner }
    }

    /// Who owns `service` ("kernel" or a plugin name), if anyone does yet.
    func owner(ofService service: String) -> String? { serviceOwners[service] }

    public func route(_ method: String) -> Route? { routes[method] }

    /// "crm.kernel.v1.Health" from "/crm.kernel.v1.Health/Check"; nil if malformed.
    static func serviceName(of method: String) -> String? {
        let parts = method.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty,
              parts[1].contains(".") else { return nil }
        return String(parts[1])
    }

    /// Every service with its methods, sorted by name; computed once by `seal()`.
    private(set) var services: [(name: String, plugin: String, methods: [Route])] = []

    /// Ends start-up: the routes are final from here on.
    func seal() { services = groupServices() }

    private func groupServices() -> [(name: String, plugin: String, methods: [Route])] {
        var grouped: [String: (plugin: String, methods: [Route])] = [:]
        for (_, route) in routes {
            let (service, plugin): (String, String)
            switch route {
            case .kernel(let m): (service, plugin) = (m.service, "kernel")
            case .plugin(let m): (service, plugin) = (m.service, m.plugin.name)
            }
            grouped[service, default: (plugin, [])].methods.append(route)
        }
        return grouped.keys.sorted().map { ($0, grouped[$0]!.plugin, grouped[$0]!.methods) }
    }
}

extension Route {
    var fullName: String {
        switch self {
        case .kernel(let m): return m.fullName
        case .plugin(let m): return m.fullName
        }
    }

    var service: String {
        switch self {
        case .kernel(let m): return m.service
        case .plugin(let m): return m.service
        }
    }
}
