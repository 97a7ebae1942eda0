import B2BContract
import CRMPluginKit
import SalesContract

/// Deals: create (with a new opportunity or on an existing one), read,
/// update the opportunity's fields through sales, list. Stage moves and the
/// scorecard are in DealStages, the buying committee in Committee.
enum DealMethods {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "CreateDeal", create)
        def.unary(B2B.service + "GetDeal", get)
        def.unary(B2B.service + "UpdateDeal", update)
        def.unary(B2B.service + "ListDeals", list)
    }

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreateDealRequest) throws -> Crm_B2b_V1_Deal {
        let db = try ctx.database
        let scope = ctx.scope
        let (previous, claim) = try B2B.idempotency.check(db, method: "CreateDeal", req, key: \.idempotencyKey)
        if let id = previous {
            guard let deal = try DealStore.load(db, id), scope.includes(owner: ownerOrNil(deal.owner)) else {
                throw IdempotencyKeys.mismatch(method: "CreateDeal", key: req.idempotencyKey)
            }
            return try DealStore.full(db, deal)
        }
        let pipeline = try DealPipelines.require(db, req.pipelineID, field: "pipeline_id")
        try Validate.optionalID(req.opportunityID, "opportunity_id")
        try Validate.positiveID(req.sellingOrganizationID, "selling_organization_id")
        try Validate.optionalID(req.buyingOrganizationID, "buying_organization_id")
        guard (req.opportunityID != 0) != req.hasOpportunity else {
            throw PluginError.invalidArgument("give opportunity_id (an existing opportunity) or opportunity (a new one), not "
                + (req.opportunityID != 0 ? "both" : "neither"))
        }
        guard req.sellingOrganizationID != req.buyingOrganizationID else {
            throw PluginError.invalidArgument("selling_organization_id and buying_organization_id are both \(req.buyingOrganizationID)")
        }
        _ = try Links.requireOrganization(ctx, req.sellingOrganizationID, field: "selling_organization_id")
        let opportunity: Crm_Sales_V1_Opportunity
        if req.opportunityID != 0 {
            opportunity = try Links.opportunity(ctx, req.opportunityID, field: "opportunity_id")
            guard try DealStore.byOpportunity(db, opportunity.id) == nil else {
                throw PluginError.alreadyExists("opportunity_id: opportunity \(opportunity.id) already has a deal")
            }
            guard opportunity.status == .open else {
                throw PluginError.failedPrecondition("opportunity_id: opportunity \(opportunity.id) is "
                    + (opportunity.status == .won ? "won" : "lost") + "; a deal is made on an open one")
            }
            guard opportunity.pipelineID == pipeline.salesPipelineID else {
                throw PluginError.failedPrecondition("opportunity_id: opportunity \(opportunity.id) is in sales pipeline "
                    + "\(opportunity.pipelineID), not deal pipeline \(pipeline.id)'s (\(pipeline.salesPipelineID))")
            }
            if req.buyingOrganizationID != 0 && opportunity.organizationID != 0 && req.buyingOrganizationID != opportunity.organizationID {
                throw PluginError.invalidArgument("buying_organization_id: the opportunity's organization is "
                    + "\(opportunity.organizationID), not \(req.buyingOrganizationID)")
            }
            guard req.buyingOrganizationID != 0 || opportunity.organizationID != 0 else {
                throw PluginError.invalidArgument("buying_organization_id is required: opportunity \(opportunity.id) has no organization")
            }
            try scope.checkWritable(owner: ownerOrNil(opportunity.owner), "opportunity_id: opportunity \(opportunity.id)")
        } else {
            try Validate.positiveID(req.buyingOrganizationID, "buying_organization_id")
            _ = try Links.requireOrganization(ctx, req.buyingOrganizationID, field: "buying_organization_id")
            let draft = req.opportunity
            // The new opportunity's owner must be in the caller's deal scope too.
            let owner = try scope.owner(for: draft.owner.trimmedSpaces, "opportunity")
            opportunity = try Links.call(ctx, DealSales.service + "CreateOpportunity", Crm_Sales_V1_CreateOpportunityRequest.with {
                $0.opportunity.name = draft.name
                $0.opportunity.pipelineID = pipeline.salesPipelineID
                if draft.hasAmount {
                    $0.opportunity.amount = .with { m in m.amountMinor = draft.amount.amountMinor; m.currency = draft.amount.currency }
                }
                $0.opportunity.expectedCloseDate = draft.expectedCloseDate
                $0.opportunity.owner = owner
                $0.opportunity.personID = draft.personID
                $0.opportunity.organizationID = req.buyingOrganizationID
            })
        }
        let buyer = opportunity.organizationID != 0 ? opportunity.organizationID : req.buyingOrganizationID
        if buyer != opportunity.organizationID { _ = try Links.requireOrganization(ctx, buyer, field: "buying_organization_id") }
        guard buyer != req.sellingOrganizationID else {
            throw PluginError.invalidArgument("selling_organization_id \(buyer) is the buying organization")
        }
        let now = UTCClock.nowMicros()
        var deal = Crm_B2b_V1_Deal.with {
            $0.opportunityID = opportunity.id
            $0.pipelineID = pipeline.id
            $0.stage = pipeline.stages.first?.key ?? ""
            $0.sellingOrganizationID = req.sellingOrganizationID
            $0.buyingOrganizationID = buyer
            $0.version = 1
            $0.createdUnixUs = now
            $0.updatedUnixUs = now
        }
        DealSales.copy(opportunity, to: &deal, pipeline)
        try DealStore.insert(db, &deal)
        try DealStore.seen(db, deal.id, opportunityVersion: opportunity.version)
        try DealStore.audit(ctx, "create", old: nil, new: deal)
        try DealEvents.publish(ctx, "created", deal, previousStage: "", "Deal \(deal.id) '\(deal.name)' opened at \(deal.stage)")
        try B2B.idempotency.record(db, claim, resultID: deal.id)
        return try DealStore.full(db, deal)
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetDealRequest) throws -> Crm_B2b_V1_Deal {
        let db = try ctx.database
        return try DealStore.full(db, try DealStore.require(db, req.id, readableIn: ctx.scope))
    }

    static let updatable: Set<String> = ["name", "amount", "expected_close_date", "selling_organization_id"]
    static let camel = ["expectedCloseDate": "expected_close_date", "sellingOrganizationId": "selling_organization_id"]

    static func update(_ ctx: CallContext, _ req: Crm_B2b_V1_UpdateDealRequest) throws -> Crm_B2b_V1_Deal {
        var paths = Set<String>()
        for path in req.updateMask {
            let name = camel[path] ?? path
            guard updatable.contains(name) else {
                throw PluginError.invalidArgument("update_mask: \"\(path)\" is not one of \(updatable.sorted().joined(separator: ", "))")
            }
            paths.insert(name)
        }
        guard !paths.isEmpty else { throw PluginError.invalidArgument("update_mask is required") }
        let db = try ctx.database
        var deal = try DealStore.require(db, req.id, writableIn: ctx.scope)
        try Validate.expectedVersion(req.expectedVersion, deal.version, noun: "deal \(deal.id)")
        try DealStore.requireOpen(deal)
        let pipeline = try DealPipelines.require(db, deal.pipelineID, field: "pipeline_id")
        let before = deal
        if paths.contains("selling_organization_id") {
            try Validate.positiveID(req.sellingOrganizationID, "selling_organization_id")
            guard req.sellingOrganizationID != deal.buyingOrganizationID else {
                throw PluginError.invalidArgument("selling_organization_id \(req.sellingOrganizationID) is the buying organization")
            }
            _ = try Links.requireOrganization(ctx, req.sellingOrganizationID, field: "selling_organization_id")
            deal.sellingOrganizationID = req.sellingOrganizationID
        }
        let salesPaths = paths.subtracting(["selling_organization_id"]).sorted()
        if !salesPaths.isEmpty {
            let o: Crm_Sales_V1_Opportunity = try Links.call(ctx, DealSales.service + "UpdateOpportunity",
                                                             Crm_Sales_V1_UpdateOpportunityRequest.with {
                $0.opportunity.id = deal.opportunityID
                $0.opportunity.name = req.name
                if req.hasAmount {
                    $0.opportunity.amount = .with { m in m.amountMinor = req.amount.amountMinor; m.currency = req.amount.currency }
                }
                $0.opportunity.expectedCloseDate = req.expectedCloseDate
                $0.updateMask = salesPaths
            })
            DealSales.copy(o, to: &deal, pipeline)
            try DealStore.seen(db, deal.id, opportunityVersion: o.version)
        }
        guard deal != before else { return try DealStore.full(db, deal) }
        deal.version += 1
        deal.updatedUnixUs = UTCClock.nowMicros()
        try DealStore.save(db, deal)
        try DealStore.audit(ctx, "update", old: before, new: deal)
        try DealEvents.publish(ctx, "updated", deal, previousStage: deal.stage, "Deal \(deal.id) '\(deal.name)' updated")
        return try DealStore.full(db, deal)
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListDealsRequest) throws -> Crm_B2b_V1_ListDealsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.optionalID(req.pipelineID, "pipeline_id")
        try Validate.optionalID(req.buyingOrganizationID, "buying_organization_id")
        var filter = SQLFilter()
        if req.pipelineID != 0 { filter.add("pipeline_id = ?", .integer(req.pipelineID)) }
        if !req.stage.isEmpty { filter.add("stage = ?", .text(req.stage)) }
        if req.status != .unspecified { filter.add("status = ?", .integer(Int64(req.status.rawValue))) }
        if req.buyingOrganizationID != 0 { filter.add("buying_organization_id = ?", .integer(req.buyingOrganizationID)) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database, "SELECT \(DealStore.columns) FROM b2b_deals \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: DealStore.decode, key: { [$0[0]] })
        return .with {
            $0.deals = page.rows
            $0.nextPageToken = page.nextToken
        }
    }
}
