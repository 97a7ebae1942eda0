import CRMPluginKit
import SalesContract

/// The audit trail of sales' writes: one entry per record a write changes,
/// in the write's transaction, with each changed field's old and new value.
/// Records are flattened to [field: text] with the .proto's field names;
/// an empty text or a zero is "no value", so a create lists the fields it
/// set and a cleared field shows no new value. Ids, versions and the
/// created/updated times are left out: they change on every write and say
/// nothing the entry's own time and record id do not.
enum SalesAudit {
    static func lead(_ ctx: CallContext, _ action: String, old: Lead?, new: Lead) throws {
        try ctx.audit(AuditEntry(entity: "sales.lead", recordID: String(new.id), action: action, owner: ownerOrNil(new.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func opportunity(_ ctx: CallContext, _ action: String, old: Opportunity?, new: Opportunity) throws {
        try ctx.audit(AuditEntry(entity: "sales.opportunity", recordID: String(new.id), action: action,
                                 owner: ownerOrNil(new.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func activity(_ ctx: CallContext, _ action: String, old: Activity?, new: Activity) throws {
        try ctx.audit(AuditEntry(entity: "sales.activity", recordID: String(new.id), action: action, owner: ownerOrNil(new.owner),
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func pipeline(_ ctx: CallContext, _ action: String, old: Pipeline?, new: Pipeline) throws {
        try ctx.audit(AuditEntry(entity: "sales.pipeline", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    static func team(_ ctx: CallContext, _ action: String, old: Crm_Sales_V1_Team?, new: Crm_Sales_V1_Team) throws {
        try ctx.audit(AuditEntry(entity: "sales.team", recordID: new.name, action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }

    /// A field change made by SQL over many rows (a merge re-pointing
    /// references): the entry for one of those rows.
    static func repointed(_ ctx: CallContext, entity: String, id: Int64, owner: String, field: String,
                          from old: Int64, to new: Int64) throws {
        try ctx.audit(AuditEntry(entity: entity, recordID: String(id), action: "merge", owner: ownerOrNil(owner),
                                 changes: [FieldChange(field, old: String(old), new: String(new))]))
    }

    static func fields(_ l: Lead) -> [String: String] {
        values([
            ("first_name", l.firstName), ("last_name", l.lastName), ("email", l.email), ("phone", l.phone),
            ("company", l.company), ("job_title", l.jobTitle), ("source", l.source), ("status", name(l.status)),
            ("owner", l.owner), ("notes", l.notes), ("disqualified_reason", l.disqualifiedReason),
            ("person_id", id(l.personID)), ("organization_id", id(l.organizationID)), ("opportunity_id", id(l.opportunityID)),
        ])
    }

    static func fields(_ o: Opportunity) -> [String: String] {
        values([
            ("name", o.name), ("pipeline_id", id(o.pipelineID)), ("stage_id", id(o.stageID)), ("stage_name", o.stageName),
            ("probability", String(o.probability)), ("status", name(o.status)),
            ("amount_minor", o.hasAmount ? String(o.amount.amountMinor) : ""), ("currency", o.amount.currency),
            ("expected_close_date", o.expectedCloseDate), ("owner", o.owner), ("person_id", id(o.personID)),
            ("organization_id", id(o.organizationID)), ("lead_id", id(o.leadID)), ("lost_reason", o.lostReason),
            ("closed_unix_us", id(o.closedUnixUs)),
        ])
    }

    static func fields(_ a: Activity) -> [String: String] {
        values([
            ("type", name(a.type)), ("subject", a.subject), ("notes", a.notes), ("owner", a.owner),
            ("due_unix_us", id(a.dueUnixUs)), ("completed_unix_us", id(a.completedUnixUs)), ("lead_id", id(a.leadID)),
            ("person_id", id(a.personID)), ("opportunity_id", id(a.opportunityID)),
        ])
    }

    static func fields(_ p: Pipeline) -> [String: String] {
        values([("name", p.name), ("is_default", p.isDefault ? "true" : ""),
                ("stages", p.stages.map { "\($0.name) (\($0.probability) %)" }.joined(separator: ", "))])
    }

    static func fields(_ t: Crm_Sales_V1_Team) -> [String: String] {
        values([("members", t.members.joined(separator: ", ")), ("next_member", t.nextMember)])
    }

    private static func values(_ pairs: [(String, String)]) -> [String: String] {
        Dictionary(pairs.filter { !$0.1.isEmpty }, uniquingKeysWith: { first, _ in first })
    }

    /// "" for 0, which is "none" for ids and times.
    private static func id(_ value: Int64) -> String { value == 0 ? "" : String(value) }

    static func name(_ status: Crm_Sales_V1_LeadStatus) -> String {
        switch status {
        case .new: return "NEW"
        case .contacted: return "CONTACTED"
        case .qualified: return "QUALIFIED"
        case .disqualified: return "DISQUALIFIED"
        case .converted: return "CONVERTED"
        default: return id(Int64(status.rawValue))
        }
    }

    static func name(_ status: Crm_Sales_V1_OpportunityStatus) -> String {
        switch status {
        case .open: return "OPEN"
        case .won: return "WON"
        case .lost: return "LOST"
        default: return id(Int64(status.rawValue))
        }
    }

    static func name(_ type: Crm_Sales_V1_ActivityType) -> String {
        switch type {
        case .call: return "CALL"
        case .meeting: return "MEETING"
        case .email: return "EMAIL"
        case .task: return "TASK"
        default: return id(Int64(type.rawValue))
        }
    }
}
