import CRMPluginKit
import ContactsContract

/// Follows contacts: a merge moves the merged person's (or organization's)
/// accounts, and a person's house-account memberships, to the survivor. A survivor that had a points account then
/// has two: the ledger never moves value on its own (move it with
/// postings if wanted); CreateAccount's one-per-person rule is for new
/// accounts. An erasure keeps every amount, since the ledger
/// must stay balanced and auditable, and drops the link: the person's
/// accounts lose person_id and label, and their audit values and events
/// are redacted. Each event runs in a transaction with its delivery
/// position; a repeat finds nothing left to change.
enum LoyaltyContacts {
    static func register(on def: PluginDefinition) {
        def.subscribes("contacts.contact.merged")
        def.subscribes("contacts.contact.erased")
        def.subscribes("contacts.organization.merged")
        def.onEvent = handle
    }

    static func handle(_ ctx: CallContext, _ event: Event) throws {
        let db = try ctx.database
        if event.topic == "contacts.organization.merged" {
            guard let change = try? event.decode(Crm_Contacts_V1_OrganizationEvent.self) else { return }
            return try repoint(ctx, db, column: "organization_id", from: change.mergedID, to: change.organization.id)
        }
        guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else { return }
        switch event.topic {
        case "contacts.contact.merged":
            try repoint(ctx, db, column: "person_id", from: change.mergedID, to: change.person.id)
            try repointMember(ctx, db, from: change.mergedID, to: change.person.id)
            try repointOrders(ctx, db, from: change.mergedID, to: change.person.id)
            try TierPeople.merge(ctx, db, survivor: change.person.id)
        case "contacts.contact.erased":
            try TierPeople.erase(ctx, db, person: change.person.id)  // while the accounts still name the person
            try erase(ctx, db, person: change.person.id)
            try eraseMember(ctx, db, person: change.person.id)
            try eraseOrders(ctx, db, person: change.person.id)
        default: return
        }
    }

