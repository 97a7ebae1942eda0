import CRMPluginKit

/// The module's settings (`plugins.service` in crmd's config, or
/// CRM_PLUGIN_SERVICE_<KEY>).
enum ServiceConfig {
    static let defaultReopenWindowSeconds: Int64 = 7 * 24 * 3600

    /// How long after it was solved a customer reply reopens a ticket
    /// (`reopen_window_seconds`, 0 to 10 years; default 7 days). A value
    /// that does not parse keeps the default and is logged.
    static func reopenWindowMicros(_ host: Host) -> Int64 {
        guard let raw = host.config("reopen_window_seconds")?.trimmedSpaces, !raw.isEmpty else {
            return defaultReopenWindowSeconds * 1_000_000
        }
        guard let seconds = Int64(raw), seconds >= 0, seconds <= 10 * 366 * 24 * 3600 else {
            host.log(.warning, "reopen_window_seconds \"\(raw.prefix(40))\" is not 0 to 316224000; using 604800")
            return defaultReopenWindowSeconds * 1_000_000
        }
        return seconds * 1_000_000
    }

    static let defaultSlaWarningLeadSeconds: Int64 = 900

    /// How long before an SLA due time service.sla.warning is published
    /// (`sla_warning_lead_seconds`, 0 for no warnings, at most 7 days;
    /// default 900). A value that does not parse keeps the default.
    static func slaWarningLeadMicros(_ host: Host) -> Int64 {
        guard let raw = host.config("sla_warning_lead_seconds")?.trimmedSpaces, !raw.isEmpty else {
            return defaultSlaWarningLeadSeconds * 1_000_000
        }
        guard let seconds = Int64(raw), seconds >= 0, seconds <= 7 * 86_400 else {
            host.log(.warning, "sla_warning_lead_seconds \"\(raw.prefix(40))\" is not 0 to 604800; using 900")
            return defaultSlaWarningLeadSeconds * 1_000_000
        }
        return seconds * 1_000_000
    }
}
