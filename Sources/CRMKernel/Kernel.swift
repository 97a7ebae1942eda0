import Foundation
import Logging
import NIOCore

/// The daemon: plugins, then the RPC server; stopped in reverse.
///
/// `start()` and `stop()` are called from the main thread.
public final class Kernel: @unchecked Sendable {
    public let config: KernelConfig
    public let router = Router()
    public let plugins: PluginHost
    private let health = HealthState()
    private let dispatcher: PluginDispatcher
    private var server: RPCServer?
    private var database: KernelDatabase?
    private var dataDirectoryLock: DataDirectoryLock?
    private var storage: Storage?
    private var retention: EventRetention?
    private var auditRetention: AuditRetention?
    private let logger = Logger(label: "crm.kernel")

    public init(config: KernelConfig) {
        self.config = config
        plugins = PluginHost(router: router)
        dispatcher = PluginDispatcher(threads: config.workerThreads)
    }

    public func start() throws {
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        // Both checks come before the database is touched: a second crmd must
        // not migrate or initialise plugins against a live server's data.
        try SocketFile.prepare(config.socketPath)
        dataDirectoryLock = try DataDirectoryLock(directory: config.dataDirectory)
        let database = try KernelDatabase(dataDirectory: config.dataDirectory, synchronousFull: config.synchronousFull,
                                          fullCheck: config.checkDatabaseAtStart)
        self.database = database
        let storage = try Storage(database: database, readers: config.readerConnections,
                                  limits: StorageLimits(sqlTimeoutMillis: config.limits.sqlTimeoutMillis,
                                                        maxMessageBytes: config.limits.maxMessageBytes))
        self.storage = storage
        HostAPI.storage = storage
        let (accessModel, accessKeys) = try AccessStore.open(database)
        let access = AccessControl(model: accessModel, keys: accessKeys, storage: storage,
                                   trustedProxies: config.trustedProxyUIDs)
        plugins.useDatabase(database)
        KernelServices.register(router: router, plugins: plugins, health: health, storage: storage,
                                access: access, limits: config.limits)
        plugins.loadAll(config: config)
        plugins.startSubscribers(storage: storage)
        let retention = EventRetention(
            storage: storage,
            policy: .init(maxAgeMicros: Int64(config.eventRetentionDays) * 86_400_000_000,
                          maxCount: UInt64(config.eventRetentionCount)),
            subscriberPositions: { [plugins] in plugins.subscriberPositions() })
        retention.start(every: 60)
        self.retention = retention
        let auditRetention = AuditRetention(storage: storage, retentionDays: config.auditRetentionDays)
        auditRetention.start(every: 60)
        self.auditRetention = auditRetention
        router.seal()
        HealthService.prepareAnswers(router: router, health: health)
        let shared = ServerShared(config: config, router: router, dispatcher: dispatcher, health: health, storage: storage,
                                  access: access, eventReadPermissions: plugins.eventReadPermissions)
        let server = RPCServer(shared: shared)
        try server.start()
        self.server = server
        plugins.startJobs()
        let loaded = plugins.plugins.filter(\.isLoaded).map(\.name)
        logger.info("serving", metadata: ["plugins": "\(loaded.joined(separator: ","))",
                                          "socket": "\(config.socketPath)"])
    }

    /// Graceful shutdown: stop accepting, finish calls in flight within the
    /// grace period, wait for plugin handlers, then plugin shutdown hooks in
    /// reverse load order. Plugins are never unloaded.
    public func stop() {
        logger.info("shutting down")
        // Jobs are told first so none starts a run while the server drains;
        // a run in progress finishes (its in-process writes still go through).
        plugins.stopJobs()
        server?.shutdown(grace: .milliseconds(config.limits.shutdownGraceMillis))
        let waitUntil = Date().addingTimeInterval(5)
        while dispatcher.activeHandlers > 0 && Date() < waitUntil { usleep(5_000) }
        if dispatcher.activeHandlers > 0 {
            logger.warning("plugin handlers still running at exit", metadata: ["handlers": "\(dispatcher.activeHandlers)"])
        } else {
            dispatcher.shutdown()
            retention?.stop()
            auditRetention?.stop()
            plugins.stopSubscribers()
            plugins.shutdownAll()
            storage?.close()
            if storage != nil { KernelDatabase.markCleanStop(dataDirectory: config.dataDirectory) }
        }
        logger.info("stopped")
    }
}
