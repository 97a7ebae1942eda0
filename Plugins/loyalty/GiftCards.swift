import CRMPluginKit
import LoyaltyContract

/// Gift cards: an account of kind GIFT_CARD in the card's currency and a
/// row here with the keyed hash of its code. The schema, the row as a
/// GiftCard, and the checks every card operation shares.
enum GiftCards {
    static let schema = """
    CREATE TABLE loyalty_gift_card_batches (
        id INTEGER PRIMARY KEY,
        format INTEGER NOT NULL,
        count INTEGER NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL
    );
    CREATE TABLE loyalty_gift_cards (
        account_id INTEGER PRIMARY KEY REFERENCES loyalty_accounts (id),
        code_hash BLOB NOT NULL UNIQUE,
        code_hint TEXT NOT NULL,
        format INTEGER NOT NULL,
        batch_id INTEGER NOT NULL REFERENCES loyalty_gift_card_batches (id),
        expires_us INTEGER NOT NULL DEFAULT 0,
        activated_us INTEGER NOT NULL DEFAULT 0,
        voided_us INTEGER NOT NULL DEFAULT 0,
        void_reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX loyalty_gift_cards_batch ON loyalty_gift_cards (batch_id, account_id);
    CREATE INDEX loyalty_gift_cards_expiry ON loyalty_gift_cards (expires_us) WHERE expires_us > 0 AND voided_us = 0;
    """

    static let select = """
        SELECT \(LedgerStore.accountColumns.split(separator: ",").map { "a." + $0.trimmingPrefixSpaces() }.joined(separator: ", ")),
               g.format, g.code_hint, g.batch_id, g.expires_us, g.activated_us, g.voided_us
        FROM loyalty_gift_cards g JOIN loyalty_accounts a ON a.id = g.account_id
        """

    struct Row {
        var account: Account
        var card: GiftCard
    }

    static func decode(_ row: [SQLValue], now: Int64 = UTCClock.nowMicros()) -> Row {
        let account = LedgerStore.account(Array(row.prefix(14)))
        var card = GiftCard()
        card.id = account.id
        card.format = Crm_Loyalty_V1_GiftCardFormat(rawValue: Int(truncatingIfNeeded: row.int(14))) ?? .unspecified
        card.codeHint = row.text(15)
        card.batchID = row.int(16)
        card.expiresUnixUs = row.int(17)
        card.activatedUnixUs = row.int(18)
        card.voidedUnixUs = row.int(19)
        card.status = account.status
        card.currency = account.unit
        card.balance = account.balance
        card.available = account.available
        card.personID = account.personID
        card.createdUnixUs = account.createdUnixUs
        card.expired = card.expiresUnixUs > 0 && card.expiresUnixUs <= now
        return Row(account: account, card: card)
    }

    /// With live holds (reads).
    static func withLiveHolds(_ db: Database, _ row: Row) throws -> Row {
        var row = row
        row.account = try LedgerStore.withLiveHolds(db, row.account)
        row.card.available = row.account.available
        return row
    }

    /// The card the caller may read (NOT_FOUND) and, with `write`, change.
    static func require(_ ctx: CallContext, _ db: Database, _ id: Int64, field: String = "card_id", write: Bool) throws -> Row {
        guard let row = try db.query("\(select) WHERE g.account_id = ?", [.integer(id)]).first.map({ decode($0) }) else {
            throw PluginError.notFound("no gift card \(id) (\(field))")
        }
        if write {
            try ctx.scope.checkWritable(owner: ownerOrNil(row.account.owner), "gift card \(id)")
        } else {
            try ctx.scope.checkReadable(owner: ownerOrNil(row.account.owner), "gift card \(id) (\(field))")
        }
        return row
    }

    /// The one answer for a wrong, unknown or voided code.
    static let noSuchCode = PluginError.notFound("no gift card with that code")

    /// The live (not voided) card behind a code, or noSuchCode; rate limited per caller.
    static func byCode(_ ctx: CallContext, _ db: Database, _ code: String, key: [UInt8]?) throws -> Row {
        let values = try GiftCardCodes.parse(code)
        try RateLimiter.codeLookups.take(ctx)
        guard GiftCardCodes.checks(values), let key,
              let row = try db.query("\(select) WHERE g.code_hash = ? AND a.status <> 3",
                                     [.blob(GiftCardCodes.hash(values, key: key))]).first.map({ decode($0) }),
              ctx.scope.includes(owner: ownerOrNil(row.account.owner)) else { throw noSuchCode }
        return row
    }

    /// A card that can be spent or loaded now: active and not expired.
    static func requireUsable(_ row: Row) throws {
        switch row.account.status {
        case .active: break
        case .inactive: throw PluginError.failedPrecondition("gift card \(row.card.id) is not activated")
        default: throw PluginError.failedPrecondition("gift card \(row.card.id) is voided")
        }
        if row.card.expired { throw PluginError.failedPrecondition("gift card \(row.card.id) expired") }
    }

    /// The `gift_card_expiry_days` setting: 0 (the default) means cards never expire.
    static func expiryDays(_ ctx: CallContext) -> Int64 {
        guard let text = ctx.host.config("gift_card_expiry_days"), let days = Int64(text.trimmedSpaces), days > 0 else { return 0 }
        return min(days, 36_600)
    }
}

extension Substring {
    func trimmingPrefixSpaces() -> String { String(drop(while: { $0 == " " || $0 == "\n" })) }
}
