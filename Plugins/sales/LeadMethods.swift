import CRMPluginKit
import SalesContract

/// Create, read, update, list, qualify and disqualify leads.
enum LeadMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "CreateLead", create)
        def.unary(Sales.service + "GetLead", get)
        def.unary(Sales.service + "UpdateLead", update)
        def.unary(Sales.service + "ListLeads", list)
        def.unary(Sales.service + "QualifyLead", qualify)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Sales_V1_CreateLeadRequest) throws -> Lead {
        let db = try ctx.database
        let store = LeadStore(db: db)
        let (previous, claim) = try Sales.idempotency.check(db, method: "CreateLead", req, key: \.idempotencyKey)
        let scope = ctx.scope
        if let id = previous {
            let lead = try store.require(id)
            return try SalesScope.retried(lead, owner: lead.owner, scope, method: "CreateLead", key: req.idempotencyKey)
        }
        var lead = req.lead
        if lead.status == .unspecified { lead.status = .new }
        try LeadStore.checkSettableStatus(lead.status, field: "lead.status")
        try LeadStore.validate(&lead)
        if lead.owner.isEmpty && !req.assignToTeam.isEmpty {
            let member = try Teams.nextMember(ctx, db, team: req.assignToTeam, field: "assign_to_team")
            try SalesScope.checkAssignable(scope, member: member, team: req.assignToTeam)
            lead.owner = member
        } else {
            lead.owner = try scope.owner(for: lead.owner, "lead.owner: the lead")
        }
        let now = UTCClock.nowMicros()
        lead.id = 0
        lead.disqualifiedReason = ""
        lead.personID = 0
        lead.organizationID = 0
        lead.opportunityID = 0
        lead.version = 1
        lead.createdUnixUs = now
        lead.updatedUnixUs = now
        try store.insert(&lead)
        try SalesAudit.lead(ctx, "create", old: nil, new: lead)
        try Sales.idempotency.record(db, claim, resultID: lead.id)
        try SalesEvents.lead(ctx, "created", lead, "Lead \(LeadStore.displayName(lead)) created")
        return lead
    }

    static func get(_ ctx: CallContext, _ req: Crm_Sales_V1_GetLeadRequest) throws -> Lead {
        try LeadStore(db: ctx.database).require(req.id, readableIn: ctx.scope)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Sales_V1_UpdateLeadRequest) throws -> Lead {
        let fields = try LeadStore.updateMask.resolve(req.updateMask, req.lead)
        let store = LeadStore(db: try ctx.database)
        let scope = ctx.scope
        var lead = try store.require(req.lead.id, field: "lead.id", writableIn: scope)
        try Validate.expectedVersion(req.expectedVersion, lead.version, noun: "lead \(lead.id)")
        if lead.status == .converted {
            throw PluginError.failedPrecondition("lead.id: lead \(lead.id) is converted and can no longer change")
        }
        let before = lead
        LeadStore.apply(req.lead, to: &lead, fields: fields)
        if lead.status != before.status {
            try LeadStore.checkSettableStatus(lead.status, field: "lead.status")
            lead.disqualifiedReason = ""
        }
        try LeadStore.validate(&lead)
        if lead.owner != before.owner { lead.owner = try scope.owner(for: lead.owner, "lead.owner: lead \(lead.id)") }
        guard lead != before else { return lead }
        lead.version += 1
        lead.updatedUnixUs = UTCClock.nowMicros()
        try store.save(lead)
        try SalesAudit.lead(ctx, "update", old: before, new: lead)
        try SalesEvents.lead(ctx, "updated", lead, "Lead \(LeadStore.displayName(lead)) updated")
        return lead
    }

    static func list(_ ctx: CallContext, _ req: Crm_Sales_V1_ListLeadsRequest) throws -> Crm_Sales_V1_ListLeadsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if req.status != .unspecified { filter.add("status = ?", .integer(Int64(req.status.rawValue))) }
        if !req.owner.isEmpty { filter.add("owner = ?", .text(req.owner)) }
        if !req.source.isEmpty { filter.add("source = ?", .text(req.source)) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database, "SELECT \(LeadStore.columns) FROM sales_leads \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: LeadStore.decode, key: { [$0[0]] })
        var response = Crm_Sales_V1_ListLeadsResponse()
        response.leads = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    static func qualify(_ ctx: CallContext, _ req: Crm_Sales_V1_QualifyLeadRequest) throws -> Lead {
        let store = LeadStore(db: try ctx.database)
        var lead = try store.require(req.id, writableIn: ctx.scope)
        if lead.status == .converted {
            throw PluginError.failedPrecondition("id: lead \(lead.id) is converted and can no longer be qualified or disqualified")
        }
        let before = lead
        let action: String
        var reason = req.reason
        if req.disqualify {
            try Check.text(&reason, "reason", max: 500)
            if reason.isEmpty { throw PluginError.invalidArgument("reason is required to disqualify a lead") }
            if lead.status == .disqualified && lead.disqualifiedReason == reason { return lead }
            lead.status = .disqualified
            lead.disqualifiedReason = reason
            action = "disqualified"
        } else {
            if lead.status == .qualified { return lead }
            lead.status = .qualified
            lead.disqualifiedReason = ""
            action = "qualified"
        }
        lead.version += 1
        lead.updatedUnixUs = UTCClock.nowMicros()
        try store.save(lead)
        try SalesAudit.lead(ctx, req.disqualify ? "disqualify" : "qualify", old: before, new: lead)
        let summary = "Lead \(LeadStore.displayName(lead)) \(action)" + (req.disqualify ? ": \(reason)" : "")
        try SalesEvents.lead(ctx, action, lead, summary)
        return lead
    }
}
