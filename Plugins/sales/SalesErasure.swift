import CRMPluginKit

/// Sales' part of a GDPR erasure, on `contacts.contact.erased`.
enum SalesErasure {
    /// Leads converted into the person lose name, email, phone, job title
    /// and notes; their activities lose subject and notes. Opportunities
    /// (company deals) keep their figures, except that one named after the
    /// person by ConvertLead's default ("<name> deal") loses that name. Each
    /// record changed is audited and then redacted: its audit values and
    /// the events stored about it keep nothing of what was removed.
    static func erased(_ ctx: CallContext, person: Int64) throws {
        guard person > 0 else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        let leads = LeadStore(db: db)
        let opportunities = OpportunityStore(db: db)
        for row in try db.query("""
            SELECT \(LeadStore.columns) FROM sales_leads WHERE person_id = ? AND last_name <> '(erased)' ORDER BY id
            """, [.integer(person)]) {
            let before = LeadStore.decode(row)
            var lead = before
            lead.firstName = ""
            lead.lastName = "(erased)"
            lead.email = ""
            lead.phone = ""
            lead.jobTitle = ""
            lead.notes = ""
            lead.version += 1
            lead.updatedUnixUs = now
            try leads.save(lead)
            try SalesAudit.lead(ctx, "erase", old: before, new: lead)
            try ctx.redact(entity: "sales.lead", recordID: String(lead.id))
            if before.company.isEmpty, var deal = try opportunities.load(before.opportunityID, history: false),
               deal.name == "\(LeadStore.displayName(before)) deal" {
                let old = deal
                deal.name = "(erased) deal"
                deal.version += 1
                deal.updatedUnixUs = now
                try opportunities.save(deal)
                try SalesAudit.opportunity(ctx, "erase", old: old, new: deal)
                try ctx.redact(entity: "sales.opportunity", recordID: String(deal.id))
            }
        }
        for row in try db.query("""
            SELECT \(ActivityMethods.columns) FROM sales_activities
            WHERE (person_id = ? OR lead_id IN (SELECT id FROM sales_leads WHERE person_id = ?)) AND subject <> '(erased)'
            ORDER BY id
            """, [.integer(person), .integer(person)]) {
            let before = ActivityMethods.decode(row)
            var activity = before
            activity.subject = "(erased)"
            activity.notes = ""
            try db.execute("UPDATE sales_activities SET subject = ?, notes = ? WHERE id = ?",
                           [.text(activity.subject), .text(activity.notes), .integer(activity.id)])
            try SalesAudit.activity(ctx, "erase", old: before, new: activity)
            try ctx.redact(entity: "sales.activity", recordID: String(activity.id))
        }
    }
}
