import B2BContract
import CRMPluginKit
import SalesContract

/// A deal's opportunity lives in sales: b2b changes it only through sales'
/// methods, in-process for the caller and inside the deal's transaction
/// (sales checks the caller's sales permission and scope, and both writes
/// commit or neither does), and copies what sales answers onto the deal.
/// Changes made in sales directly arrive as sales' events (B2BEvents), and
/// `follow` applies them the same way.
enum DealSales {
    static let service = "/crm.sales.v1.Sales/"

    static func move(_ ctx: CallContext, _ opportunity: Int64, stage: Int64) throws -> Crm_Sales_V1_Opportunity {
        try Links.call(ctx, service + "MoveOpportunity", Crm_Sales_V1_MoveOpportunityRequest.with {
            $0.id = opportunity
            $0.stageID = stage
        })
    }

    static func win(_ ctx: CallContext, _ opportunity: Int64) throws -> Crm_Sales_V1_Opportunity {
        try Links.call(ctx, service + "WinOpportunity", Crm_Sales_V1_WinOpportunityRequest.with { $0.id = opportunity })
    }

    static func lose(_ ctx: CallContext, _ opportunity: Int64, reason: String) throws -> Crm_Sales_V1_Opportunity {
        try Links.call(ctx, service + "LoseOpportunity", Crm_Sales_V1_LoseOpportunityRequest.with {
            $0.id = opportunity
            $0.reason = reason
        })
    }

    /// Copies the opportunity's owner, name, amount, close date, person and
    /// stage or outcome onto the deal; true if anything changed.
    @discardableResult
    static func copy(_ o: Crm_Sales_V1_Opportunity, to deal: inout Crm_B2b_V1_Deal, _ pipeline: Crm_B2b_V1_DealPipeline) -> Bool {
        let before = deal
        deal.owner = o.owner
        deal.name = o.name
        deal.amount = .with { $0.amountMinor = o.amount.amountMinor; $0.currency = o.amount.currency }
        deal.expectedCloseDate = o.expectedCloseDate
        deal.personID = o.personID
        switch o.status {
        case .won:
            deal.status = .signed
            deal.stage = DealPipelines.signed
        case .lost:
            deal.status = .lost
            deal.stage = DealPipelines.lost
            deal.lostReason = o.lostReason
        default:
            deal.status = .open
            if let key = pipeline.stageKey(salesStage: o.stageID) { deal.stage = key }
        }
        return deal != before
    }

    /// A sales event about an opportunity that has a deal: the deal takes
    /// what sales now says (a stage moved in sales directly is followed,
    /// not gated: sales owns the opportunity). A repeat changes nothing.
    static func follow(_ ctx: CallContext, _ o: Crm_Sales_V1_Opportunity) throws {
        let db = try ctx.database
        guard var deal = try DealStore.byOpportunity(db, o.id), let pipeline = try DealPipelines.load(db, deal.pipelineID) else {
            return
        }
        guard o.version > (try DealStore.seenVersion(db, deal.id)) else { return }
        try DealStore.seen(db, deal.id, opportunityVersion: o.version)
        let before = deal
        let previousStage = deal.stage
        guard copy(o, to: &deal, pipeline) else { return }
        deal.version += 1
        deal.updatedUnixUs = UTCClock.nowMicros()
        try DealStore.save(db, deal)
        try DealStore.audit(ctx, "follow", old: before, new: deal)
        if deal.stage != previousStage {
            try DealEvents.publish(ctx, deal.status == .signed ? "signed" : deal.status == .lost ? "lost" : "stage_changed",
                                   deal, previousStage: previousStage, "Deal \(deal.id) '\(deal.name)' now at \(deal.stage) (in sales)")
        }
    }
}
