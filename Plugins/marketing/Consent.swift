import CRMPluginKit
import ContactsContract
import MarketingContract

typealias Channel = Crm_Marketing_V1_Channel
typealias ConsentStatus = Crm_Marketing_V1_ConsentStatus
typealias ConsentState = Crm_Marketing_V1_ConsentState

/// Consent per person and channel: the append-only ledger, double opt-in
/// tokens, the suppression list. The methods live in ConsentMethods and
/// ConsentSuppressions, the one place a status changes in ConsentStore.
enum Consent {
    static let schema = """
        CREATE TABLE marketing_consent_state (
            person_id INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            status INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (person_id, channel)) WITHOUT ROWID;
        CREATE TABLE marketing_consent_ledger (
            id INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            old_status INTEGER NOT NULL,
            new_status INTEGER NOT NULL,
            source TEXT NOT NULL,
            evidence TEXT NOT NULL,
            address TEXT NOT NULL,
            actor_user TEXT NOT NULL,
            actor_uid INTEGER NOT NULL,
            merged_from_person_id INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            erased_us INTEGER NOT NULL);
        CREATE INDEX marketing_consent_ledger_person ON marketing_consent_ledger (person_id, id);
        CREATE TABLE marketing_consent_tokens (
            id INTEGER PRIMARY KEY,
            token_hash BLOB NOT NULL UNIQUE,
            person_id INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            address TEXT NOT NULL,
            source TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            expires_us INTEGER NOT NULL,
            used_us INTEGER NOT NULL,
            revoked_us INTEGER NOT NULL);
        CREATE INDEX marketing_consent_tokens_person ON marketing_consent_tokens (person_id, channel);
        CREATE TABLE marketing_suppressions (
            id INTEGER PRIMARY KEY,
            channel INTEGER NOT NULL,
            address_hash TEXT NOT NULL,
            address TEXT NOT NULL,
            reason INTEGER NOT NULL,
            detail TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            UNIQUE (channel, address_hash));
        CREATE INDEX marketing_suppressions_channel ON marketing_suppressions (channel, id);
        CREATE INDEX marketing_suppressions_person ON marketing_suppressions (person_id);
        """

    static let channels: [Channel] = [.email, .sms]

    static func register(on def: PluginDefinition) {
        ConsentMethods.register(on: def)
        ConsentSuppressions.register(on: def)
    }

    /// A contacts event about a person (merged, erased...), in the event's transaction.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        guard event.topic == "contacts.contact.merged" || event.topic == "contacts.contact.erased" else { return }
        guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else {
            ctx.host.log(.warning, "event \(event.sequence) (\(event.topic)) does not decode as a PersonEvent; consent skipped it")
            return
        }
        if event.topic == "contacts.contact.merged" {
            try ConsentContactEvents.merged(ctx, db, survivor: change.person.id, merged: change.mergedID)
        } else {
            try ConsentContactEvents.erased(ctx, db, person: change.person.id)
        }
    }

    // MARK: the interface of the delivery feature (send time)

    /// Whether `address` may get a message on `channel` for the person now:
    /// their status there is SUBSCRIBED and the address is not suppressed.
    static func allowsSending(_ db: Database, personID: Int64, channel: Crm_Marketing_V1_Channel, address: String) throws -> Bool {
        guard try ConsentStore.state(db, personID, channel).status == .subscribed else { return false }
        return try ConsentSuppressions.find(db, channel, address) == nil
    }

    /// A hard bounce (or, with `complaint`, a spam complaint) of a message to
    /// `address`: the address is suppressed for email and the person's email
    /// status becomes BOUNCED (COMPLAINED), with a ledger entry. A bounce
    /// after a complaint keeps COMPLAINED.
    static func recordBounce(_ ctx: CallContext, _ db: Database, personID: Int64, address: String, complaint: Bool,
                             detail: String) throws {
        let reason: Crm_Marketing_V1_SuppressionReason = complaint ? .complained : .bounced
        try ConsentSuppressions.suppress(ctx, db, .email, address, reason: reason, detail: detail, personID: personID)
        guard personID > 0 else { return }
        let current = try ConsentStore.state(db, personID, .email).status
        if !complaint && current == .complained { return }
        try ConsentStore.change(ctx, db, ConsentChange(
            personID: personID, channel: .email, status: complaint ? .complained : .bounced,
            source: complaint ? "complaint" : "bounce", evidence: String(detail.prefix(2000)), address: address))
    }

    /// The one-click unsubscribe (a link in a campaign message): the
    /// person's status becomes UNSUBSCRIBED unless it already forbids sending.
    static func unsubscribe(_ ctx: CallContext, _ db: Database, personID: Int64, channel: Channel, source: String,
                            address: String = "") throws {
        guard personID > 0 else { return }
        let current = try ConsentStore.state(db, personID, channel).status
        if [.unsubscribed, .bounced, .complained].contains(current) { return }
        try ConsentStore.change(ctx, db, ConsentChange(personID: personID, channel: channel, status: .unsubscribed,
                                                       source: source, address: address))
    }
}
