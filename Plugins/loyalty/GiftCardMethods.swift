import CRMPluginKit
import LoyaltyContract
import ContactsLinkKit

/// Issue, activate, load, redeem, refund, void and expire gift cards, each
/// a posting on the ledger against the system accounts of the card's
/// currency (issued, redeemed, voided, breakage).
enum GiftCardMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "IssueGiftCards", issue)
        def.unary(Loyalty.service + "ActivateGiftCard", activate)
        def.unary(Loyalty.service + "LoadGiftCard", load)
        def.unary(Loyalty.service + "RedeemGiftCard", redeem)
        def.unary(Loyalty.service + "RefundGiftCard", refund)
        def.unary(Loyalty.service + "VoidGiftCard", void)
        def.unary(Loyalty.service + "ExpireGiftCard", expire)
    }

    static func issue(_ ctx: CallContext, _ req: Crm_Loyalty_V1_IssueGiftCardsRequest) throws -> Crm_Loyalty_V1_IssueGiftCardsResponse {
        let count = req.count == 0 ? 1 : req.count
        switch req.format {
        case .digital:
            guard count == 1 else { throw PluginError.invalidArgument("count must be 1 for DIGITAL cards") }
            try Check.amount(req.initialAmount, "initial_amount", allowZero: true)
        case .printed:
            try Checked.inRange(count, 1...1000, "count")
            guard req.initialAmount == 0 else {
                throw PluginError.invalidArgument("initial_amount must be 0 for PRINTED cards (ActivateGiftCard loads them)")
            }
        default: throw PluginError.invalidArgument("format must be DIGITAL or PRINTED")
        }
        try Validate.currency(req.currency, "currency")
        try Validate.optionalID(req.personID, "person_id")
        let label = try Check.text(req.label, "label")
        let now = UTCClock.nowMicros()
        let days = GiftCards.expiryDays(ctx)
        var expires: Int64 = 0
        if req.expiresUnixUs != 0 {
            guard days > 0 else {
                throw PluginError.invalidArgument("expires_unix_us: gift cards do not expire here (the gift_card_expiry_days setting is 0)")
            }
            guard req.expiresUnixUs > now, req.expiresUnixUs <= now + days * 86_400_000_000 else {
                throw PluginError.invalidArgument("expires_unix_us must be after now and at most \(days) days ahead")
            }
            expires = req.expiresUnixUs
        } else if days > 0 {
            expires = now + days * 86_400_000_000
        }
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey, sealed: true) { db in
            if req.personID != 0, try ContactsLink.livePerson(ctx, req.personID) == nil {
                throw PluginError.notFound("no person \(req.personID) (person_id)")
            }
            let owner = try ctx.scope.owner(for: req.owner.trimmedSpaces, "gift card")
            let key = try Secrets.key(ctx, db)
            let status: AccountStatus = req.format == .digital ? .active : .inactive
            let batch = try db.execute("""
                INSERT INTO loyalty_gift_card_batches (format, count, label, created_by, created_us) VALUES (?, ?, ?, ?, ?)
                """, [.integer(Int64(req.format.rawValue)), .integer(Int64(count)), .text(label), .text(callerName(ctx)),
                      .integer(now)]).lastInsertID
            var response = Crm_Loyalty_V1_IssueGiftCardsResponse()
            response.batchID = batch
            for _ in 0..<count {
                let code = GiftCardCodes.generate()
                let values = try GiftCardCodes.parse(code)
                let id = try db.execute("""
                    INSERT INTO loyalty_accounts (kind, unit, person_id, owner, label, status, created_us, updated_us)
                    VALUES (2, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(req.currency), Ledger.nullable(req.personID), .text(owner), .text(label),
                          .integer(Int64(status.rawValue)), .integer(now), .integer(now)]).lastInsertID
                try db.execute("""
                    INSERT INTO loyalty_gift_cards (account_id, code_hash, code_hint, format, batch_id, expires_us, activated_us)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(id), .blob(GiftCardCodes.hash(values, key: key)), .text(String(code.suffix(4))),
                          .integer(Int64(req.format.rawValue)), .integer(batch), .integer(expires),
                          .integer(status == .active ? now : 0)])
                try ctx.audit(AuditEntry(entity: "loyalty.gift_card", recordID: String(id), action: "issue", owner: ownerOrNil(owner),
                                         changes: [FieldChange("format", old: nil, new: req.format == .digital ? "DIGITAL" : "PRINTED"),
                                                   FieldChange("currency", old: nil, new: req.currency),
                                                   FieldChange("batch_id", old: nil, new: String(batch)),
                                                   FieldChange("code_hint", old: nil, new: String(code.suffix(4)))]))
                var row = try GiftCards.require(ctx, db, id, write: false)
                if req.initialAmount > 0 {
                    let result = try Ledger.move(ctx, db, .load, account: row.account, amount: req.initialAmount, system: .issued,
                                                 reason: "issue")
                    response.posting = result.posting
                    row = try GiftCards.require(ctx, db, id, write: false)
                }
                var card = row.card
                card.code = GiftCardCodes.display(code)
                response.cards.append(card)
                try LoyaltyEvents.publish(ctx, "loyalty.gift_card.issued", account: row.account,
                                          posting: req.initialAmount > 0 ? response.posting : nil,
                                          summary: "Gift card …\(card.codeHint) issued"
                                              + (req.initialAmount > 0 ? " with \(LoyaltyEvents.amount(req.initialAmount, req.currency))" : ""))
            }
            return response
        }
    }

    static func activate(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ActivateGiftCardRequest) throws -> PostingResult {
        try Check.id(req.cardID, "card_id")
        try Check.amount(req.amount, "amount", allowZero: true)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let row = try GiftCards.require(ctx, db, req.cardID, write: true)
            guard row.account.status == .inactive else {
                throw PluginError.failedPrecondition("gift card \(req.cardID) is \(row.account.status == .active ? "already active" : "voided")")
            }
            if row.card.expired { throw PluginError.failedPrecondition("gift card \(req.cardID) expired") }
            let now = UTCClock.nowMicros()
            try db.execute("UPDATE loyalty_accounts SET status = 1, updated_us = ? WHERE id = ?", [.integer(now), .integer(req.cardID)])
            try db.execute("UPDATE loyalty_gift_cards SET activated_us = ? WHERE account_id = ?", [.integer(now), .integer(req.cardID)])
            try ctx.audit(AuditEntry(entity: "loyalty.gift_card", recordID: String(req.cardID), action: "activate",
                                     owner: ownerOrNil(row.account.owner),
                                     changes: [FieldChange("status", old: "INACTIVE", new: "ACTIVE")]))
            var result = PostingResult()
            var account = try LedgerStore.loadAccount(db, req.cardID) ?? row.account
            if req.amount > 0 {
                result = try Ledger.move(ctx, db, .load, account: account, amount: req.amount, system: .issued, reason: "activation")
                account = result.account
            }
            result.account = account
            try LoyaltyEvents.publish(ctx, "loyalty.gift_card.activated", account: account, posting: req.amount > 0 ? result.posting : nil,
                                      summary: "Gift card …\(row.card.codeHint) activated with \(LoyaltyEvents.amount(req.amount, account.unit))")
            return result
        }
    }

    static func load(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GiftCardAmountRequest) throws -> PostingResult {
        try Check.id(req.cardID, "card_id")
        guard req.code.isEmpty else { throw PluginError.invalidArgument("code: LoadGiftCard takes card_id only") }
        try Check.amount(req.amount, "amount")
        let reason = try Check.text(req.reason, "reason")
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let row = try GiftCards.require(ctx, db, req.cardID, write: true)
            try GiftCards.requireUsable(row)
            let result = try Ledger.move(ctx, db, .load, account: row.account, amount: req.amount, system: .issued, reason: reason)
            try LoyaltyEvents.publish(ctx, "loyalty.gift_card.loaded", account: result.account, posting: result.posting,
                                      summary: "Gift card …\(row.card.codeHint) loaded with \(LoyaltyEvents.amount(req.amount, row.account.unit))")
            return result
        }
    }

    static func redeem(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GiftCardAmountRequest) throws -> PostingResult {
        guard (req.cardID != 0) != !req.code.isEmpty else {
            throw PluginError.invalidArgument("card_id or code: exactly one names the card")
        }
        if req.cardID != 0 { try Check.id(req.cardID, "card_id") }
        try Check.amount(req.amount, "amount")
        let reason = try Check.text(req.reason, "reason")
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let row = req.cardID != 0 ? try GiftCards.require(ctx, db, req.cardID, write: true)
                : try GiftCards.byCode(ctx, db, req.code, key: try Secrets.existing(ctx, db, cache: false))
            return try spend(ctx, db, row, amount: req.amount, reason: reason)
        }
    }

    /// A redemption from a card found by id or code (RedeemGiftCard, an order's tender).
    static func spend(_ ctx: CallContext, _ db: Database, _ card: GiftCards.Row, amount: Int64, reason: String) throws -> PostingResult {
        var row = card
        try ctx.scope.checkWritable(owner: ownerOrNil(row.account.owner), "gift card \(row.card.id)")
        try GiftCards.requireUsable(row)
        try Ledger.releaseExpiredHolds(db, row.account.id)
        row.account = try LedgerStore.loadAccount(db, row.account.id) ?? row.account
        let result = try Ledger.move(ctx, db, .redeem, account: row.account, amount: -amount, system: .redeemed, reason: reason)
        try LoyaltyEvents.publish(ctx, "loyalty.gift_card.redeemed", account: result.account, posting: result.posting,
                                  summary: "Gift card …\(row.card.codeHint): \(LoyaltyEvents.amount(amount, row.account.unit)) redeemed")
        return result
    }

    static func refund(_ ctx: CallContext, _ req: Crm_Loyalty_V1_RefundGiftCardRequest) throws -> PostingResult {
        try Check.id(req.cardID, "card_id")
        try Check.id(req.postingID, "posting_id")
        try Check.amount(req.amount, "amount", allowZero: true)
        let reason = try Check.text(req.reason, "reason")
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let row = try GiftCards.require(ctx, db, req.cardID, write: true)
            guard let original = try LedgerStore.loadPosting(db, req.postingID),
                  original.kind == .redeem || original.kind == .capture,
                  let leg = original.entries.first(where: { $0.accountID == req.cardID && $0.amount < 0 }) else {
                throw PluginError.notFound("no redemption \(req.postingID) of gift card \(req.cardID) (posting_id)")
            }
            if let order = try OrderTenders.order(paidBy: req.postingID, db) {
                throw PluginError.failedPrecondition("posting \(req.postingID) pays order \(order); refund the order instead")
            }
            guard original.reversedByPostingID == 0 else {
                throw PluginError.failedPrecondition("posting \(req.postingID) was reversed: nothing is left to refund")
            }
            try GiftCards.requireUsable(row)
            let refunded = try db.query("""
                SELECT COALESCE(sum(e.amount), 0) FROM loyalty_postings p JOIN loyalty_entries e ON e.posting_id = p.id
                WHERE p.refunds_id = ? AND e.account_id = ?
                """, [.integer(req.postingID), .integer(req.cardID)]).first?.int(0) ?? 0
            let left = -leg.amount - refunded
            guard left > 0 else { throw PluginError.failedPrecondition("posting \(req.postingID) is refunded in full") }
            let amount = req.amount == 0 ? left : req.amount
            guard amount <= left else {
                throw PluginError.invalidArgument("amount \(amount) is more than the \(left) left to refund of posting \(req.postingID)")
            }
            let result = try Ledger.move(ctx, db, .refund, account: row.account, amount: amount, system: .redeemed, reason: reason,
                                         references: .init(refunds: req.postingID))
            try LoyaltyEvents.publish(ctx, "loyalty.gift_card.refunded", account: result.account, posting: result.posting,
                                      summary: "Gift card …\(row.card.codeHint): \(LoyaltyEvents.amount(amount, row.account.unit)) refunded")
            return result
        }
    }

    static func void(_ ctx: CallContext, _ req: Crm_Loyalty_V1_VoidGiftCardRequest) throws -> PostingResult {
        try Check.id(req.cardID, "card_id")
        let reason = try Check.text(req.reason, "reason", required: true)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let row = try GiftCards.require(ctx, db, req.cardID, write: true)
            guard row.account.status != .closed else { throw PluginError.failedPrecondition("gift card \(req.cardID) is already voided") }
            return try close(ctx, db, row, kind: .void, system: .voided, reason: reason, topic: "loyalty.gift_card.voided") { now in
                try db.execute("UPDATE loyalty_accounts SET status = 3, updated_us = ? WHERE id = ?", [.integer(now), .integer(req.cardID)])
                try db.execute("UPDATE loyalty_gift_cards SET voided_us = ?, void_reason = ? WHERE account_id = ?",
                               [.integer(now), .text(reason), .integer(req.cardID)])
                try ctx.audit(AuditEntry(entity: "loyalty.gift_card", recordID: String(req.cardID), action: "void",
                                         owner: ownerOrNil(row.account.owner),
                                         changes: [FieldChange("status", old: row.account.status == .active ? "ACTIVE" : "INACTIVE", new: "CLOSED"),
                                                   FieldChange("void_reason", old: nil, new: reason)]))
            }
        }
    }

    static func expire(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ExpireGiftCardRequest) throws -> PostingResult {
        try Check.id(req.cardID, "card_id")
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            let row = try GiftCards.require(ctx, db, req.cardID, write: true)
            guard row.account.status != .closed else { throw PluginError.failedPrecondition("gift card \(req.cardID) is voided") }
            guard row.card.expired else { throw PluginError.failedPrecondition("gift card \(req.cardID) has not expired") }
            return try close(ctx, db, row, kind: .expiry, system: .breakage, reason: "expiry", topic: "loyalty.gift_card.expired") { _ in }
        }
    }

    /// Empties a card into a system account (void or breakage); refused
    /// while a hold on it is active.
    private static func close(_ ctx: CallContext, _ db: Database, _ row: GiftCards.Row, kind: PostingKind, system: Ledger.System,
                              reason: String, topic: String, update: (Int64) throws -> Void) throws -> PostingResult {
        try Ledger.releaseExpiredHolds(db, row.account.id)
        guard let account = try LedgerStore.loadAccount(db, row.account.id), account.held == 0 else {
            throw PluginError.failedPrecondition("gift card \(row.card.id) has an active hold: capture or void it first")
        }
        var result = PostingResult()
        if account.balance > 0 {
            result = try Ledger.move(ctx, db, kind, account: account, amount: -account.balance, system: system, reason: reason)
        }
        try update(UTCClock.nowMicros())
        result.account = try LedgerStore.loadAccount(db, row.account.id) ?? account
        try LoyaltyEvents.publish(ctx, topic, account: result.account, posting: account.balance > 0 ? result.posting : nil,
                                  summary: "Gift card …\(row.card.codeHint) \(kind == .void ? "voided" : "expired")"
                                      + (account.balance > 0 ? " with \(LoyaltyEvents.amount(account.balance, account.unit)) left" : ""))
        return result
    }
}
