import CRMPluginKit
import SalesContract

/// Moving an open opportunity between the stages of its pipeline, and
/// closing it as won or lost. Each step closes the current stage history
/// row and opens the next (stage 0, "Won" or "Lost", for an outcome).
enum OpportunityStages {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "MoveOpportunity", move)
        def.unary(Sales.service + "WinOpportunity", win)
        def.unary(Sales.service + "LoseOpportunity", lose)
    }

    static func move(_ ctx: CallContext, _ req: Crm_Sales_V1_MoveOpportunityRequest) throws -> Opportunity {
        let db = try ctx.database
        let store = OpportunityStore(db: db)
        var o = try requireOpen(ctx, store, req.id)
        try Validate.positiveID(req.stageID, "stage_id")
        guard (0...100).contains(req.probability) else {
            throw PluginError.invalidArgument("probability must be 0 to 100, not \(req.probability)")
        }
        let pipeline = try PipelineMethods.require(db, o.pipelineID, field: "pipeline_id")
        let stage = try PipelineMethods.requireStage(db, req.stageID, of: pipeline, field: "stage_id")
        let probability = req.probability == 0 ? stage.probability : req.probability
        let now = UTCClock.nowMicros()
        let previous = o.stageID
        let before = o
        if stage.id == previous {
            // Already there: at most a new probability, and no new history row.
            guard probability != o.probability else { return o }
            o.probability = probability
            o.version += 1
            o.updatedUnixUs = now
            try store.save(o)
            try SalesAudit.opportunity(ctx, "move", old: before, new: o)
            try SalesEvents.opportunity(ctx, "updated", o, "\(OpportunityStore.describe(o)) now at \(probability) %")
            return o
        }
        o.stageID = stage.id
        o.stageName = stage.name
        o.probability = probability
        o.version += 1
        o.updatedUnixUs = now
        try store.save(o)
        try SalesAudit.opportunity(ctx, "move", old: before, new: o)
        try store.enter(o.id, stageID: stage.id, stageName: stage.name, at: now)
        o.stageHistory = try store.history(o.id)
        try SalesEvents.opportunity(ctx, "stage_changed", o, previousStageID: previous,
                                    "\(OpportunityStore.describe(o)) moved to \(stage.name)")
        return o
    }

    static func win(_ ctx: CallContext, _ req: Crm_Sales_V1_WinOpportunityRequest) throws -> Opportunity {
        try close(ctx, req.id, won: true, reason: "")
    }

    static func lose(_ ctx: CallContext, _ req: Crm_Sales_V1_LoseOpportunityRequest) throws -> Opportunity {
        var reason = req.reason
        try Check.text(&reason, "reason", max: 500)
        if reason.isEmpty { throw PluginError.invalidArgument("reason is required to lose an opportunity") }
        return try close(ctx, req.id, won: false, reason: reason)
    }

    /// Won: probability 100; lost: probability 0 and the reason. Either way
    /// the opportunity leaves its stage for the outcome (stage 0, "Won" or
    /// "Lost"); its history keeps the stage it closed from.
    private static func close(_ ctx: CallContext, _ id: Int64, won: Bool, reason: String) throws -> Opportunity {
        let store = OpportunityStore(db: try ctx.database)
        var o = try requireOpen(ctx, store, id)
        let now = UTCClock.nowMicros()
        let previous = o.stageID
        let before = o
        o.status = won ? .won : .lost
        o.stageID = 0
        o.stageName = won ? "Won" : "Lost"
        o.probability = won ? 100 : 0
        o.lostReason = reason
        o.closedUnixUs = now
        o.version += 1
        o.updatedUnixUs = now
        try store.save(o)
        try SalesAudit.opportunity(ctx, won ? "win" : "lose", old: before, new: o)
        try store.enter(o.id, stageID: 0, stageName: o.stageName, at: now)
        o.stageHistory = try store.history(o.id)
        let summary = won ? "\(OpportunityStore.describe(o)) won" : "\(OpportunityStore.describe(o)) lost: \(reason)"
        try SalesEvents.opportunity(ctx, won ? "won" : "lost", o, previousStageID: previous, summary)
        return o
    }

    /// An open opportunity in the caller's write scope.
    private static func requireOpen(_ ctx: CallContext, _ store: OpportunityStore, _ id: Int64) throws -> Opportunity {
        let o = try store.require(id, writableIn: ctx.scope)
        guard o.status == .open else {
            let state = o.status == .won ? "won" : "lost"
            throw PluginError.failedPrecondition("id: opportunity \(id) is already \(state); only open opportunities change stage")
        }
        return o
    }
}
