import CRMPluginKit

/// The module's settings (`plugins.b2b` in crmd's config, or
/// CRM_PLUGIN_B2B_<KEY>).
enum B2BConfig {
    static let minimumWebhookKeyBytes = 16

    /// The e-signature provider's webhook key (`signature_webhook_key`):
    /// its UTF-8 bytes are the HMAC-SHA256 key, as providers hand out
    /// secrets as text. FAILED_PRECONDITION when unset or shorter than 16
    /// bytes: no webhook can then be believed.
    static func webhookKey(_ host: Host) throws -> [UInt8] {
        guard let raw = host.config("signature_webhook_key"), !raw.isEmpty else {
            throw PluginError.failedPrecondition("no signature_webhook_key is configured for b2b (plugins.b2b in crmd's "
                + "config or CRM_PLUGIN_B2B_SIGNATURE_WEBHOOK_KEY): signature events cannot be verified")
        }
        let key = Array(raw.utf8)
        guard key.count >= minimumWebhookKeyBytes else {
            throw PluginError.failedPrecondition("the signature_webhook_key setting is shorter than \(minimumWebhookKeyBytes) bytes")
        }
        return key
    }

    static let defaultRenewalLeadDays: Int64 = 90

    /// How long before a contract's end its renewal opportunity is made
    /// (`renewal_lead_days`, 0 to 3650; default 90). A value that does not
    /// parse keeps the default and is logged.
    static let day: Int64 = 86_400_000_000

    static func renewalLeadMicros(_ host: Host) -> Int64 {
        guard let raw = host.config("renewal_lead_days")?.trimmedSpaces, !raw.isEmpty else {
            return defaultRenewalLeadDays * day
        }
        guard let days = Int64(raw), (0...3650).contains(days) else {
            host.log(.warning, "renewal_lead_days \"\(raw.prefix(40))\" is not 0 to 3650; using \(defaultRenewalLeadDays)")
            return defaultRenewalLeadDays * day
        }
        return days * day
    }
}
