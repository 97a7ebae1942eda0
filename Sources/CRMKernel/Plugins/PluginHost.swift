import CRMKernelCore
import CRMPluginABI
import Foundation
import Logging

/// Loads the planned plugins with dlopen, checks what each declares, runs
/// their init hooks in dependency order and their shutdown hooks in reverse.
/// Plugins are never dlclosed: images with Swift code cannot be unloaded.
///
/// Used from the main thread only.
public final class PluginHost: @unchecked Sendable {
    /// Far above any real contract's (contacts' is about 30 KiB): a garbage length.
    static let maximumDescriptorSetBytes = 64 << 20
    public private(set) var plugins: [PluginRecord] = []
    private var loaded: [PluginRecord] = []
    let router: Router
    private var migrator: Migrator?
    private let logger = Logger(label: "crm.kernel.plugins")

    public init(router: Router) {
        self.router = router
        HostAPI.router = router
    }

    /// Plugins' migrations run against `database` as they load.
    func useDatabase(_ database: KernelDatabase) { migrator = Migrator(database: database) }

    public func loadAll(config: KernelConfig) {
        let planner = PluginPlanner(directory: config.pluginDirectory, enabled: config.enabledPlugins,
                                    settings: config.pluginSettings)
        let (all, order) = planner.plan()
        plugins = all
        for record in order {
            let missing = record.dependencies.filter { dep in !loaded.contains { $0.name == dep.name } }
            if let dep = missing.first {
                record.fail("depends on \(dep.name), which failed to load")
                continue
            }
            do {
                try load(record)
                loaded.append(record)
                record.state = .loaded
                record.loadOrder = loaded.count
                logger.info("plugin loaded", metadata: [
                    "plugin": "\(record.name)", "version": "\(record.version)",
                    "services": "\(record.services.joined(separator: ","))",
                ])
            } catch {
                record.fail("\(error)")
            }
        }
    }

    /// Calls each loaded plugin's shutdown hook, last loaded first.
    public func shutdownAll() {
        for record in loaded.reversed() {
            guard let shutdown = record.definition?.shutdown else { continue }
            logger.info("plugin shutting down", metadata: ["plugin": "\(record.name)"])
            shutdown(record.handle)
        }
    }

    private func load(_ record: PluginRecord) throws {
        guard let image = dlopen(record.libraryPath, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginLoadError("cannot load \(record.libraryPath): \(String(cString: dlerror()))")
        }
        guard let symbol = dlsym(image, CRM_PLUGIN_ENTRY_SYMBOL) else {
            throw PluginLoadError("\(record.libraryPath) does not export \(CRM_PLUGIN_ENTRY_SYMBOL)")
        }
        let entry = unsafeBitCast(symbol, to: crm_plugin_entry_fn.self)
        guard let defPointer = entry(CRM_PLUGIN_ABI_VERSION, HostAPI.table) else {
            throw PluginLoadError("the plugin's entry point refused to load (returned NULL)")
        }
        // Read no further than the plugin stamped: fields after `shutdown`
        // came later in ABI 1 and stay zero for plugins built before them.
        let size = Int(UnsafeRawPointer(defPointer).load(as: UInt32.self))
        let minimum = MemoryLayout<crm_plugin_def>.offset(of: \crm_plugin_def.on_event)!
        guard size >= minimum else {
            throw PluginLoadError("plugin definition is \(size) bytes; ABI \(CRM_PLUGIN_ABI_VERSION) needs at least \(minimum)")
        }
        var def = crm_plugin_def()
        withUnsafeMutableBytes(of: &def) { out in
            out.copyMemory(from: UnsafeRawBufferPointer(start: defPointer, count: min(size, out.count)))
        }
        guard def.abi_version == CRM_PLUGIN_ABI_VERSION else {
            throw PluginLoadError("binary built for plugin ABI \(def.abi_version); this crmd speaks ABI \(CRM_PLUGIN_ABI_VERSION)")
        }
        let name = def.name.map { String(cString: $0) } ?? ""
        let version = def.version.map { String(cString: $0) } ?? ""
        guard name == record.name else {
            throw PluginLoadError("binary calls itself \"\(name)\" but its manifest says \"\(record.name)\"")
        }
        guard version == record.version else {
            throw PluginLoadError("binary is version \(version) but its manifest says \(record.version)")
        }
        try checkBinaryDependencies(def, record)
        let entries = try readMethods(def, record)
        guard def.descriptor_set_len <= PluginHost.maximumDescriptorSetBytes else {
            throw PluginLoadError("descriptor set of \(UInt(bitPattern: def.descriptor_set_len)) bytes is over \(PluginHost.maximumDescriptorSetBytes)")
        }
        if let descriptor = def.descriptor_set, def.descriptor_set_len > 0 {
            record.descriptorSet = Data(bytes: descriptor, count: def.descriptor_set_len)
        }
        let methods = try checkContract(entries, def, record)
        record.subscriptions = try readSubscriptions(def)
        let migrations = try Migrator.declared(in: def)
        if !migrations.isEmpty {
            guard let migrator else { throw PluginLoadError("plugin has migrations but crmd has no database") }
            let applied = try migrator.apply(migrations, for: record.name)
            if applied > 0 { logger.info("migrations applied", metadata: ["plugin": "\(record.name)", "count": "\(applied)"]) }
        }
        record.definition = def
        if let initialize = def.`init` {
            var message: UnsafePointer<CChar>? = nil
            let status = initialize(record.handle, HostAPI.table, &message)
            if status != 0 {
                let text = message.map { String(cString: $0) } ?? "no reason given"
                throw PluginLoadError("init failed with \(String(cString: crm_status_name(status))): \(text)")
            }
        }
        for method in methods { router.add(.plugin(method), name: method.fullName) }
        record.jobMethods = methods.filter { $0.semantics.jobEveryMillis > 0 }
        record.services = Array(Set(methods.map(\.service))).sorted()
    }

