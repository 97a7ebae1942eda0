import CRMPluginKit
import MarketingContract

/// Signed per-recipient tokens for the open pixel, click redirects and
/// one-click unsubscribe; machine detection; delivery reports; attribution
/// of won opportunities. The links point at the web edge (`public_url`):
/// `/marketing/open?t=`, `/marketing/click?t=`, `/marketing/unsubscribe?t=`.
enum Tracking {
    /// The first key is made by SQLite's CSPRNG (randomblob), so a token
    /// can be signed by any call, reading or writing, from the start.
    static let schema = """
        CREATE TABLE marketing_tracking_keys (id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
            secret BLOB NOT NULL, created_us INTEGER NOT NULL);
        INSERT INTO marketing_tracking_keys (id, secret, created_us)
            VALUES (1, randomblob(32), CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER));
        CREATE INDEX marketing_outbox_message_id ON marketing_outbox (message_id) WHERE message_id <> '';
        CREATE TABLE marketing_attributions (
            opportunity_id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL,
            won_us INTEGER NOT NULL,
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            first_campaign_id INTEGER NOT NULL,
            last_campaign_id INTEGER NOT NULL);
        CREATE INDEX marketing_attributions_person ON marketing_attributions (person_id);
        CREATE INDEX marketing_attributions_first ON marketing_attributions (first_campaign_id, won_us);
        CREATE INDEX marketing_attributions_last ON marketing_attributions (last_campaign_id, won_us);
        """

    static func register(on def: PluginDefinition) {
        TrackingMethods.register(on: def)
        TrackingLists.register(on: def)
    }

    /// The one-click unsubscribe URL for a person's campaign message: the
    /// `{{unsubscribe_url}}` merge field and the List-Unsubscribe header.
    static func unsubscribeURL(_ ctx: CallContext, _ db: Database, personID: Int64, campaignID: Int64) throws -> String {
        let token = TrackingTokens.make(try TrackingTokens.current(db), .unsubscribe, personID, max(0, campaignID))
        return "\(MarketingConfig.publicURL(ctx.host))/marketing/unsubscribe?t=\(token)"
    }

    /// What decorating needs, read once per delivery batch (the signing
    /// key and the configured URLs), not once per message.
    struct Decorator {
        let secret: TrackingTokens.Secret
        let base: String
        let untracked: [String]

        init(_ ctx: CallContext) throws {
            secret = try TrackingTokens.current(try ctx.database)
            base = MarketingConfig.publicURL(ctx.host)
            untracked = Tracking.untrackedPrefixes(ctx.host)
        }

        /// The HTML and text bodies of outbox message `outboxID` as sent:
        /// each http(s) link of the HTML becomes a click redirect and an open
        /// pixel is added. The text body is sent as written (its links untracked).
        func decorate(html: String, text: String, outboxID: Int64) -> (html: String, text: String) {
            guard !html.isEmpty else { return (html, text) }
            let links = TrackingLinks.trackable(html, excludedPrefixes: untracked)
            let pixel = "<img src=\"\(base)/marketing/open?t=\(TrackingTokens.make(secret, .open, outboxID))\" "
                + "width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">"
            let decorated = TrackingLinks.rewrite(html, links: links, replacement: { index in
                "\(base)/marketing/click?t=\(TrackingTokens.make(secret, .click, outboxID, Int64(index)))"
            }, pixel: pixel)
            return (decorated, text)
        }
    }

    /// Links that must stay as written: the module's own pages.
    static func untrackedPrefixes(_ host: Host) -> [String] {
        let base = MarketingConfig.publicURL(host)
        return ["\(base)/marketing/unsubscribe", "\(base)/marketing/confirm"]
    }

    static let topics: [EngagementKind: String] = [
        .opened: "marketing.message.opened", .clicked: "marketing.message.clicked",
        .unsubscribed: "marketing.message.unsubscribed", .bounced: "marketing.message.bounced",
        .complained: "marketing.message.complained", .converted: "marketing.message.converted",
    ]

    /// The event of a recorded engagement, on the person's timeline.
    static func publish(_ ctx: CallContext, _ db: Database, _ entry: Engagement.Entry, id: Int64) throws {
        guard let topic = topics[entry.kind] else { return }
        var event = Crm_Marketing_V1_MessageEngagementEvent()
        event.entry = TrackingLists.message(entry, id: id)
        event.about.personIds = [entry.personID]
        let what = topic.split(separator: ".").last.map(String.init) ?? ""
        event.about.summary = entry.campaignID > 0 ? "Email of campaign \(entry.campaignID) \(what)" : "Email \(what)"
        let owner = try SegmentPeople.state(db, entry.personID)?.owner ?? ""
        try ctx.publish(topic, event, about: EventSubject(entity: "marketing.message", recordID: String(entry.outboxID),
                                                          owner: ownerOrNil(owner)))
    }
}
