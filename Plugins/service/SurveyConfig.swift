import CRMPluginKit
import Synchronization

/// The survey settings (`plugins.service.<key>` or CRM_PLUGIN_SERVICE_<KEY>),
/// read once at load: the solve's transaction uses them on every solve.
enum SurveyConfig {
    static let defaultCooldownSeconds: Int64 = 86_400
    static let defaultLinkTTLSeconds: Int64 = 30 * 86_400
    static let defaultURL = "http://127.0.0.1:8080/service/survey"

    static let cooldownMicros = Atomic<Int64>(defaultCooldownSeconds * 1_000_000)
    static let linkTTLMicros = Atomic<Int64>(defaultLinkTTLSeconds * 1_000_000)

    static func load(_ host: Host) {
        cooldownMicros.store(seconds(host, "survey_cooldown_seconds", 0...(366 * 86_400), defaultCooldownSeconds) * 1_000_000,
                             ordering: .relaxed)
        linkTTLMicros.store(seconds(host, "survey_link_ttl_seconds", 1...(366 * 86_400), defaultLinkTTLSeconds) * 1_000_000,
                            ordering: .relaxed)
    }

    /// The web edge's survey page; links are `<survey_url>?t=<token>`.
    static func url(_ host: Host) -> String {
        var base = host.config("survey_url")?.trimmedSpaces ?? ""
        if base.isEmpty { base = defaultURL }
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// A whole number of seconds in `range`; anything else keeps the default and is logged.
    private static func seconds(_ host: Host, _ key: String, _ range: ClosedRange<Int64>, _ fallback: Int64) -> Int64 {
        guard let raw = host.config(key)?.trimmedSpaces, !raw.isEmpty else { return fallback }
        guard let value = Int64(raw), range.contains(value) else {
            host.log(.warning, "\(key) \"\(raw.prefix(40))\" is not \(range.lowerBound) to \(range.upperBound); using \(fallback)")
            return fallback
        }
        return value
    }
}
