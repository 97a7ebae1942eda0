import CRMPluginKit
import LoyaltyContract

/// Reading gift cards: by id (staff with the card's id), and by code (the
/// bearer's credential: rate limited, one answer for every miss).
enum GiftCardLookup {
    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "GetGiftCard", get)
        def.unary(Loyalty.service + "LookupGiftCard", lookup)
    }

    static func get(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetGiftCardRequest) throws -> GiftCard {
        try Check.id(req.id, "id")
        let db = try ctx.database
        return try GiftCards.withLiveHolds(db, try GiftCards.require(ctx, db, req.id, field: "id", write: false)).card
    }

    static func lookup(_ ctx: CallContext, _ req: Crm_Loyalty_V1_LookupGiftCardRequest) throws -> GiftCard {
        let db = try ctx.database
        let row = try GiftCards.byCode(ctx, db, req.code, key: try Secrets.existing(ctx, db))
        return try GiftCards.withLiveHolds(db, row).card
    }
}
