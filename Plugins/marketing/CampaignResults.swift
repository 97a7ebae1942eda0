import CRMPluginKit
import MarketingContract

/// Reading a campaign's recipients and results, and the A/B winner rule.
enum CampaignResults {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "ListCampaignRecipients", recipients)
        def.unary(Marketing.service + "GetCampaignResults", results)
    }

    static func recipients(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListCampaignRecipientsRequest) throws
        -> Crm_Marketing_V1_ListCampaignRecipientsResponse {
        let db = try ctx.database
        let campaign = try CampaignStore.require(db, req.campaignID, field: "campaign_id")
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        // As segment member lists: only people in the caller's contacts scope.
        let scope = ctx.scope(for: SegmentMemberMethods.peoplePermission)
        var sql = """
            SELECT \(recipientColumns) FROM marketing_campaign_recipients r
            """
        var parameters: [SQLValue] = []
        var conditions = ["r.campaign_id = ?", "r.person_id > ?"]
        parameters += [.integer(campaign.id), paging.after?[0] ?? .integer(0)]
        if scope.reach != .all {
            let inScope = scope.condition(ownerColumn: "p.owner")
            sql += " JOIN marketing_people p ON p.person_id = r.person_id"
            conditions.append(inScope.sql)
            parameters += inScope.parameters
        }
        let rows = try db.query(sql + " WHERE " + conditions.joined(separator: " AND ") + " ORDER BY r.person_id LIMIT ?",
                                parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListCampaignRecipientsResponse()
        response.recipients = page.rows.map(recipient)
        response.nextPageToken = page.nextToken
        return response
    }

    static let recipientColumns = "r.person_id, r.test, r.variant_id, r.state, r.outbox_id, r.skipped_reason, r.queued_us, r.campaign_id"

    static func recipient(_ row: [SQLValue]) -> Crm_Marketing_V1_CampaignRecipient {
        .with {
            $0.personID = row[0].int ?? 0
            $0.test = row[1].int == 1
            $0.variantID = row[2].int ?? 0
            $0.state = Crm_Marketing_V1_RecipientState(rawValue: Int(clamping: row[3].int ?? 0)) ?? .unspecified
            $0.outboxID = row[4].int ?? 0
            $0.skippedReason = row[5].string ?? ""
            $0.queuedUnixUs = row[6].int ?? 0
            $0.campaignID = row[7].int ?? 0
        }
    }

    /// A person's campaign recipient rows, for marketing's GDPR export.
    static func personRecords(_ db: Database, personID: Int64) throws -> [Crm_Marketing_V1_CampaignRecipient] {
        try db.query("SELECT \(recipientColumns) FROM marketing_campaign_recipients r WHERE r.person_id = ? ORDER BY r.campaign_id",
                     [.integer(personID)]).map(recipient)
    }

    static func results(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetCampaignResultsRequest) throws -> Crm_Marketing_V1_CampaignResults {
        let db = try ctx.database
        let c = try CampaignStore.require(db, req.campaignID, field: "campaign_id")
        var out = Crm_Marketing_V1_CampaignResults()
        out.campaignID = c.id
        out.state = c.state
        out.audience = c.audience
        out.winnerVariantID = c.winnerVariantID
        out.winnerReason = try db.query("SELECT winner_reason FROM marketing_campaigns WHERE id = ?", [.integer(c.id)])
            .first?[0].string ?? ""
        var tallies: [Int64: (audience: Int64, test: Int64, queued: Int64, skipped: Int64)] = [:]
        for row in try db.query("""
            SELECT variant_id, COUNT(*), SUM(test), SUM(state = ?), SUM(state = ?) FROM marketing_campaign_recipients
            WHERE campaign_id = ? GROUP BY variant_id
            """, [.integer(Campaigns.Recipient.queued.rawValue), .integer(Campaigns.Recipient.skipped.rawValue),
                  .integer(c.id)]) {
            let variant = row[0].int ?? 0
            if variant == 0 {
                out.awaitingWinner = row[1].int ?? 0
                continue
            }
            tallies[variant] = (row[1].int ?? 0, row[2].int ?? 0, row[3].int ?? 0, row[4].int ?? 0)
        }
        let counts = try Engagement.peopleCounts(db, campaignID: c.id)
        var revenue: [Int64: [String: (first: Int64, last: Int64)]] = [:]
        for row in try db.query("""
            SELECT variant_id, currency, detail, TOTAL(amount_minor) FROM marketing_engagement
            WHERE campaign_id = ? AND kind = ? AND machine = 0 GROUP BY variant_id, currency, detail
            """, [.integer(c.id), .integer(Int64(EngagementKind.converted.rawValue))]) {
            // TOTAL, not SUM: SQLite's SUM fails the query on an overflow; this saturates instead.
            guard let variant = row[0].int, let currency = row[1].string, case .real(let total) = row[3] else { continue }
            let sum = total >= 9.2e18 ? Int64.max : Int64(total)
            var entry = revenue[variant, default: [:]][currency] ?? (0, 0)
            switch row[2].string {
            case "first_touch": entry.first = sum
            case "last_touch": entry.last = sum
            default: continue
            }
            revenue[variant, default: [:]][currency] = entry
        }
        for v in try CampaignStore.variants(db, c.id) {
            var r = Crm_Marketing_V1_VariantResults()
            r.variantID = v.id
            r.label = v.label
            r.templateID = v.templateID
            let t = tallies[v.id] ?? (0, 0, 0, 0)
            r.audience = t.audience
            r.testAudience = t.test
            r.queued = t.queued
            r.skipped = t.skipped
            let k = counts[v.id] ?? [:]
            r.sent = k[.sent] ?? 0
            r.delivered = k[.delivered] ?? 0
            r.bounced = k[.bounced] ?? 0
            r.opened = k[.opened] ?? 0
            r.clicked = k[.clicked] ?? 0
            r.unsubscribed = k[.unsubscribed] ?? 0
            r.converted = k[.converted] ?? 0
            r.deliveredBp = basisPoints(r.delivered, of: r.sent)
            r.bouncedBp = basisPoints(r.bounced, of: r.sent)
            r.openedBp = basisPoints(r.opened, of: r.sent)
            r.clickedBp = basisPoints(r.clicked, of: r.sent)
            r.unsubscribedBp = basisPoints(r.unsubscribed, of: r.sent)
            r.convertedBp = basisPoints(r.converted, of: r.sent)
            r.revenue = (revenue[v.id] ?? [:]).sorted { $0.key < $1.key }.map { currency, sums in
                .with {
                    $0.currency = currency
                    $0.firstTouchMinor = sums.first
                    $0.lastTouchMinor = sums.last
                }
            }
            out.variants.append(r)
        }
        return out
    }

    /// `part` of `whole` in basis points (0 for an empty whole), without overflow.
    static func basisPoints(_ part: Int64, of whole: Int64) -> Int64 {
        guard whole > 0, part > 0 else { return 0 }
        let (scaled, overflow) = part.multipliedReportingOverflow(by: 10_000)
        if !overflow { return scaled / whole }
        let ratio = (Double(part) / Double(whole) * 10_000).rounded(.down)
        return ratio < 9e18 ? Int64(ratio) : Int64.max
    }

    /// People with the metric's event, and people sent, of one variant.
    struct Rate {
        var hits: Int64
        var sent: Int64

        /// hits/sent > other's without division: a*d > c*b (nothing sent is a rate of 0).
        func beats(_ other: Rate) -> Bool {
            let x = sent > 0 ? self : Rate(hits: 0, sent: 1)
            let y = other.sent > 0 ? other : Rate(hits: 0, sent: 1)
            let left = x.hits.multipliedReportingOverflow(by: y.sent)
            let right = y.hits.multipliedReportingOverflow(by: x.sent)
            if left.overflow || right.overflow {
                let a = Double(x.hits) / Double(x.sent)
                let b = Double(y.hits) / Double(y.sent)
                return a > b
            }
            return left.partialValue > right.partialValue
        }

        var percent: String {
            let bp = CampaignResults.basisPoints(hits, of: sent)
            let cents = bp % 100
            return "\(bp / 100).\(cents < 10 ? "0" : "")\(cents)%"
        }
    }

    /// The winner of an A/B campaign: the variant whose rate (people with the
    /// metric's event / people sent, human events only; 0 when none were
    /// sent) is highest; a tie goes to the lowest variant id, so with no
    /// engagement at all the first variant wins. Returns it and the reason.
    static func winner(_ db: Database, _ c: Campaign) throws -> (Int64, String) {
        let kind: EngagementKind
        let noun: String
        switch c.winnerMetric {
        case .clicks: (kind, noun) = (.clicked, "clicks")
        case .conversions: (kind, noun) = (.converted, "conversions")
        default: (kind, noun) = (.opened, "opens")
        }
        let counts = try Engagement.peopleCounts(db, campaignID: c.id)
        let variants = c.variants.sorted { $0.id < $1.id }
        guard var best = variants.first else { return (0, "no variants") }
        func rate(_ v: Crm_Marketing_V1_CampaignVariant) -> Rate {
            let k = counts[v.id] ?? [:]
            return Rate(hits: k[kind] ?? 0, sent: k[.sent] ?? 0)
        }
        for v in variants.dropFirst() where rate(v).beats(rate(best)) { best = v }
        let others = variants.filter { $0.id != best.id }
        let tied = others.filter { !rate(best).beats(rate($0)) }
        let b = rate(best)
        if !tied.isEmpty {
            return (best.id, "\(noun): tie at \(b.percent) with " + tied.map(\.label).joined(separator: ", ")
                + "; the lowest variant id (\(best.label)) wins")
        }
        return (best.id, "\(noun): \(best.label) \(b.percent) of \(b.sent) sent beats "
            + others.map { "\($0.label) \(rate($0).percent) of \(rate($0).sent)" }.joined(separator: ", "))
    }
}
