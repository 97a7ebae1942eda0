import ArgumentParser
import CRMKernel
import Foundation
import Logging

@main
struct Crmd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmd",
        abstract: "The CRM kernel: serves plugins' methods over a Unix socket.")

    @Option(name: .long, help: "Unix socket to listen on (default ./crm.sock).")
    var socket: String?

    @Option(name: .long, help: "File mode of the socket, octal (default 0600).")
    var socketMode: String?

    @Option(name: .long, help: "Directory for the database and other state (default ./data).")
    var dataDir: String?

    @Option(name: .long, help: "Directory holding <name>.plugin.json and the plugin libraries (default ./build/plugins).")
    var pluginDir: String?

    @Option(name: .long, help: "Comma-separated plugins to load (default: every plugin found).")
    var enable: String?

    @Option(name: .long, help: "JSON config file; flags override it.")
    var config: String?

    @Option(name: .long, help: "Most plugin handlers running at once (default 64); as many as there are cores run together, the others stand in for handlers that block.")
    var workers: Int?

    @Flag(name: .long, help: "Check every page of the database at start (always done after an unclean stop; seconds per GB).")
    var checkDatabase = false

    @Option(name: .long, help: "Read-only database connections for calls that do not write (default 8).")
    var readers: Int?

    @Option(name: .long, help: "normal (durable across crashes, the default) or full (also across power loss).")
    var synchronous: String?

    @Option(name: .long, help: "Keep bus events this many days, 0 = forever (default 30).")
    var eventRetentionDays: Int?

    @Option(name: .long, help: "Keep at most this many bus events, 0 = no limit (default 0).")
    var eventRetentionCount: Int?

    @Option(name: .long, help: "Keep audit entries this many days, 0 = forever (default 0).")
    var auditRetentionDays: Int?

    @Option(name: .long, help: "Largest message accepted or sent, in bytes (default 4 MiB).")
    var maxMessageBytes: Int?

    @Option(name: .long, help: "Most calls in flight per connection (default 256).")
    var maxInFlight: Int?

    @Option(name: .long, help: "Close a connection that holds half a frame (or no preface) this long, ms (default 10000).")
    var readTimeoutMs: Int64?

    @Option(name: .long, help: "Close a connection with no calls and no traffic this long, ms (default 300000).")
    var idleTimeoutMs: Int64?

    @Option(name: .long, help: "On SIGTERM/SIGINT, let calls in flight finish this long, ms (default 10000).")
    var shutdownGraceMs: Int64?

    @Option(name: .long, help: "Interrupt a plugin call's SQL this long after its first statement when the caller set no earlier deadline, ms (default 5000).")
    var sqlTimeoutMs: Int64?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(name: .long, help: "logfmt or json.")
    var logFormat: String?

    @Option(name: .long, help: "A uid whose calls may name the CRM user they act for in `crm-user` metadata (a web console's); repeatable.")
    var trustedProxyUid: [UInt32] = []

    func validate() throws {
        if let socketMode { _ = try parse { try KernelConfig.parseMode(socketMode) } }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let logFormat, StructuredLogHandler.Format(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be logfmt or json")
        }
    }

    private func parse<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw ValidationError("\(error)") }
    }

    func resolvedConfig() throws -> KernelConfig {
        var c = KernelConfig()
        if let file = config { c = try parse { try KernelConfig.load(file: file) } }
        if let socket { c.socketPath = socket }
        if let socketMode { c.socketMode = try KernelConfig.parseMode(socketMode) }
        if let dataDir { c.dataDirectory = dataDir }
        if let pluginDir { c.pluginDirectory = pluginDir }
        if let enable { c.enabledPlugins = enable.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let workers { c.workerThreads = workers }
        if let readers { c.readerConnections = readers }
        if checkDatabase { c.checkDatabaseAtStart = true }
        if let eventRetentionDays { c.eventRetentionDays = eventRetentionDays }
        if let eventRetentionCount { c.eventRetentionCount = eventRetentionCount }
        if let auditRetentionDays { c.auditRetentionDays = auditRetentionDays }
        if let synchronous { c.synchronousFull = try parse { try KernelConfig.parseSynchronous(synchronous) } }
        if let maxMessageBytes { c.limits.maxMessageBytes = maxMessageBytes }
        if let maxInFlight { c.limits.maxInFlightPerConnection = maxInFlight }
        if let readTimeoutMs { c.limits.readTimeoutMillis = readTimeoutMs }
        if let idleTimeoutMs { c.limits.idleTimeoutMillis = idleTimeoutMs }
        if let shutdownGraceMs { c.limits.shutdownGraceMillis = shutdownGraceMs }
        if let sqlTimeoutMs { c.limits.sqlTimeoutMillis = sqlTimeoutMs }
        if let logLevel { c.logLevel = logLevel }
        if let logFormat { c.logFormat = logFormat }
        if !trustedProxyUid.isEmpty { c.trustedProxyUIDs = Set(trustedProxyUid) }
        try parse { try c.validate() }
        return c
    }

    func run() throws {
        let config = try resolvedConfig()
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        let format = StructuredLogHandler.Format(rawValue: config.logFormat) ?? .logfmt
        LoggingSystem.bootstrap { StructuredLogHandler(label: $0, level: level, format: format) }

        // Signals are blocked before any thread exists, so every thread inherits the mask.
        let signals = SignalWaiter([SIGTERM, SIGINT])
        let kernel = Kernel(config: config)
        do {
            try kernel.start()
        } catch {
            Logger(label: "crm.kernel").critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let signal = signals.wait()
        Logger(label: "crm.kernel").info("signal received", metadata: ["signal": "\(signal)"])
        kernel.stop()
    }
}
