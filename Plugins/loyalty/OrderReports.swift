import CRMPluginKit
import LoyaltyContract

/// Reads over order lines: a person's favourite items and the figures a
/// menu-engineering report needs (everyone against regulars). Both group
/// the lines of the orders in range (orders by person or by time through
/// their indexes) and page by the sort key of the grouped rows.
enum OrderReports {
    static func register(on def: PluginDefinition) {
        def.unary(OrderMethods.service + "ListFavouriteItems", favourites)
        def.unary(OrderMethods.service + "GetMenuReport", menu)
    }

    private static func period(_ from: Int64, _ until: Int64) throws -> (Int64, Int64) {
        guard from >= 0, until >= 0 else {
            throw PluginError.invalidArgument("placed_from_unix_us and placed_until_unix_us must not be negative")
        }
        return (from, until == 0 ? Int64.max : until)
    }

    static func favourites(_ ctx: CallContext, _ req: Crm_Loyalty_V1_ListFavouriteItemsRequest) throws
        -> Crm_Loyalty_V1_ListFavouriteItemsResponse {
        try Check.id(req.personID, "person_id")
        let (from, until) = try period(req.placedFromUnixUs, req.placedUntilUnixUs)
        let recent: Bool
        switch req.orderBy {
        case .unspecified, .mostOrdered: recent = false
        case .mostRecent: recent = true
        default: throw PluginError.invalidArgument("order_by is not a known order")
        }
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var scope = SQLFilter()
        ctx.scope.apply(to: &scope, ownerColumn: "o.owner")
        // Aliases that no column shares: HAVING would read a column before an alias.
        let sortKey = recent ? "last_us" : "units"
        var parameters: [SQLValue] = [.integer(req.personID), .integer(from), .integer(until)] + scope.parameters
        var having = ""
        if let after = paging.after {
            having = "HAVING \(sortKey) < ? OR (\(sortKey) = ? AND l.item_id > ?)"
            parameters += [after[0], after[0], after[1]]
        }
        let db = try ctx.database
        let page = try fetchPage(db, """
            SELECT l.item_id, sum(l.quantity - l.refunded_quantity) AS units, count(DISTINCT l.order_id), max(o.placed_us) AS last_us,
                   l.name, l.category
            FROM loyalty_orders o JOIN loyalty_order_lines l ON l.order_id = o.id
            WHERE o.person_id = ? AND o.placed_us >= ? AND o.placed_us < ? AND l.quantity > l.refunded_quantity
            \(scope.conditions.map { "AND (\($0))" }.joined(separator: " "))
            GROUP BY l.item_id \(having)
            ORDER BY \(sortKey) DESC, l.item_id LIMIT ?
            """, parameters, paging, decode: { row in
            // name and category are bare columns beside the one max(): SQLite takes them from the latest order's line.
            Crm_Loyalty_V1_FavouriteItem.with {
                $0.itemID = row.text(0)
                $0.quantity = row.int(1)
                $0.orders = row.int(2)
                $0.lastOrderedUnixUs = row.int(3)
                $0.name = row.text(4)
                $0.category = row.text(5)
            }
        }, key: { [recent ? $0[3] : $0[1], $0[0]] })
        return .with { $0.items = page.rows; $0.nextPageToken = page.nextToken }
    }

    static func menu(_ ctx: CallContext, _ req: Crm_Loyalty_V1_MenuReportRequest) throws -> Crm_Loyalty_V1_MenuReport {
        try Validate.currency(req.currency, "currency")
        let (from, until) = try period(req.placedFromUnixUs, req.placedUntilUnixUs)
        guard (0...1000).contains(req.regularMinOrders) else {
            throw PluginError.invalidArgument("regular_min_orders must be 0 to 1000, got \(req.regularMinOrders)")
        }
        let minimum = req.regularMinOrders == 0 ? 3 : Int64(req.regularMinOrders)
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var scope = SQLFilter()
        ctx.scope.apply(to: &scope, ownerColumn: "owner")
        let scoped = scope.conditions.map { "AND (\($0))" }.joined(separator: " ")
        // The period's orders, who among their people is a regular, and
        // their lines with what is left of them after refunds.
        let orders = """
            WITH o AS (SELECT id, person_id, total - refunded_amount AS net FROM loyalty_orders
                       WHERE currency = ? AND placed_us >= ? AND placed_us < ? AND status <> 3 \(scoped)),
                 regulars AS (SELECT person_id FROM o WHERE person_id IS NOT NULL GROUP BY person_id HAVING count(*) >= ?)
            """
        let lines = """
            \(orders), l AS (SELECT l.item_id, l.name, l.category, l.quantity - l.refunded_quantity AS q, l.total - l.refunded_amount AS r,
                              l.order_id, o.person_id IN (SELECT person_id FROM regulars) AS reg
                       FROM loyalty_order_lines l JOIN o ON o.id = l.order_id WHERE l.quantity > l.refunded_quantity)
            """
        let base: [SQLValue] = [.text(req.currency), .integer(from), .integer(until)] + scope.parameters + [.integer(minimum)]
        var parameters = base
        var having = ""
        if let after = paging.after {
            having = "HAVING revenue < ? OR (revenue = ? AND item_id > ?)"
            parameters += [after[0], after[0], after[1]]
        }
        let db = try ctx.database
        let page = try fetchPage(db, """
            \(lines)
            SELECT item_id, max(name), max(category), sum(q), sum(r) AS revenue, count(DISTINCT order_id),
                   sum(CASE WHEN reg THEN q ELSE 0 END), sum(CASE WHEN reg THEN r ELSE 0 END), count(DISTINCT CASE WHEN reg THEN order_id END)
            FROM l GROUP BY item_id \(having) ORDER BY revenue DESC, item_id LIMIT ?
            """, parameters, paging, decode: { row in
            Crm_Loyalty_V1_MenuItemFigures.with {
                $0.itemID = row.text(0)
                $0.name = row.text(1)
                $0.category = row.text(2)
                $0.quantity = row.int(3)
                $0.revenue = row.int(4)
                $0.orders = row.int(5)
                $0.regularQuantity = row.int(6)
                $0.regularRevenue = row.int(7)
                $0.regularOrders = row.int(8)
            }
        }, key: { [$0[4], $0[0]] })
        var report = Crm_Loyalty_V1_MenuReport()
        report.items = page.rows
        report.nextPageToken = page.nextToken
        if let totals = try db.query("""
            \(orders)
            SELECT count(*), COALESCE(sum(net), 0), (SELECT count(*) FROM regulars),
                   COALESCE(sum(CASE WHEN person_id IN (SELECT person_id FROM regulars) THEN 1 ELSE 0 END), 0),
                   COALESCE(sum(CASE WHEN person_id IN (SELECT person_id FROM regulars) THEN net ELSE 0 END), 0)
            FROM o
            """, base).first {
            report.orders = totals.int(0)
            report.revenue = totals.int(1)
            report.regulars = totals.int(2)
            report.regularOrders = totals.int(3)
            report.regularRevenue = totals.int(4)
        }
        return report
    }
}
