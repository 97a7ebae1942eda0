import CRMPluginKit
import LoyaltyContract

typealias Order = Crm_Loyalty_V1_Order
typealias OrderLine = Crm_Loyalty_V1_OrderLine
typealias OrderRefund = Crm_Loyalty_V1_OrderRefund

/// Orders' tables and their rows as messages. An order keeps the program
/// it was posted under (`program_body`) and the context that fixed its
/// points (`first_order`, `allowance`), so a refund recomputes what the
/// lines left earn exactly as the post did.
enum OrderStore {
    static let schema = """
    CREATE TABLE loyalty_orders (
        id INTEGER PRIMARY KEY,
        order_ref TEXT,
        person_id INTEGER,
        currency TEXT NOT NULL,
        subtotal INTEGER NOT NULL,
        discount_total INTEGER NOT NULL,
        tax_total INTEGER NOT NULL,
        total INTEGER NOT NULL,
        status INTEGER NOT NULL,
        refunded_amount INTEGER NOT NULL DEFAULT 0,
        account_id INTEGER REFERENCES loyalty_accounts (id),
        program_id INTEGER REFERENCES loyalty_programs (id),
        program_body BLOB,
        first_order INTEGER NOT NULL DEFAULT 0,
        allowance INTEGER NOT NULL DEFAULT 0,
        points_earned INTEGER NOT NULL DEFAULT 0,
        points_clawed_back INTEGER NOT NULL DEFAULT 0 CHECK (points_clawed_back <= points_earned),
        earn_posting_id INTEGER REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        points_available_us INTEGER NOT NULL DEFAULT 0,
        location TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL DEFAULT '',
        placed_us INTEGER NOT NULL,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX loyalty_orders_ref ON loyalty_orders (order_ref) WHERE order_ref IS NOT NULL;
    CREATE INDEX loyalty_orders_person ON loyalty_orders (person_id, placed_us, id) WHERE person_id IS NOT NULL;
    CREATE INDEX loyalty_orders_placed ON loyalty_orders (placed_us, id);
    CREATE INDEX loyalty_orders_account ON loyalty_orders (account_id, placed_us) WHERE account_id IS NOT NULL;
    CREATE UNIQUE INDEX loyalty_orders_earn ON loyalty_orders (earn_posting_id) WHERE earn_posting_id IS NOT NULL;
    CREATE TABLE loyalty_order_lines (
        order_id INTEGER NOT NULL REFERENCES loyalty_orders (id),
        line_number INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        name TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        unit_price INTEGER NOT NULL,
        discount INTEGER NOT NULL,
        tax INTEGER NOT NULL,
        total INTEGER NOT NULL,
        refunded_quantity INTEGER NOT NULL DEFAULT 0 CHECK (refunded_quantity BETWEEN 0 AND quantity),
        refunded_amount INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (order_id, line_number)
    ) WITHOUT ROWID;
    CREATE INDEX loyalty_order_lines_item ON loyalty_order_lines (item_id);
    CREATE TABLE loyalty_order_refunds (
        id INTEGER PRIMARY KEY,
        order_id INTEGER NOT NULL REFERENCES loyalty_orders (id),
        amount INTEGER NOT NULL,
        points_clawed_back INTEGER NOT NULL,
        points_not_recovered INTEGER NOT NULL,
        clawback_posting_id INTEGER REFERENCES loyalty_postings (id) DEFERRABLE INITIALLY DEFERRED,
        lines BLOB NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_order_refunds_order ON loyalty_order_refunds (order_id, id);
    """

    static let columns = """
        id, order_ref, person_id, currency, subtotal, discount_total, tax_total, total, status, refunded_amount, account_id, \
        program_id, points_earned, points_clawed_back, earn_posting_id, points_available_us, location, owner, created_by, \
        placed_us, created_us, updated_us, birthday
        """

    /// Migration 6: whether an order earned the birthday bonus (paid once per birthday).
    static let birthdayColumn = "ALTER TABLE loyalty_orders ADD COLUMN birthday INTEGER NOT NULL DEFAULT 0;"

