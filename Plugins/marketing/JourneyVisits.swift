import CRMPluginKit
import MarketingContract

/// One person's walk through the steps due for them (AdvanceJourneyVisits,
/// always in a savepoint of AdvanceJourneys' transaction), and what
/// AdvanceJourneys records when such a walk fails.
enum JourneyVisits {
    struct Visit {
        var id: Int64
        var journeyID: Int64
        var journeyName: String
        var personID: Int64
        var step: String
        var sinceUs: Int64
    }

    /// What a step did, and where the person goes next ("" ends the journey).
    /// An Error only so that a step can say it failed as a Result's failure.
    struct Outcome: Error {
        var name: String
        var detail = ""
        var outboxID: Int64 = 0
        var next: String
    }

    static func advance(_ ctx: CallContext, _ req: Crm_Marketing_V1_AdvanceJourneyVisitsRequest) throws
        -> Crm_Marketing_V1_AdvanceJourneysResponse {
        guard !req.enrollmentIds.isEmpty, req.enrollmentIds.count <= JourneyRunner.maxBatch else {
            throw PluginError.invalidArgument("enrollment_ids takes 1 to \(JourneyRunner.maxBatch) ids, not \(req.enrollmentIds.count)")
        }
        for (i, id) in req.enrollmentIds.enumerated() { try Validate.positiveID(id, "enrollment_ids[\(i)]") }
        guard req.maxSteps >= 0 && req.maxSteps <= Int32(JourneyRunner.maxStepsPerVisit) else {
            throw PluginError.invalidArgument("max_steps must be 0 to \(JourneyRunner.maxStepsPerVisit)")
        }
        let maxSteps = req.maxSteps == 0 ? JourneyRunner.maxStepsPerVisit : Int(req.maxSteps)
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        // Journeys are decoded once per call; only a DRAFT journey's steps change, and these are ACTIVE.
        var journeys: [Int64: (name: String, steps: [String: JourneyStep])] = [:]
        var response = Crm_Marketing_V1_AdvanceJourneysResponse()
        for id in req.enrollmentIds {
            guard let row = try db.query("""
                SELECT e.journey_id, e.person_id, e.current_step, e.step_since_us FROM marketing_journey_enrollments e
                JOIN marketing_journeys j ON j.id = e.journey_id AND j.state = 2
                WHERE e.id = ? AND e.state = 1 AND e.due_us <= ?
                """, [.integer(id), .integer(now)]).first, let journeyID = row[0].int else { continue }
            if journeys[journeyID] == nil {
                let j = try JourneyStore.require(db, journeyID)
                journeys[journeyID] = (j.name, Dictionary(j.steps.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a }))
            }
            let journey = journeys[journeyID]!
            var visit = Visit(id: id, journeyID: journeyID, journeyName: journey.name, personID: row[1].int ?? 0,
                              step: row[2].string ?? "", sinceUs: row[3].int ?? 0)
            response.enrollments += 1
            response.steps += try walk(ctx, db, &visit, journey.steps, maxSteps: maxSteps, now: now)
        }
        return response
    }

    /// Passes the person through steps until one holds them, the journey
    /// ends, or `maxSteps` are passed; returns the steps passed.
    static func walk(_ ctx: CallContext, _ db: Database, _ visit: inout Visit, _ steps: [String: JourneyStep],
                     maxSteps: Int, now: Int64) throws -> Int64 {
        var passed: Int64 = 0
        while passed < Int64(maxSteps) {
            guard let step = steps[visit.step] else {
                try finish(ctx, db, visit, state: .completed, now: now)
                break
            }
            guard let outcome = try JourneyStepRunner.run(ctx, db, step, visit, now: now) else { break }
            try pass(ctx, db, &visit, step: step, outcome, now: now)
            passed += 1
            if visit.step.isEmpty { break }
        }
        return passed
    }

    /// Records the step passed and moves the enrollment on, in the step's transaction.
    static func pass(_ ctx: CallContext, _ db: Database, _ visit: inout Visit, step: JourneyStep, _ o: Outcome,
                     now: Int64) throws {
        try log(db, visit, step: step.key, o, now: now)
        if o.name == "failed" {
            try JourneyEvents.publish(ctx, db, .stepFailed, journeyID: visit.journeyID, journeyName: visit.journeyName,
                                      enrollmentID: visit.id, personID: visit.personID, step: step.key, detail: o.detail)
        }
        visit.step = o.next
        visit.sinceUs = now
        if o.next.isEmpty {
            try finish(ctx, db, visit, state: .completed, now: now)
        } else {
            try db.execute("UPDATE marketing_journey_enrollments SET current_step = ?, step_since_us = ?, due_us = ? WHERE id = ?",
                           [.text(o.next), .integer(now), .integer(now), .integer(visit.id)])
        }
    }

    static func log(_ db: Database, _ visit: Visit, step: String, _ o: Outcome, now: Int64) throws {
        try db.execute("""
            INSERT INTO marketing_journey_step_log (journey_id, enrollment_id, person_id, step, outcome, detail, outbox_id,
                next_step, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(visit.journeyID), .integer(visit.id), .integer(visit.personID), .text(step), .text(o.name),
                  .text(String(o.detail.prefix(500))), .integer(o.outboxID), .text(o.next), .integer(now)])
    }

    /// Ends the enrollment (COMPLETED or EXITED) and says so on the timeline.
    static func finish(_ ctx: CallContext, _ db: Database, _ visit: Visit, state: Journeys.EnrollmentState, now: Int64,
                       detail: String = "") throws {
        try db.execute("UPDATE marketing_journey_enrollments SET state = ?, current_step = '', ended_us = ? WHERE id = ?",
                       [.integer(state.rawValue), .integer(now), .integer(visit.id)])
        try JourneyEvents.publish(ctx, db, state == .completed ? .completed : .exited, journeyID: visit.journeyID,
                                  journeyName: visit.journeyName, enrollmentID: visit.id, personID: visit.personID,
                                  detail: detail)
    }

    /// Holds the person at their step until `dueUs`.
    static func hold(_ db: Database, _ visit: Visit, until dueUs: Int64) throws {
        try db.execute("UPDATE marketing_journey_enrollments SET due_us = ? WHERE id = ?",
                       [.integer(dueUs), .integer(visit.id)])
    }

    /// A visit of one step failed with `error` (its savepoint rolled back):
    /// in AdvanceJourneys' transaction the step is logged `failed` with the
    /// error and the person moves on (else_next for a two-exit step: its
    /// condition was not shown to hold). A journey that cannot be read any
    /// more ends the enrollment EXITED. False: nothing to record (the
    /// enrollment is no longer ACTIVE).
    static func recordFailure(_ ctx: CallContext, _ db: Database, enrollmentID: Int64, error: any Error) throws -> Bool {
        guard let row = try db.query("""
            SELECT journey_id, person_id, current_step, step_since_us FROM marketing_journey_enrollments
            WHERE id = ? AND state = 1
            """, [.integer(enrollmentID)]).first, let journeyID = row[0].int else { return false }
        let now = UTCClock.nowMicros()
        let detail = "error: \((error as? PluginError)?.description ?? "\(error)")"
        let readable = try? JourneyStore.require(db, journeyID)
        var visit = Visit(id: enrollmentID, journeyID: journeyID, journeyName: readable?.name ?? "", personID: row[1].int ?? 0,
                          step: row[2].string ?? "", sinceUs: row[3].int ?? 0)
        guard let journey = readable, let step = journey.steps.first(where: { $0.key == visit.step }) else {
            if visit.journeyName.isEmpty {
                visit.journeyName = try db.query("SELECT name FROM marketing_journeys WHERE id = ?",
                                                 [.integer(journeyID)]).first?.first?.string ?? ""
            }
            try log(db, visit, step: visit.step, Outcome(name: "failed", detail: detail, next: ""), now: now)
            try JourneyEvents.publish(ctx, db, .stepFailed, journeyID: journeyID, journeyName: visit.journeyName,
                                      enrollmentID: enrollmentID, personID: visit.personID, step: visit.step, detail: detail)
            try finish(ctx, db, visit, state: .exited, now: now, detail: "the journey's steps cannot be read")
            return true
        }
        let twoExits: Bool = switch step.action {
        case .branch(_)?, .waitForEngagement(_)?: true
        default: false
        }
        try pass(ctx, db, &visit, step: step, Outcome(name: "failed", detail: detail, next: twoExits ? step.elseNext : step.next),
                 now: now)
        return true
    }
}
