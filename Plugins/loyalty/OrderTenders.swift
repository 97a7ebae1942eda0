import CRMPluginKit
import LoyaltyContract

typealias Tender = Crm_Loyalty_V1_Tender
typealias TenderReturn = Crm_Loyalty_V1_TenderReturn

/// How an order is paid (orders.proto, Tenders) and how its refunds pay
/// back (Returns). The tenders spend inside PostOrder's transaction, so an
/// order and its payments commit together; each tender keeps what it has
/// returned so far, which only grows, so a refund retried or repeated
/// never returns anything twice.
enum OrderTenders {
    static let maxTenders = 10

    static let schema = """
    CREATE TABLE loyalty_order_tenders (
        order_id INTEGER NOT NULL REFERENCES loyalty_orders (id),
        tender_number INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        account_id INTEGER REFERENCES loyalty_accounts (id),
        points INTEGER NOT NULL DEFAULT 0,
        posting_id INTEGER REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        method TEXT NOT NULL DEFAULT '',
        reference TEXT NOT NULL DEFAULT '',
        returned_amount INTEGER NOT NULL DEFAULT 0 CHECK (returned_amount BETWEEN 0 AND amount),
        returned_points INTEGER NOT NULL DEFAULT 0 CHECK (returned_points BETWEEN 0 AND points),
        PRIMARY KEY (order_id, tender_number)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX loyalty_order_tenders_posting ON loyalty_order_tenders (posting_id) WHERE posting_id IS NOT NULL;
    """

    // ---- Paying ----

    /// The request's tenders, checked and numbered (checkSum, once the
    /// order's total is known after its rewards, checks what they pay).
    static func validated(_ tenders: [Tender], personID: Int64) throws -> [Tender] {
        guard tenders.count <= maxTenders else { throw PluginError.invalidArgument("tenders holds more than \(maxTenders) tenders") }
        return try tenders.enumerated().map { i, tender in
            let field = "tenders[\(i)]"
            try Check.amount(tender.amount, "\(field).amount")
            var t = Tender()
            t.tenderNumber = Int32(i + 1)
            t.kind = tender.kind
            t.amount = tender.amount
            func none(_ set: Bool, _ name: String) throws {
                if set { throw PluginError.invalidArgument("\(field).\(name) is not for a \(kindName(tender.kind)) tender") }
            }
            switch tender.kind {
            case .giftCard:
                guard (tender.giftCardID != 0) != !tender.giftCardCode.isEmpty else {
                    throw PluginError.invalidArgument("\(field): exactly one of gift_card_id and gift_card_code names the card")
                }
                if tender.giftCardID != 0 {
                    try Check.id(tender.giftCardID, "\(field).gift_card_id")
                } else {
                    do { _ = try GiftCardCodes.parse(tender.giftCardCode) } catch let error as PluginError {
                        throw PluginError.invalidArgument("\(field).gift_card_code: \(error.message)")
                    }
                }
                try none(tender.houseAccountID != 0, "house_account_id"); try none(tender.chargedByPersonID != 0, "charged_by_person_id")
                try none(!tender.method.isEmpty, "method"); try none(!tender.reference.isEmpty, "reference")
                t.giftCardID = tender.giftCardID
                t.giftCardCode = tender.giftCardCode
            case .houseAccount:
                try Check.id(tender.houseAccountID, "\(field).house_account_id")
                try Validate.optionalID(tender.chargedByPersonID, "\(field).charged_by_person_id")
                try none(tender.giftCardID != 0, "gift_card_id"); try none(!tender.giftCardCode.isEmpty, "gift_card_code")
                try none(!tender.method.isEmpty, "method"); try none(!tender.reference.isEmpty, "reference")
                t.houseAccountID = tender.houseAccountID
                t.chargedByPersonID = tender.chargedByPersonID
            case .points:
                guard personID != 0 else { throw PluginError.invalidArgument("\(field): a POINTS tender needs the order's person_id") }
                try none(tender.giftCardID != 0, "gift_card_id"); try none(!tender.giftCardCode.isEmpty, "gift_card_code")
                try none(tender.houseAccountID != 0, "house_account_id"); try none(tender.chargedByPersonID != 0, "charged_by_person_id")
                try none(!tender.method.isEmpty, "method"); try none(!tender.reference.isEmpty, "reference")
            case .external:
                t.method = try Check.text(tender.method, "\(field).method", max: 50, required: true)
                t.reference = try Check.text(tender.reference, "\(field).reference", max: 100)
                try none(tender.giftCardID != 0, "gift_card_id"); try none(!tender.giftCardCode.isEmpty, "gift_card_code")
                try none(tender.houseAccountID != 0, "house_account_id"); try none(tender.chargedByPersonID != 0, "charged_by_person_id")
            default:
                throw PluginError.invalidArgument("\(field).kind must be EXTERNAL, GIFT_CARD, HOUSE_ACCOUNT or POINTS")
            }
            return t
        }
    }

