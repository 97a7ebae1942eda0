import ArgumentParser
import CRMClient
import CRMProto
import Foundation

/// `crmctl audit`: the audit trail (crm.kernel.v1.Audit/List), newest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Print audit entries, newest first.",
        discussion: """
        Each entry: UTC time, #id, who (user, uid, trusted proxy), method,
        action and record, owner; then each changed field indented, old -> new
        ("-" had no value). Times are RFC 3339, e.g. 2026-12-01T09:30:00Z;
        --since is inclusive, --until exclusive. With --json, one JSON object
        per line. Needs the permission kernel.audit.read.
        """)

    @OptionGroup var connection: ConnectionOptions
    @Option(name: .long, help: "Only this entity, e.g. contacts.person.") var entity: String?
    @Option(name: .long, help: "Only this record id.") var record: String?
    @Option(name: .long, help: "Only calls that acted for this CRM user.") var user: String?
    @Option(name: .long, help: "Only this method, e.g. /crm.contacts.v1.Contacts/UpdatePerson.") var method: String?
    @Option(name: .long, help: "Entries at or after this time (RFC 3339).") var since: String?
    @Option(name: .long, help: "Entries before this time (RFC 3339).") var until: String?
    @Option(name: .long, help: "Print at most this many entries; 0 = all (default 50).") var limit: Int = 50
    @Flag(name: .long, help: "One JSON object per entry and line.") var json = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 or more") }
        _ = try times()
    }

    func run() async throws {
        let (sinceUs, untilUs) = try times()
        try await runCalls {
            let client = try connection.connect()
            var request = Crm_Kernel_V1_ListAuditRequest.with {
                $0.entity = entity ?? ""
                $0.recordID = record ?? ""
                $0.user = user ?? ""
                $0.method = method.map { $0.hasPrefix("/") ? $0 : "/" + $0 } ?? ""
                $0.sinceUs = sinceUs
                $0.untilUs = untilUs
            }
            var printed = 0
            repeat {
                request.pageSize = UInt32(limit == 0 ? 1000 : min(1000, limit - printed))
                let page = try await client.call("/crm.kernel.v1.Audit/List", request, as: Crm_Kernel_V1_ListAuditResponse.self)
                for entry in page.entries where limit == 0 || printed < limit {
                    if json { print(try AuditFormat.json(entry)) } else { print(AuditFormat.text(entry)) }
                    printed += 1
                }
                request.pageToken = page.nextPageToken
            } while !request.pageToken.isEmpty && (limit == 0 || printed < limit)
        }
    }

    private func times() throws -> (Int64, Int64) {
        func parse(_ text: String?, _ flag: String) throws -> Int64 {
            guard let text else { return 0 }
            guard let micros = AuditFormat.micros(rfc3339: text) else {
                throw ValidationError("\(flag) \(text) is not an RFC 3339 time such as 2026-12-01T09:30:00Z")
            }
            return micros
        }
        return (try parse(since, "--since"), try parse(until, "--until"))
    }
}

/// How `crmctl audit` prints entries and reads times.
enum AuditFormat {
    /// "2026-12-01T09:30:00.123456Z  alice (uid 0, proxy 0)  /pkg.Svc/Method  update probe.item/7  owner bob"
    /// (no id: an entry's id is its time, to the microsecond).
    static func text(_ entry: Crm_Kernel_V1_AuditEntry) -> String {
        var who = entry.user.isEmpty ? "-" : entry.user
        var ids = entry.uid < 0 ? "no uid" : "uid \(entry.uid)"
        if entry.proxyUid >= 0 { ids += ", proxy \(entry.proxyUid)" }
        who += " (\(ids))"
        var line = "\(time(entry.atUs))  \(who)  \(entry.method)"
        line += entry.entity.isEmpty ? "  (no record named)" : "  \(entry.action) \(entry.entity)/\(entry.recordID)"
        if entry.calls > 1 { line += "  \(entry.calls) calls" }
        if !entry.owner.isEmpty { line += "  owner \(entry.owner)" }
        if entry.redacted { line += "  [redacted]" }
        for change in entry.changes {
            let old = change.hasOldValue ? quoted(change.oldValue) : "-"
            let new = change.hasNewValue ? quoted(change.newValue) : "-"
            line += "\n    \(change.field): \(old) -> \(new)"
        }
        return line
    }

    static func json(_ entry: Crm_Kernel_V1_AuditEntry) throws -> String {
        let changes: [[String: Any]] = entry.changes.map { change in
            var object: [String: Any] = ["field": change.field]
            object["old"] = change.hasOldValue ? change.oldValue : NSNull()
            object["new"] = change.hasNewValue ? change.newValue : NSNull()
            return object
        }
        let object: [String: Any] = [
            "id": Int(clamping: entry.id), "at": time(entry.atUs), "at_us": entry.atUs, "user": entry.user, "uid": entry.uid,
            "proxy_uid": entry.proxyUid, "method": entry.method, "plugin": entry.plugin, "entity": entry.entity,
            "record_id": entry.recordID, "action": entry.action, "owner": entry.owner, "redacted": entry.redacted,
            "calls": entry.calls, "changes": changes,
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// RFC 3339 in UTC with microseconds.
    static func time(_ micros: Int64) -> String {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let base = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        let digits = String(fraction)
        return String(base.dropLast()) + "." + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "Z"
    }

    /// UTC microseconds of an RFC 3339 time (with or without a fraction).
    static func micros(rfc3339 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) {
                let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
                guard micros >= 0, micros < 9e18 else { return nil }
                return Int64(micros)
            }
        }
        return nil
    }

    /// A value in double quotes, with quotes, backslashes and control characters escaped (one entry, one line each).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { out += String(format: "\\u%04x", scalar.value) }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
