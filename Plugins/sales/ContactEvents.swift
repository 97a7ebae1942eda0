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
        case "contacts.contact.erased": try erased(ctx, person: change.person.id)
        default: return
        }
    }

    static func merged(_ ctx: CallContext, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for table in ["sales_leads", "sales_opportunities"] {
            try db.execute("UPDATE \(table) SET person_id = ?, version = version + 1, updated_us = ? WHERE person_id = ?",
                           [.integer(survivor), .integer(now), .integer(merged)])
        }
        try db.execute("UPDATE sales_activities SET person_id = ? WHERE person_id = ?", [.integer(survivor), .integer(merged)])
        try db.execute("UPDATE sales_lead_conversions SET person_id = ? WHERE person_id = ?",
                       [.integer(survivor), .integer(merged)])
    }

    static func organizationMerged(_ ctx: CallContext, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for table in ["sales_leads", "sales_opportunities"] {
            try db.execute("UPDATE \(table) SET organization_id = ?, version = version + 1, updated_us = ? WHERE organization_id = ?",
                           [.integer(survivor), .integer(now), .integer(merged)])
        }
        try db.execute("UPDATE sales_lead_conversions SET organization_id = ? WHERE organization_id = ?",
                       [.integer(survivor), .integer(merged)])
    }

    /// Leads converted into the person lose name, email, phone, job title
    /// and notes; their activities lose subject and notes. Opportunities
    /// (company deals) keep their figures.
    static func erased(_ ctx: CallContext, person: Int64) throws {
        guard person > 0 else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        try db.execute("""
            UPDATE sales_leads SET first_name = '', last_name = '(erased)', email = '', phone = '', job_title = '',
                notes = '', version = version + 1, updated_us = ?
            WHERE person_id = ? AND last_name <> '(erased)'
            """, [.integer(now), .integer(person)])
        try db.execute("""
            UPDATE sales_activities SET subject = '(erased)', notes = ''
            WHERE (person_id = ? OR lead_id IN (SELECT id FROM sales_leads WHERE person_id = ?)) AND subject <> '(erased)'
            """, [.integer(person), .integer(person)])
    }
}
