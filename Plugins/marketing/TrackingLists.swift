import CRMPluginKit
import MarketingContract

/// ListEngagement and ListAttributions: rows about people, within the
/// caller's contacts scope (the projection's owner).
enum TrackingLists {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "ListEngagement", listEngagement)
        def.unary(Marketing.service + "ListAttributions", listAttributions)
    }

    static let peoplePermission = "contacts.person.read"

    static func listEngagement(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListEngagementRequest) throws -> Crm_Marketing_V1_ListEngagementResponse {
        guard req.personID >= 0 else { throw PluginError.invalidArgument("person_id must not be negative") }
        guard req.campaignID >= 0 else { throw PluginError.invalidArgument("campaign_id must not be negative") }
        if case .UNRECOGNIZED(let v) = req.kind { throw PluginError.invalidArgument("kind \(v) is not an EngagementKind") }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        if req.personID > 0 { _ = try ConsentMethods.requirePerson(ctx, req.personID) }
        var filter = SQLFilter()
        if req.personID > 0 { filter.add("e.person_id = ?", .integer(req.personID)) }
        if req.campaignID > 0 { filter.add("e.campaign_id = ?", .integer(req.campaignID)) }
        if req.kind != .unspecified { filter.add("e.kind = ?", .integer(Int64(req.kind.rawValue))) }
        if !req.includeMachine { filter.add("e.machine = 0") }
        if let after = paging.after { filter.add("e.id < ?", after[0]) }
        ctx.scope(for: peoplePermission).apply(to: &filter, ownerColumn: "COALESCE(p.owner, '')")
        let rows = try ctx.database.query("""
            SELECT e.id, e.outbox_id, e.person_id, e.campaign_id, e.variant_id, e.kind, e.machine, e.machine_reason, e.at_us,
                e.detail, e.amount_minor, e.currency
            FROM marketing_engagement e LEFT JOIN marketing_people p ON p.person_id = e.person_id
            \(filter.clause) ORDER BY e.id DESC LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        return .with {
            $0.entries = page.rows.map(entry)
            $0.nextPageToken = page.nextToken
        }
    }

    static func entry(_ row: [SQLValue]) -> Crm_Marketing_V1_EngagementEntry {
        .with {
            $0.id = row[0].int ?? 0
            $0.outboxID = row[1].int ?? 0
            $0.personID = row[2].int ?? 0
            $0.campaignID = row[3].int ?? 0
            $0.variantID = row[4].int ?? 0
            $0.kind = (row[5].int).flatMap { Int(exactly: $0) }.flatMap(EngagementKind.init(rawValue:)) ?? .unspecified
            $0.machine = row[6].int == 1
            $0.machineReason = row[7].string ?? ""
            $0.atUnixUs = row[8].int ?? 0
            $0.detail = row[9].string ?? ""
            $0.amountMinor = row[10].int ?? 0
            $0.currency = row[11].string ?? ""
        }
    }

    static func message(_ e: Engagement.Entry, id: Int64) -> Crm_Marketing_V1_EngagementEntry {
        .with {
            $0.id = id
            $0.outboxID = e.outboxID
            $0.personID = e.personID
            $0.campaignID = e.campaignID
            $0.variantID = e.variantID
            $0.kind = e.kind
            $0.machine = e.machine
            $0.machineReason = e.machineReason
            $0.atUnixUs = e.atUs
            $0.detail = e.detail
            $0.amountMinor = e.amountMinor
            $0.currency = e.currency
        }
    }

    static func listAttributions(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListAttributionsRequest) throws -> Crm_Marketing_V1_ListAttributionsResponse {
        guard req.campaignID >= 0 else { throw PluginError.invalidArgument("campaign_id must not be negative") }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if req.campaignID > 0 {
            filter.add("(a.first_campaign_id = ? OR a.last_campaign_id = ?)", .integer(req.campaignID), .integer(req.campaignID))
        }
        if let after = paging.after { filter.add("a.opportunity_id < ?", after[0]) }
        ctx.scope(for: peoplePermission).apply(to: &filter, ownerColumn: "COALESCE(p.owner, '')")
        let rows = try attributions(try ctx.database, filter.clause, filter.parameters, limit: paging.limit + 1)
        let page = paging.page(rows) { [.integer($0.opportunityID)] }
        return .with {
            $0.attributions = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    /// Attributions matching `clause` (over `a`, the attribution, and `p`, the person's projection), newest first.
    static func attributions(_ db: Database, _ clause: String, _ parameters: [SQLValue],
                             limit: Int? = nil) throws -> [Crm_Marketing_V1_Attribution] {
        try db.query("""
            SELECT a.opportunity_id, a.person_id, a.won_us, a.amount_minor, a.currency, a.first_campaign_id, a.last_campaign_id
            FROM marketing_attributions a LEFT JOIN marketing_people p ON p.person_id = a.person_id
            \(clause) ORDER BY a.opportunity_id DESC LIMIT ?
            """, parameters + [.integer(Int64(limit ?? -1))]).map { row in
            .with {
                $0.opportunityID = row[0].int ?? 0
                $0.personID = row[1].int ?? 0
                $0.wonUnixUs = row[2].int ?? 0
                $0.amountMinor = row[3].int ?? 0
                $0.currency = row[4].string ?? ""
                $0.firstTouchCampaignID = row[5].int ?? 0
                $0.lastTouchCampaignID = row[6].int ?? 0
            }
        }
    }
}
