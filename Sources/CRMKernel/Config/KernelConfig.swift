import Foundation

/// Everything crmd is told at start: by its config file, then by flags.
///
/// The config file is JSON; every key is optional:
/// ```json
/// { "socket": "./crm.sock", "socket_mode": "0600", "data_dir": "./data",
///   "plugin_dir": "./build/plugins", "enable": ["tablebooking"],
///   "workers": 64, "log_level": "info", "log_format": "logfmt", "trusted_proxy_uids": [998],
///   "limits": { "max_message_bytes": 4194304, "max_in_flight_per_connection": 256,
///               "read_timeout_ms": 10000, "idle_timeout_ms": 300000,
///               "shutdown_grace_ms": 10000, "sql_timeout_ms": 5000 },
///   "plugins": { "tablebooking": { "opening_hour": "12" } } }
/// ```
public struct KernelConfig: Sendable {
    public var socketPath = "./crm.sock"
    public var socketMode: mode_t = 0o600
    public var dataDirectory = "./data"
    public var pluginDirectory = "./build/plugins"
    /// nil means every plugin found in the plugin directory.
    public var enabledPlugins: [String]? = nil
    /// The most plugin handlers running at once. Only as many as there are
    /// cores run together; the rest stand in for handlers that block.
    public var workerThreads = 64
    /// Storage: SQLite's synchronous=FULL (fsync at every commit, durable
    /// across power loss) instead of NORMAL (durable across process crashes).
    public var synchronousFull = false
    /// Check every page of the database at start (`PRAGMA quick_check`),
    /// not only after a start that follows an unclean stop.
    public var checkDatabaseAtStart = false
    /// Read-only connections for calls that do not write.
    public var readerConnections = 8
    /// Events are kept this many days (0 = forever) and, if non-zero, at
    /// most this many; unacknowledged by a subscriber, never dropped.
    public var eventRetentionDays = 30
    public var eventRetentionCount = 0
    /// Audit entries are kept this many days; 0 (the default) keeps them forever.
    public var auditRetentionDays = 0
    public var limits = Limits()
    /// Per-plugin settings, read by plugins through `config_get`.
    public var pluginSettings: [String: [String: String]] = [:]
    public var logLevel = "info"
    public var logFormat = "logfmt"
    /// Uids whose calls may name the CRM user they act for in `crm-user`
    /// metadata (a web console's, say); from any other uid it is ignored.
    public var trustedProxyUIDs: Set<UInt32> = []

    public struct Limits: Sendable {
        public var maxMessageBytes = 4 * 1024 * 1024
        public var maxInFlightPerConnection = 256
        public var readTimeoutMillis: Int64 = 10_000
        public var idleTimeoutMillis: Int64 = 300_000
        public var shutdownGraceMillis: Int64 = 10_000
        /// A plugin call's SQL is interrupted this long after the call
        /// began using storage, when its caller set no earlier deadline.
        public var sqlTimeoutMillis: Int64 = 5_000
        public init() {}
    }

    public init() {}

