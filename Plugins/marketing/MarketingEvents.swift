import CRMPluginKit

/// The one event handler a plugin has: contacts' events go to each feature
/// that keeps something about people, in the event's own transaction (a
/// redelivery after a crash finds the work done or does it again whole).
enum MarketingEvents {
    static func register(on def: PluginDefinition) {
        def.subscribes("contacts.contact.*")
        def.subscribes("contacts.organization.merged")
        def.onEvent = handle
    }

    static func handle(_ ctx: CallContext, _ event: Event) throws {
        let db = try ctx.database
        try Consent.onContactEvent(ctx, db, event)
        try Segments.onContactEvent(ctx, db, event)
        try Journeys.onContactEvent(ctx, db, event)
    }
}
