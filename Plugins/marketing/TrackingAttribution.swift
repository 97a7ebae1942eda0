import CRMPluginKit
import SalesContract

/// Conversions: when sales publishes a won opportunity for a person, the
/// campaigns whose messages were sent to them within the window before the
/// win share it as first touch (the earliest) and last touch (the latest).
/// Without the sales module the topic never comes and nothing is attributed.
enum TrackingAttribution {
    static let wonTopic = "sales.opportunity.won"
    static let defaultWindowDays: Int64 = 30

    static func onOpportunityWon(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        guard let change = try? event.decode(Crm_Sales_V1_OpportunityEvent.self) else {
            ctx.host.log(.warning, "event \(event.sequence) (\(event.topic)) does not decode as an OpportunityEvent; attribution skipped it")
            return
        }
        let opportunity = change.opportunity
        guard opportunity.id > 0, opportunity.personID > 0 else { return }
        // A redelivered event, or a won opportunity reopened and won again: attributed once.
        guard try db.query("SELECT 1 FROM marketing_attributions WHERE opportunity_id = ?",
                           [.integer(opportunity.id)]).isEmpty else { return }
        let wonUs = opportunity.closedUnixUs > 0 ? opportunity.closedUnixUs : UTCClock.nowMicros()
        let since = wonUs - windowDays(ctx.host) * 86_400_000_000
        let sent = try db.query("""
            SELECT campaign_id, variant_id, outbox_id, at_us FROM marketing_engagement
            WHERE person_id = ? AND kind = ? AND campaign_id > 0 AND at_us >= ? AND at_us <= ? ORDER BY at_us, id
            """, [.integer(opportunity.personID), .integer(Int64(EngagementKind.sent.rawValue)), .integer(since), .integer(wonUs)])
        let amount = min(max(opportunity.amount.amountMinor, 0), 1_000_000_000_000_000)
        let currency = String(opportunity.amount.currency.prefix(3))
        let first = sent.first, last = sent.last
        try db.execute("""
            INSERT INTO marketing_attributions (opportunity_id, person_id, won_us, amount_minor, currency,
                first_campaign_id, last_campaign_id) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(opportunity.id), .integer(opportunity.personID), .integer(wonUs), .integer(amount),
                  .text(currency), first?[0] ?? .integer(0), last?[0] ?? .integer(0)])
        for (touch, row) in [("first_touch", first), ("last_touch", last)] {
            guard let row else { continue }
            let entry = Engagement.Entry(outboxID: row[2].int ?? 0, personID: opportunity.personID,
                                         campaignID: row[0].int ?? 0, variantID: row[1].int ?? 0, kind: .converted,
                                         atUs: wonUs, detail: touch, amountMinor: amount, currency: currency)
            try Tracking.publish(ctx, db, entry, id: try Engagement.record(db, entry))
        }
    }

    /// `attribution_window_days`: 1 to 365, default 30.
    static func windowDays(_ host: Host) -> Int64 {
        guard let text = host.config("attribution_window_days")?.trimmedSpaces, !text.isEmpty else { return defaultWindowDays }
        guard let days = Int64(text), (1...365).contains(days) else {
            host.log(.warning, "attribution_window_days \"\(text)\" is not a whole number of days in [1, 365]; using \(defaultWindowDays)")
            return defaultWindowDays
        }
        return days
    }
}
