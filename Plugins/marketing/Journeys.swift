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

    /// What enrolling in a journey needs to know of it.
    struct EntryJourney {
        var id: Int64
        var name: String
        var firstStep: String
        var allowReentry: Bool
        var gapUs: Int64

        init(id: Int64, name: String, firstStep: String, allowReentry: Bool, gapUs: Int64) {
            self.id = id
            self.name = name
            self.firstStep = firstStep
            self.allowReentry = allowReentry
            self.gapUs = gapUs
        }

        init(_ j: Journey) {
            self.init(id: j.id, name: j.name, firstStep: j.steps.first?.key ?? "", allowReentry: j.allowReentry,
                      gapUs: j.reentryGapUs)
        }
    }

    /// Enrolls the person at the first step (publishing
    /// marketing.journey.entered), or says why not.
    static func enroll(_ ctx: CallContext, _ db: Database, _ journey: EntryJourney, personID: Int64,
                       now: Int64, owner: String? = nil) throws -> Result<Int64, PluginError> {
        let journeyID = journey.id
        let row = try db.query("""
            SELECT COALESCE(MAX(state = 1), 0), COALESCE(MAX(entered_us), 0), COUNT(*) FROM marketing_journey_enrollments
            WHERE journey_id = ? AND person_id = ?
            """, [.integer(journeyID), .integer(personID)]).first
        let open = row?[0].int ?? 0, last = row?[1].int ?? 0, count = row?[2].int ?? 0
        if open == 1 {
            return .failure(.failedPrecondition("person_id: person \(personID) is in journey \(journeyID) now"))
        }
        if count > 0 && !journey.allowReentry {
            return .failure(.failedPrecondition("person_id: person \(personID) was in journey \(journeyID), which allows no re-entry"))
        }
        if count > 0 && now.subtractingReportingOverflow(last).partialValue < journey.gapUs {
            return .failure(.failedPrecondition(
                "person_id: person \(personID) entered journey \(journeyID) less than reentry_gap_us (\(journey.gapUs)) ago"))
        }
        let id = try db.execute("""
            INSERT INTO marketing_journey_enrollments (journey_id, person_id, current_step, state, step_since_us, due_us,
                entered_us, ended_us) VALUES (?, ?, ?, 1, ?, ?, ?, 0)
            """, [.integer(journeyID), .integer(personID), .text(journey.firstStep), .integer(now), .integer(now),
                  .integer(now)]).lastInsertID
        try JourneyEvents.publish(ctx, db, .entered, journeyID: journeyID, journeyName: journey.name, enrollmentID: id,
                                  personID: personID, step: journey.firstStep, owner: owner)
        return .success(id)
    }

    /// The ACTIVE journeys starting on `segmentID` (read once for a whole
    /// chunk of a segment build, not once per member).
    static func entryJourneys(_ db: Database, segmentID: Int64) throws -> [EntryJourney] {
        try db.query("""
            SELECT id, name, allow_reentry, reentry_gap_us, steps FROM marketing_journeys WHERE entry_segment_id = ? AND state = 2
            """, [.integer(segmentID)]).compactMap { row in
            guard let id = row[0].int, let first = try JourneyStore.steps(row[4].bytes ?? []).first else { return nil }
            return EntryJourney(id: id, name: row[1].string ?? "", firstStep: first.key, allowReentry: row[2].int == 1,
                                gapUs: row[3].int ?? 0)
        }
    }

    /// A person entered a segment (SegmentMembership, in that write's
    /// transaction): they enter each of `journeys` (its entry journeys) that
    /// takes them (re-entry rules); a refusal is no error.
    static func onSegmentEntered(_ ctx: CallContext, _ db: Database, journeys: [EntryJourney], personID: Int64) throws {
        guard !journeys.isEmpty else { return }
        let now = UTCClock.nowMicros()
        for journey in journeys {
            _ = try enroll(ctx, db, journey, personID: personID, now: now)
        }
    }
}
