import CRMPluginKit
import ContactsContract
import ContactsLinkKit
import SalesContract

/// The account roll-up: open pipeline and won revenue of an organization
/// and everything below it in contacts' hierarchy. Sales holds the
/// opportunities, so the sums are SQL here; the hierarchy is contacts', read
/// in-process for the caller (their contacts scope decides which
/// organizations count, their sales.report.read scope which opportunities).
enum AccountRollups {
    /// Ids per query: far below any SQL engine's parameter limit.
    static let chunk = 500

    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "GetAccountRollup", rollup)
    }

    static func rollup(_ ctx: CallContext, _ req: Crm_Sales_V1_GetAccountRollupRequest) throws -> Crm_Sales_V1_AccountRollup {
        try Validate.positiveID(req.organizationID, "organization_id")
        guard try ContactsLink.organization(ctx, req.organizationID) != nil else {
            throw PluginError.notFound("organization_id: organization \(req.organizationID) does not exist")
        }
        var ids = [req.organizationID]
        if req.subsidiaries {
            var token = ""
            repeat {
                let page: Crm_Contacts_V1_ListSubsidiariesResponse = try ContactsLink.call(
                    ctx, "ListSubsidiaries", Crm_Contacts_V1_ListSubsidiariesRequest.with {
                        $0.organizationID = req.organizationID
                        $0.descendants = true
                        $0.pageSize = 500
                        $0.pageToken = token
                    })
                ids += page.organizations.map(\.id)
                token = page.nextPageToken
            } while !token.isEmpty
        }
        let db = try ctx.database
        let scope = ctx.scope
        // currency -> (open count, open, weighted, won count, won)
        var sums: [String: [Int64]] = [:]
        var start = 0
        while start < ids.count {
            let part = ids[start..<min(start + chunk, ids.count)]
            start += chunk
            var filter = SQLFilter()
            filter.add("organization_id IN (\(Array(repeating: "?", count: part.count).joined(separator: ", ")))",
                       part.map { SQLValue.integer($0) })
            filter.add("status IN (1, 2)")
            let rows: [[SQLValue]]
            do {
                // Every opportunity counts for a caller of scope all: the
                // organizations' kept totals say it in a few rows each.
                // Otherwise the caller's scope picks opportunities one by one.
                if scope.reach == .all {
                    filter.add("count > 0")
                    rows = try db.query("""
                        SELECT currency,
                            SUM(CASE WHEN status = 1 THEN count ELSE 0 END),
                            SUM(CASE WHEN status = 1 THEN amount_minor ELSE 0 END),
                            SUM(CASE WHEN status = 1 THEN weighted_minor ELSE 0 END),
                            SUM(CASE WHEN status = 2 THEN count ELSE 0 END),
                            SUM(CASE WHEN status = 2 THEN amount_minor ELSE 0 END)
                        FROM sales_organization_totals \(filter.clause) GROUP BY currency
                        """, filter.parameters)
                } else {
                    scope.apply(to: &filter, ownerColumn: "owner")
                    rows = try db.query("""
                        SELECT currency,
                            SUM(CASE WHEN status = 1 THEN 1 ELSE 0 END),
                            SUM(CASE WHEN status = 1 THEN amount_minor ELSE 0 END),
                            SUM(CASE WHEN status = 1 THEN amount_minor * probability / 100 ELSE 0 END),
                            SUM(CASE WHEN status = 2 THEN 1 ELSE 0 END),
                            SUM(CASE WHEN status = 2 THEN amount_minor ELSE 0 END)
                        FROM sales_opportunities \(filter.clause) GROUP BY currency
                        """, filter.parameters)
                }
            } catch let error as PluginError where error.message.contains("integer overflow") {
                throw overflow()
            }
            for row in rows {
                var total = sums[row.text(0)] ?? [0, 0, 0, 0, 0]
                for i in 0..<5 {
                    let (sum, wrapped) = total[i].addingReportingOverflow(row.int(i + 1))
                    if wrapped { throw overflow() }
                    total[i] = sum
                }
                sums[row.text(0)] = total
            }
        }
        return .with {
            $0.organizationID = req.organizationID
            $0.organizationCount = Int64(ids.count)
            $0.rows = sums.keys.sorted().map { currency in
                let t = sums[currency]!
                return Crm_Sales_V1_RollupRow.with {
                    $0.currency = currency
                    $0.openCount = t[0]
                    $0.openMinor = t[1]
                    $0.weightedMinor = t[2]
                    $0.wonCount = t[3]
                    $0.wonMinor = t[4]
                }
            }
        }
    }

    static func overflow() -> PluginError {
        PluginError(.outOfRange, "a roll-up sum exceeds the int64 range of amount_minor")
    }
}
