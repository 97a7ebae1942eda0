import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every connection of one server shares. Immutable after start-up,
/// except the connection registry, which locks.
final class ServerShared: Sendable {
    let config: KernelConfig
    let router: Router
    let dispatcher: PluginDispatcher
    let health: HealthState
    let storage: Storage?
    let access: AccessControl
    /// Topic -> the permission a subscriber needs (plugins' read_permission).
    let eventReadPermissions: [String: String]
    let connections = ConnectionRegistry()
    let logger = Logger(label: "crm.kernel.rpc")

    init(config: KernelConfig, router: Router, dispatcher: PluginDispatcher, health: HealthState, storage: Storage?,
         access: AccessControl, eventReadPermissions: [String: String] = [:]) {
        self.config = config
        self.eventReadPermissions = eventReadPermissions
        self.access = access
        self.storage = storage
        self.router = router
        self.dispatcher = dispatcher
        self.health = health
    }
}

/// The open connections, so shutdown can reach each one on its own loop.
final class ConnectionRegistry: Sendable {
    private let handlers = NIOLockedValueBox<[ObjectIdentifier: (handler: UnsafeTransfer<ConnectionHandler>, loop: EventLoop)]>([:])

    func add(_ handler: ConnectionHandler, on loop: EventLoop) {
        handlers.withLockedValue { $0[ObjectIdentifier(handler)] = (UnsafeTransfer(handler), loop) }
    }

    func remove(_ handler: ConnectionHandler) {
        _ = handlers.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(handler)) }
        MemoryTrimmer.connectionClosed()
    }

    var count: Int { handlers.withLockedValue { $0.count } }

    /// Runs `body` on each connection's event loop.
    func forEach(_ body: @escaping @Sendable (ConnectionHandler) -> Void) {
        let all = handlers.withLockedValue { Array($0.values) }
        for entry in all {
            let box = entry.handler
            entry.loop.execute { body(box.value) }
        }
    }
}
