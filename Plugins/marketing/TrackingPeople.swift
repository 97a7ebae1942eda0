import CRMPluginKit
import MarketingContract
import SwiftProtobuf

/// What tracking keeps about a person through contacts' merges and
/// erasures, and its part of their GDPR export: their engagement and the
/// attributions of their won opportunities.
enum TrackingPeople {
    static func merged(_ db: Database, survivor: Int64, merged: Int64) throws {
        for table in ["marketing_engagement", "marketing_attributions", "marketing_outbox"] {
            try db.execute("UPDATE \(table) SET person_id = ? WHERE person_id = ?", [.integer(survivor), .integer(merged)])
        }
    }

    /// Keeps the counts (the rows stay, under the erased id) and drops what
    /// identifies the person: addresses, bodies, clicked URLs. A message not
    /// yet sent is never sent.
    static func erased(_ db: Database, person: Int64) throws {
        try db.execute("UPDATE marketing_engagement SET detail = '' WHERE person_id = ? AND kind = ?",
                       [.integer(person), .integer(Int64(EngagementKind.clicked.rawValue))])
        try db.execute("UPDATE marketing_outbox SET state = ? WHERE person_id = ? AND state = ?",
                       [.integer(Outbox.State.skipped.rawValue), .integer(person), .integer(Outbox.State.queued.rawValue)])
        try db.execute("""
            UPDATE marketing_outbox SET to_address = '', subject = '', html_body = '', text_body = '', unsubscribe_url = '',
                last_error = '' WHERE person_id = ?
            """, [.integer(person)])
    }

    static func export(_ db: Database, person: Int64, _ add: (any SwiftProtobuf.Message) throws -> Void) throws {
        for row in try db.query("""
            SELECT id, outbox_id, person_id, campaign_id, variant_id, kind, machine, machine_reason, at_us, detail,
                amount_minor, currency FROM marketing_engagement WHERE person_id = ? ORDER BY id
            """, [.integer(person)]) {
            try add(TrackingLists.entry(row))
        }
        for attribution in try TrackingLists.attributions(db, "WHERE a.person_id = ?", [.integer(person)]) { try add(attribution) }
    }
}
