import CRMPluginKit

/// Which opens and clicks a machine made: image proxies that fetch every
/// pixel, security gateways that follow every link, previews, scripts, and
/// anything within a second of sending (no person reads that fast). They
/// are recorded, flagged with the reason, and never counted as human.
enum TrackingMachines {
    /// Lower-case substrings of user agents known to be machines; extend
    /// them with the `machine_user_agents` setting (comma-separated).
    static let knownAgents = [
        "googleimageproxy", "ggpht.com", "yahoomailproxy", "bot", "crawler", "spider", "slurp", "preview",
        "barracuda", "mimecast", "proofpoint", "safelinks", "symantec", "trendmicro", "forcepoint", "sophos",
        "python-requests", "python-urllib", "aiohttp", "curl/", "wget/", "go-http-client", "java/", "okhttp",
        "headlesschrome", "phantomjs", "facebookexternalhit", "scanner", "linkcheck",
    ]

    static let defaultWindowMs: Int64 = 1000

    /// nil for a person, else why it is a machine.
    static func reason(userAgent: String, sentUs: Int64, nowUs: Int64, host: Host) -> String? {
        let agent = userAgent.lowercased()
        if agent.trimmedSpaces.isEmpty { return "no user agent" }
        let extra = (host.config("machine_user_agents") ?? "").lowercased().split(separator: ",")
            .map { String($0).trimmedSpaces }.filter { !$0.isEmpty }
        if let pattern = (knownAgents + extra).first(where: { agent.contains($0) }) {
            return "user agent matches \"\(pattern)\""
        }
        let windowMs = host.config("machine_window_ms").flatMap { Int64($0.trimmedSpaces) }
            .flatMap { (0...60_000).contains($0) ? $0 : nil } ?? defaultWindowMs
        if sentUs > 0, nowUs >= sentUs, nowUs - sentUs < windowMs * 1000 {
            return "within \(windowMs) ms of sending"
        }
        return nil
    }
}
