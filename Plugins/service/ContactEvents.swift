import CRMPluginKit
import ContactsContract

/// Keeps tickets in step with contacts: a merge of people or organizations
/// moves tickets (and customer messages) to the survivor, an erasure
/// blanks the personal data service holds about the person. Each event is
/// delivered in a write transaction with the delivery position; a repeat
/// finds nothing left to change.
enum ContactEvents {
    static let erased = "(erased)"

    static func register(on def: PluginDefinition) {
        def.subscribes("contacts.contact.merged")
        def.subscribes("contacts.contact.erased")
        def.subscribes("contacts.organization.merged")
        def.onEvent = handle
    }

    static func handle(_ ctx: CallContext, _ event: Event) throws {
        if event.redacted { return }
        if event.topic == "contacts.organization.merged" {
            guard let change = try? event.decode(Crm_Contacts_V1_OrganizationEvent.self) else { return }
            return try repoint(ctx, column: "organization_id", from: change.mergedID, to: change.organization.id)
        }
        guard let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else {
            ctx.host.log(.warning, "event \(event.sequence) (\(event.topic)) does not decode as a PersonEvent; skipped")
            return
        }
        switch event.topic {
        case "contacts.contact.merged":
            try repoint(ctx, column: "requester_id", from: change.mergedID, to: change.person.id)
        case "contacts.contact.erased":
            try erase(ctx, person: change.person.id)
        default:
            return
        }
    }

    /// Tickets of the merged person (or organization) become the
    /// survivor's, each audited; a person's customer messages follow.
    static func repoint(_ ctx: CallContext, column: String, from merged: Int64, to survivor: Int64) throws {
        guard survivor > 0, merged > 0, survivor != merged else { return }
        let db = try ctx.database
        let store = TicketStore(db: db)
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT \(TicketStore.columns) FROM service_tickets WHERE \(column) = ? ORDER BY id",
                                [.integer(merged)]) {
            let before = TicketStore.decode(row)
            var after = before
            if column == "requester_id" { after.requesterID = survivor } else { after.organizationID = survivor }
            after.version += 1
            after.updatedUnixUs = now
            try store.save(&after, old: before)
            try ServiceAudit.ticket(ctx, "reassign_person", old: before, new: after)
        }
        guard column == "requester_id" else { return }
        try SurveyPeople.repoint(ctx, db, from: merged, to: survivor)
        for row in try db.query("SELECT \(MessageStore.columns) FROM service_messages WHERE author_person_id = ? ORDER BY id",
                                [.integer(merged)]) {
            let before = MessageStore.decode(row)
            var after = before
            after.authorPersonID = survivor
            try ServiceAudit.message(ctx, "reassign_person", old: before, new: after, owner: "")
        }
        try db.execute("UPDATE service_messages SET author_person_id = ? WHERE author_person_id = ?",
                       [.integer(survivor), .integer(merged)])
        try MailStore(db: db).repoint(from: merged, to: survivor)
    }

    /// The person's tickets keep their workflow (status, times, priority,
    /// team: reports need them) and lose subject, description, custom
    /// fields and every message body; the person's messages on other
    /// tickets lose their body. Each record is audited, then redacted, so
    /// the trail and the stored events keep nothing of what was removed.
    static func erase(_ ctx: CallContext, person: Int64) throws {
        guard person > 0 else { return }
        let db = try ctx.database
        let store = TicketStore(db: db)
        let now = UTCClock.nowMicros()
        var tickets: [Int64] = []
        for row in try db.query("SELECT \(TicketStore.columns) FROM service_tickets WHERE requester_id = ? ORDER BY id",
                                [.integer(person)]) {
            let before = TicketStore.decode(row)
            tickets.append(before.id)
            guard before.subject != erased || !before.description_p.isEmpty || !before.customFields.isEmpty else { continue }
            var after = before
            after.subject = erased
            after.description_p = ""
            after.customFields = [:]
            after.version += 1
            after.updatedUnixUs = now
            try store.save(&after, old: before)
            try ServiceAudit.ticket(ctx, "erase", old: before, new: after)
            try ctx.redact(entity: "service.ticket", recordID: String(before.id))
        }
        var messages: [[SQLValue]] = []
        for id in tickets {
            messages += try db.query("SELECT \(MessageStore.columns) FROM service_messages WHERE ticket_id = ? AND body <> ? ORDER BY id",
                                     [.integer(id), .text(erased)])
        }
        messages += try db.query("SELECT \(MessageStore.columns) FROM service_messages WHERE author_person_id = ? AND body <> ? ORDER BY id",
                                 [.integer(person), .text(erased)])
        try SurveyPeople.erase(ctx, db, person: person)
        var done = Set<Int64>()
        for row in messages {
            let before = MessageStore.decode(row)
            guard done.insert(before.id).inserted else { continue }
            var after = before
            after.body = erased
            try db.execute("UPDATE service_messages SET body = ? WHERE id = ?", [.text(erased), .integer(before.id)])
            try ServiceAudit.message(ctx, "erase", old: before, new: after, owner: "")
            try ctx.redact(entity: "service.message", recordID: String(before.id))
        }
        try MailStore(db: db).erase(ctx, person: person, marker: erased)
    }
}
