import CRMPluginKit
import ContactsContract
import ContactsLinkKit
import LoyaltyContract

/// Orders from a point of sale: post (earning by the currency's program),
/// read one, list a person's history. Refunds are OrderRefunds'.
enum OrderMethods {
    static let service = "/crm.loyalty.v1.Orders/"
    static let maxLines = 500
    static let aheadAllowance: Int64 = 5 * 60_000_000
    static let backAllowance: Int64 = 7 * 86_400_000_000

    static func register(on def: PluginDefinition) {
        def.unary(service + "PostOrder", post)
        def.unary(service + "GetOrder", get)
        def.unary(service + "ListOrders", list)
    }

    static func post(_ ctx: CallContext, _ req: Crm_Loyalty_V1_PostOrderRequest) throws -> Crm_Loyalty_V1_OrderResult {
        let ref = try Check.text(req.orderRef, "order_ref", max: 100)
        try Validate.optionalID(req.personID, "person_id")
        try Validate.currency(req.currency, "currency")
        let location = try Check.text(req.location, "location", max: 100)
        let validLines = try validatedLines(req.lines)
        let before = totals(validLines)  // rewards only take off
        guard before.total < Check.maxAmount, before.subtotal < Check.maxAmount else {
            throw PluginError.invalidArgument("the order's total is larger than \(Check.maxAmount)")
        }
        let now = UTCClock.nowMicros()
        let placed = req.placedUnixUs == 0 ? now : req.placedUnixUs
        guard placed <= now &+ aheadAllowance, placed >= now &- backAllowance else {
            throw PluginError.invalidArgument("placed_unix_us must be within 7 days back and 5 minutes ahead of now")
        }
        let requestedOwner = try Check.text(req.owner, "owner", max: 200)
        let rewardUses = try OrderRewards.validated(req.rewards, lineCount: validLines.count, personID: req.personID)
        let tenders = try OrderTenders.validated(req.tenders, personID: req.personID)
        return try Replay.run(ctx, ctx.method, req, key: \.idempotencyKey) { db in
            if !ref.isEmpty, let existing = try db.query("SELECT id FROM loyalty_orders WHERE order_ref = ?", [.text(ref)]).first?.int(0) {
                throw PluginError.alreadyExists("order_ref \"\(ref)\" is order \(existing)")
            }
            var person: Crm_Contacts_V1_Person?
            if req.personID != 0 {
                person = try ContactsLink.livePerson(ctx, req.personID)
                if person == nil { throw PluginError.notFound("no person \(req.personID) (person_id)") }
            }
            let owner = try ctx.scope.owner(for: requestedOwner, "order")
            var lines = validLines
            let rewards = try OrderRewards.apply(db, rewardUses, to: &lines, currency: req.currency)
            let totals = rewards.isEmpty ? before : Self.totals(lines)
            try OrderTenders.checkSum(tenders, total: totals.total)
            let orderID = try db.execute("""
                INSERT INTO loyalty_orders (order_ref, person_id, currency, subtotal, discount_total, tax_total, total, status,
                                            location, owner, created_by, placed_us, created_us, updated_us)
                VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
                """, [ref.isEmpty ? .null : .text(ref), Ledger.nullable(req.personID), .text(req.currency), .integer(totals.subtotal),
                      .integer(totals.discount), .integer(totals.tax), .integer(totals.total), .text(location), .text(owner),
                      .text(callerName(ctx)), .integer(placed), .integer(now), .integer(now)]).lastInsertID
            for line in lines {
                try db.execute("""
                    INSERT INTO loyalty_order_lines (order_id, line_number, item_id, name, category, quantity, unit_price, discount, tax, total,
                                                     reward_discount)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(orderID), .integer(Int64(line.lineNumber)), .text(line.itemID), .text(line.name), .text(line.category),
                          .integer(line.quantity), .integer(line.unitPrice), .integer(line.discount), .integer(line.tax),
                          .integer(line.total), .integer(line.rewardDiscount)])
            }
            // Rewards and tenders spend before the order earns: never from this order's own points.
            let label = ref.isEmpty ? String(orderID) : ref
            _ = try OrderRewards.spend(ctx, db, order: orderID, label: label, personID: req.personID, rewards, now: now)
            _ = try OrderTenders.pay(ctx, db, order: orderID, label: label, personID: req.personID, currency: req.currency,
                                     tenders: tenders, now: now)
            var result = Crm_Loyalty_V1_OrderResult()
            if let (account, program) = try earner(db, person: req.personID, currency: req.currency) {
                try ctx.scope.checkWritable(owner: ownerOrNil(account.owner), "points account \(account.id)")
                result = try earn(ctx, db, order: orderID, lines: lines, account: account, program: program, person: person,
                                  placed: placed, now: now)
            }
            try ctx.audit(AuditEntry(entity: "loyalty.order", recordID: String(orderID), action: "create", owner: ownerOrNil(owner),
                                     changes: [FieldChange("order_ref", old: nil, new: ref.isEmpty ? nil : ref),
                                               FieldChange("person_id", old: nil, new: req.personID == 0 ? nil : String(req.personID)),
                                               FieldChange("total", old: nil, new: LoyaltyEvents.amount(totals.total, req.currency)),
                                               FieldChange("points_earned", old: nil, new: String(result.order.pointsEarned))]))
            guard let order = try OrderStore.load(db, orderID) else { throw PluginError(.internal, "loyalty: order \(orderID) vanished") }
            result.order = order
            try publish(ctx, "loyalty.order.posted", order,
                        summary: "Order \(ref.isEmpty ? String(orderID) : ref): \(LoyaltyEvents.amount(order.total, order.currency))"
                            + (order.pointsEarned > 0 ? ", \(order.pointsEarned) points earned" : ""))
            return result
        }
    }

    /// The points account and program an order of this person earns under, if both exist.
    private static func earner(_ db: Database, person: Int64, currency: String) throws -> (Account, Program)? {
        guard person != 0, let program = try Programs.active(db, currency: currency),
              let account = try pointsAccount(db, person: person) else { return nil }
        return (account, program)
    }

    /// The person's points account (the lowest id, after a merge left two).
    static func pointsAccount(_ db: Database, person: Int64) throws -> Account? {
        guard let id = try db.query("SELECT id FROM loyalty_accounts WHERE kind = 1 AND status = 1 AND person_id = ? ORDER BY id LIMIT 1",
                                    [.integer(person)]).first?.int(0) else { return nil }
        return try LedgerStore.loadAccount(db, id)
    }

    /// The order's points: the rules over its lines, capped by what the
    /// order and day caps leave; one EARN posting and one pending lot.
    private static func earn(_ ctx: CallContext, _ db: Database, order: Int64, lines: [OrderLine], account: Account, program: Program,
                             person: Crm_Contacts_V1_Person?, placed: Int64, now: Int64) throws -> Crm_Loyalty_V1_OrderResult {
        // A first order refunded in full still counts: the bonus is paid once.
        let first = try db.query("SELECT 1 FROM loyalty_orders WHERE account_id = ? LIMIT 1",
                                 [.integer(account.id)]).isEmpty
        var allowance = program.maxPointsPerOrder == 0 ? Check.maxAmount : program.maxPointsPerOrder
        if program.maxPointsPerDay > 0 {
            let day = EarnRules.day(placed, zone: program.timeZone)
            let earned = try db.query("""
                SELECT COALESCE(sum(points_earned - points_clawed_back), 0) FROM loyalty_orders
                WHERE account_id = ? AND placed_us >= ? AND placed_us < ?
                """, [.integer(account.id), .integer(day.start), .integer(day.end)]).first?.int(0) ?? 0
            allowance = min(allowance, max(program.maxPointsPerDay &- earned, 0))
        }
        var birthday = false
        if program.birthdayBonus > 0, case .date(let born)? = person?.customFields[program.birthdayField].flatMap({ $0.value }),
           let window = EarnRules.birthdayWindow(born, holding: placed, zone: program.timeZone, days: program.birthdayWindowDays) {
            birthday = try db.query("SELECT 1 FROM loyalty_orders WHERE account_id = ? AND birthday = 1 AND placed_us >= ? AND placed_us < ? LIMIT 1",
                                    [.integer(account.id), .integer(window.start), .integer(window.end)]).isEmpty
        }
        // A review overdue (the job runs 100 accounts a second) happens first:
        // the order earns at the tier the account holds now, and may upgrade it.
        try TierReview.catchUp(ctx, db, account: account, program: program, now: now)
        let tierPercent = try TierStore.percent(db, account: account.id, program: program.id)
        let context = EarnRules.Context(minuteOfWeek: EarnRules.minuteOfWeek(placed, zone: program.timeZone),
                                        firstOrder: first, birthday: birthday, allowance: allowance, tierPercent: tierPercent)
        let points = EarnRules.points(program, OrderStore.earnLines(lines, refunded: [:]), context)
        let available = now &+ program.pendingSeconds &* 1_000_000  // bounded by validation
        try db.execute("""
            UPDATE loyalty_orders SET account_id = ?, program_id = ?, program_body = ?, first_order = ?, allowance = ?,
                   points_earned = ?, points_available_us = ?, birthday = ?, tier_percent = ? WHERE id = ?
            """, [.integer(account.id), .integer(program.id), .blob(try program.serializedBytes()), .integer(first ? 1 : 0),
                  .integer(allowance), .integer(points), .integer(available), .integer(birthday ? 1 : 0), .integer(tierPercent),
                  .integer(order)])
        try TierStore.afterOrder(ctx, db, account: account, program: program, order: order, placed: placed, now: now)
        var result = Crm_Loyalty_V1_OrderResult()
        result.pointsAccount = account
        guard points > 0 else { return result }
        let moved = try Ledger.move(ctx, db, .earn, account: account, amount: points, system: .pointsIssued,
                                    reason: "order \(order)") { posting in
            try PointLots.add(db, account: account.id, posting: posting.id, points: points, available: available,
                              expires: EarnRules.expiry(program, from: available), order: order, now: now)
            try db.execute("UPDATE loyalty_orders SET earn_posting_id = ? WHERE id = ?", [.integer(posting.id), .integer(order)])
        }
        try LoyaltyEvents.publish(ctx, "loyalty.points.earned", account: moved.account, posting: moved.posting,
                                  summary: "\(points) points earned on order \(order)")
        result.posting = moved.posting
        result.pointsAccount = moved.account
        return result
    }

    struct Totals {
        var subtotal: Int64 = 0
        var discount: Int64 = 0
        var tax: Int64 = 0
        var total: Int64 = 0
    }

    static func totals(_ lines: [OrderLine]) -> Totals {
        var totals = Totals()
        for line in lines {
            totals.subtotal = EarnRules.add(totals.subtotal, line.quantity &* line.unitPrice)  // both bounded: ≤ 10^18
            totals.discount = EarnRules.add(totals.discount, line.discount)
            totals.tax = EarnRules.add(totals.tax, line.tax)
            totals.total = EarnRules.add(totals.total, line.total)
        }
        return totals
    }

    /// The request's lines, checked, numbered and totalled.
    static func validatedLines(_ lines: [OrderLine]) throws -> [OrderLine] {
        guard !lines.isEmpty else { throw PluginError.invalidArgument("lines must hold at least one line") }
        guard lines.count <= maxLines else { throw PluginError.invalidArgument("lines holds more than \(maxLines) lines") }
        return try lines.enumerated().map { i, line in
            let field = "lines[\(i)]"
            var out = OrderLine()
            out.lineNumber = Int32(i + 1)
            out.itemID = try Check.text(line.itemID, "\(field).item_id", max: 100, required: true)
            out.name = try Check.text(line.name, "\(field).name", max: 200, required: true)
            out.category = try Check.text(line.category, "\(field).category", max: 100)
            guard (1...1_000_000).contains(line.quantity) else {
                throw PluginError.invalidArgument("\(field).quantity must be 1 to 1000000, got \(line.quantity)")
            }
            guard (0...1_000_000_000_000).contains(line.unitPrice) else {
                throw PluginError.invalidArgument("\(field).unit_price must be 0 to 10^12 minor units, got \(line.unitPrice)")
            }
            let gross = line.quantity &* line.unitPrice  // ≤ 10^18: no overflow
            guard line.discount >= 0, line.discount <= gross else {
                throw PluginError.invalidArgument("\(field).discount must be 0 to quantity × unit_price (\(gross)), got \(line.discount)")
            }
            guard (0...1_000_000_000_000).contains(line.tax) else {
                throw PluginError.invalidArgument("\(field).tax must be 0 to 10^12 minor units, got \(line.tax)")
            }
            out.quantity = line.quantity
            out.unitPrice = line.unitPrice
            out.discount = line.discount
            out.tax = line.tax
            out.total = gross - line.discount + line.tax  // ≤ 10^18 + 10^12
            return out
        }
    }

    static func get(_ ctx: CallContext, _ req: Crm_Loyalty_V1_GetOrderRequest) throws -> Order {
        try Check.id(req.id, "id")
        let db = try ctx.database
        guard let order = try OrderStore.load(db, req.id), ctx.scope.includes(owner: ownerOrNil(order.owner)) else {
            throw PluginError.notFound("no order \(req.id) (id)")
        }
        return order
    }

    static func list(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListOrdersRequest) throws -> Crm_Loyalty_V1_ListOrdersResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        try Validate.optionalID(req.personID, "person_id")
        guard req.placedFromUnixUs >= 0, req.placedUntilUnixUs >= 0 else {
            throw PluginError.invalidArgument("placed_from_unix_us and placed_until_unix_us must not be negative")
        }
        var filter = SQLFilter()
        if req.personID != 0 { filter.add("person_id = ?", [.integer(req.personID)]) }
        if req.placedFromUnixUs != 0 { filter.add("placed_us >= ?", [.integer(req.placedFromUnixUs)]) }
        if req.placedUntilUnixUs != 0 { filter.add("placed_us < ?", [.integer(req.placedUntilUnixUs)]) }
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if let after = paging.after { filter.add("(placed_us, id) < (?, ?)", after) }
        let db = try ctx.database
        let page = try fetchPage(db, "SELECT \(OrderStore.columns) FROM loyalty_orders \(filter.clause) ORDER BY placed_us DESC, id DESC LIMIT ?",
                                 filter.parameters, paging, decode: { row in
            var order = OrderStore.order(row)
            order.lines = try OrderStore.lines(db, order: order.id)
            return order
        }, key: { [$0[19], $0[0]] })
        return .with { $0.orders = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func publish(_ ctx: CallContext, _ topic: String, _ order: Order, summary: String) throws {
        var event = Crm_Loyalty_V1_OrderEvent()
        event.order = order
        event.about = About.with {
            if order.personID > 0 { $0.personIds = [order.personID] }
            $0.summary = summary
        }
        _ = try ctx.publish(topic, event, about: EventSubject(entity: "loyalty.order", recordID: String(order.id),
                                                             owner: ownerOrNil(order.owner)))
    }
}
