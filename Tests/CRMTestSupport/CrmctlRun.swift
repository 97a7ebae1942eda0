import Foundation

/// One run of the real build/bin/crmctl: its exit status and what it printed.
public struct CrmctlRun {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Runs crmctl with `CRM_SOCKET` set to `socket`, as a user's shell would;
    /// with `uid`, as that uid and gid without supplementary groups (through
    /// util-linux's setpriv, so the tests must run as root); with `stdin`,
    /// that file on its standard input.
    public static func run(_ arguments: [String], socket: String, uid: UInt32? = nil, stdin: String? = nil) throws -> CrmctlRun {
        let process = Process()
        let crmctl = CrmdProcess.buildDir + "/bin/crmctl"
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", crmctl] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: crmctl)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["CRM_SOCKET"] = socket
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            guard let input = FileHandle(forReadingAtPath: stdin) else { throw CocoaError(.fileReadNoSuchFile) }
            process.standardInput = input
        }
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CrmctlRun(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A socket path where nothing listens, for runs that must not use `CRM_SOCKET`.
    public static var nowhere: String { NSTemporaryDirectory() + "/no-such-\(UUID().uuidString).sock" }
}
