import CRMPluginKit

/// Signed per-recipient tokens for the open pixel, click redirects and
/// one-click unsubscribe; machine detection; attribution of won opportunities.
enum Tracking {
    static let schema = """
        CREATE TABLE marketing_tracking_keys (id INTEGER PRIMARY KEY, secret BLOB NOT NULL, created_us INTEGER NOT NULL);
        """

    static func register(on def: PluginDefinition) {}

    /// The one-click unsubscribe URL for a person's campaign message: the
    /// `{{unsubscribe_url}}` merge field and the List-Unsubscribe header.
    /// (The tracking feature replaces this with a signed token.)
    static func unsubscribeURL(_ ctx: CallContext, _ db: Database, personID: Int64, campaignID: Int64) throws -> String {
        "\(MarketingConfig.publicURL(ctx.host))/marketing/unsubscribe?token=unsigned-\(personID)-\(campaignID)"
    }

    /// The HTML and text bodies of outbox message `outboxID` as sent: links
    /// rewritten to click redirects and an open pixel added, for a tracked
    /// message. (The tracking feature fills this in.)
    static func decorate(_ ctx: CallContext, html: String, text: String, outboxID: Int64) throws -> (html: String, text: String) {
        (html, text)
    }
}
