import CRMPluginKit
import SalesContract
import ContactsLinkKit

/// ConvertLead: in the call's one transaction, an organization (if the lead
/// names a company) and a person in contacts, an opportunity in the
/// pipeline's first stage, and the lead marked converted. The in-process
/// calls to contacts join that transaction, so either all of it commits or
/// none of it does. They also act for the caller: a rep converts with the
/// rep's contacts rights, and the person, organization and opportunity get
/// the lead's owner, which the rep's scope reaches (it is the rep under the
/// `own` scope), so the rep owns and sees all of them afterwards.
enum LeadConversion {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "ConvertLead", convert)
    }

    struct Conversion {
        var leadID: Int64
        var personID: Int64
        var organizationID: Int64
        var opportunityID: Int64
        var fingerprint: [UInt8]?  // nil for conversions recorded before fingerprints
    }

    static func convert(_ ctx: CallContext, _ req: Crm_Sales_V1_ConvertLeadRequest) throws -> Crm_Sales_V1_ConvertLeadResponse {
        try Validate.positiveID(req.leadID, "lead_id")
        try Validate.required(req.idempotencyKey, "idempotency_key")
        try Validate.maxLength(req.idempotencyKey, "idempotency_key", 200)
        let db = try ctx.database
        let fingerprint = try IdempotencyKeys.fingerprint(req, key: \.idempotencyKey)
        if let done = try conversion(db, key: req.idempotencyKey) {
            guard done.leadID == req.leadID else {
                throw PluginError.failedPrecondition(
                    "idempotency_key \"\(req.idempotencyKey)\" already converted lead \(done.leadID), not lead \(req.leadID)")
            }
            if let stored = done.fingerprint, stored != fingerprint {
                throw IdempotencyKeys.mismatch(method: "ConvertLead", key: req.idempotencyKey)
            }
            // A retry: the first result, nothing created (the lead must still be the caller's to write).
            _ = try LeadStore(db: db).require(done.leadID, field: "lead_id", writableIn: ctx.scope)
            return try response(ctx, db, done)
        }
        let leads = LeadStore(db: db)
        var lead = try leads.require(req.leadID, field: "lead_id", writableIn: ctx.scope)
        switch lead.status {
        case .converted:
            throw PluginError.failedPrecondition(
                "lead_id: lead \(lead.id) is already converted (opportunity \(lead.opportunityID)) under another idempotency_key")
        case .disqualified:
            throw PluginError.failedPrecondition("lead_id: lead \(lead.id) is disqualified; qualify it before converting")
        default: break
        }
        if lead.firstName.isEmpty && lead.lastName.isEmpty {
            throw PluginError.failedPrecondition("lead_id: lead \(lead.id) has no first_name or last_name; a person needs a name")
        }
        var opportunityName = req.opportunityName
        try Check.text(&opportunityName, "opportunity_name", max: 200)

        var organization: Organization?
        if !lead.company.isEmpty {
            var draft = Organization()
            draft.name = lead.company
            draft.owner = lead.owner
            // Keys derived from the lead: stable whatever the client's key.
            organization = try ContactsLink.createOrganization(ctx, draft, key: "sales.lead.\(lead.id).organization")
        }
        var draft = Person()
        draft.firstName = lead.firstName
        draft.lastName = lead.lastName
        if !lead.email.isEmpty { draft.emails = [.with { $0.address = lead.email }] }
        if !lead.phone.isEmpty { draft.phones = [.with { $0.number = lead.phone }] }
        draft.jobTitle = lead.jobTitle
        draft.organizationID = organization?.id ?? 0
        draft.owner = lead.owner
        draft.source = lead.source
        draft.lifecycleStage = .opportunity
        let person = try ContactsLink.createPerson(ctx, draft, key: "sales.lead.\(lead.id).person")

        var deal = Opportunity()
        deal.name = opportunityName.isEmpty
            ? "\(lead.company.isEmpty ? LeadStore.displayName(lead) : lead.company) deal" : opportunityName
        if req.hasAmount { deal.amount = req.amount }
        deal.expectedCloseDate = req.expectedCloseDate
        deal.pipelineID = req.pipelineID
        deal.owner = lead.owner
        deal.personID = person.id
        deal.organizationID = organization?.id ?? 0
        deal.leadID = lead.id
        let opportunity = try OpportunityMethods.open(ctx, db, deal, prefix: "")

        let before = lead
        lead.status = .converted
        lead.personID = person.id
        lead.organizationID = organization?.id ?? 0
        lead.opportunityID = opportunity.id
        lead.version += 1
        lead.updatedUnixUs = UTCClock.nowMicros()
        try leads.save(lead)
        try SalesAudit.lead(ctx, "convert", old: before, new: lead)
        try db.execute("""
            INSERT INTO sales_lead_conversions (lead_id, idempotency_key, person_id, organization_id, opportunity_id, converted_us,
                fingerprint)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(lead.id), .text(req.idempotencyKey), .integer(person.id), .integer(lead.organizationID),
                  .integer(opportunity.id), .integer(lead.updatedUnixUs), .blob(fingerprint)])
        try SalesEvents.lead(ctx, "converted", lead,
                             "Lead \(LeadStore.displayName(lead)) converted: \(OpportunityStore.describe(opportunity)) opened")
        var response = Crm_Sales_V1_ConvertLeadResponse()
        response.lead = lead
        response.person = person
        if let organization { response.organization = organization }
        response.opportunity = opportunity
        return response
    }

    static func conversion(_ db: Database, key: String) throws -> Conversion? {
        try db.query("""
            SELECT lead_id, person_id, organization_id, opportunity_id, fingerprint FROM sales_lead_conversions
            WHERE idempotency_key = ?
            """, [.text(key)]).first.map {
            Conversion(leadID: $0.int(0), personID: $0.int(1), organizationID: $0.int(2), opportunityID: $0.int(3),
                       fingerprint: $0[4].bytes)
        }
    }

    /// The records of an earlier conversion, read again.
    static func response(_ ctx: CallContext, _ db: Database, _ done: Conversion) throws -> Crm_Sales_V1_ConvertLeadResponse {
        var response = Crm_Sales_V1_ConvertLeadResponse()
        response.lead = try LeadStore(db: db).require(done.leadID, field: "lead_id")
        response.person = try ContactsLink.person(ctx, done.personID)
            ?? { throw PluginError.notFound("person \(done.personID) of the conversion no longer exists") }()
        if done.organizationID != 0, let organization = try ContactsLink.organization(ctx, done.organizationID) {
            response.organization = organization
        }
        response.opportunity = try OpportunityStore(db: db).require(done.opportunityID, field: "opportunity_id")
        return response
    }
}
