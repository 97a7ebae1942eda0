import CRMPluginKit
import ContactsContract
import MarketingContract
import ContactsLinkKit

/// The people of one queueing batch, read in two queries from the module's
/// projection of contacts (marketing_people and its custom fields, kept
/// from contacts' events: the same data segment membership was computed
/// from). Contacts has no read of many people by id, and calling GetPerson
/// per recipient would cost an in-process call each; organizations are read
/// from contacts once per distinct organization in the batch, and only
/// when the template uses organization fields.
enum CampaignAudience {
    struct Entry {
        var personID: Int64
        /// nil: not in the projection, or no longer live (deleted, merged, erased).
        var person: Person?
        var organization: Organization?
    }

    static func batch(_ ctx: CallContext, _ db: Database, campaignID: Int64, variantID: Int64, templateID: Int64,
                      limit: Int) throws -> [Entry] {
        let rows = try db.query("""
            SELECT r.person_id, p.first_name, p.last_name, p.email, p.job_title, p.organization_id, p.live
            FROM marketing_campaign_recipients r LEFT JOIN marketing_people p ON p.person_id = r.person_id
            WHERE r.campaign_id = ? AND r.state = ? AND r.variant_id = ? ORDER BY r.person_id LIMIT ?
            """, [.integer(campaignID), .integer(Campaigns.Recipient.pending.rawValue), .integer(variantID),
                  .integer(Int64(limit))])
        guard let first = rows.first?[0].int, let last = rows.last?[0].int else { return [] }
        // The batch is a run of consecutive recipient ids: one range read of their custom fields.
        var custom: [Int64: [String: Crm_Contacts_V1_FieldValue]] = [:]
        for row in try db.query("""
            SELECT f.person_id, f.key, f.value, f.type FROM marketing_person_fields f
            WHERE f.person_id BETWEEN ? AND ? AND f.person_id IN
                (SELECT person_id FROM marketing_campaign_recipients WHERE campaign_id = ? AND person_id BETWEEN ? AND ?)
            """, [.integer(first), .integer(last), .integer(campaignID), .integer(first), .integer(last)]) {
            guard let id = row[0].int, let key = row[1].string, let value = row[2].string else { continue }
            var field = Crm_Contacts_V1_FieldValue()
            switch SegmentPeople.FieldType(rawValue: row[3].int ?? 0) {
            case .number: field.number = value
            case .date: field.date = value
            case .choice: field.choice = value
            default: field.text = value
            }
            custom[id, default: [:]][key] = field
        }
        // A template deleted since the schedule fails each render (recipients
        // skipped with the reason), never the whole step, which would repeat forever.
        let fields = (try? TemplateRendering.compiledTemplate(db, templateID, field: "template_id"))?.0.mergeFields ?? []
        let usesOrganization = fields.contains { $0 == "organization" || $0.hasPrefix("organization.") }
        var organizations: [Int64: Organization?] = [:]
        var out: [Entry] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            let id = row[0].int ?? 0
            guard row[6].int == 1 else {
                out.append(Entry(personID: id))
                continue
            }
            var p = Person()
            p.id = id
            p.firstName = row[1].string ?? ""
            p.lastName = row[2].string ?? ""
            if let email = row[3].string, !email.isEmpty { p.emails = [.with { $0.address = email }] }
            p.jobTitle = row[4].string ?? ""
            p.organizationID = row[5].int ?? 0
            p.customFields = custom[id] ?? [:]
            var organization: Organization?
            if usesOrganization && p.organizationID > 0 {
                if let known = organizations[p.organizationID] {
                    organization = known
                } else {
                    let found = try ContactsLink.organization(ctx, p.organizationID)
                    organization = found?.deletedUnixUs == 0 ? found : nil
                    organizations[p.organizationID] = organization
                }
            }
            out.append(Entry(personID: id, person: p, organization: organization))
        }
        return out
    }
}
