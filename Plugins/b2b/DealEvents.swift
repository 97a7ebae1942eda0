import B2BContract
import CRMPluginKit
import ContactsContract

/// The deal's and the committee's events, each about its record (for event
/// scope and redaction) and, for the timeline, the buying organization and
/// the people concerned.
enum DealEvents {
    static func publish(_ ctx: CallContext, _ action: String, _ deal: Crm_B2b_V1_Deal, previousStage: String,
                        _ summary: String) throws {
        var event = Crm_B2b_V1_DealEvent()
        event.dealID = deal.id
        event.opportunityID = deal.opportunityID
        event.stage = deal.stage
        event.previousStage = previousStage
        event.status = deal.status
        event.actor = ctx.user ?? ""
        event.about = About.with {
            if deal.personID > 0 { $0.personIds = [deal.personID] }
            $0.organizationIds = [deal.buyingOrganizationID]
            $0.summary = summary
        }
        try ctx.publish("b2b.deal.\(action)", event,
                        about: EventSubject(entity: "b2b.deal", recordID: String(deal.id), owner: ownerOrNil(deal.owner)))
    }

    /// A seat's events are about the seat, so erasing the person redacts
    /// exactly them, not the deal's.
    static func seat(_ ctx: CallContext, _ action: String, _ member: Crm_B2b_V1_CommitteeMember, deal: Crm_B2b_V1_Deal,
                     _ summary: String) throws {
        var event = Crm_B2b_V1_CommitteeEvent()
        event.member = member
        event.actor = ctx.user ?? ""
        event.about = About.with {
            $0.personIds = [member.personID]
            $0.organizationIds = [deal.buyingOrganizationID]
            $0.summary = summary
        }
        try ctx.publish("b2b.committee.\(action)", event,
                        about: EventSubject(entity: Committee.entity, recordID: Committee.recordID(deal.id, member.personID),
                                            owner: ownerOrNil(deal.owner)))
    }
}
