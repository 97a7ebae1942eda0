import CRMPluginKit
import ContactsContract
import MarketingContract

typealias Campaign = Crm_Marketing_V1_Campaign
typealias CampaignState = Crm_Marketing_V1_CampaignState

/// One-off and scheduled sends of a template to a segment, with A/B
/// variants. The rpcs are CampaignMethods', the audience and queueing
/// CampaignSending's (off the RPC path), reading CampaignResults'.
enum Campaigns {
    /// A campaign without variants has one variant row with an empty label:
    /// recipients, outbox rows and engagement always name a variant.
    /// Recipients are the audience snapshot taken when sending starts: one
    /// row per person, so a person gets the campaign at most once.
    /// Who got a campaign at each address (CampaignSending.claimAddress).
    static let addressSchema = """
        CREATE TABLE marketing_campaign_addresses (
            campaign_id INTEGER NOT NULL,
            address TEXT NOT NULL,
            person_id INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, address)) WITHOUT ROWID;
        """

    static let schema = """
        CREATE TABLE marketing_campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            segment_id INTEGER NOT NULL,
            test_share_percent INTEGER NOT NULL,
            winner_metric INTEGER NOT NULL,
            winner_wait_us INTEGER NOT NULL,
            send_at_us INTEGER NOT NULL,
            state INTEGER NOT NULL,
            version INTEGER NOT NULL,
            audience INTEGER NOT NULL,
            winner_variant_id INTEGER NOT NULL,
            winner_reason TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            started_us INTEGER NOT NULL,
            test_ends_us INTEGER NOT NULL,
            finished_us INTEGER NOT NULL);
        CREATE INDEX marketing_campaigns_state ON marketing_campaigns (state, send_at_us);
        CREATE TABLE marketing_campaign_variants (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            label TEXT NOT NULL,
            template_id INTEGER NOT NULL);
        CREATE INDEX marketing_campaign_variants_campaign ON marketing_campaign_variants (campaign_id, position);
        CREATE TABLE marketing_campaign_recipients (
            campaign_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            hash INTEGER NOT NULL,
            test INTEGER NOT NULL,
            variant_id INTEGER NOT NULL,
            state INTEGER NOT NULL,
            outbox_id INTEGER NOT NULL,
            skipped_reason TEXT NOT NULL,
            queued_us INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, person_id)) WITHOUT ROWID;
        CREATE INDEX marketing_campaign_recipients_pending
            ON marketing_campaign_recipients (campaign_id, state, variant_id, person_id);
        CREATE INDEX marketing_campaign_recipients_person ON marketing_campaign_recipients (person_id, campaign_id);
        """

    static let entity = "marketing.campaign"
    static let maxNameLength = 200
    static let maxLabelLength = 50
    static let minWinnerWaitUs: Int64 = 1_000_000
    static let maxWinnerWaitUs: Int64 = 30 * 86_400_000_000
    /// Recipients queued per AdvanceCampaigns transaction (config
    /// `campaign_batch_size`, 1 to 5,000, default 1,000): the writer is held
    /// for tens of milliseconds, never for a whole send.
    static func batchSize(_ host: Host) -> Int {
        guard let text = host.config("campaign_batch_size"), let n = Int(text.trimmedSpaces) else { return 1000 }
        return min(max(n, 1), 5000)
    }

    /// Recipient states (the RecipientState enum's numbers).
    enum Recipient: Int64 { case pending = 1, queued = 2, skipped = 3 }

    /// A contacts event about a person, in the event's transaction.
    /// Merged: the survivor takes the merged person's recipient rows, except
    /// in a campaign where the survivor has one already, where a merged
    /// person's row not yet queued is skipped ("merged") so the one person
    /// gets the campaign once. Erased: their recipient rows, and the
    /// addresses they were sent to, are deleted.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        guard event.topic == "contacts.contact.merged" || event.topic == "contacts.contact.erased",
              let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else { return }
        if event.topic == "contacts.contact.erased" {
            try db.execute("DELETE FROM marketing_campaign_recipients WHERE person_id = ?", [.integer(change.person.id)])
            try db.execute("DELETE FROM marketing_campaign_addresses WHERE person_id = ?", [.integer(change.person.id)])
            return
        }
        let (survivor, merged) = (change.person.id, change.mergedID)
        guard survivor > 0, merged > 0, survivor != merged else { return }
        try db.execute("""
            UPDATE marketing_campaign_recipients SET state = ?, skipped_reason = 'merged'
            WHERE person_id = ? AND state = ?
                AND campaign_id IN (SELECT campaign_id FROM marketing_campaign_recipients WHERE person_id = ?)
            """, [.integer(Recipient.skipped.rawValue), .integer(merged), .integer(Recipient.pending.rawValue),
                  .integer(survivor)])
        try db.execute("UPDATE OR IGNORE marketing_campaign_recipients SET person_id = ? WHERE person_id = ?",
                       [.integer(survivor), .integer(merged)])
        try db.execute("UPDATE marketing_campaign_addresses SET person_id = ? WHERE person_id = ?",
                       [.integer(survivor), .integer(merged)])
    }

    static func register(on def: PluginDefinition) {
        CampaignMethods.register(on: def)
        CampaignSending.register(on: def)
        CampaignResults.register(on: def)
    }
}
