import CRMPluginKit
import ContactsContract
import MarketingContract

typealias Journey = Crm_Marketing_V1_Journey
typealias JourneyStep = Crm_Marketing_V1_JourneyStep

/// Multi-step journeys (send, wait, branch, tag, update a field) that each
/// person passes step by step, exactly once, across restarts: the step-log
/// row (unique per enrollment and step) and the move to the next step are
/// written in the step's one transaction (JourneyRunner).
enum Journeys {
    static let schema = """
        CREATE TABLE marketing_journeys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            entry_segment_id INTEGER NOT NULL,
            allow_reentry INTEGER NOT NULL,
            reentry_gap_us INTEGER NOT NULL,
            steps BLOB NOT NULL,
            state INTEGER NOT NULL,
            version INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL);
        CREATE INDEX marketing_journeys_entry ON marketing_journeys (entry_segment_id, state);
        CREATE TABLE marketing_journey_enrollments (
            id INTEGER PRIMARY KEY,
            journey_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            current_step TEXT NOT NULL,
            state INTEGER NOT NULL,
            step_since_us INTEGER NOT NULL,
            due_us INTEGER NOT NULL,
            entered_us INTEGER NOT NULL,
            ended_us INTEGER NOT NULL);
        CREATE UNIQUE INDEX marketing_journey_enrollments_open ON marketing_journey_enrollments (journey_id, person_id)
            WHERE state = 1;
        CREATE INDEX marketing_journey_enrollments_due ON marketing_journey_enrollments (state, due_us);
        CREATE INDEX marketing_journey_enrollments_journey ON marketing_journey_enrollments (journey_id, person_id, id);
        CREATE INDEX marketing_journey_enrollments_person ON marketing_journey_enrollments (person_id);
        CREATE TABLE marketing_journey_step_log (
            id INTEGER PRIMARY KEY,
            journey_id INTEGER NOT NULL,
            enrollment_id INTEGER NOT NULL,
            person_id INTEGER NOT NULL,
            step TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            outbox_id INTEGER NOT NULL,
            next_step TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            UNIQUE (journey_id, enrollment_id, step));
        CREATE INDEX marketing_journey_step_log_journey ON marketing_journey_step_log (journey_id, id);
        CREATE INDEX marketing_journey_step_log_person ON marketing_journey_step_log (person_id);
        """

    static func register(on def: PluginDefinition) {
        JourneyMethods.register(on: def)
        JourneyLists.register(on: def)
        JourneyRunner.register(on: def)
    }

    enum EnrollmentState: Int64 { case active = 1, completed = 2, exited = 3 }

    /// Enrolls the person at the first step, or says why not.
    static func enroll(_ db: Database, journeyID: Int64, firstStep: String, allowReentry: Bool, gapUs: Int64,
                       personID: Int64, now: Int64) throws -> Result<Int64, PluginError> {
        let row = try db.query("""
            SELECT COALESCE(MAX(state = 1), 0), COALESCE(MAX(entered_us), 0), COUNT(*) FROM marketing_journey_enrollments
            WHERE journey_id = ? AND person_id = ?
            """, [.integer(journeyID), .integer(personID)]).first
        let open = row?[0].int ?? 0, last = row?[1].int ?? 0, count = row?[2].int ?? 0
        if open == 1 {
            return .failure(.failedPrecondition("person_id: person \(personID) is in journey \(journeyID) now"))
        }
        if count > 0 && !allowReentry {
            return .failure(.failedPrecondition("person_id: person \(personID) was in journey \(journeyID), which allows no re-entry"))
        }
        if count > 0 && now - last < gapUs {
            return .failure(.failedPrecondition(
                "person_id: person \(personID) entered journey \(journeyID) less than reentry_gap_us (\(gapUs)) ago"))
        }
        let id = try db.execute("""
            INSERT INTO marketing_journey_enrollments (journey_id, person_id, current_step, state, step_since_us, due_us,
                entered_us, ended_us) VALUES (?, ?, ?, 1, ?, ?, ?, 0)
            """, [.integer(journeyID), .integer(personID), .text(firstStep), .integer(now), .integer(now),
                  .integer(now)]).lastInsertID
        return .success(id)
    }

    /// An ACTIVE journey that starts on a segment: what enrolling needs.
    struct EntryJourney {
        var id: Int64
        var firstStep: String
        var allowReentry: Bool
        var gapUs: Int64
    }

    /// The ACTIVE journeys starting on `segmentID` (read once for a whole
    /// chunk of a segment build, not once per member).
    static func entryJourneys(_ db: Database, segmentID: Int64) throws -> [EntryJourney] {
        try db.query("""
            SELECT id, allow_reentry, reentry_gap_us, steps FROM marketing_journeys WHERE entry_segment_id = ? AND state = 2
            """, [.integer(segmentID)]).compactMap { row in
            guard let id = row[0].int, let first = try JourneyStore.steps(row[3].bytes ?? []).first else { return nil }
            return EntryJourney(id: id, firstStep: first.key, allowReentry: row[1].int == 1, gapUs: row[2].int ?? 0)
        }
    }

    /// A person entered a segment (SegmentMembership, in that write's
    /// transaction): they enter each of `journeys` (its entry journeys) that
    /// takes them (re-entry rules); a refusal is no error.
    static func onSegmentEntered(_ db: Database, journeys: [EntryJourney], personID: Int64) throws {
        guard !journeys.isEmpty else { return }
        let now = UTCClock.nowMicros()
        for journey in journeys {
            _ = try enroll(db, journeyID: journey.id, firstStep: journey.firstStep, allowReentry: journey.allowReentry,
                           gapUs: journey.gapUs, personID: personID, now: now)
        }
    }

    /// Contacts' events (MarketingEvents): a merged-away person's
    /// enrollments follow the survivor (an open one ends EXITED if the
    /// survivor is in that journey already); an erased person's are deleted.
    static func onContactEvent(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        guard !event.redacted, event.topic == "contacts.contact.merged" || event.topic == "contacts.contact.erased",
              let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self), change.person.id > 0 else { return }
        let person = change.person.id
        if event.topic == "contacts.contact.erased" {
            try db.execute("DELETE FROM marketing_journey_step_log WHERE person_id = ?", [.integer(person)])
            try db.execute("DELETE FROM marketing_journey_enrollments WHERE person_id = ?", [.integer(person)])
            return
        }
        let merged = change.mergedID
        guard merged > 0, merged != person else { return }
        try db.execute("""
            UPDATE marketing_journey_enrollments SET state = 3, current_step = '', ended_us = ?
            WHERE person_id = ? AND state = 1 AND journey_id IN (
                SELECT journey_id FROM marketing_journey_enrollments WHERE person_id = ? AND state = 1)
            """, [.integer(UTCClock.nowMicros()), .integer(merged), .integer(person)])
        try db.execute("UPDATE marketing_journey_enrollments SET person_id = ? WHERE person_id = ?",
                       [.integer(person), .integer(merged)])
        try db.execute("UPDATE marketing_journey_step_log SET person_id = ? WHERE person_id = ?",
                       [.integer(person), .integer(merged)])
    }
}
