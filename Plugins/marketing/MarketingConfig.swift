import CRMPluginKit

/// The module's settings from crmd's config (`plugins.marketing` there).
enum MarketingConfig {
    /// The web edge's public base URL the links in emails point at
    /// (`public_url`), without a trailing slash.
    static func publicURL(_ host: Host) -> String {
        var base = host.config("public_url")?.trimmedSpaces ?? ""
        if base.isEmpty { base = "http://127.0.0.1:8080" }
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
