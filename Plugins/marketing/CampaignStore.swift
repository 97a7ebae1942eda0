import CRMPluginKit
import MarketingContract

/// Reading and writing campaign rows and their variants, and their audit fields.
enum CampaignStore {
    static let columns = """
        id, name, segment_id, test_share_percent, winner_metric, winner_wait_us, send_at_us, state, version, audience,
        winner_variant_id, created_us, updated_us, started_us, test_ends_us, finished_us
        """

    static func load(_ db: Database, _ id: Int64) throws -> Campaign? {
        guard let row = try db.query("SELECT \(columns) FROM marketing_campaigns WHERE id = ?", [.integer(id)]).first else {
            return nil
        }
        return try decode(db, row)
    }

    static func require(_ db: Database, _ id: Int64, field: String = "id") throws -> Campaign {
        try Validate.positiveID(id, field)
        guard let c = try load(db, id) else { throw PluginError.notFound("\(field): campaign \(id) does not exist") }
        return c
    }

    static func decode(_ db: Database, _ row: [SQLValue]) throws -> Campaign {
        var c = Campaign()
        c.id = row[0].int ?? 0
        c.name = row[1].string ?? ""
        c.segmentID = row[2].int ?? 0
        c.testSharePercent = Int32(clamping: row[3].int ?? 0)
        c.winnerMetric = Crm_Marketing_V1_WinnerMetric(rawValue: Int(clamping: row[4].int ?? 0)) ?? .unspecified
        c.winnerWaitUs = row[5].int ?? 0
        c.sendAtUnixUs = row[6].int ?? 0
        c.state = CampaignState(rawValue: Int(clamping: row[7].int ?? 0)) ?? .unspecified
        c.version = row[8].int ?? 0
        c.audience = row[9].int ?? 0
        c.winnerVariantID = row[10].int ?? 0
        c.createdUnixUs = row[11].int ?? 0
        c.updatedUnixUs = row[12].int ?? 0
        c.startedUnixUs = row[13].int ?? 0
        c.testEndsUnixUs = row[14].int ?? 0
        c.finishedUnixUs = row[15].int ?? 0
        let variants = try self.variants(db, c.id)
        if variants.count == 1 && variants[0].label.isEmpty {
            c.templateID = variants[0].templateID
        } else {
            c.variants = variants
        }
        return c
    }

    /// The campaign's variant rows in order (one with an empty label without A/B).
    static func variants(_ db: Database, _ campaignID: Int64) throws -> [Crm_Marketing_V1_CampaignVariant] {
        try db.query("SELECT id, label, template_id FROM marketing_campaign_variants WHERE campaign_id = ? ORDER BY position",
                     [.integer(campaignID)]).map { row in
            .with {
                $0.id = row[0].int ?? 0
                $0.label = row[1].string ?? ""
                $0.templateID = row[2].int ?? 0
            }
        }
    }

    static func insert(_ db: Database, _ c: inout Campaign) throws {
        c.id = try db.execute("""
            INSERT INTO marketing_campaigns (name, segment_id, test_share_percent, winner_metric, winner_wait_us, send_at_us,
                state, version, audience, winner_variant_id, winner_reason, created_us, updated_us, started_us,
                test_ends_us, finished_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', ?, ?, 0, 0, 0)
            """, [.text(c.name), .integer(c.segmentID), .integer(Int64(c.testSharePercent)),
                  .integer(Int64(c.winnerMetric.rawValue)), .integer(c.winnerWaitUs), .integer(c.sendAtUnixUs),
                  .integer(Int64(c.state.rawValue)), .integer(c.version), .integer(c.createdUnixUs),
                  .integer(c.updatedUnixUs)]).lastInsertID
        try replaceVariants(db, &c)
    }

    /// Saves the fields an update or schedule changes.
    static func save(_ db: Database, _ c: Campaign) throws {
        try db.execute("""
            UPDATE marketing_campaigns SET name = ?, segment_id = ?, test_share_percent = ?, winner_metric = ?,
                winner_wait_us = ?, send_at_us = ?, state = ?, version = ?, updated_us = ?, finished_us = ? WHERE id = ?
            """, [.text(c.name), .integer(c.segmentID), .integer(Int64(c.testSharePercent)),
                  .integer(Int64(c.winnerMetric.rawValue)), .integer(c.winnerWaitUs), .integer(c.sendAtUnixUs),
                  .integer(Int64(c.state.rawValue)), .integer(c.version), .integer(c.updatedUnixUs),
                  .integer(c.finishedUnixUs), .integer(c.id)])
    }

    /// Replaces the variant rows with `c`'s template or variants (only
    /// before sending, when no recipient names a variant yet); sets their ids.
    static func replaceVariants(_ db: Database, _ c: inout Campaign) throws {
        try db.execute("DELETE FROM marketing_campaign_variants WHERE campaign_id = ?", [.integer(c.id)])
        let given = c.variants.isEmpty
            ? [Crm_Marketing_V1_CampaignVariant.with { $0.templateID = c.templateID }]
            : c.variants
        var saved: [Crm_Marketing_V1_CampaignVariant] = []
        for (position, v) in given.enumerated() {
            var v = v
            v.id = try db.execute("""
                INSERT INTO marketing_campaign_variants (campaign_id, position, label, template_id) VALUES (?, ?, ?, ?)
                """, [.integer(c.id), .integer(Int64(position)), .text(v.label), .integer(v.templateID)]).lastInsertID
            saved.append(v)
        }
        if !c.variants.isEmpty { c.variants = saved }
    }

    static func fields(_ c: Campaign) -> [String: String] {
        var out: [String: String] = ["name": c.name, "segment_id": String(c.segmentID),
                                     "state": SegmentRules.protoName(c.state, prefix: "CAMPAIGN_STATE_"), "send_at_unix_us": String(c.sendAtUnixUs)]
        if c.templateID != 0 { out["template_id"] = String(c.templateID) }
        if !c.variants.isEmpty {
            out["variants"] = c.variants.map { "\($0.label)=\($0.templateID)" }.joined(separator: ",")
            out["test_share_percent"] = String(c.testSharePercent)
            out["winner_metric"] = SegmentRules.protoName(c.winnerMetric, prefix: "WINNER_METRIC_")
            out["winner_wait_us"] = String(c.winnerWaitUs)
        }
        if c.winnerVariantID != 0 { out["winner_variant_id"] = String(c.winnerVariantID) }
        return out
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Campaign?, new: Campaign) throws {
        try ctx.audit(AuditEntry(entity: Campaigns.entity, recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func publish(_ ctx: CallContext, _ topic: String, _ c: Campaign, reason: String = "") throws {
        var event = Crm_Marketing_V1_CampaignEvent()
        event.campaignID = c.id
        event.name = c.name
        event.state = c.state
        event.sendAtUnixUs = c.sendAtUnixUs
        event.audience = c.audience
        event.winnerVariantID = c.winnerVariantID
        event.winnerReason = reason
        try ctx.publish("marketing.campaign.\(topic)", event)
    }
}