    private func readSubscriptions(_ def: crm_plugin_def) throws -> [TopicPattern] {
        guard def.subscribe_count > 0, def.subscribes != nil else { return [] }
        let texts = try ABIArray.strings(def.subscribes, count: def.subscribe_count, what: "subscribes")
        guard def.on_event != nil else { throw PluginLoadError("plugin subscribes to topics but has no on_event handler") }
        return try texts.map { entry in
            let text = entry ?? ""
            guard let pattern = TopicPattern(text) else {
                throw PluginLoadError("subscription \"\(text)\" is not a topic pattern (segments, \"*\", a final \">\")")
            }
            return pattern
        }
    }

    /// Starts event delivery for every loaded plugin that subscribes.
    func startSubscribers(storage: Storage) {
        for record in loaded where !record.subscriptions.isEmpty {
            guard let handler = record.definition?.on_event else { continue }
            do {
                let subscriber = try BusSubscriber(record: record, patterns: record.subscriptions, handler: handler, storage: storage)
                record.subscriber = subscriber
                subscriber.start()
            } catch {
                logger.error("cannot start event delivery", metadata: ["plugin": "\(record.name)", "error": "\(error)"])
            }
        }
    }

    /// Starts every loaded plugin's background jobs, once the socket serves.
    func startJobs() {
        for record in loaded {
            record.jobs = record.jobMethods.map { PluginJob.start($0) }
        }
    }

    /// Tells every job to start no new run, then waits for the runs in
    /// progress: before the plugins' shutdown hooks.
    func stopJobs() {
        for record in loaded { record.jobs.forEach { $0.requestStop() } }
        for record in loaded { record.jobs.forEach { $0.waitUntilStopped() } }
    }

    /// Where each running subscriber has got to (compaction stays behind them).
    func subscriberPositions() -> [UInt64] {
        loaded.compactMap { $0.subscriber?.status.position }
    }

    /// Stops event delivery before the plugins' shutdown hooks run.
    func stopSubscribers() {
        for record in loaded { record.subscriber?.stop(timeout: 5) }
    }

    /// The binary's own dependency list must be satisfied too: the manifest
    /// could be stale.
    private func checkBinaryDependencies(_ def: crm_plugin_def, _ record: PluginRecord) throws {
        let dependencies = try ABIArray.read(def.dependencies, count: def.dependency_count, as: crm_dependency_def.self,
                                             minimumSize: ABIFirstRelease.dependencyDefSize, what: "dependencies")
        for dep in dependencies {
            let depName = dep.name.map { String(cString: $0) } ?? ""
            guard loaded.contains(where: { $0.name == depName }) else {
                throw PluginLoadError("binary depends on \(depName), which is not loaded (its manifest does not say so)")
            }
        }
    }

    /// The method definitions, each checked on its own and against what is
    /// already served.
    private func readMethods(_ def: crm_plugin_def, _ record: PluginRecord) throws -> [crm_method_def] {
        let entries = try ABIArray.read(def.methods, count: def.method_count, as: crm_method_def.self,
                                        minimumSize: ABIFirstRelease.methodDefSize, what: "methods")
        var seen = Set<String>()
        for (i, entry) in entries.enumerated() {
            guard let cName = entry.full_name else { throw PluginLoadError("method \(i) has no name") }
            let name = String(cString: cName)
            guard Router.serviceName(of: name) != nil else {
                throw PluginLoadError("method name \"\(name)\" is not of the form /package.Service/Method")
            }
            guard entry.handler != nil || entry.plugin_handler != nil else { throw PluginLoadError("method \(name) has no handler") }
            guard entry.kind <= CRM_METHOD_SERVER_STREAMING.rawValue else {
                throw PluginLoadError("method \(name) has unknown kind \(entry.kind)")
            }
            if let owner = router.owner(ofService: Router.serviceName(of: name)!), owner != record.name {
                let who = owner == "kernel" ? "the kernel" : "plugin \(owner)"
                throw PluginLoadError("service of method \(name) belongs to \(who)")
            }
            if let route = router.route(name) {
                let owner: String
                switch route {
                case .kernel: owner = "the kernel"
                case .plugin(let m): owner = "plugin \(m.plugin.name)"
                }
                throw PluginLoadError("method \(name) is already served by \(owner)")
            }
            guard seen.insert(name).inserted else { throw PluginLoadError("method \(name) is declared twice") }
        }
        return entries
    }
}
