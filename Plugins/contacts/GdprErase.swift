import CRMPluginKit
import ContactsContract
import Foundation

/// GDPR erasure: the person, and every record merged into them (the same
/// human), become tombstones, and every copy of their data that contacts
/// keeps goes in the same transaction:
/// - the record itself (a tombstone: id and times only) and its search keys;
/// - their timeline; on other timelines (their organization's), the
///   payload and summary of each copy of an event that was on theirs or is
///   about them (an event naming two records is filed under both);
/// - the request fingerprints of the idempotency keys that created them
///   (a hash of their data; the key then replays the tombstone);
/// - in crmd: their audit values and the payloads of the events published
///   about them (`ctx.redact`).
/// What remains: contacts_audit's row (who erased, when, why) and the
/// audit entry "erase" naming the fields that were erased, without values.
enum GdprErase {
    static let erasedText = "[erased]"

    static func erase(_ ctx: CallContext, _ req: Crm_Contacts_V1_ErasePersonRequest) throws -> Crm_Contacts_V1_ErasePersonResponse {
        try Validate.required(req.reason, "reason")
        try Validate.maxLength(req.reason, "reason", 500)
        let db = try ctx.database
        let store = PersonStore(db: db)
        let person = try store.table.requireWritable(req.id, field: "id", scope: ctx.scope)
        guard person.erasedUnixUs == 0 else { throw PluginError.failedPrecondition("id: person \(req.id) is already erased") }
        // Merge copied this record's data into the survivor: erasing it alone would leave that copy.
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition(
                "id: person \(req.id) was merged into person \(person.mergedIntoID), which holds its data; erase that person")
        }
        let now = UTCClock.nowMicros()
        let ids = [person.id] + (try mergedInto(db, person.id))
        for id in ids { try ctx.redactPerson(id) }
        var tombstone = Person()
        for id in ids {
            guard let before = try store.load(id) else { continue }
            var erased = Person()
            erased.id = id
            erased.version = before.version + 1
            erased.createdUnixUs = before.createdUnixUs
            erased.updatedUnixUs = now
            erased.deletedUnixUs = before.deletedUnixUs == 0 ? now : before.deletedUnixUs
            erased.mergedIntoID = before.mergedIntoID
            erased.erasedUnixUs = now
            try store.save(erased)
            try SearchIndex(db: db).delete(.person, id)
            try eraseTimelineCopies(db, id)
            // Which fields were erased, never their values.
            let old = AuditTrail.flatten(before).mapValues { _ in erasedText }
            try AuditTrail.record(ctx, AuditEntry(entity: AuditTrail.personEntity, recordID: String(id), action: "erase",
                                                  changes: FieldChange.between(old: old, new: AuditTrail.flatten(erased))))
            if id == person.id { tombstone = erased }
        }
        try db.execute("""
            UPDATE contacts_idempotency SET fingerprint = NULL WHERE method LIKE 'CreatePerson%' AND result_id IN (\(
                Array(repeating: "?", count: ids.count).joined(separator: ", ")))
            """, ids.map { SQLValue.integer($0) })
        let audit = try db.execute("""
            INSERT INTO contacts_audit (action, entity, record_id, at_us, actor_uid, actor_plugin, reason)
            VALUES ('erase', 1, ?, ?, ?, ?, ?)
            """, [.integer(person.id), .integer(now), .integer(ctx.callerUID), .text(ctx.callingPlugin ?? ""), .text(req.reason)])
        // Published after the redaction, which would empty it: other modules
        // need the id to erase what they hold. The owner (a CRM user, not the
        // person's data) lets the streams of those who could see them learn of it.
        var event = Crm_Contacts_V1_PersonEvent()
        event.person = tombstone
        try TimelineFiling.publish(ctx, "contacts.contact.erased", event, about: nil,
                                   subject: EventSubject(entity: AuditTrail.personEntity, recordID: String(person.id),
                                                         owner: ownerOrNil(person.owner)))
        var response = Crm_Contacts_V1_ErasePersonResponse()
        response.tombstone = tombstone
        response.auditID = audit.lastInsertID
        return response
    }

    /// Every person merged into `id`, directly or through others (merges chain).
    static func mergedInto(_ db: Database, _ id: Int64) throws -> [Int64] {
        var found: [Int64] = []
        var frontier = [id]
        var seen: Set<Int64> = [id]
        while let next = frontier.popLast() {
            for row in try db.query("SELECT id FROM contacts_people WHERE merged_into = ? AND erased_us = 0", [.integer(next)]) {
                guard let merged = row[0].int, seen.insert(merged).inserted else { continue }
                found.append(merged)
                frontier.append(merged)
            }
        }
        return found
    }

    /// The person's timeline goes; copies of its events elsewhere, and
    /// entries about the person on other timelines, keep only their topic,
    /// time and source (the payload may hold the person's data).
    static func eraseTimelineCopies(_ db: Database, _ id: Int64) throws {
        try db.execute("""
            UPDATE contacts_timeline SET payload = ?, summary = ?
            WHERE (sequence IN (SELECT sequence FROM contacts_timeline WHERE entity = 1 AND record_id = ?)
                   OR (source_entity = ? AND source_id = ?))
              AND NOT (entity = 1 AND record_id = ?)
            """, [.blob([]), .text(erasedText), .integer(id), .text(AuditTrail.personEntity), .text(String(id)), .integer(id)])
        try db.execute("DELETE FROM contacts_timeline WHERE entity = 1 AND record_id = ?", [.integer(id)])
        try db.execute("DELETE FROM contacts_timeline_sources WHERE entity = ? AND record_id = ?",
                       [.text(AuditTrail.personEntity), .text(String(id))])
    }
}

extension CallContext {
    /// crmd blanks the person's audit values and the stored events about
    /// them. A crmd whose audit trail is not built yet answers
    /// UNIMPLEMENTED: contacts' own copies are erased all the same.
    func redactPerson(_ id: Int64) throws {
        do { try redact(entity: AuditTrail.personEntity, recordID: String(id)) }
        catch let error as PluginError where error.status == .unimplemented {}
    }
}
