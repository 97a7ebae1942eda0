import B2BContract
import CRMPluginKit

/// What envelopes and contracts follow of sales' and contacts' events: the
/// opportunity's owner (record scope), merges (references re-pointed) and
/// erasure (the person unlinked, their records' audit entries and events
/// redacted). Each runs in the event's write transaction; a repeat finds
/// nothing left to change.
enum ContractFollowers {
    static func ownerChanged(_ ctx: CallContext, opportunity: Int64, owner: String) throws {
        guard opportunity > 0 else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for (table, entity) in [("b2b_envelopes", EnvelopeStore.entity), ("b2b_contracts", ContractStore.entity)] {
            for row in try db.query("SELECT id, owner FROM \(table) WHERE opportunity_id = ? AND owner <> ? ORDER BY id",
                                    [.integer(opportunity), .text(owner)]) {
                try db.execute("UPDATE \(table) SET owner = ?, version = version + 1, updated_us = ? WHERE id = ?",
                               [.text(owner), .integer(now), .integer(row.int(0))])
                try ctx.audit(AuditEntry(entity: entity, recordID: String(row.int(0)), action: "owner", owner: ownerOrNil(owner),
                                         changes: [FieldChange("owner", old: row.text(1), new: owner)]))
            }
        }
    }

    /// The columns naming a person or an organization, per table.
    static let personColumns = [("b2b_envelopes", "signer_person_id", EnvelopeStore.entity),
                                ("b2b_contracts", "person_id", ContractStore.entity)]
    static let organizationColumns = [("b2b_contracts", "organization_id", ContractStore.entity)]

    static func personMerged(_ ctx: CallContext, merged: Int64, survivor: Int64) throws {
        try repoint(ctx, personColumns, from: merged, to: survivor)
    }

    static func organizationMerged(_ ctx: CallContext, merged: Int64, survivor: Int64) throws {
        try repoint(ctx, organizationColumns, from: merged, to: survivor)
    }

    static func repoint(_ ctx: CallContext, _ columns: [(String, String, String)], from old: Int64, to new: Int64) throws {
        guard old > 0, new > 0, old != new else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for (table, column, entity) in columns {
            for row in try db.query("SELECT id, owner FROM \(table) WHERE \(column) = ? ORDER BY id", [.integer(old)]) {
                try ctx.audit(AuditEntry(entity: entity, recordID: String(row.int(0)), action: "merge", owner: ownerOrNil(row.text(1)),
                                         changes: [FieldChange(column, old: String(old), new: String(new))]))
            }
            try db.execute("UPDATE \(table) SET \(column) = ?, version = version + 1, updated_us = ? WHERE \(column) = ?",
                           [.integer(new), .integer(now), .integer(old)])
        }
    }

    /// Erasure: envelopes and contracts naming the person no longer do.
    /// What was signed stays (the document names no person).
    static func erased(_ ctx: CallContext, person: Int64) throws {
        guard person > 0 else { return }
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for (table, column, entity) in personColumns {
            for row in try db.query("SELECT id, owner FROM \(table) WHERE \(column) = ? ORDER BY id", [.integer(person)]) {
                try db.execute("UPDATE \(table) SET \(column) = 0, version = version + 1, updated_us = ? WHERE id = ?",
                               [.integer(now), .integer(row.int(0))])
                try ctx.audit(AuditEntry(entity: entity, recordID: String(row.int(0)), action: "erase", owner: ownerOrNil(row.text(1)),
                                         changes: [FieldChange(column, old: String(person), new: nil)]))
                try ctx.redact(entity: entity, recordID: String(row.int(0)))
            }
        }
    }
}
