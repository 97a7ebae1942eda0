import CRMPluginKit
import ContactsContract
import Foundation

/// The customer timeline: the contacts module subscribes to every topic and
/// files each event that names people or organizations (an `About` in field
/// 1000 of its message) under each of them.
enum Timeline {
    static func register(on def: PluginDefinition) {
        def.subscribes(">")
        def.onEvent = record
        def.unary(Contacts.service + "ListTimeline", list)
    }

    /// Delivered at least once: the unique (entity, record, sequence) index
    /// makes a repeat a no-op. The module's own events were filed when they
    /// were published, so they are skipped.
    static func record(_ ctx: CallContext, _ event: Event) throws {
        let db = try ctx.database
        if event.publisher == "contacts", try TimelineFiling.filedInline(db, event.sequence) { return }
        // An event about an erased record arrives emptied: nothing to file.
        guard !event.redacted else { return }
        guard let header = try? Crm_Contacts_V1_TimelineHeader(serializedBytes: event.payload), header.hasAbout else { return }
        try TimelineFiling.file(db, sequence: event.sequence, topic: event.topic, publisher: event.publisher,
                                typeName: event.typeName, occurredUnixUs: event.publishedUnixMicros,
                                about: header.about, source: event.subject, payload: event.payload)
    }

    /// An event about a merged person belongs on the survivor's timeline;
    /// nil for unknown and erased people.
    static func resolvePerson(_ db: Database, _ id: Int64) throws -> Int64? {
        try resolve(db, "contacts_people", id, erasable: true)
    }

    /// Follows `merged_into` to the record that lives on.
    static func resolve(_ db: Database, _ table: String, _ id: Int64, erasable: Bool = false) throws -> Int64? {
        var current = id
        let sql = "SELECT merged_into, \(erasable ? "erased_us" : "0") FROM \(table) WHERE id = ?"
        for _ in 0..<8 {
            guard let row = try db.query(sql, [.integer(current)]).first, row[1].int == 0 else {
                return nil  // unknown, or erased: nothing about them is kept
            }
            let next = row[0].int ?? 0
            if next == 0 { return current }
            current = next
        }
        return current
    }

    /// Moves a merged record's entries to the survivor; an event already on
    /// both timelines is kept once.
    static func move(_ db: Database, _ entity: EntityKind = .person, from merged: Int64, to survivor: Int64) throws {
        let kind = SQLValue.integer(entity.rawValue)
        try db.execute("""
            DELETE FROM contacts_timeline WHERE entity = ? AND record_id = ? AND sequence IN
                (SELECT sequence FROM contacts_timeline WHERE entity = ? AND record_id = ?)
            """, [kind, .integer(merged), kind, .integer(survivor)])
        try db.execute("UPDATE contacts_timeline SET record_id = ? WHERE entity = ? AND record_id = ?",
                       [.integer(survivor), kind, .integer(merged)])
    }

    /// The timeline of a person or organization in the method's scope
    /// (NOT_FOUND otherwise), with the entries TimelineScope lets the caller see.
    static func list(_ ctx: CallContext, _ req: Crm_Contacts_V1_ListTimelineRequest) throws -> Crm_Contacts_V1_ListTimelineResponse {
        guard (req.personID == 0) != (req.organizationID == 0) else {
            throw PluginError.invalidArgument("exactly one of person_id and organization_id is required")
        }
        let db = try ctx.database
        let scope = ctx.scope
        if req.personID != 0 {
            let person = try PersonStore(db: db).require(req.personID, field: "person_id", scope: scope)
            if person.erasedUnixUs != 0 { return Crm_Contacts_V1_ListTimelineResponse() }
            // A merged person's timeline now lives with the survivor, if the caller may open it.
            let id = try resolvePerson(db, req.personID) ?? req.personID
            guard try reachable(db, "contacts_people", id, scope) else { return Crm_Contacts_V1_ListTimelineResponse() }
            return try page(ctx, db, .person, id, req)
        }
        _ = try OrganizationStore(db: db).require(req.organizationID, field: "organization_id", scope: scope)
        let id = try resolve(db, "contacts_organizations", req.organizationID) ?? req.organizationID
        guard try reachable(db, "contacts_organizations", id, scope) else { return Crm_Contacts_V1_ListTimelineResponse() }
        return try page(ctx, db, .organization, id, req)
    }

    static func reachable(_ db: Database, _ table: String, _ id: Int64, _ scope: RecordScope) throws -> Bool {
        guard scope.reach != .all else { return true }
        let owner = try db.query("SELECT owner FROM \(table) WHERE id = ?", [.integer(id)]).first?.first?.string ?? ""
        return scope.includes(owner: ownerOrNil(owner))
    }

    /// One page of a timeline the caller may open. The scope is in the SQL
    /// (never applied after the LIMIT), so pages stay full and tokens exact.
    static func page(_ ctx: CallContext, _ db: Database, _ entity: EntityKind, _ id: Int64,
                     _ req: Crm_Contacts_V1_ListTimelineRequest) throws -> Crm_Contacts_V1_ListTimelineResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        filter.add("t.entity = ? AND t.record_id = ?", .integer(entity.rawValue), .integer(id))
        let visible = try TimelineScope.condition(ctx, db)
        filter.add(visible.sql, visible.parameters)
        if let after = paging.after { filter.add("t.sequence < ?", after[0]) }
        let rows = try db.query("""
            SELECT t.id, t.sequence, t.topic, t.publisher, t.type_name, t.occurred_us, t.summary, t.payload
            FROM contacts_timeline t LEFT JOIN contacts_timeline_sources src
                ON src.entity = t.source_entity AND src.record_id = t.source_id
            \(filter.clause) ORDER BY t.sequence DESC LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[1]] }
        var response = Crm_Contacts_V1_ListTimelineResponse()
        response.entries = page.rows.map { row in
            Crm_Contacts_V1_TimelineEntry.with {
                $0.id = row[0].int ?? 0
                $0.sequence = UInt64(bitPattern: row[1].int ?? 0)
                $0.topic = row[2].string ?? ""
                $0.publisher = row[3].string ?? ""
                $0.typeName = row[4].string ?? ""
                $0.occurredUnixUs = row[5].int ?? 0
                $0.summary = row[6].string ?? ""
                $0.payload = Data(row[7].bytes ?? [])
            }
        }
        response.nextPageToken = page.nextToken
        return response
    }
}
