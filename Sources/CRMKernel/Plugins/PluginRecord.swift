import CRMKernelCore
import CRMKernelContract
import CRMPluginABI
import Foundation
import Logging

/// The host's record of one plugin it found: what it is, whether it loaded,
/// and why not. Handed to the plugin as its opaque `crm_plugin *`.
///
/// Mutated only on the main thread during start-up; read-only afterwards,
/// except the config-string cache, which has its own lock.
public final class PluginRecord: @unchecked Sendable {
    public let name: String
    public internal(set) var version: String
    public internal(set) var libraryPath: String
    public internal(set) var abiVersion: UInt32
    public internal(set) var summary: String
    public internal(set) var dependencies: [(name: String, range: String)]
    public internal(set) var state: Crm_Kernel_V1_PluginState = .unspecified
    public internal(set) var reason = ""
    public internal(set) var loadOrder = 0
    public internal(set) var services: [String] = []
    public internal(set) var descriptorSet = Data()
    /// Topic -> the message type its .proto declares for it; nil for a topic
    /// from the definition's `publishes` list (plugins built before options).
    var topics: [String: String?] = [:]
    /// Topic -> the permission a client needs to receive its events
    /// (`read_permission`); topics that declare none are absent.
    var readPermissions: [String: String] = [:]
    /// False for a plugin that declares no options and no topics (built
    /// before them): it may publish any topic under its prefix, as in ABI 1.0.
    var checksTopics = true
    var definition: crm_plugin_def?
    /// Topic patterns from the binary, and their delivery (once started).
    var subscriptions: [TopicPattern] = []
    var subscriber: BusSubscriber?
    /// Its methods that declare job_every_ms, and their runners once started.
    var jobMethods: [PluginMethod] = []
    var jobs: [PluginJob] = []
    let logger: Logger
    private let settings: [String: String]
    private let configLock = NSLock()
    private var configStrings: [String: UnsafeMutablePointer<CChar>] = [:]

    init(manifest: PluginManifestFile, directory: String, settings: [String: String]) {
        name = manifest.name
        version = manifest.version
        libraryPath = (directory as NSString).appendingPathComponent(manifest.library)
        abiVersion = manifest.abi_version
        summary = manifest.description ?? ""
        dependencies = (manifest.dependencies ?? []).map { ($0.name, $0.version_range ?? "") }
        self.settings = settings
        logger = Logger(label: "crm.plugin.\(manifest.name)")
    }

    /// A plugin named in the enable list, or whose manifest is unreadable.
    init(unreadable name: String, path: String, reason: String) {
        self.name = name
        version = ""
        libraryPath = path
        abiVersion = 0
        summary = ""
        dependencies = []
        settings = [:]
        state = .failed
        self.reason = reason
        logger = Logger(label: "crm.plugin.\(name)")
    }

    var isLoaded: Bool { state == .loaded }

    func fail(_ reason: String) {
        state = .failed
        self.reason = reason
        logger.error("plugin not loaded", metadata: ["plugin": "\(name)", "reason": "\(reason)"])
    }

    /// The opaque pointer the plugin sees as `crm_plugin *`.
    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(handle: OpaquePointer?) -> PluginRecord? {
        guard let handle else { return nil }
        return Unmanaged<PluginRecord>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// A configuration value as a C string the host keeps until exit: from
    /// the config file's `plugins.<name>` table, else the environment
    /// `CRM_PLUGIN_<NAME>_<KEY>`.
    func configCString(_ key: String) -> UnsafePointer<CChar>? {
        configLock.lock()
        defer { configLock.unlock() }
        if let cached = configStrings[key] { return UnsafePointer(cached) }
        let envKey = "CRM_PLUGIN_\(name.uppercased())_\(key.uppercased())"
        // getenv, not ProcessInfo.environment: that copies the whole environment per call.
        guard let value = settings[key] ?? getenv(envKey).map({ String(cString: $0) }) else { return nil }
        let copy = strdup(value)!
        configStrings[key] = copy
        return UnsafePointer(copy)
    }
}
