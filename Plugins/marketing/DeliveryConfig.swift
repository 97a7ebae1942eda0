import CRMPluginKit
import Synchronization

/// The delivery settings (plugin config `plugins.marketing`, or
/// CRM_PLUGIN_MARKETING_<KEY>). A bad value is logged once and its default used.
struct DeliveryConfig: Equatable {
    enum StartTLS: String { case required, opportunistic, off }

    var url = ""
    var username = ""
    var password = ""
    var startTLS = StartTLS.opportunistic
    var from = ""
    var ratePerSecond = 50.0
    var maxAttempts = 5
    var retryBaseMicros: Int64 = 60_000_000
    var batchSize = 50
    var connections = 2
    /// Empty when the worker may send; otherwise why it does not.
    var notConfiguredReason = ""

    private static let warned = Mutex(Set<String>())

    static func warnOnce(_ host: Host, _ message: String) {
        let first = warned.withLock { $0.insert(message).inserted }
        if first { host.log(.warning, message) }
    }

    static func read(_ host: Host) -> DeliveryConfig {
        var c = DeliveryConfig()
        func value(_ key: String) -> String { host.config(key)?.trimmedSpaces ?? "" }
        func number(_ key: String, _ range: ClosedRange<Double>, _ fallback: Double) -> Double {
            let text = value(key)
            guard !text.isEmpty else { return fallback }
            if let v = Double(text), range.contains(v) { return v }
            warnOnce(host, "\(key) \"\(text)\" is not a number in [\(range.lowerBound), \(range.upperBound)]; using \(fallback)")
            return fallback
        }
        c.url = value("smtp_url")
        c.username = value("smtp_username")
        c.password = host.config("smtp_password") ?? ""
        let tls = value("smtp_starttls").lowercased()
        if !tls.isEmpty {
            if let mode = StartTLS(rawValue: tls) { c.startTLS = mode } else {
                warnOnce(host, "smtp_starttls \"\(tls)\" is not required, opportunistic or off; using opportunistic")
            }
        }
        c.from = value("smtp_from")
        c.ratePerSecond = number("smtp_rate_per_second", 0.1...1_000_000, 50)
        c.maxAttempts = Int(number("smtp_max_attempts", 1...100, 5))
        c.retryBaseMicros = Int64(number("smtp_retry_base_ms", 1...86_400_000, 60_000) * 1000)
        c.batchSize = Int(number("smtp_batch_size", 1...500, 50))
        c.connections = Int(number("smtp_connections", 1...16, 2))
        if c.url.isEmpty {
            c.notConfiguredReason = "smtp_url is not set: nothing is sent, messages stay QUEUED"
        } else if !(c.url.hasPrefix("smtp://") || c.url.hasPrefix("smtps://")) {
            c.notConfiguredReason = "smtp_url must start with smtp:// or smtps://; nothing is sent"
        } else if c.from.isEmpty || (try? Validate.email(c.from, "smtp_from")) == nil
                    || DeliveryMIME.unsafe(c.from) {
            c.notConfiguredReason = "smtp_from is not set to an email address; nothing is sent"
        }
        return c
    }

    /// The domain of the Message-IDs: smtp_from's.
    var messageIDDomain: String {
        guard let at = from.lastIndex(of: "@") else { return "crm.invalid" }
        let domain = String(from[from.index(after: at)...])
        return domain.isEmpty ? "crm.invalid" : domain
    }
}
