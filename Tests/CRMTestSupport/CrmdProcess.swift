import CRMClient
import Foundation
import Testing

/// A real crmd, started from build/bin with its own temp dir, socket and a
/// plugin dir holding copies of just the plugins a test asks for.
public final class CrmdProcess: @unchecked Sendable {
    public static let buildDir: String = {
        if let dir = ProcessInfo.processInfo.environment["CRM_BUILD_DIR"] { return dir }
        // Tests/CRMTestSupport/ -> repository root
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent("build").path
    }()

    public let dir: String
    public let socketPath: String
    public let pluginDir: String
    public let logPath: String
    private let process = Process()

    /// - Parameters:
    ///   - plugins: names found in build/plugins or build/test-plugins.
    ///   - arguments: extra crmd flags.
    public init(plugins: [String] = ["probe"], arguments: [String] = [], environment: [String: String] = [:],
         pluginFiles: [String: String] = [:], socketPath: String? = nil, dataDir: String? = nil,
         waitForSocket: Bool = true) throws {
        dir = try Self.makeTempDir()
        self.socketPath = socketPath ?? dir + "/crm.sock"
        pluginDir = dir + "/plugins"
        logPath = dir + "/crmd.log"
        try FileManager.default.createDirectory(atPath: pluginDir, withIntermediateDirectories: true)
        for name in plugins { try Self.install(plugin: name, into: pluginDir) }
        for (file, text) in pluginFiles { try text.write(toFile: pluginDir + "/" + file, atomically: true, encoding: .utf8) }
        process.executableURL = URL(fileURLWithPath: Self.buildDir + "/bin/crmd")
        process.arguments = ["--socket", self.socketPath, "--data-dir", dataDir ?? dir + "/data", "--plugin-dir", pluginDir,
                             "--log-level", "debug"] + arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardError = log
        process.standardOutput = log
        try process.run()
        if waitForSocket { try self.waitForSocket() }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func connect() throws -> Connection { try Connection(path: socketPath) }

    /// crmd's resident set size in bytes (VmRSS in /proc).
    public func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
            throw TestFailure("no VmRSS in /proc/\(pid)/status")
        }
        return kib * 1024
    }

    public func waitForSocket(timeout: Double = 15) throws {
        let until = Date().addingTimeInterval(timeout)
        while Date() < until {
            if let connection = try? Connection(path: socketPath) {
                connection.close()
                return
            }
            if !process.isRunning { throw TestFailure("crmd exited during start-up:\n\(log)") }
            usleep(20_000)
        }
        throw TestFailure("crmd did not start listening within \(timeout) s:\n\(log)")
    }

    /// Sends `signal` and waits for exit; returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 30) throws -> Int32 {
        kill(process.processIdentifier, signal)
        guard let status = waitForExit(timeout: timeout) else { throw TestFailure("crmd did not exit within \(timeout) s") }
        return status
    }

    public func waitForExit(timeout: Double = 15) -> Int32? {
        let until = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < until { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    public static func install(plugin name: String, into dir: String) throws {
        let fm = FileManager.default
        for folder in ["plugins", "test-plugins"] {
            let source = "\(buildDir)/\(folder)/\(name).plugin.json"
            guard fm.fileExists(atPath: source) else { continue }
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source))) as! [String: Any]
            let library = manifest["library"] as! String
            try fm.copyItem(atPath: source, toPath: "\(dir)/\(name).plugin.json")
            try fm.copyItem(atPath: "\(buildDir)/\(folder)/\(library)", toPath: "\(dir)/\(library)")
            return
        }
        throw TestFailure("no plugin \(name) in \(buildDir)/plugins or test-plugins; run make build")
    }

    public static func makeTempDir() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/crmd-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        return String(cString: made)
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
