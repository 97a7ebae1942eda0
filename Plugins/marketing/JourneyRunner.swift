import CRMPluginKit
import ContactsContract
import MarketingContract

/// Runs journeys off the RPC path. The job (RunJourneys) writes nothing
/// itself: it calls AdvanceJourneys in-process, one short write per batch.
/// In that write each step a person passes inserts its step-log row
/// (UNIQUE per journey, enrollment and step) and moves the enrollment on,
/// and a send, tag or field update happens in the same transaction (the
/// outbox row; contacts' UpdatePerson, called in-process with parent: ctx,
/// runs in a savepoint of this transaction): a crash before the commit
/// undoes all of it, after it nothing is due again, so nothing repeats and
/// nothing is skipped.
enum JourneyRunner {
    static let defaultBatch = 100
    static let maxBatch = 500
    /// Batches per job run: bounds a run (shutdown waits for it).
    static let maxBatchesPerRun = 20
    /// Steps one person passes in one batch at most (the graph has at most 50).
    static let maxStepsPerVisit = 60
    /// How often an engagement wait looks again for the open or click.
    static let engagementPollUs: Int64 = 1_000_000

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "RunJourneys", run)
        def.unary(Marketing.service + "AdvanceJourneys", advance)
    }

    static func run(_ ctx: CallContext, _ req: Crm_Marketing_V1_RunJourneysRequest) throws -> Crm_Marketing_V1_RunJourneysResponse {
        var response = Crm_Marketing_V1_RunJourneysResponse()
        var request = Crm_Marketing_V1_AdvanceJourneysRequest()
        request.limit = Int32(defaultBatch)
        for _ in 0..<maxBatchesPerRun {
            let bytes = try ctx.host.invoke(Marketing.service + "AdvanceJourneys", request: try request.serializedBytes(), parent: ctx)
            let batch = try Crm_Marketing_V1_AdvanceJourneysResponse(serializedBytes: bytes)
            response.steps += batch.steps
            if batch.enrollments < Int64(defaultBatch) { break }
        }
        return response
    }

    struct Visit {
        var id: Int64
        var journeyID: Int64
        var personID: Int64
        var step: String
        var sinceUs: Int64
    }

    static func advance(_ ctx: CallContext, _ req: Crm_Marketing_V1_AdvanceJourneysRequest) throws -> Crm_Marketing_V1_AdvanceJourneysResponse {
        guard req.limit >= 0 && req.limit <= Int32(maxBatch) else {
            throw PluginError.invalidArgument("limit must be 0 to \(maxBatch)")
        }
        let limit = req.limit == 0 ? defaultBatch : Int(req.limit)
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        let due = try db.query("""
            SELECT e.id, e.journey_id, e.person_id, e.current_step, e.step_since_us FROM marketing_journey_enrollments e
            JOIN marketing_journeys j ON j.id = e.journey_id AND j.state = 2
            WHERE e.state = 1 AND e.due_us <= ? ORDER BY e.due_us, e.id LIMIT ?
            """, [.integer(now), .integer(Int64(limit))])
        var journeys: [Int64: [String: JourneyStep]] = [:]
        var response = Crm_Marketing_V1_AdvanceJourneysResponse()
        for row in due {
            var visit = Visit(id: row[0].int ?? 0, journeyID: row[1].int ?? 0, personID: row[2].int ?? 0,
                              step: row[3].string ?? "", sinceUs: row[4].int ?? 0)
            if journeys[visit.journeyID] == nil {
                let j = try JourneyStore.require(db, visit.journeyID)
                journeys[visit.journeyID] = Dictionary(j.steps.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            }
            let steps = journeys[visit.journeyID] ?? [:]
            response.enrollments += 1
            var passed = 0
            while passed < maxStepsPerVisit {
                guard let step = steps[visit.step] else {
                    try finish(db, visit, state: .completed, now: now)
                    break
                }
                guard let outcome = try JourneyStepRunner.run(ctx, db, step, visit, now: now) else { break }
                try pass(db, &visit, step: step, outcome, now: now)
                passed += 1
                response.steps += 1
                if visit.step.isEmpty { break }
            }
        }
        return response
    }

    /// What a step did, and where the person goes next ("" ends the journey).
    struct Outcome: Error {
        var name: String
        var detail = ""
        var outboxID: Int64 = 0
        var next: String
    }

    /// Records the step passed and moves the enrollment on, in the step's transaction.
    static func pass(_ db: Database, _ visit: inout Visit, step: JourneyStep, _ o: Outcome, now: Int64) throws {
        try db.execute("""
            INSERT INTO marketing_journey_step_log (journey_id, enrollment_id, person_id, step, outcome, detail, outbox_id,
                next_step, at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.integer(visit.journeyID), .integer(visit.id), .integer(visit.personID), .text(step.key), .text(o.name),
                  .text(String(o.detail.prefix(500))), .integer(o.outboxID), .text(o.next), .integer(now)])
        visit.step = o.next
        visit.sinceUs = now
        if o.next.isEmpty {
            try finish(db, visit, state: .completed, now: now)
        } else {
            try db.execute("UPDATE marketing_journey_enrollments SET current_step = ?, step_since_us = ?, due_us = ? WHERE id = ?",
                           [.text(o.next), .integer(now), .integer(now), .integer(visit.id)])
        }
    }

    static func finish(_ db: Database, _ visit: Visit, state: Journeys.EnrollmentState, now: Int64) throws {
        try db.execute("UPDATE marketing_journey_enrollments SET state = ?, current_step = '', ended_us = ? WHERE id = ?",
                       [.integer(state.rawValue), .integer(now), .integer(visit.id)])
    }

    /// Holds the person at their step until `dueUs`.
    static func hold(_ db: Database, _ visit: Visit, until dueUs: Int64) throws {
        try db.execute("UPDATE marketing_journey_enrollments SET due_us = ? WHERE id = ?",
                       [.integer(dueUs), .integer(visit.id)])
    }
}