    static func order(_ row: [SQLValue]) -> Order {
        var o = Order()
        o.id = row.int(0)
        o.orderRef = row.text(1)
        o.personID = row.int(2)
        o.currency = row.text(3)
        o.subtotal = row.int(4)
        o.discountTotal = row.int(5)
        o.taxTotal = row.int(6)
        o.total = row.int(7)
        o.status = Crm_Loyalty_V1_OrderStatus(rawValue: Int(truncatingIfNeeded: row.int(8))) ?? .unspecified
        o.refundedAmount = row.int(9)
        o.pointsAccountID = row.int(10)
        o.programID = row.int(11)
        o.pointsEarned = row.int(12)
        o.pointsClawedBack = row.int(13)
        o.earnPostingID = row.int(14)
        o.pointsAvailableUnixUs = row.int(15)
        o.location = row.text(16)
        o.owner = row.text(17)
        o.createdBy = row.text(18)
        o.placedUnixUs = row.int(19)
        o.createdUnixUs = row.int(20)
        o.updatedUnixUs = row.int(21)
        o.birthdayBonus = row.int(22) != 0
        return o
    }

    static func lines(_ db: Database, order: Int64) throws -> [OrderLine] {
        try db.query("""
            SELECT line_number, item_id, name, category, quantity, unit_price, discount, tax, total, refunded_quantity, refunded_amount,
                   reward_discount
            FROM loyalty_order_lines WHERE order_id = ? ORDER BY line_number
            """, [.integer(order)]).map { row in
            OrderLine.with {
                $0.lineNumber = Int32(truncatingIfNeeded: row.int(0))
                $0.itemID = row.text(1)
                $0.name = row.text(2)
                $0.category = row.text(3)
                $0.quantity = row.int(4)
                $0.unitPrice = row.int(5)
                $0.discount = row.int(6)
                $0.tax = row.int(7)
                $0.total = row.int(8)
                $0.refundedQuantity = row.int(9)
                $0.refundedAmount = row.int(10)
                $0.rewardDiscount = row.int(11)
            }
        }
    }

    static func refunds(_ db: Database, order: Int64) throws -> [OrderRefund] {
        try db.query("""
            SELECT id, amount, points_clawed_back, points_not_recovered, clawback_posting_id, lines, reason, created_by, created_us
            FROM loyalty_order_refunds WHERE order_id = ? ORDER BY id
            """, [.integer(order)]).map { row in
            var r = OrderRefund()
            r.id = row.int(0)
            r.amount = row.int(1)
            r.pointsClawedBack = row.int(2)
            r.pointsNotRecovered = row.int(3)
            r.clawbackPostingID = row.int(4)
            let stored = try? Crm_Loyalty_V1_OrderRefund(serializedBytes: row[5].bytes ?? [])
            r.lines = stored?.lines ?? []
            r.tenderReturns = stored?.tenderReturns ?? []
            r.rewardPointsReturned = stored?.rewardPointsReturned ?? 0
            r.reason = row.text(6)
            r.createdBy = row.text(7)
            r.createdUnixUs = row.int(8)
            return r
        }
    }

    /// An order with its lines, tenders and rewards (and refunds, with `refunds`).
    static func load(_ db: Database, _ id: Int64, refunds withRefunds: Bool = true) throws -> Order? {
        guard let row = try db.query("SELECT \(columns) FROM loyalty_orders WHERE id = ?", [.integer(id)]).first else { return nil }
        var o = order(row)
        o.lines = try lines(db, order: id)
        o.tenders = try OrderTenders.load(db, order: id)
        o.rewards = try OrderRewards.load(db, order: id)
        if withRefunds { o.refunds = try refunds(db, order: id) }
        return o
    }

    /// The lines as the earn rules see them, each with `units` left after
    /// `refunded` units per line number are taken away.
    static func earnLines(_ lines: [OrderLine], refunded: [Int32: Int64]) -> [EarnRules.Line] {
        lines.map { line in
            let gone = min(refunded[line.lineNumber] ?? 0, line.quantity)
            let spend = line.quantity.multipliedReportingOverflow(by: line.unitPrice).partialValue &- line.discount
            return EarnRules.Line(itemID: line.itemID, category: line.category,
                                  spend: spend &- EarnRules.share(spend, part: gone, of: line.quantity), units: line.quantity &- gone)
        }
    }
}
