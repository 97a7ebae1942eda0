import CRMPluginKit
import ContactsContract

/// Keeps sales records in step with contacts: a merge of people or of
/// organizations re-points references to the survivor, an erasure blanks the personal data sales holds about
/// the person. Each event is delivered in a write transaction that also
/// stores the delivery position; a repeat finds nothing left to change.
enum ContactEvents {
    static func register(on def: PluginDefinition) {
        def.subscribes("contacts.contact.merged")
        def.subscribes("contacts.contact.erased")
        def.subscribes("contacts.organization.merged")
        def.onEvent = handle
    }

    static func handle(_ ctx: CallContext, _ event: Event) throws {
        if event.topic == "contacts.organization.merged" {
            guard let change = try? event.decode(Crm_Contacts_V1_OrganizationEvent.self) else { return }
            return try organizationMerged(ctx, survivor: change.organization.id, merged: change.mergedID)
        }
        guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else {
            ctx.host.log(.warning, "event \(event.sequence) (\(event.topic)) does not decode as a PersonEvent; skipped")
            return
        }
        switch event.topic {
        case "contacts.contact.merged": try merged(ctx, survivor: change.person.id, merged: change.mergedID)
        case "contacts.contact.erased": try SalesErasure.erased(ctx, person: change.person.id)
        default: return
        }
    }

    static func merged(_ ctx: CallContext, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for (table, entity) in [("sales_leads", "sales.lead"), ("sales_opportunities", "sales.opportunity")] {
            try auditRepoint(ctx, db, table, entity, field: "person_id", from: merged, to: survivor)
            try db.execute("UPDATE \(table) SET person_id = ?, version = version + 1, updated_us = ? WHERE person_id = ?",
                           [.integer(survivor), .integer(now), .integer(merged)])
        }
        try auditRepoint(ctx, db, "sales_activities", "sales.activity", field: "person_id", from: merged, to: survivor)
        try db.execute("UPDATE sales_activities SET person_id = ? WHERE person_id = ?", [.integer(survivor), .integer(merged)])
        // Conversions are the leads' bookkeeping; the leads' entries say it.
        try db.execute("UPDATE sales_lead_conversions SET person_id = ? WHERE person_id = ?",
                       [.integer(survivor), .integer(merged)])
    }

    static func organizationMerged(_ ctx: CallContext, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for (table, entity) in [("sales_leads", "sales.lead"), ("sales_opportunities", "sales.opportunity")] {
            try auditRepoint(ctx, db, table, entity, field: "organization_id", from: merged, to: survivor)
            try db.execute("UPDATE \(table) SET organization_id = ?, version = version + 1, updated_us = ? WHERE organization_id = ?",
                           [.integer(survivor), .integer(now), .integer(merged)])
        }
        try db.execute("UPDATE sales_lead_conversions SET organization_id = ? WHERE organization_id = ?",
                       [.integer(survivor), .integer(merged)])
    }

    /// One audit entry per row of `table` whose `field` is about to move.
    private static func auditRepoint(_ ctx: CallContext, _ db: Database, _ table: String, _ entity: String, field: String,
                                     from old: Int64, to new: Int64) throws {
        for row in try db.query("SELECT id, owner FROM \(table) WHERE \(field) = ? ORDER BY id", [.integer(old)]) {
            try SalesAudit.repointed(ctx, entity: entity, id: row.int(0), owner: row.text(1), field: field, from: old, to: new)
        }
    }
}
