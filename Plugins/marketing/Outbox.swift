import CRMPluginKit

/// One email to send, queued in the transaction of the write that decided
/// to send it; the delivery worker (Delivery) sends it later, off the RPC
/// path and off the writer.
struct OutgoingEmail {
    /// One message per key, ever: a retried or replayed write that queues
    /// the same key again queues nothing ("confirm:<person>:<token id>",
    /// "campaign:<campaign>:<person>", "journey:<journey>:<enrollment>:<step>").
    var dedupeKey: String
    var personID: Int64
    var to: String
    var subject: String
    var html: String
    var text: String
    /// "confirmation" or "campaign".
    var purpose: String
    var campaignID: Int64 = 0
    /// The campaign's A/B variant (0: none); engagement is counted per variant.
    var variantID: Int64 = 0
    /// Opens and clicks are tracked (pixel, rewritten links) when sent:
    /// campaign and journey mail yes, a double opt-in confirmation no.
    var tracked: Bool = false
    /// The one-click unsubscribe URL for List-Unsubscribe (RFC 8058); empty for none.
    var unsubscribeURL: String = ""
    /// Checked again at send time: a campaign message needs the person's
    /// consent then; a double opt-in confirmation does not (it asks for it).
    var requiresConsent: Bool
}

/// The outbox table and the one way to add to it.
enum Outbox {
    enum State: Int64 {
        case queued = 0, sending = 1, sent = 2, failed = 3, interrupted = 4, skipped = 5
    }

    static let schema = """
        CREATE TABLE marketing_outbox (
            id INTEGER PRIMARY KEY,
            dedupe_key TEXT NOT NULL UNIQUE,
            person_id INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            to_address TEXT NOT NULL,
            subject TEXT NOT NULL,
            html_body TEXT NOT NULL,
            text_body TEXT NOT NULL,
            purpose TEXT NOT NULL,
            campaign_id INTEGER NOT NULL,
            variant_id INTEGER NOT NULL,
            tracked INTEGER NOT NULL,
            unsubscribe_url TEXT NOT NULL,
            requires_consent INTEGER NOT NULL,
            state INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_us INTEGER NOT NULL,
            last_error TEXT NOT NULL,
            message_id TEXT NOT NULL,
            queued_us INTEGER NOT NULL,
            sent_us INTEGER NOT NULL);
        CREATE INDEX marketing_outbox_due ON marketing_outbox (state, next_attempt_us);
        CREATE INDEX marketing_outbox_person ON marketing_outbox (person_id, id);
        """

    /// Queues `email` unless its dedupe key was queued before; returns the
    /// outbox id, or nil for a key already queued.
    @discardableResult
    static func enqueue(_ db: Database, _ email: OutgoingEmail) throws -> Int64? {
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO marketing_outbox (dedupe_key, person_id, channel, to_address, subject, html_body, text_body,
                purpose, campaign_id, variant_id, tracked, unsubscribe_url, requires_consent, state, attempts,
                next_attempt_us, last_error, message_id, queued_us, sent_us)
            VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, '', '', ?, 0)
            ON CONFLICT (dedupe_key) DO NOTHING
            """, [.text(email.dedupeKey), .integer(email.personID), .text(email.to), .text(email.subject),
                  .text(email.html), .text(email.text), .text(email.purpose), .integer(email.campaignID),
                  .integer(email.variantID), .integer(email.tracked ? 1 : 0), .text(email.unsubscribeURL), .integer(email.requiresConsent ? 1 : 0), .integer(now), .integer(now)])
        return db.changes > 0 ? db.lastInsertID : nil
    }

    /// The id of the message under `email`'s dedupe key: queued now, or
    /// the one a replayed step queued the first time.
    static func enqueueOrFind(_ db: Database, _ email: OutgoingEmail) throws -> Int64? {
        try enqueue(db, email) ?? id(forDedupeKey: email.dedupeKey, db)
    }

    /// The outbox id of the message queued under `dedupeKey`, if any.
    static func id(forDedupeKey key: String, _ db: Database) throws -> Int64? {
        try db.query("SELECT id FROM marketing_outbox WHERE dedupe_key = ?", [.text(key)]).first?[0].int
    }
}
