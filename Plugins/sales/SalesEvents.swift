import CRMPluginKit
import SalesContract

/// Publishes the module's events in the call's transaction. Each carries an
/// `About` naming the people and organizations the record links to, so the
/// contacts module files it on their timelines. Each is published about its
/// record and that record's owner, so crmd streams it only to callers whose
/// scope reaches the owner and empties it when the record is redacted.
enum SalesEvents {
    static func about(people: [Int64], organizations: [Int64], _ summary: String) -> About {
        var about = About()
        about.personIds = unique(people)
        about.organizationIds = unique(organizations)
        about.summary = summary
        return about
    }

    static func lead(_ ctx: CallContext, _ action: String, _ lead: Lead, _ summary: String) throws {
        var event = Crm_Sales_V1_LeadEvent()
        event.lead = lead
        event.about = about(people: [lead.personID], organizations: [lead.organizationID], summary)
        try ctx.publish("sales.lead.\(action)", event, about: subject("sales.lead", lead.id, lead.owner))
    }

    static func opportunity(_ ctx: CallContext, _ action: String, _ opportunity: Opportunity, previousStageID: Int64 = 0,
                            _ summary: String) throws {
        var event = Crm_Sales_V1_OpportunityEvent()
        event.opportunity = opportunity
        event.previousStageID = previousStageID
        event.about = about(people: [opportunity.personID], organizations: [opportunity.organizationID], summary)
        try ctx.publish("sales.opportunity.\(action)", event,
                        about: subject("sales.opportunity", opportunity.id, opportunity.owner))
    }

    /// An activity is about its person and about the people and
    /// organizations of its lead (once converted) and opportunity.
    static func activity(_ ctx: CallContext, _ db: Database, _ action: String, _ activity: Activity, _ summary: String) throws {
        var people = [activity.personID]
        var organizations: [Int64] = []
        if activity.leadID != 0, let lead = try LeadStore(db: db).load(activity.leadID) {
            people.append(lead.personID)
            organizations.append(lead.organizationID)
        }
        if activity.opportunityID != 0, let opportunity = try OpportunityStore(db: db).load(activity.opportunityID, history: false) {
            people.append(opportunity.personID)
            organizations.append(opportunity.organizationID)
        }
        var event = Crm_Sales_V1_ActivityEvent()
        event.activity = activity
        event.about = about(people: people, organizations: organizations, summary)
        try ctx.publish("sales.activity.\(action)", event, about: subject("sales.activity", activity.id, activity.owner))
    }

    static func subject(_ entity: String, _ id: Int64, _ owner: String) -> EventSubject {
        EventSubject(entity: entity, recordID: String(id), owner: ownerOrNil(owner))
    }

    /// Positive ids, each once, in first-seen order.
    private static func unique(_ ids: [Int64]) -> [Int64] {
        var seen = Set<Int64>()
        return ids.filter { $0 > 0 && seen.insert($0).inserted }
    }
}