    /// Tenders, when there are any, pay exactly the order's total.
    static func checkSum(_ tenders: [Tender], total: Int64) throws {
        let sum = tenders.reduce(Int64(0)) { EarnRules.add($0, $1.amount) }
        if !tenders.isEmpty && sum != total {
            throw PluginError.invalidArgument("tenders pay \(sum) in all; the order's total is \(total)")
        }
    }

    /// The permission a tender spends under: the one of the method that
    /// spends that way on its own (a till allowed to post orders is not
    /// thereby allowed to drain a card by its id).
    static func permission(_ kind: Crm_Loyalty_V1_TenderKind) -> String? {
        switch kind {
        case .giftCard: return "loyalty.gift_card.redeem"
        case .houseAccount: return "loyalty.house_account.charge"
        case .points: return "loyalty.points.redeem"
        default: return nil
        }
    }

    /// Spends every tender and stores it; the order row exists already.
    static func pay(_ ctx: CallContext, _ db: Database, order: Int64, label: String, personID: Int64, currency: String,
                    tenders: [Tender], now: Int64) throws -> [Tender] {
        var paid: [Tender] = []
        let reason = "order \(label)"
        for var tender in tenders {
            let field = "tenders[\(tender.tenderNumber - 1)]"
            var own = RecordScope.everything
            if let permission = permission(tender.kind) {
                own = ctx.scope(for: permission)
                guard own.reach != .none else {
                    throw PluginError(.permissionDenied, "\(field): a \(kindName(tender.kind)) tender needs the permission \(permission)")
                }
            }
            switch tender.kind {
            case .giftCard:
                let row = tender.giftCardID != 0
                    ? try GiftCards.require(ctx, db, tender.giftCardID, field: "\(field).gift_card_id", write: true)
                    : try GiftCards.byCode(ctx, db, tender.giftCardCode, key: try Secrets.existing(ctx, db, cache: false))
                try own.checkWritable(owner: ownerOrNil(row.account.owner), "gift card \(row.card.id)")
                try sameCurrency(row.account, currency, "gift card \(row.card.id)")
                let result = try GiftCardMethods.spend(ctx, db, row, amount: tender.amount, reason: reason)
                tender.accountID = row.account.id
                tender.postingID = result.posting.id
            case .houseAccount:
                // Unknown, of another kind or out of reach: one NOT_FOUND, naming the field.
                guard let account = try LedgerStore.loadAccount(db, tender.houseAccountID, decorated: false),
                      account.kind == .houseAccount, ctx.scope.includes(owner: ownerOrNil(account.owner)) else {
                    throw PluginError.notFound("no house account \(tender.houseAccountID) (\(field).house_account_id)")
                }
                try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "house account \(account.id)")
                try own.checkWritable(owner: ownerOrNil(account.owner), "house account \(account.id)")
                try sameCurrency(account, currency, "house account \(account.id)")
                let by = tender.chargedByPersonID != 0 ? tender.chargedByPersonID : personID
                if by == 0 && account.personID == 0 {
                    throw PluginError.invalidArgument("\(field).charged_by_person_id is required: name the member charging "
                                                      + "the account of \(HouseAccounts.holderName(account))")
                }
                let result = try HouseAccountMethods.charge(ctx, db, account, by: by, amount: tender.amount, orderRef: label, memo: reason)
                tender.accountID = account.id
                tender.postingID = result.posting.id
            case .points:
                guard let account = try OrderMethods.pointsAccount(db, person: personID) else {
                    throw PluginError.failedPrecondition("person \(personID) has no points account to pay \(field) with")
                }
                guard let program = try Programs.active(db, currency: currency), program.redeemPoints > 0, program.redeemValue > 0 else {
                    throw PluginError.failedPrecondition("no active program in \(currency) lets points pay orders (redeem_points)")
                }
                let points = try pointsFor(tender.amount, program)
                try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "points account \(account.id)")
                try own.checkWritable(owner: ownerOrNil(account.owner), "points account \(account.id)")
                let result = try PointsMethods.spend(ctx, db, account, points: points, reason: reason, now: now)
                tender.accountID = account.id
                tender.points = points
                tender.postingID = result.posting.id
            default:
                break
            }
            try db.execute("""
                INSERT INTO loyalty_order_tenders (order_id, tender_number, kind, amount, account_id, points, posting_id, method, reference)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(order), .integer(Int64(tender.tenderNumber)), .integer(Int64(tender.kind.rawValue)), .integer(tender.amount),
                      Ledger.nullable(tender.accountID), .integer(tender.points), Ledger.nullable(tender.postingID),
                      .text(tender.method), .text(tender.reference)])
            tender.giftCardCode = ""  // never stored, never answered
            paid.append(tender)
        }
        return paid
    }

    /// The points a POINTS tender of `amount` spends: amount × redeem_points
    /// / redeem_value, rounded up (both rates are at most 10^6).
    static func pointsFor(_ amount: Int64, _ program: Program) throws -> Int64 {
        let whole = (amount / program.redeemValue).multipliedReportingOverflow(by: program.redeemPoints)
        let part = (amount % program.redeemValue * program.redeemPoints + program.redeemValue - 1) / program.redeemValue
        let (points, overflow) = whole.partialValue.addingReportingOverflow(part)
        guard !whole.overflow, !overflow, points <= Check.maxAmount else {
            throw PluginError.failedPrecondition("paying \(amount) would take more than \(Check.maxAmount) points")
        }
        return points
    }

    private static func sameCurrency(_ account: Account, _ currency: String, _ what: String) throws {
        guard account.unit == currency else {
            throw PluginError.failedPrecondition("\(what) is in \(account.unit), the order in \(currency)")
        }
    }

    static func kindName(_ kind: Crm_Loyalty_V1_TenderKind) -> String {
        switch kind {
        case .external: return "EXTERNAL"
        case .giftCard: return "GIFT_CARD"
        case .houseAccount: return "HOUSE_ACCOUNT"
        case .points: return "POINTS"
        default: return "unknown"
        }
    }

    // ---- Reading ----

    static func load(_ db: Database, order: Int64) throws -> [Tender] {
        try db.query("""
            SELECT t.tender_number, t.kind, t.amount, t.account_id, t.points, t.posting_id, t.method, t.reference, t.returned_amount,
                   t.returned_points, c.person_id
            FROM loyalty_order_tenders t LEFT JOIN loyalty_house_charges c ON c.posting_id = t.posting_id AND t.kind = 3
            WHERE t.order_id = ? ORDER BY t.tender_number
            """, [.integer(order)]).map { row in
            Tender.with {
                $0.tenderNumber = Int32(truncatingIfNeeded: row.int(0))
                $0.kind = Crm_Loyalty_V1_TenderKind(rawValue: Int(truncatingIfNeeded: row.int(1))) ?? .unspecified
                $0.amount = row.int(2)
                $0.accountID = row.int(3)
                $0.points = row.int(4)
                $0.postingID = row.int(5)
                $0.method = row.text(6)
                $0.reference = row.text(7)
                $0.returnedAmount = row.int(8)
                $0.returnedPoints = row.int(9)
                switch $0.kind {
                case .giftCard: $0.giftCardID = $0.accountID
                case .houseAccount: $0.houseAccountID = $0.accountID; $0.chargedByPersonID = row.int(10)
                default: break
                }
            }
        }
    }

    /// The order a posting pays, as a tender or for a reward: only the
    /// order's refunds put it right.
    static func order(paidBy posting: Int64, _ db: Database) throws -> Int64? {
        try db.query("""
            SELECT order_id FROM loyalty_order_tenders WHERE posting_id = ?1
            UNION ALL SELECT order_id FROM loyalty_order_rewards WHERE posting_id = ?1 LIMIT 1
            """, [.integer(posting)]).first?.int(0)
    }
}
