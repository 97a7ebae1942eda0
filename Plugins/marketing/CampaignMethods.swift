import CRMPluginKit
import ContactsContract
import MarketingContract

/// Create, read, update, list, schedule and cancel campaigns. Campaigns
/// are shared configuration (no owner); every write is audited as
/// marketing.campaign.
enum CampaignMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "CreateCampaign", create)
        def.unary(Marketing.service + "GetCampaign", get)
        def.unary(Marketing.service + "UpdateCampaign", update)
        def.unary(Marketing.service + "ListCampaigns", list)
        def.unary(Marketing.service + "ScheduleCampaign", schedule)
        def.unary(Marketing.service + "CancelCampaign", cancel)
    }

    static let mask = UpdateMask(
        fields: ["name": 2, "segment_id": 3, "template_id": 4, "variants": 5, "test_share_percent": 6,
                 "winner_metric": 7, "winner_wait_us": 8, "send_at_unix_us": 9],
        elsewhere: ["state": "ScheduleCampaign or CancelCampaign"])

    static func create(_ ctx: CallContext, _ req: Crm_Marketing_V1_CreateCampaignRequest) throws -> Campaign {
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "CreateCampaign", req, key: \.idempotencyKey)
        if let id = previous { return try CampaignStore.require(db, id) }
        var c = Campaign()
        let given = req.campaign
        c.name = given.name
        c.segmentID = given.segmentID
        c.templateID = given.templateID
        c.variants = given.variants
        c.testSharePercent = given.testSharePercent
        c.winnerMetric = given.winnerMetric
        c.winnerWaitUs = given.winnerWaitUs
        c.sendAtUnixUs = given.sendAtUnixUs
        try validate(ctx, db, &c)
        let now = UTCClock.nowMicros()
        c.state = .draft
        c.version = 1
        c.createdUnixUs = now
        c.updatedUnixUs = now
        try CampaignStore.insert(db, &c)
        try Marketing.idempotency.record(db, claim, resultID: c.id)
        let saved = try CampaignStore.require(db, c.id)
        try CampaignStore.audit(ctx, "create", old: nil, new: saved)
        return saved
    }

    static func get(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetCampaignRequest) throws -> Campaign {
        try CampaignStore.require(try ctx.database, req.id)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Marketing_V1_UpdateCampaignRequest) throws -> Campaign {
        let db = try ctx.database
        let before = try CampaignStore.require(db, req.campaign.id, field: "campaign.id")
        let selection = try mask.resolve(req.updateMask, req.campaign)
        guard before.state == .draft || before.state == .scheduled else {
            throw PluginError.failedPrecondition("campaign.id: campaign \(before.id) is \(stateName(before.state)); "
                + "only a DRAFT or SCHEDULED campaign changes")
        }
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "campaign \(before.id)")
        var c = before
        let given = req.campaign
        if selection.contains("name") { c.name = given.name }
        if selection.contains("segment_id") { c.segmentID = given.segmentID }
        // template_id and variants are two forms of one thing: setting one clears the other.
        if selection.contains("template_id") {
            c.templateID = given.templateID
            if !selection.contains("variants") && given.templateID != 0 { c.variants = [] }
        }
        if selection.contains("variants") {
            c.variants = given.variants
            if !selection.contains("template_id") && !given.variants.isEmpty { c.templateID = 0 }
        }
        if c.variants.isEmpty && !before.variants.isEmpty {
            // Back to one template: the A/B settings go with the variants.
            if !selection.contains("test_share_percent") { c.testSharePercent = 0 }
            if !selection.contains("winner_metric") { c.winnerMetric = .unspecified }
            if !selection.contains("winner_wait_us") { c.winnerWaitUs = 0 }
        }
        if selection.contains("test_share_percent") { c.testSharePercent = given.testSharePercent }
        if selection.contains("winner_metric") { c.winnerMetric = given.winnerMetric }
        if selection.contains("winner_wait_us") { c.winnerWaitUs = given.winnerWaitUs }
        if selection.contains("send_at_unix_us") { c.sendAtUnixUs = given.sendAtUnixUs }
        // Variant ids are output only: compare what was asked for.
        let stripped = { (v: [Crm_Marketing_V1_CampaignVariant]) in v.map { ($0.label, $0.templateID) } }
        try validate(ctx, db, &c)
        let variantsChanged = c.templateID != before.templateID
            || !stripped(c.variants).elementsEqual(stripped(before.variants), by: ==)
        var unchanged = before
        unchanged.variants = c.variants
        guard variantsChanged || c != unchanged else { return before }
        // A SCHEDULED campaign stays sendable: its new templates must render, as on schedule.
        if c.state == .scheduled && variantsChanged {
            for id in c.variants.isEmpty ? [c.templateID] : c.variants.map(\.templateID) { try checkRenders(ctx, db, id) }
        }
        c.version = before.version + 1
        c.updatedUnixUs = UTCClock.nowMicros()
        try CampaignStore.save(db, c)
        if variantsChanged { try CampaignStore.replaceVariants(db, &c) }
        let saved = try CampaignStore.require(db, c.id)
        try CampaignStore.audit(ctx, "update", old: before, new: saved)
        return saved
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListCampaignsRequest) throws -> Crm_Marketing_V1_ListCampaignsResponse {
        let db = try ctx.database
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("id < ?", after[0]) }
        switch req.state {
        case .unspecified: break
        case .draft, .scheduled, .sending, .testing, .sendingWinner, .sent, .cancelled:
            filter.add("state = ?", .integer(Int64(req.state.rawValue)))
        default: throw PluginError.invalidArgument("state: unknown campaign state \(req.state.rawValue)")
        }
        let rows = try db.query("SELECT \(CampaignStore.columns) FROM marketing_campaigns \(filter.clause) ORDER BY id DESC LIMIT ?",
                                filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListCampaignsResponse()
        response.campaigns = try page.rows.map { try CampaignStore.decode(db, $0) }
        response.nextPageToken = page.nextToken
        return response
    }

    static func schedule(_ ctx: CallContext, _ req: Crm_Marketing_V1_ScheduleCampaignRequest) throws -> Campaign {
        let db = try ctx.database
        let before = try CampaignStore.require(db, req.id)
        guard req.sendAtUnixUs >= 0 else { throw PluginError.invalidArgument("send_at_unix_us must not be negative") }
        let sendAt = req.sendAtUnixUs != 0 ? req.sendAtUnixUs : before.sendAtUnixUs
        switch before.state {
        case .draft: break
        case .scheduled:
            // A retry of the same schedule changes nothing.
            if sendAt == before.sendAtUnixUs { return before }
        default:
            throw PluginError.failedPrecondition("id: campaign \(before.id) is \(stateName(before.state)); "
                + "only a DRAFT or SCHEDULED campaign is scheduled")
        }
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "campaign \(before.id)")
        _ = try SegmentMethods.require(ctx, db, before.segmentID, field: "segment_id")
        for v in try CampaignStore.variants(db, before.id) {
            try checkRenders(ctx, db, v.templateID)
        }
        var c = before
        c.state = .scheduled
        c.sendAtUnixUs = sendAt
        c.version += 1
        c.updatedUnixUs = UTCClock.nowMicros()
        try CampaignStore.save(db, c)
        try CampaignStore.audit(ctx, "schedule", old: before, new: c)
        try CampaignStore.publish(ctx, "scheduled", c)
        return c
    }

    static func cancel(_ ctx: CallContext, _ req: Crm_Marketing_V1_CancelCampaignRequest) throws -> Campaign {
        let db = try ctx.database
        let before = try CampaignStore.require(db, req.id)
        if before.state == .cancelled { return before }
        guard before.state != .sent else {
            throw PluginError.failedPrecondition("id: campaign \(before.id) is SENT; a sent campaign cannot be cancelled")
        }
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "campaign \(before.id)")
        let now = UTCClock.nowMicros()
        try db.execute("""
            UPDATE marketing_campaign_recipients SET state = ?, skipped_reason = 'cancelled' WHERE campaign_id = ? AND state = ?
            """, [.integer(Campaigns.Recipient.skipped.rawValue), .integer(before.id),
                  .integer(Campaigns.Recipient.pending.rawValue)])
        // Messages delivery has not taken yet stay unsent; one being sent goes out.
        try db.execute("""
            UPDATE marketing_outbox SET state = ?, last_error = 'campaign cancelled' WHERE campaign_id = ? AND state = ?
            """, [.integer(Outbox.State.skipped.rawValue), .integer(before.id), .integer(Outbox.State.queued.rawValue)])
        var c = before
        c.state = .cancelled
        c.version += 1
        c.updatedUnixUs = now
        c.finishedUnixUs = now
        try CampaignStore.save(db, c)
        try CampaignStore.audit(ctx, "cancel", old: before, new: c)
        return c
    }

    // MARK: - Checks

    static func stateName(_ state: CampaignState) -> String {
        String(SegmentRules.protoName(state, prefix: "CAMPAIGN_STATE_").dropFirst("CAMPAIGN_STATE_".count))
    }

    /// Trims and checks the writable fields, and that the segment and
    /// templates exist (and the templates are live).
    static func validate(_ ctx: CallContext, _ db: Database, _ c: inout Campaign) throws {
        c.name = c.name.trimmedSpacesAndNewlines
        try Validate.required(c.name, "campaign.name")
        try Validate.maxLength(c.name, "campaign.name", Campaigns.maxNameLength)
        try Validate.positiveID(c.segmentID, "campaign.segment_id")
        guard c.sendAtUnixUs >= 0 else { throw PluginError.invalidArgument("campaign.send_at_unix_us must not be negative") }
        if c.variants.isEmpty {
            guard c.templateID != 0 else {
                throw PluginError.invalidArgument("campaign.template_id or campaign.variants is required")
            }
            try Validate.positiveID(c.templateID, "campaign.template_id")
            if c.testSharePercent != 0 || c.winnerMetric != .unspecified || c.winnerWaitUs != 0 {
                throw PluginError.invalidArgument("campaign.test_share_percent, winner_metric and winner_wait_us "
                    + "are for a campaign with variants")
            }
        } else {
            guard c.templateID == 0 else {
                throw PluginError.invalidArgument("campaign.template_id: give template_id or variants, not both")
            }
            guard (2...5).contains(c.variants.count) else {
                throw PluginError.invalidArgument("campaign.variants: 2 to 5 variants, not \(c.variants.count)")
            }
            var labels = Set<String>()
            for i in c.variants.indices {
                let field = "campaign.variants[\(i)]"
                c.variants[i].id = 0
                c.variants[i].label = c.variants[i].label.trimmedSpacesAndNewlines
                try Validate.required(c.variants[i].label, "\(field).label")
                try Validate.maxLength(c.variants[i].label, "\(field).label", Campaigns.maxLabelLength)
                guard labels.insert(Normalize.name(c.variants[i].label)).inserted else {
                    throw PluginError.invalidArgument("\(field).label: \"\(c.variants[i].label)\" is used twice")
                }
                try Validate.positiveID(c.variants[i].templateID, "\(field).template_id")
            }
            guard (1...50).contains(c.testSharePercent) else {
                throw PluginError.invalidArgument("campaign.test_share_percent must be 1 to 50, not \(c.testSharePercent)")
            }
            switch c.winnerMetric {
            case .opens, .clicks, .conversions: break
            default:
                throw PluginError.invalidArgument("campaign.winner_metric must be WINNER_METRIC_OPENS, _CLICKS or _CONVERSIONS")
            }
            guard (Campaigns.minWinnerWaitUs...Campaigns.maxWinnerWaitUs).contains(c.winnerWaitUs) else {
                throw PluginError.invalidArgument("campaign.winner_wait_us must be 1 second to 30 days (in microseconds)")
            }
        }
        _ = try SegmentMethods.require(ctx, db, c.segmentID, field: "campaign.segment_id")
        if c.variants.isEmpty {
            try requireLiveTemplate(db, c.templateID, field: "campaign.template_id")
        } else {
            for (i, v) in c.variants.enumerated() {
                try requireLiveTemplate(db, v.templateID, field: "campaign.variants[\(i)].template_id")
            }
        }
    }

    static func requireLiveTemplate(_ db: Database, _ id: Int64, field: String) throws {
        let t = try TemplateStore(db: db).require(id, field: field)
        guard t.deletedUnixUs == 0 else { throw PluginError.failedPrecondition("\(field): template \(id) is deleted") }
    }

    /// Renders the template for a sample person: a template that cannot be
    /// sent fails the schedule, not each recipient later.
    static func checkRenders(_ ctx: CallContext, _ db: Database, _ templateID: Int64) throws {
        try requireLiveTemplate(db, templateID, field: "template_id")
        var sample = Person()
        sample.id = 1
        sample.firstName = "Sample"
        sample.lastName = "Person"
        sample.emails = [.with { $0.address = "sample@example.invalid" }]
        do {
            _ = try Templates.render(ctx, db, templateID: templateID, person: sample, organization: nil,
                                     unsubscribeURL: "https://unsubscribe.invalid/check")
        } catch let error as PluginError {
            throw PluginError.failedPrecondition("template_id: template \(templateID) does not render: \(error.message)")
        }
    }
}
