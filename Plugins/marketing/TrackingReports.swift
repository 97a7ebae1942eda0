import CRMPluginKit
import MarketingContract

/// Delivery reports (DSNs, feedback loops, provider webhooks) found by the
/// Message-ID the message was sent with.
enum TrackingReports {
    static func reportDelivery(_ ctx: CallContext, _ req: Crm_Marketing_V1_ReportDeliveryRequest) throws -> Crm_Marketing_V1_ReportDeliveryResponse {
        var messageID = req.messageID.trimmedSpaces
        if messageID.hasPrefix("<") && messageID.hasSuffix(">") && messageID.count >= 2 {
            messageID = String(messageID.dropFirst().dropLast())
        }
        guard !messageID.isEmpty else { throw PluginError.invalidArgument("message_id is required") }
        try Validate.maxLength(messageID, "message_id", 998)
        guard [.delivered, .bounced, .complained].contains(req.kind) else {
            throw PluginError.invalidArgument("kind must be ENGAGEMENT_KIND_DELIVERED, _BOUNCED or _COMPLAINED")
        }
        try Validate.maxLength(req.detail, "detail", 2000)
        let db = try ctx.database
        let (previous, claim) = try Marketing.idempotency.check(db, method: "ReportDelivery", req, key: \.idempotencyKey)
        guard let row = try db.query("""
            SELECT id, person_id, campaign_id, variant_id, to_address FROM marketing_outbox
            WHERE message_id = ? OR message_id = ? LIMIT 1
            """, [.text(messageID), .text("<\(messageID)>")]).first, let outboxID = row[0].int else {
            throw PluginError.notFound("no message with Message-ID <\(messageID)>")
        }
        let personID = row[1].int ?? 0
        var response = Crm_Marketing_V1_ReportDeliveryResponse()
        response.outboxID = outboxID
        response.personID = personID
        if previous != nil { return response }
        // One report of a kind per message: DSNs and feedback loops repeat themselves.
        let alreadyRecorded = try !db.query("SELECT 1 FROM marketing_engagement WHERE outbox_id = ? AND kind = ? LIMIT 1",
                                            [.integer(outboxID), .integer(Int64(req.kind.rawValue))]).isEmpty
        if alreadyRecorded {
            try Marketing.idempotency.record(db, claim, resultID: outboxID)
            return response
        }
        let entry = Engagement.Entry(outboxID: outboxID, personID: personID, campaignID: row[2].int ?? 0,
                                     variantID: row[3].int ?? 0, kind: req.kind, detail: req.detail)
        let id = try Engagement.record(db, entry)
        if req.kind != .delivered {
            try Consent.recordBounce(ctx, db, personID: personID, address: row[4].string ?? "",
                                     complaint: req.kind == .complained, detail: req.detail)
        }
        try Tracking.publish(ctx, db, entry, id: id)
        try Marketing.idempotency.record(db, claim, resultID: outboxID)
        response.recorded = true
        return response
    }
}
