import CRMPluginKit
import Foundation
import MarketingContract

/// Sending, off the RPC path: the RunCampaigns job calls AdvanceCampaigns
/// in-process, each call one short write transaction doing one step of one
/// campaign. Every step is idempotent under replay: a step's effects and the
/// state saying it is done commit together, the recipients table holds one
/// row per person, and the outbox key "campaign:<campaign>:<person>" queues
/// at most one message per person whatever the variant.
enum CampaignSending {
    /// A job run stops calling AdvanceCampaigns after this, so shutdown never waits long.
    static let runBudget: TimeInterval = 2

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "RunCampaigns", run)
        def.unary(Marketing.service + "AdvanceCampaigns", advance)
    }

    static func run(_ ctx: CallContext, _ req: Crm_Marketing_V1_RunCampaignsRequest) throws -> Crm_Marketing_V1_RunCampaignsResponse {
        let started = Date()
        var response = Crm_Marketing_V1_RunCampaignsResponse()
        let request = try Crm_Marketing_V1_AdvanceCampaignsRequest().serializedBytes() as [UInt8]
        // Reading first: an idle run (most of them) never takes the writer.
        guard try hasWork(try ctx.database) else { return response }
        while Date().timeIntervalSince(started) < runBudget {
            let bytes = try ctx.host.invoke(Marketing.service + "AdvanceCampaigns", request: request, parent: ctx)
            let step = try Crm_Marketing_V1_AdvanceCampaignsResponse(serializedBytes: bytes)
            guard step.worked else { break }
            response.steps += 1
        }
        return response
    }

    /// A campaign's audience is snapshotted only once its segment's build is
    /// complete (a partial build would leave people out).
    static let segmentBuilt = "NOT EXISTS (SELECT 1 FROM marketing_segments s WHERE s.id = c.segment_id AND s.build_state = 2)"

    static func hasWork(_ db: Database) throws -> Bool {
        func state(_ s: CampaignState) -> SQLValue { .integer(Int64(s.rawValue)) }
        let now = SQLValue.integer(UTCClock.nowMicros())
        return try !db.query("""
            SELECT 1 FROM marketing_campaigns c WHERE (state = ? AND send_at_us <= ? AND \(segmentBuilt)) OR state IN (?, ?)
                OR (state = ? AND test_ends_us <= ?) LIMIT 1
            """, [state(.scheduled), now, state(.sending), state(.sendingWinner), state(.testing), now]).isEmpty
    }

    static func advance(_ ctx: CallContext, _ req: Crm_Marketing_V1_AdvanceCampaignsRequest) throws
        -> Crm_Marketing_V1_AdvanceCampaignsResponse {
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        var response = Crm_Marketing_V1_AdvanceCampaignsResponse()
        func state(_ s: CampaignState) -> SQLValue { .integer(Int64(s.rawValue)) }
        if let id = try db.query("""
            SELECT id FROM marketing_campaigns c WHERE state = ? AND send_at_us <= ? AND \(segmentBuilt)
            ORDER BY send_at_us, id LIMIT 1
            """, [state(.scheduled), .integer(now)]).first?[0].int {
            try start(ctx, db, try CampaignStore.require(db, id), now: now)
            response.worked = true
            response.campaignID = id
        } else if let id = try db.query("""
            SELECT id FROM marketing_campaigns WHERE state IN (?, ?) ORDER BY id LIMIT 1
            """, [state(.sending), state(.sendingWinner)]).first?[0].int {
            let (queued, skipped) = try queueBatch(ctx, db, try CampaignStore.require(db, id), now: now)
            response.worked = true
            response.campaignID = id
            response.queued = queued
            response.skipped = skipped
        } else if let id = try db.query("""
            SELECT id FROM marketing_campaigns WHERE state = ? AND test_ends_us <= ? ORDER BY test_ends_us, id LIMIT 1
            """, [state(.testing), .integer(now)]).first?[0].int {
            try chooseWinner(ctx, db, try CampaignStore.require(db, id), now: now)
            response.worked = true
            response.campaignID = id
        }
        return response
    }

    /// A due SCHEDULED campaign: the segment's members now become the
    /// recipients. Test and rest and the variants are assigned by a hash of
    /// the campaign and person ids, so the split is deterministic and evenly
    /// spread over person ids. One INSERT ... SELECT: a 100,000-person
    /// snapshot is a fraction of a second on the writer.
    static func start(_ ctx: CallContext, _ db: Database, _ before: Campaign, now: Int64) throws {
        let id = before.id
        let variants = try CampaignStore.variants(db, id)
        try db.execute("""
            INSERT OR IGNORE INTO marketing_campaign_recipients (campaign_id, person_id, hash, test, variant_id, state,
                outbox_id, skipped_reason, queued_us)
            SELECT ?1, person_id, ((person_id * 2654435761) + (?1 * 40503)) % 4294967291, 0, 0, ?2, 0, '', 0
            FROM marketing_segment_members WHERE segment_id = ?3
            """, [.integer(id), .integer(Campaigns.Recipient.pending.rawValue), .integer(before.segmentID)])
        let audience = try db.query("SELECT COUNT(*) FROM marketing_campaign_recipients WHERE campaign_id = ?",
                                    [.integer(id)]).first?[0].int ?? 0
        if variants.count == 1 {
            try db.execute("UPDATE marketing_campaign_recipients SET variant_id = ? WHERE campaign_id = ?",
                           [.integer(variants[0].id), .integer(id)])
        } else if audience > 0 {
            // At least one person per variant when the audience allows.
            let share = audience * Int64(before.testSharePercent) / 100
            let testCount = min(audience, max(share, Int64(variants.count)))
            let cases = variants.enumerated().map { "WHEN \($0.offset) THEN \($0.element.id)" }.joined(separator: " ")
            try db.execute("""
                UPDATE marketing_campaign_recipients AS c
                SET test = 1, variant_id = CASE ranked.r % ?2 \(cases) END
                FROM (SELECT person_id, ROW_NUMBER() OVER (ORDER BY hash, person_id) - 1 AS r
                      FROM marketing_campaign_recipients WHERE campaign_id = ?1) AS ranked
                WHERE c.campaign_id = ?1 AND c.person_id = ranked.person_id AND ranked.r < ?3
                """, [.integer(id), .integer(Int64(variants.count)), .integer(testCount)])
        }
        var c = before
        c.state = .sending
        c.version += 1
        c.updatedUnixUs = now
        try CampaignStore.save(db, c)
        try db.execute("UPDATE marketing_campaigns SET audience = ?, started_us = ? WHERE id = ?",
                       [.integer(audience), .integer(now), .integer(id)])
        c.audience = audience
        c.startedUnixUs = now
        try CampaignStore.audit(ctx, "start", old: before, new: c)
    }

    /// Queues up to Campaigns.batchSize pending recipients of one variant;
    /// with none left, moves the campaign on (TESTING or SENT).
    static func queueBatch(_ ctx: CallContext, _ db: Database, _ c: Campaign, now: Int64) throws -> (Int64, Int64) {
        guard let variantID = try db.query("""
            SELECT variant_id FROM marketing_campaign_recipients WHERE campaign_id = ? AND state = ? AND variant_id > 0 LIMIT 1
            """, [.integer(c.id), .integer(Campaigns.Recipient.pending.rawValue)]).first?[0].int else {
            try finishPhase(ctx, db, c, now: now)
            return (0, 0)
        }
        guard let templateID = try db.query("SELECT template_id FROM marketing_campaign_variants WHERE id = ?",
                                            [.integer(variantID)]).first?[0].int else {
            throw PluginError(.internal, "campaign \(c.id): recipients name variant \(variantID), which is gone")
        }
        let people = try CampaignAudience.batch(ctx, db, campaignID: c.id, variantID: variantID, templateID: templateID,
                                                limit: Campaigns.batchSize(ctx.host))
        var queued: Int64 = 0
        var skipped: Int64 = 0
        let markQueued = try db.prepare("""
            UPDATE marketing_campaign_recipients SET state = ?, outbox_id = ?, queued_us = ? WHERE campaign_id = ? AND person_id = ?
            """)
        defer { markQueued.finalize() }
        let markSkipped = try db.prepare("""
            UPDATE marketing_campaign_recipients SET state = ?, skipped_reason = ? WHERE campaign_id = ? AND person_id = ?
            """)
        defer { markSkipped.finalize() }
        func skip(_ person: Int64, _ reason: String) throws {
            try markSkipped.reset()
            try markSkipped.bind([.integer(Campaigns.Recipient.skipped.rawValue), .text(reason), .integer(c.id), .integer(person)])
            while try markSkipped.step() {}
            skipped += 1
        }
        for entry in people {
            guard let person = entry.person else { try skip(entry.personID, "person_gone"); continue }
            let address = person.emails.first?.address ?? ""
            guard !address.isEmpty else { try skip(entry.personID, "no_email"); continue }
            guard try Consent.allowsSending(db, personID: entry.personID, channel: .email, address: address) else {
                try skip(entry.personID, "no_consent"); continue
            }
            if let holder = try claimAddress(db, campaignID: c.id, address: address, personID: entry.personID) {
                try skip(entry.personID, "duplicate_address: person \(holder) gets it"); continue
            }
            let unsubscribe = try Tracking.unsubscribeURL(ctx, db, personID: entry.personID, campaignID: c.id)
            let rendered: RenderedEmail
            do {
                rendered = try Templates.render(ctx, db, templateID: templateID, person: person,
                                                organization: entry.organization, unsubscribeURL: unsubscribe)
            } catch let error as PluginError {
                try skip(entry.personID, "render_failed: \(error.message)")
                continue
            }
            let key = "campaign:\(c.id):\(entry.personID)"
            let email = OutgoingEmail(dedupeKey: key, personID: entry.personID, to: address, subject: rendered.subject,
                                      html: rendered.html, text: rendered.text, purpose: "campaign", campaignID: c.id,
                                      variantID: variantID, tracked: true, unsubscribeURL: unsubscribe,
                                      requiresConsent: true)
            guard let outboxID = try Outbox.enqueueOrFind(db, email) else {
                throw PluginError(.internal, "outbox has no message under \(key) after queueing it")
            }
            try markQueued.reset()
            try markQueued.bind([.integer(Campaigns.Recipient.queued.rawValue), .integer(outboxID), .integer(now),
                                 .integer(c.id), .integer(entry.personID)])
            while try markQueued.step() {}
            queued += 1
        }
        return (queued, skipped)
    }

    /// One message per address per campaign, whatever the variant: people
    /// who share an address (a family, a shared inbox, duplicates not yet
    /// merged) get one copy, the first queued. Nil if `personID` holds the
    /// address (now, or already: a replay); else the person who holds it.
    static func claimAddress(_ db: Database, campaignID: Int64, address: String, personID: Int64) throws -> Int64? {
        let key = address.trimmedSpaces.lowercased()
        try db.execute("""
            INSERT INTO marketing_campaign_addresses (campaign_id, address, person_id) VALUES (?, ?, ?)
            ON CONFLICT (campaign_id, address) DO NOTHING
            """, [.integer(campaignID), .text(key), .integer(personID)])
        guard db.changes == 0 else { return nil }
        let holder = try db.query("SELECT person_id FROM marketing_campaign_addresses WHERE campaign_id = ? AND address = ?",
                                  [.integer(campaignID), .text(key)]).first?[0].int ?? 0
        return holder == personID ? nil : holder
    }

    /// Every recipient with a variant is queued or skipped: an A/B campaign
    /// with people left waits for its winner, anything else is SENT.
    static func finishPhase(_ ctx: CallContext, _ db: Database, _ before: Campaign, now: Int64) throws {
        var c = before
        c.version += 1
        c.updatedUnixUs = now
        if before.state == .sending && !before.variants.isEmpty {
            c.state = .testing
            c.testEndsUnixUs = now + before.winnerWaitUs
            try CampaignStore.save(db, c)
            try db.execute("UPDATE marketing_campaigns SET test_ends_us = ? WHERE id = ?",
                           [.integer(c.testEndsUnixUs), .integer(c.id)])
            try CampaignStore.audit(ctx, "test_sent", old: before, new: c)
            return
        }
        c.state = .sent
        c.finishedUnixUs = now
        try CampaignStore.save(db, c)
        try CampaignStore.audit(ctx, "sent", old: before, new: c)
        try CampaignStore.publish(ctx, "sent", c)
    }

    /// A TESTING campaign whose wait is over: the winner goes to the rest.
    static func chooseWinner(_ ctx: CallContext, _ db: Database, _ before: Campaign, now: Int64) throws {
        let (winner, reason) = try CampaignResults.winner(db, before)
        try db.execute("""
            UPDATE marketing_campaign_recipients SET variant_id = ? WHERE campaign_id = ? AND test = 0 AND variant_id = 0
            """, [.integer(winner), .integer(before.id)])
        var c = before
        c.state = .sendingWinner
        c.winnerVariantID = winner
        c.version += 1
        c.updatedUnixUs = now
        try CampaignStore.save(db, c)
        try db.execute("UPDATE marketing_campaigns SET winner_variant_id = ?, winner_reason = ? WHERE id = ?",
                       [.integer(winner), .text(reason), .integer(c.id)])
        try CampaignStore.audit(ctx, "winner", old: before, new: c)
        try CampaignStore.publish(ctx, "winner_chosen", c, reason: reason)
    }
}
