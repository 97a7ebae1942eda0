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

    /// `email_domain`: the right-hand side of the Message-IDs email to
    /// ticket makes ("crm.invalid" unless set: a reserved name, so no real
    /// host's ids can collide). A value that is not a host name is logged.
    static func emailDomain(_ host: Host) -> String {
        let value = (host.config("email_domain") ?? "").trimmedSpaces.lowercased()
        guard !value.isEmpty else { return "crm.invalid" }
        let allowed = value.utf8.allSatisfy { c in (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 46 || c == 45 }
        guard allowed, value.utf8.count <= 200 else {
            host.log(.warning, "email_domain \"\(value.prefix(40))\" is not a host name; using crm.invalid")
            return "crm.invalid"
        }
        return value
    }
}
