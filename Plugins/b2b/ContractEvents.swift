import B2BContract
import CRMPluginKit
import ContactsContract

/// Envelope and contract events, each about its record (for event scope
/// and redaction) and, for the timeline, the people and organization
/// concerned.
enum ContractEvents {
    /// b2b.envelope.<action>: about the envelope, the quote's person and
    /// organization and the signer.
    static func envelope(_ ctx: CallContext, _ action: String, _ e: Envelope, quote: QuoteStore.Record?, eventID: String = "",
                         _ summary: String) throws {
        var event = Crm_B2b_V1_EnvelopeEvent()
        event.envelope = e
        event.eventID = eventID
        event.actor = ctx.user ?? ""
        event.about = About.with {
            let people = Set([quote?.personID ?? 0, e.signerPersonID].filter { $0 > 0 })
            $0.personIds = people.sorted()
            if let organization = quote?.organizationID, organization > 0 { $0.organizationIds = [organization] }
            $0.summary = summary
        }
        try ctx.publish("b2b.envelope.\(action)", event,
                        about: EventSubject(entity: EnvelopeStore.entity, recordID: String(e.id), owner: ownerOrNil(e.owner)))
    }

    /// b2b.contract.<action>: about the contract, its person and organization.
    static func contract(_ ctx: CallContext, _ action: String, _ c: Contract, _ summary: String) throws {
        var event = Crm_B2b_V1_ContractEvent()
        event.contract = c
        event.actor = ctx.user ?? ""
        event.about = About.with {
            if c.personID > 0 { $0.personIds = [c.personID] }
            if c.organizationID > 0 { $0.organizationIds = [c.organizationID] }
            $0.summary = summary
        }
        try ctx.publish("b2b.contract.\(action)", event,
                        about: EventSubject(entity: ContractStore.entity, recordID: String(c.id), owner: ownerOrNil(c.owner)))
    }

    static func money(_ m: Crm_B2b_V1_Money) -> String { "\(Format.money(m.amountMinor, m.currency)) \(m.currency)" }
}
