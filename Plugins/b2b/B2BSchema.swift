import CRMPluginKit

/// The b2b tables, one migration per feature (each feature's SQL lives in
/// its own file). Times are UTC microseconds, money integer minor units.
enum B2BSchema {
    static func register(on def: PluginDefinition) {
        def.migration(1, "catalog", Catalog.schema)
        def.migration(2, "quotes", QuoteStore.schema)
        def.migration(3, "approval rules", ApprovalRules.schema)
        def.migration(4, "idempotency", IdempotencyKeys.createTableSQL("b2b_idempotency")
            + IdempotencyKeys.addFingerprintSQL("b2b_idempotency"))
        def.migration(5, "deals", DealPipelines.schema + DealStore.schema)
        def.migration(6, "buying committees", Committee.schema)
        def.migration(7, "signature and contracts", EnvelopeStore.schema + ContractStore.schema)
        def.migration(8, "contract notice and auto-renewal", ContractStore.noticeSchema)
    }
}
