import CRMPluginKit
import SalesContract
import ContactsLinkKit

/// Create, read, update and list opportunities. Stage moves and outcomes
/// are in OpportunityStages.
enum OpportunityMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "CreateOpportunity", create)
        def.unary(Sales.service + "GetOpportunity", get)
        def.unary(Sales.service + "UpdateOpportunity", update)
        def.unary(Sales.service + "ListOpportunities", list)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Sales_V1_CreateOpportunityRequest) throws -> Opportunity {
        let db = try ctx.database
        let (previous, claim) = try Sales.idempotency.check(db, method: "CreateOpportunity", req, key: \.idempotencyKey)
        if let id = previous {
            let o = try OpportunityStore(db: db).require(id)
            return try SalesScope.retried(o, owner: o.owner, ctx.scope, method: "CreateOpportunity", key: req.idempotencyKey)
        }
        // A lead out of the caller's scope is as missing as one that never was.
        if req.opportunity.leadID > 0 {
            _ = try LeadStore(db: db).require(req.opportunity.leadID, field: "opportunity.lead_id",
                                              readableIn: ctx.scope(for: SalesScope.leadRead))
        }
        let opportunity = try open(ctx, db, req.opportunity, prefix: "opportunity.")
        try Sales.idempotency.record(db, claim, resultID: opportunity.id)
        return opportunity
    }

    /// Opens an opportunity from `draft` (CreateOpportunity and ConvertLead):
    /// checks it, puts it in its pipeline's stage (the first for stage 0),
    /// records the history row and publishes sales.opportunity.created.
    /// The owner must be in the caller's opportunity write scope (an empty
    /// one becomes the caller under a limited scope). `prefix` is put before
    /// field names in errors.
    static func open(_ ctx: CallContext, _ db: Database, _ draft: Opportunity, prefix: String) throws -> Opportunity {
        var o = draft
        try validate(ctx, &o, prefix: prefix, checkPeople: true)
        o.owner = try ctx.scope(for: SalesScope.opportunityWrite).owner(for: o.owner, "\(prefix)owner: the opportunity")
        let pipeline = try PipelineMethods.require(db, o.pipelineID, field: "\(prefix)pipeline_id")
        let stage: Stage
        if o.stageID == 0 {
            guard let first = pipeline.stages.first else {
                throw PluginError.failedPrecondition("\(prefix)pipeline_id: pipeline \(pipeline.id) has no stages")
            }
            stage = first
        } else {
            stage = try PipelineMethods.requireStage(db, o.stageID, of: pipeline, field: "\(prefix)stage_id")
        }
        guard (0...100).contains(o.probability) else {
            throw PluginError.invalidArgument("\(prefix)probability must be 0 to 100, not \(o.probability)")
        }
        if o.leadID != 0 { _ = try LeadStore(db: db).require(o.leadID, field: "\(prefix)lead_id") }
        let now = UTCClock.nowMicros()
        o.id = 0
        o.pipelineID = pipeline.id
        o.stageID = stage.id
        o.stageName = stage.name
        if o.probability == 0 { o.probability = stage.probability }
        o.status = .open
        o.lostReason = ""
        o.closedUnixUs = 0
        o.version = 1
        o.createdUnixUs = now
        o.updatedUnixUs = now
        let store = OpportunityStore(db: db)
        try store.insert(&o)
        try SalesAudit.opportunity(ctx, "create", old: nil, new: o)
        o.stageHistory = try store.history(o.id)
        try SalesEvents.opportunity(ctx, "created", o, "\(OpportunityStore.describe(o)) opened in \(stage.name)")
        return o
    }

    static func get(_ ctx: CallContext, _ req: Crm_Sales_V1_GetOpportunityRequest) throws -> Opportunity {
        try OpportunityStore(db: ctx.database).require(req.id, readableIn: ctx.scope)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Sales_V1_UpdateOpportunityRequest) throws -> Opportunity {
        let fields = try OpportunityStore.updateMask.resolve(req.updateMask, req.opportunity)
        let db = try ctx.database
        let store = OpportunityStore(db: db)
        let scope = ctx.scope
        var o = try store.require(req.opportunity.id, field: "opportunity.id", writableIn: scope)
        try Validate.expectedVersion(req.expectedVersion, o.version, noun: "opportunity \(o.id)")
        let before = o
        OpportunityStore.copy(req.opportunity, to: &o, fields: fields.names)
        // Only new links are checked: a person merged away since is re-pointed by the merge event.
        try validate(ctx, &o, prefix: "opportunity.", checkPeople: false)
        if o.personID != before.personID { try ContactsLink.requirePerson(ctx, o.personID, field: "opportunity.person_id") }
        if o.organizationID != before.organizationID {
            try ContactsLink.requireOrganization(ctx, o.organizationID, field: "opportunity.organization_id")
        }
        if o.owner != before.owner { o.owner = try scope.owner(for: o.owner, "opportunity.owner: opportunity \(o.id)") }
        guard o != before else { return o }
        o.version += 1
        o.updatedUnixUs = UTCClock.nowMicros()
        try store.save(o)
        try SalesAudit.opportunity(ctx, "update", old: before, new: o)
        try SalesEvents.opportunity(ctx, "updated", o, "\(OpportunityStore.describe(o)) updated")
        return o
    }

    static func list(_ ctx: CallContext, _ req: Crm_Sales_V1_ListOpportunitiesRequest) throws -> Crm_Sales_V1_ListOpportunitiesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        for (value, name) in [(req.pipelineID, "pipeline_id"), (req.stageID, "stage_id"), (req.personID, "person_id"),
                              (req.organizationID, "organization_id")] {
            try Validate.optionalID(value, name)
        }
        var filter = SQLFilter()
        if req.pipelineID != 0 { filter.add("o.pipeline_id = ?", .integer(req.pipelineID)) }
        // Closed opportunities are at their outcome, in no stage.
        if req.stageID != 0 { filter.add("o.stage_id = ? AND o.status = 1", .integer(req.stageID)) }
        if req.status != .unspecified { filter.add("o.status = ?", .integer(Int64(req.status.rawValue))) }
        if !req.owner.isEmpty { filter.add("o.owner = ?", .text(req.owner)) }
        if req.personID != 0 { filter.add("o.person_id = ?", .integer(req.personID)) }
        if req.organizationID != 0 { filter.add("o.organization_id = ?", .integer(req.organizationID)) }
        ctx.scope.apply(to: &filter, ownerColumn: "o.owner")
        if let after = paging.after { filter.add("o.id > ?", after[0]) }
        // Lists leave stage_history out; GetOpportunity has it.
        let page = try fetchPage(try ctx.database, "\(OpportunityStore.select) \(filter.clause) ORDER BY o.id LIMIT ?",
                                 filter.parameters, paging, decode: OpportunityStore.decode, key: { [$0[0]] })
        var response = Crm_Sales_V1_ListOpportunitiesResponse()
        response.opportunities = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    /// Trims and checks the writable fields; with `checkPeople`, also that
    /// the person and organization exist in contacts.
    static func validate(_ ctx: CallContext, _ o: inout Opportunity, prefix: String, checkPeople: Bool) throws {
        try Check.text(&o.name, "\(prefix)name", max: 200)
        try Validate.required(o.name, "\(prefix)name")
        if o.hasAmount {
            try Check.money(&o.amount, "\(prefix)amount")
            if o.amount.currency.isEmpty { o.clearAmount() }
        }
        try Check.date(&o.expectedCloseDate, "\(prefix)expected_close_date")
        try Check.text(&o.owner, "\(prefix)owner", max: 100)
        try Validate.optionalID(o.personID, "\(prefix)person_id")
        try Validate.optionalID(o.organizationID, "\(prefix)organization_id")
        try Validate.optionalID(o.leadID, "\(prefix)lead_id")
        try Validate.optionalID(o.stageID, "\(prefix)stage_id")
        if checkPeople {
            try ContactsLink.requirePerson(ctx, o.personID, field: "\(prefix)person_id")
            try ContactsLink.requireOrganization(ctx, o.organizationID, field: "\(prefix)organization_id")
        }
    }
}