    static func repoint(_ ctx: CallContext, _ db: Database, column: String, from old: Int64, to new: Int64) throws {
        guard old > 0, new > 0, old != new else { return }
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT id, owner, kind FROM loyalty_accounts WHERE \(column) = ? ORDER BY id", [.integer(old)]) {
            try ctx.audit(AuditEntry(entity: "loyalty.account", recordID: String(row.int(0)), action: "merge",
                                     owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange(column, old: String(old), new: String(new))]))
        }
        try db.execute("UPDATE loyalty_accounts SET \(column) = ?, updated_us = ? WHERE \(column) = ?",
                       [.integer(new), .integer(now), .integer(old)])
    }

    static func erase(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        guard person > 0 else { return }
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT id, owner, label FROM loyalty_accounts WHERE person_id = ? ORDER BY id", [.integer(person)]) {
            let id = row.int(0)
            try db.execute("UPDATE loyalty_accounts SET person_id = NULL, label = '', updated_us = ? WHERE id = ?",
                           [.integer(now), .integer(id)])
            // Reasons typed at the till may name the person.
            try db.execute("""
                UPDATE loyalty_postings SET reason = '' WHERE reason <> '' AND id IN (SELECT posting_id FROM loyalty_entries WHERE account_id = ?)
                """, [.integer(id)])
            try db.execute("UPDATE loyalty_holds SET memo = '' WHERE account_id = ?", [.integer(id)])
            try db.execute("UPDATE loyalty_house_payments SET tender = '', reference = '' WHERE account_id = ?", [.integer(id)])
            try db.execute("UPDATE loyalty_gift_cards SET void_reason = '' WHERE account_id = ?", [.integer(id)])
            try ctx.audit(AuditEntry(entity: "loyalty.account", recordID: String(id), action: "erase", owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange("person_id", old: String(person), new: nil),
                                               FieldChange("label", old: row.text(2).isEmpty ? nil : row.text(2), new: nil)]))
            try ctx.redact(entity: "loyalty.account", recordID: String(id))
            for posting in try db.query("SELECT DISTINCT posting_id FROM loyalty_entries WHERE account_id = ? ORDER BY posting_id",
                                        [.integer(id)]) {
                try ctx.redact(entity: "loyalty.posting", recordID: String(posting.int(0)))
            }
        }
    }

    /// The merged person's memberships become the survivor's, unless the
    /// survivor already is a member (their own limit stays) or the holder;
    /// their charges count as the survivor's.
    static func repointMember(_ ctx: CallContext, _ db: Database, from old: Int64, to new: Int64) throws {
        guard old > 0, new > 0, old != new else { return }
        let now = UTCClock.nowMicros()
        for row in try db.query("""
            SELECT m.account_id, a.owner, a.person_id = ? OR EXISTS (SELECT 1 FROM loyalty_house_members s
                   WHERE s.account_id = m.account_id AND s.person_id = ? AND (s.active = 1 OR m.active = 0))
            FROM loyalty_house_members m JOIN loyalty_accounts a ON a.id = m.account_id WHERE m.person_id = ? ORDER BY m.account_id
            """, [.integer(new), .integer(new), .integer(old)]) {
            let account = row.int(0)
            if row.int(2) != 0 {
                try db.execute("DELETE FROM loyalty_house_members WHERE account_id = ? AND person_id = ?", [.integer(account), .integer(old)])
            } else {
                // A removed membership of the survivor gives way to the merged person's active one.
                try db.execute("DELETE FROM loyalty_house_members WHERE account_id = ? AND person_id = ?", [.integer(account), .integer(new)])
                try db.execute("UPDATE loyalty_house_members SET person_id = ?, updated_us = ? WHERE account_id = ? AND person_id = ?",
                               [.integer(new), .integer(now), .integer(account), .integer(old)])
            }
            try ctx.audit(AuditEntry(entity: "loyalty.house_member", recordID: "\(account):\(old)", action: "merge",
                                     owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange("person_id", old: String(old), new: String(new))]))
        }
        try db.execute("UPDATE loyalty_house_charges SET person_id = ? WHERE person_id = ?", [.integer(new), .integer(old)])
    }

    /// An erased person stops being a member anywhere; their charges keep
    /// their amounts (the ledger's) and lose who made them and the memo
    /// typed at the till; pay-ins into accounts they held lose their
    /// references (a cheque may name them).
    static func eraseMember(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        guard person > 0 else { return }
        for row in try db.query("""
            SELECT m.account_id, a.owner FROM loyalty_house_members m JOIN loyalty_accounts a ON a.id = m.account_id
            WHERE m.person_id = ? ORDER BY m.account_id
            """, [.integer(person)]) {
            try ctx.audit(AuditEntry(entity: "loyalty.house_member", recordID: "\(row.int(0)):\(person)", action: "erase",
                                     owner: ownerOrNil(row.text(1)), changes: [FieldChange("person_id", old: String(person), new: nil)]))
            try ctx.redact(entity: "loyalty.house_member", recordID: "\(row.int(0)):\(person)")
        }
        // The postings of their charges hold the memo in their audit entries too.
        for row in try db.query("SELECT posting_id FROM loyalty_house_charges WHERE person_id = ? ORDER BY posting_id",
                                [.integer(person)]) {
            try ctx.redact(entity: "loyalty.posting", recordID: String(row.int(0)))
        }
        try db.execute("DELETE FROM loyalty_house_members WHERE person_id = ?", [.integer(person)])
        try db.execute("""
            UPDATE loyalty_postings SET reason = '' WHERE reason <> '' AND id IN (SELECT posting_id FROM loyalty_house_charges WHERE person_id = ?)
            """, [.integer(person)])
        try db.execute("UPDATE loyalty_house_charges SET person_id = NULL WHERE person_id = ?", [.integer(person)])
    }

    /// The merged person's order history becomes the survivor's.
    static func repointOrders(_ ctx: CallContext, _ db: Database, from old: Int64, to new: Int64) throws {
        guard old > 0, new > 0, old != new else { return }
        for row in try db.query("SELECT id, owner FROM loyalty_orders WHERE person_id = ? ORDER BY id", [.integer(old)]) {
            try ctx.audit(AuditEntry(entity: "loyalty.order", recordID: String(row.int(0)), action: "merge", owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange("person_id", old: String(old), new: String(new))]))
        }
        try db.execute("UPDATE loyalty_orders SET person_id = ?, updated_us = ? WHERE person_id = ?",
                       [.integer(new), .integer(UTCClock.nowMicros()), .integer(old)])
    }

    /// An erased person's orders stay (what was sold, for the menu's
    /// figures and the ledger's postings) without them: no person, and no
    /// refund reasons or tender references typed at the till; their audit
    /// and events redacted.
    static func eraseOrders(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        guard person > 0 else { return }
        for row in try db.query("SELECT id, owner FROM loyalty_orders WHERE person_id = ? ORDER BY id", [.integer(person)]) {
            try ctx.audit(AuditEntry(entity: "loyalty.order", recordID: String(row.int(0)), action: "erase", owner: ownerOrNil(row.text(1)),
                                     changes: [FieldChange("person_id", old: String(person), new: nil)]))
            try ctx.redact(entity: "loyalty.order", recordID: String(row.int(0)))
        }
        try db.execute("""
            UPDATE loyalty_order_refunds SET reason = '' WHERE order_id IN (SELECT id FROM loyalty_orders WHERE person_id = ?)
            """, [.integer(person)])
        try db.execute("""
            UPDATE loyalty_order_tenders SET method = '', reference = '' WHERE order_id IN (SELECT id FROM loyalty_orders WHERE person_id = ?)
            """, [.integer(person)])
        try db.execute("UPDATE loyalty_orders SET person_id = NULL, updated_us = ? WHERE person_id = ?",
                       [.integer(UTCClock.nowMicros()), .integer(person)])
    }
}
