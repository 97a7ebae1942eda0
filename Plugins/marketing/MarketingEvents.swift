import CRMPluginKit
import ContactsContract

/// The one event handler a plugin has: contacts' events go to each feature
/// that keeps something about people, in the event's own transaction (a
/// redelivery after a crash finds the work done or does it again whole).
enum MarketingEvents {
    static func register(on def: PluginDefinition) {
        def.subscribes("contacts.contact.*")
        def.subscribes("contacts.organization.merged")
        def.subscribes(TrackingAttribution.wonTopic)
        def.onEvent = handle
    }

    static func handle(_ ctx: CallContext, _ event: Event) throws {
        let db = try ctx.database
        if event.topic == TrackingAttribution.wonTopic { return try TrackingAttribution.onOpportunityWon(ctx, db, event) }
        try Consent.onContactEvent(ctx, db, event)
        try Segments.onContactEvent(ctx, db, event)
        try Campaigns.onContactEvent(ctx, db, event)
        try JourneyPeople.onContactEvent(ctx, db, event)
        try onPersonMergedOrErased(ctx, db, event)
    }

    /// The features that only follow a person's id through merges and erasures.
    static func onPersonMergedOrErased(_ ctx: CallContext, _ db: Database, _ event: Event) throws {
        guard event.topic == "contacts.contact.merged" || event.topic == "contacts.contact.erased",
              let change = try? event.decode(Crm_Contacts_V1_PersonEvent.self) else { return }
        if event.topic == "contacts.contact.merged" {
            try TrackingPeople.merged(db, survivor: change.person.id, merged: change.mergedID)
        } else {
            try TrackingPeople.erased(db, person: change.person.id)
        }
    }
}
