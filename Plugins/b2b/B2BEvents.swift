import B2BContract
import CRMPluginKit
import ContactsContract
import SalesContract

/// The module's events, and what it follows of the others': a quote's
/// owner follows its opportunity's (sales.opportunity.updated), its person
/// and organization follow contacts' merges, and an erased person is
/// unlinked; a deal follows its opportunity (DealSales.follow) and its
/// committee contacts' people (DealContacts); envelopes and contracts
/// follow owners, merges and erasure (ContractFollowers), and a renewal
/// opportunity's outcome renews or churns its contract (Renewals). Each event arrives in a write transaction that also stores
/// the delivery position; a repeat finds nothing left to change.
enum B2BEvents {
    static func register(on def: PluginDefinition) {
        def.subscribes("sales.opportunity.updated")
        def.subscribes("sales.opportunity.stage_changed")
        def.subscribes("sales.opportunity.won")
        def.subscribes("sales.opportunity.lost")
        def.subscribes("contacts.contact.updated")
        def.subscribes("contacts.contact.merged")
        def.subscribes("contacts.contact.erased")
        def.subscribes("contacts.organization.merged")
        def.onEvent = handle
    }

    /// Publishes b2b.quote.<action> about the quote (its owner, for event
    /// scope and redaction) and, for the timeline, its person and organization.
    static func quote(_ ctx: CallContext, _ action: String, _ record: QuoteStore.Record, _ revision: QuoteStore.Revision,
                      _ summary: String) throws {
        var event = Crm_B2b_V1_QuoteEvent()
        event.quoteID = record.id
        event.revision = revision.revision
        event.opportunityID = record.opportunityID
        event.status = revision.status
        event.total = .with { $0.amountMinor = revision.priced.totals.totalMinor; $0.currency = record.currency }
        event.contentHash = revision.contentHash
        event.actor = ctx.user ?? ""
        event.about = About.with {
            if record.personID > 0 { $0.personIds = [record.personID] }
            if record.organizationID > 0 { $0.organizationIds = [record.organizationID] }
            $0.summary = summary
        }
        try ctx.publish("b2b.quote.\(action)", event,
                        about: EventSubject(entity: "b2b.quote", recordID: String(record.id), owner: ownerOrNil(record.owner)))
    }

    static func handle(_ ctx: CallContext, _ event: Event) throws {
        guard !event.redacted else { return }
        switch event.topic {
        case "sales.opportunity.updated":
            guard let change = try? event.decode(Crm_Sales_V1_OpportunityEvent.self) else { return }
            try ownerChanged(ctx, opportunity: change.opportunity.id, owner: change.opportunity.owner)
            try ContractFollowers.ownerChanged(ctx, opportunity: change.opportunity.id, owner: change.opportunity.owner)
            try DealSales.follow(ctx, change.opportunity)
        case "sales.opportunity.stage_changed":
            guard let change = try? event.decode(Crm_Sales_V1_OpportunityEvent.self) else { return }
            try DealSales.follow(ctx, change.opportunity)
        case "sales.opportunity.won", "sales.opportunity.lost":
            guard let change = try? event.decode(Crm_Sales_V1_OpportunityEvent.self) else { return }
            try DealSales.follow(ctx, change.opportunity)
            try Renewals.followOutcome(ctx, change.opportunity)
        case "contacts.contact.updated":
            guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else { return }
            try DealContacts.personUpdated(ctx, change.person)
        case "contacts.contact.merged":
            guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else { return }
            try repoint(ctx, column: "person_id", from: change.mergedID, to: change.person.id)
            try DealContacts.personMerged(ctx, merged: change.mergedID, survivor: change.person)
            try ContractFollowers.personMerged(ctx, merged: change.mergedID, survivor: change.person.id)
        case "contacts.organization.merged":
            guard let change = try? event.decode(Crm_Contacts_V1_OrganizationEvent.self) else { return }
            try repoint(ctx, column: "organization_id", from: change.mergedID, to: change.organization.id)
            try DealContacts.organizationMerged(ctx, merged: change.mergedID, survivor: change.organization.id)
            try ContractFollowers.organizationMerged(ctx, merged: change.mergedID, survivor: change.organization.id)
        case "contacts.contact.erased":
            guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else { return }
            try B2BGdpr.erased(ctx, person: change.person.id)
        default:
            return
        }
    }

    /// Record scope follows the opportunity: its quotes get its new owner.
    static func ownerChanged(_ ctx: CallContext, opportunity: Int64, owner: String) throws {
        guard opportunity > 0 else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT id, owner FROM b2b_quotes WHERE opportunity_id = ? AND owner <> ? ORDER BY id",
                                [.integer(opportunity), .text(owner)]) {
            try db.execute("UPDATE b2b_quotes SET owner = ?, version = version + 1, updated_us = ? WHERE id = ?",
                           [.text(owner), .integer(now), .integer(row.int(0))])
            try B2BAudit.followed(ctx, id: row.int(0), owner: owner, action: "owner", field: "owner", from: row.text(1), to: owner)
        }
    }

    /// A merge: quotes naming the merged person or organization name the survivor.
    static func repoint(_ ctx: CallContext, column: String, from merged: Int64, to survivor: Int64) throws {
        guard merged > 0, survivor > 0, merged != survivor else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT id, owner FROM b2b_quotes WHERE \(column) = ? ORDER BY id", [.integer(merged)]) {
            try B2BAudit.followed(ctx, id: row.int(0), owner: row.text(1), action: "merge", field: column,
                                  from: String(merged), to: String(survivor))
        }
        try db.execute("UPDATE b2b_quotes SET \(column) = ?, version = version + 1, updated_us = ? WHERE \(column) = ?",
                       [.integer(survivor), .integer(now), .integer(merged)])
    }
}
