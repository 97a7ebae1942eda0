import CRMPluginKit
import ContactsContract

/// Rule-based segments and static lists, their membership kept up to date
/// from contacts' events as they commit (no schedule): each event
/// re-evaluates that one person against every rule segment.
enum Segments {
    static let schema = SegmentPeople.schema + """
        CREATE TABLE marketing_segments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL,
            kind INTEGER NOT NULL,
            rule BLOB NOT NULL,
            version INTEGER NOT NULL,
            member_count INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            rebuilt_us INTEGER NOT NULL);
        CREATE TABLE marketing_segment_members (
            segment_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            since_us INTEGER NOT NULL,
            PRIMARY KEY (segment_id, person_id)) WITHOUT ROWID;
        CREATE INDEX marketing_segment_members_person ON marketing_segment_members (person_id, segment_id);
        """

    static func register(on def: PluginDefinition) {
        SegmentMethods.register(on: def)
        SegmentMemberMethods.register(on: def)
        EngagementWindows.register(on: def)
    }

    /// A contacts event, in the event's transaction. Idempotent per event:
    /// a redelivery finds the projection at that version and nothing to change.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        // An erased person's earlier events come redacted (empty): the erasure event follows.
        guard !event.redacted else { return }
        if event.topic == "contacts.organization.merged" {
            guard let change = try? event.decode(Crm_Contacts_V1_OrganizationEvent.self) else { return }
            return try organizationMerged(ctx, db, survivor: change.organization.id, merged: change.mergedID)
        }
        guard event.topic.hasPrefix("contacts.contact."),
              let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self), change.person.id > 0 else { return }
        let person = change.person
        switch event.topic {
        case "contacts.contact.erased":
            try erased(ctx, db, person)
        case "contacts.contact.merged":
            try SegmentPeople.upsert(db, person)
            try merged(ctx, db, survivor: person.id, merged: change.mergedID)
            try SegmentMembership.reevaluate(ctx, db, personID: person.id)
        default:
            // created, updated, deleted, restored: the event carries the whole person.
            if try SegmentPeople.upsert(db, person) { try SegmentMembership.reevaluate(ctx, db, personID: person.id) }
        }
    }

    /// Something this module keeps about the person changed (consent):
    /// re-evaluates the person's rule-segment membership, in the caller's transaction.
    static func personChanged(_ ctx: CallContext, _ db: Database, personID: Int64) throws {
        try SegmentMembership.reevaluate(ctx, db, personID: personID)
    }

    /// The merged-away person leaves everything; their list memberships move
    /// to the survivor (entered events for the lists the survivor joins).
    static func merged(_ ctx: CallContext, _ db: Database, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let owner = try SegmentPeople.state(db, survivor)?.owner ?? ""
        let moved = try db.query("""
            INSERT INTO marketing_segment_members (segment_id, person_id, since_us)
            SELECT m.segment_id, ?, m.since_us FROM marketing_segment_members m
            JOIN marketing_segments s ON s.id = m.segment_id AND s.kind = 2
            WHERE m.person_id = ?
            ON CONFLICT (segment_id, person_id) DO NOTHING
            RETURNING segment_id
            """, [.integer(survivor), .integer(merged)])
        for row in moved {
            let segment = row[0].int ?? 0
            try db.execute("UPDATE marketing_segments SET member_count = member_count + 1 WHERE id = ?", [.integer(segment)])
            try SegmentMembership.publish(ctx, db, "entered", segment: segment, name: nil, personID: survivor, owner: owner)
        }
        let mergedOwner = try SegmentPeople.state(db, merged)?.owner ?? ""
        try SegmentPeople.retire(db, merged, erase: false)
        try SegmentMembership.leaveAll(ctx, db, personID: merged, owner: mergedOwner)
    }

    /// GDPR: the person leaves every segment and list, the projection keeps
    /// a tombstone, and the membership events stored about them are emptied
    /// (redact) before the left events are published, which keep only ids.
    static func erased(_ ctx: CallContext, _ db: Database, _ tombstone: Person) throws {
        let id = tombstone.id
        try SegmentPeople.upsert(db, tombstone)
        try SegmentPeople.retire(db, id, erase: true)
        try db.execute("UPDATE marketing_people SET owner = '' WHERE person_id = ?", [.integer(id)])
        let segments = try db.query("SELECT segment_id FROM marketing_segment_members WHERE person_id = ?", [.integer(id)])
        try SegmentMembership.leaveAll(ctx, db, personID: id, owner: "", publish: false)
        try ctx.redact(entity: SegmentMembership.memberEntity, recordID: String(id))
        for row in segments {
            try SegmentMembership.publish(ctx, db, "left", segment: row[0].int ?? 0, name: nil, personID: id,
                                          owner: "")
        }
    }

    /// The merged organization's people now belong to the survivor (contacts
    /// moves them without a person event each).
    static func organizationMerged(_ ctx: CallContext, _ db: Database, survivor: Int64, merged: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let people = try db.query("SELECT person_id FROM marketing_people WHERE organization_id = ?", [.integer(merged)])
        try db.execute("UPDATE marketing_people SET organization_id = ? WHERE organization_id = ?",
                       [.integer(survivor), .integer(merged)])
        for row in people { try SegmentMembership.reevaluate(ctx, db, personID: row[0].int ?? 0) }
    }
}
