import CRMPluginKit
import ContactsContract
import MarketingContract
import SwiftProtobuf

/// A person's journeys through what contacts does to people: a merged-away
/// person's enrollments and step log follow the survivor, an erased
/// person's are deleted (and the events and audit entries about them
/// emptied), and the GDPR export lists them.
enum JourneyPeople {
    /// Contacts' events (MarketingEvents), in the event's transaction.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        guard !event.redacted, event.topic == "contacts.contact.merged" || event.topic == "contacts.contact.erased",
              let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self), change.person.id > 0 else { return }
        if event.topic == "contacts.contact.erased" { return try erased(ctx, db, person: change.person.id) }
        try merged(ctx, db, survivor: change.person.id, merged: change.mergedID)
    }

    /// The merged person's enrollments and step log move to the survivor; an
    /// open enrollment in a journey the survivor is in now ends EXITED (a
    /// person is in a journey once at a time).
    static func merged(_ ctx: CallContext, _ db: Database, survivor: Int64, merged: Int64) throws {
        guard merged > 0, merged != survivor else { return }
        let now = UTCClock.nowMicros()
        let ending = try db.query("""
            UPDATE marketing_journey_enrollments SET state = 3, current_step = '', ended_us = ?
            WHERE person_id = ? AND state = 1 AND journey_id IN (
                SELECT journey_id FROM marketing_journey_enrollments WHERE person_id = ? AND state = 1)
            RETURNING id, journey_id
            """, [.integer(now), .integer(merged), .integer(survivor)])
        try db.execute("UPDATE marketing_journey_enrollments SET person_id = ? WHERE person_id = ?",
                       [.integer(survivor), .integer(merged)])
        try db.execute("UPDATE marketing_journey_step_log SET person_id = ? WHERE person_id = ?",
                       [.integer(survivor), .integer(merged)])
        for row in ending {
            try JourneyEvents.publish(ctx, db, .exited, journeyID: row[1].int ?? 0, journeyName: nil,
                                      enrollmentID: row[0].int ?? 0, personID: survivor,
                                      detail: "person \(merged) was merged into person \(survivor), who is in this journey already")
        }
    }

    /// GDPR erasure: every enrollment and step-log row of the person goes,
    /// and the events and audit entries about those enrollments are emptied.
    static func erased(_ ctx: CallContext, _ db: Database, person: Int64) throws {
        let enrollments = try db.query("SELECT id FROM marketing_journey_enrollments WHERE person_id = ?",
                                       [.integer(person)]).compactMap { $0[0].int }
        for id in enrollments { try ctx.redact(entity: JourneyEvents.entity, recordID: String(id)) }
        try db.execute("DELETE FROM marketing_journey_step_log WHERE person_id = ?", [.integer(person)])
        try db.execute("DELETE FROM marketing_journey_enrollments WHERE person_id = ?", [.integer(person)])
    }

    /// The person's part of the GDPR export: each enrollment, then each step
    /// they passed, in order.
    static func export(_ db: Database, person: Int64, _ add: (any SwiftProtobuf.Message) throws -> Void) throws {
        for row in try db.query("SELECT \(JourneyLists.enrollmentColumns) FROM marketing_journey_enrollments WHERE person_id = ? ORDER BY id",
                                [.integer(person)]) {
            try add(JourneyLists.decodeEnrollment(row))
        }
        for row in try db.query("SELECT \(JourneyLists.stepLogColumns) FROM marketing_journey_step_log WHERE person_id = ? ORDER BY id",
                                [.integer(person)]) {
            try add(JourneyLists.decodeStep(row))
        }
    }
}
