import B2BContract
import CRMPluginKit
import ContactsContract

/// What deals and committees follow of contacts' events. Each arrives in a
/// write transaction with the delivery position; a repeat finds nothing
/// left to change.
enum DealContacts {
    /// A person moved organization: their seats' organization follows (the
    /// coverage check then sees who has left the buying organization).
    static func personUpdated(_ ctx: CallContext, _ person: Crm_Contacts_V1_Person) throws {
        guard person.id > 0 else { return }
        let db = try ctx.database
        for row in try db.query("""
            SELECT c.deal_id, c.person_organization_id FROM b2b_committee c WHERE c.person_id = ? AND c.person_organization_id <> ?
            ORDER BY c.deal_id
            """, [.integer(person.id), .integer(person.organizationID)]) {
            guard let deal = try DealStore.load(db, row.int(0)) else { continue }
            try db.execute("UPDATE b2b_committee SET person_organization_id = ?, updated_us = ? WHERE deal_id = ? AND person_id = ?",
                           [.integer(person.organizationID), .integer(UTCClock.nowMicros()), .integer(deal.id), .integer(person.id)])
            try ctx.audit(AuditEntry(entity: Committee.entity, recordID: Committee.recordID(deal.id, person.id), action: "follow",
                                     owner: ownerOrNil(deal.owner),
                                     changes: [FieldChange("person_organization_id", old: String(row.int(1)),
                                                           new: String(person.organizationID))]))
        }
    }

    /// A person merge: the survivor takes the merged person's seats. Where
    /// both sat on one deal the survivor keeps their seat and gains the
    /// other's roles (and primary), so no deal has the person twice.
    static func personMerged(_ ctx: CallContext, merged: Int64, survivor: Crm_Contacts_V1_Person) throws {
        guard merged > 0, survivor.id > 0, merged != survivor.id else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT deal_id, roles, is_primary FROM b2b_committee WHERE person_id = ? ORDER BY deal_id",
                                [.integer(merged)]) {
            guard let deal = try DealStore.load(db, row.int(0)) else { continue }
            let lost = try Committee.seat(db, deal, merged)
            let kept = try Committee.seat(db, deal, survivor.id)
            try db.execute("DELETE FROM b2b_committee WHERE deal_id = ? AND person_id = ?", [.integer(deal.id), .integer(merged)])
            if kept != nil {
                try db.execute("""
                    UPDATE b2b_committee SET roles = roles | ?, is_primary = CASE WHEN ? = 1 THEN 1 ELSE is_primary END, updated_us = ?
                    WHERE deal_id = ? AND person_id = ?
                    """, [.integer(row.int(1)), .integer(row.int(2)), .integer(now), .integer(deal.id), .integer(survivor.id)])
            } else {
                try db.execute("""
                    INSERT INTO b2b_committee (\(Committee.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(deal.id), .integer(survivor.id), .integer(row.int(1)),
                          .integer(Int64(lost?.influence.rawValue ?? 0)), .integer(Int64(lost?.stance.rawValue ?? 0)),
                          .integer(row.int(2)), .integer(survivor.organizationID), .integer(lost?.createdUnixUs ?? now), .integer(now)])
            }
            try Committee.audit(ctx, "merge", deal: deal, person: merged, old: lost, new: nil)
            try Committee.audit(ctx, "merge", deal: deal, person: survivor.id, old: kept, new: try Committee.seat(db, deal, survivor.id))
        }
        try repointDeals(ctx, column: "person_id", from: merged, to: survivor.id)
    }

    /// An organization merge: deals naming the merged organization name the
    /// survivor, and so do the seats of the people contacts moved to it.
    static func organizationMerged(_ ctx: CallContext, merged: Int64, survivor: Int64) throws {
        guard merged > 0, survivor > 0, merged != survivor else { return }
        let db = try ctx.database
        try db.execute("UPDATE b2b_committee SET person_organization_id = ? WHERE person_organization_id = ?",
                       [.integer(survivor), .integer(merged)])
        try repointDeals(ctx, column: "buying_organization_id", from: merged, to: survivor)
        try repointDeals(ctx, column: "selling_organization_id", from: merged, to: survivor)
    }

    static func repointDeals(_ ctx: CallContext, column: String, from old: Int64, to new: Int64) throws {
        let db = try ctx.database
        for row in try db.query("SELECT id, owner FROM b2b_deals WHERE \(column) = ? ORDER BY id", [.integer(old)]) {
            try ctx.audit(AuditEntry(entity: "b2b.deal", recordID: String(row.int(0)), action: "merge", owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange(column, old: String(old), new: String(new))]))
        }
        try db.execute("UPDATE b2b_deals SET \(column) = ?, version = version + 1, updated_us = ? WHERE \(column) = ?",
                       [.integer(new), .integer(UTCClock.nowMicros()), .integer(old)])
    }

    /// Erasure: the person's seats go (the deals stay), their audit entries
    /// and events are redacted; deals naming them as the opportunity's
    /// person are unlinked (sales unlinks the opportunity itself).
    static func erased(_ ctx: CallContext, person: Int64) throws {
        guard person > 0 else { return }
        let db = try ctx.database
        for row in try db.query("SELECT deal_id FROM b2b_committee WHERE person_id = ? ORDER BY deal_id", [.integer(person)]) {
            guard let deal = try DealStore.load(db, row.int(0)) else { continue }
            let old = try Committee.seat(db, deal, person)
            try db.execute("DELETE FROM b2b_committee WHERE deal_id = ? AND person_id = ?", [.integer(deal.id), .integer(person)])
            try Committee.audit(ctx, "erase", deal: deal, person: person, old: old, new: nil)
            try ctx.redact(entity: Committee.entity, recordID: Committee.recordID(deal.id, person))
        }
        for row in try db.query("SELECT id, owner FROM b2b_deals WHERE person_id = ? ORDER BY id", [.integer(person)]) {
            try db.execute("UPDATE b2b_deals SET person_id = 0, version = version + 1, updated_us = ? WHERE id = ?",
                           [.integer(UTCClock.nowMicros()), .integer(row.int(0))])
            try ctx.audit(AuditEntry(entity: "b2b.deal", recordID: String(row.int(0)), action: "erase", owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange("person_id", old: String(person), new: nil)]))
            try ctx.redact(entity: "b2b.deal", recordID: String(row.int(0)))
        }
    }
}