    public struct ConfigError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a JSON config file over the defaults.
    public static func load(file path: String) throws -> KernelConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(description: "cannot read config file \(path)")
        }
        let file: ConfigFile
        do {
            file = try JSONDecoder().decode(ConfigFile.self, from: data)
        } catch {
            throw ConfigError(description: "config file \(path) is not valid: \(error)")
        }
        var config = KernelConfig()
        try file.apply(to: &config)
        return config
    }

    /// Every limit in range, whether it came from the file or from flags:
    /// out-of-range values would trap later (negative timeouts) or defeat
    /// the limit (a frame length the 32-bit prefix cannot carry).
    public func validate() throws {
        func check<T: Comparable>(_ name: String, _ value: T, _ range: ClosedRange<T>) throws {
            guard range.contains(value) else {
                throw ConfigError(description: "\(name) is \(value); it must be between \(range.lowerBound) and \(range.upperBound)")
            }
        }
        let tenYearsMillis: Int64 = 10 * 365 * 86_400 * 1000
        try check("workers", workerThreads, 1...1024)
        try check("readers", readerConnections, 1...256)
        try check("event_retention_days", eventRetentionDays, 0...36_500)
        try check("event_retention_count", eventRetentionCount, 0...Int.max)
        try check("audit_retention_days", auditRetentionDays, 0...36_500)
        try check("max_message_bytes", limits.maxMessageBytes, 1024...(1 << 30))
        try check("max_in_flight_per_connection", limits.maxInFlightPerConnection, 1...65_536)
        try check("read_timeout_ms", limits.readTimeoutMillis, 1...tenYearsMillis)
        try check("idle_timeout_ms", limits.idleTimeoutMillis, 1...tenYearsMillis)
        try check("shutdown_grace_ms", limits.shutdownGraceMillis, 0...tenYearsMillis)
        try check("sql_timeout_ms", limits.sqlTimeoutMillis, 1...tenYearsMillis)
    }

    public static func parseSynchronous(_ text: String) throws -> Bool {
        switch text.lowercased() {
        case "normal": return false
        case "full": return true
        default: throw ConfigError(description: "synchronous must be normal or full, not \(text)")
        }
    }

    /// Parses "0600"-style octal modes.
    public static func parseMode(_ text: String) throws -> mode_t {
        guard let mode = mode_t(text, radix: 8), mode <= 0o777 else {
            throw ConfigError(description: "socket mode \(text) is not an octal file mode like 0600")
        }
        return mode
    }
}

private struct ConfigFile: Decodable {
    var socket: String?
    var socket_mode: String?
    var data_dir: String?
    var plugin_dir: String?
    var enable: [String]?
    var workers: Int?
    var readers: Int?
    var synchronous: String?
    var check_database: Bool?
    var event_retention_days: Int?
    var event_retention_count: Int?
    var audit_retention_days: Int?
    var log_level: String?
    var log_format: String?
    var trusted_proxy_uids: [UInt32]?
    var limits: LimitsFile?
    var plugins: [String: [String: String]]?

    struct LimitsFile: Decodable {
        var max_message_bytes: Int?
        var max_in_flight_per_connection: Int?
        var read_timeout_ms: Int64?
        var idle_timeout_ms: Int64?
        var shutdown_grace_ms: Int64?
        var sql_timeout_ms: Int64?
    }

    func apply(to config: inout KernelConfig) throws {
        if let socket { config.socketPath = socket }
        if let socket_mode { config.socketMode = try KernelConfig.parseMode(socket_mode) }
        if let data_dir { config.dataDirectory = data_dir }
        if let plugin_dir { config.pluginDirectory = plugin_dir }
        if let enable { config.enabledPlugins = enable }
        if let workers { config.workerThreads = workers }
        if let readers { config.readerConnections = readers }
        if let event_retention_days { config.eventRetentionDays = event_retention_days }
        if let event_retention_count { config.eventRetentionCount = event_retention_count }
        if let audit_retention_days { config.auditRetentionDays = audit_retention_days }
        if let synchronous { config.synchronousFull = try KernelConfig.parseSynchronous(synchronous) }
        if let check_database { config.checkDatabaseAtStart = check_database }
        if let log_level { config.logLevel = log_level }
        if let log_format { config.logFormat = log_format }
        if let plugins { config.pluginSettings = plugins }
        if let trusted_proxy_uids { config.trustedProxyUIDs = Set(trusted_proxy_uids) }
        if let limits {
            if let v = limits.max_message_bytes { config.limits.maxMessageBytes = v }
            if let v = limits.max_in_flight_per_connection { config.limits.maxInFlightPerConnection = v }
            if let v = limits.read_timeout_ms { config.limits.readTimeoutMillis = v }
            if let v = limits.idle_timeout_ms { config.limits.idleTimeoutMillis = v }
            if let v = limits.shutdown_grace_ms { config.limits.shutdownGraceMillis = v }
            if let v = limits.sql_timeout_ms { config.limits.sqlTimeoutMillis = v }
        }
    }
}
