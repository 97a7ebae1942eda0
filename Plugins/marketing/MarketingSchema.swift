import CRMPluginKit

/// The marketing tables, one migration per feature in the order they were
/// written (each feature's SQL lives in its own file). Times are UTC
/// microseconds; every table carries the `marketing_` prefix.
enum MarketingSchema {
    static func register(on def: PluginDefinition) {
        def.migration(1, "consent", Consent.schema)
        def.migration(2, "segments", Segments.schema)
        def.migration(3, "templates", Templates.schema)
        def.migration(4, "outbox", Outbox.schema)
        def.migration(5, "idempotency", IdempotencyKeys.createTableSQL("marketing_idempotency")
            + IdempotencyKeys.addFingerprintSQL("marketing_idempotency"))
        def.migration(6, "engagement", Engagement.schema)
        def.migration(7, "delivery", Delivery.schema)
        def.migration(8, "campaigns", Campaigns.schema)
        def.migration(9, "tracking", Tracking.schema)
        def.migration(10, "journeys", Journeys.schema)
        def.migration(11, "segment builds in chunks", SegmentBuild.schema)
        def.migration(12, "one campaign message per address", Campaigns.addressSchema)
        def.migration(13, "engagement windows re-checked as time passes", EngagementWindows.schema)
    }
}
