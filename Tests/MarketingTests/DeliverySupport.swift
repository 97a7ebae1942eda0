import CRMTestSupport
import Foundation
import Testing

/// The loopback aiosmtpd server of Support/smtp_server.py, one per test:
/// what each recipient pattern does is in the script.
final class SMTPTestServer {
    let dir: String
    let port: Int
    private let process = Process()

    struct Received {
        var at: Double
        var rcpt: [String]
        var data: String

        /// A header's value, unfolded; nil when absent.
        func header(_ name: String) -> String? {
            let head = data.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")[0]
            let unfolded = head.replacingOccurrences(of: "\n ", with: " ").replacingOccurrences(of: "\n\t", with: " ")
            for line in unfolded.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }

        var headerNames: [String] {
            let head = data.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")[0]
            return head.split(separator: "\n").filter { !$0.hasPrefix(" ") && !$0.hasPrefix("\t") }
                .compactMap { $0.split(separator: ":").first.map(String.init) }
        }

        /// The decoded body of the part of `type` (base64, as delivery sends).
        func part(_ type: String) -> String? {
            let text = data.replacingOccurrences(of: "\r\n", with: "\n")
            guard let r = text.range(of: "Content-Type: \(type); charset=utf-8\nContent-Transfer-Encoding: base64\n\n") else { return nil }
            let rest = text[r.upperBound...]
            let b64 = rest.prefix { $0 != "-" }.replacingOccurrences(of: "\n", with: "")
            return Data(base64Encoded: b64).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    init() throws {
        dir = NSTemporaryDirectory() + "smtp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/smtp_server.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, dir + "/mail.jsonl", dir + "/port"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: dir + "/port", encoding: .utf8), let p = Int(text) {
                port = p
                return
            }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGKILL)
        throw TestFailure("the SMTP test server did not start (is aiosmtpd installed? make deps)")
    }

    deinit {
        // SIGKILL: the test runner's children may ignore SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// crmd's environment for this server.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ["CRM_PLUGIN_MARKETING_SMTP_URL": "smtp://127.0.0.1:\(port)",
         "CRM_PLUGIN_MARKETING_SMTP_FROM": "news@crm.example",
         "CRM_PLUGIN_MARKETING_SMTP_RETRY_BASE_MS": "100"].merging(extra) { $1 }
    }

    var received: [Received] {
        guard let text = try? String(contentsOfFile: dir + "/mail.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Received(at: o["at"] as? Double ?? 0, rcpt: o["rcpt"] as? [String] ?? [], data: o["data"] as? String ?? "")
        }
    }

    /// Lines in the log, without parsing them.
    var receivedCount: Int {
        guard let data = FileManager.default.contents(atPath: dir + "/mail.jsonl") else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    func received(to address: String) -> [Received] { received.filter { $0.rcpt.contains(address) } }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
func eventually(_ timeout: Double = 20, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
    throw TestFailure("timed out waiting for \(what)")
}

/// Runs SQL on a stopped crmd's database (fixtures for rows another feature queues).
func sqlite(_ path: String, _ sql: String, _ args: [String] = []) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2], sys.argv[3:]); c.commit()",
                   path, sql] + args
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw TestFailure("sqlite fixture failed: \(sql)") }
}
