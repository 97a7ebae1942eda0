import B2BContract
import CRMPluginKit
import SalesContract

/// Moving a deal through its pipeline, gated by its scorecard: a move
/// forward past a stage needs every criterion that stage requires met;
/// back, or to lost, needs none. The opportunity moves with it in sales, in
/// the same transaction.
enum DealStages {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "MoveDeal", move)
        def.unary(B2B.service + "ScoreDeal", score)
    }

    static func move(_ ctx: CallContext, _ req: Crm_B2b_V1_MoveDealRequest) throws -> Crm_B2b_V1_Deal {
        let db = try ctx.database
        var deal = try DealStore.require(db, req.id, writableIn: ctx.scope)
        try Validate.expectedVersion(req.expectedVersion, deal.version, noun: "deal \(deal.id)")
        try DealStore.requireOpen(deal)
        let pipeline = try DealPipelines.require(db, deal.pipelineID, field: "pipeline_id")
        let target = req.stage.trimmedSpaces
        try Validate.required(target, "stage")
        guard target == DealPipelines.lost || pipeline.position(of: target) != nil else {
            throw PluginError.notFound("stage: deal pipeline \(pipeline.id) has no stage \"\(target)\" (its stages: "
                + (pipeline.stages.map(\.key) + [DealPipelines.signed, DealPipelines.lost]).joined(separator: ", ") + ")")
        }
        if target == deal.stage { return try DealStore.full(db, deal) }
        var reason = req.lostReason
        if target == DealPipelines.lost {
            try Check.text(&reason, "lost_reason", max: 500, required: true)
        } else if let from = pipeline.position(of: deal.stage), let to = pipeline.position(of: target), to > from {
            try checkGate(db, deal, pipeline, from: from, to: to)
        }
        let opportunity: Crm_Sales_V1_Opportunity
        switch target {
        case DealPipelines.signed: opportunity = try DealSales.win(ctx, deal.opportunityID)
        case DealPipelines.lost: opportunity = try DealSales.lose(ctx, deal.opportunityID, reason: reason)
        default:
            let stage = pipeline.stages[pipeline.position(of: target) ?? 0]
            opportunity = try DealSales.move(ctx, deal.opportunityID, stage: stage.salesStageID)
        }
        let before = deal
        DealSales.copy(opportunity, to: &deal, pipeline)
        deal.stage = target  // what sales answered, named as the deal names it
        deal.version += 1
        deal.updatedUnixUs = UTCClock.nowMicros()
        try DealStore.save(db, deal)
        try DealStore.seen(db, deal.id, opportunityVersion: opportunity.version)
        try DealStore.audit(ctx, "move", old: before, new: deal)
        let topic = target == DealPipelines.signed ? "signed" : target == DealPipelines.lost ? "lost" : "stage_changed"
        try DealEvents.publish(ctx, topic, deal, previousStage: before.stage,
                               "Deal \(deal.id) '\(deal.name)' moved from \(before.stage) to \(target)")
        return try DealStore.full(db, deal)
    }

    /// FAILED_PRECONDITION naming every criterion that a stage from `from`
    /// up to (not including) `to` requires and the scorecard lacks.
    static func checkGate(_ db: Database, _ deal: Crm_B2b_V1_Deal, _ pipeline: Crm_B2b_V1_DealPipeline, from: Int, to: Int) throws {
        let met = Set(try db.query("SELECT criterion FROM b2b_deal_scores WHERE deal_id = ? AND met = 1", [.integer(deal.id)])
            .map { $0.text(0) })
        var missing: [String] = []
        for stage in pipeline.stages[from..<min(to, pipeline.stages.count)] {
            for criterion in stage.requiredCriteria where !met.contains(criterion) {
                missing.append("\(stage.key) needs criterion \(criterion) (\(pipeline.criterionName(criterion)))")
            }
        }
        guard missing.isEmpty else {
            let target = to < pipeline.stages.count ? pipeline.stages[to].key : DealPipelines.signed
            throw PluginError.failedPrecondition("deal \(deal.id) cannot move from \(deal.stage) to \(target): "
                + missing.joined(separator: "; ") + " and it is not met")
        }
    }

    static func score(_ ctx: CallContext, _ req: Crm_B2b_V1_ScoreDealRequest) throws -> Crm_B2b_V1_Deal {
        let db = try ctx.database
        var deal = try DealStore.require(db, req.dealID, field: "deal_id", writableIn: ctx.scope)
        let pipeline = try DealPipelines.require(db, deal.pipelineID, field: "pipeline_id")
        guard pipeline.criteria.contains(where: { $0.key == req.criterion }) else {
            throw PluginError.invalidArgument("criterion \"\(req.criterion)\" is not one of deal pipeline \(pipeline.id)'s: "
                + pipeline.criteria.map(\.key).joined(separator: ", "))
        }
        var evidence = req.evidence
        try Check.text(&evidence, "evidence", max: 2000)
        try DealStore.requireOpen(deal)
        let old = try db.query("SELECT met, evidence FROM b2b_deal_scores WHERE deal_id = ? AND criterion = ?",
                               [.integer(deal.id), .text(req.criterion)]).first
        if let old, (old.int(0) != 0) == req.met, old.text(1) == evidence { return try DealStore.full(db, deal) }
        let now = UTCClock.nowMicros()
        try db.execute("""
            INSERT INTO b2b_deal_scores (deal_id, criterion, met, evidence, scored_by, scored_us) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (deal_id, criterion) DO UPDATE SET met = excluded.met, evidence = excluded.evidence,
                scored_by = excluded.scored_by, scored_us = excluded.scored_us
            """, [.integer(deal.id), .text(req.criterion), .integer(req.met ? 1 : 0), .text(evidence), .text(ctx.user ?? ""),
                  .integer(now)])
        let before = deal
        deal.version += 1
        deal.updatedUnixUs = now
        try DealStore.save(db, deal)
        func shown(_ met: Bool?, _ evidence: String?) -> String? { met.map { ($0 ? "met" : "not met") + (evidence.map { ": " + $0 } ?? "") } }
        try DealStore.audit(ctx, "score", old: before, new: deal, extra: [
            FieldChange("scorecard.\(req.criterion)", old: old.flatMap { shown($0.int(0) != 0, $0.text(1)) },
                        new: shown(req.met, evidence)),
        ])
        try DealEvents.publish(ctx, "scored", deal, previousStage: deal.stage,
                               "Deal \(deal.id): \(pipeline.criterionName(req.criterion)) " + (req.met ? "met" : "not met"))
        return try DealStore.full(db, deal)
    }
}
