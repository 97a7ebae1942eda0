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
///
/// The visits themselves run in AdvanceJourneyVisits, called in-process, so
/// in a savepoint of the batch's transaction: a visit that fails (any error,
/// a bug included) cannot take its batch down with it, run after run. The
/// batch is then run again visit by visit, and the failing visit step by
/// step; the step that failed is logged `failed` and its person moves on.
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
        def.unary(Marketing.service + "AdvanceJourneyVisits", JourneyVisits.advance)
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

    static func advance(_ ctx: CallContext, _ req: Crm_Marketing_V1_AdvanceJourneysRequest) throws -> Crm_Marketing_V1_AdvanceJourneysResponse {
        guard req.limit >= 0 && req.limit <= Int32(maxBatch) else {
            throw PluginError.invalidArgument("limit must be 0 to \(maxBatch)")
        }
        let limit = req.limit == 0 ? defaultBatch : Int(req.limit)
        let db = try ctx.database
        let due = try db.query("""
            SELECT e.id FROM marketing_journey_enrollments e
            JOIN marketing_journeys j ON j.id = e.journey_id AND j.state = 2
            WHERE e.state = 1 AND e.due_us <= ? ORDER BY e.due_us, e.id LIMIT ?
            """, [.integer(UTCClock.nowMicros()), .integer(Int64(limit))]).compactMap { $0[0].int }
        var response = Crm_Marketing_V1_AdvanceJourneysResponse()
        response.enrollments = Int64(due.count)
        guard !due.isEmpty else { return response }
        // The common case: the whole batch in one nested call.
        if let batch = try? visits(ctx, due, maxSteps: maxStepsPerVisit) {
            response.steps = batch.steps
            return response
        }
        // Something failed, and the nested call's savepoint undid the whole
        // batch: again one visit at a time, the failing one step by step.
        for id in due {
            if let one = try? visits(ctx, [id], maxSteps: maxStepsPerVisit) {
                response.steps += one.steps
                continue
            }
            for _ in 0..<maxStepsPerVisit {
                do {
                    let step = try visits(ctx, [id], maxSteps: 1)
                    if step.steps == 0 { break }  // held at a wait, or ended
                    response.steps += step.steps
                } catch {
                    // If the transaction itself is gone, this write fails and so does the batch.
                    guard try JourneyVisits.recordFailure(ctx, db, enrollmentID: id, error: error) else { break }
                    response.failed += 1
                    response.steps += 1
                }
            }
        }
        return response
    }

    /// AdvanceJourneyVisits in-process, in a savepoint of this transaction.
    static func visits(_ ctx: CallContext, _ ids: [Int64], maxSteps: Int) throws -> Crm_Marketing_V1_AdvanceJourneysResponse {
        var request = Crm_Marketing_V1_AdvanceJourneyVisitsRequest()
        request.enrollmentIds = ids
        request.maxSteps = Int32(maxSteps)
        let bytes = try ctx.host.invoke(Marketing.service + "AdvanceJourneyVisits", request: try request.serializedBytes(),
                                        parent: ctx)
        return try Crm_Marketing_V1_AdvanceJourneysResponse(serializedBytes: bytes)
    }
}
